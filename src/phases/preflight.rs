//! The `preflight` phase: the checks, then (for control-plane nodes) the images.

use std::path::Path;
use std::time::Duration;

use crate::config::InitConfiguration;
use crate::host::Host;
use crate::preflight::{self, Check, Ignored};

/// How the note starts that a dry run keeps when preflight failed.
pub const DRY_RUN_PREFLIGHT_FAILED: &str = "[dryrun] A real run would have stopped at preflight";

/// The outcome of a dry run once every phase has shown what it would do: a failure when
/// preflight failed, as upstream's dry run fails then (a script that gates on
/// `kubeadm init --dry-run` gets the same answer), though this one goes on first to show
/// everything else.
pub fn dry_run_outcome(notes: &[String]) -> anyhow::Result<()> {
    match notes
        .iter()
        .find_map(|n| n.strip_prefix(DRY_RUN_PREFLIGHT_FAILED))
    {
        Some(rest) => anyhow::bail!(
            "[preflight] Some fatal errors occurred{rest}; the dry run went on to show the rest, a real run stops at preflight. To make a check non-fatal, use --ignore-preflight-errors=<check>"
        ),
        None => Ok(()),
    }
}

/// Runs checks, printing warnings; errors stop the command, except in a dry run, where
/// they are printed and remembered in `notes` for the summary.
pub fn run_checks(
    host: &dyn Host,
    checks: &[Check],
    ignored: &Ignored,
    dry_run: bool,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let findings = preflight::run(host, checks, ignored);
    for line in preflight::warning_lines(&findings) {
        println!("{line}");
    }
    if let Some(report) = preflight::error_report(&findings) {
        if !dry_run {
            anyhow::bail!("{report}");
        }
        println!("{report}");
        let failed: Vec<&str> = findings
            .iter()
            .filter(|f| !f.errors.is_empty())
            .map(|f| f.name.as_str())
            .collect();
        let note = format!(
            "{DRY_RUN_PREFLIGHT_FAILED}: {} check(s) failed ({})",
            failed.len(),
            failed.join(", ")
        );
        println!("{note}");
        notes.push(note);
    }
    Ok(())
}

/// Where init writes: what preflight needs to recognise an earlier run's files.
pub struct InitPaths<'a> {
    /// `/etc/kubernetes/manifests`.
    pub manifests_dir: &'a Path,
    /// `/etc/kubernetes` (the kubeconfigs the manifests name).
    pub kubeconfig_dir: &'a Path,
    /// The proxy variables the manifests carry.
    pub proxy_env: &'a [(String, String)],
}

/// What an earlier run of the same `kubeadm init` or `join` left on the node and what it
/// started: their checks are replaced by a "reusing" line, so that a rerun after an
/// interruption completes the node instead of stopping on its own files.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EarlierRun {
    /// Files as this configuration writes them (manifests, the kubelet's config.yaml), or
    /// written for this node in this cluster (a join's CA and kubeconfigs).
    pub files: Vec<std::path::PathBuf>,
    /// Ports held by the components those manifests (and this kubelet configuration) start.
    pub ports: Vec<u16>,
    /// The local etcd's data directory, when its manifest is one of `files`.
    pub dirs: Vec<std::path::PathBuf>,
    /// Files that exist but are another configuration's or another cluster's.
    pub foreign: Vec<std::path::PathBuf>,
}

impl EarlierRun {
    /// Compares the node with what this configuration writes.
    pub fn find(
        host: &dyn Host,
        cfg: &InitConfiguration,
        paths: &InitPaths<'_>,
    ) -> anyhow::Result<Self> {
        use crate::config::Etcd;
        use crate::manifests::{controlplane, etcd};
        let mut found = EarlierRun::default();
        let rendered = super::staticpods::rendered_manifests(
            host,
            cfg,
            paths.manifests_dir,
            paths.kubeconfig_dir,
            paths.proxy_env,
        )?;
        // etcd's initial cluster is the members found when the node joined: the rest of
        // its manifest says whose it is.
        let comparable = |component: &str, text: &str| -> String {
            if component == "etcd" {
                text.lines()
                    .filter(|l| !l.contains("--initial-cluster"))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                text.to_string()
            }
        };
        for (component, path, text) in rendered {
            match host.read(&path) {
                Ok(bytes)
                    if comparable(component, &String::from_utf8_lossy(&bytes))
                        == comparable(component, &text) => {}
                Ok(_) => {
                    found.foreign.push(path);
                    continue;
                }
                Err(_) => continue,
            }
            found.files.push(path);
            match component {
                "kube-apiserver" => found.ports.push(cfg.local_api_endpoint.bind_port),
                "kube-controller-manager" => found
                    .ports
                    .push(controlplane::CONTROLLER_MANAGER_PORT as u16),
                "kube-scheduler" => found.ports.push(controlplane::SCHEDULER_PORT as u16),
                _ => {
                    found.ports.extend([etcd::CLIENT_PORT, etcd::PEER_PORT]);
                    if let Etcd::Local(local) = &cfg.cluster.etcd {
                        found.dirs.push(local.data_dir.clone());
                    }
                }
            }
        }
        // Only compared with the file on disk: the kubelet-start phase says what it applies.
        let patches =
            super::staticpods::load_patches(host, cfg)?.map(crate::patches::PatchSet::quiet);
        let kubelet = super::staticpods::kubelet_files(
            host,
            super::staticpods::init_kubelet_settings(cfg, None, patches.as_ref())?,
        )?;
        let config = Path::new(crate::kubelet::KUBELET_DIR).join(crate::kubelet::CONFIG_FILE);
        if host
            .read(&config)
            .is_ok_and(|b| b == kubelet.config.as_bytes())
        {
            found.files.push(config);
            found.ports.push(preflight::KUBELET_PORT);
        }
        Ok(found)
    }

    /// What an earlier `kubeadm join` of this node to this cluster left: the CA, the
    /// bootstrap kubeconfig and the kubelet's kubeconfig, each recognised by the CA pins
    /// the join is given (nothing is recognised without pins), the bootstrap one also by
    /// its token and the kubelet's by this node's identity (its port then is the kubelet's).
    pub fn find_join(
        host: &dyn Host,
        j: &crate::config::join::JoinConfiguration,
        kubernetes_dir: &Path,
    ) -> Self {
        let mut found = EarlierRun::default();
        let crate::config::join::Discovery::Token { ca_cert_hashes, .. } = &j.discovery else {
            return found;
        };
        let pins: Vec<String> = ca_cert_hashes.iter().map(|p| p.to_lowercase()).collect();
        let pinned = |pem: &[u8]| {
            crate::pki::public_key_pin_pem(pem).is_ok_and(|p| pins.contains(&p.to_lowercase()))
        };
        let kubeconfig = |path: &Path| {
            host.read_to_string(path)
                .ok()
                .and_then(|t| crate::kubeconfig::KubeConfig::from_yaml(&t).ok())
        };
        if let Ok(ca) = host.read(&j.ca_cert_path) {
            if pinned(&ca) {
                found.files.push(j.ca_cert_path.clone());
            } else {
                found.foreign.push(j.ca_cert_path.clone());
            }
        }
        let bootstrap = kubernetes_dir.join("bootstrap-kubelet.conf");
        if host.exists(&bootstrap).unwrap_or(false) {
            let ours = kubeconfig(&bootstrap).is_some_and(|kc| {
                kc.current_cluster()
                    .is_some_and(|c| pinned(&c.certificate_authority_data))
                    && kc.current_user().and_then(|u| u.token.clone())
                        == j.tls_bootstrap_token.as_ref().map(|t| t.to_string())
            });
            if ours {
                found.files.push(bootstrap);
            } else {
                found.foreign.push(bootstrap);
            }
        }
        let kubelet = kubernetes_dir.join("kubelet.conf");
        if host.exists(&kubelet).unwrap_or(false) {
            let ours = kubeconfig(&kubelet).is_some_and(|kc| {
                kc.current_cluster()
                    .is_some_and(|c| pinned(&c.certificate_authority_data))
            }) && crate::kubelet::node_name(host, &kubelet)
                .is_ok_and(|n| n == j.node_name);
            if ours {
                found.files.push(kubelet);
                found.ports.push(preflight::KUBELET_PORT);
            } else {
                found.foreign.push(kubelet);
            }
        }
        found
    }

    /// The checks without those this earlier run answers, saying so for each.
    pub fn apply(&self, checks: Vec<Check>) -> Vec<Check> {
        for f in &self.files {
            println!(
                "[preflight] Reusing {}: an earlier run wrote it with this configuration",
                f.display()
            );
        }
        for f in &self.foreign {
            println!(
                "[preflight] {} is not what this configuration writes: it was written by another configuration or for another cluster; 'kubeadm reset' removes it",
                f.display()
            );
        }
        checks
            .into_iter()
            .filter(|c| match c {
                Check::FileAvailable(p) => !self.files.contains(p),
                Check::Port { port, .. } => !self.ports.contains(port),
                Check::DirAvailable(p) => !self.dirs.contains(p),
                _ => true,
            })
            .collect()
    }
}

/// Init's checks: root first (on its own, failing fast), then the rest; what an earlier
/// run with this configuration left is reused rather than refused.
pub fn init(
    host: &dyn Host,
    cfg: &InitConfiguration,
    paths: &InitPaths<'_>,
    dry_run: bool,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let ignored = Ignored::new(&cfg.versioned.init.node_registration.ignore_preflight_errors)?;
    println!("[preflight] Running pre-flight checks");
    run_checks(host, &[Check::IsPrivilegedUser], &ignored, dry_run, notes)?;
    let earlier = EarlierRun::find(host, cfg, paths)?;
    let checks = earlier.apply(preflight::init_checks(cfg, paths.manifests_dir));
    run_checks(host, &checks, &ignored, dry_run, notes)?;
    pull_images(host, cfg, &ignored, dry_run)
}

/// Pulls the images a control-plane node needs through the CRI, as
/// `nodeRegistration.imagePullPolicy` says (`IfNotPresent`, `Always` or `Never`).
pub fn pull_images(
    host: &dyn Host,
    cfg: &InitConfiguration,
    ignored: &Ignored,
    dry_run: bool,
) -> anyhow::Result<()> {
    let nr = &cfg.versioned.init.node_registration;
    pull_images_with(
        host,
        cfg,
        &nr.image_pull_policy,
        nr.image_pull_serial.unwrap_or(true),
        ignored,
        dry_run,
    )
}

/// [`pull_images`] with another pull policy and seriality (`upgrade`'s
/// `imagePullPolicy` and `imagePullSerial`).
pub fn pull_images_with(
    host: &dyn Host,
    cfg: &InitConfiguration,
    policy: &str,
    serial: bool,
    ignored: &Ignored,
    dry_run: bool,
) -> anyhow::Result<()> {
    if dry_run {
        println!("[preflight] Would pull the required images (like 'kubeadm config images pull')");
        return Ok(());
    }
    if policy == "Never" {
        println!(
            "[preflight] imagePullPolicy is Never: the images must already be on this machine"
        );
        return Ok(());
    }
    println!("[preflight] Pulling images required for setting up a Kubernetes cluster");
    println!("[preflight] This might take a minute or two, depending on the speed of your internet connection");
    println!("[preflight] You can also perform this action beforehand using 'kubeadm config images pull'");
    let images = crate::images::control_plane_images(cfg);
    let errors = pull(
        host,
        &cfg.node_registration.cri_socket,
        &images,
        policy == "Always",
        serial,
        "[preflight]",
    );
    preflight::report(&[preflight::Finding::of("ImagePull", errors, ignored)])
}

/// Pulls each image that is missing (or every one with `always`), printing a line per
/// image under `prefix` (`[preflight]`, `[config/images]`); returns the failures, one per
/// image, in the images' order. With `serial` false (`imagePullSerial: false`) every image
/// is pulled at once, each on its own thread with its own connection, as upstream pulls
/// one goroutine per image; the threads are as many as the images kubeadm needs.
pub fn pull(
    host: &dyn Host,
    endpoint: &str,
    images: &[String],
    always: bool,
    serial: bool,
    prefix: &str,
) -> Vec<String> {
    let connect = || crate::cri::CriClient::connect_on(host, endpoint, Duration::from_secs(10));
    // One connection first: an unreachable runtime is one error, not one per image.
    let mut client = match connect() {
        Ok(c) => c,
        Err(e) => return vec![e.to_string()],
    };
    if serial || images.len() < 2 {
        return images
            .iter()
            .filter_map(|image| pull_one(&mut client, image, always, prefix))
            .collect();
    }
    drop(client);
    std::thread::scope(|scope| {
        let pulls: Vec<_> = images
            .iter()
            .map(|image| {
                scope.spawn(move || match connect() {
                    Ok(mut client) => pull_one(&mut client, image, always, prefix),
                    Err(e) => Some(format!("failed to pull image {image}: {e}")),
                })
            })
            .collect();
        pulls
            .into_iter()
            .zip(images)
            .filter_map(|(pull, image)| {
                pull.join().unwrap_or_else(|_| {
                    Some(format!(
                        "failed to pull image {image}: the pulling thread panicked"
                    ))
                })
            })
            .collect()
    })
}

/// One image of [`pull`]: its failure, if any.
fn pull_one(
    client: &mut crate::cri::CriClient,
    image: &str,
    always: bool,
    prefix: &str,
) -> Option<String> {
    if !always && matches!(client.image_exists(image), Ok(true)) {
        println!("{prefix} Image {image} is already present");
        return None;
    }
    let started = std::time::Instant::now();
    match client.pull_image(image) {
        Ok(_) => {
            println!(
                "{prefix} Pulled {image} in {}",
                crate::output::human_duration(started.elapsed())
            );
            None
        }
        Err(e) => {
            println!("{prefix} Failed to pull {image}");
            Some(format!("failed to pull image {image}: {e}"))
        }
    }
}

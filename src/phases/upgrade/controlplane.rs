//! The `control-plane` phase both upgrade commands run (upstream's
//! `phases/upgrade/staticpods.go`): every manifest and an etcd snapshot backed up, then each
//! component's new static Pod written, waited for through its mirror Pod and health, its
//! certificates renewed, and the previous manifest put back when it does not come up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{UpgradeData, TMP_DIR};
use crate::client::Api;
use crate::config::InitConfiguration;
use crate::host::Sensitivity;
use crate::manifests::MANIFESTS_DIR;
use crate::phases::kubeconfig::KUBERNETES_DIR;

/// `control-plane`: the backups first (every manifest, and an etcd snapshot), then each
/// component in turn.
pub(super) fn control_plane(d: &mut UpgradeData) -> anyhow::Result<()> {
    let cfg = d.config()?;
    let host = d.host.clone();
    let dry = d.dry_run();
    let manifests = PathBuf::from(MANIFESTS_DIR);
    let backup = Path::new(TMP_DIR).join(format!("kubeadm-backup-manifests-{}", d.backup_stamp));
    for name in host
        .read_dir(&manifests)
        .with_context(|| format!("reading {}", manifests.display()))?
    {
        let from = manifests.join(&name);
        let bytes = host.read(&from)?;
        host.write_file(&backup.join(&name), &bytes, 0o600, Sensitivity::Public)?;
    }
    println!(
        "[upgrade/staticpods] Saved the current manifests to {:?}",
        backup.display().to_string()
    );

    let local_etcd = matches!(cfg.cluster.etcd, crate::config::Etcd::Local(_));
    let etcd_upgrade = d.opts.etcd_upgrade;
    let mut components: Vec<&str> = Vec::new();
    if local_etcd && etcd_upgrade {
        let dir = Path::new(TMP_DIR)
            .join(format!("kubeadm-backup-etcd-{}", d.backup_stamp))
            .join("etcd");
        let path = dir.join("snapshot.db");
        if dry {
            println!(
                "[dryrun] Would save a snapshot of etcd to {:?}",
                path.display().to_string()
            );
        } else {
            // As upstream, before anything of etcd changes: the cluster must be healthy,
            // a quorum of its voting members answering (#138403).
            etcd_cluster_healthy(d, &cfg).context("etcd cluster is not healthy")?;
            etcd_snapshot(d, &cfg, &path)?;
        }
        components.push("etcd");
    }
    components.extend(crate::manifests::controlplane::COMPONENTS);

    let patches = crate::phases::staticpods::load_patches(host.as_ref(), &cfg)?;
    let proxy_env = crate::manifests::proxy_env_of(std::env::vars());
    let renew = d.opts.certificate_renewal;
    let reader = d.client()?;
    let timeout = d.manifests_timeout();
    for component in components {
        let path = manifests.join(format!("{component}.yaml"));
        let old = host
            .read(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let pod = if component == "etcd" {
            // As upstream, the upgraded member's manifest names only itself in
            // initial-cluster: etcd reads it when its data directory is empty, never after.
            crate::manifests::etcd::pod(&cfg, &[])
        } else {
            let ctx = crate::manifests::controlplane::Context {
                host: host.as_ref(),
                proxy_env: &proxy_env,
                kubeconfig_dir: Path::new(KUBERNETES_DIR),
            };
            crate::manifests::controlplane::component(component, &cfg, &ctx)
                .with_context(|| format!("{component} is not a control-plane component"))?
        };
        let new = crate::manifests::render_static_pod(pod, patches.as_ref())?;
        if new.as_bytes() == old.as_slice() {
            println!("[upgrade/staticpods] Current and new manifests of {component} are equal, skipping upgrade");
            continue;
        }
        if renew {
            renew_certs(d, &cfg, component)?;
        }
        if dry {
            host.write_file(&path, new.as_bytes(), 0o600, Sensitivity::Public)?;
            println!("[dryrun] Would move the new manifest of {component} into place and wait for the kubelet to restart it");
            continue;
        }
        let before = mirror_pod_hash(reader.as_ref(), component, &d.node_name);
        println!(
            "[upgrade/staticpods] Moving new manifest to {:?} and backing up old manifest to {:?}",
            path.display().to_string(),
            backup
                .join(format!("{component}.yaml"))
                .display()
                .to_string()
        );
        host.write_file(&path, new.as_bytes(), 0o600, Sensitivity::Public)?;
        println!("[upgrade/staticpods] Waiting for the kubelet to restart the component");
        println!(
            "[upgrade/staticpods] This can take up to {}",
            crate::duration::format_duration(timeout)
        );
        let deadline = Instant::now() + timeout;
        let outcome = wait_for_new_hash(
            reader.as_ref(),
            component,
            &d.node_name,
            before.as_deref(),
            deadline,
        )
        .and_then(|_| wait_component_healthy(&cfg, component, deadline));
        match outcome {
            Ok(()) => {
                println!("[upgrade/staticpods] Component {component:?} upgraded successfully!")
            }
            Err(observed) => {
                // Put the previous manifest back exactly as it was, and let it come up.
                host.write_file(&path, &old, 0o600, Sensitivity::Public)?;
                let back = Instant::now() + timeout;
                let recovered =
                    wait_for_new_hash(reader.as_ref(), component, &d.node_name, None, back)
                        .and_then(|_| wait_component_healthy(&cfg, component, back));
                let state = match recovered {
                    Ok(()) => "the previous manifest is back in place and the component is healthy again".to_string(),
                    Err(e) => format!("the previous manifest is back in place, but the component is not healthy yet ({e})"),
                };
                anyhow::bail!(
                    "[upgrade/apply] FATAL: the upgrade of {component} failed: {observed}; {state}. The manifests from before the upgrade are in {}. Fix the cause (see the kubelet's and the component's logs), then run 'kubeadm upgrade apply' again: the components already upgraded are skipped",
                    backup.display()
                );
            }
        }
    }
    Ok(())
}

/// The component's mirror Pod's `kubernetes.io/config.hash`, when the kubelet has
/// reported it.
fn mirror_pod_hash(api: &dyn Api, component: &str, node: &str) -> Option<String> {
    api.call(
        "GET",
        &crate::client::object_path("Pod", Some("kube-system"), &format!("{component}-{node}")),
        None,
        "application/json",
    )
    .ok()
    .and_then(|p| {
        p["metadata"]["annotations"]["kubernetes.io/config.hash"]
            .as_str()
            .map(str::to_string)
    })
}

/// Waits until the mirror Pod's hash differs from `old` (the kubelet has started the
/// manifest written); returns what was last seen when time runs out.
fn wait_for_new_hash(
    api: &dyn Api,
    component: &str,
    node: &str,
    old: Option<&str>,
    deadline: Instant,
) -> Result<String, String> {
    let mut last = None;
    let mut poll = crate::interrupt::Poll::new();
    loop {
        let now = mirror_pod_hash(api, component, node);
        if let Some(h) = &now {
            if Some(h.as_str()) != old {
                return Ok(h.clone());
            }
        }
        last = now.or(last);
        if Instant::now() >= deadline {
            return Err(match last {
                Some(h) => format!("the mirror Pod {component}-{node} still has the hash {h} of the previous manifest"),
                None => format!("the kubelet reported no mirror Pod {component}-{node}"),
            });
        }
        poll.pause()?;
    }
}

/// Waits for a component's health endpoint (etcd: its member answering).
fn wait_component_healthy(
    cfg: &InitConfiguration,
    component: &str,
    deadline: Instant,
) -> Result<(), String> {
    let url = if component == "etcd" {
        // The member's health on its metrics listener, as its static Pod's probes use.
        format!(
            "http://127.0.0.1:{}/health",
            crate::manifests::etcd::METRICS_PORT
        )
    } else {
        crate::phases::waitcontrolplane::component_health_urls(cfg)
            .into_iter()
            .find(|(n, _)| *n == component)
            .map(|(_, u)| u)
            .ok_or_else(|| format!("no health endpoint known for {component}"))?
    };
    let left = deadline.saturating_duration_since(Instant::now());
    crate::client::health::wait_healthy(&url, left, &|_, _| {})
        .map(|_| ())
        .map_err(|last| format!("{component} did not become healthy at {url} (last: {last})"))
}

/// How long a member that does not answer is asked again before the etcd cluster's
/// health is judged.
const ETCD_HEALTH_RETRY: Duration = Duration::from_secs(10);

/// The etcd cluster's health as upstream's upgrade checks it before touching etcd: every
/// member asked (the mirror Pods' endpoints, this node's own, then the voting members at
/// their client URLs); healthy while a quorum of the voting members answers, the others
/// warned of.
fn etcd_cluster_healthy(d: &mut UpgradeData, cfg: &InitConfiguration) -> anyhow::Result<()> {
    let client = d.client()?;
    let pki = &cfg.cluster.certificates_dir;
    let mut endpoints = crate::etcd::cluster_endpoints(client.as_ref()).unwrap_or_default();
    let own = crate::manifests::etcd::client_url(&cfg.local_api_endpoint.advertise_address);
    if !endpoints.contains(&own) {
        endpoints.push(own);
    }
    let read = |name: &str| d.host.read(&pki.join(name));
    let (ca, cert, key) = (
        read("etcd/ca.crt")?,
        read("etcd/healthcheck-client.crt")?,
        read("etcd/healthcheck-client.key")?,
    );
    let health =
        crate::etcd::check_cluster_health(&endpoints, &ca, &cert, &key, ETCD_HEALTH_RETRY)?;
    for m in &health.unhealthy {
        eprintln!(
            "[upgrade/etcd] WARNING: etcd member {m} does not answer; the cluster keeps its quorum"
        );
    }
    Ok(())
}

/// Saves a snapshot of the local etcd member through its API.
fn etcd_snapshot(d: &mut UpgradeData, cfg: &InitConfiguration, path: &Path) -> anyhow::Result<()> {
    let pki = &cfg.cluster.certificates_dir;
    let client = d.client()?;
    let mut endpoints = crate::etcd::cluster_endpoints(client.as_ref()).unwrap_or_default();
    endpoints.push(crate::manifests::etcd::client_url(
        &cfg.local_api_endpoint.advertise_address,
    ));
    let mut etcd = crate::etcd::EtcdClient::connect(
        d.host.as_ref(),
        &endpoints,
        &pki.join("etcd/ca.crt"),
        &pki.join("etcd/healthcheck-client.crt"),
        &pki.join("etcd/healthcheck-client.key"),
    )?;
    let mut bytes = Vec::new();
    let size = etcd.snapshot(&mut bytes)?;
    d.host
        .write_file(path, &bytes, 0o600, Sensitivity::Secret)
        .with_context(|| format!("writing the etcd snapshot {}", path.display()))?;
    println!(
        "[upgrade/etcd] Saved a snapshot of etcd ({size} bytes) from {} to {:?}",
        etcd.endpoint(),
        path.display().to_string()
    );
    Ok(())
}

fn renew_certs(d: &UpgradeData, cfg: &InitConfiguration, component: &str) -> anyhow::Result<()> {
    let dirs = crate::pki::renewal::Dirs {
        cert_dir: cfg.cluster.certificates_dir.clone(),
        kubeconfig_dir: PathBuf::from(KUBERNETES_DIR),
    };
    for name in renewables_of(component) {
        let Some(r) = crate::pki::renewal::renewables()
            .into_iter()
            .find(|r| r.name() == *name)
        else {
            continue;
        };
        match crate::pki::renewal::renew(
            d.host.as_ref(),
            &dirs,
            r,
            cfg.cluster.certificate_validity_period,
        ) {
            Ok(()) => println!("[upgrade/staticpods] Renewed the certificate {name}"),
            Err(crate::pki::renewal::RenewError::ExternallyManaged { .. }) => {
                println!(
                    "[upgrade/staticpods] External CA mode: the certificate {name} is not renewed"
                )
            }
            Err(crate::pki::renewal::RenewError::Missing { .. }) => {}
            Err(e) => return Err(anyhow::anyhow!(e)).with_context(|| format!("renewing {name}")),
        }
    }
    Ok(())
}

/// The certificates and kubeconfigs a component uses, renewed with it (upstream's
/// `renewCertsByComponent`).
fn renewables_of(component: &str) -> &'static [&'static str] {
    match component {
        "etcd" => &["etcd-server", "etcd-peer", "etcd-healthcheck-client"],
        "kube-apiserver" => &[
            "apiserver",
            "apiserver-kubelet-client",
            "apiserver-etcd-client",
            "front-proxy-client",
        ],
        "kube-controller-manager" => &["controller-manager.conf"],
        "kube-scheduler" => &["scheduler.conf"],
        _ => &[],
    }
}

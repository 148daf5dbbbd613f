//! The `kubeadm upgrade apply` workflow: the control plane moved to a new version one
//! component at a time, each change verified through the kubelet's mirror Pod and the
//! component's health, and undone byte for byte when it does not come up.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::upgrade::ApplyArgs;
use crate::client::{Api, KubeClient};
use crate::config::InitConfiguration;
use crate::host::{Host, Sensitivity};
use crate::manifests::MANIFESTS_DIR;
use crate::phases::kubeconfig::KUBERNETES_DIR;
use crate::upgrade::semver::KubeVersion;
use crate::workflow::{Phase, Workflow};

/// Where kubeadm keeps backups and other files of its own.
pub const TMP_DIR: &str = "/etc/kubernetes/tmp";

impl crate::workflow::WorkflowData for UpgradeData {
    fn skip_phases(&self) -> Vec<String> {
        if self.args.skip_phases.is_empty() {
            self.apply_cfg.skip_phases.clone()
        } else {
            self.args.skip_phases.clone()
        }
    }
}

/// What the upgrade phases share.
pub struct UpgradeData {
    /// The flags.
    pub args: ApplyArgs,
    /// The machine (or the dry-run recorder).
    pub host: Arc<dyn Host>,
    apply_cfg: crate::config::v1beta4::UpgradeApplyConfiguration,
    timeouts: crate::config::v1beta4::Timeouts,
    cfg: Option<InitConfiguration>,
    client: Option<Arc<KubeClient>>,
    dry_client: Arc<crate::client::DryRunClient>,
    node_name: String,
    backup_stamp: String,
}

impl UpgradeData {
    /// Builds the data from the flags and `--config` (an UpgradeConfiguration).
    pub fn new(args: ApplyArgs, host: Arc<dyn Host>) -> anyhow::Result<Self> {
        let upgrade = crate::cli::load_config(&args.common.config)?
            .and_then(|d| d.upgrade)
            .unwrap_or_default();
        let stamp = time::OffsetDateTime::now_utc();
        let backup_stamp = format!(
            "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
            stamp.year(),
            stamp.month() as u8,
            stamp.day(),
            stamp.hour(),
            stamp.minute(),
            stamp.second()
        );
        Ok(UpgradeData {
            args,
            host,
            apply_cfg: upgrade.apply,
            timeouts: upgrade.timeouts.unwrap_or_default(),
            cfg: None,
            client: None,
            dry_client: Arc::new(crate::client::DryRunClient::new()),
            node_name: String::new(),
            backup_stamp,
        })
    }

    fn dry_run(&self) -> bool {
        self.args.dry_run || self.apply_cfg.dry_run.unwrap_or(false)
    }

    /// The cluster, for reading (a dry run reads the real cluster too).
    fn client(&mut self) -> anyhow::Result<Arc<KubeClient>> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let path = self
            .args
            .common
            .kubeconfig
            .clone()
            .unwrap_or_else(|| Path::new(KUBERNETES_DIR).join("admin.conf"));
        let c = Arc::new(KubeClient::from_kubeconfig(self.host.as_ref(), &path)?);
        self.client = Some(c.clone());
        Ok(c)
    }

    /// The cluster, for writing: the recorder in a dry run.
    fn writer(&mut self) -> anyhow::Result<Arc<dyn Api>> {
        if self.dry_run() {
            return Ok(self.dry_client.clone());
        }
        Ok(self.client()?)
    }

    /// The target version: the argument, else the UpgradeConfiguration's.
    fn target(&self) -> anyhow::Result<KubeVersion> {
        let v = self
            .args
            .version
            .clone()
            .or_else(|| Some(self.apply_cfg.kubernetes_version.clone()).filter(|v| !v.is_empty()))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "missing one or more required arguments. Required arguments: [version]"
                )
            })?;
        let resolved = crate::config::resolve_kubernetes_version(&v)?;
        KubeVersion::parse(&resolved).ok_or_else(|| {
            anyhow::anyhow!("{v:?} is not a Kubernetes version; expected one such as v1.37.1")
        })
    }

    /// The cluster's configuration at the target version, with this node's API endpoint
    /// (from its API server's manifest) and name (from its kubelet's client certificate).
    fn config(&mut self) -> anyhow::Result<InitConfiguration> {
        if let Some(c) = &self.cfg {
            return Ok(c.clone());
        }
        let target = self.target()?;
        let client = self.client()?;
        let mut docs = super::api::read_kubeadm_config(client.as_ref())?;
        if let Some(c) = docs.cluster.as_mut() {
            c.kubernetes_version = target.to_string();
        }
        let apiserver = Path::new(MANIFESTS_DIR).join("kube-apiserver.yaml");
        let text = self.host.read_to_string(&apiserver).with_context(|| {
            format!(
                "{}: this node's API server manifest; upgrade apply runs on a control-plane node",
                apiserver.display()
            )
        })?;
        let pod = crate::manifests::from_yaml(&apiserver, &text)?;
        let endpoint = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(crate::manifests::controlplane::ADVERTISE_ADDRESS_ANNOTATION))
            .cloned()
            .with_context(|| {
                format!(
                    "{}: no {:?} annotation",
                    apiserver.display(),
                    crate::manifests::controlplane::ADVERTISE_ADDRESS_ANNOTATION
                )
            })?;
        let (address, port) = crate::config::split_host_port(&endpoint);
        self.node_name = node_name(self.host.as_ref())?;
        let overrides = crate::config::InitOverrides {
            advertise_address: Some(address),
            bind_port: port,
            node_name: Some(self.node_name.clone()),
            ..Default::default()
        };
        let mut cfg =
            crate::config::init_configuration(self.host.as_ref(), Some(&docs), &overrides)?;
        let patches = self
            .args
            .patches
            .as_ref()
            .map(|p| p.display().to_string())
            .or_else(|| self.apply_cfg.patches.as_ref().map(|p| p.directory.clone()))
            .filter(|p| !p.is_empty());
        if let Some(dir) = patches {
            cfg.versioned.init.patches = Some(crate::config::v1beta4::Patches { directory: dir });
        }
        self.cfg = Some(cfg.clone());
        Ok(cfg)
    }

    fn manifests_timeout(&self) -> Duration {
        self.timeouts
            .upgrade_manifests
            .as_ref()
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(300))
    }
}

/// This node's name, as its kubelet authenticates: the CN `system:node:<name>` of the
/// client certificate in `kubelet.conf`.
fn node_name(host: &dyn Host) -> anyhow::Result<String> {
    let path = Path::new(KUBERNETES_DIR).join("kubelet.conf");
    let kc = crate::kubeconfig::KubeConfig::from_yaml(&host.read_to_string(&path)?)?;
    let cert = kc
        .current_user()
        .and_then(|u| u.client_certificate_data.clone())
        .with_context(|| format!("{}: no embedded client certificate", path.display()))?;
    let info = crate::pki::CertInfo::parse_pem(&String::from_utf8_lossy(&cert))?;
    info.common_name
        .strip_prefix("system:node:")
        .map(str::to_string)
        .with_context(|| {
            format!(
                "{}: the client certificate is not a node's ({})",
                path.display(),
                info.common_name
            )
        })
}

/// `preflight`: root, the versions, the skew policy, and the user's go-ahead.
fn preflight(d: &mut UpgradeData) -> anyhow::Result<()> {
    println!("[preflight] Running pre-flight checks.");
    let mut ignored = d.args.common.ignore_preflight_errors.clone();
    ignored.extend(d.apply_cfg.ignore_preflight_errors.iter().cloned());
    let mut notes = Vec::new();
    super::preflight::run_checks(
        d.host.as_ref(),
        &[crate::preflight::Check::IsPrivilegedUser],
        &crate::preflight::Ignored::new(&ignored)?,
        d.dry_run(),
        &mut notes,
    )?;
    println!("[upgrade/config] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...");
    let target = d.target()?;
    let client = d.client()?;
    let state = crate::upgrade::plan::cluster_state(client.as_ref())?;
    let cluster = KubeVersion::parse(&state.kube_version).context("the cluster's version")?;
    let kubeadm =
        KubeVersion::parse(crate::version::KUBERNETES_VERSION).context("kubeadm's version")?;
    let minimum = KubeVersion::parse(&format!(
        "v1.{}.0",
        crate::config::MINIMUM_CONTROL_PLANE_MINOR
    ))
    .context("the minimum version")?;
    println!("[upgrade/versions] Cluster version: {cluster}");
    println!("[upgrade/versions] kubeadm version: {kubeadm}");
    let kubelets: Vec<String> = state.kubelet.keys().cloned().collect();
    let force = d.args.force || d.apply_cfg.force_upgrade.unwrap_or(false);
    let skew = crate::upgrade::policy::enforce(
        &crate::upgrade::policy::SkewInput {
            cluster: &cluster,
            kubeadm: &kubeadm,
            kubelets: Some(&kubelets),
            minimum: &minimum,
            allow_experimental: d.args.common.allow_experimental_upgrades
                || d.apply_cfg.allow_experimental_upgrades.unwrap_or(false),
            allow_rc: d.args.common.allow_release_candidate_upgrades
                || d.apply_cfg.allow_rc_upgrades.unwrap_or(false),
        },
        &target,
    );
    if !skew.mandatory.is_empty() {
        anyhow::bail!(
            "the upgrade to {target} is not supported:\n  - {}",
            skew.mandatory.join("\n  - ")
        );
    }
    if !skew.skippable.is_empty() {
        if !force {
            anyhow::bail!(
                "the upgrade to {target} is not supported without --force:\n  - {}\nPass --force to upgrade anyway",
                skew.skippable.join("\n  - ")
            );
        }
        for m in &skew.skippable {
            eprintln!("[upgrade/version] Found {} potential version compatibility errors but skipping since the --force flag is set: {m}", skew.skippable.len());
        }
    }
    // The configuration at the target version, validated as init validates it.
    d.config()?;
    let yes = d.args.yes || force || d.dry_run();
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("won't proceed: the upgrade asks for confirmation and standard input is not a terminal; pass --yes (-y) to upgrade without asking");
        }
        use std::io::Write;
        print!("[upgrade] Are you sure you want to proceed? [y/N]: ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !line.trim().eq_ignore_ascii_case("y") {
            anyhow::bail!("won't proceed; the user didn't answer (Y|n) in order to continue");
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
        std::thread::sleep(Duration::from_millis(200));
    }
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

/// `control-plane`: the backups first (every manifest, and an etcd snapshot), then each
/// component in turn.
fn control_plane(d: &mut UpgradeData) -> anyhow::Result<()> {
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
    let etcd_upgrade = d.args.common.etcd_upgrade && d.apply_cfg.etcd_upgrade.unwrap_or(true);
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
            etcd_snapshot(d, &cfg, &path)?;
        }
        components.push("etcd");
    }
    components.extend(crate::manifests::controlplane::COMPONENTS);

    let patches = super::staticpods::load_patches(host.as_ref(), &cfg)?;
    let proxy_env = crate::manifests::proxy_env_of(std::env::vars());
    let renew = d.args.certificate_renewal && d.apply_cfg.certificate_renewal.unwrap_or(true);
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
        crate::phases::api::component_health_urls(cfg)
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

/// `upload-config`: kubeadm-config and kubelet-config at the new version.
fn upload_kubeadm(d: &mut UpgradeData) -> anyhow::Result<()> {
    let cfg = d.config()?;
    let api = d.writer()?;
    super::api::upload_kubeadm_config(api.as_ref(), &cfg)
}

fn upload_kubelet(d: &mut UpgradeData) -> anyhow::Result<()> {
    let cfg = d.config()?;
    let api = d.writer()?;
    super::api::upload_kubelet_config(api.as_ref(), &cfg)
}

/// `kubelet-config`: this node's `/var/lib/kubelet/config.yaml` from the cluster's
/// KubeletConfiguration, the previous one kept in a backup.
fn kubelet_config(d: &mut UpgradeData) -> anyhow::Result<()> {
    let cfg = d.config()?;
    let host = d.host.clone();
    let dir = Path::new(crate::kubelet::KUBELET_DIR);
    let path = dir.join(crate::kubelet::CONFIG_FILE);
    let new = crate::kubelet::to_yaml(&crate::kubelet::cluster_configuration(&cfg)?)?;
    let old = host.read(&path).ok();
    if old.as_deref() == Some(new.as_bytes()) {
        println!(
            "[upgrade/kubelet-config] The kubelet configuration {} is up to date",
            path.display()
        );
        return Ok(());
    }
    if let Some(old) = &old {
        let backup = Path::new(TMP_DIR)
            .join(format!("kubeadm-kubelet-config-{}", d.backup_stamp))
            .join(crate::kubelet::CONFIG_FILE);
        host.write_file(&backup, old, 0o644, Sensitivity::Public)?;
        println!(
            "[upgrade] Backing up kubelet config file to {}",
            backup.display()
        );
    }
    host.write_file(&path, new.as_bytes(), 0o644, Sensitivity::Public)?;
    println!("[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!");
    Ok(())
}

/// `bootstrap-token`: the RBAC rules node bootstrap needs, and cluster-info.
fn bootstrap_token(d: &mut UpgradeData) -> anyhow::Result<()> {
    let api = d.writer()?;
    let admin = Path::new(KUBERNETES_DIR).join("admin.conf");
    let info = super::api::cluster_info_kubeconfig(d.host.as_ref(), &admin)?;
    println!("[bootstrap-token] Configuring bootstrap token and cluster-info RBAC rules");
    super::api::bootstrap_rbac_and_cluster_info(api.as_ref(), &info)
}

fn addon_coredns(d: &mut UpgradeData) -> anyhow::Result<()> {
    let cfg = d.config()?;
    if cfg.versioned.cluster.dns.disabled {
        println!("[addons] Skipping the addon/coredns phase. The addon is disabled.");
        return Ok(());
    }
    let api = d.writer()?;
    crate::addons::apply(api.as_ref(), &crate::addons::coredns_objects(&cfg)?)?;
    println!("[addons] Applied essential addon: CoreDNS");
    Ok(())
}

fn addon_kube_proxy(d: &mut UpgradeData) -> anyhow::Result<()> {
    let cfg = d.config()?;
    if cfg.versioned.cluster.proxy.disabled {
        println!("[addons] Skipping the addon/kube-proxy phase. The addon is disabled.");
        return Ok(());
    }
    let api = d.writer()?;
    crate::addons::apply(api.as_ref(), &crate::addons::kube_proxy_objects(&cfg)?)?;
    println!("[addons] Applied essential addon: kube-proxy");
    Ok(())
}

/// `post-upgrade`: flags the kubelet of the new version no longer takes are dropped from
/// `kubeadm-flags.env`; the rest is kept as written.
fn post_upgrade(d: &mut UpgradeData) -> anyhow::Result<()> {
    let target = d.target()?;
    let path = Path::new(crate::kubelet::KUBELET_DIR).join("kubeadm-flags.env");
    let Ok(text) = d.host.read_to_string(&path) else {
        return Ok(());
    };
    let removed = ["--pod-infra-container-image"];
    let cleaned = crate::kubelet::remove_flags(&text, &removed);
    if cleaned != text {
        d.host
            .write_file(&path, cleaned.as_bytes(), 0o644, Sensitivity::Public)?;
        println!(
            "[upgrade/post-upgrade] Removed flags the kubelet {target} no longer takes from {}",
            path.display()
        );
    }
    println!("[upgrade] SUCCESS! A control plane node of your cluster was upgraded to {target:?}.\n\n[upgrade] Now please proceed with upgrading the rest of the nodes by following the right order.");
    Ok(())
}

/// The `upgrade apply` phases, in upstream's order.
pub fn workflow() -> Workflow<UpgradeData> {
    const CFG: &[&str] = &["config", "dry-run", "kubeconfig"];
    Workflow::new(
        "apply",
        vec![
            Phase::new("preflight", "Run preflight checks before upgrade")
                .inherit(&[
                    "config",
                    "dry-run",
                    "force",
                    "ignore-preflight-errors",
                    "kubeconfig",
                    "yes",
                    "allow-experimental-upgrades",
                    "allow-release-candidate-upgrades",
                ])
                .run(preflight),
            Phase::new("control-plane", "Upgrade the control plane")
                .inherit(&[
                    "certificate-renewal",
                    "config",
                    "dry-run",
                    "etcd-upgrade",
                    "kubeconfig",
                    "patches",
                ])
                .run(control_plane),
            Phase::new(
                "upload-config",
                "Upload the kubeadm and kubelet configurations to ConfigMaps",
            )
            .children(vec![
                Phase::all("Upload all the configurations to ConfigMaps", CFG),
                Phase::new(
                    "kubeadm",
                    "Upload the kubeadm ClusterConfiguration to a ConfigMap",
                )
                .inherit(CFG)
                .run(upload_kubeadm),
                Phase::new("kubelet", "Upload the kubelet configuration to a ConfigMap")
                    .inherit(CFG)
                    .run(upload_kubelet),
            ]),
            Phase::new(
                "kubelet-config",
                "Upgrade the kubelet configuration for this node",
            )
            .inherit(&["config", "dry-run", "kubeconfig", "patches"])
            .run(kubelet_config),
            Phase::new(
                "bootstrap-token",
                "Configures bootstrap token and cluster-info RBAC rules",
            )
            .inherit(CFG)
            .run(bootstrap_token),
            Phase::new("addon", "Upgrade the default kubeadm addons").children(vec![
                Phase::all("Upgrade all the addons", CFG),
                Phase::new("coredns", "Upgrade the CoreDNS addon")
                    .inherit(CFG)
                    .run(addon_coredns),
                Phase::new("kube-proxy", "Upgrade the kube-proxy addon")
                    .inherit(CFG)
                    .run(addon_kube_proxy),
            ]),
            Phase::new("post-upgrade", "Run post upgrade tasks")
                .inherit(CFG)
                .run(post_upgrade),
        ],
    )
    .under(&["upgrade"])
}

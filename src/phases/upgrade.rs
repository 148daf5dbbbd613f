//! The `kubeadm upgrade apply` workflow: the control plane moved to a new version one
//! component at a time, each change verified through the kubelet's mirror Pod and the
//! component's health, and undone byte for byte when it does not come up.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

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
        self.opts.skip_phases.clone()
    }
}

/// Which command runs the phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeCommand {
    /// `kubeadm upgrade apply`: the first control-plane node, and the cluster's objects.
    Apply,
    /// `kubeadm upgrade node`: any other node, to the version the cluster is at.
    Node,
}

/// What an upgrade command was asked, from its flags (the CLI fills it).
#[derive(Debug, Clone)]
pub struct UpgradeOptions {
    /// Apply or node.
    pub command: UpgradeCommand,
    /// The target version (apply).
    pub version: Option<String>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--force`.
    pub force: bool,
    /// `--yes`.
    pub yes: bool,
    /// `--etcd-upgrade`.
    pub etcd_upgrade: bool,
    /// `--certificate-renewal`.
    pub certificate_renewal: bool,
    /// `--patches`.
    pub patches: Option<PathBuf>,
    /// `--skip-phases`.
    pub skip_phases: Vec<String>,
    /// `--ignore-preflight-errors`.
    pub ignore_preflight_errors: Vec<String>,
    /// `--allow-experimental-upgrades`.
    pub allow_experimental: bool,
    /// `--allow-release-candidate-upgrades`.
    pub allow_rc: bool,
    /// The UpgradeConfiguration's `imagePullPolicy` (empty: `IfNotPresent`).
    pub image_pull_policy: String,
    /// `--print-config`.
    pub print_config: bool,
}

impl UpgradeOptions {
    /// The flags with the UpgradeConfiguration's section for this command applied where
    /// the flags say nothing (flags win, as upstream).
    fn with_config(mut self, u: &crate::config::v1beta4::UpgradeConfiguration) -> Self {
        let join = |flags: &mut Vec<String>, cfg: &[String]| flags.extend(cfg.iter().cloned());
        match self.command {
            UpgradeCommand::Apply => {
                let a = &u.apply;
                if self.version.is_none() && !a.kubernetes_version.is_empty() {
                    self.version = Some(a.kubernetes_version.clone());
                }
                self.dry_run |= a.dry_run.unwrap_or(false);
                self.force |= a.force_upgrade.unwrap_or(false);
                self.etcd_upgrade &= a.etcd_upgrade.unwrap_or(true);
                self.certificate_renewal &= a.certificate_renewal.unwrap_or(true);
                self.allow_experimental |= a.allow_experimental_upgrades.unwrap_or(false);
                self.allow_rc |= a.allow_rc_upgrades.unwrap_or(false);
                if self.patches.is_none() {
                    self.patches = a.patches.as_ref().map(|p| PathBuf::from(&p.directory));
                }
                if self.skip_phases.is_empty() {
                    self.skip_phases = a.skip_phases.clone();
                }
                self.image_pull_policy = a.image_pull_policy.clone();
                self.print_config |= a.print_config.unwrap_or(false);
                join(
                    &mut self.ignore_preflight_errors,
                    &a.ignore_preflight_errors,
                );
            }
            UpgradeCommand::Node => {
                let n = &u.node;
                self.dry_run |= n.dry_run.unwrap_or(false);
                self.etcd_upgrade &= n.etcd_upgrade.unwrap_or(true);
                self.certificate_renewal &= n.certificate_renewal.unwrap_or(true);
                if self.patches.is_none() {
                    self.patches = n.patches.as_ref().map(|p| PathBuf::from(&p.directory));
                }
                if self.skip_phases.is_empty() {
                    self.skip_phases = n.skip_phases.clone();
                }
                self.image_pull_policy = n.image_pull_policy.clone();
                join(
                    &mut self.ignore_preflight_errors,
                    &n.ignore_preflight_errors,
                );
            }
        }
        self.patches = self.patches.filter(|p| !p.as_os_str().is_empty());
        self
    }
}

/// What the upgrade phases share.
pub struct UpgradeData {
    /// What was asked.
    pub opts: UpgradeOptions,
    /// The machine (or the dry-run recorder).
    pub host: Arc<dyn Host>,
    timeouts: crate::config::v1beta4::Timeouts,
    cfg: Option<InitConfiguration>,
    client: Option<Arc<KubeClient>>,
    dry_client: Arc<crate::client::DryRunClient>,
    node_name: String,
    backup_stamp: String,
    target: Option<KubeVersion>,
}

impl UpgradeData {
    /// Builds the data from the options and `--config` (an UpgradeConfiguration).
    pub fn new(opts: UpgradeOptions, host: Arc<dyn Host>) -> anyhow::Result<Self> {
        let upgrade = crate::config::load_optional_file(host.as_ref(), opts.config.as_deref())?
            .and_then(|d| d.upgrade)
            .unwrap_or_default();
        crate::config::validation::validate_upgrade(&upgrade)?;
        let opts = opts.with_config(&upgrade);
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
            opts,
            host,
            timeouts: upgrade.timeouts.unwrap_or_default(),
            cfg: None,
            client: None,
            dry_client: Arc::new(crate::client::DryRunClient::new()),
            node_name: String::new(),
            backup_stamp,
            target: None,
        })
    }

    fn dry_run(&self) -> bool {
        self.opts.dry_run
    }

    /// The cluster, for reading (a dry run reads the real cluster too).
    fn client(&mut self) -> anyhow::Result<Arc<KubeClient>> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        // `upgrade node` on a worker talks with the kubelet's identity, as upstream.
        let default = if self.opts.command == UpgradeCommand::Node && !self.is_control_plane_node()
        {
            "kubelet.conf"
        } else {
            "admin.conf"
        };
        let path = self
            .opts
            .kubeconfig
            .clone()
            .unwrap_or_else(|| Path::new(KUBERNETES_DIR).join(default));
        let c = Arc::new(KubeClient::from_kubeconfig(self.host.as_ref(), &path)?);
        self.client = Some(c.clone());
        Ok(c)
    }

    /// True when this node runs an API server (its manifest is here).
    fn is_control_plane_node(&self) -> bool {
        matches!(
            self.host
                .exists(&Path::new(MANIFESTS_DIR).join("kube-apiserver.yaml")),
            Ok(true)
        )
    }

    /// The cluster, for writing: the recorder in a dry run.
    fn writer(&mut self) -> anyhow::Result<Arc<dyn Api>> {
        if self.dry_run() {
            return Ok(self.dry_client.clone());
        }
        Ok(self.client()?)
    }

    /// The target version: for apply, the argument (or the UpgradeConfiguration's); for
    /// node, the version the cluster's configuration is at (apply has uploaded it).
    fn target(&mut self) -> anyhow::Result<KubeVersion> {
        if let Some(t) = &self.target {
            return Ok(t.clone());
        }
        let v = match self.opts.command {
            UpgradeCommand::Apply => self.opts.version.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "missing one or more required arguments. Required arguments: [version]"
                )
            })?,
            UpgradeCommand::Node => {
                let client = self.client()?;
                super::api::read_kubeadm_config(client.as_ref())?
                    .cluster
                    .map(|c| c.kubernetes_version)
                    .filter(|v| !v.is_empty())
                    .context("the kubeadm-config ConfigMap names no kubernetesVersion")?
            }
        };
        let resolved = crate::config::resolve_kubernetes_version(&v)?;
        let target = KubeVersion::parse(&resolved).ok_or_else(|| {
            anyhow::anyhow!("{v:?} is not a Kubernetes version; expected one such as v1.37.1")
        })?;
        self.target = Some(target.clone());
        Ok(target)
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
        // The component configurations as the cluster holds them, so that what the user
        // set at init survives the upgrade (kubeadm-config holds only the
        // ClusterConfiguration).
        docs.kubelet = component_config(client.as_ref(), "kubelet-config", "kubelet")?;
        docs.kube_proxy = component_config(client.as_ref(), "kube-proxy", "config.conf")?;
        self.node_name = crate::kubelet::node_name(
            self.host.as_ref(),
            &Path::new(KUBERNETES_DIR).join("kubelet.conf"),
        )?;
        let mut overrides = crate::config::InitOverrides {
            node_name: Some(self.node_name.clone()),
            ..Default::default()
        };
        if self.is_control_plane_node() {
            let apiserver = Path::new(MANIFESTS_DIR).join("kube-apiserver.yaml");
            let text = self.host.read_to_string(&apiserver)?;
            let pod = crate::manifests::from_yaml(&apiserver, &text)?;
            let annotation = crate::manifests::controlplane::ADVERTISE_ADDRESS_ANNOTATION;
            let endpoint = pod
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(annotation))
                .cloned()
                .with_context(|| {
                    format!("{}: no {annotation:?} annotation", apiserver.display())
                })?;
            let (address, port) = crate::config::split_host_port(&endpoint);
            overrides.advertise_address = Some(address);
            overrides.bind_port = port;
        } else if self.opts.command == UpgradeCommand::Apply {
            anyhow::bail!("{}/kube-apiserver.yaml: no API server manifest; 'kubeadm upgrade apply' runs on a control-plane node (use 'kubeadm upgrade node' on the others)", MANIFESTS_DIR);
        }
        let mut cfg =
            crate::config::init_configuration(self.host.as_ref(), Some(&docs), &overrides)?;
        if let Some(dir) = &self.opts.patches {
            cfg.versioned.init.patches = Some(crate::config::v1beta4::Patches {
                directory: dir.display().to_string(),
            });
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

/// A component configuration document from its ConfigMap in kube-system; `None` when the
/// cluster has no such ConfigMap (the addon is disabled, say).
fn component_config(
    api: &dyn Api,
    name: &str,
    key: &str,
) -> anyhow::Result<Option<serde_yaml_ng::Mapping>> {
    let cm = match api.call(
        "GET",
        &crate::client::object_path("ConfigMap", Some("kube-system"), name),
        None,
        "application/json",
    ) {
        Ok(cm) => cm,
        // Missing, or not readable by this identity (a worker's kubelet and kube-proxy's).
        Err(e) if e.is_not_found() || e.code == 403 => return Ok(None),
        Err(e) => {
            return Err(anyhow::anyhow!(e)).with_context(|| format!("reading the {name} ConfigMap"))
        }
    };
    let Some(text) = cm["data"][key].as_str() else {
        return Ok(None);
    };
    crate::yaml::from_untrusted(text, &format!("the {name} ConfigMap's {key:?}")).map(Some)
}

/// `preflight`: root, the versions, the skew policy, and the user's go-ahead.
fn preflight(d: &mut UpgradeData) -> anyhow::Result<()> {
    println!("[preflight] Running pre-flight checks.");
    let ignored = crate::preflight::Ignored::new(&d.opts.ignore_preflight_errors)?;
    let mut notes = Vec::new();
    super::preflight::run_checks(
        d.host.as_ref(),
        &[crate::preflight::Check::IsPrivilegedUser],
        &ignored,
        d.dry_run(),
        &mut notes,
    )?;
    println!("[upgrade/config] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...");
    let target = d.target()?;
    let client = d.client()?;
    cluster_health(d, client.as_ref(), &ignored)?;
    let state = crate::upgrade::plan::cluster_state(client.as_ref())?;
    println!("[upgrade/versions] Cluster version: {}", state.kube_version);
    println!(
        "[upgrade/versions] kubeadm version: {}",
        crate::version::KUBERNETES_VERSION
    );
    let force = d.opts.force;
    let skew =
        crate::upgrade::policy::check(&state, &target, d.opts.allow_experimental, d.opts.allow_rc)?;
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
    let cfg = d.config()?;
    if d.opts.print_config {
        print_configuration(&cfg.versioned.cluster)?;
    }
    let yes = d.opts.yes || force || d.dry_run();
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
    let policy = match d.opts.image_pull_policy.as_str() {
        "" => "IfNotPresent",
        p => p,
    };
    super::preflight::pull_images_with(d.host.as_ref(), &cfg, policy, &ignored, d.dry_run())
}

/// `--print-config`: the ClusterConfiguration the upgrade uses, as upstream prints it
/// (each line indented by a tab).
pub fn print_configuration(
    cluster: &crate::config::v1beta4::ClusterConfiguration,
) -> anyhow::Result<()> {
    let text = crate::yaml::to_string(cluster)?;
    println!("[upgrade/config] Configuration used:");
    for line in text.lines() {
        println!("\t{line}");
    }
    Ok(())
}

/// Upstream's cluster health checks before an upgrade: a Job can run (`CreateJob`), every
/// control-plane Node is Ready (`ControlPlaneNodesReady`), and this node has the static
/// Pod manifests (`StaticPodManifest`); each may be ignored by name.
fn cluster_health(
    d: &mut UpgradeData,
    client: &dyn Api,
    ignored: &crate::preflight::Ignored,
) -> anyhow::Result<()> {
    use crate::preflight::Finding;
    println!("[upgrade] Running cluster health checks");
    let job = if d.dry_run() {
        println!(
            "[upgrade/health] Would create the Job {:?} in namespace \"kube-system\" and wait until it completes",
            crate::objects::HEALTH_CHECK_JOB
        );
        Vec::new()
    } else {
        let docs = super::api::read_kubeadm_config(client)?;
        let repo = docs
            .cluster
            .map(|c| c.image_repository)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| crate::config::DEFAULT_IMAGE_REPOSITORY.to_string());
        let pause = format!("{repo}/pause:{}", crate::images::pause_version());
        health_check_job(client, &pause).err().into_iter().collect()
    };
    let nodes = not_ready_control_planes(client)
        .map(|names| {
            (!names.is_empty()).then(|| {
                format!(
                    "there are NotReady control-planes in the cluster: [{}]",
                    names.join(" ")
                )
            })
        })
        .unwrap_or_else(|e| Some(e.to_string()));
    let missing: Vec<String> = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
    ]
    .iter()
    .map(|c| Path::new(MANIFESTS_DIR).join(format!("{c}.yaml")))
    .filter(|p| !matches!(d.host.exists(p), Ok(true)))
    .map(|p| p.display().to_string())
    .collect();
    let manifests = (!missing.is_empty()).then(|| format!("The control plane seems to be Static Pod-hosted, but some of the manifests don't seem to exist on disk. This probably means you're running 'kubeadm upgrade' on a remote machine, which is not supported for a Static Pod-hosted cluster. Manifest files not found: [{}]", missing.join(" ")));
    crate::preflight::report(&[
        Finding::of("CreateJob", job, ignored),
        Finding::of(
            "ControlPlaneNodesReady",
            nodes.into_iter().collect(),
            ignored,
        ),
        Finding::of(
            "StaticPodManifest",
            manifests.into_iter().collect(),
            ignored,
        ),
    ])
}

/// Runs upstream's health-check Job and waits (15 s) for it to complete; the Job is
/// deleted afterwards either way.
fn health_check_job(api: &dyn Api, pause_image: &str) -> Result<(), String> {
    use crate::objects::HEALTH_CHECK_JOB as NAME;
    const TIMEOUT: Duration = Duration::from_secs(15);
    let path = crate::client::object_path("Job", Some("kube-system"), NAME);
    let delete = || {
        api.call(
            "DELETE",
            &path,
            Some(&serde_json::json!({"propagationPolicy": "Foreground"})),
            "application/json",
        )
        .map(|_| ())
        .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })
        .map_err(|e| format!("could not delete Job {NAME:?} in the namespace \"kube-system\": {e}"))
    };
    if api.call("GET", &path, None, "application/json").is_ok() {
        delete()?;
    }
    let job = crate::objects::to_value(&crate::objects::health_check_job(pause_image));
    let collection = crate::client::collection("Job", Some("kube-system"));
    let start = Instant::now();
    let mut poll = crate::interrupt::Poll::new();
    // Created again while a previous one is still being deleted: retried.
    loop {
        match api.call("POST", &collection, Some(&job), "application/json") {
            Ok(_) => break,
            Err(e) if start.elapsed() < TIMEOUT => {
                tracing::debug!("could not create Job {NAME:?}, retrying: {e}");
            }
            Err(e) => {
                return Err(format!(
                    "could not create Job {NAME:?} in the namespace \"kube-system\": {e}"
                ))
            }
        }
        poll.pause()?;
    }
    let start = Instant::now();
    let mut poll = crate::interrupt::Poll::new();
    let outcome = loop {
        let last = match api.call("GET", &path, None, "application/json") {
            Ok(j) => {
                let complete = j["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Complete" && c["status"] == "True")
                });
                if complete {
                    break Ok(());
                }
                "no condition of type Complete".to_string()
            }
            Err(e) => e.to_string(),
        };
        if start.elapsed() >= TIMEOUT {
            break Err(format!(
                "Job {NAME:?} in the namespace \"kube-system\" did not complete in {}: {last}",
                crate::duration::format_duration(TIMEOUT)
            ));
        }
        poll.pause()?;
    };
    let deleted = delete();
    outcome.and(deleted)
}

/// The control-plane Nodes whose Ready condition is not True.
fn not_ready_control_planes(api: &dyn Api) -> anyhow::Result<Vec<String>> {
    let list = api
        .call(
            "GET",
            "/api/v1/nodes?labelSelector=node-role.kubernetes.io%2Fcontrol-plane%3D",
            None,
            "application/json",
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "could not list nodes labeled with \"node-role.kubernetes.io/control-plane\": {e}"
            )
        })?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| {
            n["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] != "True")
        })
        .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
        .collect())
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

/// `upgrade node`'s `preflight`: root, and the version this node goes to.
fn node_preflight(d: &mut UpgradeData) -> anyhow::Result<()> {
    println!("[preflight] Running pre-flight checks");
    let mut notes = Vec::new();
    super::preflight::run_checks(
        d.host.as_ref(),
        &[crate::preflight::Check::IsPrivilegedUser],
        &crate::preflight::Ignored::new(&d.opts.ignore_preflight_errors)?,
        d.dry_run(),
        &mut notes,
    )?;
    let target = d.target()?;
    if d.is_control_plane_node() {
        let cfg = d.config()?;
        let policy = match d.opts.image_pull_policy.as_str() {
            "" => "IfNotPresent",
            p => p,
        };
        let ignored = crate::preflight::Ignored::new(&d.opts.ignore_preflight_errors)?;
        super::preflight::pull_images_with(d.host.as_ref(), &cfg, policy, &ignored, d.dry_run())?;
    } else {
        println!("[preflight] Skipping prepull. Not a control plane node.");
    }
    println!(
        "[upgrade] Upgrading this node to {target}, the version in the cluster's configuration"
    );
    Ok(())
}

/// `upgrade node`'s `control-plane`: as apply's, on a control-plane node only.
fn node_control_plane(d: &mut UpgradeData) -> anyhow::Result<()> {
    if !d.is_control_plane_node() {
        println!("[upgrade] Skipping phase. Not a control plane node.");
        return Ok(());
    }
    control_plane(d)
}

/// Whether `upgrade node` re-applies an addon: on a control-plane node, once every API
/// server runs the target version (the last node upgraded does it), as upstream.
fn node_addons_ready(d: &mut UpgradeData, addon: &str) -> anyhow::Result<bool> {
    if !d.is_control_plane_node() {
        println!("[upgrade/addon] Skipping the addon/{addon} phase. Not a control plane node.");
        return Ok(false);
    }
    let target = d.target()?.to_string();
    let client = d.client()?;
    let state = crate::upgrade::plan::cluster_state(client.as_ref())?;
    let behind: Vec<String> = state
        .apiserver
        .iter()
        .filter(|(v, _)| **v != target)
        .flat_map(|(_, nodes)| nodes.clone())
        .collect();
    if !behind.is_empty() {
        println!(
            "[upgrade/addon] Skipping the addon/{addon} phase. Not all control plane instances have been upgraded ({} not yet)",
            behind.join(", ")
        );
        return Ok(false);
    }
    Ok(true)
}

fn node_addon_coredns(d: &mut UpgradeData) -> anyhow::Result<()> {
    if node_addons_ready(d, "coredns")? {
        addon_coredns(d)?;
    }
    Ok(())
}

fn node_addon_kube_proxy(d: &mut UpgradeData) -> anyhow::Result<()> {
    if node_addons_ready(d, "kube-proxy")? {
        addon_kube_proxy(d)?;
    }
    Ok(())
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
            etcd_snapshot(d, &cfg, &path)?;
        }
        components.push("etcd");
    }
    components.extend(crate::manifests::controlplane::COMPONENTS);

    let patches = super::staticpods::load_patches(host.as_ref(), &cfg)?;
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

/// Re-applies one addon at the target version, unless the configuration disables it.
fn apply_addon(
    d: &mut UpgradeData,
    phase: &str,
    name: &str,
    disabled: fn(&InitConfiguration) -> bool,
    objects: fn(&InitConfiguration) -> anyhow::Result<Vec<serde_json::Value>>,
) -> anyhow::Result<()> {
    let cfg = d.config()?;
    if disabled(&cfg) {
        println!("[addons] Skipping the addon/{phase} phase. The addon is disabled.");
        return Ok(());
    }
    let api = d.writer()?;
    crate::addons::apply(api.as_ref(), &objects(&cfg)?)?;
    println!("[addons] Applied essential addon: {name}");
    Ok(())
}

fn addon_coredns(d: &mut UpgradeData) -> anyhow::Result<()> {
    apply_addon(
        d,
        "coredns",
        "CoreDNS",
        |c| c.versioned.cluster.dns.disabled,
        crate::addons::coredns_objects,
    )
}

fn addon_kube_proxy(d: &mut UpgradeData) -> anyhow::Result<()> {
    apply_addon(
        d,
        "kube-proxy",
        "kube-proxy",
        |c| c.versioned.cluster.proxy.disabled,
        crate::addons::kube_proxy_objects,
    )
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
    match d.opts.command {
        UpgradeCommand::Apply => println!("[upgrade] SUCCESS! A control plane node of your cluster was upgraded to {:?}.\n\n[upgrade] Now please proceed with upgrading the rest of the nodes by following the right order.", target.to_string()),
        UpgradeCommand::Node => println!("[upgrade] The configuration for this node was successfully upgraded!\n[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager."),
    }
    Ok(())
}

/// `kubelet-config`, as apply and node list it.
fn kubelet_config_phase() -> Phase<UpgradeData> {
    Phase::new(
        "kubelet-config",
        "Upgrade the kubelet configuration for this node",
    )
    .inherit(&["config", "dry-run", "kubeconfig", "patches"])
    .run(kubelet_config)
}

/// `addon` with its `all`, `coredns` and `kube-proxy`, running the given work.
fn addon_phase(
    coredns: fn(&mut UpgradeData) -> anyhow::Result<()>,
    kube_proxy: fn(&mut UpgradeData) -> anyhow::Result<()>,
) -> Phase<UpgradeData> {
    const CFG: &[&str] = &["config", "dry-run", "kubeconfig"];
    Phase::new("addon", "Upgrade the default kubeadm addons").children(vec![
        Phase::all("Upgrade all the addons", CFG),
        Phase::new("coredns", "Upgrade the CoreDNS addon")
            .inherit(CFG)
            .run(coredns),
        Phase::new("kube-proxy", "Upgrade the kube-proxy addon")
            .inherit(CFG)
            .run(kube_proxy),
    ])
}

/// `post-upgrade`, as apply and node list it.
fn post_upgrade_phase() -> Phase<UpgradeData> {
    Phase::new("post-upgrade", "Run post upgrade tasks")
        .inherit(&["config", "dry-run", "kubeconfig"])
        .run(post_upgrade)
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
            kubelet_config_phase(),
            Phase::new(
                "bootstrap-token",
                "Configures bootstrap token and cluster-info RBAC rules",
            )
            .inherit(CFG)
            .run(bootstrap_token),
            addon_phase(addon_coredns, addon_kube_proxy),
            post_upgrade_phase(),
        ],
    )
    .under(&["upgrade"])
}

/// The `upgrade node` phases, in upstream's order.
pub fn node_workflow() -> Workflow<UpgradeData> {
    Workflow::new(
        "node",
        vec![
            Phase::new("preflight", "Run upgrade node pre-flight checks")
                .inherit(&["config", "dry-run", "ignore-preflight-errors", "kubeconfig"])
                .run(node_preflight),
            Phase::new(
                "control-plane",
                "Upgrade the control plane instance deployed on this node, if any",
            )
            .inherit(&[
                "certificate-renewal",
                "config",
                "dry-run",
                "etcd-upgrade",
                "kubeconfig",
                "patches",
            ])
            .run(node_control_plane),
            kubelet_config_phase(),
            addon_phase(node_addon_coredns, node_addon_kube_proxy),
            post_upgrade_phase(),
        ],
    )
    .under(&["upgrade"])
}

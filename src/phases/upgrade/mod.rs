//! `kubeadm upgrade apply` and `kubeadm upgrade node`: the control plane moved to a new
//! version one component at a time, each change verified through the kubelet's mirror Pod
//! and the component's health, and undone byte for byte when it does not come up.
//!
//! What both commands share is here (their options, and the data their phases read: the
//! cluster's configuration at the target version, the clients, the backups' time stamp);
//! apply's own phases are in `apply`, node's in `node`, the control-plane upgrade both run
//! in `controlplane`, and the kubelet-config, addon and post-upgrade phases both list in
//! `common`.

mod apply;
mod common;
mod controlplane;
mod node;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

pub use apply::workflow;
pub use node::node_workflow;

use crate::client::{Api, KubeClient};
use crate::config::InitConfiguration;
use crate::host::Host;
use crate::manifests::MANIFESTS_DIR;
use crate::phases::kubeconfig::KUBERNETES_DIR;
use crate::upgrade::semver::KubeVersion;

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
    /// The UpgradeConfiguration's `imagePullSerial` (true unless it says false).
    pub image_pull_serial: bool,
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
                self.image_pull_serial = a.image_pull_serial.unwrap_or(true);
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
                self.image_pull_serial = n.image_pull_serial.unwrap_or(true);
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
        let upgrade = crate::config::load_optional_file_for(
            host.as_ref(),
            opts.config.as_deref(),
            crate::config::documents::Reader::Upgrade,
        )?
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
                crate::phases::api::read_kubeadm_config(client.as_ref())?
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
        let mut docs = crate::phases::api::read_kubeadm_config(client.as_ref())?;
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

//! The `kubeadm reset` workflow: undo what `init` or `join` did on this node.
//!
//! As upstream, a failing step does not stop the reset: each failure is reported as it
//! happens, the remaining steps still run, and the command fails at the end when any step
//! did.
//!
//! Here: what the phases share (the options, and what the node and the cluster say about
//! this node's certificates and etcd), the preflight phase and the workflow; the
//! remove-etcd-member and cleanup-node phases have a file each, as upstream's.

mod cleanupnode;
mod removeetcdmember;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use cleanupnode::cleanup_node;
use removeetcdmember::remove_etcd_member;

use crate::config::v1beta4::ResetConfiguration;
use crate::host::Host;
use crate::manifests::MANIFESTS_DIR;
use crate::phases::kubeconfig::KUBERNETES_DIR;
use crate::workflow::{Phase, Workflow};

impl crate::workflow::WorkflowData for ResetData {
    fn skip_phases(&self) -> Vec<String> {
        if self.opts.skip_phases.is_empty() {
            self.config.skip_phases.clone()
        } else {
            self.opts.skip_phases.clone()
        }
    }

    fn notes(&self) -> Vec<String> {
        if !self.cleaned_node {
            return Vec::new();
        }
        // What upstream leaves to the user, with the commands that do it.
        [
            "",
            "The reset process does not perform cleanup of CNI plugin configuration,",
            "network filtering rules and kubeconfig files. To do so by hand:",
            "",
            "    rm -rf /etc/cni/net.d                      # CNI configuration",
            "    iptables -F && iptables -t nat -F && iptables -t mangle -F && iptables -X",
            "    nft flush ruleset                          # if the node's proxy used nftables",
            "    ipvsadm --clear                            # if the cluster used IPVS",
            "    rm -f $HOME/.kube/config                   # your kubeconfig",
            "",
            "For more information, see https://k8s.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn finish(&self) -> anyhow::Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "the reset finished with {} step(s) failed; everything else was done:\n  - {}",
            self.failures.len(),
            self.failures.join("\n  - ")
        )
    }
}

/// Where what the reset needs to know came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// The cluster's `kubeadm-config` ConfigMap.
    Cluster,
    /// This node's static Pod manifests.
    LocalManifests,
    /// Neither: upstream's defaults (a worker, or a node already reset).
    Defaults,
}

/// This node's etcd, as the reset sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEtcd {
    /// A stacked member: its static Pod's data directory and the URLs it advertised.
    Local {
        /// The data directory (`etcd-data` volume of the manifest, or `etcd.local.dataDir`).
        data_dir: PathBuf,
        /// `--initial-advertise-peer-urls`, how the member is known to the cluster.
        peer_url: Option<String>,
        /// `--advertise-client-urls`.
        client_url: Option<String>,
    },
    /// External etcd: not kubeadm's to touch.
    External,
    /// No etcd on this node (a worker, or nothing left of one).
    None,
}

/// What `kubeadm reset` was asked on its command line, as plain values. The command line
/// fills it from its flags; anything else that drives the workflow builds one directly.
/// `None`, `false` and empty mean "not given", so that the ResetConfiguration decides.
#[derive(Debug, Clone, Default)]
pub struct ResetOptions {
    /// `--cert-dir`: the certificate directory to clean.
    pub cert_dir: Option<PathBuf>,
    /// `--cleanup-tmp-dir`.
    pub cleanup_tmp_dir: bool,
    /// `--config`: a file holding a ResetConfiguration.
    pub config: Option<PathBuf>,
    /// `--cri-socket`: the container runtime whose pod sandboxes go.
    pub cri_socket: Option<String>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--force`: reset without asking.
    pub force: bool,
    /// `--ignore-preflight-errors`.
    pub ignore_preflight_errors: Vec<String>,
    /// `--kubeconfig`: how to reach the cluster to read its configuration.
    pub kubeconfig: Option<PathBuf>,
    /// `--skip-phases`: when empty, the configuration's `skipPhases` apply.
    pub skip_phases: Vec<String>,
}

/// What the reset phases share.
pub struct ResetData {
    /// What the command line asked.
    pub opts: ResetOptions,
    /// The machine (or the dry-run recorder).
    pub host: Arc<dyn Host>,
    /// The ResetConfiguration with the flags applied over it.
    pub config: ResetConfiguration,
    /// Where the certificates are.
    pub certificates_dir: PathBuf,
    /// This node's etcd.
    pub etcd: NodeEtcd,
    /// Where the above came from.
    pub source: ConfigSource,
    /// The cluster's etcd client URLs (from the etcd Pods), when the cluster answered.
    pub cluster_etcd_endpoints: Vec<String>,
    failures: Vec<String>,
    cleaned_node: bool,
    source_note: String,
}

impl ResetData {
    /// Builds the data from the options, `--config` and what the node and the cluster say.
    pub fn new(opts: ResetOptions, host: Arc<dyn Host>) -> anyhow::Result<Self> {
        let mut config = match crate::config::load_optional_file_for(
            host.as_ref(),
            opts.config.as_deref(),
            crate::config::documents::Reader::Reset,
        )? {
            Some(docs) => docs.reset.with_context(|| {
                format!(
                    "{}: no ResetConfiguration document (apiVersion: kubeadm.k8s.io/v1beta4, kind: ResetConfiguration)",
                    opts.config.as_deref().unwrap_or(Path::new("")).display()
                )
            })?,
            None => ResetConfiguration::default(),
        };
        crate::config::default_reset(&mut config);
        // Flags given on the command line win over the file, as upstream's
        // ValueFromFlagsOrConfig.
        if let Some(d) = &opts.cert_dir {
            config.certificates_dir = d.display().to_string();
        }
        config.cleanup_tmp_dir |= opts.cleanup_tmp_dir;
        if let Some(s) = &opts.cri_socket {
            config.cri_socket = s.clone();
        }
        config.dry_run |= opts.dry_run;
        config.force |= opts.force;
        if !opts.ignore_preflight_errors.is_empty() {
            config.ignore_preflight_errors = opts.ignore_preflight_errors.clone();
        }
        crate::config::validation::validate_reset(&config)?;
        let cert_dir_given = opts.cert_dir.is_some()
            || opts.config.is_some()
                && config.certificates_dir != crate::config::DEFAULT_CERTIFICATES_DIR;
        let mut data = ResetData {
            opts,
            host,
            certificates_dir: PathBuf::from(&config.certificates_dir),
            config,
            etcd: NodeEtcd::None,
            source: ConfigSource::Defaults,
            cluster_etcd_endpoints: Vec::new(),
            failures: Vec::new(),
            cleaned_node: false,
            source_note: String::new(),
        };
        data.discover(cert_dir_given);
        Ok(data)
    }

    /// Learns this node's certificate directory and etcd: from the cluster's
    /// `kubeadm-config` when the cluster answers, else from the local manifests.
    fn discover(&mut self, cert_dir_given: bool) {
        let manifests = Path::new(MANIFESTS_DIR);
        let local_etcd = read_local_etcd(self.host.as_ref(), manifests);
        let local_apiserver =
            read_manifest(self.host.as_ref(), &manifests.join("kube-apiserver.yaml"));
        match self.cluster_view() {
            Ok((cluster_cfg, endpoints)) => {
                self.source = ConfigSource::Cluster;
                self.cluster_etcd_endpoints = endpoints;
                if !cert_dir_given && !cluster_cfg.certificates_dir.is_empty() {
                    self.certificates_dir = PathBuf::from(&cluster_cfg.certificates_dir);
                }
                self.etcd = if cluster_cfg.etcd.external.is_some() {
                    NodeEtcd::External
                } else {
                    match local_etcd {
                        Some(e) => e,
                        // The cluster's etcd is stacked but this node has no member
                        // manifest (a worker, or cleaned already): only the data directory
                        // can be left.
                        None => match cluster_cfg.etcd.local.as_ref().map(|l| l.data_dir.clone()) {
                            Some(d) if !d.is_empty() && self.is_control_plane_node() => {
                                NodeEtcd::Local {
                                    data_dir: PathBuf::from(d),
                                    peer_url: None,
                                    client_url: None,
                                }
                            }
                            _ => NodeEtcd::None,
                        },
                    }
                };
                self.source_note = "[reset] Read the cluster's configuration from the \"kubeadm-config\" ConfigMap in the \"kube-system\" Namespace".into();
            }
            Err(e) => {
                let reason = format!("{e:#}");
                if local_etcd.is_some() || local_apiserver.is_some() {
                    self.source = ConfigSource::LocalManifests;
                    if let (false, Some(pod)) = (cert_dir_given, &local_apiserver) {
                        if let Some(dir) = command_flag(pod, "--client-ca-file")
                            .and_then(|f| Path::new(&f).parent().map(Path::to_path_buf))
                        {
                            self.certificates_dir = dir;
                        }
                    }
                    self.etcd = match (&local_etcd, &local_apiserver) {
                        (Some(e), _) => e.clone(),
                        (None, Some(pod)) if command_flag(pod, "--etcd-servers").is_some() => {
                            NodeEtcd::External
                        }
                        _ => NodeEtcd::None,
                    };
                    self.source_note = format!("[reset] Could not read the \"kubeadm-config\" ConfigMap ({reason}); using this node's static Pod manifests in {MANIFESTS_DIR}");
                } else {
                    self.source = ConfigSource::Defaults;
                    self.source_note = format!("[reset] Could not read the \"kubeadm-config\" ConfigMap ({reason}) and this node has no control-plane manifests; using the defaults");
                }
            }
        }
    }

    fn is_control_plane_node(&self) -> bool {
        matches!(
            self.host
                .exists(&Path::new(MANIFESTS_DIR).join("kube-apiserver.yaml")),
            Ok(true)
        )
    }

    /// The cluster's ClusterConfiguration and etcd endpoints, through `--kubeconfig`.
    fn cluster_view(
        &self,
    ) -> anyhow::Result<(crate::config::v1beta4::ClusterConfiguration, Vec<String>)> {
        let path = self
            .opts
            .kubeconfig
            .clone()
            .unwrap_or_else(|| Path::new(KUBERNETES_DIR).join("admin.conf"));
        if !self.host.exists(&path)? {
            anyhow::bail!("{} does not exist", path.display());
        }
        let client = crate::client::KubeClient::from_kubeconfig(self.host.as_ref(), &path)?;
        let api: &dyn crate::client::Api = &client;
        let cluster = crate::phases::api::read_kubeadm_config(api)?
            .cluster
            .context("the ConfigMap's ClusterConfiguration is empty")?;
        let endpoints = crate::etcd::cluster_endpoints(api).unwrap_or_default();
        Ok((cluster, endpoints))
    }

    fn fail(&mut self, what: String) {
        eprintln!("[reset] ERROR: {what}");
        self.failures.push(what);
    }
}

fn read_manifest(host: &dyn Host, path: &Path) -> Option<k8s_openapi::api::core::v1::Pod> {
    let text = host.read_to_string(path).ok()?;
    crate::manifests::from_yaml(path, &text).ok()
}

/// The value of `--flag=value` in the first container's command.
fn command_flag(pod: &k8s_openapi::api::core::v1::Pod, flag: &str) -> Option<String> {
    let prefix = format!("{flag}=");
    pod.spec
        .as_ref()?
        .containers
        .first()?
        .command
        .as_ref()?
        .iter()
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
}

/// This node's stacked etcd member, from its static Pod: the data directory is the
/// `etcd-data` hostPath volume, as upstream's `getEtcdDataDir`.
fn read_local_etcd(host: &dyn Host, manifests: &Path) -> Option<NodeEtcd> {
    let pod = read_manifest(host, &manifests.join("etcd.yaml"))?;
    let volume_dir = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.name == "etcd-data")
                .and_then(|v| v.host_path.as_ref())
                .map(|h| PathBuf::from(&h.path))
        });
    let data_dir = volume_dir
        .or_else(|| command_flag(&pod, "--data-dir").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_ETCD_DATA_DIR));
    let first = |s: String| s.split(',').next().unwrap_or_default().to_string();
    Some(NodeEtcd::Local {
        data_dir,
        peer_url: command_flag(&pod, "--initial-advertise-peer-urls").map(first),
        client_url: command_flag(&pod, "--advertise-client-urls").map(first),
    })
}

/// Removes everything in a directory but the directory itself (upstream's `CleanDir`);
/// a missing directory is nothing to do.
fn clean_dir(host: &dyn Host, dir: &Path) -> anyhow::Result<()> {
    let names = match host.read_dir(dir) {
        Ok(n) => n,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for name in names {
        let path = dir.join(name);
        match host.metadata(&path)? {
            Some(m) if m.is_dir && !is_symlink(host, &path) => host.remove_dir_all(&path)?,
            Some(_) => host.remove_file(&path)?,
            None => {
                // A dangling symbolic link: metadata follows it and finds nothing.
                host.remove_file(&path)?
            }
        }
    }
    Ok(())
}

fn is_symlink(host: &dyn Host, path: &Path) -> bool {
    host.is_symlink(path).unwrap_or(false)
}

fn is_empty_dir(host: &dyn Host, dir: &Path) -> bool {
    host.read_dir(dir).map(|n| n.is_empty()).unwrap_or(true)
}

/// Asks before reverting what init or join did, as upstream does without `--force`.
fn confirm(input: &mut dyn std::io::BufRead) -> anyhow::Result<bool> {
    use std::io::Write;
    println!("[reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm join' will be reverted.");
    print!("[reset] Are you sure you want to proceed? [y/N]: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    input.read_line(&mut line)?;
    Ok(line.trim().eq_ignore_ascii_case("y"))
}

/// `preflight`: the confirmation, the root check, and where the configuration came from.
fn preflight(d: &mut ResetData) -> anyhow::Result<()> {
    if !d.config.force {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("aborted reset operation: it asks for confirmation and standard input is not a terminal; pass --force (-f), or set force: true in the ResetConfiguration, to reset without asking");
        }
        if !confirm(&mut std::io::stdin().lock())? {
            anyhow::bail!(
                "aborted reset operation (answer \"y\", or pass --force to reset without asking)"
            );
        }
    }
    println!("[preflight] Running pre-flight checks");
    let ignored = crate::preflight::Ignored::new(&d.config.ignore_preflight_errors)?;
    let mut notes = Vec::new();
    crate::phases::preflight::run_checks(
        d.host.as_ref(),
        &[crate::preflight::Check::IsPrivilegedUser],
        &ignored,
        d.config.dry_run,
        &mut notes,
    )?;
    println!("{}", d.source_note);
    Ok(())
}

/// The reset phases, in upstream's order.
pub fn workflow() -> Workflow<ResetData> {
    Workflow::new(
        "reset",
        vec![
            Phase::new("preflight", "Run reset pre-flight checks")
                .long("Run pre-flight checks for kubeadm reset.")
                .inherit(&[
                    "config",
                    "dry-run",
                    "force",
                    "ignore-preflight-errors",
                    "kubeconfig",
                ])
                .run(preflight),
            Phase::new("remove-etcd-member", "Remove a local etcd member.")
                .long("Remove a local etcd member for a control plane node.")
                .inherit(&["config", "dry-run", "kubeconfig", "cert-dir"])
                .run(remove_etcd_member),
            Phase::new("cleanup-node", "Run cleanup node.")
                .aliases(&["cleanupnode"])
                .inherit(&[
                    "config",
                    "cert-dir",
                    "cleanup-tmp-dir",
                    "cri-socket",
                    "dry-run",
                    "kubeconfig",
                ])
                .run(cleanup_node),
        ],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_yes_confirms() {
        assert!(super::confirm(&mut "y\n".as_bytes()).unwrap());
        assert!(super::confirm(&mut "Y\n".as_bytes()).unwrap());
        assert!(!super::confirm(&mut "yes please\n".as_bytes()).unwrap());
        assert!(!super::confirm(&mut "".as_bytes()).unwrap());
    }
}

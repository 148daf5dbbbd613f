//! `cluster.yaml`: the hosts of a cluster and the kubeadm configuration they share, as
//! one versioned document (`kubeadm-rs.io/v1alpha1`, kind `Cluster`). Decoding is strict;
//! every error names the file, the line and the field path, and says what would be right.

use std::path::{Path, PathBuf};

use kubeadm::config::documents::{self, Documents};
use serde::Deserialize;

mod fields;

pub use fields::check_path;
use fields::{at_line, excerpt, Fields};

/// The only version of the file this release reads.
pub const API_VERSION: &str = "kubeadm-rs.io/v1alpha1";
/// The document's kind.
pub const KIND: &str = "Cluster";
/// Where the kubeadm binary is installed on the hosts unless the file says otherwise.
pub const DEFAULT_KUBEADM_PATH: &str = "/usr/local/bin/kubeadm";
/// How long a drain waits for refused evictions unless the file says otherwise.
pub const DEFAULT_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
/// How many workers join at once unless the file says otherwise.
pub const DEFAULT_PARALLEL_JOINS: usize = 8;
/// The most workers joining at once: each holds an ssh process and three pipes here,
/// which must stay well inside the usual limit of 1024 open files.
pub const MAX_PARALLEL_JOINS: usize = 128;
/// The most hosts a file lists: Kubernetes supports clusters of up to 5000 nodes.
pub const MAX_HOSTS: usize = 5000;
/// How many workers a rolling upgrade takes down at once unless the file says otherwise.
pub const DEFAULT_MAX_UNAVAILABLE: usize = 1;
/// How long an upgraded node's kubelet has to come back Ready at the new version unless
/// the file says otherwise.
pub const DEFAULT_NODE_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
/// The longest hook command the file may give (it travels as one argument of `sh -c`).
pub const MAX_HOOK_LEN: usize = 64 * 1024;

/// Shell commands the file gives for steps only the hosts' owner knows how to do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Hooks {
    /// Run on each node of a rolling upgrade after its `kubeadm upgrade` and before its
    /// kubelet restarts (for example the package manager installing the matching
    /// kubelet), with `KUBERNETES_VERSION` and `NODE_NAME` in its environment.
    #[serde(default)]
    pub kubelet_upgrade: Option<String>,
}

/// A host's part in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Runs the control plane (and a member of the stacked etcd).
    ControlPlane,
    /// Runs workloads only.
    Worker,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "worker",
        })
    }
}

/// A kubelet flag, as kubeadm's v1beta4 `kubeletExtraArgs` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arg {
    /// The flag's name, without dashes.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// One machine of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Host {
    /// Where SSH reaches it: a DNS name, an IPv4 address or an IPv6 address (given
    /// with or without brackets, kept without).
    pub address: String,
    /// SSH's port (22).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The user SSH logs in as (root); kubeadm runs as that user, or, for any other (a
    /// cloud image's `admin`, `ubuntu`, `ec2-user`), through `sudo -n`, which needs sudo
    /// without a password for that user.
    #[serde(default = "default_user")]
    pub user: String,
    /// The private key SSH offers; without it, the SSH agent and the user's SSH
    /// configuration decide.
    #[serde(default)]
    pub identity_file: Option<PathBuf>,
    /// The Node's name, when not the host's own name.
    #[serde(default)]
    pub node_name: Option<String>,
    /// The address this host's API server advertises (control planes), when not its SSH
    /// address.
    #[serde(default)]
    pub advertise_address: Option<String>,
    /// `control-plane` or `worker`.
    pub role: Role,
    /// Flags added to this host's kubelet.
    #[serde(default)]
    pub kubelet_extra_args: Vec<Arg>,
    /// Take the host out of the cluster: cordon, drain, `kubeadm reset -f`, delete its
    /// Node.
    #[serde(default)]
    pub remove: bool,
}

fn default_port() -> u16 {
    22
}

fn default_user() -> String {
    "root".into()
}

/// The document as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Wire {
    api_version: String,
    kind: String,
    hosts: Vec<Host>,
    #[serde(default)]
    control_plane_endpoint: Option<String>,
    #[serde(default)]
    kubeadm: Option<String>,
    #[serde(default)]
    kubeadm_path: Option<String>,
    #[serde(default)]
    known_hosts_file: Option<PathBuf>,
    #[serde(default)]
    parallel_joins: Option<usize>,
    #[serde(default)]
    manifests: Vec<String>,
    #[serde(default)]
    drain_timeout: Option<String>,
    #[serde(default)]
    max_unavailable: Option<usize>,
    #[serde(default)]
    node_ready_timeout: Option<String>,
    #[serde(default)]
    hooks: Hooks,
}

/// An entry of `manifests:`: a YAML (or JSON) file, or a directory of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// As the file gives it.
    pub given: String,
    /// Where it is: relative paths are taken from the cluster file's directory.
    pub path: PathBuf,
    /// Its line in the cluster file.
    pub line: Option<usize>,
}

/// A cluster file, checked.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The file as the user named it.
    pub file: String,
    /// Every host, in the file's order (the first control plane initialises the cluster;
    /// the others join in this order and are reset in the reverse one).
    pub hosts: Vec<Host>,
    /// The stable address of the API servers (`host:port`), required with more than one
    /// control plane.
    pub control_plane_endpoint: Option<String>,
    /// The kubeadm configuration the hosts share (ClusterConfiguration and optional
    /// Init, Join, Reset, Kubelet and KubeProxy documents), parsed as kubeadm parses it.
    pub kubeadm: Documents,
    /// Where kubeadm is installed on the hosts.
    pub kubeadm_path: String,
    /// The `known_hosts` file host keys are checked against (SSH's own when not given).
    pub known_hosts_file: Option<PathBuf>,
    /// How many workers join at once.
    pub parallel_joins: usize,
    /// The add-on manifests applied once the first control plane is up, and on every
    /// apply.
    pub manifests: Vec<Manifest>,
    /// How long a node's drain may wait for evictions PodDisruptionBudgets refuse.
    pub drain_timeout: std::time::Duration,
    /// How many workers a rolling upgrade takes down at once.
    pub max_unavailable: usize,
    /// How long an upgraded node has to report Ready with the new kubelet version.
    pub node_ready_timeout: std::time::Duration,
    /// The file's hook commands.
    pub hooks: Hooks,
}

/// A cluster file that cannot be used: where and why.
#[derive(Debug)]
pub struct SpecError {
    /// The file, as the user named it.
    pub file: String,
    /// The line of the problem, when known.
    pub line: Option<usize>,
    /// What is wrong and what would be right.
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for SpecError {}

impl Cluster {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Cluster, SpecError> {
        use kubeadm::host::Host;
        let file = path.display().to_string();
        // kubeadm's own reading: a regular file only (a FIFO never blocks), bounded in size.
        let text = kubeadm::host::RealHost::new("/")
            .read_to_string(path)
            .map_err(|e| SpecError {
                file: file.clone(),
                line: None,
                message: format!("cannot read the cluster file: {}", e.cause_text()),
            })?;
        Self::parse(&text, &file)
    }

    /// Parses and checks a cluster file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Cluster, SpecError> {
        if let Some(line) = kubeadm::yaml::flow_depth_exceeded(text) {
            return Err(at_line(file, Some(line), kubeadm::yaml::too_deep()));
        }
        let at = Fields { text, file };
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let mut wire: Wire = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let line = kubeadm::config::locate::line_of(text, &path)
                .or_else(|| inner.location().map(|l| l.line()));
            let at = if path.is_empty() || path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            at_line(file, line, format!("{at}{}", plain(&inner.to_string())))
        })?;
        if wire.api_version != API_VERSION {
            return Err(at.field(
                "apiVersion",
                format!(
                    "{} is not a version of the cluster file this release reads; use {API_VERSION:?}",
                    excerpt(&wire.api_version)
                ),
            ));
        }
        if wire.kind != KIND {
            return Err(at.field(
                "kind",
                format!("{} is not known; use {KIND:?}", excerpt(&wire.kind)),
            ));
        }
        fields::check_hosts(&at, &mut wire.hosts)?;
        let control_planes = wire
            .hosts
            .iter()
            .filter(|h| h.role == Role::ControlPlane)
            .count();
        if control_planes == 0 {
            return Err(at.field(
                "hosts",
                "no host has role: control-plane; the first control plane creates the cluster",
            ));
        }
        let docs = embedded(&at, wire.kubeadm.as_deref().unwrap_or_default())?;
        let control_plane_endpoint = fields::control_plane_endpoint(
            &at,
            wire.control_plane_endpoint.as_deref(),
            &docs,
            control_planes,
        )?;
        let parallel_joins = fields::parallel_joins(&at, wire.parallel_joins)?;
        let kubeadm_path = fields::kubeadm_path(&at, wire.kubeadm_path)?;
        if let Some(f) = &wire.known_hosts_file {
            // ssh reads UserKnownHostsFile as a list of files separated by spaces.
            check_path(f, true).map_err(|why| at.field("knownHostsFile", why))?;
        }
        let manifests = fields::manifests(&at, wire.manifests)?;
        let drain_timeout = fields::drain_timeout(&at, wire.drain_timeout.as_deref())?;
        let max_unavailable = fields::max_unavailable(&at, wire.max_unavailable)?;
        let node_ready_timeout =
            fields::node_ready_timeout(&at, wire.node_ready_timeout.as_deref())?;
        fields::hooks(&at, &wire.hooks)?;
        Ok(Cluster {
            file: file.to_string(),
            hosts: wire.hosts,
            control_plane_endpoint,
            kubeadm: docs,
            kubeadm_path,
            known_hosts_file: wire.known_hosts_file,
            parallel_joins,
            manifests,
            drain_timeout,
            max_unavailable,
            node_ready_timeout,
            hooks: wire.hooks,
        })
    }

    /// The control planes in join order (the first one creates the cluster).
    pub fn control_planes(&self) -> impl Iterator<Item = (usize, &Host)> {
        self.hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| h.role == Role::ControlPlane)
    }
}

/// The embedded kubeadm configuration, parsed as kubeadm parses a --config file; its
/// errors point at lines of the cluster file.
fn embedded(at: &Fields<'_>, kubeadm_text: &str) -> Result<Documents, SpecError> {
    if kubeadm_text.trim().is_empty() {
        return Ok(Documents::default());
    }
    let block_line = at.line("kubeadm").unwrap_or(1);
    // Strict, as the rest of the cluster file: a mistyped field would otherwise reach
    // every host's kubeadm as a warning only.
    let docs = documents::parse_with(kubeadm_text, at.file, documents::Strictness::Strict)
        .map_err(|e| {
            at_line(
                at.file,
                Some(block_line + e.line),
                format!("kubeadm (the embedded configuration): {}", e.message),
            )
        })?;
    // The API server's port is part of the join endpoint kubeadm-cluster writes.
    if let Some(init) = &docs.init {
        let port = init.local_api_endpoint.bind_port;
        if !(0..=65535).contains(&port) {
            return Err(at_line(
                at.file,
                kubeadm::config::locate::line_of(kubeadm_text, "localAPIEndpoint.bindPort")
                    .map(|l| block_line + l),
                format!(
                    "kubeadm (the embedded configuration): InitConfiguration localAPIEndpoint.bindPort: {port} is not a port; give 1 to 65535 (6443 by default)"
                ),
            ));
        }
    }
    Ok(docs)
}

/// serde's message without the location and path it may carry (we give both).
fn plain(msg: &str) -> String {
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    match msg.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => rest.to_string(),
        _ => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: kubeadm-rs.io/v1alpha1
kind: Cluster
hosts:
- address: 10.0.0.10
  port: 22
  user: root
  identityFile: /root/.ssh/id_ed25519
  role: control-plane
- {address: 10.0.0.11, user: root, role: worker}
controlPlaneEndpoint: 10.0.0.10:6443
kubeadm: |
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: ClusterConfiguration
  kubernetesVersion: v1.37.1
";

    #[test]
    fn the_example_of_the_documentation_parses() {
        let c = Cluster::parse(GOOD, "cluster.yaml").unwrap();
        assert_eq!(c.hosts.len(), 2);
        assert_eq!(c.hosts[1].port, 22);
        assert_eq!(c.hosts[1].role, Role::Worker);
        assert_eq!(c.control_plane_endpoint.as_deref(), Some("10.0.0.10:6443"));
        assert_eq!(
            c.kubeadm.cluster.as_ref().unwrap().kubernetes_version,
            "v1.37.1"
        );
        assert_eq!(c.kubeadm_path, DEFAULT_KUBEADM_PATH);
        assert_eq!(c.parallel_joins, DEFAULT_PARALLEL_JOINS);
    }

    fn error(text: &str) -> String {
        Cluster::parse(text, "cluster.yaml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn an_unknown_field_names_its_path_and_line() {
        let e = error(&GOOD.replace("  port: 22\n", "  prot: 22\n"));
        assert!(
            e.starts_with("cluster.yaml:5: hosts[0].prot: unknown field"),
            "{e}"
        );
        assert!(e.contains("unknown field `prot`"), "{e}");
    }

    #[test]
    fn a_wrong_role_says_which_are_right() {
        let e = error(&GOOD.replace("role: worker", "role: master"));
        assert!(e.starts_with("cluster.yaml:9: hosts[1].role"), "{e}");
        assert!(
            e.contains("`control-plane`") && e.contains("`worker`"),
            "{e}"
        );
    }

    #[test]
    fn version_kind_and_hosts_are_checked() {
        let e = error(&GOOD.replace("kubeadm-rs.io/v1alpha1", "kubeadm-rs.io/v1"));
        assert!(e.starts_with("cluster.yaml:1: apiVersion"), "{e}");
        let e = error(&GOOD.replace("kind: Cluster", "kind: Clusters"));
        assert!(e.starts_with("cluster.yaml:2: kind"), "{e}");
        let e = error(&GOOD.replace("role: control-plane", "role: worker"));
        assert!(e.contains("no host has role: control-plane"), "{e}");
        let e = error(&GOOD.replace("10.0.0.11", "10.0.0.10"));
        assert!(
            e.contains("hosts[1].address") && e.contains("already hosts[0]"),
            "{e}"
        );
        let e = error(&GOOD.replace("role: worker}", "role: worker, nodeName: Bad_Name}"));
        assert!(e.starts_with("cluster.yaml:9: hosts[1].nodeName"), "{e}");
    }

    #[test]
    fn two_control_planes_need_an_endpoint() {
        let two = GOOD
            .replace("role: worker", "role: control-plane")
            .replace("controlPlaneEndpoint: 10.0.0.10:6443\n", "");
        let e = error(&two);
        assert!(e.contains("controlPlaneEndpoint: required with 2"), "{e}");
        // Given in the ClusterConfiguration instead, it counts.
        let in_kubeadm = format!("{two}  controlPlaneEndpoint: lb.example:6443\n");
        let c = Cluster::parse(&in_kubeadm, "cluster.yaml").unwrap();
        assert_eq!(c.control_plane_endpoint.as_deref(), Some("lb.example:6443"));
        // Both, differing: refused.
        let both = format!("{GOOD}  controlPlaneEndpoint: lb.example:6443\n");
        assert!(error(&both).contains("differs from the ClusterConfiguration's"));
    }

    #[test]
    fn manifests_are_taken_from_the_cluster_files_directory() {
        let with = format!("{GOOD}manifests:\n- addons/\n- /srv/cni.yaml\n");
        let c = Cluster::parse(&with, "/etc/clusters/prod.yaml").unwrap();
        let paths: Vec<_> = c.manifests.iter().map(|m| m.path.clone()).collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("/etc/clusters/addons/"),
                PathBuf::from("/srv/cni.yaml")
            ]
        );
        assert_eq!(c.manifests[0].line, Some(16));
        assert!(Cluster::parse(GOOD, "c.yaml").unwrap().manifests.is_empty());
        let e = error(&format!("{GOOD}manifests:\n- \"\"\n"));
        assert!(e.starts_with("cluster.yaml:16: manifests[0]: empty"), "{e}");
    }

    #[test]
    fn remove_and_drain_timeout_have_defaults_and_are_checked() {
        let c = Cluster::parse(GOOD, "c.yaml").unwrap();
        assert_eq!(c.drain_timeout, DEFAULT_DRAIN_TIMEOUT);
        assert!(!c.hosts[1].remove);
        let with = format!(
            "{}drainTimeout: 90s\n",
            GOOD.replace("role: worker}", "role: worker, remove: true}")
        );
        let c = Cluster::parse(&with, "c.yaml").unwrap();
        assert!(c.hosts[1].remove);
        assert_eq!(c.drain_timeout, std::time::Duration::from_secs(90));
        for bad in ["5 minutes", "0s", "-1m"] {
            let e = error(&format!("{GOOD}drainTimeout: {bad}\n"));
            assert!(e.starts_with("cluster.yaml:15: drainTimeout: "), "{e}");
            assert!(e.contains("90s, 5m or 1h30m"), "{e}");
        }
        let e = error(&GOOD.replace("role: worker}", "role: worker, remove: yes-please}"));
        assert!(e.starts_with("cluster.yaml:9: hosts[1].remove"), "{e}");
    }

    #[test]
    fn the_embedded_configuration_errors_point_into_this_file() {
        let e = error(&GOOD.replace("kubernetesVersion: v1.37.1", "kubernetesVersoin: v1.37.1"));
        assert!(e.starts_with("cluster.yaml:14: kubeadm"), "{e}");
        assert!(e.contains("kubernetesVersoin"), "{e}");
    }
}

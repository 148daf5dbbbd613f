//! `cluster.yaml`: the hosts of a cluster and the kubeadm configuration they share, as
//! one versioned document (`kubeadm-rs.io/v1alpha1`, kind `Cluster`). Decoding is strict;
//! every error names the file, the line and the field path, and says what would be right.

use std::path::{Path, PathBuf};

use kubeadm::config::documents::{self, Documents};
use serde::Deserialize;

/// The only version of the file this release reads.
pub const API_VERSION: &str = "kubeadm-rs.io/v1alpha1";
/// The document's kind.
pub const KIND: &str = "Cluster";
/// Where the kubeadm binary is installed on the hosts unless the file says otherwise.
pub const DEFAULT_KUBEADM_PATH: &str = "/usr/local/bin/kubeadm";
/// How many workers join at once unless the file says otherwise.
pub const DEFAULT_PARALLEL_JOINS: usize = 8;

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
    /// Where SSH reaches it: an IP address or a name.
    pub address: String,
    /// SSH's port (22).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The user SSH logs in as (root); kubeadm runs as that user, or through `sudo` for
    /// any other.
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
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            file: file.clone(),
            line: None,
            message: format!("cannot read the cluster file: {e}"),
        })?;
        Self::parse(&text, &file)
    }

    /// Parses and checks a cluster file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Cluster, SpecError> {
        let err = |line: Option<usize>, message: String| SpecError {
            file: file.to_string(),
            line,
            message,
        };
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let wire: Wire = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let line = kubeadm::config::locate::line_of(text, &path)
                .or_else(|| inner.location().map(|l| l.line()));
            let at = if path.is_empty() || path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            err(line, format!("{at}{}", plain(&inner.to_string())))
        })?;
        let line_of = |path: &str| kubeadm::config::locate::line_of(text, path);
        if wire.api_version != API_VERSION {
            return Err(err(
                line_of("apiVersion"),
                format!(
                    "apiVersion: {:?} is not a version of the cluster file this release reads; use {API_VERSION:?}",
                    wire.api_version
                ),
            ));
        }
        if wire.kind != KIND {
            return Err(err(
                line_of("kind"),
                format!("kind: {:?} is not known; use {KIND:?}", wire.kind),
            ));
        }
        if wire.hosts.is_empty() {
            return Err(err(
                line_of("hosts"),
                "hosts: the cluster has no hosts; list at least one with role: control-plane"
                    .into(),
            ));
        }
        for (i, h) in wire.hosts.iter().enumerate() {
            let at = |field: &str| line_of(&format!("hosts[{i}].{field}"));
            if h.address.trim().is_empty() || h.address.contains(char::is_whitespace) {
                return Err(err(
                    at("address"),
                    format!(
                        "hosts[{i}].address: {:?} is not an address; give the IP address or name SSH reaches the host at",
                        h.address
                    ),
                ));
            }
            if h.user.is_empty() {
                return Err(err(
                    at("user"),
                    format!("hosts[{i}].user: empty; give the user SSH logs in as (root)"),
                ));
            }
            if let Some(n) = &h.node_name {
                if !is_dns_subdomain(n) {
                    return Err(err(
                        at("nodeName"),
                        format!(
                            "hosts[{i}].nodeName: {n:?} is not a valid Node name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters"
                        ),
                    ));
                }
            }
            for (j, a) in h.kubelet_extra_args.iter().enumerate() {
                if a.name.is_empty() || a.name.starts_with('-') {
                    return Err(err(
                        at(&format!("kubeletExtraArgs[{j}].name")),
                        format!(
                            "hosts[{i}].kubeletExtraArgs[{j}].name: {:?}: give the flag's name without dashes (for example node-labels)",
                            a.name
                        ),
                    ));
                }
            }
            for (k, other) in wire.hosts.iter().enumerate().take(i) {
                if other.address == h.address && other.port == h.port {
                    return Err(err(
                        at("address"),
                        format!(
                            "hosts[{i}].address: {}:{} is already hosts[{k}]; each host is listed once",
                            h.address, h.port
                        ),
                    ));
                }
                if h.node_name.is_some() && other.node_name == h.node_name {
                    return Err(err(
                        at("nodeName"),
                        format!(
                            "hosts[{i}].nodeName: {:?} is already the name of hosts[{k}]; Node names are unique",
                            h.node_name.as_deref().unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        let control_planes = wire
            .hosts
            .iter()
            .filter(|h| h.role == Role::ControlPlane)
            .count();
        if control_planes == 0 {
            return Err(err(
                line_of("hosts"),
                "hosts: no host has role: control-plane; the first control plane creates the cluster".into(),
            ));
        }
        if let Some(ep) = &wire.control_plane_endpoint {
            let (h, _) = kubeadm::config::split_host_port(ep);
            if h.is_empty() || ep.contains(char::is_whitespace) {
                return Err(err(
                    line_of("controlPlaneEndpoint"),
                    format!("controlPlaneEndpoint: {ep:?} is not host[:port]"),
                ));
            }
        }
        // The embedded kubeadm configuration, parsed as kubeadm parses a --config file;
        // its errors point at lines of this file.
        let kubeadm_text = wire.kubeadm.clone().unwrap_or_default();
        let block_line = line_of("kubeadm").unwrap_or(1);
        let mut docs = if kubeadm_text.trim().is_empty() {
            Documents::default()
        } else {
            documents::parse(&kubeadm_text, file).map_err(|e| {
                err(
                    Some(block_line + e.line),
                    format!("kubeadm (the embedded configuration): {}", e.message),
                )
            })?
        };
        let cpe_in_kubeadm = docs
            .cluster
            .as_ref()
            .map(|c| c.control_plane_endpoint.clone())
            .filter(|c| !c.is_empty());
        let control_plane_endpoint = match (&wire.control_plane_endpoint, cpe_in_kubeadm) {
            (Some(a), Some(b)) if *a != b => {
                return Err(err(
                    line_of("controlPlaneEndpoint"),
                    format!(
                        "controlPlaneEndpoint: {a:?} differs from the ClusterConfiguration's controlPlaneEndpoint {b:?}; give it once"
                    ),
                ))
            }
            (Some(a), _) => Some(a.clone()),
            (None, b) => b,
        };
        if control_planes > 1 && control_plane_endpoint.is_none() {
            return Err(err(
                line_of("hosts"),
                format!(
                    "controlPlaneEndpoint: required with {control_planes} control planes: the nodes must reach the API servers at one stable address (a load balancer or a DNS name that follows them), set as controlPlaneEndpoint: host:port"
                ),
            ));
        }
        if docs.upgrade.is_some() {
            docs.warnings.push(format!(
                "{file}: the kubeadm configuration's UpgradeConfiguration is not used by kubeadm-cluster"
            ));
            docs.upgrade = None;
        }
        let parallel_joins = wire.parallel_joins.unwrap_or(DEFAULT_PARALLEL_JOINS);
        if parallel_joins == 0 {
            return Err(err(
                line_of("parallelJoins"),
                "parallelJoins: 0 would join no worker; give at least 1".into(),
            ));
        }
        let kubeadm_path = wire
            .kubeadm_path
            .unwrap_or_else(|| DEFAULT_KUBEADM_PATH.to_string());
        if !kubeadm_path.starts_with('/') || kubeadm_path.ends_with('/') {
            return Err(err(
                line_of("kubeadmPath"),
                format!(
                    "kubeadmPath: {kubeadm_path:?} is not an absolute file path (for example {DEFAULT_KUBEADM_PATH})"
                ),
            ));
        }
        Ok(Cluster {
            file: file.to_string(),
            hosts: wire.hosts,
            control_plane_endpoint,
            kubeadm: docs,
            kubeadm_path,
            known_hosts_file: wire.known_hosts_file,
            parallel_joins,
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

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
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
    fn the_embedded_configuration_errors_point_into_this_file() {
        let e = error(&GOOD.replace("kubernetesVersion: v1.37.1", "kubernetesVersoin: v1.37.1"));
        assert!(e.starts_with("cluster.yaml:14: kubeadm"), "{e}");
        assert!(e.contains("kubernetesVersoin"), "{e}");
    }
}

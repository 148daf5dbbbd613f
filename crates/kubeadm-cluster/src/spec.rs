//! `cluster.yaml`: the hosts of a cluster and the kubeadm configuration they share, as
//! one versioned document (`kubeadm-rs.io/v1alpha1`, kind `Cluster`). Decoding is strict;
//! every error names the file, the line and the field path, and says what would be right.

use std::path::{Path, PathBuf};

use kubeadm::config::documents::{self, Documents};
use serde::Deserialize;

use crate::address;

/// The only version of the file this release reads.
pub const API_VERSION: &str = "kubeadm-rs.io/v1alpha1";
/// The document's kind.
pub const KIND: &str = "Cluster";
/// Where the kubeadm binary is installed on the hosts unless the file says otherwise.
pub const DEFAULT_KUBEADM_PATH: &str = "/usr/local/bin/kubeadm";
/// How many workers join at once unless the file says otherwise.
pub const DEFAULT_PARALLEL_JOINS: usize = 8;
/// The most workers joining at once: each holds an ssh process and three pipes here,
/// which must stay well inside the usual limit of 1024 open files.
pub const MAX_PARALLEL_JOINS: usize = 128;
/// The most hosts a file lists: Kubernetes supports clusters of up to 5000 nodes.
pub const MAX_HOSTS: usize = 5000;

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
        check_hosts(&at, &mut wire.hosts)?;
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
        if let Some(ep) = &wire.control_plane_endpoint {
            check_endpoint(ep).map_err(|why| {
                at.field("controlPlaneEndpoint", format!("{} {why}", excerpt(ep)))
            })?;
        }
        let mut docs = embedded(&at, wire.kubeadm.as_deref().unwrap_or_default())?;
        let cpe_in_kubeadm = docs
            .cluster
            .as_ref()
            .map(|c| c.control_plane_endpoint.clone())
            .filter(|c| !c.is_empty());
        let control_plane_endpoint = match (&wire.control_plane_endpoint, cpe_in_kubeadm) {
            (Some(a), Some(b)) if *a != b => {
                return Err(at.field(
                    "controlPlaneEndpoint",
                    format!(
                        "{} differs from the ClusterConfiguration's controlPlaneEndpoint {}; give it once",
                        excerpt(a),
                        excerpt(&b)
                    ),
                ))
            }
            (Some(a), _) => Some(a.clone()),
            (None, Some(b)) => {
                check_endpoint(&b).map_err(|why| {
                    at.field(
                        "kubeadm",
                        format!("the ClusterConfiguration's controlPlaneEndpoint {} {why}", excerpt(&b)),
                    )
                })?;
                Some(b)
            }
            (None, None) => None,
        };
        if control_planes > 1 && control_plane_endpoint.is_none() {
            return Err(at_line(
                file,
                at.line("hosts"),
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
            return Err(at.field("parallelJoins", "0 would join no worker; give at least 1"));
        }
        if parallel_joins > MAX_PARALLEL_JOINS {
            return Err(at.field(
                "parallelJoins",
                format!(
                    "{parallel_joins} workers joining at once is more than kubeadm-cluster runs at once; give 1 to {MAX_PARALLEL_JOINS}"
                ),
            ));
        }
        let kubeadm_path = wire
            .kubeadm_path
            .unwrap_or_else(|| DEFAULT_KUBEADM_PATH.to_string());
        if !kubeadm_path.starts_with('/')
            || kubeadm_path.ends_with('/')
            || kubeadm_path.contains(char::is_control)
        {
            return Err(at.field(
                "kubeadmPath",
                format!(
                    "{} is not an absolute file path (for example {DEFAULT_KUBEADM_PATH})",
                    excerpt(&kubeadm_path)
                ),
            ));
        }
        if let Some(f) = &wire.known_hosts_file {
            // ssh reads UserKnownHostsFile as a list of files separated by spaces.
            check_path(f, true).map_err(|why| at.field("knownHostsFile", why))?;
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

/// Errors about fields of one cluster file, each with the field's line.
struct Fields<'a> {
    text: &'a str,
    file: &'a str,
}

impl Fields<'_> {
    /// The line of the field at `path`, when found.
    fn line(&self, path: &str) -> Option<usize> {
        kubeadm::config::locate::line_of(self.text, path)
    }

    /// `path: what`, at the field's line.
    fn field(&self, path: &str, what: impl std::fmt::Display) -> SpecError {
        at_line(self.file, self.line(path), format!("{path}: {what}"))
    }
}

fn at_line(file: &str, line: Option<usize>, message: String) -> SpecError {
    SpecError {
        file: file.to_string(),
        line,
        message,
    }
}

/// A value of the file, quoted for a message: escaped, and cut after 64 characters.
fn excerpt(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &value[..cut]),
        None => format!("{value:?}"),
    }
}

/// Checks every host, in the file's order; an IPv6 address given in brackets is kept
/// without them (the form ssh and kubeadm take).
fn check_hosts(at: &Fields<'_>, hosts: &mut [Host]) -> Result<(), SpecError> {
    if hosts.is_empty() {
        return Err(at.field(
            "hosts",
            "the cluster has no hosts; list at least one with role: control-plane",
        ));
    }
    if hosts.len() > MAX_HOSTS {
        return Err(at.field(
            "hosts",
            format!(
                "{} hosts; a Kubernetes cluster holds at most {MAX_HOSTS} nodes",
                hosts.len()
            ),
        ));
    }
    let mut seen_hosts = std::collections::HashMap::new();
    let mut seen_names = std::collections::HashMap::new();
    for (i, h) in hosts.iter_mut().enumerate() {
        let path = |field: &str| format!("hosts[{i}].{field}");
        h.address = address::host(&h.address)
            .map_err(|why| at.field(&path("address"), format!("{} {why}", excerpt(&h.address))))?;
        address::user(&h.user)
            .map_err(|why| at.field(&path("user"), format!("{} {why}", excerpt(&h.user))))?;
        if h.port == 0 {
            return Err(at.field(
                &path("port"),
                "0 is not a port; give SSH's port, 1 to 65535 (22 by default)",
            ));
        }
        if let Some(f) = &h.identity_file {
            check_path(f, false).map_err(|why| at.field(&path("identityFile"), why))?;
        }
        if let Some(n) = &h.node_name {
            if !is_dns_subdomain(n) {
                return Err(at.field(
                    &path("nodeName"),
                    format!(
                        "{} is not a valid Node name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters",
                        excerpt(n)
                    ),
                ));
            }
        }
        if let Some(a) = &h.advertise_address {
            if a.parse::<std::net::IpAddr>().is_err() {
                return Err(at.field(
                    &path("advertiseAddress"),
                    format!(
                        "{} is not an IP address; give the IPv4 or IPv6 address this host's API server advertises (for example 10.0.0.10)",
                        excerpt(a)
                    ),
                ));
            }
        }
        for (j, a) in h.kubelet_extra_args.iter().enumerate() {
            if a.name.is_empty()
                || a.name.starts_with('-')
                || a.name
                    .contains(|c: char| c == '=' || c.is_whitespace() || c.is_control())
            {
                return Err(at.field(
                    &path(&format!("kubeletExtraArgs[{j}].name")),
                    format!(
                        "{}: give the flag's name without dashes (for example node-labels)",
                        excerpt(&a.name)
                    ),
                ));
            }
            if a.value.contains(char::is_control) {
                return Err(at.field(
                    &path(&format!("kubeletExtraArgs[{j}].value")),
                    format!(
                        "{} holds a control character; a kubelet flag's value is one line of text",
                        excerpt(&a.value)
                    ),
                ));
            }
        }
        if let Some(k) = seen_hosts.insert((address::identity(&h.address), h.port), i) {
            return Err(at.field(
                &path("address"),
                format!(
                    "{} is already hosts[{k}]; each host is listed once",
                    kubeadm::config::join_host_port(&h.address, h.port)
                ),
            ));
        }
        if let Some(n) = &h.node_name {
            if let Some(k) = seen_names.insert(n.clone(), i) {
                return Err(at.field(
                    &path("nodeName"),
                    format!(
                        "{} is already the name of hosts[{k}]; Node names are unique",
                        excerpt(n)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// What is wrong with a file path SSH is given, if anything; `one_word` when ssh reads
/// it from a list separated by spaces.
pub fn check_path(p: &Path, one_word: bool) -> Result<(), String> {
    let text = p.to_string_lossy();
    if text.is_empty() {
        return Err("empty; give the file's path".into());
    }
    if text.contains(char::is_control) {
        return Err(format!(
            "{} holds a control character; give the file's path",
            excerpt(&text)
        ));
    }
    if one_word && text.contains(char::is_whitespace) {
        return Err(format!(
            "{} holds whitespace, which ssh takes as a separator between files; give a path without spaces",
            excerpt(&text)
        ));
    }
    Ok(())
}

/// What is wrong with a control-plane endpoint, `host[:port]`, if anything.
fn check_endpoint(ep: &str) -> Result<(), String> {
    let right = "give host[:port]: a DNS name or an IP address (IPv6 in brackets with a port), and a port from 1 to 65535 (for example lb.example.com:6443 or [fd00::10]:6443)";
    let (host, port) = match ep.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, tail)) => match tail.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return Err(format!("is not host[:port]; {right}")),
            },
            None => return Err(format!("is not host[:port]; {right}")),
        },
        None if ep.matches(':').count() > 1 => (ep, None),
        None => match ep.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (ep, None),
        },
    };
    if ep.starts_with('[') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!(
            "does not hold an IPv6 address in its brackets; {right}"
        ));
    }
    address::host(host).map_err(|_| format!("is not host[:port]; {right}"))?;
    if let Some(p) = port {
        if !matches!(p.parse::<u16>(), Ok(1..)) || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("has no port from 1 to 65535; {right}"));
        }
    }
    Ok(())
}

/// The embedded kubeadm configuration, parsed as kubeadm parses a --config file; its
/// errors point at lines of the cluster file.
fn embedded(at: &Fields<'_>, kubeadm_text: &str) -> Result<Documents, SpecError> {
    if kubeadm_text.trim().is_empty() {
        return Ok(Documents::default());
    }
    let block_line = at.line("kubeadm").unwrap_or(1);
    let docs = documents::parse(kubeadm_text, at.file).map_err(|e| {
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
    /// A file of three hosts, the third at `address` (its line is 11).
    fn third_at(address: &str) -> String {
        format!(
            "apiVersion: kubeadm-rs.io/v1alpha1
kind: Cluster
hosts:
- address: 10.0.0.10
  role: control-plane
- address: 10.0.0.11
  role: worker
- role: worker
  port: 22
  user: root
  address: {address}
parallelJoins: 4
"
        )
    }

    #[test]
    fn addresses_that_ssh_would_take_as_options_or_garble_are_refused_with_their_line() {
        for (yaml, says) in [
            (
                "-V",
                "\"-V\" begins with '-', which ssh would read as an option",
            ),
            (
                "-oProxyCommand=touch /tmp/x",
                "\"-oProxyCommand=touch /tmp/x\" begins with '-'",
            ),
            (
                "\"node\\e[31m\"",
                "\"node\\u{1b}[31m\" holds whitespace or a control character",
            ),
            ("\"node 1\"", "\"node 1\" holds whitespace"),
            ("ssh://admin@node:2222", "a URL is not an address"),
            ("admin@node", "give the user in user:"),
            ("node:2222", "give the port in port:"),
        ] {
            let e = error(&third_at(yaml));
            assert!(
                e.starts_with("cluster.yaml:11: hosts[2].address: "),
                "{yaml}: {e}"
            );
            assert!(e.contains(says), "{yaml}: {e}");
            assert!(
                !e.contains('\x1b'),
                "{yaml}: the message holds the raw ESC: {e}"
            );
        }
    }

    #[test]
    fn dns_names_and_ip_addresses_pass_and_brackets_are_dropped() {
        for (yaml, kept) in [
            ("10.0.0.1", "10.0.0.1"),
            ("node-1.example.com", "node-1.example.com"),
            ("\"::1\"", "::1"),
            ("\"[fd00::1]\"", "fd00::1"),
            ("node1", "node1"),
        ] {
            let c = Cluster::parse(&third_at(yaml), "cluster.yaml")
                .unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(c.hosts[2].address, kept);
        }
        // One host written two ways is listed twice.
        let e = error(&third_at("\"[fd00::1]\"").replace("10.0.0.11", "\"fd00:0::1\""));
        assert!(
            e.starts_with("cluster.yaml:11: hosts[2].address: [fd00::1]:22 is already hosts[1]"),
            "{e}"
        );
    }

    #[test]
    fn users_ports_and_paths_given_to_ssh_are_checked() {
        let e = error(&third_at("node1").replace("user: root", "user: -oProxyCommand=x"));
        assert!(e.starts_with("cluster.yaml:10: hosts[2].user: "), "{e}");
        assert!(e.contains("begins with '-'"), "{e}");
        let e = error(&third_at("node1").replace("port: 22", "port: 0"));
        assert!(
            e.starts_with("cluster.yaml:9: hosts[2].port: 0 is not a port"),
            "{e}"
        );
        let e = error(&third_at("node1").replace("port: 22", "port: 65536"));
        assert!(e.starts_with("cluster.yaml:9: hosts[2].port: "), "{e}");
        let e = error(&format!(
            "{}knownHostsFile: /root/my hosts\n",
            third_at("node1")
        ));
        assert!(
            e.contains("knownHostsFile: \"/root/my hosts\" holds whitespace"),
            "{e}"
        );
        let e = error(&third_at("node1").replace("user: root", "identityFile: \"/k\\e\""));
        assert!(
            e.contains("hosts[2].identityFile: \"/k\\u{1b}\" holds a control"),
            "{e}"
        );
        let e = error(&third_at("node1").replace("user: root", "advertiseAddress: cp.example"));
        assert!(
            e.contains("hosts[2].advertiseAddress: \"cp.example\" is not an IP address"),
            "{e}"
        );
        let e = error(&third_at("node1").replace(
            "user: root",
            "kubeletExtraArgs: [{name: a, value: \"x\\ny\"}]",
        ));
        assert!(e.contains("hosts[2].kubeletExtraArgs[0].value"), "{e}");
    }

    #[test]
    fn counts_are_bounded() {
        for n in ["18446744073709551615", "129", "0"] {
            let e = error(
                &third_at("node1").replace("parallelJoins: 4", &format!("parallelJoins: {n}")),
            );
            assert!(
                e.starts_with(&format!("cluster.yaml:12: parallelJoins: {n} ")),
                "{e}"
            );
        }
        let c = Cluster::parse(
            &third_at("node1").replace("parallelJoins: 4", "parallelJoins: 128"),
            "cluster.yaml",
        )
        .unwrap();
        assert_eq!(c.parallel_joins, MAX_PARALLEL_JOINS);
        let e = error(&third_at("node1").replace("parallelJoins: 4", "parallelJoins: -1"));
        assert!(e.starts_with("cluster.yaml:12: parallelJoins: "), "{e}");
        let mut many = third_at("node1");
        for i in 0..MAX_HOSTS {
            many.push_str(&format!("- {{address: w{i}, role: worker}}\n"));
        }
        let many = many.replace("parallelJoins: 4\n", "").replacen(
            "hosts:\n",
            "parallelJoins: 4\nhosts:\n",
            1,
        );
        let e = error(&many);
        assert!(
            e.contains("hosts: 5003 hosts; a Kubernetes cluster holds at most 5000"),
            "{e}"
        );
    }

    #[test]
    fn endpoints_and_the_api_server_port_are_checked() {
        for ep in [
            "lb.example:99999",
            "lb.example:0",
            "\"[::1]:99999\"",
            "\"[lb]:6443\"",
            "-lb:6443",
            "\"lb.example:\"",
        ] {
            let e = error(&format!(
                "{}controlPlaneEndpoint: {ep}\n",
                third_at("node1")
            ));
            assert!(
                e.starts_with("cluster.yaml:13: controlPlaneEndpoint: "),
                "{ep}: {e}"
            );
        }
        for ep in [
            "lb.example",
            "lb.example:6443",
            "\"[fd00::10]:6443\"",
            "\"fd00::10\"",
            "10.0.0.10:6443",
        ] {
            Cluster::parse(
                &format!("{}controlPlaneEndpoint: {ep}\n", third_at("node1")),
                "cluster.yaml",
            )
            .unwrap_or_else(|e| panic!("{ep}: {e}"));
        }
        let e = error(&format!(
            "{}kubeadm: |\n  apiVersion: kubeadm.k8s.io/v1beta4\n  kind: InitConfiguration\n  localAPIEndpoint:\n    bindPort: 70000\n",
            third_at("node1")
        ));
        assert!(e.starts_with("cluster.yaml:17: kubeadm (the embedded configuration): InitConfiguration localAPIEndpoint.bindPort: 70000"), "{e}");
    }
}

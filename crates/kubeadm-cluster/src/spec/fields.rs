//! What each field of the cluster file may hold: the hosts (address, user, port, paths,
//! names, kubelet flags, each host once), the control-plane endpoint, the counts and
//! paths; every error names the field's path and line, quoting at most a short, escaped
//! excerpt of the value.

use std::path::Path;

use kubeadm::config::documents::Documents;

use super::{
    Host, Manifest, SpecError, DEFAULT_KUBEADM_PATH, DEFAULT_PARALLEL_JOINS, MAX_HOSTS,
    MAX_PARALLEL_JOINS,
};
use crate::address;

/// Errors about fields of one cluster file, each with the field's line.
pub(super) struct Fields<'a> {
    /// The file's text.
    pub(super) text: &'a str,
    /// The file, as the user named it.
    pub(super) file: &'a str,
}

impl Fields<'_> {
    /// The line of the field at `path`, when found.
    pub(super) fn line(&self, path: &str) -> Option<usize> {
        kubeadm::config::locate::line_of(self.text, path)
    }

    /// `path: what`, at the field's line.
    pub(super) fn field(&self, path: &str, what: impl std::fmt::Display) -> SpecError {
        at_line(self.file, self.line(path), format!("{path}: {what}"))
    }
}

/// An error at `line` of `file`.
pub(super) fn at_line(file: &str, line: Option<usize>, message: String) -> SpecError {
    SpecError {
        file: file.to_string(),
        line,
        message,
    }
}

/// A value of the file, quoted for a message: escaped, and cut after 64 characters.
pub(super) fn excerpt(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &value[..cut]),
        None => format!("{value:?}"),
    }
}

/// Checks every host, in the file's order; an IPv6 address given in brackets is kept
/// without them (the form ssh and kubeadm take).
pub(super) fn check_hosts(at: &Fields<'_>, hosts: &mut [Host]) -> Result<(), SpecError> {
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
        check_host(at, i, h)?;
        let path = |field: &str| format!("hosts[{i}].{field}");
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

/// Checks the fields of `hosts[i]`, `h`, dropping an IPv6 address's brackets.
fn check_host(at: &Fields<'_>, i: usize, h: &mut Host) -> Result<(), SpecError> {
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

/// The control-plane endpoint: the file's `given` one or the ClusterConfiguration's in
/// `docs` (the same when both are given), required with more than one control plane.
pub(super) fn control_plane_endpoint(
    at: &Fields<'_>,
    given: Option<&str>,
    docs: &Documents,
    control_planes: usize,
) -> Result<Option<String>, SpecError> {
    if let Some(ep) = given {
        check_endpoint(ep)
            .map_err(|why| at.field("controlPlaneEndpoint", format!("{} {why}", excerpt(ep))))?;
    }
    let in_kubeadm = docs
        .cluster
        .as_ref()
        .map(|c| c.control_plane_endpoint.clone())
        .filter(|c| !c.is_empty());
    let endpoint = match (given, in_kubeadm) {
        (Some(a), Some(b)) if a != b => {
            return Err(at.field(
                "controlPlaneEndpoint",
                format!(
                "{} differs from the ClusterConfiguration's controlPlaneEndpoint {}; give it once",
                excerpt(a),
                excerpt(&b)
            ),
            ))
        }
        (Some(a), _) => Some(a.to_string()),
        (None, Some(b)) => {
            check_endpoint(&b).map_err(|why| {
                at.field(
                    "kubeadm",
                    format!(
                        "the ClusterConfiguration's controlPlaneEndpoint {} {why}",
                        excerpt(&b)
                    ),
                )
            })?;
            Some(b)
        }
        (None, None) => None,
    };
    if control_planes > 1 && endpoint.is_none() {
        return Err(at_line(
            at.file,
            at.line("hosts"),
            format!(
                "controlPlaneEndpoint: required with {control_planes} control planes: the nodes must reach the API servers at one stable address (a load balancer or a DNS name that follows them), set as controlPlaneEndpoint: host:port"
            ),
        ));
    }
    Ok(endpoint)
}

/// How many workers join at once: 1 to [`MAX_PARALLEL_JOINS`].
pub(super) fn parallel_joins(at: &Fields<'_>, given: Option<usize>) -> Result<usize, SpecError> {
    let n = given.unwrap_or(DEFAULT_PARALLEL_JOINS);
    if n == 0 {
        return Err(at.field("parallelJoins", "0 would join no worker; give at least 1"));
    }
    if n > MAX_PARALLEL_JOINS {
        return Err(at.field(
            "parallelJoins",
            format!(
                "{n} workers joining at once is more than kubeadm-cluster runs at once; give 1 to {MAX_PARALLEL_JOINS}"
            ),
        ));
    }
    Ok(n)
}

/// How long a drain waits for evictions its budgets refuse: a duration as Go writes it.
pub(super) fn drain_timeout(
    at: &Fields<'_>,
    given: Option<&str>,
) -> Result<std::time::Duration, SpecError> {
    duration(at, "drainTimeout", given, super::DEFAULT_DRAIN_TIMEOUT)
}

/// How long an upgraded node has to come back Ready at the new version.
pub(super) fn node_ready_timeout(
    at: &Fields<'_>,
    given: Option<&str>,
) -> Result<std::time::Duration, SpecError> {
    duration(
        at,
        "nodeReadyTimeout",
        given,
        super::DEFAULT_NODE_READY_TIMEOUT,
    )
}

/// A positive duration as Go writes it (`default` when not given).
fn duration(
    at: &Fields<'_>,
    field: &str,
    given: Option<&str>,
    default: std::time::Duration,
) -> Result<std::time::Duration, SpecError> {
    let Some(text) = given else {
        return Ok(default);
    };
    match kubeadm::duration::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(at.field(
            field,
            format!(
                "{} is not a positive duration; write it as 90s, 5m or 1h30m",
                excerpt(text)
            ),
        )),
    }
}

/// How many workers a rolling upgrade takes down at once: 1 to [`MAX_PARALLEL_JOINS`].
pub(super) fn max_unavailable(at: &Fields<'_>, given: Option<usize>) -> Result<usize, SpecError> {
    let n = given.unwrap_or(super::DEFAULT_MAX_UNAVAILABLE);
    if n == 0 {
        return Err(at.field(
            "maxUnavailable",
            "0 would upgrade no worker; give at least 1",
        ));
    }
    if n > MAX_PARALLEL_JOINS {
        return Err(at.field(
            "maxUnavailable",
            format!(
                "{n} workers upgraded at once is more than kubeadm-cluster runs at once; give 1 to {MAX_PARALLEL_JOINS}"
            ),
        ));
    }
    Ok(n)
}

/// The hook commands: shell text of bounded length, without NUL or control characters
/// other than tabs and line ends.
pub(super) fn hooks(at: &Fields<'_>, hooks: &super::Hooks) -> Result<(), SpecError> {
    let Some(cmd) = &hooks.kubelet_upgrade else {
        return Ok(());
    };
    let field = "hooks.kubeletUpgrade";
    if cmd.trim().is_empty() {
        return Err(at.field(
            field,
            "empty; give a shell command (for example apt-get install -y kubelet) or leave the field out",
        ));
    }
    if cmd.len() > super::MAX_HOOK_LEN {
        return Err(at.field(
            field,
            format!(
                "{} bytes is longer than a hook may be ({} bytes); put a long script in a file on the hosts and call it",
                cmd.len(),
                super::MAX_HOOK_LEN
            ),
        ));
    }
    if cmd.contains(|c: char| c.is_control() && c != '\n' && c != '\t') {
        return Err(at.field(
            field,
            format!(
                "{} holds a control character; give shell text (lines and tabs are fine)",
                excerpt(cmd)
            ),
        ));
    }
    Ok(())
}

/// Where kubeadm is installed on the hosts: an absolute file path.
pub(super) fn kubeadm_path(at: &Fields<'_>, given: Option<String>) -> Result<String, SpecError> {
    let path = given.unwrap_or_else(|| DEFAULT_KUBEADM_PATH.to_string());
    if !path.starts_with('/') || path.ends_with('/') || path.contains(char::is_control) {
        return Err(at.field(
            "kubeadmPath",
            format!(
                "{} is not an absolute file path (for example {DEFAULT_KUBEADM_PATH})",
                excerpt(&path)
            ),
        ));
    }
    Ok(path)
}

/// The `manifests:` entries, each a path relative to the cluster file's directory (or
/// absolute).
pub(super) fn manifests(at: &Fields<'_>, given: Vec<String>) -> Result<Vec<Manifest>, SpecError> {
    let base = Path::new(at.file).parent().unwrap_or(Path::new(""));
    given
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let field = format!("manifests[{i}]");
            check_path(Path::new(&m), false).map_err(|why| {
                at.field(
                    &field,
                    format!("{why} (a YAML file or a directory of them, relative to this file)"),
                )
            })?;
            Ok(Manifest {
                path: base.join(&m),
                line: at.line(&field),
                given: m,
            })
        })
        .collect()
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
    use crate::spec::*;

    fn error(text: &str) -> String {
        Cluster::parse(text, "cluster.yaml")
            .unwrap_err()
            .to_string()
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

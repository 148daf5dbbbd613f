//! The internal kubeadm configuration every phase reads. The versioned wire types
//! (`kubeadm.k8s.io/v1beta4`, `v1beta3`) convert into these; command-line flags are applied
//! on top, then defaults, then validation.

pub mod componentfields;
mod defaults;
pub mod documents;
pub mod join;
pub mod locate;
pub mod print;
pub mod v1beta3;
pub mod v1beta4;
pub mod validation;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use defaults::*;

/// Reads and parses a configuration file given with `--config`, printing its warnings.
/// The path is the user's: under `--rootfs` it is a path inside that root.
pub fn load_file(
    host: &dyn crate::host::Host,
    path: &std::path::Path,
) -> anyhow::Result<documents::Documents> {
    load_file_for(host, path, documents::Reader::Init)
}

/// As [`load_file`], for a command that reads other kinds than InitConfiguration (its
/// warnings about ignored documents are that command's).
pub fn load_file_for(
    host: &dyn crate::host::Host,
    path: &std::path::Path,
    reader: documents::Reader,
) -> anyhow::Result<documents::Documents> {
    load_file_with(host, path, documents::Strictness::Lenient, true, reader)
}

/// As [`load_file`], with unknown fields errors when `strictness` says so (upstream's
/// `config validate` and `config migrate`), the deprecated-API warning printed only when
/// `show_deprecated`, and the ignored documents of `reader` warned about.
pub fn load_file_with(
    host: &dyn crate::host::Host,
    path: &std::path::Path,
    strictness: documents::Strictness,
    show_deprecated: bool,
    reader: documents::Reader,
) -> anyhow::Result<documents::Documents> {
    let text = read_user_file(host, path)?;
    let docs = documents::parse_with(&text, &path.display().to_string(), strictness)?;
    let deprecated = docs.deprecated.iter().filter(|_| show_deprecated);
    let ignored = docs.ignored_by(reader);
    for w in docs.warnings.iter().chain(deprecated).chain(&ignored) {
        eprintln!("{}", crate::output::bounded(w));
    }
    Ok(docs)
}

/// The text of a file the user named on the command line, read through the host (inside
/// `--rootfs` when given).
pub fn read_user_file(
    host: &dyn crate::host::Host,
    path: &std::path::Path,
) -> anyhow::Result<String> {
    host.read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "unable to read config from {:?}: {}",
            path.display().to_string(),
            e.cause_text()
        )
    })
}

/// Upstream's rule for mixing `--config` with other flags: only these (and every
/// `--skip-*` flag) may be given together with a configuration file.
pub const FLAGS_ALLOWED_WITH_CONFIG: &[&str] = &[
    "config",
    "ignore-preflight-errors",
    "dry-run",
    "kubeconfig",
    "node-name",
    "kubeconfig-dir",
    "upload-certs",
    "print-manifest",
    "feature-gates",
    "allow-missing-template-keys",
    "output",
    "show-managed-fields",
    "print-join-command",
    "rootfs",
    "v",
    "yes",
];

/// Refuses flags that may not be mixed with `--config`.
pub fn check_mixed_flags(given: &[&str]) -> anyhow::Result<()> {
    let bad: Vec<&str> = given
        .iter()
        .copied()
        .filter(|f| !FLAGS_ALLOWED_WITH_CONFIG.contains(f) && !f.starts_with("skip-"))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "can not mix '--config' with arguments [{}]; set these in the configuration file instead",
            bad.join(" ")
        )
    }
}

/// Reads the configuration file of `--config` when one was given (see [`load_file`]);
/// `None` when not. Fails as [`load_file`] does: unreadable, or not a valid configuration.
pub fn load_optional_file(
    host: &dyn crate::host::Host,
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<documents::Documents>> {
    load_optional_file_for(host, path, documents::Reader::Init)
}

/// As [`load_optional_file`], for the command `reader` names.
pub fn load_optional_file_for(
    host: &dyn crate::host::Host,
    path: Option<&std::path::Path>,
    reader: documents::Reader,
) -> anyhow::Result<Option<documents::Documents>> {
    path.map(|p| load_file_for(host, p, reader)).transpose()
}

/// A configuration file parsed quietly, for a look at one setting before the run starts
/// (whether it asks for a dry run, say): its warnings are printed when the run loads it.
/// `None` when no file was given or it cannot be read or parsed; the run then reports why.
pub fn peek_file(
    host: &dyn crate::host::Host,
    path: Option<&std::path::Path>,
) -> Option<documents::Documents> {
    let path = path?;
    let text = host.read_to_string(path).ok()?;
    documents::parse(&text, &path.display().to_string()).ok()
}

/// Key algorithm for every key kubeadm generates (`ClusterConfiguration.encryptionAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EncryptionAlgorithm {
    /// RSA with a 2048-bit modulus (upstream's default).
    #[default]
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    Rsa4096,
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
}

impl EncryptionAlgorithm {
    /// Every value, in upstream's order.
    pub const ALL: [EncryptionAlgorithm; 5] = [
        EncryptionAlgorithm::Rsa2048,
        EncryptionAlgorithm::Rsa3072,
        EncryptionAlgorithm::Rsa4096,
        EncryptionAlgorithm::EcdsaP256,
        EncryptionAlgorithm::EcdsaP384,
    ];

    /// The name used in configuration files (`RSA-2048`, `ECDSA-P256`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionAlgorithm::Rsa2048 => "RSA-2048",
            EncryptionAlgorithm::Rsa3072 => "RSA-3072",
            EncryptionAlgorithm::Rsa4096 => "RSA-4096",
            EncryptionAlgorithm::EcdsaP256 => "ECDSA-P256",
            EncryptionAlgorithm::EcdsaP384 => "ECDSA-P384",
        }
    }

    /// Parses a configuration value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Where etcd runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Etcd {
    /// A static pod on each control-plane node (stacked etcd).
    Local(LocalEtcd),
    /// An etcd cluster kubeadm does not manage.
    External(ExternalEtcd),
}

/// `etcd.local`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalEtcd {
    /// `dataDir`.
    pub data_dir: PathBuf,
    /// `serverCertSANs`: extra SANs of etcd/server.crt.
    pub server_cert_sans: Vec<String>,
    /// `peerCertSANs`: extra SANs of etcd/peer.crt.
    pub peer_cert_sans: Vec<String>,
}

/// `etcd.external`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExternalEtcd {
    /// `endpoints`.
    pub endpoints: Vec<String>,
    /// `httpEndpoints` (v1beta4): etcd's HTTP endpoints when they differ from `endpoints`.
    pub http_endpoints: Vec<String>,
    /// `caFile`.
    pub ca_file: PathBuf,
    /// `certFile`.
    pub cert_file: PathBuf,
    /// `keyFile`.
    pub key_file: PathBuf,
}

impl ExternalEtcd {
    /// Where etcd answers HTTP requests: `httpEndpoints` when given, else `endpoints`, which
    /// then serve gRPC and HTTP alike (upstream's `GetHTTPEndpoints`).
    pub fn http_endpoints(&self) -> &[String] {
        if self.http_endpoints.is_empty() {
            &self.endpoints
        } else {
            &self.http_endpoints
        }
    }
}

/// `networking`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Networking {
    /// `serviceSubnet`, possibly two comma-separated CIDRs (dual stack).
    pub service_subnet: String,
    /// `podSubnet`, empty when unset.
    pub pod_subnet: String,
    /// `dnsDomain`.
    pub dns_domain: String,
}

/// `apiServer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiServer {
    /// `certSANs`: extra SANs of apiserver.crt.
    pub cert_sans: Vec<String>,
}

/// The cluster-wide part of the configuration (`ClusterConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfiguration {
    /// `kubernetesVersion`.
    pub kubernetes_version: String,
    /// `controlPlaneEndpoint`, empty when unset.
    pub control_plane_endpoint: String,
    /// `networking`.
    pub networking: Networking,
    /// `apiServer`.
    pub api_server: ApiServer,
    /// `etcd`.
    pub etcd: Etcd,
    /// `certificatesDir`.
    pub certificates_dir: PathBuf,
    /// `imageRepository`.
    pub image_repository: String,
    /// `clusterName`.
    pub cluster_name: String,
    /// `encryptionAlgorithm`.
    pub encryption_algorithm: EncryptionAlgorithm,
    /// `certificateValidityPeriod`.
    pub certificate_validity_period: Duration,
    /// `caCertificateValidityPeriod`.
    pub ca_certificate_validity_period: Duration,
}

/// `nodeRegistration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRegistration {
    /// `name`: the node name, lower case.
    pub name: String,
    /// `criSocket`, empty until detected.
    pub cri_socket: String,
}

/// `localAPIEndpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEndpoint {
    /// `advertiseAddress`.
    pub advertise_address: IpAddr,
    /// `bindPort`.
    pub bind_port: u16,
}

/// What `kubeadm init` works from (`InitConfiguration` with its `ClusterConfiguration`).
#[derive(Debug, Clone, PartialEq)]
pub struct InitConfiguration {
    /// The cluster-wide settings.
    pub cluster: ClusterConfiguration,
    /// This node.
    pub node_registration: NodeRegistration,
    /// This node's API server endpoint.
    pub local_api_endpoint: ApiEndpoint,
    /// The configuration as the v1beta4 documents say it once flags and upstream's defaults
    /// are applied: the single source the typed fields above are derived from, what
    /// `config migrate` prints and the `kubeadm-config` ConfigMap holds, and where phases
    /// find the settings that have no typed field yet.
    pub versioned: Versioned,
}

/// The v1beta4 documents a configuration was built from, defaults applied.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Versioned {
    /// `InitConfiguration`.
    pub init: v1beta4::InitConfiguration,
    /// `ClusterConfiguration`.
    pub cluster: v1beta4::ClusterConfiguration,
    /// `KubeletConfiguration`, when the file has one.
    pub kubelet: Option<serde_yaml_ng::Mapping>,
    /// `KubeProxyConfiguration`, when the file has one.
    pub kube_proxy: Option<serde_yaml_ng::Mapping>,
}

impl InitConfiguration {
    /// The address kubeconfigs on this control-plane node use to reach the cluster:
    /// `https://<controlPlaneEndpoint>` when set (with the bind port added when it has
    /// none), else this node's advertise address and bind port.
    pub fn control_plane_url(&self) -> String {
        let cpe = &self.cluster.control_plane_endpoint;
        if cpe.is_empty() {
            self.local_url()
        } else if split_host_port(cpe).1.is_some() {
            format!("https://{cpe}")
        } else {
            format!(
                "https://{}",
                join_host_port(cpe, self.local_api_endpoint.bind_port)
            )
        }
    }

    /// `https://<advertiseAddress>:<bindPort>`.
    pub fn local_url(&self) -> String {
        format!(
            "https://{}",
            join_host_port(
                &self.local_api_endpoint.advertise_address.to_string(),
                self.local_api_endpoint.bind_port
            )
        )
    }
}

/// Splits `host:port`, `[v6]:port`, `host` or `v6`; the port is `None` when absent.
pub fn split_host_port(s: &str) -> (String, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host.to_string(), port);
        }
    }
    if s.matches(':').count() == 1 {
        let (h, p) = s.split_once(':').unwrap_or((s, ""));
        if let Ok(port) = p.parse() {
            return (h.to_string(), Some(port));
        }
    }
    (s.to_string(), None)
}

/// Go's `net.SplitHostPort`: the host (brackets removed) and the port, or why not.
pub(crate) fn go_split_host_port(s: &str) -> Result<(&str, &str), &'static str> {
    let Some(colon) = s.rfind(':') else {
        return Err("missing port in address");
    };
    let (host, port) = (&s[..colon], &s[colon + 1..]);
    if let Some(inner) = host.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return Err("missing ']' in address");
        };
        if inner.contains(['[', ']']) {
            return Err("unexpected '[' in address");
        }
        return Ok((inner, port));
    }
    if host.contains(':') {
        return Err("too many colons in address");
    }
    if host.contains(['[', ']']) {
        return Err("unexpected '[' or ']' in address");
    }
    Ok((host, port))
}

/// Upstream's `ParseHostPort`, which `controlPlaneEndpoint` must pass: `host:port`,
/// `[ipv6]:port`, or a host alone (an IPv6 address without brackets included); the host
/// an IP address or a DNS subdomain, the port (when given) 1-65535. Returns the host and
/// the port, or what is wrong.
pub fn parse_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    // What Go cannot split is a host without a port.
    let (host, port) = go_split_host_port(s).unwrap_or((s, ""));
    let port = if port.is_empty() {
        None
    } else {
        // As Go's strconv.ParseUint: decimal digits only, no sign.
        let p = port
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| port.parse::<u16>().ok())
            .flatten()
            .filter(|p| *p != 0);
        Some(p.ok_or_else(|| {
            format!("port {port:?} must be a number between 1 and 65535, for example lb.example.com:6443")
        })?)
    };
    if host.parse::<IpAddr>().is_err() && !crate::names::is_dns_subdomain(host) {
        return Err(format!(
            "host {host:?} must be an IP address or a DNS subdomain (RFC 1123), for example lb.example.com:6443 or [fd00::1]:6443"
        ));
    }
    Ok((host.to_string(), port))
}

/// Joins a host and a port, bracketing IPv6 addresses.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("cp.example:6443"),
            ("cp.example".into(), Some(6443))
        );
        assert_eq!(split_host_port("cp.example"), ("cp.example".into(), None));
        assert_eq!(
            split_host_port("[fd00::1]:443"),
            ("fd00::1".into(), Some(443))
        );
        assert_eq!(split_host_port("fd00::1"), ("fd00::1".into(), None));
        assert_eq!(join_host_port("fd00::1", 6443), "[fd00::1]:6443");
    }

    /// Upstream's `ParseHostPort`: the forms it takes, and the port range it keeps.
    #[test]
    fn control_plane_endpoint_forms() {
        for (given, host, port) in [
            ("cp.example:6443", "cp.example", Some(6443)),
            ("cp.example", "cp.example", None),
            ("[::1]:6443", "::1", Some(6443)),
            ("::1", "::1", None),
            ("fd00::1:6443", "fd00::1:6443", None),
            ("1.2.3.4:65535", "1.2.3.4", Some(65535)),
            ("1.2.3.4:", "1.2.3.4", None),
            ("cp.example:06443", "cp.example", Some(6443)),
        ] {
            assert_eq!(
                parse_host_port(given),
                Ok((host.to_string(), port)),
                "{given}"
            );
        }
        for (given, why) in [
            (
                "[::1]:99999",
                "port \"99999\" must be a number between 1 and 65535",
            ),
            (
                "1.2.3.4:0",
                "port \"0\" must be a number between 1 and 65535",
            ),
            ("cp.example:+443", "port \"+443\""),
            ("cp.example:port", "port \"port\""),
            (
                "[::1]",
                "host \"[::1]\" must be an IP address or a DNS subdomain",
            ),
            ("lb_1.example:6443", "host \"lb_1.example\""),
            ("[fe80::1%eth0]:6443", "host \"fe80::1%eth0\""),
        ] {
            let e = parse_host_port(given).unwrap_err();
            assert!(e.starts_with(why), "{given}: {e}");
        }
    }

    #[test]
    fn control_plane_url_rules() {
        let mut cfg = test_config();
        assert_eq!(cfg.control_plane_url(), "https://192.0.2.10:6443");
        cfg.cluster.control_plane_endpoint = "lb.example".into();
        assert_eq!(cfg.control_plane_url(), "https://lb.example:6443");
        cfg.cluster.control_plane_endpoint = "lb.example:8443".into();
        assert_eq!(cfg.control_plane_url(), "https://lb.example:8443");
        assert_eq!(cfg.local_url(), "https://192.0.2.10:6443");
    }
}

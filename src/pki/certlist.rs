//! The certificates of a control-plane node, as a table (upstream's `certlist.go`).

/// How a certificate's Common Name is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommonName {
    /// A fixed name.
    Fixed(&'static str),
    /// The node name (etcd server and peer).
    NodeName,
}

/// Which Subject Alternative Names a certificate carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanRule {
    /// None beyond what every certificate of its kind has.
    None,
    /// The API server's names and addresses.
    ApiServer,
    /// etcd's serving names and addresses plus `etcd.local.serverCertSANs`.
    EtcdServer,
    /// etcd's peer names and addresses plus `etcd.local.peerCertSANs`.
    EtcdPeer,
}

/// An extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// TLS server authentication.
    ServerAuth,
    /// TLS client authentication.
    ClientAuth,
}

/// One certificate kubeadm makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertSpec {
    /// The phase name (`init phase certs <name>`).
    pub name: &'static str,
    /// The file name under the certificate directory, without extension.
    pub base_name: &'static str,
    /// The phase name of the signing CA; `None` for a (self-signed) CA.
    pub ca: Option<&'static str>,
    /// The subject Common Name.
    pub common_name: CommonName,
    /// The subject Organizations.
    pub organizations: &'static [&'static str],
    /// Extended key usages (empty for CAs).
    pub usages: &'static [Usage],
    /// Subject Alternative Names.
    pub sans: SanRule,
}

impl CertSpec {
    /// True for a certificate authority.
    pub fn is_ca(&self) -> bool {
        self.ca.is_none()
    }

    /// True for certificates under the etcd CA (skipped with external etcd).
    pub fn is_etcd(&self) -> bool {
        self.name == "etcd-ca" || self.ca == Some("etcd-ca")
    }

    /// The Common Name for a node.
    pub fn common_name_for(&self, node_name: &str) -> String {
        match self.common_name {
            CommonName::Fixed(n) => n.to_string(),
            CommonName::NodeName => node_name.to_string(),
        }
    }
}

const fn ca(name: &'static str, base_name: &'static str, cn: &'static str) -> CertSpec {
    CertSpec {
        name,
        base_name,
        ca: None,
        common_name: CommonName::Fixed(cn),
        organizations: &[],
        usages: &[],
        sans: SanRule::None,
    }
}

const fn leaf(
    name: &'static str,
    base_name: &'static str,
    ca: &'static str,
    common_name: CommonName,
    usages: &'static [Usage],
    sans: SanRule,
) -> CertSpec {
    CertSpec {
        name,
        base_name,
        ca: Some(ca),
        common_name,
        organizations: &[],
        usages,
        sans,
    }
}

const SERVER: &[Usage] = &[Usage::ServerAuth];
const CLIENT: &[Usage] = &[Usage::ClientAuth];
const BOTH: &[Usage] = &[Usage::ServerAuth, Usage::ClientAuth];

/// Every certificate of a control-plane node, in the order the phases make them. Since
/// v1.37 none of the client certificates carries an Organization: the API server's access to
/// kubelets comes from the `kubeadm:apiserver-kubelet-client` ClusterRoleBinding.
pub const CERTS: &[CertSpec] = &[
    ca("ca", "ca", "kubernetes"),
    leaf(
        "apiserver",
        "apiserver",
        "ca",
        CommonName::Fixed("kube-apiserver"),
        SERVER,
        SanRule::ApiServer,
    ),
    leaf(
        "apiserver-kubelet-client",
        "apiserver-kubelet-client",
        "ca",
        CommonName::Fixed("kube-apiserver-kubelet-client"),
        CLIENT,
        SanRule::None,
    ),
    ca("front-proxy-ca", "front-proxy-ca", "front-proxy-ca"),
    leaf(
        "front-proxy-client",
        "front-proxy-client",
        "front-proxy-ca",
        CommonName::Fixed("front-proxy-client"),
        CLIENT,
        SanRule::None,
    ),
    ca("etcd-ca", "etcd/ca", "etcd-ca"),
    leaf(
        "etcd-server",
        "etcd/server",
        "etcd-ca",
        CommonName::NodeName,
        BOTH,
        SanRule::EtcdServer,
    ),
    leaf(
        "etcd-peer",
        "etcd/peer",
        "etcd-ca",
        CommonName::NodeName,
        BOTH,
        SanRule::EtcdPeer,
    ),
    leaf(
        "etcd-healthcheck-client",
        "etcd/healthcheck-client",
        "etcd-ca",
        CommonName::Fixed("kube-etcd-healthcheck-client"),
        CLIENT,
        SanRule::None,
    ),
    leaf(
        "apiserver-etcd-client",
        "apiserver-etcd-client",
        "etcd-ca",
        CommonName::Fixed("kube-apiserver-etcd-client"),
        CLIENT,
        SanRule::None,
    ),
];

/// The service-account signing key pair's base name (`sa.key`, `sa.pub`).
pub const SERVICE_ACCOUNT_KEY_BASE_NAME: &str = "sa";

/// Looks a certificate up by its phase name.
pub fn spec(name: &str) -> Option<&'static CertSpec> {
    CERTS.iter().find(|c| c.name == name)
}

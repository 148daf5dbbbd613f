//! kubeconfig files: the document (`apiVersion: v1`, `kind: Config`) with upstream's field
//! order, and the files kubeadm writes for a control-plane node.

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// A kubeconfig document, fields in the order client-go writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeConfig {
    /// Always `v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Named clusters.
    pub clusters: Vec<NamedCluster>,
    /// Named contexts.
    pub contexts: Vec<NamedContext>,
    /// The context in use.
    #[serde(rename = "current-context")]
    pub current_context: String,
    /// Always `Config`.
    pub kind: String,
    /// Written empty, as client-go does.
    #[serde(default)]
    pub preferences: serde_yaml_ng::Mapping,
    /// Named users.
    pub users: Vec<NamedUser>,
}

/// `clusters[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCluster {
    /// The cluster.
    pub cluster: Cluster,
    /// Its name.
    pub name: String,
}

/// `clusters[].cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// PEM CA bundle, base64 in the file.
    #[serde(rename = "certificate-authority-data", with = "b64")]
    pub certificate_authority_data: Vec<u8>,
    /// `https://host:port`.
    pub server: String,
}

/// `contexts[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedContext {
    /// The context.
    pub context: Context,
    /// Its name.
    pub name: String,
}

/// `contexts[].context`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// Cluster name.
    pub cluster: String,
    /// User name.
    pub user: String,
}

/// `users[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedUser {
    /// Its name.
    pub name: String,
    /// The credentials.
    pub user: AuthInfo,
}

/// `users[].user`: a client certificate and key, or a token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuthInfo {
    /// A client certificate file (what kubelet-finalize points kubelet.conf at).
    #[serde(
        rename = "client-certificate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_certificate: Option<String>,
    /// PEM client certificate, base64 in the file.
    #[serde(
        rename = "client-certificate-data",
        with = "b64_opt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_certificate_data: Option<Vec<u8>>,
    /// A client key file.
    #[serde(
        rename = "client-key",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_key: Option<String>,
    /// PEM client key, base64 in the file.
    #[serde(
        rename = "client-key-data",
        with = "b64_opt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_key_data: Option<Vec<u8>>,
    /// A bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Display for AuthInfo {
    // Never show credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<credentials>")
    }
}

mod b64 {
    use super::*;
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text.trim()).map_err(serde::de::Error::custom)
    }
}

mod b64_opt {
    use super::*;
    pub fn serialize<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&B64.encode(v)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| B64.decode(t.trim()).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl KubeConfig {
    /// A kubeconfig with one cluster, one user and the context joining them
    /// (`<user>@<cluster>`), as upstream's `CreateBasic`.
    pub fn new(
        cluster_name: &str,
        server: &str,
        ca_pem: &[u8],
        user: &str,
        auth: AuthInfo,
    ) -> Self {
        let context = format!("{user}@{cluster_name}");
        KubeConfig {
            api_version: "v1".into(),
            clusters: vec![NamedCluster {
                cluster: Cluster {
                    certificate_authority_data: ca_pem.to_vec(),
                    server: server.into(),
                },
                name: cluster_name.into(),
            }],
            contexts: vec![NamedContext {
                context: Context {
                    cluster: cluster_name.into(),
                    user: user.into(),
                },
                name: context.clone(),
            }],
            current_context: context,
            kind: "Config".into(),
            preferences: Default::default(),
            users: vec![NamedUser {
                name: user.into(),
                user: auth,
            }],
        }
    }

    /// The YAML text.
    pub fn to_yaml(&self) -> anyhow::Result<String> {
        Ok(serde_yaml_ng::to_string(self)?)
    }

    /// Writes the file atomically, mode 0600: it holds credentials.
    pub fn write(
        &self,
        host: &dyn crate::host::Host,
        path: &std::path::Path,
    ) -> anyhow::Result<()> {
        host.write_file(
            path,
            self.to_yaml()?.as_bytes(),
            0o600,
            crate::host::Sensitivity::Secret,
        )?;
        Ok(())
    }

    /// Parses a kubeconfig file's text. Errors say where and what is wrong, never a value
    /// of the text: a kubeconfig holds keys, and the path may lead to any file.
    pub fn from_yaml(text: &str) -> anyhow::Result<Self> {
        crate::yaml::check_nesting(text, "the kubeconfig")?;
        serde_yaml_ng::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}", crate::yaml::error_without_values(&e)))
    }

    fn context(&self) -> Option<&Context> {
        self.contexts
            .iter()
            .find(|c| c.name == self.current_context)
            .map(|c| &c.context)
    }

    /// The cluster of the current context.
    pub fn current_cluster(&self) -> Option<&Cluster> {
        let name = &self.context()?.cluster;
        self.clusters
            .iter()
            .find(|c| &c.name == name)
            .map(|c| &c.cluster)
    }

    /// The user of the current context.
    pub fn current_user(&self) -> Option<&AuthInfo> {
        let name = &self.context()?.user;
        self.users.iter().find(|u| &u.name == name).map(|u| &u.user)
    }

    /// The user of the current context, to change its credentials.
    pub fn current_user_mut(&mut self) -> Option<&mut AuthInfo> {
        let name = self.context()?.user.clone();
        self.users
            .iter_mut()
            .find(|u| u.name == name)
            .map(|u| &mut u.user)
    }
}

/// The kubeconfig text with its current context's cluster pointed at `server`, every
/// other field kept as written: `init` talks to this node's API server through copies of
/// admin.conf and super-admin.conf made so in memory (upstream #138449), while the files
/// keep the `controlPlaneEndpoint` (a load balancer may answer only once the first API
/// server runs). Errors name the field, never a value.
pub fn with_current_server(text: &str, server: &str) -> anyhow::Result<String> {
    use serde_yaml_ng::Value;
    crate::yaml::check_nesting(text, "the kubeconfig")?;
    let mut doc: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| anyhow::anyhow!("{}", crate::yaml::error_without_values(&e)))?;
    let current = doc["current-context"]
        .as_str()
        .context("no current-context")?
        .to_string();
    let cluster = doc["contexts"]
        .as_sequence()
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["name"].as_str() == Some(current.as_str()))
        })
        .and_then(|c| c["context"]["cluster"].as_str())
        .context("the current context is not among the contexts, or names no cluster")?
        .to_string();
    let entry = doc["clusters"]
        .as_sequence_mut()
        .and_then(|cs| {
            cs.iter_mut()
                .find(|c| c["name"].as_str() == Some(cluster.as_str()))
        })
        .and_then(|c| c.get_mut("cluster"))
        .and_then(Value::as_mapping_mut)
        .context("the current context's cluster is not among the clusters")?;
    entry.insert(Value::from("server"), Value::from(server));
    Ok(serde_yaml_ng::to_string(&doc)?)
}

impl AuthInfo {
    /// The DER of `client-certificate-data`, when there is one.
    pub fn client_certificate_der(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.client_certificate_data
            .as_ref()
            .map(|pem_text| {
                pem::parse(pem_text)
                    .map(pem::Pem::into_contents)
                    .map_err(|_| {
                        anyhow::anyhow!("client-certificate-data is not a PEM certificate")
                    })
            })
            .transpose()
    }
}

/// Which API server address a kubeconfig file points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRule {
    /// `controlPlaneEndpoint` when set, else this node's API server.
    ControlPlaneEndpoint,
    /// This node's API server (advertise address and bind port).
    Local,
}

/// One kubeconfig file of a control-plane node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeConfigSpec {
    /// The phase name (`init phase kubeconfig <name>`).
    pub name: &'static str,
    /// The file name under the kubeconfig directory.
    pub file_name: &'static str,
    /// The client certificate's CN (and the kubeconfig user name); `None` for the kubelet,
    /// whose CN is `system:node:<node name>`.
    pub client_name: Option<&'static str>,
    /// The client certificate's O values.
    pub organizations: &'static [&'static str],
    /// Which server it points at.
    pub server: ServerRule,
}

impl KubeConfigSpec {
    /// The API server URL the file points at for this configuration.
    pub fn server_url(&self, cfg: &crate::config::InitConfiguration) -> String {
        match self.server {
            ServerRule::ControlPlaneEndpoint => cfg.control_plane_url(),
            ServerRule::Local => cfg.local_url(),
        }
    }

    /// The client name for a node.
    pub fn client_name_for(&self, node_name: &str) -> String {
        self.client_name
            .map(str::to_string)
            .unwrap_or_else(|| format!("system:node:{node_name}"))
    }
}

/// The kubeconfig files `kubeadm init` writes, in phase order. Since the kubelet-local mode
/// went GA, a control-plane node's kubelet talks to its own API server.
pub const KUBECONFIGS: &[KubeConfigSpec] = &[
    KubeConfigSpec {
        name: "admin",
        file_name: "admin.conf",
        client_name: Some("kubernetes-admin"),
        organizations: &["kubeadm:cluster-admins"],
        server: ServerRule::ControlPlaneEndpoint,
    },
    KubeConfigSpec {
        name: "super-admin",
        file_name: "super-admin.conf",
        client_name: Some("kubernetes-super-admin"),
        organizations: &["system:masters"],
        server: ServerRule::ControlPlaneEndpoint,
    },
    KubeConfigSpec {
        name: "kubelet",
        file_name: "kubelet.conf",
        client_name: None,
        organizations: &["system:nodes"],
        server: ServerRule::Local,
    },
    KubeConfigSpec {
        name: "controller-manager",
        file_name: "controller-manager.conf",
        client_name: Some("system:kube-controller-manager"),
        organizations: &[],
        server: ServerRule::Local,
    },
    KubeConfigSpec {
        name: "scheduler",
        file_name: "scheduler.conf",
        client_name: Some("system:kube-scheduler"),
        organizations: &[],
        server: ServerRule::Local,
    },
];

/// Looks a kubeconfig spec up by its phase name.
pub fn spec(name: &str) -> Option<&'static KubeConfigSpec> {
    KUBECONFIGS.iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_has_client_go_field_order_and_round_trips() {
        let kc = KubeConfig::new(
            "kubernetes",
            "https://192.0.2.10:6443",
            b"CA",
            "kubernetes-admin",
            AuthInfo {
                client_certificate_data: Some(b"CERT".to_vec()),
                client_key_data: Some(b"KEY".to_vec()),
                token: None,
                ..Default::default()
            },
        );
        let y = kc.to_yaml().unwrap();
        let expected = "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://192.0.2.10:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
";
        assert_eq!(y, expected);
        let back = KubeConfig::from_yaml(&y).unwrap();
        assert_eq!(back, kc);
        assert_eq!(
            back.current_cluster().unwrap().server,
            "https://192.0.2.10:6443"
        );
        assert_eq!(
            back.current_user().unwrap().client_key_data.as_deref(),
            Some(&b"KEY"[..])
        );
    }
}

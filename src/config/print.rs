//! What `kubeadm config print`, `config migrate` and `config validate` produce: v1beta4
//! documents with upstream's defaults, in upstream's layout (keys sorted, documents
//! separated by `---`).

use super::documents::Documents;
use super::v1beta4 as v4;
use super::{default_cluster, default_init, default_join, default_reset, default_upgrade};

/// The placeholder token upstream prints in defaults.
pub const PLACEHOLDER_TOKEN: &str = "abcdef.0123456789abcdef";
/// The CRI socket upstream prints in defaults (no detection happens when printing).
pub const DEFAULT_CRI_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";

/// `kubernetesVersion` as the defaults print it: this release's minor, patch 0, no `v`.
fn current_version_for_defaults() -> String {
    let v = crate::version::KUBERNETES_VERSION.trim_start_matches('v');
    let mut parts = v.split('.');
    format!(
        "{}.{}.0",
        parts.next().unwrap_or("1"),
        parts.next().unwrap_or("0")
    )
}

fn yaml<T: serde::Serialize>(v: &T) -> anyhow::Result<String> {
    crate::yaml::to_string(v)
}

/// `kubeadm config print init-defaults`.
pub fn init_defaults() -> anyhow::Result<String> {
    let mut init = v4::InitConfiguration {
        bootstrap_tokens: vec![v4::BootstrapToken {
            token: PLACEHOLDER_TOKEN.into(),
            ..Default::default()
        }],
        local_api_endpoint: v4::ApiEndpoint {
            advertise_address: "1.2.3.4".into(),
            bind_port: 0,
        },
        node_registration: v4::NodeRegistrationOptions {
            cri_socket: DEFAULT_CRI_SOCKET.into(),
            name: "node".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut cluster = v4::ClusterConfiguration {
        kubernetes_version: current_version_for_defaults(),
        ..Default::default()
    };
    default_init(&mut init);
    default_cluster(&mut cluster);
    Ok(format!("{}---\n{}", yaml(&init)?, yaml(&cluster)?))
}

/// `kubeadm config print join-defaults`.
pub fn join_defaults() -> anyhow::Result<String> {
    let mut j = v4::JoinConfiguration {
        discovery: v4::Discovery {
            bootstrap_token: Some(v4::BootstrapTokenDiscovery {
                api_server_endpoint: "kube-apiserver:6443".into(),
                token: PLACEHOLDER_TOKEN.into(),
                unsafe_skip_ca_verification: true,
                ..Default::default()
            }),
            ..Default::default()
        },
        node_registration: v4::NodeRegistrationOptions {
            cri_socket: DEFAULT_CRI_SOCKET.into(),
            name: "node".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    default_join(&mut j);
    yaml(&j)
}

/// `kubeadm config print reset-defaults`.
pub fn reset_defaults() -> anyhow::Result<String> {
    let mut r = v4::ResetConfiguration {
        cri_socket: DEFAULT_CRI_SOCKET.into(),
        ..Default::default()
    };
    default_reset(&mut r);
    yaml(&r)
}

/// `kubeadm config print upgrade-defaults`.
pub fn upgrade_defaults() -> anyhow::Result<String> {
    let mut u = v4::UpgradeConfiguration::default();
    default_upgrade(&mut u);
    yaml(&u)
}

/// `kubeadm config migrate`: every kubeadm document of the file in v1beta4, with upstream's
/// static defaults; an InitConfiguration always comes with its ClusterConfiguration.
pub fn migrate(docs: &Documents) -> anyhow::Result<String> {
    let mut out = Vec::new();
    if docs.init.is_some() || docs.cluster.is_some() {
        let mut init = docs.init.clone().unwrap_or_default();
        let mut cluster = docs.cluster.clone().unwrap_or_default();
        default_init(&mut init);
        default_cluster(&mut cluster);
        if docs.init.is_some() {
            out.push(yaml(&init)?);
        }
        out.push(yaml(&cluster)?);
    }
    if let Some(j) = &docs.join {
        let mut j = j.clone();
        default_join(&mut j);
        out.push(yaml(&j)?);
    }
    if let Some(r) = &docs.reset {
        let mut r = r.clone();
        default_reset(&mut r);
        out.push(yaml(&r)?);
    }
    if let Some(u) = &docs.upgrade {
        let mut u = u.clone();
        default_upgrade(&mut u);
        out.push(yaml(&u)?);
    }
    // Only kubeadm kinds are migrated (upstream's MigrateOldConfig): the component
    // configurations are left out, and a file without a kubeadm kind gives nothing.
    Ok(out.join("---\n"))
}

/// `kubeadm config validate`: the documents, defaulted, must pass validation.
pub fn validate(docs: &Documents) -> anyhow::Result<()> {
    if docs.init.is_some() || docs.cluster.is_some() {
        let mut init = docs.init.clone().unwrap_or_default();
        let mut cluster = docs.cluster.clone().unwrap_or_default();
        default_init(&mut init);
        default_cluster(&mut cluster);
        cluster.kubernetes_version =
            super::resolve_kubernetes_version(&cluster.kubernetes_version)?;
        super::validation::validate_init(&init, &cluster).map_err(|e| docs.locate(e))?;
    }
    if let Some(j) = &docs.join {
        let mut j = j.clone();
        default_join(&mut j);
        super::join::validate_join(&j).map_err(|e| docs.locate(e))?;
    }
    if let Some(r) = &docs.reset {
        super::validation::validate_reset(r).map_err(|e| docs.locate(e))?;
    }
    if let Some(u) = &docs.upgrade {
        super::validation::validate_upgrade(u).map_err(|e| docs.locate(e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_defaults_as_upstream_prints_them() {
        let expected = "apiVersion: kubeadm.k8s.io/v1beta4
bootstrapTokens:
- groups:
  - system:bootstrappers:kubeadm:default-node-token
  token: abcdef.0123456789abcdef
  ttl: 24h0m0s
  usages:
  - signing
  - authentication
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 1.2.3.4
  bindPort: 6443
nodeRegistration:
  criSocket: unix:///var/run/containerd/containerd.sock
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
  name: node
  taints: null
timeouts:
  controlPlaneComponentHealthCheck: 4m0s
  discovery: 5m0s
  etcdAPICall: 2m0s
  kubeletHealthCheck: 4m0s
  kubernetesAPICall: 1m0s
  tlsBootstrap: 5m0s
  upgradeManifests: 5m0s
---
apiServer: {}
apiVersion: kubeadm.k8s.io/v1beta4
caCertificateValidityPeriod: 87600h0m0s
certificateValidityPeriod: 8760h0m0s
certificatesDir: /etc/kubernetes/pki
clusterName: kubernetes
controllerManager: {}
dns: {}
encryptionAlgorithm: RSA-2048
etcd:
  local:
    dataDir: /var/lib/etcd
imageRepository: registry.k8s.io
kind: ClusterConfiguration
kubernetesVersion: 1.37.0
networking:
  dnsDomain: cluster.local
  serviceSubnet: 10.96.0.0/12
proxy: {}
scheduler: {}
";
        assert_eq!(init_defaults().unwrap(), expected);
    }
}

//! `kubeadm.k8s.io/v1beta3`: read, and converted to v1beta4 as upstream converts it
//! (extra-argument maps become sorted lists; `apiServer.timeoutForControlPlane` and
//! `discovery.timeout` move to `timeouts`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::v1beta4 as v4;
use crate::duration::GoDuration;

/// The API version.
pub const API_VERSION: &str = "kubeadm.k8s.io/v1beta3";

/// `InitConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InitConfiguration {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `bootstrapTokens`.
    #[serde(default)]
    pub bootstrap_tokens: Vec<v4::BootstrapToken>,
    /// `nodeRegistration`.
    #[serde(default)]
    pub node_registration: NodeRegistrationOptions,
    /// `localAPIEndpoint`.
    #[serde(default, rename = "localAPIEndpoint")]
    pub local_api_endpoint: v4::ApiEndpoint,
    /// `certificateKey`.
    #[serde(default)]
    pub certificate_key: String,
    /// `skipPhases`.
    #[serde(default)]
    pub skip_phases: Vec<String>,
    /// `patches`.
    #[serde(default)]
    pub patches: Option<v4::Patches>,
}

/// `NodeRegistrationOptions` with map-form `kubeletExtraArgs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeRegistrationOptions {
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `criSocket`.
    #[serde(default, rename = "criSocket")]
    pub cri_socket: String,
    /// `taints`.
    #[serde(default)]
    pub taints: Option<Vec<v4::Taint>>,
    /// `kubeletExtraArgs`.
    #[serde(default)]
    pub kubelet_extra_args: BTreeMap<String, String>,
    /// `ignorePreflightErrors`.
    #[serde(default)]
    pub ignore_preflight_errors: Vec<String>,
    /// `imagePullPolicy`.
    #[serde(default)]
    pub image_pull_policy: String,
}

/// `ClusterConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterConfiguration {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `etcd`.
    #[serde(default)]
    pub etcd: Etcd,
    /// `networking`.
    #[serde(default)]
    pub networking: v4::Networking,
    /// `kubernetesVersion`.
    #[serde(default)]
    pub kubernetes_version: String,
    /// `controlPlaneEndpoint`.
    #[serde(default)]
    pub control_plane_endpoint: String,
    /// `apiServer`.
    #[serde(default)]
    pub api_server: ApiServer,
    /// `controllerManager`.
    #[serde(default)]
    pub controller_manager: ControlPlaneComponent,
    /// `scheduler`.
    #[serde(default)]
    pub scheduler: ControlPlaneComponent,
    /// `dns`.
    #[serde(default)]
    pub dns: ImageMeta,
    /// `certificatesDir`.
    #[serde(default)]
    pub certificates_dir: String,
    /// `imageRepository`.
    #[serde(default)]
    pub image_repository: String,
    /// `featureGates`.
    #[serde(default)]
    pub feature_gates: BTreeMap<String, bool>,
    /// `clusterName`.
    #[serde(default)]
    pub cluster_name: String,
}

/// `ControlPlaneComponent` with map-form `extraArgs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControlPlaneComponent {
    /// `extraArgs`.
    #[serde(default)]
    pub extra_args: BTreeMap<String, String>,
    /// `extraVolumes`.
    #[serde(default)]
    pub extra_volumes: Vec<v4::HostPathMount>,
}

/// `APIServer`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiServer {
    /// `extraArgs`.
    #[serde(default)]
    pub extra_args: BTreeMap<String, String>,
    /// `extraVolumes`.
    #[serde(default)]
    pub extra_volumes: Vec<v4::HostPathMount>,
    /// `certSANs`.
    #[serde(default, rename = "certSANs")]
    pub cert_sans: Vec<String>,
    /// `timeoutForControlPlane`.
    #[serde(default)]
    pub timeout_for_control_plane: Option<GoDuration>,
}

/// `ImageMeta` (the DNS add-on's image).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageMeta {
    /// `imageRepository`.
    #[serde(default)]
    pub image_repository: String,
    /// `imageTag`.
    #[serde(default)]
    pub image_tag: String,
}

/// `Etcd`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Etcd {
    /// `local`.
    #[serde(default)]
    pub local: Option<LocalEtcd>,
    /// `external`.
    #[serde(default)]
    pub external: Option<ExternalEtcd>,
}

/// `ExternalEtcd`: v1beta3 has no `httpEndpoints`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalEtcd {
    /// `endpoints`.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// `caFile`.
    #[serde(default)]
    pub ca_file: String,
    /// `certFile`.
    #[serde(default)]
    pub cert_file: String,
    /// `keyFile`.
    #[serde(default)]
    pub key_file: String,
}

/// `LocalEtcd` with map-form `extraArgs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalEtcd {
    /// `imageRepository`.
    #[serde(default)]
    pub image_repository: String,
    /// `imageTag`.
    #[serde(default)]
    pub image_tag: String,
    /// `dataDir`.
    #[serde(default)]
    pub data_dir: String,
    /// `extraArgs`.
    #[serde(default)]
    pub extra_args: BTreeMap<String, String>,
    /// `serverCertSANs`.
    #[serde(default, rename = "serverCertSANs")]
    pub server_cert_sans: Vec<String>,
    /// `peerCertSANs`.
    #[serde(default, rename = "peerCertSANs")]
    pub peer_cert_sans: Vec<String>,
}

/// `JoinConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JoinConfiguration {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `nodeRegistration`.
    #[serde(default)]
    pub node_registration: NodeRegistrationOptions,
    /// `caCertPath`.
    #[serde(default)]
    pub ca_cert_path: String,
    /// `discovery`.
    #[serde(default)]
    pub discovery: Discovery,
    /// `controlPlane`.
    #[serde(default)]
    pub control_plane: Option<v4::JoinControlPlane>,
    /// `skipPhases`.
    #[serde(default)]
    pub skip_phases: Vec<String>,
    /// `patches`.
    #[serde(default)]
    pub patches: Option<v4::Patches>,
}

/// `Discovery` with its own `timeout`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Discovery {
    /// `bootstrapToken`.
    #[serde(default)]
    pub bootstrap_token: Option<v4::BootstrapTokenDiscovery>,
    /// `file`.
    #[serde(default)]
    pub file: Option<v4::FileDiscovery>,
    /// `tlsBootstrapToken`.
    #[serde(default, rename = "tlsBootstrapToken")]
    pub tls_bootstrap_token: String,
    /// `timeout`.
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// A map of flags as a list sorted by name.
fn args(map: BTreeMap<String, String>) -> Vec<v4::Arg> {
    map.into_iter()
        .map(|(name, value)| v4::Arg { name, value })
        .collect()
}

fn node_registration(n: NodeRegistrationOptions) -> v4::NodeRegistrationOptions {
    v4::NodeRegistrationOptions {
        cri_socket: n.cri_socket,
        ignore_preflight_errors: n.ignore_preflight_errors,
        image_pull_policy: n.image_pull_policy,
        image_pull_serial: None,
        kubelet_extra_args: args(n.kubelet_extra_args),
        name: n.name,
        taints: n.taints,
    }
}

impl InitConfiguration {
    /// The v1beta4 form. `timeoutForControlPlane` lives in the ClusterConfiguration in
    /// v1beta3 and is passed in.
    pub fn into_v1beta4(self, control_plane_timeout: Option<GoDuration>) -> v4::InitConfiguration {
        v4::InitConfiguration {
            api_version: v4::API_VERSION.into(),
            bootstrap_tokens: self.bootstrap_tokens,
            certificate_key: self.certificate_key,
            dry_run: false,
            kind: "InitConfiguration".into(),
            local_api_endpoint: self.local_api_endpoint,
            node_registration: node_registration(self.node_registration),
            patches: self.patches,
            skip_phases: self.skip_phases,
            timeouts: control_plane_timeout.map(|t| v4::Timeouts {
                control_plane_component_health_check: Some(t),
                ..v4::Timeouts::default()
            }),
        }
    }
}

impl ClusterConfiguration {
    /// The v1beta4 form.
    pub fn into_v1beta4(self) -> v4::ClusterConfiguration {
        let component = |c: ControlPlaneComponent| v4::ControlPlaneComponent {
            extra_args: args(c.extra_args),
            extra_envs: vec![],
            extra_volumes: c.extra_volumes,
        };
        v4::ClusterConfiguration {
            api_server: v4::ApiServer {
                cert_sans: self.api_server.cert_sans,
                extra_args: args(self.api_server.extra_args),
                extra_envs: vec![],
                extra_volumes: self.api_server.extra_volumes,
            },
            api_version: v4::API_VERSION.into(),
            ca_certificate_validity_period: None,
            certificate_validity_period: None,
            certificates_dir: self.certificates_dir,
            cluster_name: self.cluster_name,
            control_plane_endpoint: self.control_plane_endpoint,
            controller_manager: component(self.controller_manager),
            dns: v4::Dns {
                disabled: false,
                image_repository: self.dns.image_repository,
                image_tag: self.dns.image_tag,
            },
            encryption_algorithm: String::new(),
            etcd: v4::Etcd {
                external: self.etcd.external.map(|x| v4::ExternalEtcd {
                    ca_file: x.ca_file,
                    cert_file: x.cert_file,
                    endpoints: x.endpoints,
                    http_endpoints: vec![],
                    key_file: x.key_file,
                }),
                local: self.etcd.local.map(|l| v4::LocalEtcd {
                    data_dir: l.data_dir,
                    extra_args: args(l.extra_args),
                    extra_envs: vec![],
                    image_repository: l.image_repository,
                    image_tag: l.image_tag,
                    peer_cert_sans: l.peer_cert_sans,
                    server_cert_sans: l.server_cert_sans,
                }),
            },
            feature_gates: self.feature_gates,
            image_repository: self.image_repository,
            kind: "ClusterConfiguration".into(),
            kubernetes_version: self.kubernetes_version,
            networking: self.networking,
            proxy: v4::Proxy::default(),
            scheduler: component(self.scheduler),
        }
    }
}

impl JoinConfiguration {
    /// The v1beta4 form.
    pub fn into_v1beta4(self) -> v4::JoinConfiguration {
        v4::JoinConfiguration {
            api_version: v4::API_VERSION.into(),
            ca_cert_path: self.ca_cert_path,
            control_plane: self.control_plane,
            discovery: v4::Discovery {
                bootstrap_token: self.discovery.bootstrap_token,
                file: self.discovery.file,
                tls_bootstrap_token: self.discovery.tls_bootstrap_token,
            },
            dry_run: false,
            kind: "JoinConfiguration".into(),
            node_registration: node_registration(self.node_registration),
            patches: self.patches,
            skip_phases: self.skip_phases,
            timeouts: self.discovery.timeout.map(|t| v4::Timeouts {
                discovery: Some(t),
                ..v4::Timeouts::default()
            }),
        }
    }
}

//! `kubeadm.k8s.io/v1beta4`: the configuration file format, field for field as upstream's
//! `apis/kubeadm/v1beta4` (plus `bootstraptoken/v1`). Fields are declared in the order
//! upstream writes them (alphabetical), unknown fields are errors, as upstream's strict
//! decoding.

use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;

/// The API version.
pub const API_VERSION: &str = "kubeadm.k8s.io/v1beta4";

/// How a secret shows in `Debug` output: a bootstrap token keeps its public id.
fn masked(secret: &str) -> String {
    match secret.split_once('.') {
        _ if secret.is_empty() => String::new(),
        Some((id, _)) => format!("{id}.<secret>"),
        None => "<secret>".into(),
    }
}

impl std::fmt::Debug for InitConfiguration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitConfiguration")
            .field("bootstrap_tokens", &self.bootstrap_tokens)
            .field("certificate_key", &masked(&self.certificate_key))
            .field("dry_run", &self.dry_run)
            .field("local_api_endpoint", &self.local_api_endpoint)
            .field("node_registration", &self.node_registration)
            .field("patches", &self.patches)
            .field("skip_phases", &self.skip_phases)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl std::fmt::Debug for JoinControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinControlPlane")
            .field("certificate_key", &masked(&self.certificate_key))
            .field("local_api_endpoint", &self.local_api_endpoint)
            .finish()
    }
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("bootstrap_token", &self.bootstrap_token)
            .field("file", &self.file)
            .field("tls_bootstrap_token", &masked(&self.tls_bootstrap_token))
            .finish()
    }
}

impl std::fmt::Debug for BootstrapTokenDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapTokenDiscovery")
            .field("api_server_endpoint", &self.api_server_endpoint)
            .field("ca_cert_hashes", &self.ca_cert_hashes)
            .field("token", &masked(&self.token))
            .field(
                "unsafe_skip_ca_verification",
                &self.unsafe_skip_ca_verification,
            )
            .finish()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `InitConfiguration`.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InitConfiguration {
    /// `apiVersion`.
    pub api_version: String,
    /// `bootstrapTokens`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_tokens: Vec<BootstrapToken>,
    /// `certificateKey`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificate_key: String,
    /// `dryRun`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// `kind`.
    pub kind: String,
    /// `localAPIEndpoint`.
    #[serde(default, rename = "localAPIEndpoint")]
    pub local_api_endpoint: ApiEndpoint,
    /// `nodeRegistration`.
    #[serde(default)]
    pub node_registration: NodeRegistrationOptions,
    /// `patches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Patches>,
    /// `skipPhases`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_phases: Vec<String>,
    /// `timeouts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
}

/// `ClusterConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterConfiguration {
    /// `apiServer`.
    #[serde(default)]
    pub api_server: ApiServer,
    /// `apiVersion`.
    pub api_version: String,
    /// `caCertificateValidityPeriod`.
    #[serde(
        default,
        rename = "caCertificateValidityPeriod",
        skip_serializing_if = "Option::is_none"
    )]
    pub ca_certificate_validity_period: Option<GoDuration>,
    /// `certificateValidityPeriod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_validity_period: Option<GoDuration>,
    /// `certificatesDir`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificates_dir: String,
    /// `clusterName`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    /// `controlPlaneEndpoint`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub control_plane_endpoint: String,
    /// `controllerManager`.
    #[serde(default)]
    pub controller_manager: ControlPlaneComponent,
    /// `dns`.
    #[serde(default)]
    pub dns: Dns,
    /// `encryptionAlgorithm`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub encryption_algorithm: String,
    /// `etcd`.
    #[serde(default)]
    pub etcd: Etcd,
    /// `featureGates`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub feature_gates: std::collections::BTreeMap<String, bool>,
    /// `imageRepository`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_repository: String,
    /// `kind`.
    pub kind: String,
    /// `kubernetesVersion`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kubernetes_version: String,
    /// `networking`.
    #[serde(default)]
    pub networking: Networking,
    /// `proxy`.
    #[serde(default)]
    pub proxy: Proxy,
    /// `scheduler`.
    #[serde(default)]
    pub scheduler: ControlPlaneComponent,
}

/// `ControlPlaneComponent`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControlPlaneComponent {
    /// `extraArgs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<Arg>,
    /// `extraEnvs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_envs: Vec<EnvVar>,
    /// `extraVolumes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_volumes: Vec<HostPathMount>,
}

/// `APIServer`: a control-plane component with extra certificate SANs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiServer {
    /// `certSANs`.
    #[serde(default, rename = "certSANs", skip_serializing_if = "Vec::is_empty")]
    pub cert_sans: Vec<String>,
    /// `extraArgs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<Arg>,
    /// `extraEnvs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_envs: Vec<EnvVar>,
    /// `extraVolumes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_volumes: Vec<HostPathMount>,
}

/// `DNS`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Dns {
    /// `disabled`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// `imageRepository`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_repository: String,
    /// `imageTag`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_tag: String,
}

/// `Proxy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Proxy {
    /// `disabled`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
}

/// `APIEndpoint`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiEndpoint {
    /// `advertiseAddress`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub advertise_address: String,
    /// `bindPort`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bind_port: i32,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// `NodeRegistrationOptions`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeRegistrationOptions {
    /// `criSocket`.
    #[serde(
        default,
        rename = "criSocket",
        skip_serializing_if = "String::is_empty"
    )]
    pub cri_socket: String,
    /// `ignorePreflightErrors`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
    /// `imagePullPolicy`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_pull_policy: String,
    /// `imagePullSerial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_serial: Option<bool>,
    /// `kubeletExtraArgs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubelet_extra_args: Vec<Arg>,
    /// `name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `taints`: `None` (written as `null`) means "the default for the node's role";
    /// an empty list means no taints.
    #[serde(default)]
    pub taints: Option<Vec<Taint>>,
}

/// A core/v1 `Taint`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Taint {
    /// `effect`.
    pub effect: String,
    /// `key`.
    pub key: String,
    /// `timeAdded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
    /// `value`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// `Networking`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Networking {
    /// `dnsDomain`.
    #[serde(
        default,
        rename = "dnsDomain",
        skip_serializing_if = "String::is_empty"
    )]
    pub dns_domain: String,
    /// `podSubnet`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_subnet: String,
    /// `serviceSubnet`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_subnet: String,
}

/// `Etcd`: `local` and `external` exclude each other.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Etcd {
    /// `external`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalEtcd>,
    /// `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalEtcd>,
}

/// `LocalEtcd`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalEtcd {
    /// `dataDir`.
    #[serde(default)]
    pub data_dir: String,
    /// `extraArgs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<Arg>,
    /// `extraEnvs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_envs: Vec<EnvVar>,
    /// `imageRepository`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_repository: String,
    /// `imageTag`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_tag: String,
    /// `peerCertSANs`.
    #[serde(
        default,
        rename = "peerCertSANs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub peer_cert_sans: Vec<String>,
    /// `serverCertSANs`.
    #[serde(
        default,
        rename = "serverCertSANs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub server_cert_sans: Vec<String>,
}

/// `ExternalEtcd`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalEtcd {
    /// `caFile`.
    #[serde(default)]
    pub ca_file: String,
    /// `certFile`.
    #[serde(default)]
    pub cert_file: String,
    /// `endpoints`.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// `httpEndpoints`: where etcd answers HTTP (`/version`, `/health`, `/metrics`) when it
    /// serves it apart from gRPC (etcd's `--listen-client-http-urls`); empty: `endpoints`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_endpoints: Vec<String>,
    /// `keyFile`.
    #[serde(default)]
    pub key_file: String,
}

/// `Arg`: one command-line flag of a component; repeats are allowed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arg {
    /// `name`, without leading dashes.
    pub name: String,
    /// `value`.
    #[serde(default)]
    pub value: String,
}

/// `EnvVar` (core/v1): `valueFrom` is kept as written.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvVar {
    /// `name`.
    pub name: String,
    /// `value`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// `valueFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<serde_yaml_ng::Value>,
}

/// `HostPathMount`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostPathMount {
    /// `hostPath`.
    pub host_path: String,
    /// `mountPath`.
    pub mount_path: String,
    /// `name`.
    pub name: String,
    /// `pathType`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_type: String,
    /// `readOnly`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

/// `Patches`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Patches {
    /// `directory`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub directory: String,
}

/// `Timeouts`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Timeouts {
    /// `controlPlaneComponentHealthCheck`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_component_health_check: Option<GoDuration>,
    /// `discovery`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<GoDuration>,
    /// `etcdAPICall`.
    #[serde(
        default,
        rename = "etcdAPICall",
        skip_serializing_if = "Option::is_none"
    )]
    pub etcd_api_call: Option<GoDuration>,
    /// `kubeletHealthCheck`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_health_check: Option<GoDuration>,
    /// `kubernetesAPICall`.
    #[serde(
        default,
        rename = "kubernetesAPICall",
        skip_serializing_if = "Option::is_none"
    )]
    pub kubernetes_api_call: Option<GoDuration>,
    /// `tlsBootstrap`.
    #[serde(
        default,
        rename = "tlsBootstrap",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_bootstrap: Option<GoDuration>,
    /// `upgradeManifests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_manifests: Option<GoDuration>,
}

/// `BootstrapToken` (`bootstraptoken/v1`). Its `token` is a secret.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BootstrapToken {
    /// `description`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `expires` (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `groups`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// `token`; empty means "generate one".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// `ttl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<GoDuration>,
    /// `usages`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usages: Vec<String>,
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapToken")
            .field("token", &masked(&self.token))
            .field("ttl", &self.ttl)
            .field("usages", &self.usages)
            .field("groups", &self.groups)
            .finish()
    }
}

/// `JoinConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JoinConfiguration {
    /// `apiVersion`.
    pub api_version: String,
    /// `caCertPath`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_cert_path: String,
    /// `controlPlane`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<JoinControlPlane>,
    /// `discovery`.
    #[serde(default)]
    pub discovery: Discovery,
    /// `dryRun`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// `kind`.
    pub kind: String,
    /// `nodeRegistration`.
    #[serde(default)]
    pub node_registration: NodeRegistrationOptions,
    /// `patches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Patches>,
    /// `skipPhases`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_phases: Vec<String>,
    /// `timeouts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
}

/// `JoinControlPlane`.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JoinControlPlane {
    /// `certificateKey`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificate_key: String,
    /// `localAPIEndpoint`.
    #[serde(default, rename = "localAPIEndpoint")]
    pub local_api_endpoint: ApiEndpoint,
}

/// `Discovery`: `bootstrapToken` and `file` exclude each other.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Discovery {
    /// `bootstrapToken`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_token: Option<BootstrapTokenDiscovery>,
    /// `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileDiscovery>,
    /// `tlsBootstrapToken`.
    #[serde(
        default,
        rename = "tlsBootstrapToken",
        skip_serializing_if = "String::is_empty"
    )]
    pub tls_bootstrap_token: String,
}

/// `BootstrapTokenDiscovery`.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BootstrapTokenDiscovery {
    /// `apiServerEndpoint`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_server_endpoint: String,
    /// `caCertHashes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_cert_hashes: Vec<String>,
    /// `token`.
    #[serde(default)]
    pub token: String,
    /// `unsafeSkipCAVerification`.
    #[serde(
        default,
        rename = "unsafeSkipCAVerification",
        skip_serializing_if = "is_false"
    )]
    pub unsafe_skip_ca_verification: bool,
}

/// `FileDiscovery`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileDiscovery {
    /// `kubeConfigPath`.
    pub kube_config_path: String,
}

/// `ResetConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetConfiguration {
    /// `apiVersion`.
    pub api_version: String,
    /// `certificatesDir`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificates_dir: String,
    /// `cleanupTmpDir`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_tmp_dir: bool,
    /// `criSocket`.
    #[serde(
        default,
        rename = "criSocket",
        skip_serializing_if = "String::is_empty"
    )]
    pub cri_socket: String,
    /// `dryRun`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// `force`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// `ignorePreflightErrors`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
    /// `kind`.
    pub kind: String,
    /// `skipPhases`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_phases: Vec<String>,
    /// `timeouts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    /// `unmountFlags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmount_flags: Vec<String>,
}

/// `UpgradeConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpgradeConfiguration {
    /// `apiVersion`.
    pub api_version: String,
    /// `apply`.
    #[serde(default)]
    pub apply: UpgradeApplyConfiguration,
    /// `diff`.
    #[serde(default)]
    pub diff: UpgradeDiffConfiguration,
    /// `kind`.
    pub kind: String,
    /// `node`.
    #[serde(default)]
    pub node: UpgradeNodeConfiguration,
    /// `plan`.
    #[serde(default)]
    pub plan: UpgradePlanConfiguration,
    /// `timeouts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
}

/// `UpgradeApplyConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpgradeApplyConfiguration {
    /// `allowExperimentalUpgrades`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_experimental_upgrades: Option<bool>,
    /// `allowRCUpgrades`.
    #[serde(
        default,
        rename = "allowRCUpgrades",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_rc_upgrades: Option<bool>,
    /// `certificateRenewal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_renewal: Option<bool>,
    /// `dryRun`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// `etcdUpgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_upgrade: Option<bool>,
    /// `forceUpgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_upgrade: Option<bool>,
    /// `ignorePreflightErrors`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
    /// `imagePullPolicy`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_pull_policy: String,
    /// `imagePullSerial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_serial: Option<bool>,
    /// `kubernetesVersion`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kubernetes_version: String,
    /// `patches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Patches>,
    /// `printConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print_config: Option<bool>,
    /// `skipPhases`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_phases: Vec<String>,
}

/// `UpgradeDiffConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpgradeDiffConfiguration {
    /// `contextLines`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub context_lines: i32,
    /// `kubernetesVersion`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kubernetes_version: String,
}

/// `UpgradeNodeConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpgradeNodeConfiguration {
    /// `certificateRenewal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_renewal: Option<bool>,
    /// `dryRun`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// `etcdUpgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_upgrade: Option<bool>,
    /// `ignorePreflightErrors`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
    /// `imagePullPolicy`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_pull_policy: String,
    /// `imagePullSerial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_serial: Option<bool>,
    /// `patches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Patches>,
    /// `skipPhases`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_phases: Vec<String>,
}

/// `UpgradePlanConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpgradePlanConfiguration {
    /// `allowExperimentalUpgrades`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_experimental_upgrades: Option<bool>,
    /// `allowRCUpgrades`.
    #[serde(
        default,
        rename = "allowRCUpgrades",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_rc_upgrades: Option<bool>,
    /// `dryRun`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// `etcdUpgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_upgrade: Option<bool>,
    /// `ignorePreflightErrors`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
    /// `kubernetesVersion`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kubernetes_version: String,
    /// `printConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print_config: Option<bool>,
}

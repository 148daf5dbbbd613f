//! Upstream's defaults (`apis/kubeadm/v1beta4/defaults.go`, `constants`) and the building of
//! an [`InitConfiguration`] from them and the command-line flags.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::*;
use crate::duration::GoDuration;
use crate::host::Host;

/// `certificatesDir` default.
pub const DEFAULT_CERTIFICATES_DIR: &str = "/etc/kubernetes/pki";
/// `imageRepository` default.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "registry.k8s.io";
/// `networking.serviceSubnet` default.
pub const DEFAULT_SERVICE_SUBNET: &str = "10.96.0.0/12";
/// `networking.dnsDomain` default.
pub const DEFAULT_DNS_DOMAIN: &str = "cluster.local";
/// `localAPIEndpoint.bindPort` default.
pub const DEFAULT_API_BIND_PORT: u16 = 6443;
/// `clusterName` default.
pub const DEFAULT_CLUSTER_NAME: &str = "kubernetes";
/// `etcd.local.dataDir` default.
pub const DEFAULT_ETCD_DATA_DIR: &str = "/var/lib/etcd";
/// `certificateValidityPeriod` default: one year.
pub const DEFAULT_CERTIFICATE_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// `caCertificateValidityPeriod` default: ten years.
pub const DEFAULT_CA_CERTIFICATE_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Values from the command line that override the configuration.
#[derive(Debug, Default, Clone)]
pub struct InitOverrides {
    /// `--apiserver-advertise-address`.
    pub advertise_address: Option<String>,
    /// `--apiserver-bind-port`.
    pub bind_port: Option<u16>,
    /// `--apiserver-cert-extra-sans`.
    pub cert_sans: Vec<String>,
    /// `--cert-dir`.
    pub cert_dir: Option<PathBuf>,
    /// `--control-plane-endpoint`.
    pub control_plane_endpoint: Option<String>,
    /// `--cri-socket`.
    pub cri_socket: Option<String>,
    /// `--image-repository`.
    pub image_repository: Option<String>,
    /// `--kubernetes-version`.
    pub kubernetes_version: Option<String>,
    /// `--node-name`.
    pub node_name: Option<String>,
    /// `--pod-network-cidr`.
    pub pod_subnet: Option<String>,
    /// `--service-cidr`.
    pub service_subnet: Option<String>,
    /// `--service-dns-domain`.
    pub dns_domain: Option<String>,
    /// `--feature-gates`, parsed.
    pub feature_gates: std::collections::BTreeMap<String, bool>,
    /// `--token`: the first bootstrap token.
    pub token: Option<String>,
    /// `--token-ttl`.
    pub token_ttl: Option<Duration>,
    /// `--certificate-key`.
    pub certificate_key: Option<String>,
    /// `--patches`.
    pub patches: Option<PathBuf>,
    /// `--ignore-preflight-errors`.
    pub ignore_preflight_errors: Vec<String>,
}

/// Default bootstrap token TTL.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Default bootstrap token usages.
pub const DEFAULT_TOKEN_USAGES: [&str; 2] = ["signing", "authentication"];
/// Default bootstrap token group.
pub const DEFAULT_TOKEN_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
/// The oldest control-plane minor version this release deploys (one below its own).
pub const MINIMUM_CONTROL_PLANE_MINOR: u32 = 36;

fn some_duration(d: &mut Option<GoDuration>, default: Duration) {
    if d.is_none() {
        *d = Some(GoDuration(default));
    }
}

/// Upstream's `SetDefaults_Timeouts`.
pub fn default_timeouts(t: &mut v1beta4::Timeouts) {
    let m = |n: u64| Duration::from_secs(n * 60);
    some_duration(&mut t.control_plane_component_health_check, m(4));
    some_duration(&mut t.kubelet_health_check, m(4));
    some_duration(&mut t.kubernetes_api_call, m(1));
    some_duration(&mut t.etcd_api_call, m(2));
    some_duration(&mut t.tls_bootstrap, m(5));
    some_duration(&mut t.discovery, m(5));
    some_duration(&mut t.upgrade_manifests, m(5));
}

/// Upstream's `SetDefaults_NodeRegistration`.
pub fn default_node_registration(n: &mut v1beta4::NodeRegistrationOptions) {
    if n.image_pull_policy.is_empty() {
        n.image_pull_policy = "IfNotPresent".into();
    }
    if n.image_pull_serial.is_none() {
        n.image_pull_serial = Some(true);
    }
}

/// Upstream's `SetDefaults_InitConfiguration` (static defaults only).
pub fn default_init(init: &mut v1beta4::InitConfiguration) {
    init.api_version = v1beta4::API_VERSION.into();
    init.kind = "InitConfiguration".into();
    if init.bootstrap_tokens.is_empty() {
        init.bootstrap_tokens
            .push(v1beta4::BootstrapToken::default());
    }
    for t in &mut init.bootstrap_tokens {
        if t.ttl.is_none() && t.expires.is_none() {
            t.ttl = Some(GoDuration(DEFAULT_TOKEN_TTL));
        }
        if t.usages.is_empty() {
            t.usages = DEFAULT_TOKEN_USAGES.iter().map(|s| s.to_string()).collect();
        }
        if t.groups.is_empty() {
            t.groups = vec![DEFAULT_TOKEN_GROUP.into()];
        }
    }
    if init.local_api_endpoint.bind_port == 0 {
        init.local_api_endpoint.bind_port = DEFAULT_API_BIND_PORT as i32;
    }
    default_node_registration(&mut init.node_registration);
    default_timeouts(init.timeouts.get_or_insert_with(Default::default));
}

/// Upstream's `SetDefaults_ClusterConfiguration`.
pub fn default_cluster(c: &mut v1beta4::ClusterConfiguration) {
    c.api_version = v1beta4::API_VERSION.into();
    c.kind = "ClusterConfiguration".into();
    let set = |f: &mut String, v: &str| {
        if f.is_empty() {
            *f = v.to_string();
        }
    };
    set(&mut c.kubernetes_version, "stable-1");
    set(&mut c.networking.service_subnet, DEFAULT_SERVICE_SUBNET);
    set(&mut c.networking.dns_domain, DEFAULT_DNS_DOMAIN);
    set(&mut c.certificates_dir, DEFAULT_CERTIFICATES_DIR);
    set(&mut c.image_repository, DEFAULT_IMAGE_REPOSITORY);
    set(&mut c.cluster_name, DEFAULT_CLUSTER_NAME);
    set(
        &mut c.encryption_algorithm,
        EncryptionAlgorithm::Rsa2048.as_str(),
    );
    some_duration(
        &mut c.certificate_validity_period,
        DEFAULT_CERTIFICATE_VALIDITY,
    );
    some_duration(
        &mut c.ca_certificate_validity_period,
        DEFAULT_CA_CERTIFICATE_VALIDITY,
    );
    if c.etcd.local.is_none() && c.etcd.external.is_none() {
        c.etcd.local = Some(v1beta4::LocalEtcd::default());
    }
    if let Some(local) = &mut c.etcd.local {
        set(&mut local.data_dir, DEFAULT_ETCD_DATA_DIR);
    }
}

/// Parses `--feature-gates a=true,b=false`.
pub fn parse_feature_gates(text: &str) -> anyhow::Result<std::collections::BTreeMap<String, bool>> {
    let mut out = std::collections::BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            anyhow::anyhow!(
                "--feature-gates: missing bool value for {pair:?}; use Name=true or Name=false"
            )
        })?;
        let v = v.trim().parse::<bool>().map_err(|_| {
            anyhow::anyhow!("--feature-gates: invalid value of {k}: {v:?}, expected true or false")
        })?;
        out.insert(k.trim().to_string(), v);
    }
    Ok(out)
}

/// Binds the command-line flags onto the v1beta4 documents, as upstream binds its flags to
/// the versioned configuration.
pub fn apply_overrides(
    init: &mut v1beta4::InitConfiguration,
    cluster: &mut v1beta4::ClusterConfiguration,
    o: &InitOverrides,
) {
    let put = |field: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            *field = v.clone();
        }
    };
    put(
        &mut init.local_api_endpoint.advertise_address,
        &o.advertise_address,
    );
    if let Some(p) = o.bind_port {
        init.local_api_endpoint.bind_port = p as i32;
    }
    if !o.cert_sans.is_empty() {
        cluster.api_server.cert_sans = o.cert_sans.clone();
    }
    if let Some(d) = &o.cert_dir {
        cluster.certificates_dir = d.display().to_string();
    }
    put(
        &mut cluster.control_plane_endpoint,
        &o.control_plane_endpoint,
    );
    put(&mut init.node_registration.cri_socket, &o.cri_socket);
    put(&mut cluster.image_repository, &o.image_repository);
    put(&mut cluster.kubernetes_version, &o.kubernetes_version);
    put(&mut init.node_registration.name, &o.node_name);
    put(&mut cluster.networking.pod_subnet, &o.pod_subnet);
    put(&mut cluster.networking.service_subnet, &o.service_subnet);
    put(&mut cluster.networking.dns_domain, &o.dns_domain);
    cluster.feature_gates.extend(o.feature_gates.clone());
    if o.token.is_some() || o.token_ttl.is_some() {
        if init.bootstrap_tokens.is_empty() {
            init.bootstrap_tokens
                .push(v1beta4::BootstrapToken::default());
        }
        let first = &mut init.bootstrap_tokens[0];
        put(&mut first.token, &o.token);
        if let Some(ttl) = o.token_ttl {
            first.ttl = Some(GoDuration(ttl));
        }
    }
    put(&mut init.certificate_key, &o.certificate_key);
    if let Some(p) = &o.patches {
        init.patches = Some(v1beta4::Patches {
            directory: p.display().to_string(),
        });
    }
    // The flag adds to the configuration's list, as upstream merges the two.
    let list = &mut init.node_registration.ignore_preflight_errors;
    for name in &o.ignore_preflight_errors {
        if !list.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            list.push(name.clone());
        }
    }
}

/// Resolves a `kubernetesVersion` value: a version (`v1.37.1`, `1.37.1`) is normalised; a
/// release label (`stable`, `stable-1`, `latest`, ...) resolves to the release this build
/// implements, as upstream does when it cannot or need not ask the release server.
pub fn resolve_kubernetes_version(v: &str) -> anyhow::Result<String> {
    let labels = ["stable", "stable-1", "latest", "latest-1"];
    if labels.contains(&v) || v.starts_with("stable-1.") || v.starts_with("latest-1.") {
        return Ok(crate::version::KUBERNETES_VERSION.to_string());
    }
    let bare = v.strip_prefix('v').unwrap_or(v);
    let core = bare.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<_> = core.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
        anyhow::bail!(
            "ClusterConfiguration.kubernetesVersion: Invalid value: {v:?}: not a Kubernetes version (for example v1.37.1) or release label (stable-1)"
        );
    }
    Ok(format!("v{bare}"))
}

/// Builds the configuration of `kubeadm init`: the file's documents (or none), the flags
/// bound onto them, upstream's defaults, the host-dependent defaults (node name from the
/// host name, advertise address from the default route), validation, and the typed view.
pub fn init_configuration(
    host: &dyn Host,
    docs: Option<&super::documents::Documents>,
    o: &InitOverrides,
) -> anyhow::Result<InitConfiguration> {
    let mut init = docs.and_then(|d| d.init.clone()).unwrap_or_default();
    let mut cluster = docs.and_then(|d| d.cluster.clone()).unwrap_or_default();
    apply_overrides(&mut init, &mut cluster, o);
    default_init(&mut init);
    default_cluster(&mut cluster);

    if init.node_registration.name.is_empty() {
        init.node_registration.name = host
            .hostname()
            .context("reading the host name for the node name (set --node-name or nodeRegistration.name)")?
            .to_lowercase();
    }
    let socket = &mut init.node_registration.cri_socket;
    if socket.is_empty() {
        *socket = crate::cri::detect_cri_socket(host)?;
        tracing::info!("detected and using CRI socket: {socket}");
    } else if socket.starts_with('/') {
        tracing::warn!(
            "Usage of CRI endpoints without URL scheme is deprecated and can cause kubelet errors in the future. Automatically prepending scheme \"unix\" to the \"criSocket\" with value {socket:?}. Please update your configuration!"
        );
        *socket = format!("unix://{socket}");
    }
    let advertise_address = if init.local_api_endpoint.advertise_address.is_empty() {
        let a = default_advertise_address(host)?;
        init.local_api_endpoint.advertise_address = a.to_string();
        a
    } else {
        let a = &init.local_api_endpoint.advertise_address;
        a.parse::<IpAddr>().map_err(|_| {
            anyhow::anyhow!(
                "InitConfiguration.localAPIEndpoint.advertiseAddress: Invalid value: {a:?}: not an IP address; give an address of this machine such as 192.168.1.10"
            )
        })?
    };
    cluster.kubernetes_version = resolve_kubernetes_version(&cluster.kubernetes_version)?;
    super::validation::validate_init(&init, &cluster).map_err(|e| match docs {
        Some(d) => d.locate(e),
        None => e,
    })?;
    // As upstream: an endpoint without a port gets the API server's, in the configuration
    // uploaded to the cluster as well.
    if let Ok((host, None)) = super::parse_host_port(&cluster.control_plane_endpoint) {
        cluster.control_plane_endpoint =
            super::join_host_port(&host, init.local_api_endpoint.bind_port as u16);
    }

    let etcd = match (&cluster.etcd.local, &cluster.etcd.external) {
        (_, Some(ext)) => Etcd::External(ExternalEtcd {
            endpoints: ext.endpoints.clone(),
            ca_file: ext.ca_file.clone().into(),
            cert_file: ext.cert_file.clone().into(),
            key_file: ext.key_file.clone().into(),
        }),
        (local, None) => {
            let local = local.clone().unwrap_or_default();
            Etcd::Local(LocalEtcd {
                data_dir: local.data_dir.into(),
                server_cert_sans: local.server_cert_sans,
                peer_cert_sans: local.peer_cert_sans,
            })
        }
    };
    let duration = |d: Option<GoDuration>, default| d.map(|d| d.0).unwrap_or(default);
    Ok(InitConfiguration {
        cluster: ClusterConfiguration {
            kubernetes_version: cluster.kubernetes_version.clone(),
            control_plane_endpoint: cluster.control_plane_endpoint.clone(),
            networking: Networking {
                service_subnet: cluster.networking.service_subnet.clone(),
                pod_subnet: cluster.networking.pod_subnet.clone(),
                dns_domain: cluster.networking.dns_domain.clone(),
            },
            api_server: ApiServer {
                cert_sans: cluster.api_server.cert_sans.clone(),
            },
            etcd,
            certificates_dir: cluster.certificates_dir.clone().into(),
            image_repository: cluster.image_repository.clone(),
            cluster_name: cluster.cluster_name.clone(),
            encryption_algorithm: EncryptionAlgorithm::parse(&cluster.encryption_algorithm)
                .unwrap_or_default(),
            certificate_validity_period: duration(
                cluster.certificate_validity_period,
                DEFAULT_CERTIFICATE_VALIDITY,
            ),
            ca_certificate_validity_period: duration(
                cluster.ca_certificate_validity_period,
                DEFAULT_CA_CERTIFICATE_VALIDITY,
            ),
        },
        node_registration: NodeRegistration {
            name: init.node_registration.name.clone(),
            cri_socket: init.node_registration.cri_socket.clone(),
        },
        local_api_endpoint: ApiEndpoint {
            advertise_address,
            bind_port: init.local_api_endpoint.bind_port as u16,
        },
        versioned: Versioned {
            init,
            cluster,
            kubelet: docs.and_then(|d| d.kubelet.clone()),
            kube_proxy: docs.and_then(|d| d.kube_proxy.clone()),
        },
    })
}

/// The IPv4 address of the interface that holds the default route, as upstream's
/// `ChooseHostInterface`: the route with the lowest metric in `/proc/net/route`, then the
/// first global unicast address of its interface.
pub fn default_advertise_address(host: &dyn Host) -> anyhow::Result<IpAddr> {
    let routes = host
        .read_to_string(std::path::Path::new("/proc/net/route"))
        .context("reading the routing table to choose the advertise address (set --apiserver-advertise-address)")?;
    let iface = default_route_interface(&routes).ok_or_else(|| {
        anyhow::anyhow!(
            "no default route found in /proc/net/route, so no advertise address can be chosen; set --apiserver-advertise-address or localAPIEndpoint.advertiseAddress"
        )
    })?;
    host.interface_addresses()
        .into_iter()
        .filter(|(name, _)| *name == iface)
        .map(|(_, a)| a)
        .find(|a| matches!(a, IpAddr::V4(v4) if is_global_unicast(v4)))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the default-route interface {iface} has no global IPv4 address; set --apiserver-advertise-address or localAPIEndpoint.advertiseAddress"
            )
        })
}

fn is_global_unicast(a: &Ipv4Addr) -> bool {
    !(a.is_loopback()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_unspecified())
}

/// The interface of the default route with the lowest metric.
fn default_route_interface(table: &str) -> Option<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
            (f.len() >= 8 && f[1] == "00000000" && f[7] == "00000000")
                .then(|| (f[6].parse::<u32>().unwrap_or(u32::MAX), f[0].to_string()))
        })
        .min()
        .map(|(_, iface)| iface)
}

/// A configuration for tests: node `node1`, advertise address 192.0.2.10, every other
/// value upstream's default.
#[doc(hidden)]
pub fn test_config() -> InitConfiguration {
    struct NoHost;
    impl Host for NoHost {
        fn read(&self, p: &std::path::Path) -> Result<Vec<u8>, crate::host::HostError> {
            Err(crate::host::HostError::Io {
                path: p.into(),
                error: std::io::ErrorKind::NotFound.into(),
            })
        }
        fn metadata(
            &self,
            _: &std::path::Path,
        ) -> Result<Option<crate::host::FileMeta>, crate::host::HostError> {
            Ok(None)
        }
        fn read_dir(&self, p: &std::path::Path) -> Result<Vec<String>, crate::host::HostError> {
            self.read(p).map(|_| vec![])
        }
        fn write_file(
            &self,
            p: &std::path::Path,
            _: &[u8],
            _: u32,
            _: crate::host::Sensitivity,
        ) -> Result<(), crate::host::HostError> {
            self.read(p).map(|_| ())
        }
        fn create_dir_all(
            &self,
            p: &std::path::Path,
            _: u32,
        ) -> Result<(), crate::host::HostError> {
            self.read(p).map(|_| ())
        }
        fn remove_file(&self, _: &std::path::Path) -> Result<(), crate::host::HostError> {
            Ok(())
        }
        fn remove_dir_all(&self, _: &std::path::Path) -> Result<(), crate::host::HostError> {
            Ok(())
        }
        fn run(
            &self,
            c: &crate::host::HostCommand,
        ) -> Result<crate::host::CommandOutput, crate::host::HostError> {
            Err(crate::host::HostError::Spawn {
                command: c.to_string(),
                error: std::io::ErrorKind::NotFound.into(),
            })
        }
        fn port_in_use(&self, _: std::net::SocketAddr) -> bool {
            false
        }
        fn hostname(&self) -> Result<String, crate::host::HostError> {
            Ok("node1".into())
        }
        fn is_privileged(&self) -> bool {
            false
        }
        fn interface_addresses(&self) -> Vec<(String, IpAddr)> {
            vec![]
        }
        fn mounts_under(
            &self,
            _: &std::path::Path,
        ) -> Result<Vec<std::path::PathBuf>, crate::host::HostError> {
            Ok(vec![])
        }
        fn unmount(&self, p: &std::path::Path, _: i32) -> Result<(), crate::host::HostError> {
            self.read(p).map(|_| ())
        }
    }
    init_configuration(
        &NoHost,
        None,
        &InitOverrides {
            advertise_address: Some("192.0.2.10".into()),
            ..InitOverrides::default()
        },
    )
    .expect("the test configuration is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_route_with_lowest_metric_wins() {
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n\
eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(default_route_interface(table).as_deref(), Some("eth0"));
        assert_eq!(default_route_interface("Iface\tDestination\n"), None);
    }
}

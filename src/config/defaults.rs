//! Upstream's defaults (`apis/kubeadm/v1beta4/defaults.go`, `constants`) and the building of
//! an [`InitConfiguration`] from them and the command-line flags.

use std::net::IpAddr;
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
pub const DEFAULT_TOKEN_GROUP: &str = crate::token::NODE_BOOTSTRAP_GROUP;
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

/// Upstream's `SetDefaults_JoinConfiguration`.
pub fn default_join(j: &mut v1beta4::JoinConfiguration) {
    j.api_version = v1beta4::API_VERSION.into();
    j.kind = "JoinConfiguration".into();
    if j.ca_cert_path.is_empty() {
        j.ca_cert_path = "/etc/kubernetes/pki/ca.crt".into();
    }
    if let Some(cp) = &mut j.control_plane {
        if cp.local_api_endpoint.bind_port == 0 {
            cp.local_api_endpoint.bind_port = DEFAULT_API_BIND_PORT as i32;
        }
    }
    if j.discovery.tls_bootstrap_token.is_empty() {
        if let Some(bt) = &j.discovery.bootstrap_token {
            j.discovery.tls_bootstrap_token = bt.token.clone();
        }
    }
    if let Some(f) = &mut j.discovery.file {
        if let Some(path) = f.kube_config_path.strip_prefix("file://") {
            f.kube_config_path = path.to_string();
        }
    }
    default_node_registration(&mut j.node_registration);
    default_timeouts(j.timeouts.get_or_insert_with(Default::default));
}

/// Upstream's `SetDefaults_ResetConfiguration`.
pub fn default_reset(r: &mut v1beta4::ResetConfiguration) {
    r.api_version = v1beta4::API_VERSION.into();
    r.kind = "ResetConfiguration".into();
    if r.certificates_dir.is_empty() {
        r.certificates_dir = DEFAULT_CERTIFICATES_DIR.into();
    }
    default_timeouts(r.timeouts.get_or_insert_with(Default::default));
}

/// Upstream's `SetDefaults_UpgradeConfiguration`.
pub fn default_upgrade(u: &mut v1beta4::UpgradeConfiguration) {
    u.api_version = v1beta4::API_VERSION.into();
    u.kind = "UpgradeConfiguration".into();
    u.node.etcd_upgrade.get_or_insert(true);
    u.node.certificate_renewal.get_or_insert(true);
    if u.node.image_pull_policy.is_empty() {
        u.node.image_pull_policy = "IfNotPresent".into();
    }
    u.node.image_pull_serial.get_or_insert(true);
    u.apply.etcd_upgrade.get_or_insert(true);
    u.apply.certificate_renewal.get_or_insert(true);
    if u.apply.image_pull_policy.is_empty() {
        u.apply.image_pull_policy = "IfNotPresent".into();
    }
    u.apply.image_pull_serial.get_or_insert(true);
    u.plan.etcd_upgrade.get_or_insert(true);
    default_timeouts(u.timeouts.get_or_insert_with(Default::default));
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
/// release label (`stable`, `stable-1`, `stable-1.36`, `latest`, ...) is fetched from
/// upstream's release server as upstream does, falling back to the release this build
/// implements, with upstream's warnings, when the server cannot be reached
/// ([`crate::releases::label`]).
pub fn resolve_kubernetes_version(v: &str) -> anyhow::Result<String> {
    match crate::releases::label::resolve(v)? {
        Some(version) => Ok(version),
        None => anyhow::bail!(
            "ClusterConfiguration.kubernetesVersion: Invalid value: {v:?}: not a Kubernetes version (for example v1.37.1) or release label (stable-1)"
        ),
    }
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
    let given = &init.local_api_endpoint.advertise_address;
    let given = if given.is_empty() {
        None
    } else {
        Some(given.parse::<IpAddr>().map_err(|_| {
            anyhow::anyhow!(
                "InitConfiguration.localAPIEndpoint.advertiseAddress: Invalid value: {given:?}: not an IP address; give an address of this machine such as 192.168.1.10"
            )
        })?)
    };
    // As upstream (its ChooseAPIServerBindAddress): none, 0.0.0.0 or :: stands for the
    // address of the default route's interface, of the same family first.
    let advertise_address = match given {
        Some(a) if !a.is_unspecified() => a,
        _ => {
            let a = default_advertise_address(host, given.is_some_and(|a| a.is_ipv6()))?;
            init.local_api_endpoint.advertise_address = a.to_string();
            a
        }
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
            http_endpoints: ext.http_endpoints.clone(),
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
            // The removed PublicKeysECDSA gate, when set, wins over encryptionAlgorithm, as
            // upstream's EncryptionAlgorithmType() did while it existed (up to v1.36).
            encryption_algorithm: match cluster.feature_gates.get("PublicKeysECDSA") {
                Some(true) => EncryptionAlgorithm::EcdsaP256,
                Some(false) => EncryptionAlgorithm::Rsa2048,
                None => {
                    EncryptionAlgorithm::parse(&cluster.encryption_algorithm).unwrap_or_default()
                }
            },
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

/// The address of this machine that upstream's `ChooseHostInterface` picks (used for an
/// advertise address that is absent or unspecified): for each address family in order
/// (IPv4 first, or IPv6 first when `ipv6_first`), each default route of that family in
/// the order the kernel lists them, the first global unicast address of that family on
/// the route's interface, else on a loopback interface (where some routed setups put the
/// node's address). Without a routing table, the first such address of any interface
/// that is not a loopback one. (Upstream also skips interfaces that are down; the
/// addresses read here do not say, and a down interface holds no default route.)
///
/// A routing table without any default route is no error, as upstream's
/// `ChooseAPIServerBindAddress` has it: a warning, and `0.0.0.0`.
pub fn default_advertise_address(host: &dyn Host, ipv6_first: bool) -> anyhow::Result<IpAddr> {
    let v4 = match host.read_to_string(std::path::Path::new("/proc/net/route")) {
        Ok(t) => Some(t),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            return Err(e).context(
                "reading the routing table to choose the advertise address (set --apiserver-advertise-address)",
            )
        }
    };
    // The IPv6 table is optional, as upstream reads it.
    let v6 = host
        .read_to_string(std::path::Path::new("/proc/net/ipv6_route"))
        .unwrap_or_default();
    let chosen = choose_host_address(
        v4.as_deref().map(|v4| (v4, v6.as_str())),
        &host.interface_addresses(),
        ipv6_first,
    )
    .map_err(|why| {
        anyhow::anyhow!(
            "{why}; set --apiserver-advertise-address or localAPIEndpoint.advertiseAddress"
        )
    })?;
    Ok(chosen.unwrap_or_else(|| {
        tracing::warn!(
            "WARNING: could not obtain a bind address for the API Server: no default routes found in \"/proc/net/route\" or \"/proc/net/ipv6_route\"; using: 0.0.0.0"
        );
        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    }))
}

/// [`default_advertise_address`] on the routing tables (`/proc/net/route` and
/// `/proc/net/ipv6_route`, `None` when the machine has none) and the interfaces'
/// addresses; `Ok(None)` when the tables hold no default route.
fn choose_host_address(
    routes: Option<(&str, &str)>,
    addresses: &[(String, IpAddr)],
    ipv6_first: bool,
) -> Result<Option<IpAddr>, String> {
    let families = if ipv6_first {
        [true, false]
    } else {
        [false, true]
    };
    let loopback: Vec<&str> = addresses
        .iter()
        .filter(|(_, a)| a.is_loopback())
        .map(|(name, _)| name.as_str())
        .collect();
    let first_on = |is_v6: bool, on: &dyn Fn(&str) -> bool| {
        addresses
            .iter()
            .find(|(name, a)| on(name) && a.is_ipv6() == is_v6 && is_global_unicast(a))
            .map(|(_, a)| *a)
    };
    let Some((v4, v6)) = routes else {
        return families
            .into_iter()
            .find_map(|is_v6| first_on(is_v6, &|name| !loopback.contains(&name)))
            .map(Some)
            .ok_or_else(|| "no interface has a global unicast address".to_string());
    };
    let routes: Vec<(bool, &str)> = default_routes_v4(v4)
        .into_iter()
        .map(|i| (false, i))
        .chain(default_routes_v6(v6).into_iter().map(|i| (true, i)))
        .collect();
    if routes.is_empty() {
        return Ok(None);
    }
    families
        .into_iter()
        .flat_map(|is_v6| {
            routes
                .iter()
                .filter(move |(v6, _)| *v6 == is_v6)
                .map(move |(_, iface)| (is_v6, *iface))
        })
        .find_map(|(is_v6, iface)| {
            first_on(is_v6, &|name| name == iface)
                .or_else(|| first_on(is_v6, &|name| loopback.contains(&name)))
        })
        .map(Some)
        .ok_or_else(|| {
            let ifaces: Vec<&str> = routes.iter().map(|(_, i)| *i).collect();
            format!(
                "the default routes' interfaces ({}) have no global unicast address",
                ifaces.join(", ")
            )
        })
}

/// Go's `IP.IsGlobalUnicast`.
fn is_global_unicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The interfaces of the IPv4 default routes (destination 0.0.0.0), in table order.
fn default_routes_v4(table: &str) -> Vec<&str> {
    table
        .lines()
        .filter(|l| !l.starts_with("Iface"))
        .filter_map(|l| {
            // Iface Destination Gateway ...
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[1] == "00000000").then_some(f[0])
        })
        .collect()
}

/// The interfaces of the IPv6 default routes (destination ::, through a gateway), in
/// table order.
fn default_routes_v6(table: &str) -> Vec<&str> {
    const ZERO: &str = "00000000000000000000000000000000";
    table
        .lines()
        .filter_map(|l| {
            // Destination prefix-length source prefix-length next-hop metric ... iface
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 10 && f[0] == ZERO && f[4] != ZERO).then_some(f[9])
        })
        .collect()
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
        fn is_symlink(&self, _: &std::path::Path) -> Result<bool, crate::host::HostError> {
            Ok(false)
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
            // A version rather than the default label: tests do not ask the release server.
            kubernetes_version: Some(crate::version::KUBERNETES_VERSION.into()),
            ..InitOverrides::default()
        },
    )
    .expect("the test configuration is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4_HEADER: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    fn addrs(list: &[(&str, &str)]) -> Vec<(String, IpAddr)> {
        list.iter()
            .map(|(i, a)| (i.to_string(), a.parse().unwrap()))
            .collect()
    }

    /// This machine's kind of tables: one IPv4 and one IPv6 default route on eth0, the
    /// interface holding a link-local address before its global ones.
    #[test]
    fn the_default_routes_interface_gives_the_address_of_the_family_asked_first() {
        let v4 = format!(
            "{V4_HEADER}eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        );
        let v6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        let a = addrs(&[
            ("lo", "127.0.0.1"),
            ("lo", "::1"),
            ("eth0", "fe80::fc:ff:fe00:1"),
            ("eth0", "192.0.2.2"),
            ("eth0", "fd00::2"),
        ]);
        let pick = |ipv6_first| choose_host_address(Some((&v4, v6)), &a, ipv6_first);
        assert_eq!(pick(false), Ok(Some("192.0.2.2".parse().unwrap())));
        assert_eq!(pick(true), Ok(Some("fd00::2".parse().unwrap())));
        // Without an IPv6 default route, IPv6 first falls back to IPv4; the unreachable
        // route of lo (no gateway) is no default route.
        let v6_lo_only = v6.lines().nth(2).unwrap();
        assert_eq!(
            choose_host_address(Some((&v4, v6_lo_only)), &a, true),
            Ok(Some("192.0.2.2".parse().unwrap()))
        );
        // Only an IPv6 default route: IPv4 first falls back to it.
        assert_eq!(
            choose_host_address(Some((V4_HEADER, v6)), &a, false),
            Ok(Some("fd00::2".parse().unwrap()))
        );
    }

    /// The routes in the order the kernel lists them, as upstream reads them; a route's
    /// interface without a global address of the family gives the loopback interface's.
    #[test]
    fn routes_are_taken_in_table_order_then_loopback() {
        let v4 = format!(
            "{V4_HEADER}eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n\
eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
        );
        let a = addrs(&[("eth0", "10.0.0.5"), ("eth1", "192.168.1.5")]);
        assert_eq!(
            choose_host_address(Some((&v4, "")), &a, false),
            Ok(Some("192.168.1.5".parse().unwrap()))
        );
        // RFC 5549 style: the routes' interfaces have link-local addresses only, the
        // node's address is on lo.
        let a = addrs(&[
            ("lo", "127.0.0.1"),
            ("lo", "203.0.113.7"),
            ("eth0", "169.254.0.9"),
            ("eth1", "fe80::1"),
        ]);
        assert_eq!(
            choose_host_address(Some((&v4, "")), &a, false),
            Ok(Some("203.0.113.7".parse().unwrap()))
        );
        let e = choose_host_address(Some((&v4, "")), &addrs(&[("eth0", "169.254.0.9")]), false)
            .unwrap_err();
        assert!(
            e.contains("(eth1, eth0) have no global unicast address"),
            "{e}"
        );
        // No default route at all: upstream's warning and 0.0.0.0, decided by the caller.
        assert_eq!(
            choose_host_address(Some((V4_HEADER, "")), &a, false),
            Ok(None)
        );
    }

    /// Without a routing table, the first global address of an interface that is not a
    /// loopback one.
    #[test]
    fn without_a_routing_table_any_interface_but_loopback() {
        let a = addrs(&[
            ("lo", "127.0.0.1"),
            ("lo", "203.0.113.7"),
            ("eth0", "fd00::9"),
            ("eth1", "198.51.100.4"),
        ]);
        assert_eq!(
            choose_host_address(None, &a, false),
            Ok(Some("198.51.100.4".parse().unwrap()))
        );
        assert_eq!(
            choose_host_address(None, &a, true),
            Ok(Some("fd00::9".parse().unwrap()))
        );
        let only_lo = addrs(&[("lo", "127.0.0.1"), ("lo", "203.0.113.7")]);
        assert!(choose_host_address(None, &only_lo, false).is_err());
    }
}

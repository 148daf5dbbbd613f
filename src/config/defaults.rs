//! Upstream's defaults (`apis/kubeadm/v1beta4/defaults.go`, `constants`) and the building of
//! an [`InitConfiguration`] from them and the command-line flags.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::*;
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
}

/// Builds the configuration of `kubeadm init` from upstream's defaults and the flags, asking
/// the host for what the defaults depend on (host name, default-route address).
pub fn init_configuration(host: &dyn Host, o: &InitOverrides) -> anyhow::Result<InitConfiguration> {
    let node_name = match &o.node_name {
        Some(n) => n.clone(),
        None => host
            .hostname()
            .context("reading the host name for the node name (set --node-name)")?
            .to_lowercase(),
    };
    let advertise_address = match &o.advertise_address {
        Some(a) => a.parse::<IpAddr>().map_err(|_| {
            anyhow::anyhow!(
                "--apiserver-advertise-address {a:?} is not an IP address; give an address of this machine such as 192.168.1.10"
            )
        })?,
        None => default_advertise_address(host)?,
    };
    let version = o
        .kubernetes_version
        .clone()
        .unwrap_or_else(|| crate::version::KUBERNETES_VERSION.to_string());
    Ok(InitConfiguration {
        cluster: ClusterConfiguration {
            kubernetes_version: version,
            control_plane_endpoint: o.control_plane_endpoint.clone().unwrap_or_default(),
            networking: Networking {
                service_subnet: o
                    .service_subnet
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SERVICE_SUBNET.into()),
                pod_subnet: o.pod_subnet.clone().unwrap_or_default(),
                dns_domain: o
                    .dns_domain
                    .clone()
                    .unwrap_or_else(|| DEFAULT_DNS_DOMAIN.into()),
            },
            api_server: ApiServer {
                cert_sans: o.cert_sans.clone(),
            },
            etcd: Etcd::Local(LocalEtcd {
                data_dir: DEFAULT_ETCD_DATA_DIR.into(),
                ..LocalEtcd::default()
            }),
            certificates_dir: o
                .cert_dir
                .clone()
                .unwrap_or_else(|| DEFAULT_CERTIFICATES_DIR.into()),
            image_repository: o
                .image_repository
                .clone()
                .unwrap_or_else(|| DEFAULT_IMAGE_REPOSITORY.into()),
            cluster_name: DEFAULT_CLUSTER_NAME.into(),
            encryption_algorithm: EncryptionAlgorithm::default(),
            certificate_validity_period: DEFAULT_CERTIFICATE_VALIDITY,
            ca_certificate_validity_period: DEFAULT_CA_CERTIFICATE_VALIDITY,
        },
        node_registration: NodeRegistration {
            name: node_name,
            cri_socket: o.cri_socket.clone().unwrap_or_default(),
        },
        local_api_endpoint: ApiEndpoint {
            advertise_address,
            bind_port: o.bind_port.unwrap_or(DEFAULT_API_BIND_PORT),
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

/// A configuration for tests: node `node1`, advertise address 192.0.2.10.
#[doc(hidden)]
pub fn test_config() -> InitConfiguration {
    InitConfiguration {
        cluster: ClusterConfiguration {
            kubernetes_version: crate::version::KUBERNETES_VERSION.into(),
            control_plane_endpoint: String::new(),
            networking: Networking {
                service_subnet: DEFAULT_SERVICE_SUBNET.into(),
                pod_subnet: String::new(),
                dns_domain: DEFAULT_DNS_DOMAIN.into(),
            },
            api_server: ApiServer::default(),
            etcd: Etcd::Local(LocalEtcd {
                data_dir: DEFAULT_ETCD_DATA_DIR.into(),
                ..LocalEtcd::default()
            }),
            certificates_dir: DEFAULT_CERTIFICATES_DIR.into(),
            image_repository: DEFAULT_IMAGE_REPOSITORY.into(),
            cluster_name: DEFAULT_CLUSTER_NAME.into(),
            encryption_algorithm: EncryptionAlgorithm::Rsa2048,
            certificate_validity_period: DEFAULT_CERTIFICATE_VALIDITY,
            ca_certificate_validity_period: DEFAULT_CA_CERTIFICATE_VALIDITY,
        },
        node_registration: NodeRegistration {
            name: "node1".into(),
            cri_socket: String::new(),
        },
        local_api_endpoint: ApiEndpoint {
            advertise_address: "192.0.2.10".parse().unwrap(),
            bind_port: DEFAULT_API_BIND_PORT,
        },
    }
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

//! The local etcd static Pod (stacked etcd on a control-plane node).

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Pod};

use super::args::{self, arg};
use super::{
    component_pod, host_path_volume, liveness_probe, merge_env, readiness_probe, requests,
    startup_probe, volume_mount, ProbeTarget, DEFAULT_HEALTH_CHECK_TIMEOUT_SECS, PROBE_PORT,
};
use crate::config::v1beta4::Arg;
use crate::config::{join_host_port, InitConfiguration};
use crate::images;

/// The annotation listing the client URL this etcd member advertises.
pub const ADVERTISE_CLIENT_URLS_ANNOTATION: &str =
    "kubeadm.kubernetes.io/etcd.advertise-client-urls";

/// etcd's client port.
pub const CLIENT_PORT: u16 = 2379;
/// etcd's peer port.
pub const PEER_PORT: u16 = 2380;
/// etcd's metrics (and health) port.
pub const METRICS_PORT: u16 = 2381;

/// An existing member of the etcd cluster a new member joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's name (its node name).
    pub name: String,
    /// Its peer URL.
    pub peer_url: String,
}

/// `https://<advertise address>:2379`.
pub fn client_url(addr: &IpAddr) -> String {
    format!("https://{}", join_host_port(&addr.to_string(), CLIENT_PORT))
}

/// `https://<advertise address>:2380`.
pub fn peer_url(addr: &IpAddr) -> String {
    format!("https://{}", join_host_port(&addr.to_string(), PEER_PORT))
}

fn localhost(addr: &IpAddr) -> &'static str {
    if addr.is_ipv6() {
        "::1"
    } else {
        "127.0.0.1"
    }
}

fn extra_args(cfg: &InitConfiguration) -> &[Arg] {
    cfg.versioned
        .cluster
        .etcd
        .local
        .as_ref()
        .map(|l| l.extra_args.as_slice())
        .unwrap_or_default()
}

fn data_dir(cfg: &InitConfiguration) -> String {
    match &cfg.cluster.etcd {
        crate::config::Etcd::Local(l) => l.data_dir.display().to_string(),
        crate::config::Etcd::External(_) => "/var/lib/etcd".to_string(),
    }
}

/// The etcd command line for this node; `initial_cluster` lists the existing members when
/// the node joins an existing etcd cluster (this node included), and is empty for a new one.
pub fn command(cfg: &InitConfiguration, initial_cluster: &[Member]) -> Vec<String> {
    let ep = &cfg.local_api_endpoint.advertise_address;
    let cert = |name: &str| {
        cfg.cluster
            .certificates_dir
            .join(name)
            .display()
            .to_string()
    };
    let local = localhost(ep);
    let name = &cfg.node_registration.name;
    let mut defaults: Vec<Arg> = vec![
        arg("name", name),
        arg(
            "listen-client-urls",
            format!(
                "https://{},{}",
                join_host_port(local, CLIENT_PORT),
                client_url(ep)
            ),
        ),
        arg("advertise-client-urls", client_url(ep)),
        arg("listen-peer-urls", peer_url(ep)),
        arg("initial-advertise-peer-urls", peer_url(ep)),
        arg("data-dir", data_dir(cfg)),
        arg("cert-file", cert("etcd/server.crt")),
        arg("key-file", cert("etcd/server.key")),
        arg("trusted-ca-file", cert("etcd/ca.crt")),
        arg("client-cert-auth", "true"),
        arg("peer-cert-file", cert("etcd/peer.crt")),
        arg("peer-key-file", cert("etcd/peer.key")),
        arg("peer-trusted-ca-file", cert("etcd/ca.crt")),
        arg("peer-client-cert-auth", "true"),
        arg("snapshot-count", "10000"),
        arg(
            "listen-metrics-urls",
            format!("http://{}", join_host_port(local, METRICS_PORT)),
        ),
    ];
    // etcd 3.6's spelling whatever the image tag, as upstream since v1.36 (#135701): etcd
    // older than 3.6 is no longer in the version map, so a custom older `imageTag` gets
    // these flags too.
    defaults.push(arg("feature-gates", "InitialCorruptCheck=true"));
    defaults.push(arg("watch-progress-notify-interval", "5s"));
    if initial_cluster.is_empty() {
        args::set(
            &mut defaults,
            "initial-cluster",
            format!("{name}={}", peer_url(ep)),
        );
    } else {
        let members: Vec<String> = initial_cluster
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect();
        args::set(&mut defaults, "initial-cluster", members.join(","));
        args::set(&mut defaults, "initial-cluster-state", "existing");
    }
    let mut command = vec!["etcd".to_string()];
    command.extend(args::to_command(&defaults, extra_args(cfg)));
    command
}

/// Where the probes reach etcd: the first of the user's `listen-metrics-urls` when given,
/// else plain HTTP on the loopback metrics port.
fn probe_endpoint(cfg: &InitConfiguration) -> (ProbeTarget, i32) {
    let local = localhost(&cfg.local_api_endpoint.advertise_address).to_string();
    let default = (
        ProbeTarget {
            host: local.clone(),
            scheme: "HTTP",
        },
        i32::from(METRICS_PORT),
    );
    let Some(urls) = args::get(extra_args(cfg), "listen-metrics-urls") else {
        return default;
    };
    let first = urls.split(',').next().unwrap_or_default();
    let Some((scheme, rest)) = first.split_once("://") else {
        return default;
    };
    let hostport = rest.split('/').next().unwrap_or_default();
    let (host, port) = crate::config::split_host_port(hostport);
    (
        ProbeTarget {
            host: if host.is_empty() { local } else { host },
            scheme: if scheme == "https" { "HTTPS" } else { "HTTP" },
        },
        port.map(i32::from).unwrap_or(i32::from(METRICS_PORT)),
    )
}

/// The etcd static Pod.
/// etcd gets only its own `extraEnvs`, not the host's proxy settings, as upstream.
pub fn pod(cfg: &InitConfiguration, initial_cluster: &[Member]) -> Pod {
    let data = data_dir(cfg);
    let certs = cfg
        .cluster
        .certificates_dir
        .join("etcd")
        .display()
        .to_string();
    let volumes = BTreeMap::from([
        (
            "etcd-data".to_string(),
            host_path_volume("etcd-data", &data, Some("DirectoryOrCreate")),
        ),
        (
            "etcd-certs".to_string(),
            host_path_volume("etcd-certs", &certs, Some("DirectoryOrCreate")),
        ),
    ]);
    let (target, port) = probe_endpoint(cfg);
    let timeout = cfg
        .versioned
        .init
        .timeouts
        .as_ref()
        .and_then(|t| t.control_plane_component_health_check.as_ref())
        .map(|d| d.0.as_secs())
        .unwrap_or(DEFAULT_HEALTH_CHECK_TIMEOUT_SECS);
    let extra_envs = cfg
        .versioned
        .cluster
        .etcd
        .local
        .as_ref()
        .map(|l| l.extra_envs.as_slice())
        .unwrap_or_default();
    let env = merge_env(&[], extra_envs);
    let container = Container {
        name: "etcd".to_string(),
        command: Some(command(cfg, initial_cluster)),
        image: Some(images::etcd_image(cfg)),
        image_pull_policy: Some("IfNotPresent".to_string()),
        volume_mounts: Some(vec![
            volume_mount("etcd-data", &data, false),
            volume_mount("etcd-certs", &certs, false),
        ]),
        resources: Some(requests("100m", Some("100Mi"))),
        liveness_probe: Some(liveness_probe(&target, "/livez")),
        readiness_probe: Some(readiness_probe(&target, "/readyz")),
        startup_probe: Some(startup_probe(&target, "/readyz", timeout)),
        env: (!env.is_empty()).then_some(env),
        ports: Some(vec![ContainerPort {
            name: Some(PROBE_PORT.to_string()),
            container_port: port,
            protocol: Some("TCP".to_string()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    component_pod(
        container,
        volumes,
        BTreeMap::from([(
            ADVERTISE_CLIENT_URLS_ANNOTATION.to_string(),
            client_url(&cfg.local_api_endpoint.advertise_address),
        )]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_experimental_flags_are_gone_even_for_an_older_image_tag() {
        for tag in ["", "3.5.21-0", "3.6.11-0", "3.7.0-0"] {
            let mut cfg = crate::config::test_config();
            let local = cfg
                .versioned
                .cluster
                .etcd
                .local
                .get_or_insert_with(Default::default);
            local.image_tag = tag.into();
            assert!(images::etcd_image(&cfg).ends_with(&format!(":{tag}")) || tag.is_empty());
            let cmd = command(&cfg, &[]);
            assert!(
                cmd.contains(&"--feature-gates=InitialCorruptCheck=true".to_string())
                    && cmd.contains(&"--watch-progress-notify-interval=5s".to_string()),
                "{tag}: {cmd:?}"
            );
            assert!(
                !cmd.iter().any(|a| a.starts_with("--experimental-")),
                "{tag}: {cmd:?}"
            );
        }
    }
}

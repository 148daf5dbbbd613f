//! The control-plane static Pods: kube-apiserver, kube-controller-manager, kube-scheduler,
//! with upstream's flags, probes, volumes and annotations.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Pod, Volume, VolumeMount};

use super::args::{self, arg};
use super::{
    component_pod, host_path_volume, liveness_probe, merge_env, probe_address, readiness_probe,
    requests, startup_probe, volume_mount, ProbeTarget, DEFAULT_HEALTH_CHECK_TIMEOUT_SECS,
    PROBE_PORT,
};
use crate::config::v1beta4::{Arg, HostPathMount};
use crate::config::{join_host_port, Etcd, InitConfiguration};
use crate::host::Host;
use crate::images;

/// The control-plane components, in the order upstream writes them.
pub const COMPONENTS: [&str; 3] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];

/// The annotation that tells which address and port this node's API server advertises.
pub const ADVERTISE_ADDRESS_ANNOTATION: &str =
    "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint";

/// The controller-manager's secure port.
pub const CONTROLLER_MANAGER_PORT: i32 = 10257;
/// The scheduler's secure port.
pub const SCHEDULER_PORT: i32 = 10259;
/// The etcd client port.
pub const ETCD_CLIENT_PORT: u16 = 2379;

const CA_CERTS_VOLUME: (&str, &str) = ("ca-certs", "/etc/ssl/certs");

/// Directories `/etc/ssl/certs` may link into on some distributions; each one that exists
/// on the host is mounted too, named after its path.
const DISTRO_CA_DIRS: [&str; 5] = [
    "/etc/pki/ca-trust",
    "/etc/pki/tls/certs",
    "/etc/ca-certificates",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
];

/// What a control-plane Pod needs besides the configuration.
pub struct Context<'a> {
    /// The host, for the directories that may or may not exist.
    pub host: &'a dyn Host,
    /// The host's proxy variables, passed to every component.
    pub proxy_env: &'a [(String, String)],
    /// Where the kubeconfig files live (`/etc/kubernetes`).
    pub kubeconfig_dir: &'a Path,
}

/// The hostPath volumes and mounts of one component, unique by name and sorted by it.
#[derive(Default)]
struct Mounts {
    volumes: BTreeMap<String, Volume>,
    mounts: BTreeMap<String, VolumeMount>,
}

impl Mounts {
    fn add(&mut self, name: &str, host_path: &str, mount_path: &str, ro: bool, kind: &str) {
        self.volumes.insert(
            name.to_string(),
            host_path_volume(name, host_path, Some(kind)),
        );
        self.mounts
            .insert(name.to_string(), volume_mount(name, mount_path, ro));
    }

    /// `extraVolumes`: a name already used replaces the default volume.
    fn add_extra(&mut self, extra: &[HostPathMount]) {
        for v in extra {
            self.add(
                &v.name,
                &v.host_path,
                &v.mount_path,
                v.read_only,
                &v.path_type,
            );
        }
    }
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Whether the CA's key is absent while its certificate exists: the external CA mode, in
/// which the controller-manager must not try to sign.
pub fn using_external_ca(host: &dyn Host, cert_dir: &Path) -> bool {
    let exists = |name: &str| host.exists(&cert_dir.join(name)).unwrap_or(false);
    exists("ca.crt") && !exists("ca.key")
}

/// The directories holding an external etcd's client files that are not mounted already
/// (the certificates directory and the system CA directories are), parents absorbing
/// their children, sorted.
fn external_etcd_cert_dirs(files: &[&Path], cert_dir: &str) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    for f in files {
        let dir = match f.parent() {
            Some(d) if !d.as_os_str().is_empty() => path_str(d),
            _ => continue,
        };
        let mounted = dir.starts_with(CA_CERTS_VOLUME.1)
            || dir.starts_with(cert_dir)
            || DISTRO_CA_DIRS.iter().any(|p| dir.starts_with(p));
        if mounted {
            continue;
        }
        if dirs.iter().any(|d| dir.starts_with(d.as_str())) {
            continue;
        }
        dirs.retain(|d| !d.starts_with(dir.as_str()));
        dirs.push(dir);
    }
    dirs.sort();
    dirs
}

fn mounts_for(component: &str, cfg: &InitConfiguration, ctx: &Context<'_>) -> Mounts {
    let cluster = &cfg.versioned.cluster;
    let cert_dir = path_str(&cfg.cluster.certificates_dir);
    let mut m = Mounts::default();
    let dir_or_create = "DirectoryOrCreate";
    let file_or_create = "FileOrCreate";
    let distro_dirs = |m: &mut Mounts| {
        for dir in DISTRO_CA_DIRS {
            if ctx.host.exists(Path::new(dir)).unwrap_or(false) {
                let name = dir.trim_start_matches('/').replace('/', "-");
                m.add(&name, dir, dir, true, dir_or_create);
            }
        }
    };
    match component {
        "kube-apiserver" => {
            m.add("k8s-certs", &cert_dir, &cert_dir, true, dir_or_create);
            m.add(
                CA_CERTS_VOLUME.0,
                CA_CERTS_VOLUME.1,
                CA_CERTS_VOLUME.1,
                true,
                dir_or_create,
            );
            if let Etcd::External(ext) = &cfg.cluster.etcd {
                let files = [
                    ext.ca_file.as_path(),
                    ext.cert_file.as_path(),
                    ext.key_file.as_path(),
                ];
                for (i, dir) in external_etcd_cert_dirs(&files, &cert_dir)
                    .iter()
                    .enumerate()
                {
                    m.add(&format!("etcd-certs-{i}"), dir, dir, true, dir_or_create);
                }
            }
            distro_dirs(&mut m);
            m.add_extra(&cluster.api_server.extra_volumes);
        }
        "kube-controller-manager" => {
            m.add("k8s-certs", &cert_dir, &cert_dir, true, dir_or_create);
            m.add(
                CA_CERTS_VOLUME.0,
                CA_CERTS_VOLUME.1,
                CA_CERTS_VOLUME.1,
                true,
                dir_or_create,
            );
            let kubeconfig = path_str(&ctx.kubeconfig_dir.join("controller-manager.conf"));
            m.add("kubeconfig", &kubeconfig, &kubeconfig, true, file_or_create);
            // No flex-volume plugin directory since upstream's #136423 (v1.36): who still uses
            // flex volumes passes `--flex-volume-plugin-dir` and mounts it as an extra volume.
            distro_dirs(&mut m);
            m.add_extra(&cluster.controller_manager.extra_volumes);
        }
        _ => {
            let kubeconfig = path_str(&ctx.kubeconfig_dir.join("scheduler.conf"));
            m.add("kubeconfig", &kubeconfig, &kubeconfig, true, file_or_create);
            m.add_extra(&cluster.scheduler.extra_volumes);
        }
    }
    m
}

fn loopback_like(addr: &IpAddr) -> &'static str {
    if addr.is_ipv6() {
        "::1"
    } else {
        "127.0.0.1"
    }
}

/// The kube-apiserver's command line.
pub fn apiserver_command(cfg: &InitConfiguration) -> Vec<String> {
    let cluster = &cfg.versioned.cluster;
    let cert = |name: &str| path_str(&cfg.cluster.certificates_dir.join(name));
    let ep = &cfg.local_api_endpoint;
    let mut defaults: Vec<Arg> = vec![
        arg("advertise-address", ep.advertise_address.to_string()),
        arg("enable-admission-plugins", "NodeRestriction"),
        arg(
            "service-cluster-ip-range",
            &cfg.cluster.networking.service_subnet,
        ),
        arg("service-account-key-file", cert("sa.pub")),
        arg("service-account-signing-key-file", cert("sa.key")),
        arg(
            "service-account-issuer",
            format!(
                "https://kubernetes.default.svc.{}",
                cfg.cluster.networking.dns_domain
            ),
        ),
        arg("client-ca-file", cert("ca.crt")),
        arg("tls-cert-file", cert("apiserver.crt")),
        arg("tls-private-key-file", cert("apiserver.key")),
        arg(
            "kubelet-client-certificate",
            cert("apiserver-kubelet-client.crt"),
        ),
        arg("kubelet-client-key", cert("apiserver-kubelet-client.key")),
        arg("enable-bootstrap-token-auth", "true"),
        arg("secure-port", ep.bind_port.to_string()),
        arg("allow-privileged", "true"),
        arg(
            "kubelet-preferred-address-types",
            "InternalIP,ExternalIP,Hostname",
        ),
        // The front proxy (aggregation layer) is set up unconditionally, as upstream does.
        arg("requestheader-username-headers", "X-Remote-User"),
        arg("requestheader-group-headers", "X-Remote-Group"),
        arg("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
        arg("requestheader-client-ca-file", cert("front-proxy-ca.crt")),
        arg("requestheader-allowed-names", "front-proxy-client"),
        arg("proxy-client-cert-file", cert("front-proxy-client.crt")),
        arg("proxy-client-key-file", cert("front-proxy-client.key")),
    ];
    match &cfg.cluster.etcd {
        Etcd::External(ext) => {
            args::set(&mut defaults, "etcd-servers", ext.endpoints.join(","));
            if !ext.ca_file.as_os_str().is_empty() {
                args::set(&mut defaults, "etcd-cafile", path_str(&ext.ca_file));
            }
            if !ext.cert_file.as_os_str().is_empty() && !ext.key_file.as_os_str().is_empty() {
                args::set(&mut defaults, "etcd-certfile", path_str(&ext.cert_file));
                args::set(&mut defaults, "etcd-keyfile", path_str(&ext.key_file));
            }
        }
        Etcd::Local(_) => {
            // The local etcd listens on the loopback address of the advertise address's family.
            let local = loopback_like(&ep.advertise_address);
            args::set(
                &mut defaults,
                "etcd-servers",
                format!("https://{}", join_host_port(local, ETCD_CLIENT_PORT)),
            );
            args::set(&mut defaults, "etcd-cafile", cert("etcd/ca.crt"));
            args::set(
                &mut defaults,
                "etcd-certfile",
                cert("apiserver-etcd-client.crt"),
            );
            args::set(
                &mut defaults,
                "etcd-keyfile",
                cert("apiserver-etcd-client.key"),
            );
            let local_args = cluster
                .etcd
                .local
                .as_ref()
                .map(|l| l.extra_args.as_slice())
                .unwrap_or_default();
            if let Some(urls) = args::get(local_args, "advertise-client-urls") {
                args::set(&mut defaults, "etcd-servers", urls);
            }
        }
    }
    let extra = &cluster.api_server.extra_args;
    if args::get(extra, "authorization-config").is_none() {
        let modes = authorization_modes(args::get(extra, "authorization-mode").unwrap_or(""));
        args::set(&mut defaults, "authorization-mode", modes);
    }
    let mut command = vec!["kube-apiserver".to_string()];
    command.extend(args::to_command(&defaults, extra));
    command
}

/// `Node,RBAC`, or the user's modes when at least one of them is a known mode (unknown ones
/// are dropped with a warning, as upstream does).
pub fn authorization_modes(requested: &str) -> String {
    const KNOWN: [&str; 6] = [
        "Node",
        "RBAC",
        "Webhook",
        "ABAC",
        "AlwaysAllow",
        "AlwaysDeny",
    ];
    let default = "Node,RBAC";
    if requested.is_empty() {
        return default.to_string();
    }
    let mut modes = Vec::new();
    for m in requested.split(',') {
        if KNOWN.contains(&m) {
            modes.push(m);
        } else {
            tracing::warn!("ignoring unknown kube-apiserver authorization-mode {m:?}");
        }
    }
    if modes.is_empty() {
        return default.to_string();
    }
    let chosen = modes.join(",");
    if chosen != default {
        tracing::warn!(
            "the default kube-apiserver authorization-mode is {default:?}; using {chosen:?}"
        );
    }
    chosen
}

/// The kube-controller-manager's command line.
pub fn controller_manager_command(cfg: &InitConfiguration, ctx: &Context<'_>) -> Vec<String> {
    let cluster = &cfg.versioned.cluster;
    let cert = |name: &str| path_str(&cfg.cluster.certificates_dir.join(name));
    let kubeconfig = path_str(&ctx.kubeconfig_dir.join("controller-manager.conf"));
    let mut defaults: Vec<Arg> = vec![
        arg("bind-address", "127.0.0.1"),
        arg("leader-elect", "true"),
        arg("kubeconfig", &kubeconfig),
        arg("authentication-kubeconfig", &kubeconfig),
        arg("authorization-kubeconfig", &kubeconfig),
        arg("client-ca-file", cert("ca.crt")),
        arg("requestheader-client-ca-file", cert("front-proxy-ca.crt")),
        arg("root-ca-file", cert("ca.crt")),
        arg("service-account-private-key-file", cert("sa.key")),
        arg("cluster-signing-cert-file", cert("ca.crt")),
        arg("cluster-signing-key-file", cert("ca.key")),
        arg("use-service-account-credentials", "true"),
        arg("controllers", "*,bootstrapsigner,tokencleaner"),
    ];
    // Without the CA key the signing controller must not start: empty paths disable it.
    if using_external_ca(ctx.host, &cfg.cluster.certificates_dir) {
        args::set(&mut defaults, "cluster-signing-key-file", "");
        args::set(&mut defaults, "cluster-signing-cert-file", "");
    }
    let net = &cfg.cluster.networking;
    if !net.pod_subnet.is_empty() {
        args::set(&mut defaults, "allocate-node-cidrs", "true");
        args::set(&mut defaults, "cluster-cidr", &net.pod_subnet);
        if !net.service_subnet.is_empty() {
            args::set(
                &mut defaults,
                "service-cluster-ip-range",
                &net.service_subnet,
            );
        }
    }
    if !cfg.cluster.cluster_name.is_empty() {
        args::set(&mut defaults, "cluster-name", &cfg.cluster.cluster_name);
    }
    let mut command = vec!["kube-controller-manager".to_string()];
    command.extend(args::to_command(
        &defaults,
        &cluster.controller_manager.extra_args,
    ));
    command
}

/// The kube-scheduler's command line.
pub fn scheduler_command(cfg: &InitConfiguration, ctx: &Context<'_>) -> Vec<String> {
    let kubeconfig = path_str(&ctx.kubeconfig_dir.join("scheduler.conf"));
    let defaults = vec![
        arg("bind-address", "127.0.0.1"),
        arg("leader-elect", "true"),
        arg("kubeconfig", &kubeconfig),
        arg("authentication-kubeconfig", &kubeconfig),
        arg("authorization-kubeconfig", &kubeconfig),
    ];
    let mut command = vec!["kube-scheduler".to_string()];
    command.extend(args::to_command(
        &defaults,
        &cfg.versioned.cluster.scheduler.extra_args,
    ));
    command
}

fn health_check_timeout_secs(cfg: &InitConfiguration) -> u64 {
    cfg.versioned
        .init
        .timeouts
        .as_ref()
        .and_then(|t| t.control_plane_component_health_check.as_ref())
        .map(|d| d.0.as_secs())
        .unwrap_or(DEFAULT_HEALTH_CHECK_TIMEOUT_SECS)
}

fn probe_port(port: i32) -> Vec<ContainerPort> {
    vec![ContainerPort {
        name: Some(PROBE_PORT.to_string()),
        container_port: port,
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }]
}

/// The static Pod of one control-plane component (`kube-apiserver`, ...).
pub fn component(name: &str, cfg: &InitConfiguration, ctx: &Context<'_>) -> Option<Pod> {
    let cluster = &cfg.versioned.cluster;
    let timeout = health_check_timeout_secs(cfg);
    let mounts = mounts_for(name, cfg, ctx);
    let https = |host: String| ProbeTarget {
        host,
        scheme: "HTTPS",
    };
    let base = Container {
        name: name.to_string(),
        image: Some(images::kubernetes_image(name, cfg)),
        image_pull_policy: Some("IfNotPresent".to_string()),
        volume_mounts: Some(mounts.mounts.into_values().collect()),
        ..Default::default()
    };
    let pod = match name {
        "kube-apiserver" => {
            let ep = &cfg.local_api_endpoint;
            let target = https(probe_address(&ep.advertise_address.to_string()));
            let container = Container {
                command: Some(apiserver_command(cfg)),
                liveness_probe: Some(liveness_probe(&target, "/livez")),
                readiness_probe: Some(readiness_probe(&target, "/readyz")),
                startup_probe: Some(startup_probe(&target, "/livez", timeout)),
                resources: Some(requests("250m", None)),
                env: non_empty(merge_env(ctx.proxy_env, &cluster.api_server.extra_envs)),
                ports: Some(probe_port(i32::from(ep.bind_port))),
                ..base
            };
            let endpoint = join_host_port(&ep.advertise_address.to_string(), ep.bind_port);
            component_pod(
                container,
                mounts.volumes,
                BTreeMap::from([(ADVERTISE_ADDRESS_ANNOTATION.to_string(), endpoint)]),
            )
        }
        "kube-controller-manager" => {
            let extra = &cluster.controller_manager.extra_args;
            let target = https(probe_address(
                args::get(extra, "bind-address").unwrap_or("127.0.0.1"),
            ));
            let container = Container {
                command: Some(controller_manager_command(cfg, ctx)),
                liveness_probe: Some(liveness_probe(&target, "/healthz")),
                startup_probe: Some(startup_probe(&target, "/healthz", timeout)),
                resources: Some(requests("200m", None)),
                env: non_empty(merge_env(
                    ctx.proxy_env,
                    &cluster.controller_manager.extra_envs,
                )),
                ports: Some(probe_port(CONTROLLER_MANAGER_PORT)),
                ..base
            };
            component_pod(container, mounts.volumes, BTreeMap::new())
        }
        "kube-scheduler" => {
            let extra = &cluster.scheduler.extra_args;
            let target = https(probe_address(
                args::get(extra, "bind-address").unwrap_or("127.0.0.1"),
            ));
            let container = Container {
                command: Some(scheduler_command(cfg, ctx)),
                liveness_probe: Some(liveness_probe(&target, "/livez")),
                readiness_probe: Some(readiness_probe(&target, "/readyz")),
                startup_probe: Some(startup_probe(&target, "/livez", timeout)),
                resources: Some(requests("100m", None)),
                env: non_empty(merge_env(ctx.proxy_env, &cluster.scheduler.extra_envs)),
                ports: Some(probe_port(SCHEDULER_PORT)),
                ..base
            };
            component_pod(container, mounts.volumes, BTreeMap::new())
        }
        _ => return None,
    };
    Some(pod)
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_mode_rules() {
        assert_eq!(authorization_modes(""), "Node,RBAC");
        assert_eq!(authorization_modes("Bogus"), "Node,RBAC");
        assert_eq!(authorization_modes("RBAC,Bogus,Node"), "RBAC,Node");
        assert_eq!(
            authorization_modes("Node,RBAC,Webhook"),
            "Node,RBAC,Webhook"
        );
    }

    #[test]
    fn external_etcd_dirs_fold_parents_and_skip_mounted_ones() {
        let files = [
            Path::new("/etc/etcd/pki/ca.crt"),
            Path::new("/etc/etcd/client.crt"),
            Path::new("/etc/kubernetes/pki/etcd-client.key"),
            Path::new("/etc/ssl/certs/x.pem"),
        ];
        assert_eq!(
            external_etcd_cert_dirs(&files, "/etc/kubernetes/pki"),
            vec!["/etc/etcd".to_string()]
        );
    }
}

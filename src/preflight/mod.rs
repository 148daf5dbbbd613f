//! Preflight checks: what must hold on the machine before `init`, `join` or `reset` change
//! it. Each check has upstream's name (what `--ignore-preflight-errors` takes) and returns
//! warnings and errors; an ignored check's errors become warnings. Every check reads the
//! machine through the [`Host`], so the same checks run against a test host.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Etcd, InitConfiguration};
use crate::host::{Host, HostCommand};

/// The fewest CPUs a control-plane node may have.
pub const CONTROL_PLANE_NUM_CPU: usize = 2;
/// The least memory (MB) a control-plane node may have.
pub const CONTROL_PLANE_MEM_MB: u64 = 1700;
/// The kubelet's port.
pub const KUBELET_PORT: u16 = 10250;

/// One preflight check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Running as root.
    IsPrivilegedUser,
    /// At least this many CPUs usable by kubeadm.
    NumCpu(usize),
    /// At least this much memory, in MB.
    Mem(u64),
    /// Nothing holds the TCP port at the addresses a component is configured to listen on
    /// (every address of the machine when none is given), as upstream checks it since
    /// v1.37 (#138250).
    Port {
        /// The port.
        port: u16,
        /// The component's listen addresses; empty for every address.
        addresses: Vec<IpAddr>,
    },
    /// The file does not exist yet.
    FileAvailable(PathBuf),
    /// The directory does not exist or is empty.
    DirAvailable(PathBuf),
    /// The file exists (with the label as the check's name).
    FileExisting {
        /// The file.
        path: PathBuf,
        /// The name the check goes by.
        label: String,
    },
    /// The file starts with the content (a kernel switch such as `ip_forward`).
    FileContent {
        /// The file.
        path: PathBuf,
        /// The expected content.
        content: String,
    },
    /// An executable is on the PATH; a missing mandatory one is an error.
    InPath {
        /// The executable.
        executable: String,
        /// Whether its absence is an error rather than a warning.
        mandatory: bool,
    },
    /// The node name is valid and resolves.
    Hostname(String),
    /// The kubelet's systemd unit exists and is enabled.
    ServiceKubelet,
    /// firewalld, when active, may block these ports.
    Firewalld(Vec<u16>),
    /// Swap is off (or the kubelet must be set up for it).
    Swap,
    /// The kubelet's version fits the control plane's.
    KubeletVersion(String),
    /// The Kubernetes version is not newer than this kubeadm.
    KubernetesVersion(String),
    /// The container runtime answers on its CRI socket.
    Cri(String),
    /// The container runtime implements the CRI `RuntimeConfig` call, without which
    /// kubelets of v1.38 and later will not start (a warning, as upstream v1.37 gives it).
    ContainerRuntimeVersion(String),
    /// The runtime's cgroup driver and sandbox image agree with the kubelet's and
    /// kubeadm's (warnings only).
    RuntimeSettings {
        /// The CRI endpoint.
        endpoint: String,
        /// The kubelet's `cgroupDriver`.
        cgroup_driver: String,
        /// The pause image kubeadm uses.
        pause_image: String,
    },
    /// Kernel and cgroups are usable by the kubelet.
    SystemVerification,
    /// The API server join discovers the cluster from answers on TCP (`host:port`).
    DiscoveryEndpoint(String),
    /// Each external etcd member's `/version`, asked on its HTTP endpoints, is at least
    /// [`MIN_EXTERNAL_ETCD_VERSION`].
    ExternalEtcdVersion(crate::config::ExternalEtcd),
}

/// The oldest external etcd this kubeadm supports (upstream's `MinExternalEtcdVersion`).
pub const MIN_EXTERNAL_ETCD_VERSION: &str = "3.5.24-0";

/// How long one `/version` request to an external etcd may take, how often a failed one is
/// tried again and after what pause (upstream's values).
const EXTERNAL_ETCD_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const EXTERNAL_ETCD_REQUEST_RETRIES: usize = 3;
const EXTERNAL_ETCD_REQUEST_INTERVAL: Duration = Duration::from_secs(5);

impl Check {
    /// The check's name, as `--ignore-preflight-errors` takes it.
    pub fn name(&self) -> String {
        let dashed = |p: &Path| p.display().to_string().replace('/', "-");
        match self {
            Check::IsPrivilegedUser => "IsPrivilegedUser".into(),
            Check::NumCpu(_) => "NumCPU".into(),
            Check::Mem(_) => "Mem".into(),
            Check::Port { port, .. } => format!("Port-{port}"),
            Check::FileAvailable(p) => format!("FileAvailable-{}", dashed(p)),
            Check::DirAvailable(p) => format!("DirAvailable-{}", dashed(p)),
            Check::FileExisting { label, .. } => label.clone(),
            Check::FileContent { path, .. } => format!("FileContent-{}", dashed(path)),
            Check::InPath { executable, .. } => format!("FileExisting-{executable}"),
            Check::Hostname(_) => "Hostname".into(),
            Check::ServiceKubelet => "Service-Kubelet".into(),
            Check::Firewalld(_) => "Firewalld".into(),
            Check::Swap => "Swap".into(),
            Check::KubeletVersion(_) => "KubeletVersion".into(),
            Check::KubernetesVersion(_) => "KubernetesVersion".into(),
            Check::Cri(_) => "CRI".into(),
            Check::ContainerRuntimeVersion(_) => "ContainerRuntimeVersion".into(),
            Check::RuntimeSettings { .. } => "ContainerRuntimeSettings".into(),
            Check::SystemVerification => "SystemVerification".into(),
            Check::DiscoveryEndpoint(_) => "DiscoveryEndpoint".into(),
            Check::ExternalEtcdVersion(_) => "ExternalEtcdVersion".into(),
        }
    }

    /// Runs the check: (warnings, errors).
    pub fn run(&self, host: &dyn Host) -> (Vec<String>, Vec<String>) {
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        match self {
            Check::IsPrivilegedUser => {
                if !host.is_privileged() {
                    errors.push(
                        "user is not running as root; run kubeadm with sudo or as root".into(),
                    );
                }
            }
            Check::NumCpu(min) => match usable_cpus(host) {
                Some(n) if n < *min => errors.push(format!(
                    "the number of available CPUs {n} is less than the required {min}"
                )),
                Some(_) => {}
                None => warnings.push(
                    "could not count the CPUs from /proc/self/status or /proc/cpuinfo".into(),
                ),
            },
            Check::Mem(min) => match total_memory_mb(host) {
                Some(mb) if mb < *min => errors.push(format!(
                    "the system RAM ({mb} MB) is less than the minimum {min} MB"
                )),
                Some(_) => {}
                None => warnings.push("could not read MemTotal from /proc/meminfo".into()),
            },
            Check::Port { port, addresses } => errors.extend(port_errors(host, *port, addresses)),
            Check::FileAvailable(p) => {
                if host.exists(p).unwrap_or(false) {
                    errors.push(format!(
                        "{} already exists; remove it (or run 'kubeadm reset') if it is left from an earlier run",
                        p.display()
                    ));
                }
            }
            Check::DirAvailable(p) => {
                if let Ok(entries) = host.read_dir(p) {
                    if !entries.is_empty() {
                        errors.push(format!(
                            "{} is not empty; empty it (or run 'kubeadm reset') if it is left from an earlier run",
                            p.display()
                        ));
                    }
                }
            }
            Check::FileExisting { path, .. } => {
                if !host.exists(path).unwrap_or(false) {
                    errors.push(format!("{} doesn't exist", path.display()));
                }
            }
            Check::FileContent { path, content } => match host.read(path) {
                Err(_) => errors.push(format!("{} does not exist", path.display())),
                Ok(bytes) => {
                    if !bytes.starts_with(content.as_bytes()) {
                        let found = String::from_utf8_lossy(&bytes).trim().to_string();
                        errors.push(format!(
                            "{} contents are not set to {content} (found {found:?}); set it with 'sysctl -w {}={content}' and persist it in /etc/sysctl.d/",
                            path.display(),
                            sysctl_key(path)
                        ));
                    }
                }
            },
            Check::InPath {
                executable,
                mandatory,
            } => {
                if host.find_executable(executable).is_none() {
                    let msg = format!("{executable} not found in system path");
                    if *mandatory {
                        errors.push(msg);
                    } else {
                        warnings.push(msg);
                    }
                }
            }
            Check::Hostname(name) => {
                let name = name.to_lowercase();
                if !crate::names::is_dns_subdomain(&name) {
                    warnings.push(format!(
                        "invalid node name format {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                    ));
                }
                match host.lookup_host(&name) {
                    Ok(addrs) if !addrs.is_empty() => {}
                    Ok(_) => warnings.push(format!("hostname \"{name}\" could not be reached")),
                    Err(e) => {
                        warnings.push(format!("hostname \"{name}\" could not be reached"));
                        warnings.push(format!("hostname \"{name}\": lookup {name}: {e}"));
                    }
                }
            }
            Check::ServiceKubelet => {
                if host.find_executable("systemctl").is_none() {
                    warnings.push(
                        "no supported init system detected, skipping checking for services".into(),
                    );
                } else {
                    let status = host.systemctl("status", "kubelet");
                    let missing = match &status {
                        Ok(o) => o.stdout.contains("Loaded: not-found") || o.code == 4,
                        Err(_) => true,
                    };
                    if missing {
                        warnings.push("kubelet service does not exist".into());
                    } else if !host
                        .systemctl("is-enabled", "kubelet")
                        .map(|o| o.success())
                        .unwrap_or(false)
                    {
                        warnings.push("kubelet service is not enabled, please run 'systemctl enable kubelet.service'".into());
                    }
                }
            }
            Check::Firewalld(ports) => {
                if host.find_executable("systemctl").is_some()
                    && host
                        .systemctl("is-active", "firewalld")
                        .map(|o| o.success())
                        .unwrap_or(false)
                {
                    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
                    warnings.push(format!(
                        "firewalld is active, please ensure ports [{}] are open or your cluster may not function correctly",
                        list.join(" ")
                    ));
                }
            }
            Check::Swap => {
                if let Ok(text) = host.read_to_string(Path::new("/proc/swaps")) {
                    if text.lines().skip(1).any(|l| !l.trim().is_empty()) {
                        warnings.push("swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap. Please refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on the node".into());
                    }
                }
            }
            Check::KubeletVersion(k8s) => match kubelet_version(host) {
                Err(e) => errors.push(format!("couldn't get kubelet version: {e}")),
                Ok(kubelet) => {
                    let (Some(km), Some(cm)) = (
                        crate::images::minor_of(&kubelet),
                        crate::images::minor_of(k8s),
                    ) else {
                        errors.push(format!("couldn't parse kubelet version {kubelet:?}"));
                        return (warnings, errors);
                    };
                    // The kubelet may be up to three minor versions older than the control plane.
                    if km + 3 < cm {
                        errors.push(format!(
                            "Kubelet version {kubelet:?} is lower than kubeadm can support. Please upgrade kubelet"
                        ));
                    } else if km > cm {
                        errors.push(format!(
                            "the kubelet version is higher than the control plane version. This is not a supported version skew and may lead to a malfunctional cluster. Kubelet version: {kubelet:?} Control plane version: {k8s:?}"
                        ));
                    }
                }
            },
            Check::KubernetesVersion(k8s) => {
                let ours = crate::version::KUBERNETES_VERSION;
                if let (Some(want), Some(have)) =
                    (crate::images::minor_of(k8s), crate::images::minor_of(ours))
                {
                    if want > have {
                        warnings.push(format!(
                            "Kubernetes version is greater than kubeadm version. Please consider to upgrade kubeadm. Kubernetes version: {k8s}. Kubeadm version: 1.{have}.x"
                        ));
                    }
                }
            }
            Check::RuntimeSettings {
                endpoint,
                cgroup_driver,
                pause_image,
            } => {
                warnings.extend(runtime_settings(host, endpoint, cgroup_driver, pause_image));
            }
            Check::Cri(endpoint) => {
                if let Err(e) = cri_ready(host, endpoint) {
                    errors.push(e);
                }
            }
            Check::ContainerRuntimeVersion(endpoint) => {
                // An unreachable runtime is the CRI check's error.
                if let Ok(mut client) =
                    crate::cri::CriClient::connect_on(host, endpoint, Duration::from_secs(5))
                {
                    warnings.extend(runtime_config_warning(
                        endpoint,
                        client.implements_runtime_config(),
                    ));
                }
            }
            Check::SystemVerification => system_verification(host, &mut warnings, &mut errors),
            Check::DiscoveryEndpoint(endpoint) => {
                let reached = std::net::ToSocketAddrs::to_socket_addrs(endpoint.as_str())
                    .map_err(|e| e.to_string())
                    .and_then(|mut addrs| addrs.next().ok_or_else(|| "no address".to_string()))
                    .and_then(|a| {
                        std::net::TcpStream::connect_timeout(&a, Duration::from_secs(3))
                            .map_err(|e| e.to_string())
                    });
                if let Err(e) = reached {
                    errors.push(format!(
                        "cannot reach the API server at {endpoint}: {e}; check the address and port, and any firewall between this machine and the control plane"
                    ));
                }
            }
            Check::ExternalEtcdVersion(etcd) => errors.extend(external_etcd_version(
                host,
                etcd,
                EXTERNAL_ETCD_REQUEST_INTERVAL,
            )),
        }
        (warnings, errors)
    }
}

impl Check {
    /// The port check on every address of the machine (the kubelet's port).
    pub fn port(port: u16) -> Check {
        Check::Port {
            port,
            addresses: Vec::new(),
        }
    }
}

/// Why the port cannot be listened on at each address (every address when none is given):
/// taken, with what listens there, or an address that is not this machine's.
fn port_errors(host: &dyn Host, port: u16, addresses: &[IpAddr]) -> Vec<String> {
    let any = [IpAddr::V4(Ipv4Addr::UNSPECIFIED)];
    let targets = if addresses.is_empty() {
        &any[..]
    } else {
        addresses
    };
    let mut errors = Vec::new();
    for ip in targets {
        let Some(e) = host.listen_error(SocketAddr::new(*ip, port)) else {
            continue;
        };
        let on = if addresses.is_empty() {
            String::new()
        } else {
            format!(" on {ip}")
        };
        if e.kind() == std::io::ErrorKind::AddrNotAvailable {
            errors.push(format!(
                "Port {port} cannot be listened on{on}: {ip} is not an address of this machine; configure the component with one of this machine's addresses"
            ));
            continue;
        }
        // What holds the port where this component would listen: the same address, or a
        // listener on every address.
        let holders: Vec<String> = listeners_on(host, port)
            .into_iter()
            .filter(|(held, _)| ip.is_unspecified() || held == ip || held.is_unspecified())
            .map(|(_, text)| text)
            .collect();
        let held = if holders.is_empty() {
            String::new()
        } else {
            format!(" (listening: {})", holders.join(", "))
        };
        errors.push(format!(
            "Port {port} is in use{on}{held}; stop what listens there, or free the port"
        ));
    }
    errors
}

/// The errors of the `ExternalEtcdVersion` check: every HTTP endpoint of the external etcd
/// (`httpEndpoints`, else `endpoints`) answers `/version` with a server version no older than
/// [`MIN_EXTERNAL_ETCD_VERSION`]. A request that fails to connect or gets a 5xx answer is
/// tried again, `pause` apart.
fn external_etcd_version(
    host: &dyn Host,
    etcd: &crate::config::ExternalEtcd,
    pause: Duration,
) -> Vec<String> {
    use crate::client::health::{fetch_answer_as, ClientIdentity, Trust};
    use crate::upgrade::semver::KubeVersion;
    let endpoints = etcd.http_endpoints();
    if endpoints.is_empty() {
        return vec![];
    }
    let read = |p: &Path, what: &str| {
        host.read(p)
            .map_err(|e| format!("couldn't load external etcd's {what} {}: {e}", p.display()))
    };
    let ca = if etcd.ca_file.as_os_str().is_empty() {
        None
    } else {
        match read(&etcd.ca_file, "server certificate") {
            Ok(b) => Some(b),
            Err(e) => return vec![e],
        }
    };
    let identity = if etcd.cert_file.as_os_str().is_empty() || etcd.key_file.as_os_str().is_empty()
    {
        None
    } else {
        match (
            read(&etcd.cert_file, "client certificate"),
            read(&etcd.key_file, "client key"),
        ) {
            (Ok(c), Ok(k)) => Some((c, k)),
            (Err(e), _) | (_, Err(e)) => return vec![e],
        }
    };
    let trust = match &ca {
        Some(pem) => Trust::Ca(pem),
        None => Trust::System,
    };
    let identity = identity.as_ref().map(|(c, k)| ClientIdentity {
        cert_pem: c,
        key_pem: k,
    });
    let min = KubeVersion::parse(MIN_EXTERNAL_ETCD_VERSION).expect("a valid version");
    let mut errors = Vec::new();
    for endpoint in endpoints {
        let url = format!("{}/version", endpoint.trim_end_matches('/'));
        let mut answer = Err(String::new());
        for attempt in 0..=EXTERNAL_ETCD_REQUEST_RETRIES {
            if attempt > 0 {
                std::thread::sleep(pause);
            }
            answer = fetch_answer_as(&url, trust, identity, EXTERNAL_ETCD_REQUEST_TIMEOUT);
            match &answer {
                Ok(a) if (500..600).contains(&a.code) => {
                    answer = Err(format!(
                        "server responded with non-successful status: {}",
                        a.code
                    ));
                }
                Ok(_) => break,
                Err(_) => {}
            }
        }
        let body = match answer {
            Ok(a) => a.body,
            Err(e) => {
                errors.push(format!("external etcd endpoint {endpoint}: {e}"));
                continue;
            }
        };
        let server = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["etcdserver"].as_str().map(str::to_string));
        let Some(server) = server else {
            errors.push(format!(
                "external etcd endpoint {endpoint}: {url} did not answer with etcd's version document; is this an etcd HTTP endpoint?"
            ));
            continue;
        };
        match KubeVersion::parse(&server) {
            None => errors.push(format!(
                "couldn't parse external etcd version {server:?} (from {url})"
            )),
            Some(v) if v < min => errors.push(format!(
                "this version of kubeadm only supports external etcd version >= {MIN_EXTERNAL_ETCD_VERSION}. Current version: {server} (at {endpoint})"
            )),
            Some(_) => {}
        }
    }
    errors
}

fn sysctl_key(path: &Path) -> String {
    path.strip_prefix("/proc/sys")
        .map(|p| p.display().to_string().replace('/', "."))
        .unwrap_or_else(|_| path.display().to_string())
}

/// CPUs this process may run on: `Cpus_allowed_list` of /proc/self/status, else the
/// processors of /proc/cpuinfo.
fn usable_cpus(host: &dyn Host) -> Option<usize> {
    if let Ok(status) = host.read_to_string(Path::new("/proc/self/status")) {
        if let Some(list) = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        {
            let mut n = 0;
            for part in list.trim().split(',').filter(|p| !p.is_empty()) {
                match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                        n += b.checked_sub(a)? + 1;
                    }
                    None => n += 1,
                }
            }
            return Some(n);
        }
    }
    let info = host.read_to_string(Path::new("/proc/cpuinfo")).ok()?;
    Some(info.lines().filter(|l| l.starts_with("processor")).count())
}

fn total_memory_mb(host: &dyn Host) -> Option<u64> {
    let info = host.read_to_string(Path::new("/proc/meminfo")).ok()?;
    let kb: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024)
}

/// The local addresses listening on a TCP port, from /proc/net/tcp and tcp6: each address
/// and its `host:port` text.
pub fn listeners_on(host: &dyn Host, port: u16) -> Vec<(IpAddr, String)> {
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = host.read_to_string(Path::new(file)) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 4 || cols[3] != "0A" {
                continue;
            }
            let Some((addr, p)) = cols[1].split_once(':') else {
                continue;
            };
            if u16::from_str_radix(p, 16).ok() != Some(port) {
                continue;
            }
            if let Some(ip) = parse_proc_addr(addr, v6) {
                out.push((ip, crate::config::join_host_port(&ip.to_string(), port)));
            }
        }
    }
    out
}

fn parse_proc_addr(hex: &str, v6: bool) -> Option<IpAddr> {
    if !v6 {
        let n = u32::from_str_radix(hex, 16).ok()?;
        return Some(IpAddr::V4(Ipv4Addr::from(n.swap_bytes())));
    }
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(4).enumerate() {
        let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        chunk.copy_from_slice(&word.swap_bytes().to_be_bytes());
    }
    Some(IpAddr::V6(bytes.into()))
}

fn kubelet_version(host: &dyn Host) -> Result<String, String> {
    let out = host
        .run(&HostCommand::read_only("kubelet", &["--version"]))
        .map_err(|e| match e {
            crate::host::HostError::Spawn { error, .. }
                if error.kind() == std::io::ErrorKind::NotFound =>
            {
                "kubelet not found in PATH; install the kubelet package of the cluster's version"
                    .to_string()
            }
            other => other.to_string(),
        })?;
    if !out.success() {
        return Err(format!(
            "kubelet --version exited with {}: {}",
            out.code,
            out.stderr.trim()
        ));
    }
    out.stdout
        .split_whitespace()
        .find(|w| w.starts_with('v'))
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "unexpected kubelet --version output {:?}",
                out.stdout.trim()
            )
        })
}

fn cri_ready(host: &dyn Host, endpoint: &str) -> Result<(), String> {
    let mut client = crate::cri::CriClient::connect_on(host, endpoint, Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let conditions = client.status().map_err(|e| e.to_string())?;
    if let Some(c) = conditions
        .iter()
        .find(|c| c.kind == "RuntimeReady" && !c.status)
    {
        return Err(format!(
            "container runtime at {endpoint} is not ready: {} {}",
            c.reason, c.message
        ));
    }
    Ok(())
}

/// The warning of the `ContainerRuntimeVersion` check for the runtime's answer to
/// `RuntimeConfig`: none when it implements the call. Upstream v1.37 warns whatever the
/// kubelet's version; the kubelet's fallback to its own `cgroupDriver` setting goes in
/// v1.38 (#139121, #139122).
fn runtime_config_warning(
    endpoint: &str,
    implements: Result<bool, crate::cri::CriError>,
) -> Option<String> {
    match implements {
        Ok(true) => None,
        Ok(false) => Some(format!(
            "the container runtime at {endpoint} does not implement the CRI RuntimeConfig call: the kubelet then falls back to its cgroupDriver setting, a fallback to be removed in v1.38, after which the kubelet will not start with this runtime. Update the runtime to a version that implements RuntimeConfig (for containerd, 2.0 or later); see https://kep.k8s.io/4033"
        )),
        Err(e) => Some(format!(
            "could not learn whether the container runtime implements the CRI RuntimeConfig call, which kubelets of v1.38 and later need: {e}"
        )),
    }
}

/// Where the runtime disagrees with the kubelet (cgroup driver) or with kubeadm (sandbox
/// image), each with its fix.
fn runtime_settings(
    host: &dyn Host,
    endpoint: &str,
    kubelet_driver: &str,
    pause_image: &str,
) -> Vec<String> {
    let Ok(mut client) = crate::cri::CriClient::connect_on(host, endpoint, Duration::from_secs(5))
    else {
        // The CRI check reports an unreachable runtime.
        return Vec::new();
    };
    let s = client.runtime_settings();
    let mut out = Vec::new();
    if let Some(runtime) = s.cgroup_driver.filter(|d| d != kubelet_driver) {
        out.push(format!(
            "the container runtime uses the {runtime:?} cgroup driver but the kubelet is configured with {kubelet_driver:?}: the kubelet will not start (\"misconfiguration: kubelet cgroup driver\"). Make them the same: for containerd set SystemdCgroup = {} under [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options] in /etc/containerd/config.toml and restart containerd, or set cgroupDriver: {runtime} in a KubeletConfiguration document",
            kubelet_driver == "systemd"
        ));
    }
    if let Some(image) = s.sandbox_image.filter(|i| i != pause_image) {
        out.push(format!(
            "detected that the sandbox image {image:?} of the container runtime is inconsistent with that used by kubeadm. It is recommended to use {pause_image:?} as the CRI sandbox image (containerd: sandbox_image in /etc/containerd/config.toml)"
        ));
    }
    out
}

/// What SystemVerification says of a cgroup v1 host, as a warning or an error.
const CGROUP_V1_DEPRECATED: &str = "this host uses cgroups v1, which is deprecated: kubelets of v1.35 and later refuse to start on it by default. Move the host to cgroups v2; to keep cgroups v1 with such a kubelet, set failCgroupV1: false in a KubeletConfiguration document and ignore this check (--ignore-preflight-errors=SystemVerification). See https://git.k8s.io/enhancements/keps/sig-node/5573-remove-cgroup-v1";

/// Whether the installed kubelet refuses cgroup v1 hosts, as system-validators v1.12.1
/// decides it from the kubelet's version (upstream #134744): v1.35 and later, their
/// pre-releases included, refuse; older ones, or no kubelet to ask (`kubelet --version`
/// not found or failing, an empty version to the validator), only warn; a version that
/// does not parse is an error.
fn cgroup_v1_refused_by_kubelet(host: &dyn Host) -> Result<bool, String> {
    let Ok(version) = kubelet_version(host) else {
        return Ok(false);
    };
    let mut parts = version.trim_start_matches('v').splitn(3, '.');
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    let patch = parts
        .next()
        .and_then(|p| p.split(['-', '+']).next())
        .and_then(|p| p.parse::<u32>().ok());
    match (major, minor, patch) {
        (Some(major), Some(minor), Some(_)) => Ok((major, minor) >= (1, 35)),
        _ => Err(format!(
            "couldn't parse kubelet version {version:?} to decide whether it refuses cgroups v1"
        )),
    }
}

fn system_verification(host: &dyn Host, warnings: &mut Vec<String>, errors: &mut Vec<String>) {
    match host.read_to_string(Path::new("/proc/sys/kernel/osrelease")) {
        Ok(release) => {
            let release = release.trim();
            let mut parts = release.split(['.', '-']);
            let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            // A warning since system-validators v1.10.1 (upstream #131919).
            if (major, minor) < (4, 19) {
                warnings.push(format!(
                    "kernel release {release} is unsupported. Recommended LTS version from the 4.x series is 4.19. Any 5.x or 6.x versions are also supported"
                ));
            }
        }
        Err(e) => errors.push(format!("could not read the kernel release: {e}")),
    }
    let controllers = Path::new("/sys/fs/cgroup/cgroup.controllers");
    if let Ok(text) = host.read_to_string(controllers) {
        let have: BTreeSet<&str> = text.split_whitespace().collect();
        let missing: Vec<&str> = ["cpu", "cpuset", "io", "memory", "pids"]
            .into_iter()
            .filter(|c| !have.contains(c))
            .collect();
        if !missing.is_empty() {
            errors.push(format!(
                "missing required cgroups: {} (from {}); enable them in the kernel or the cgroup v2 hierarchy",
                missing.join(" "),
                controllers.display()
            ));
        }
    } else if let Ok(text) = host.read_to_string(Path::new("/proc/cgroups")) {
        let have: BTreeSet<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.len() >= 4 && cols[3] == "1").then_some(cols[0])
            })
            .collect();
        let missing: Vec<&str> = [
            "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
        ]
        .into_iter()
        .filter(|c| !have.contains(c))
        .collect();
        if !missing.is_empty() {
            errors.push(format!("missing required cgroups: {}", missing.join(" ")));
        }
        match cgroup_v1_refused_by_kubelet(host) {
            Ok(true) => errors.push(CGROUP_V1_DEPRECATED.into()),
            Ok(false) => warnings.push(CGROUP_V1_DEPRECATED.into()),
            Err(e) => errors.push(e),
        }
    } else {
        errors.push(
            "no cgroup hierarchy found (/sys/fs/cgroup/cgroup.controllers or /proc/cgroups)".into(),
        );
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The check's name.
    pub name: String,
    /// Warnings (including errors of ignored checks).
    pub warnings: Vec<String>,
    /// Errors that stop the command.
    pub errors: Vec<String>,
}

impl Finding {
    /// A check's errors, as warnings when the check is ignored.
    pub fn of(name: &str, errors: Vec<String>, ignored: &Ignored) -> Self {
        let (warnings, errors) = if ignored.covers(name) {
            (errors, Vec::new())
        } else {
            (Vec::new(), errors)
        };
        Finding {
            name: name.into(),
            warnings,
            errors,
        }
    }
}

/// Prints the warnings of checks run outside [`run`] and stops with upstream's report
/// when any failed.
pub fn report(findings: &[Finding]) -> anyhow::Result<()> {
    for line in warning_lines(findings) {
        println!("{line}");
    }
    match error_report(findings) {
        Some(report) => anyhow::bail!("{report}"),
        None => Ok(()),
    }
}

/// Which checks may fail without stopping: `--ignore-preflight-errors` and
/// `nodeRegistration.ignorePreflightErrors`, case-insensitive, `all` for every check.
#[derive(Debug, Clone, Default)]
pub struct Ignored(BTreeSet<String>);

impl Ignored {
    /// From the names given; `all` may not be combined with others, as upstream says.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a String>) -> anyhow::Result<Self> {
        let set: BTreeSet<String> = names
            .into_iter()
            .flat_map(|n| n.split(','))
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        if set.contains("all") && set.len() > 1 {
            anyhow::bail!(
                "ignorePreflightErrors: Invalid value: {:?}: don't specify individual checks if 'all' is used",
                set.iter().cloned().collect::<Vec<_>>()
            );
        }
        Ok(Ignored(set))
    }

    /// Whether the check's errors are only warnings.
    pub fn covers(&self, name: &str) -> bool {
        self.0.contains("all") || self.0.contains(&name.to_lowercase())
    }
}

/// Runs the checks in order.
pub fn run(host: &dyn Host, checks: &[Check], ignored: &Ignored) -> Vec<Finding> {
    checks
        .iter()
        .map(|c| {
            let name = c.name();
            let (mut warnings, mut errors) = c.run(host);
            if ignored.covers(&name) {
                warnings.append(&mut errors);
            }
            Finding {
                name,
                warnings,
                errors,
            }
        })
        .collect()
}

/// The warning lines, as upstream prints them.
pub fn warning_lines(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .flat_map(|f| {
            f.warnings
                .iter()
                .map(move |w| format!("\t[WARNING {}]: {w}", f.name))
        })
        .collect()
}

/// The error report when any check failed.
pub fn error_report(findings: &[Finding]) -> Option<String> {
    let lines: Vec<String> = findings
        .iter()
        .flat_map(|f| {
            f.errors
                .iter()
                .map(move |e| format!("\t[ERROR {}]: {e}", f.name))
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "[preflight] Some fatal errors occurred:\n{}\n[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`",
        lines.join("\n")
    ))
}

/// The checks of `kubeadm init` on this configuration, in upstream's order (the privileged
/// user check runs first, on its own).
pub fn init_checks(cfg: &InitConfiguration, manifests_dir: &Path) -> Vec<Check> {
    let port = cfg.local_api_endpoint.bind_port;
    let mut checks = vec![
        Check::NumCpu(CONTROL_PLANE_NUM_CPU),
        Check::Mem(CONTROL_PLANE_MEM_MB),
        Check::KubernetesVersion(cfg.cluster.kubernetes_version.clone()),
        Check::Firewalld(vec![port, KUBELET_PORT]),
        Check::Port {
            port,
            addresses: vec![apiserver_address(cfg)],
        },
        Check::Port {
            port: crate::manifests::controlplane::SCHEDULER_PORT as u16,
            addresses: bind_address(&cfg.versioned.cluster.scheduler.extra_args),
        },
        Check::Port {
            port: crate::manifests::controlplane::CONTROLLER_MANAGER_PORT as u16,
            addresses: bind_address(&cfg.versioned.cluster.controller_manager.extra_args),
        },
    ];
    for c in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
    ] {
        checks.push(Check::FileAvailable(crate::manifests::manifest_path(
            manifests_dir,
            c,
        )));
    }
    checks.extend(common_checks(
        &cfg.node_registration.cri_socket,
        &cfg.node_registration.name,
        &cfg.cluster.kubernetes_version,
    ));
    checks.push(Check::RuntimeSettings {
        endpoint: cfg.node_registration.cri_socket.clone(),
        cgroup_driver: crate::kubelet::cluster_configuration(cfg)
            .ok()
            .and_then(|k| k["cgroupDriver"].as_str().map(String::from))
            .unwrap_or_else(|| "systemd".into()),
        pause_image: crate::images::pause_image(cfg),
    });
    if cfg.local_api_endpoint.advertise_address.is_ipv6() {
        checks.push(Check::FileContent {
            path: "/proc/sys/net/ipv6/conf/default/forwarding".into(),
            content: "1".into(),
        });
    }
    match &cfg.cluster.etcd {
        Etcd::Local(local) => {
            let etcd = crate::manifests::etcd::command(cfg, &[]);
            checks.push(Check::Port {
                port: crate::manifests::etcd::CLIENT_PORT,
                addresses: etcd_listen_addresses(&etcd, "listen-client-urls"),
            });
            checks.push(Check::Port {
                port: crate::manifests::etcd::PEER_PORT,
                addresses: etcd_listen_addresses(&etcd, "listen-peer-urls"),
            });
            checks.push(Check::DirAvailable(local.data_dir.clone()));
        }
        Etcd::External(ext) => {
            checks.push(Check::ExternalEtcdVersion(ext.clone()));
            for p in [&ext.ca_file, &ext.cert_file, &ext.key_file] {
                if !p.as_os_str().is_empty() {
                    checks.push(Check::FileExisting {
                        path: p.clone(),
                        label: "ExternalEtcdClientCertificates".into(),
                    });
                }
            }
        }
    }
    checks
}

/// Where the API server listens, as upstream's port check takes it: its `bind-address`
/// extra argument, else the advertise address.
fn apiserver_address(cfg: &InitConfiguration) -> IpAddr {
    crate::manifests::args::get(&cfg.versioned.cluster.api_server.extra_args, "bind-address")
        .and_then(|a| a.parse().ok())
        .unwrap_or(cfg.local_api_endpoint.advertise_address)
}

/// The scheduler's or controller manager's listen address: its `bind-address` extra
/// argument, else kubeadm's default 127.0.0.1; every address when the argument is no IP.
fn bind_address(extra_args: &[crate::config::v1beta4::Arg]) -> Vec<IpAddr> {
    let value = crate::manifests::args::get(extra_args, "bind-address").unwrap_or("127.0.0.1");
    value.parse().map(|ip| vec![ip]).unwrap_or_default()
}

/// The addresses of etcd's listen URLs (`listen-client-urls` or `listen-peer-urls`) in its
/// command line as kubeadm writes it, extra arguments included; every address when one of
/// them names a host that is not an IP (`localhost` aside).
fn etcd_listen_addresses(command: &[String], flag: &str) -> Vec<IpAddr> {
    let prefix = format!("--{flag}=");
    let Some(urls) = command.iter().rev().find_map(|a| a.strip_prefix(&prefix)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = authority.split('/').next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        let ip = match host {
            "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            other => match other.parse() {
                Ok(ip) => ip,
                Err(_) => return Vec::new(),
            },
        };
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// The checks every node runs (init and join): its CRI socket, node name and the
/// Kubernetes version its kubelet must fit.
pub fn common_checks(cri_socket: &str, node_name: &str, kubernetes_version: &str) -> Vec<Check> {
    let mut checks = vec![
        Check::Cri(cri_socket.to_string()),
        Check::ContainerRuntimeVersion(cri_socket.to_string()),
        Check::Swap,
    ];
    for (exe, mandatory) in [
        ("iptables", true),
        ("mount", true),
        ("nsenter", true),
        ("ethtool", false),
        ("tc", false),
        ("touch", false),
    ] {
        checks.push(Check::InPath {
            executable: exe.into(),
            mandatory,
        });
    }
    checks.extend([
        Check::SystemVerification,
        Check::Hostname(node_name.to_string()),
        Check::KubeletVersion(kubernetes_version.to_string()),
        Check::ServiceKubelet,
        Check::port(KUBELET_PORT),
        Check::FileContent {
            path: "/proc/sys/net/ipv4/ip_forward".into(),
            content: "1".into(),
        },
    ]);
    checks
}

/// The checks of `kubeadm join` for a worker node: no kubelet.conf, bootstrap-kubelet.conf
/// or CA certificate of an earlier join, then the common checks.
pub fn join_checks(
    kubernetes_dir: &Path,
    ca_cert_path: &Path,
    cri_socket: &str,
    node_name: &str,
    control_plane: bool,
) -> Vec<Check> {
    let mut checks = vec![
        Check::FileAvailable(kubernetes_dir.join("kubelet.conf")),
        Check::FileAvailable(kubernetes_dir.join("bootstrap-kubelet.conf")),
    ];
    checks.extend(common_checks(
        cri_socket,
        node_name,
        crate::version::KUBERNETES_VERSION,
    ));
    if !control_plane {
        checks.push(Check::FileAvailable(ca_cert_path.to_path_buf()));
    }
    checks
}

#[cfg(test)]
mod tests;

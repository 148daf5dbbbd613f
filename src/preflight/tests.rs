//! Every check, passing and failing, against a machine made of files (a fully rooted host)
//! with scripted commands, privileges, ports and name lookups.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use super::*;
use crate::host::{CommandOutput, FileMeta, HostError, RealHost, Sensitivity};

struct TestHost {
    files: RealHost,
    _root: tempfile::TempDir,
    privileged: bool,
    busy_ports: Vec<u16>,
    commands: BTreeMap<String, CommandOutput>,
    resolvable: bool,
}

impl TestHost {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        TestHost {
            files: RealHost::fully_rooted(root.path()),
            _root: root,
            privileged: true,
            busy_ports: vec![],
            commands: BTreeMap::new(),
            resolvable: true,
        }
    }

    fn file(self, path: &str, content: &str) -> Self {
        self.files
            .write_file(
                Path::new(path),
                content.as_bytes(),
                0o755,
                Sensitivity::Public,
            )
            .unwrap();
        self
    }

    fn command(mut self, line: &str, code: i32, stdout: &str) -> Self {
        self.commands.insert(
            line.to_string(),
            CommandOutput {
                code,
                stdout: stdout.to_string(),
                stderr: String::new(),
            },
        );
        self
    }
}

impl Host for TestHost {
    fn read(&self, path: &Path) -> Result<Vec<u8>, HostError> {
        self.files.read(path)
    }
    fn metadata(&self, path: &Path) -> Result<Option<FileMeta>, HostError> {
        self.files.metadata(path)
    }
    fn read_dir(&self, path: &Path) -> Result<Vec<String>, HostError> {
        self.files.read_dir(path)
    }
    fn is_symlink(&self, path: &Path) -> Result<bool, HostError> {
        self.files.is_symlink(path)
    }
    fn write_file(&self, p: &Path, c: &[u8], m: u32, s: Sensitivity) -> Result<(), HostError> {
        self.files.write_file(p, c, m, s)
    }
    fn create_dir_all(&self, path: &Path, mode: u32) -> Result<(), HostError> {
        self.files.create_dir_all(path, mode)
    }
    fn remove_file(&self, path: &Path) -> Result<(), HostError> {
        self.files.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> Result<(), HostError> {
        self.files.remove_dir_all(path)
    }
    fn run(&self, command: &HostCommand) -> Result<CommandOutput, HostError> {
        self.commands
            .get(&command.to_string())
            .cloned()
            .ok_or_else(|| HostError::Spawn {
                command: command.to_string(),
                error: io::ErrorKind::NotFound.into(),
            })
    }
    fn port_in_use(&self, addr: SocketAddr) -> bool {
        self.busy_ports.contains(&addr.port())
    }
    fn hostname(&self) -> Result<String, HostError> {
        Ok("node-a".into())
    }
    fn is_privileged(&self) -> bool {
        self.privileged
    }
    fn interface_addresses(&self) -> Vec<(String, IpAddr)> {
        vec![]
    }
    fn mounts_under(&self, _: &Path) -> Result<Vec<std::path::PathBuf>, HostError> {
        Ok(vec![])
    }
    fn unmount(&self, path: &Path, _: i32) -> Result<(), HostError> {
        Err(HostError::Io {
            path: path.into(),
            error: io::ErrorKind::InvalidInput.into(),
        })
    }
    fn lookup_host(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        if self.resolvable {
            Ok(vec!["10.0.0.5".parse().unwrap()])
        } else {
            Err(io::Error::other(format!("no such host {name}")))
        }
    }
}

fn result(check: Check, host: &TestHost) -> (Vec<String>, Vec<String>) {
    check.run(host)
}

fn clean() -> (Vec<String>, Vec<String>) {
    (vec![], vec![])
}

#[test]
fn privileged_user() {
    let mut h = TestHost::new();
    assert_eq!(result(Check::IsPrivilegedUser, &h), clean());
    h.privileged = false;
    assert_eq!(
        result(Check::IsPrivilegedUser, &h).1,
        ["user is not running as root; run kubeadm with sudo or as root"]
    );
}

#[test]
fn cpus_from_the_affinity_list() {
    let h = TestHost::new().file(
        "/proc/self/status",
        "Name:\tkubeadm\nCpus_allowed_list:\t0-3,8\n",
    );
    assert_eq!(result(Check::NumCpu(2), &h), clean());
    let h = TestHost::new().file("/proc/self/status", "Cpus_allowed_list:\t0\n");
    assert_eq!(
        result(Check::NumCpu(2), &h).1,
        ["the number of available CPUs 1 is less than the required 2"]
    );
}

#[test]
fn memory() {
    let h = TestHost::new().file("/proc/meminfo", "MemTotal:        4028036 kB\n");
    assert_eq!(result(Check::Mem(1700), &h), clean());
    let h = TestHost::new().file("/proc/meminfo", "MemTotal:        1000000 kB\n");
    assert_eq!(
        result(Check::Mem(1700), &h).1,
        ["the system RAM (976 MB) is less than the minimum 1700 MB"]
    );
}

#[test]
fn port_names_the_listener() {
    // 127.0.0.1:6443 and [::1]:6443 listening, as /proc/net/tcp{,6} show them.
    let mut h = TestHost::new()
        .file(
            "/proc/net/tcp",
            "  sl  local_address rem_address   st\n   0: 0100007F:192B 00000000:0000 0A\n   1: 0100007F:0050 00000000:0000 0A\n",
        )
        .file(
            "/proc/net/tcp6",
            "  sl  local_address rem_address st\n   0: 00000000000000000000000001000000:192B 00000000000000000000000000000000:0000 0A\n",
        );
    assert_eq!(result(Check::port(6443), &h), clean());
    h.busy_ports = vec![6443];
    assert_eq!(
        result(Check::port(6443), &h).1,
        ["Port 6443 is in use (listening: 127.0.0.1:6443, [::1]:6443); stop what listens there, or free the port"]
    );
    assert_eq!(Check::port(6443).name(), "Port-6443");
}

#[test]
fn file_and_directory_availability() {
    let manifest = PathBuf::from("/etc/kubernetes/manifests/kube-apiserver.yaml");
    let h = TestHost::new();
    assert_eq!(result(Check::FileAvailable(manifest.clone()), &h), clean());
    assert_eq!(
        Check::FileAvailable(manifest.clone()).name(),
        "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml"
    );
    let h = TestHost::new().file(manifest.to_str().unwrap(), "x");
    assert_eq!(
        result(Check::FileAvailable(manifest), &h).1,
        ["/etc/kubernetes/manifests/kube-apiserver.yaml already exists; remove it (or run 'kubeadm reset') if it is left from an earlier run"]
    );

    let dir = PathBuf::from("/var/lib/etcd");
    assert_eq!(
        Check::DirAvailable(dir.clone()).name(),
        "DirAvailable--var-lib-etcd"
    );
    let h = TestHost::new();
    assert_eq!(
        result(Check::DirAvailable(dir.clone()), &h),
        clean(),
        "missing is fine"
    );
    h.create_dir_all(&dir, 0o700).unwrap();
    assert_eq!(
        result(Check::DirAvailable(dir.clone()), &h),
        clean(),
        "empty is fine"
    );
    let h = h.file("/var/lib/etcd/member/snap", "x");
    assert_eq!(
        result(Check::DirAvailable(dir), &h).1,
        ["/var/lib/etcd is not empty; empty it (or run 'kubeadm reset') if it is left from an earlier run"]
    );
}

#[test]
fn file_existing() {
    let check = Check::FileExisting {
        path: "/etc/etcd/ca.crt".into(),
        label: "ExternalEtcdClientCertificates".into(),
    };
    assert_eq!(check.name(), "ExternalEtcdClientCertificates");
    assert_eq!(
        result(check.clone(), &TestHost::new()).1,
        ["/etc/etcd/ca.crt doesn't exist"]
    );
    let h = TestHost::new().file("/etc/etcd/ca.crt", "x");
    assert_eq!(result(check, &h), clean());
}

#[test]
fn ip_forward_content() {
    let check = Check::FileContent {
        path: "/proc/sys/net/ipv4/ip_forward".into(),
        content: "1".into(),
    };
    assert_eq!(check.name(), "FileContent--proc-sys-net-ipv4-ip_forward");
    let h = TestHost::new().file("/proc/sys/net/ipv4/ip_forward", "1\n");
    assert_eq!(result(check.clone(), &h), clean());
    let h = TestHost::new().file("/proc/sys/net/ipv4/ip_forward", "0\n");
    assert_eq!(
        result(check.clone(), &h).1,
        ["/proc/sys/net/ipv4/ip_forward contents are not set to 1 (found \"0\"); set it with 'sysctl -w net.ipv4.ip_forward=1' and persist it in /etc/sysctl.d/"]
    );
    assert_eq!(
        result(check, &TestHost::new()).1,
        ["/proc/sys/net/ipv4/ip_forward does not exist"]
    );
}

#[test]
fn executables_on_the_path() {
    let bin = std::env::var("PATH")
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let mandatory = Check::InPath {
        executable: "iptables".into(),
        mandatory: true,
    };
    let optional = Check::InPath {
        executable: "ethtool".into(),
        mandatory: false,
    };
    assert_eq!(mandatory.name(), "FileExisting-iptables");
    let h = TestHost::new();
    assert_eq!(
        result(mandatory.clone(), &h).1,
        ["iptables not found in system path"]
    );
    assert_eq!(
        result(optional.clone(), &h).0,
        ["ethtool not found in system path"]
    );
    let h = TestHost::new()
        .file(&format!("{bin}/iptables"), "#!/bin/sh\n")
        .file(&format!("{bin}/ethtool"), "#!/bin/sh\n");
    assert_eq!(result(mandatory, &h), clean());
    assert_eq!(result(optional, &h), clean());
}

#[test]
fn hostname() {
    let mut h = TestHost::new();
    assert_eq!(result(Check::Hostname("node-a".into()), &h), clean());
    h.resolvable = false;
    let (w, e) = result(Check::Hostname("node-a".into()), &h);
    assert!(e.is_empty());
    assert_eq!(w[0], "hostname \"node-a\" could not be reached");
    assert!(w[1].starts_with("hostname \"node-a\": lookup node-a: no such host"));
    h.resolvable = true;
    let (w, _) = result(Check::Hostname("Node_A".into()), &h);
    assert!(
        w[0].starts_with("invalid node name format \"node_a\""),
        "{w:?}"
    );
}

#[test]
fn kubelet_service() {
    let h = TestHost::new();
    assert_eq!(
        result(Check::ServiceKubelet, &h).0,
        ["no supported init system detected, skipping checking for services"]
    );
    let bin = std::env::var("PATH")
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let systemd = || TestHost::new().file(&format!("{bin}/systemctl"), "#!/bin/sh\n");
    let h = systemd().command(
        "systemctl status kubelet",
        4,
        "Unit kubelet.service could not be found.",
    );
    assert_eq!(
        result(Check::ServiceKubelet, &h).0,
        ["kubelet service does not exist"]
    );
    let h = systemd()
        .command(
            "systemctl status kubelet",
            3,
            "Loaded: loaded (/lib/systemd/system/kubelet.service; disabled)",
        )
        .command("systemctl is-enabled kubelet", 1, "disabled");
    assert_eq!(
        result(Check::ServiceKubelet, &h).0,
        ["kubelet service is not enabled, please run 'systemctl enable kubelet.service'"]
    );
    let h = systemd()
        .command("systemctl status kubelet", 3, "Loaded: loaded")
        .command("systemctl is-enabled kubelet", 0, "enabled");
    assert_eq!(result(Check::ServiceKubelet, &h), clean());
    let h = systemd().command("systemctl is-active firewalld", 0, "active");
    assert_eq!(
        result(Check::Firewalld(vec![6443, 10250]), &h).0,
        ["firewalld is active, please ensure ports [6443 10250] are open or your cluster may not function correctly"]
    );
    assert_eq!(result(Check::Firewalld(vec![6443]), &systemd()), clean());
}

#[test]
fn swap() {
    let header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
    let h = TestHost::new().file("/proc/swaps", header);
    assert_eq!(result(Check::Swap, &h), clean());
    let h = TestHost::new().file(
        "/proc/swaps",
        &format!("{header}/swapfile                               file\t\t2097148\t\t0\t\t-2\n"),
    );
    assert!(result(Check::Swap, &h).0[0].starts_with("swap is supported for cgroup v2 only."));
}

#[test]
fn kubelet_version_skew() {
    let check = Check::KubeletVersion("v1.37.1".into());
    let with = |out: &str| TestHost::new().command("kubelet --version", 0, out);
    assert_eq!(
        result(check.clone(), &with("Kubernetes v1.37.0\n")),
        clean()
    );
    assert_eq!(
        result(check.clone(), &with("Kubernetes v1.34.2\n")),
        clean()
    );
    assert_eq!(
        result(check.clone(), &with("Kubernetes v1.33.9\n")).1,
        ["Kubelet version \"v1.33.9\" is lower than kubeadm can support. Please upgrade kubelet"]
    );
    assert_eq!(
        result(Check::KubeletVersion("v1.36.0".into()), &with("Kubernetes v1.37.0\n")).1,
        ["the kubelet version is higher than the control plane version. This is not a supported version skew and may lead to a malfunctional cluster. Kubelet version: \"v1.37.0\" Control plane version: \"v1.36.0\""]
    );
    let e = result(check, &TestHost::new()).1;
    assert!(e[0].starts_with("couldn't get kubelet version: "), "{e:?}");
    assert!(e[0].contains("kubelet not found in PATH"), "{e:?}");
}

#[test]
fn kubernetes_version_newer_than_kubeadm() {
    assert_eq!(
        result(Check::KubernetesVersion("v1.37.0".into()), &TestHost::new()),
        clean()
    );
    assert_eq!(
        result(Check::KubernetesVersion("v1.38.0".into()), &TestHost::new()).0,
        ["Kubernetes version is greater than kubeadm version. Please consider to upgrade kubeadm. Kubernetes version: v1.38.0. Kubeadm version: 1.37.x"]
    );
}

#[test]
fn system_verification_kernel_and_cgroups() {
    let v2 = TestHost::new()
        .file("/proc/sys/kernel/osrelease", "6.1.0-18-amd64\n")
        .file(
            "/sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        );
    assert_eq!(result(Check::SystemVerification, &v2), clean());
    let old = TestHost::new()
        .file("/proc/sys/kernel/osrelease", "4.14.1\n")
        .file("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n");
    // An old kernel is a warning (upstream #131919); missing cgroups stay an error.
    assert_eq!(
        result(Check::SystemVerification, &old),
        (
            vec!["kernel release 4.14.1 is unsupported. Recommended LTS version from the 4.x series is 4.19. Any 5.x or 6.x versions are also supported".to_string()],
            vec!["missing required cgroups: memory (from /sys/fs/cgroup/cgroup.controllers); enable them in the kernel or the cgroup v2 hierarchy".to_string()]
        )
    );
    // cgroup v1: what the kubelet's version makes of it (upstream #134744).
    let v1 = || {
        TestHost::new()
            .file("/proc/sys/kernel/osrelease", "5.10.0\n")
            .file(
                "/proc/cgroups",
                "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t1\t1\t1\ncpu\t2\t1\t1\ncpuacct\t2\t1\t1\ndevices\t3\t1\t1\nfreezer\t4\t1\t1\nmemory\t5\t1\t0\npids\t6\t1\t1\n",
            )
    };
    let deprecated = CGROUP_V1_DEPRECATED.to_string();
    // No kubelet binary: a warning.
    let (w, e) = result(Check::SystemVerification, &v1());
    assert_eq!(e, ["missing required cgroups: memory"]);
    assert_eq!(w, std::slice::from_ref(&deprecated));
    assert!(deprecated.contains("failCgroupV1: false"), "{deprecated}");
    // A kubelet older than v1.35: a warning.
    let h = v1().command("kubelet --version", 0, "Kubernetes v1.34.7\n");
    assert_eq!(
        result(Check::SystemVerification, &h),
        (
            vec![deprecated.clone()],
            vec!["missing required cgroups: memory".to_string()]
        )
    );
    // v1.35 and later, pre-releases included: an error.
    for v in ["v1.35.0-alpha.1", "v1.35.0", "v1.37.1"] {
        let h = v1().command("kubelet --version", 0, &format!("Kubernetes {v}\n"));
        let (w, e) = result(Check::SystemVerification, &h);
        assert!(w.is_empty(), "{v}: {w:?}");
        assert_eq!(
            e,
            [
                "missing required cgroups: memory".to_string(),
                deprecated.clone()
            ],
            "{v}"
        );
    }
    // A version that does not parse: an error saying so.
    let h = v1().command("kubelet --version", 0, "Kubernetes vfoo\n");
    let e = result(Check::SystemVerification, &h).1;
    assert_eq!(
        e[1],
        "couldn't parse kubelet version \"vfoo\" to decide whether it refuses cgroups v1"
    );
    // Ignored, the error is a warning again.
    let h = v1().command("kubelet --version", 0, "Kubernetes v1.37.1\n");
    let ignored = Ignored::new(&["SystemVerification".to_string()]).unwrap();
    let findings = run(&h, &[Check::SystemVerification], &ignored);
    assert!(error_report(&findings).is_none());
    assert_eq!(findings[0].warnings.len(), 2);
}

#[test]
fn cri_against_a_dead_socket() {
    let e = result(
        Check::Cri("unix:///run/nothing-here.sock".into()),
        &TestHost::new(),
    )
    .1;
    assert!(e[0].contains("container runtime is not running"), "{e:?}");
    assert!(e[0].contains("unix:///run/nothing-here.sock"), "{e:?}");
}

#[test]
fn ignored_errors_become_warnings_and_the_report_lists_the_rest() {
    let mut h = TestHost::new();
    h.privileged = false;
    h.busy_ports = vec![10250];
    let checks = [Check::IsPrivilegedUser, Check::port(10250)];
    let ignored = Ignored::new(&["port-10250".to_string()]).unwrap();
    let findings = run(&h, &checks, &ignored);
    assert_eq!(
        warning_lines(&findings),
        ["\t[WARNING Port-10250]: Port 10250 is in use; stop what listens there, or free the port"]
    );
    assert_eq!(
        error_report(&findings).unwrap(),
        "[preflight] Some fatal errors occurred:\n\t[ERROR IsPrivilegedUser]: user is not running as root; run kubeadm with sudo or as root\n[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`"
    );
    let all = Ignored::new(&["all".to_string()]).unwrap();
    assert!(error_report(&run(&h, &checks, &all)).is_none());
    assert!(Ignored::new(&["all".to_string(), "Swap".to_string()]).is_err());
}

#[test]
fn a_port_held_by_this_test_fails_with_the_holding_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let host = RealHost::new("/");
    let (_, errors) = Check::port(port).run(&host);
    assert_eq!(
        errors,
        [format!(
            "Port {port} is in use (listening: 127.0.0.1:{port}); stop what listens there, or free the port"
        )]
    );
    drop(listener);
    assert_eq!(Check::port(port).run(&host), clean());
}

#[test]
fn discovery_endpoint_reachability() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().to_string();
    assert_eq!(
        Check::DiscoveryEndpoint(open).run(&TestHost::new()),
        clean()
    );
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let e = Check::DiscoveryEndpoint(closed.clone())
        .run(&TestHost::new())
        .1;
    assert!(
        e[0].starts_with(&format!("cannot reach the API server at {closed}: ")),
        "{e:?}"
    );
    assert_eq!(Check::DiscoveryEndpoint(closed).name(), "DiscoveryEndpoint");
}

#[test]
fn a_port_held_on_another_address_of_the_host_does_not_fail_the_check() {
    // Held on 127.0.0.2; the component is configured for 127.0.0.1.
    let listener = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let host = RealHost::new("/");
    let on = |ip: &str| Check::Port {
        port,
        addresses: vec![ip.parse().unwrap()],
    };
    assert_eq!(on("127.0.0.1").run(&host), clean());
    // Held on the configured address, or checked on every address: in use.
    assert_eq!(
        on("127.0.0.2").run(&host).1,
        [format!(
            "Port {port} is in use on 127.0.0.2 (listening: 127.0.0.2:{port}); stop what listens there, or free the port"
        )]
    );
    assert_eq!(
        Check::port(port).run(&host).1,
        [format!(
            "Port {port} is in use (listening: 127.0.0.2:{port}); stop what listens there, or free the port"
        )]
    );
    assert_eq!(on("127.0.0.2").name(), format!("Port-{port}"));
    // An address this machine does not have (TEST-NET-1) cannot be listened on.
    assert_eq!(
        on("192.0.2.1").run(&host).1,
        [format!(
            "Port {port} cannot be listened on on 192.0.2.1: 192.0.2.1 is not an address of this machine; configure the component with one of this machine's addresses"
        )]
    );
    drop(listener);
    assert_eq!(on("127.0.0.2").run(&host), clean());
}

#[test]
fn init_port_checks_take_each_components_configured_address() {
    use crate::config::v1beta4::Arg;
    let arg = |name: &str, value: &str| Arg {
        name: name.into(),
        value: value.into(),
    };
    let ports = |cfg: &InitConfiguration| -> Vec<(u16, Vec<String>)> {
        init_checks(cfg, Path::new("/etc/kubernetes/manifests"))
            .into_iter()
            .filter_map(|c| match c {
                Check::Port { port, addresses } => {
                    Some((port, addresses.iter().map(ToString::to_string).collect()))
                }
                _ => None,
            })
            .collect()
    };
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Defaults: the advertise address, kubeadm's 127.0.0.1 for the scheduler and the
    // controller manager, etcd's listen URLs; the kubelet's port on every address.
    let mut cfg = crate::config::test_config();
    assert_eq!(
        ports(&cfg),
        [
            (6443, own(&["192.0.2.10"])),
            (10259, own(&["127.0.0.1"])),
            (10257, own(&["127.0.0.1"])),
            (10250, own(&[])),
            (2379, own(&["127.0.0.1", "192.0.2.10"])),
            (2380, own(&["192.0.2.10"])),
        ]
    );
    // The bind-address extra arguments (the last one counts) and etcd's listen URLs.
    let cluster = &mut cfg.versioned.cluster;
    cluster.api_server.extra_args = vec![
        arg("bind-address", "10.1.1.1"),
        arg("bind-address", "10.1.1.2"),
    ];
    cluster.scheduler.extra_args = vec![arg("bind-address", "0.0.0.0")];
    cluster.controller_manager.extra_args = vec![arg("bind-address", "::1")];
    cluster
        .etcd
        .local
        .get_or_insert_with(Default::default)
        .extra_args = vec![
        arg(
            "listen-client-urls",
            "https://localhost:2379,https://[fd00::5]:2379",
        ),
        arg("listen-peer-urls", "https://etcd.example:2380"),
    ];
    assert_eq!(
        ports(&cfg),
        [
            (6443, own(&["10.1.1.2"])),
            (10259, own(&["0.0.0.0"])),
            (10257, own(&["::1"])),
            (10250, own(&[])),
            (2379, own(&["127.0.0.1", "fd00::5"])),
            (2380, own(&[])),
        ]
    );
}

#[test]
fn container_runtime_version_warns_of_a_runtime_without_runtime_config() {
    let ep = "unix:///run/containerd/containerd.sock";
    assert_eq!(runtime_config_warning(ep, Ok(true)), None);
    let w = runtime_config_warning(ep, Ok(false)).unwrap();
    assert!(
        w.starts_with("the container runtime at unix:///run/containerd/containerd.sock does not implement the CRI RuntimeConfig call"),
        "{w}"
    );
    assert!(w.contains("removed in v1.38"), "{w}");
    let refused = crate::cri::CriError::Call {
        call: "RuntimeConfig",
        endpoint: ep.into(),
        status: "Internal: boom".into(),
    };
    let w = runtime_config_warning(ep, Err(refused)).unwrap();
    assert!(w.contains("Internal: boom"), "{w}");
    // An unreachable runtime is the CRI check's error, not this check's.
    let check = Check::ContainerRuntimeVersion("unix:///run/nothing-here.sock".into());
    assert_eq!(result(check.clone(), &TestHost::new()), clean());
    assert_eq!(check.name(), "ContainerRuntimeVersion");
    // It runs on every node, right after the CRI check, and only warns.
    let checks = common_checks(ep, "node1", "v1.37.1");
    assert_eq!(checks[0], Check::Cri(ep.into()));
    assert_eq!(checks[1], Check::ContainerRuntimeVersion(ep.into()));
}

//! Test hosts for kubeadm-cluster: each host is a network namespace on a bridge (in a
//! namespace of its own) running Debian's sshd inside a private mount namespace, where
//! `/etc`, `/var/lib`, `/usr/local` and `/root` are overlays private to it, with the
//! host's own directories bound at `/etc/kubernetes`, `/var/lib/kubelet`, `/var/lib/etcd`,
//! `/usr/local/bin` and `/run`. Root's `.bashrc` on a host is its own and empty: the shell
//! setup of the machine the tests run on (a Python version manager's, say) would
//! otherwise run with every command over SSH and be timed as kubeadm-cluster's. A node
//! simulator plays each host's kubelet on those directories, in the host's namespace.
//! (The overlays only make room for the mount points; the directories the simulator
//! writes to are bind mounts, since an overlay's upper directory must not change under
//! it.)
//! kubeadm-cluster itself runs in an operator namespace on the same bridge. Only
//! namespaces, links and addresses the test makes are used (a /24 in 10.252.0.0/16).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use nodesim::ip;
use nodesim::{Killed, NodeSim, Options};

static NETS: AtomicUsize = AtomicUsize::new(0);

/// Why these tests cannot run here, if they cannot.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: network and mount namespaces need root".into());
    }
    for tool in [
        "ip",
        "unshare",
        "/usr/sbin/sshd",
        "ssh",
        "ssh-keygen",
        "etcd",
        "openssl",
    ] {
        let found = if tool.starts_with('/') {
            Path::new(tool).exists()
        } else {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !found {
            return Some(format!(
                "{tool} is not installed (bash scripts/test installs it)"
            ));
        }
    }
    None
}

/// The bridge, the operator's namespace and the hosts' namespaces of one test.
pub struct Net {
    pub id: String,
    pub prefix: String,
    pub switch: String,
    pub operator: String,
    namespaces: Vec<String>,
    links: usize,
    /// The test's directory: SSH keys, known_hosts, the cluster file, the hosts' roots.
    pub dir: tempfile::TempDir,
    /// The control planes made from now on keep their API server's objects in their etcd
    /// (see `nodesim::Options::etcd_backed`) rather than in memory.
    pub etcd_backed: bool,
}

impl Drop for Net {
    fn drop(&mut self) {
        for n in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

impl Net {
    pub fn new() -> Result<Net, String> {
        let n = NETS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let id = format!("{}{}", pid % 10000, n);
        let prefix = format!("10.252.{}", (pid as usize * 8 + n) % 250 + 1);
        let (switch, operator) = (format!("kc{id}-sw"), format!("kc{id}-op"));
        let mut net = Net {
            id,
            prefix,
            switch: switch.clone(),
            operator: operator.clone(),
            namespaces: Vec::new(),
            links: 0,
            dir: tempfile::tempdir().map_err(|e| e.to_string())?,
            etcd_backed: false,
        };
        ip(&["netns", "add", &switch])?;
        net.namespaces.push(switch.clone());
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &switch, "link", "set", "br0", "up"])?;
        ip(&["netns", "add", &operator])?;
        net.namespaces.push(operator.clone());
        let addr = format!("{}.1", net.prefix);
        net.attach(&operator, &addr)?;
        // SSH keys: the operator's, each host's is made with the host.
        let keys = net.dir.path().join("ssh");
        std::fs::create_dir_all(&keys).map_err(|e| e.to_string())?;
        keygen(&keys.join("operator"))?;
        Ok(net)
    }

    /// Links namespace `ns` to the bridge with address `addr`.
    fn attach(&mut self, ns: &str, addr: &str) -> Result<(), String> {
        self.links += 1;
        let (a, b) = (
            format!("kc{}a{}", self.id, self.links),
            format!("kc{}b{}", self.id, self.links),
        );
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b])?;
        ip(&["link", "set", &a, "netns", ns])?;
        ip(&["link", "set", &b, "netns", &self.switch])?;
        ip(&["-n", &self.switch, "link", "set", &b, "master", "br0"])?;
        ip(&["-n", &self.switch, "link", "set", &b, "up"])?;
        ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", &a])?;
        ip(&["-n", ns, "link", "set", &a, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// A new host, `.10 + i`, named `node`, with sshd running and its kubelet simulated.
    pub fn host(&mut self, i: usize, node: &str, control_plane: bool) -> Result<TestHost, String> {
        self.host_as(i, node, control_plane, None)
    }

    /// A new host as [`Net::host`] makes, where with `login` the operator logs in as that
    /// user, with sudo, and root login is refused (`PermitRootLogin no`). The user exists
    /// only in the host's private `/etc` (its passwd, shadow and group, and its sudoers
    /// drop-in, in the overlay the host's sshd runs on): nothing of the machine's own
    /// accounts changes.
    pub fn host_as(
        &mut self,
        i: usize,
        node: &str,
        control_plane: bool,
        login: Option<Login>,
    ) -> Result<TestHost, String> {
        let ns = format!("kc{}-h{i}", self.id);
        ip(&["netns", "add", &ns])?;
        self.namespaces.push(ns.clone());
        let addr = format!("{}.{}", self.prefix, 10 + i);
        self.attach(&ns, &addr)?;
        let dir = self.dir.path().join(format!("host-{node}"));
        for d in [
            "root/etc/kubernetes",
            "root/var/lib/kubelet",
            "root/var/lib/etcd",
            "root/usr/local/bin",
            "root/run",
            "upper",
            "work",
            "ssh",
        ] {
            std::fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
        }
        keygen(&dir.join("ssh/hostkey"))?;
        std::fs::copy(
            self.dir.path().join("ssh/operator.pub"),
            dir.join("ssh/authorized_keys"),
        )
        .map_err(|e| e.to_string())?;
        let d = dir.display();
        // A user other than root reads its keys with its own rights: they go into the
        // host's private /etc, which it can read (the test's directory is root's alone).
        let (permit_root, keys, add_user) = match &login {
            None => (
                "prohibit-password",
                format!("{d}/ssh/authorized_keys"),
                String::new(),
            ),
            Some(l) => {
                l.write_sudoers(&dir)?;
                (
                    "no",
                    "/etc/ssh/authorized_keys.%u".to_string(),
                    l.script(&dir)?,
                )
            }
        };
        std::fs::write(
            dir.join("ssh/sshd_config"),
            format!(
                "ListenAddress {addr}\nPort 22\nHostKey {d}/ssh/hostkey\nPidFile none\nPermitRootLogin {permit_root}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthorizedKeysFile {keys}\nStrictModes no\nUsePAM no\nLogLevel ERROR\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(
            dir.join("start-sshd.sh"),
            format!(
                "set -e
mkdir -p {d}/upper/root
echo '# no shell setup' >{d}/upper/root/.bashrc
for p in etc var/lib usr/local root; do
  mkdir -p {d}/upper/$p {d}/work/$p
  mount -t overlay overlay -o lowerdir=/$p,upperdir={d}/upper/$p,workdir={d}/work/$p /$p
done
for p in etc/kubernetes var/lib/kubelet var/lib/etcd usr/local/bin run; do
  mkdir -p /$p
  mount --bind {d}/root/$p /$p
done
{add_user}mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e -f {d}/ssh/sshd_config
"
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut opts = Options::new(&dir.join("root"), node);
        opts.netns = Some(ns.clone());
        opts.etcd = control_plane;
        opts.etcd_backed = control_plane && self.etcd_backed;
        opts.etcd_log = Some(dir.join("etcd.log"));
        opts.kubelet_version = Some(KUBELET_VERSION.into());
        let mut h = TestHost {
            netns: ns,
            addr,
            node: node.to_string(),
            dir,
            sshd: None,
            sim: Some(NodeSim::start(opts)),
            login,
        };
        h.start_sshd()?;
        // known_hosts, as the operator's administrator would have it.
        let key =
            std::fs::read_to_string(h.dir.join("ssh/hostkey.pub")).map_err(|e| e.to_string())?;
        let mut kh = std::fs::read_to_string(self.known_hosts()).unwrap_or_default();
        let mut parts = key.split_whitespace();
        kh.push_str(&format!(
            "{} {} {}\n",
            h.addr,
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default()
        ));
        std::fs::write(self.known_hosts(), kh).map_err(|e| e.to_string())?;
        Ok(h)
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("ssh/known_hosts")
    }

    pub fn identity(&self) -> PathBuf {
        self.dir.path().join("ssh/operator")
    }

    /// Runs a program in the operator's namespace.
    pub fn operator(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.operator, program])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ip netns exec")
    }

    /// Runs kubeadm-cluster in the operator's namespace.
    pub fn kubeadm_cluster(&self, args: &[&str]) -> (bool, String) {
        let o = self.operator(env!("CARGO_BIN_EXE_kubeadm-cluster"), args);
        (o.status.success(), output_text(&o))
    }

    /// Runs kubeadm-cluster in the operator's namespace, timed: its wall time, and the CPU
    /// time it and every process it started used (its SSH master connections included,
    /// which leave its process tree), counted by a cgroup of its own when this machine
    /// lets one be made.
    pub fn kubeadm_cluster_timed(&self, args: &[&str]) -> Timed {
        let account = CpuAccount::new(&format!("kubeadm-cluster-test-{}", self.id));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.operator])
            .arg(env!("CARGO_BIN_EXE_kubeadm-cluster"))
            .args(args)
            .stdin(Stdio::null());
        if let Some(a) = &account {
            a.enter_on_exec(&mut cmd);
        }
        let start = Instant::now();
        let o = cmd.output().expect("ip netns exec");
        let wall = start.elapsed();
        Timed {
            wall,
            cpu: account.and_then(|a| a.finish()),
            ok: o.status.success(),
            out: output_text(&o),
        }
    }
}

fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// One timed command: its wall time, the CPU time of it and everything it started (when
/// it could be counted), whether it succeeded and what it printed.
#[derive(Debug, Clone)]
pub struct Timed {
    pub wall: Duration,
    pub cpu: Option<Duration>,
    pub ok: bool,
    pub out: String,
}

/// A cgroup of its own for one command, to count the CPU time of the command and of
/// every process it starts, daemons that leave its process tree included: cgroup v2's
/// `cpu.stat` (at `/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` of a hybrid layout), else
/// cgroup v1's `cpuacct.usage`.
pub struct CpuAccount {
    dir: PathBuf,
    v2: bool,
}

impl CpuAccount {
    /// A new cgroup named `name`; `None` where none can be made.
    pub fn new(name: &str) -> Option<CpuAccount> {
        let v2 = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .find(|b| Path::new(b).join("cgroup.controllers").exists())
            .map(|b| (PathBuf::from(b), true));
        let v1 = Some(PathBuf::from("/sys/fs/cgroup/cpuacct"))
            .filter(|b| b.join("cpuacct.usage").exists())
            .map(|b| (b, false));
        let (base, v2) = v2.or(v1)?;
        let dir = base.join(name);
        let _ = std::fs::remove_dir(&dir);
        std::fs::create_dir(&dir).ok()?;
        Some(CpuAccount { dir, v2 })
    }

    /// Makes `cmd`'s process join the cgroup before it runs its program.
    pub fn enter_on_exec(&self, cmd: &mut Command) {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::process::CommandExt;
        let procs = std::ffi::CString::new(self.dir.join("cgroup.procs").as_os_str().as_bytes())
            .expect("a path without NUL");
        // SAFETY: between fork and exec the child only makes system calls (open, write,
        // close) on memory prepared before the fork. A cgroup that refuses the process
        // does not stop the command: its CPU time is then not counted (see `finish`).
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd >= 0 {
                    // "0": the writing process itself.
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                }
                Ok(())
            });
        }
    }

    /// The CPU time counted, once every process of the cgroup has ended (at most 10 s
    /// from now); `None` when nothing was counted (the command never joined the cgroup).
    /// The cgroup is removed.
    pub fn finish(self) -> Option<Duration> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .is_ok_and(|p| !p.trim().is_empty())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.v2 {
            std::fs::read_to_string(self.dir.join("cpu.stat"))
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_micros)
                .filter(|d| !d.is_zero())
        } else {
            std::fs::read_to_string(self.dir.join("cpuacct.usage"))
                .ok()?
                .trim()
                .parse()
                .ok()
                .map(Duration::from_nanos)
                .filter(|d| !d.is_zero())
        }
    }
}

impl Drop for CpuAccount {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn keygen(path: &Path) -> Result<(), String> {
    let o = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .map_err(|e| format!("ssh-keygen: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// One test host.
pub struct TestHost {
    pub netns: String,
    pub addr: String,
    pub node: String,
    /// `root/` holds the host's private files (`root/etc/kubernetes`, …).
    pub dir: PathBuf,
    sshd: Option<Killed>,
    pub sim: Option<NodeSim>,
    /// The user the operator logs in as, when not root.
    pub login: Option<Login>,
}

/// A host's login user other than root, with sudo.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    /// sudo asks this user for a password (no `NOPASSWD`).
    pub sudo_password: bool,
}

impl Login {
    /// `user`, with sudo without a password.
    pub fn sudo(user: &str) -> Login {
        Login {
            user: user.to_string(),
            sudo_password: false,
        }
    }

    /// The host's sudoers drop-in, as the next start of its sshd installs it.
    fn write_sudoers(&self, dir: &Path) -> Result<(), String> {
        let tag = if self.sudo_password { "" } else { "NOPASSWD: " };
        std::fs::write(
            dir.join("ssh/sudoers"),
            format!("{} ALL=(ALL) {tag}ALL\n", self.user),
        )
        .map_err(|e| e.to_string())
    }

    /// The lines of the sshd start script that make the user in the host's private /etc
    /// (its password field `*`: no password, yet not a locked account, which sshd would
    /// refuse even a key), give it the operator's key and install the sudoers drop-in.
    fn script(&self, dir: &Path) -> Result<String, String> {
        let id = free_id()?;
        let (u, d) = (&self.user, dir.display());
        Ok(format!(
            "grep -q '^{u}:' /etc/passwd || echo '{u}:x:{id}:{id}::/:/bin/sh' >>/etc/passwd
grep -q '^{u}:' /etc/group || echo '{u}:x:{id}:' >>/etc/group
grep -q '^{u}:' /etc/shadow || echo '{u}:*:19000::::::' >>/etc/shadow
install -m 0644 {d}/ssh/authorized_keys /etc/ssh/authorized_keys.{u}
install -m 0440 {d}/ssh/sudoers /etc/sudoers.d/kubeadm-cluster-test
"
        ))
    }
}

/// A user and group id that no account or group of the machine has.
fn free_id() -> Result<u32, String> {
    let mut taken = std::collections::HashSet::new();
    for f in ["/etc/passwd", "/etc/group"] {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        taken.extend(
            text.lines()
                .filter_map(|l| l.split(':').nth(2)?.parse::<u32>().ok()),
        );
    }
    (2000..60000)
        .find(|id| !taken.contains(id))
        .ok_or_else(|| "no free user id".to_string())
}

impl TestHost {
    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// Starts the host's sshd (in a new private mount namespace over its directories)
    /// and waits until it accepts connections.
    pub fn start_sshd(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("sshd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.netns,
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
            ])
            .arg(self.dir.join("start-sshd.sh"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| e.to_string())?;
        self.sshd = Some(Killed(child));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.sshd_listening() {
            if Instant::now() > deadline {
                return Err(format!(
                    "sshd of {} did not start: {}",
                    self.node,
                    std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn sshd_listening(&self) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.netns, "ss", "-ltn"])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains(&format!("{}:22", self.addr))
            })
    }

    /// Stops the host's sshd: the host is unreachable.
    pub fn stop_sshd(&mut self) {
        self.sshd = None;
    }

    /// Whether sudo asks the login user for a password from now on (its sshd restarts,
    /// installing the changed sudoers drop-in).
    pub fn set_sudo_password(&mut self, asks: bool) -> Result<(), String> {
        let login = self.login.as_mut().ok_or("the host logs in as root")?;
        login.sudo_password = asks;
        login.write_sudoers(&self.dir)?;
        self.stop_sshd();
        // The old sshd is gone once its port is free.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.sshd_listening() {
            if Instant::now() > deadline {
                return Err(format!("sshd of {} did not stop", self.node));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.start_sshd()
    }

    /// The file at `path` on the host (`/etc/kubernetes/...`).
    pub fn file(&self, path: &str) -> PathBuf {
        self.root().join(path.trim_start_matches('/'))
    }
}

/// The kubelet version the test hosts' Nodes report (the cluster files' Kubernetes
/// version).
pub const KUBELET_VERSION: &str = "v1.37.1";

/// The host checks a test host cannot pass (no kubelet or runtime installed, no systemd).
pub const HOST_CHECKS: &str = nodesim::HOST_CHECKS;

/// A cluster file for `hosts` (`(host, role)`), with the test's keys and known_hosts and a
/// kubeadm configuration that pulls no images and ignores only the host checks.
pub fn cluster_file(net: &Net, hosts: &[(&TestHost, &str)], endpoint: Option<&str>) -> PathBuf {
    let mut text = format!(
        "apiVersion: kubeadm-rs.io/v1alpha1\nkind: Cluster\nknownHostsFile: {}\nhosts:\n",
        net.known_hosts().display()
    );
    for (h, role) in hosts {
        text.push_str(&format!(
            "- address: {}\n  identityFile: {}\n  nodeName: {}\n  role: {role}\n",
            h.addr,
            net.identity().display(),
            h.node
        ));
        if let Some(l) = &h.login {
            text.push_str(&format!("  user: {}\n", l.user));
        }
    }
    if let Some(ep) = endpoint {
        text.push_str(&format!("controlPlaneEndpoint: {ep}\n"));
    }
    let checks: Vec<String> = HOST_CHECKS.split(',').map(|c| format!("\"{c}\"")).collect();
    let checks = checks.join(", ");
    text.push_str(&format!(
        "kubeadm: |
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: InitConfiguration
  nodeRegistration:
    criSocket: unix:///var/run/containerd/containerd.sock
    imagePullPolicy: Never
    ignorePreflightErrors: [{checks}]
  timeouts:
    kubeletHealthCheck: 60s
    controlPlaneComponentHealthCheck: 60s
  ---
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: ClusterConfiguration
  kubernetesVersion: {KUBELET_VERSION}
  ---
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: JoinConfiguration
  nodeRegistration:
    criSocket: unix:///var/run/containerd/containerd.sock
    imagePullPolicy: Never
    ignorePreflightErrors: [{checks}]
  timeouts:
    tlsBootstrap: 60s
    kubeletHealthCheck: 60s
    controlPlaneComponentHealthCheck: 60s
"
    ));
    let n = std::fs::read_dir(net.dir.path())
        .map(|d| d.count())
        .unwrap_or(0);
    let path = net.dir.path().join(format!("cluster-{n}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The result word of `node` in the last summary table of `out`.
pub fn result_of<'a>(out: &'a str, node: &str) -> Option<&'a str> {
    let table = &out[out.rfind("\nHOST ")?..];
    table
        .lines()
        .skip(2)
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(node)).then(|| w.nth(1)).flatten()
        })
}

/// The Nodes the API server of `cp` knows.
pub fn nodes_of(cp: &TestHost) -> Vec<String> {
    let sim = cp.sim.as_ref().expect("simulated");
    sim.with_server(|s| {
        let s = s.expect("the API server runs");
        let nodes = testapiserver::resources::find("", "v1", "nodes").unwrap();
        let mut names: Vec<String> = s
            .state()
            .store
            .list(nodes, None)
            .0
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    })
}

/// Every file of a test host (its private directories and the overlays' upper
/// directories): path, mode, size, modification time and a hash of the content, to
/// tell whether anything on the host changed. etcd's member directory is left out: a
/// running etcd writes there on its own (its first writes come a moment after it
/// starts, and an API server kept in etcd writes all along).
pub fn files_of(h: &TestHost) -> std::collections::BTreeMap<PathBuf, String> {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    fn walk(dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let mut what = format!(
                "{:o} {} {}.{}",
                m.mode(),
                m.len(),
                m.mtime(),
                m.mtime_nsec()
            );
            if m.is_dir() {
                walk(&p, out);
            } else if m.is_file() {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                std::fs::read(&p).unwrap_or_default().hash(&mut hasher);
                what.push_str(&format!(" {:x}", hasher.finish()));
            } else if m.file_type().is_symlink() {
                what.push_str(&format!(" -> {:?}", std::fs::read_link(&p).ok()));
            }
            out.insert(p, what);
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(&h.root(), &mut out);
    walk(&h.dir.join("upper"), &mut out);
    let etcd = h.file("/var/lib/etcd/member");
    out.retain(|p, _| !p.starts_with(&etcd));
    out
}

/// etcdctl against the etcd of `cp`, with its health-check client's certificate; its
/// standard output.
pub fn etcdctl(cp: &TestHost, args: &[&str]) -> String {
    let pki = cp.file("/etc/kubernetes/pki/etcd");
    let o = Command::new("ip")
        .args(["netns", "exec", &cp.netns, "etcdctl", "--endpoints"])
        .arg(format!("https://{}:2379", cp.addr))
        .arg("--cacert")
        .arg(pki.join("ca.crt"))
        .arg("--cert")
        .arg(pki.join("healthcheck-client.crt"))
        .arg("--key")
        .arg(pki.join("healthcheck-client.key"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `etcdctl member list` against cp's etcd, one line per member.
pub fn etcd_members(cp: &TestHost) -> Vec<String> {
    etcdctl(cp, &["member", "list"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// What one run of the scale scenario measured: each `kubeadm-cluster` command's wall
/// time, CPU time and output.
pub struct ScaleRun {
    /// The test's network and hosts (kept up for more commands).
    pub net: Net,
    pub hosts: Vec<TestHost>,
    pub file: PathBuf,
    pub first_apply: Timed,
    pub noop_apply: Timed,
    pub check: Timed,
}

/// Builds a cluster of one control plane and `workers` workers from simulated hosts,
/// with every worker joining at once (`parallelJoins` as large as the workers), and
/// times the first `apply`, a second (no-op) `apply` and `check`.
pub fn scale_run(workers: usize) -> ScaleRun {
    let mut net = Net::new().unwrap();
    let mut hosts = vec![net.host(0, "cp-1", true).unwrap()];
    for i in 1..=workers {
        hosts.push(net.host(i, &format!("w-{i}"), false).unwrap());
    }
    let roles: Vec<(&TestHost, &str)> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h, if i == 0 { "control-plane" } else { "worker" }))
        .collect();
    let file = cluster_file(&net, &roles, None);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!("parallelJoins: {}\n", workers.clamp(1, 128)));
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap().to_string();
    let first_apply = net.kubeadm_cluster_timed(&["apply", "--yes", "-f", &f]);
    let noop_apply = net.kubeadm_cluster_timed(&["apply", "--yes", "-f", &f]);
    let check = net.kubeadm_cluster_timed(&["check", "-f", &f]);
    ScaleRun {
        net,
        hosts,
        file,
        first_apply,
        noop_apply,
        check,
    }
}

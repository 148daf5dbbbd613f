//! A real containerd (Debian's `containerd` and `runc`) started by a test with its own
//! root, state and socket, and a pause image made from busybox-static.
//!
//! containerd runs as the first process of its own PID namespace (and a mount namespace
//! with its own `/proc`), so that everything it starts ends with it: a shim
//! (`containerd-shim-runc-v2`) outlives a containerd that is merely killed, and keeps its
//! sandbox's processes running, but no process outlives the first process of its PID
//! namespace.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubeadm::cri::CriClient;

/// The image the test runtime uses as its sandbox (pause) image.
pub const IMAGE: &str = "docker.io/kubeadm-test/pause:1";

/// A containerd the test started. Dropping it (also while a failing test unwinds) ends
/// containerd, its shims and every process of its Pods, and checks that none is left.
pub struct Containerd {
    /// `unshare`, which made the namespaces and waits for containerd.
    unshare: Child,
    /// containerd's process id, as this process sees it.
    pid: u32,
    /// containerd's PID namespace (`pid:[inode]`), to recognise its process.
    pid_ns: String,
    dir: tempfile::TempDir,
    /// `unix://...` endpoint.
    pub socket: String,
}

/// A process as `/proc` shows it: its id, its start time (clock ticks after boot; with
/// the id, it names one process for good) and its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub start: u64,
    pub cmdline: String,
}

/// A process and all its descendants, as they are now.
pub fn process_tree(root: u32) -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let parents: Vec<(u32, u32)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent(pid)?)))
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree.into_iter().filter_map(process).collect()
}

/// The parent of `pid`.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The process `pid`, while it exists (a zombie included).
pub fn process(pid: u32) -> Option<Process> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; the start time
    // is the 20th field after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let start = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default();
    Some(Process {
        pid,
        start,
        cmdline: cmdline.trim_end().to_string(),
    })
}

/// Those of `processes` that still exist.
pub fn still_running(processes: &[Process]) -> Vec<Process> {
    processes
        .iter()
        .filter(|p| process(p.pid).is_some_and(|now| now.start == p.start))
        .cloned()
        .collect()
}

impl Containerd {
    /// containerd and every process under it: its shims (which stay its children once
    /// they detach, containerd being the first process of their PID namespace) and the
    /// processes of its Pods.
    pub fn processes(&self) -> Vec<Process> {
        process_tree(self.pid)
    }

    /// Imports the test's pause image (busybox-static) into the CRI's namespace.
    pub fn import_image(&self) {
        let archive = make_image(self.dir.path());
        let out = Command::new("ctr")
            .args(["--address", self.socket.trim_start_matches("unix://")])
            .args(["--namespace", "k8s.io", "images", "import"])
            .arg(&archive)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ctr import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let running = self.processes();
        // The first process of the namespace: when it dies the kernel kills the rest.
        // Signalled only while that id is still a process of containerd's namespace, so
        // that an id reused after containerd ended early is never signalled.
        if process_pid_ns(self.pid).as_deref() == Some(self.pid_ns.as_str()) {
            // SAFETY: kill takes plain integers; the process is containerd (checked above).
            unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        }
        // unshare reaps containerd, whose end waits for every other process of the
        // namespace to be gone, and exits (killed only if it does not: then containerd
        // would be reaped by whoever adopts it).
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.unshare.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        let mut left = still_running(&running);
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = still_running(&running);
        }
        if !left.is_empty() && !std::thread::panicking() {
            panic!("containerd's processes outlived it: {left:?}");
        }
    }
}

/// The PID namespace of a process (`pid:[inode]`), while it exists.
fn process_pid_ns(pid: u32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An OCI image archive whose only layer holds busybox-static, running `sleep` as a pause.
pub fn make_image(dir: &Path) -> std::path::PathBuf {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
        .expect("busybox-static must be installed");
    let layer = dir.join("layer.tar");
    let st = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(&rootfs)
        .arg("-cf")
        .arg(&layer)
        .arg("bin")
        .status()
        .unwrap();
    assert!(st.success());
    let layer_bytes = std::fs::read(&layer).unwrap();
    let layer_digest = sha256_hex(&layer_bytes);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Entrypoint":["/bin/busybox","sleep","3600"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{layer_digest}"]}}}}"#
    );
    let config_digest = sha256_hex(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer_bytes.len()
    );
    let manifest_digest = sha256_hex(manifest.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{manifest_digest}","size":{},"annotations":{{"io.containerd.image.name":"{IMAGE}","org.opencontainers.image.ref.name":"1"}}}}]}}"#,
        manifest.len()
    );
    let oci = dir.join("oci");
    let blobs = oci.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(&layer_digest), &layer_bytes).unwrap();
    std::fs::write(blobs.join(&config_digest), &config).unwrap();
    std::fs::write(blobs.join(&manifest_digest), &manifest).unwrap();
    std::fs::write(oci.join("index.json"), index).unwrap();
    std::fs::write(oci.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let archive = dir.join("image.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&oci)
        .arg("-cf")
        .arg(&archive)
        .args(["oci-layout", "index.json", "blobs"])
        .status()
        .unwrap();
    assert!(st.success());
    archive
}

/// A containerd with its own root and state, its socket in its own directory.
pub fn start_containerd() -> Containerd {
    start_containerd_at(None)
}

/// A containerd with its own root and state, listening on `socket` when given. It ends
/// when dropped, or at the latest with the thread that started it (so a test process
/// killed outright leaves no runtime behind either).
pub fn start_containerd_at(socket: Option<&Path>) -> Containerd {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let sock = socket
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.path().join("containerd.sock"));
    std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
    let s = sock.display();
    let config = format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{s}"
[ttrpc]
  address = "{s}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{IMAGE}"
  # This machine refuses negative oom_score_adj values (no CAP_SYS_RESOURCE); keep the
  # sandbox's at containerd's own, as containerd's rootless setups do.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/conf"
"#
    );
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "containerd",
    ])
    .arg("--config")
    .arg(dir.path().join("config.toml"))
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(dir.path().join("containerd.log")).unwrap());
    // SAFETY: the closure runs in the new process before exec and only calls prctl,
    // which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut unshare = cmd.spawn().expect(
        "unshare (util-linux) and containerd (Debian package containerd) must be installed",
    );
    let socket = format!("unix://{s}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        // unshare's one child.
        if let Some(p) = process_tree(unshare.id()).get(1) {
            break p.pid;
        }
        if let Ok(Some(status)) = unshare.try_wait() {
            panic!(
                "containerd did not start ({status}): {}",
                std::fs::read_to_string(dir.path().join("containerd.log")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "unshare did not start containerd"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let pid_ns = process_pid_ns(pid).expect("containerd's PID namespace");
    let c = Containerd {
        unshare,
        pid,
        pid_ns,
        dir,
        socket,
    };
    while CriClient::connect(&c.socket, Duration::from_secs(1))
        .and_then(|mut cl| cl.version())
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "containerd did not start: {}",
            std::fs::read_to_string(c.dir.path().join("containerd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    c
}

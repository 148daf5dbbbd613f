//! A real containerd (Debian's `containerd` and `runc`) started by a test with its own
//! root, state and socket, and a pause image made from busybox-static.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubeadm::cri::CriClient;

/// The image the test runtime uses as its sandbox (pause) image.
pub const IMAGE: &str = "docker.io/kubeadm-test/pause:1";

/// A containerd the test started, killed when dropped.
pub struct Containerd {
    child: Child,
    dir: tempfile::TempDir,
    /// `unix://...` endpoint.
    pub socket: String,
}

impl Containerd {
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// A containerd with its own root and state, listening on `socket` when given.
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
    let child = Command::new("containerd")
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("containerd.log")).unwrap())
        .spawn()
        .expect("containerd must be installed (Debian package containerd)");
    let socket = format!("unix://{s}");
    let c = Containerd { child, dir, socket };
    let deadline = Instant::now() + Duration::from_secs(30);
    while CriClient::connect(&c.socket, Duration::from_secs(1))
        .and_then(|mut cl| cl.version())
        .is_err()
    {
        assert!(Instant::now() < deadline, "containerd did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    c
}

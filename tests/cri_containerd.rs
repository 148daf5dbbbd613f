//! kubeadm-rs's CRI client against a real containerd (Debian's `containerd` and `runc`),
//! started by the test with its own root, state and socket: version and status, an image
//! made by the test from busybox-static and imported with `ctr`, image listing and status,
//! a host-network pod sandbox run, stopped and removed, and a pull that cannot reach its
//! registry.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubeadm::cri::CriClient;

const IMAGE: &str = "docker.io/kubeadm-test/pause:1";

struct Containerd {
    child: Child,
    _dir: tempfile::TempDir,
    socket: String,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256_hex(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An OCI image archive whose only layer holds busybox-static, running `sleep` as a pause.
fn make_image(dir: &Path) -> std::path::PathBuf {
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

fn start_containerd() -> Containerd {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
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
    let socket = format!("unix://{d}/containerd.sock");
    let c = Containerd {
        child,
        _dir: dir,
        socket,
    };
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

#[test]
fn the_cri_client_drives_a_real_containerd() {
    let c = start_containerd();
    let mut cl = CriClient::connect(&c.socket, Duration::from_secs(30)).unwrap();

    let v = cl.version().unwrap();
    assert_eq!(v.runtime_name, "containerd");
    assert_eq!(v.runtime_api_version, "v1");
    let conditions = cl.status().unwrap();
    let runtime_ready = conditions
        .iter()
        .find(|c| c.kind == "RuntimeReady")
        .unwrap();
    assert!(runtime_ready.status, "{conditions:?}");

    // An image made here, imported with ctr into the namespace the CRI uses.
    let work = tempfile::tempdir().unwrap();
    let archive = make_image(work.path());
    let address = c.socket.trim_start_matches("unix://");
    let out = Command::new("ctr")
        .args([
            "--address",
            address,
            "--namespace",
            "k8s.io",
            "images",
            "import",
        ])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ctr import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        cl.list_images().unwrap().iter().any(|t| t == IMAGE),
        "{:?}",
        cl.list_images()
    );
    assert!(cl.image_exists(IMAGE).unwrap());
    assert!(!cl.image_exists("docker.io/kubeadm-test/absent:1").unwrap());

    // Before any pod: listing works, and stopping or removing an unknown sandbox is an
    // error that names the call.
    assert!(cl.list_pod_sandboxes().unwrap().is_empty());
    assert!(cl.list_containers().unwrap().is_empty());
    let e = cl
        .stop_pod_sandbox("no-such-sandbox")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("StopPodSandbox on ") && e.contains("NotFound"),
        "{e}"
    );

    // Pulling from a registry that cannot be reached fails with the call and the endpoint.
    let e = cl
        .pull_image("registry.invalid/nothing:1")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("PullImage on {} failed", c.socket)),
        "{e}"
    );

    // A host-network pod sandbox, as a static Pod gets: run, listed ready, stopped,
    // removed.
    let id = cl
        .run_pod_sandbox("kube-test", "kube-system", "uid-kube-test", &[])
        .unwrap();
    let listed = cl.list_pod_sandboxes().unwrap();
    let sb = listed
        .iter()
        .find(|s| s.id == id)
        .expect("the sandbox is listed");
    assert_eq!(
        (sb.name.as_str(), sb.namespace.as_str(), sb.ready),
        ("kube-test", "kube-system", true)
    );
    cl.stop_pod_sandbox(&id).unwrap();
    let sb = cl
        .list_pod_sandboxes()
        .unwrap()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap();
    assert!(!sb.ready, "stopped");
    cl.remove_pod_sandbox(&id).unwrap();
    assert!(
        cl.list_pod_sandboxes().unwrap().iter().all(|s| s.id != id),
        "removed"
    );
    // Preflight's CRI check passes against the live socket and fails, naming the socket,
    // against one nobody serves.
    let host = kubeadm::host::RealHost::new("/");
    let check = kubeadm::preflight::Check::Cri(c.socket.clone());
    assert_eq!(check.run(&host), (vec![], vec![]));
    let dead = format!("unix://{}/dead.sock", work.path().display());
    let (_, errors) = kubeadm::preflight::Check::Cri(dead.clone()).run(&host);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(&format!(
            "container runtime is not running: cannot connect to {dead}"
        )),
        "{errors:?}"
    );

    // Preflight's image step: a present image is not pulled again; a missing one from an
    // unreachable registry is a failure naming the image.
    let failures = kubeadm::phases::preflight::pull(
        &host,
        &c.socket,
        &[
            IMAGE.to_string(),
            "registry.invalid/kube-apiserver:v1.37.1".to_string(),
        ],
        false,
        "[preflight]",
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with("failed to pull image registry.invalid/kube-apiserver:v1.37.1: "),
        "{failures:?}"
    );

    // `kubeadm config images pull` goes through the same client: every image of the
    // configuration is tried and each failure is named.
    let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .args(["config", "images", "pull", "--cri-socket", &c.socket])
        .args([
            "--image-repository",
            "registry.invalid",
            "--kubernetes-version",
            "v1.37.1",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("7 images could not be pulled"), "{err}");
    for image in ["kube-apiserver:v1.37.1", "pause:3.10.2", "etcd:3.6.9-0"] {
        assert!(
            out.contains(&format!(
                "[config/images] Failed to pull registry.invalid/{image}"
            )),
            "{out}"
        );
        assert!(
            err.contains(&format!("failed to pull image registry.invalid/{image}: ")),
            "{err}"
        );
    }
}

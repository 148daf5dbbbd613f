//! kubeadm-rs's CRI client against a real containerd (Debian's `containerd` and `runc`),
//! started by the test with its own root, state and socket: version and status, an image
//! made by the test from busybox-static and imported with `ctr`, image listing and status,
//! a host-network pod sandbox run, stopped and removed, and a pull that cannot reach its
//! registry. A test that fails with a sandbox running leaves no process or mount behind.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kubeadm::cri::CriClient;

mod support;

use support::containerd::{start_containerd, still_running, Process, IMAGE};

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
    c.import_image();
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
    // containerd 1.x answers RuntimeConfig with Unimplemented; the version check warns.
    assert!(!cl.implements_runtime_config().unwrap());
    let (warnings, errors) =
        kubeadm::preflight::Check::ContainerRuntimeVersion(c.socket.clone()).run(&host);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("does not implement the CRI RuntimeConfig call"),
        "{warnings:?}"
    );
    let work = tempfile::tempdir().unwrap();
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
        true,
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
    for image in ["kube-apiserver:v1.37.1", "pause:3.10.2", "etcd:3.7.0-0"] {
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

/// A test that fails while its runtime runs a Pod sandbox leaves nothing behind: the shim
/// (which outlives a containerd that is merely killed), the sandbox's process and their
/// mounts end with the runtime, and its directory is removed.
#[test]
fn a_failing_test_leaves_no_runtime_process_behind() {
    let mut seen: Vec<Process> = Vec::new();
    let mut dir = None;
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let c = start_containerd();
        c.import_image();
        dir = Path::new(c.socket.trim_start_matches("unix://"))
            .parent()
            .map(Path::to_path_buf);
        let mut cl = CriClient::connect(&c.socket, Duration::from_secs(30)).unwrap();
        cl.run_pod_sandbox("left-running", "default", "uid-left-running", &[])
            .unwrap();
        // The sandbox's process replaces runc's shortly after the sandbox is reported
        // running.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        seen = c.processes();
        while !seen.iter().any(|p| p.cmdline.contains("busybox sleep"))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
            seen = c.processes();
        }
        panic!("this test fails on purpose, with a Pod sandbox running");
    }));
    assert!(failed.is_err());
    assert!(
        seen.iter()
            .any(|p| p.cmdline.contains("containerd-shim-runc-v2")),
        "the sandbox has a shim: {seen:?}"
    );
    assert!(
        seen.iter().any(|p| p.cmdline.contains("busybox sleep")),
        "the sandbox's process runs: {seen:?}"
    );
    assert_eq!(still_running(&seen), vec![], "processes outlived the test");
    let dir = dir.unwrap();
    assert!(!dir.exists(), "{} is removed", dir.display());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&dir.display().to_string()),
        "a mount under {} outlived the test:\n{mounts}",
        dir.display()
    );
}

/// `imagePullSerial: false`: every image is pulled at once. A stand-in registry on
/// loopback holds each connection open until as many are open at once as there are images
/// to pull, then closes them all; pulled one after another, the images could never hold
/// that many at once (each pull ends before the next starts). Each image's failure is
/// kept, in the images' order; a present image is not pulled.
#[test]
fn image_pull_serial_false_pulls_every_image_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    let c = start_containerd();
    c.import_image();
    let registry = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = registry.local_addr().unwrap().port();
    let missing: Vec<String> = ["kube-apiserver", "kube-scheduler", "etcd"]
        .iter()
        .map(|n| format!("127.0.0.1:{port}/kubeadm-test/{n}:1"))
        .collect();
    let wanted = missing.len();
    // (open now, released), and the most ever open at once.
    let gate = Arc::new(Mutex::new((0usize, false)));
    let most = Arc::new(AtomicUsize::new(0));
    {
        let (gate, most) = (gate.clone(), most.clone());
        std::thread::spawn(move || {
            for conn in registry.incoming() {
                let Ok(conn) = conn else { return };
                let (gate, most) = (gate.clone(), most.clone());
                std::thread::spawn(move || {
                    use std::io::Read;
                    let lock = &*gate;
                    {
                        let mut g = lock.lock().unwrap();
                        g.0 += 1;
                        most.fetch_max(g.0, Ordering::SeqCst);
                        if g.0 >= wanted {
                            g.1 = true;
                        }
                    }
                    // Held open until released; a pull that gives up and closes its
                    // connection no longer counts.
                    let mut conn = conn;
                    conn.set_read_timeout(Some(Duration::from_millis(100)))
                        .unwrap();
                    let mut buf = [0u8; 4096];
                    loop {
                        if lock.lock().unwrap().1 {
                            break;
                        }
                        match conn.read(&mut buf) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) => {}
                            Err(_) => break,
                        }
                    }
                    lock.lock().unwrap().0 -= 1;
                });
            }
        });
    }
    let host = kubeadm::host::RealHost::new("/");
    let mut images = vec![IMAGE.to_string()];
    images.extend(missing.iter().cloned());
    let failures =
        kubeadm::phases::preflight::pull(&host, &c.socket, &images, false, false, "[preflight]");
    let most = most.load(Ordering::SeqCst);
    assert!(
        most >= wanted,
        "the missing images were not pulled at once: at most {most} connections were open"
    );
    assert_eq!(failures.len(), wanted, "{failures:?}");
    for (failure, image) in failures.iter().zip(&missing) {
        assert!(
            failure.starts_with(&format!("failed to pull image {image}: PullImage on ")),
            "{failures:?}"
        );
    }
}

//! wait-control-plane asks the container runtime why a component does not come up: a
//! container that keeps exiting is reported at once (restarts, exit code, the last lines
//! of its log) instead of after the whole timeout. A real containerd runs the container.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kubeadm::cri::api as cri;
use kubeadm::cri::CriClient;
use support::containerd::{start_containerd, IMAGE};
use support::{free_port, http_ok};

fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_crash_looping_api_server_is_reported_with_its_log() {
    let c = start_containerd();
    c.import_image();
    let mut cl = CriClient::connect(&c.socket, Duration::from_secs(30)).unwrap();
    let logs = tempfile::tempdir().unwrap();

    // The API server's static Pod as the kubelet runs it, on its third start: it fails
    // on a bad flag, as a typo in extraArgs makes it do.
    let pod_labels = [
        ("io.kubernetes.pod.namespace", "kube-system"),
        ("io.kubernetes.pod.name", "kube-apiserver-cp-1"),
        ("component", "kube-apiserver"),
    ];
    let sandbox = cri::PodSandboxConfig {
        log_directory: logs.path().display().to_string(),
        ..kubeadm::cri::host_network_sandbox(
            "kube-apiserver-cp-1",
            "kube-system",
            "0123456789",
            &pod_labels,
        )
    };
    let sandbox_id = cl.run_sandbox(sandbox.clone()).unwrap();
    let container = cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: "kube-apiserver".into(),
            attempt: 2,
        }),
        image: Some(cri::ImageSpec {
            image: IMAGE.into(),
        }),
        command: vec![
            "/bin/busybox".into(),
            "sh".into(),
            "-c".into(),
            "echo 'I1130 server.go:150] Version: v1.37.1'; echo 'E1130 run.go:72] \"command failed\" err=\"unknown flag: --bogus-flag\"' >&2; exit 1".into(),
        ],
        labels: labels(&[
            ("io.kubernetes.pod.namespace", "kube-system"),
            ("io.kubernetes.pod.name", "kube-apiserver-cp-1"),
            ("io.kubernetes.container.name", "kube-apiserver"),
        ]),
        log_path: "kube-apiserver/2.log".into(),
        ..Default::default()
    };
    let id = cl
        .create_and_start(&sandbox_id, sandbox, container)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cl.container_status(&id).unwrap().state != cri::ContainerState::ContainerExited as i32 {
        assert!(Instant::now() < deadline, "the container did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A kubelet answers its health check; nothing answers for the components.
    http_ok("127.0.0.1:10248");
    let work = tempfile::tempdir().unwrap();
    let cfg = work.path().join("k.yaml");
    // wait-control-plane with this runtime; it must fail: its error output.
    let wait_fails = |socket: &str| {
        std::fs::write(
            &cfg,
            format!(
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.1\n  bindPort: {}\nnodeRegistration:\n  name: cp-1\n  criSocket: {socket}\ntimeouts:\n  controlPlaneComponentHealthCheck: 10m0s\n",
                free_port(),
            ),
        )
        .unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_kubeadm"))
            .args(["init", "phase", "wait-control-plane", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let err = wait_fails(&c.socket);
    assert!(
        err.contains("kube-apiserver keeps exiting: restarted 2 times, last exit code 1"),
        "{err}"
    );
    assert!(
        err.contains("\tE1130 run.go:72] \"command failed\" err=\"unknown flag: --bogus-flag\""),
        "{err}"
    );
    assert!(
        err.contains("\tI1130 server.go:150] Version: v1.37.1"),
        "{err}"
    );
    // It did not wait out the ten minutes.
    assert!(!err.contains("is not healthy after 10m0s"), "{err}");

    // A runtime with no container at all and none of the images: after a grace time for
    // the kubelet's pulls, the component is reported stuck, first on a Pod sandbox that is
    // not ready, then (without one) on its image.
    let empty = start_containerd();
    empty.import_image();
    let mut ecl = CriClient::connect(&empty.socket, Duration::from_secs(30)).unwrap();
    let stopped = ecl
        .run_pod_sandbox(
            "kube-apiserver-cp-1",
            "kube-system",
            "9876543210",
            &pod_labels,
        )
        .unwrap();
    ecl.stop_pod_sandbox(&stopped).unwrap();
    let err = wait_fails(&empty.socket);
    assert!(
        err.contains("kube-apiserver has not started: the sandbox of its Pod kube-apiserver-cp-1 is not ready"),
        "{err}"
    );
    ecl.remove_pod_sandbox(&stopped).unwrap();
    let err = wait_fails(&empty.socket);
    assert!(
        err.contains("kube-apiserver has not started: its image registry.k8s.io/kube-apiserver:v1.37.1 is not on this node"),
        "{err}"
    );
}

/// Preflight compares the runtime's settings with the kubelet's and kubeadm's: containerd
/// here runs the cgroupfs driver (no SystemdCgroup) and its own sandbox image, so init's
/// preflight warns of both, with the fix.
#[test]
fn preflight_warns_of_a_runtime_that_disagrees_with_the_kubelet() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let _c = support::containerd::start_containerd_at(Some(
        &r.join("var/run/containerd/containerd.sock"),
    ));
    std::fs::write(
        r.join("k.yaml"),
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.1\nnodeRegistration:\n  name: cp-1\n  criSocket: unix:///var/run/containerd/containerd.sock\n",
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(r)
        .args([
            "init",
            "phase",
            "preflight",
            "--config",
            "/k.yaml",
            "--ignore-preflight-errors",
            "all",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("[WARNING ContainerRuntimeSettings]: the container runtime uses the \"cgroupfs\" cgroup driver but the kubelet is configured with \"systemd\""),
        "{out}"
    );
    assert!(out.contains("SystemdCgroup = true"), "{out}");
    // containerd 1.x does not implement RuntimeConfig: a warning, as upstream v1.37 gives.
    assert!(
        out.contains("[WARNING ContainerRuntimeVersion]: the container runtime at unix:///var/run/containerd/containerd.sock does not implement the CRI RuntimeConfig call"),
        "{out}"
    );
    assert!(!out.contains("[ERROR ContainerRuntimeVersion]"), "{out}");
    assert!(
        out.contains(&format!("[WARNING ContainerRuntimeSettings]: detected that the sandbox image \"{IMAGE}\" of the container runtime is inconsistent with that used by kubeadm. It is recommended to use \"registry.k8s.io/pause:3.10.2\"")),
        "{out}"
    );
}

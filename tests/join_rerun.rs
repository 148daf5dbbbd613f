//! `kubeadm join` of a worker killed with SIGKILL at points spread across its run, then
//! run again with the same command: the files left after the kill are whole, and the rerun
//! completes the node, its preflight reusing the CA, bootstrap kubeconfig and kubelet
//! kubeconfig an earlier run of this join left (recognised by the CA pin, the token and
//! the node's identity) instead of stopping on them. A kubelet stand-in, running across
//! the kill as a kubelet would, does the TLS bootstrap; a Node it registered is then
//! Ready, so the rerun meets its own Node.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::files::{assert_pairs, assert_whole, kill_at, KillPoint};
use support::node::HOST_CHECKS;
use support::*;
use testapiserver::resources;

const POINTS: &[KillPoint] = &[
    KillPoint::Line("[discovery] Trying"),
    KillPoint::Line("[discovery] Cluster info"),
    KillPoint::Line("[kubelet-start] Wrote the bootstrap kubeconfig"),
    KillPoint::Line("[kubelet-start] Downloading"),
    KillPoint::Line("[kubelet-start] Starting the kubelet"),
    KillPoint::Line("[kubelet-check]"),
    KillPoint::Line("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap"),
    KillPoint::File("etc/kubernetes/kubelet.conf"),
];

/// The joins of this file's tests, one at a time: a join's preflight checks the kubelet's
/// port by binding it on the machine, and two joins at once would each find the other's
/// probe there.
static ONE_JOIN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn join(root: &Path, cp: &ControlPlane, node: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubeadm"));
    c.arg("--rootfs")
        .arg(root)
        .args([
            "join",
            &cp.endpoint,
            "--token",
            "abcdef.0123456789abcdef",
            "--discovery-token-ca-cert-hash",
            &cp.pin,
            "--node-name",
            node,
            "--ignore-preflight-errors",
            HOST_CHECKS,
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn join_killed_at_any_point_completes_on_a_rerun() {
    let _one = ONE_JOIN.lock().unwrap_or_else(|e| e.into_inner());
    let cp = control_plane();
    kubelet_health(None);
    let store = &cp.server.state().store;
    let nodes = resources::find("", "v1", "nodes").unwrap();
    let mut reused = 0;
    let mut itself = 0;
    for (i, point) in POINTS.iter().enumerate() {
        let name = format!("rerun-{i}");
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let kubelet = kubelet_bootstrap(r.to_path_buf(), &name, None);
        let landed = kill_at(join(r, &cp, &name), r, point, Duration::ZERO);
        assert!(landed, "join {i} ended before its kill point");
        assert_whole(r, true);
        // A Node the kubelet registered becomes Ready meanwhile.
        if let Ok(mut node) = store.get(nodes, "", &name) {
            node["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}]});
            node["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("resourceVersion");
            store.update(nodes, "", &name, node).unwrap();
        }

        let o = join(r, &cp, &name).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "the rerun of join {i}:\n{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("This node has joined the cluster"), "{out}");
        assert!(
            !out.contains("is not what this configuration writes"),
            "{out}"
        );
        if out.contains("[preflight] Reusing") {
            reused += 1;
        }
        if out.contains("is this node, joined by an earlier run") {
            itself += 1;
        }
        kubelet.join().unwrap();
        assert_whole(r, false);
        assert_pairs(&r.join("etc/kubernetes/pki"));
        assert!(r.join("etc/kubernetes/kubelet.conf").exists());
        assert!(!r.join("etc/kubernetes/bootstrap-kubelet.conf").exists());
        store.get(nodes, "", &name).unwrap();
    }
    eprintln!(
        "{} kills; reruns that reused files: {reused}; that met their own Node: {itself}",
        POINTS.len()
    );
    assert!(
        reused >= 4,
        "reruns that reused the earlier run's files: {reused}"
    );
    assert!(itself >= 1, "a rerun met its own Ready Node");
}

#[test]
fn another_clusters_files_are_refused_with_what_to_do() {
    let _one = ONE_JOIN.lock().unwrap_or_else(|e| e.into_inner());
    let cp = control_plane();
    let other = tempfile::tempdir().unwrap();
    let o = kubeadm_in(None, other.path(), &["init", "phase", "certs", "ca"]);
    assert!(o.status.success());
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("etc/kubernetes/pki")).unwrap();
    std::fs::copy(
        other.path().join("etc/kubernetes/pki/ca.crt"),
        r.join("etc/kubernetes/pki/ca.crt"),
    )
    .unwrap();
    let o = join(r, &cp, "stranger").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        out.contains("/etc/kubernetes/pki/ca.crt is not what this configuration writes")
            && err.contains("FileAvailable--etc-kubernetes-pki-ca.crt"),
        "{out}{err}"
    );
}

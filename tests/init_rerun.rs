//! `kubeadm init` killed with SIGKILL at points spread across its run, then run again with
//! the same command: every file left after the kill is whole (PEM, YAML, kubeconfig), and
//! the rerun completes the node, its preflight reusing the files the first run wrote with
//! this configuration instead of stopping on them. A node simulator plays the kubelet (it
//! starts the test API server from the manifest kubeadm writes) and keeps running across
//! the kill, as a kubelet would. Preflight runs, with only the checks of this machine's
//! missing host tools ignored.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::files::{assert_pairs, assert_whole, kill_at, KillPoint};
use support::node::{write_init_config, NodeSimulator, HOST_CHECKS};
use support::{free_port, http_ok};

fn node(port: u16) -> (tempfile::TempDir, NodeSimulator) {
    let root = tempfile::tempdir().unwrap();
    write_init_config(root.path(), port);
    let sim = NodeSimulator::start(root.path(), "cp-1");
    (root, sim)
}

fn init(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubeadm"));
    c.arg("--rootfs")
        .arg(root)
        .args([
            "init",
            "--config",
            "/kubeadm.yaml",
            "--upload-certs",
            "--ignore-preflight-errors",
            HOST_CHECKS,
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn succeeded(o: &Output, what: &str) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{what}:\n{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("Your Kubernetes control-plane has initialized successfully!"),
        "{what}:\n{out}"
    );
    out
}

/// Where the kills land: the first line each phase prints.
const POINTS: &[&str] = &[
    "[certs] Generating \"apiserver\"",
    "[certs] Generating \"etcd/ca\"",
    "[kubeconfig]",
    "[etcd]",
    "[control-plane]",
    "[kubelet-start]",
    "[kubelet-check]",
    "[upload-config]",
    "[upload-certs]",
    "[mark-control-plane]",
    "[bootstrap-token]",
    "[kubelet-finalize]",
    "[addons]",
];

#[test]
fn init_killed_at_any_point_completes_on_a_rerun() {
    // The kubelet's health endpoint, for every node of this test.
    http_ok("127.0.0.1:10248");
    let mut reused = 0;
    for (i, prefix) in POINTS.iter().enumerate() {
        let (root, sim) = node(free_port());
        let r = root.path();
        // Right at the phase's first line, or a little into it; the last phases
        // (kubelet-finalize, addons, the join command) end within milliseconds, so they
        // are killed right at their first line.
        let into = i % 2 == 1 && i + 2 < POINTS.len();
        let delay = Duration::from_millis(if into { 20 } else { 0 });
        assert!(
            kill_at(init(r), r, &KillPoint::Line(prefix), delay),
            "init printed no line starting with {prefix:?} before it ended"
        );
        assert_whole(r, true);

        let o = init(r).output().unwrap();
        let out = succeeded(&o, &format!("the rerun after a kill at {prefix:?}"));
        if out.contains("[preflight] Reusing") {
            reused += 1;
        }
        assert!(
            !out.contains("is not what this configuration writes"),
            "after a kill at {prefix:?}:\n{out}"
        );
        assert_whole(r, false);
        assert_pairs(&r.join("etc/kubernetes/pki"));
        // The cluster the rerun finished has what init makes.
        sim.with_server(|s| {
            let store = &s.expect("the API server runs").state().store;
            let cms = testapiserver::resources::find("", "v1", "configmaps").unwrap();
            for (ns, name) in [
                ("kube-system", "kubeadm-config"),
                ("kube-system", "kubelet-config"),
                ("kube-public", "cluster-info"),
                ("kube-system", "coredns"),
                ("kube-system", "kube-proxy"),
            ] {
                store
                    .get(cms, ns, name)
                    .unwrap_or_else(|e| panic!("{ns}/{name} after a kill at {prefix:?}: {e:?}"));
            }
        });
        drop(sim);
    }
    // Every kill from the manifests on leaves files the rerun reuses.
    assert!(reused >= POINTS.len() - 4, "reruns that reused: {reused}");
}

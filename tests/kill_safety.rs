//! A kubeadm killed with SIGKILL at any moment leaves every file absent or complete, and
//! a plain rerun of the same command finishes the node with consistent files.

use std::process::{Command, Stdio};
use std::time::Duration;

mod support;
use support::files::{assert_pairs, assert_whole};

#[test]
fn killed_at_any_moment_a_rerun_finishes() {
    let command: &[&str] = &["init", "phase", "certs", "all"];
    let then: &[&str] = &["init", "phase", "kubeconfig", "all"];
    for delay_ms in [10u64, 40, 100, 200, 350] {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let cfg = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.0.2.30\nnodeRegistration:\n  name: kill-1\n  criSocket: unix:///var/run/containerd/containerd.sock\n";
        std::fs::write(r.join("k.yaml"), cfg).unwrap();
        let run = |args: &[&str]| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_kubeadm"));
            c.arg("--rootfs")
                .arg(r)
                .args(args)
                .args(["--config", "/k.yaml"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            c
        };
        for args in [command, then] {
            let mut child = run(args).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(delay_ms / 2));
            let _ = child.kill();
            let _ = child.wait();
            assert_whole(r, true);
        }
        // The same commands again finish the node.
        for args in [command, then] {
            let o = run(args).output().unwrap();
            assert!(
                o.status.success(),
                "rerun after a kill at {delay_ms} ms: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        assert_whole(r, false);
        assert_pairs(&r.join("etc/kubernetes/pki"));
        for conf in [
            "admin.conf",
            "super-admin.conf",
            "kubelet.conf",
            "controller-manager.conf",
            "scheduler.conf",
        ] {
            assert!(
                r.join("etc/kubernetes").join(conf).exists(),
                "{conf} after a kill at {delay_ms} ms"
            );
        }
    }
}

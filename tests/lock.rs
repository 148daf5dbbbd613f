//! One kubeadm at a time per node: commands that change the node take an exclusive lock
//! under the root's /run; a second one fails at once naming the holder; read-only
//! commands and dry runs do not lock.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Output};

fn kubeadm(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_second_kubeadm_is_refused_naming_the_first() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("run")).unwrap();
    // Another kubeadm holds the lock: this test process plays it.
    let mut held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(r.join("run/kubeadm.lock"))
        .unwrap();
    assert_eq!(
        unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    writeln!(held, "{}", std::process::id()).unwrap();
    let holder = format!("process {} holds /run/kubeadm.lock", std::process::id());

    for args in [
        &["init", "phase", "certs", "ca"][..],
        &["reset", "-f"][..],
        &["certs", "renew", "all"][..],
        &["upgrade", "node"][..],
        &[
            "join",
            "192.0.2.1:6443",
            "--token",
            "abcdef.0123456789abcdef",
            "--discovery-token-unsafe-skip-ca-verification",
        ][..],
    ] {
        let o = kubeadm(r, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} ran beside another kubeadm");
        assert!(err.contains(&holder), "{args:?}: {err}");
    }
    assert!(!r.join("etc/kubernetes/pki/ca.crt").exists());

    // Reading and dry runs go on.
    let o = kubeadm(r, &["config", "print", "init-defaults"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = kubeadm(r, &["init", "phase", "certs", "ca", "--dry-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Once the holder is gone (however it ended), the next run takes the lock.
    drop(held);
    let o = kubeadm(r, &["init", "phase", "certs", "ca"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(r.join("etc/kubernetes/pki/ca.crt").exists());
}

//! Inputs read as upstream reads them: duration flags take a sign (`--token-ttl -5s` is
//! the flag's value) and Go's range.

use std::path::Path;
use std::process::{Command, Output};

/// Runs kubeadm on `root` (`--rootfs`), its dry runs' scratch directories under `tmp`.
fn kubeadm(root: &Path, tmp: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .env("TMPDIR", tmp)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A root and a scratch directory, both empty.
fn dirs() -> (tempfile::TempDir, tempfile::TempDir) {
    (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap())
}

#[test]
fn duration_flags_take_a_sign_and_gos_range() {
    // Every phase skipped: the flags are read and the configuration is built, nothing runs.
    let skip = "preflight,certs,kubeconfig,etcd,control-plane,kubelet-start,wait-control-plane,upload-config,upload-certs,mark-control-plane,bootstrap-token,kubelet-finalize,addon,show-join-command";
    let init = |ttl: &[&str]| {
        let (root, tmp) = dirs();
        let mut args = vec![
            "init",
            "--dry-run",
            "--apiserver-advertise-address",
            "192.0.2.10",
            "--skip-phases",
            skip,
        ];
        args.extend_from_slice(ttl);
        let o = kubeadm(root.path(), tmp.path(), &args);
        (o.status.code(), text(&o).1)
    };
    for ttl in [
        &["--token-ttl", "-5s"][..],
        &["--token-ttl=-5s"],
        &["--token-ttl", "-1.5h"],
    ] {
        let (code, err) = init(ttl);
        assert_eq!(code, Some(0), "{ttl:?}: {err}");
    }
    for (ttl, why) in [
        ("99999999999h", "out of range"),
        ("2562048h", "out of range"),
        ("1d", "unknown unit \"d\""),
        ("5", "a number without a unit"),
    ] {
        let (code, err) = init(&["--token-ttl", ttl]);
        assert_eq!(code, Some(2), "{ttl}: {err}");
        assert!(
            err.contains(&format!(
                "invalid value '{ttl}' for '--token-ttl <duration>': invalid duration \"{ttl}\": {why}"
            )),
            "{ttl}: {err}"
        );
    }
    // The largest Go duration is taken.
    assert_eq!(
        init(&["--token-ttl", "2562047h47m16.854775807s"]).0,
        Some(0)
    );
}

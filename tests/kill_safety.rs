//! A kubeadm killed with SIGKILL at any moment leaves every file absent or complete, and
//! a plain rerun of the same command finishes the node with consistent files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn openssl(args: &[&str], file: &Path) -> Option<String> {
    let o = Command::new("openssl").args(args).arg(file).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Every file is whole: certificates and keys parse, kubeconfigs and manifests are YAML
/// documents; `temporaries` says whether a killed writer's temporary files may remain.
fn check_complete(root: &Path, temporaries: bool) {
    for f in files(root) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp-") {
            assert!(temporaries, "a temporary file was left: {}", f.display());
            continue;
        }
        if name.ends_with(".crt") {
            assert!(
                openssl(&["x509", "-noout", "-in"], &f).is_some(),
                "{} is not a whole certificate",
                f.display()
            );
        } else if name.ends_with(".key") {
            assert!(
                openssl(&["pkey", "-noout", "-in"], &f).is_some(),
                "{} is not a whole key",
                f.display()
            );
        } else if name.ends_with(".pub") {
            assert!(
                openssl(&["pkey", "-pubin", "-noout", "-in"], &f).is_some(),
                "{} is not a whole public key",
                f.display()
            );
        } else if name.ends_with(".conf") || name.ends_with(".yaml") {
            let text = std::fs::read_to_string(&f).unwrap();
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
                .unwrap_or_else(|e| panic!("{} is not whole YAML: {e}", f.display()));
            assert!(!text.is_empty(), "{} is empty", f.display());
        }
    }
}

/// Each certificate is signed for the key beside it.
fn check_pairs(pki: &Path) {
    for f in files(pki) {
        let Some(stem) = f.to_str().unwrap().strip_suffix(".crt") else {
            continue;
        };
        let key = PathBuf::from(format!("{stem}.key"));
        if !key.exists() {
            continue;
        }
        let from_cert = openssl(&["x509", "-noout", "-pubkey", "-in"], &f).unwrap();
        let from_key = openssl(&["pkey", "-pubout", "-in"], &key).unwrap();
        assert_eq!(
            from_cert,
            from_key,
            "{} does not match {}",
            f.display(),
            key.display()
        );
    }
}

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
            check_complete(r, true);
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
        check_complete(r, false);
        check_pairs(&r.join("etc/kubernetes/pki"));
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

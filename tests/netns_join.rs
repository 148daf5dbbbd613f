//! A worker joins across hosts: two network namespaces joined by a veth pair, the control
//! plane (`kubeadm init` and the test API server) in one, `kubeadm join` and the kubelet
//! stand-in in the other. Only namespaces, links and addresses this test makes are used
//! (a /30 in 10.250.0.0/16 chosen from the process id). Skips, saying why, where network
//! namespaces cannot be created (not root, no `ip`).

mod support;

use std::process::Command;

use nodesim::ip;
use support::*;
use testapiserver::resources;

struct Namespaces {
    names: [String; 2],
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// Two namespaces linked by a veth pair, with `a` and `b` as their addresses.
fn make_namespaces(a: &str, b: &str) -> Result<Namespaces, String> {
    let id = std::process::id();
    let (na, nb) = (format!("kadm-cp-{id}"), format!("kadm-wk-{id}"));
    ip(&["netns", "add", &na])?;
    let ns = Namespaces {
        names: [na.clone(), nb.clone()],
    };
    ip(&["netns", "add", &nb])?;
    let (va, vb) = (format!("kcp{}", id % 100000), format!("kwk{}", id % 100000));
    ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
    ip(&["link", "set", &va, "netns", &na])?;
    ip(&["link", "set", &vb, "netns", &nb])?;
    for (n, v, addr) in [(&na, &va, a), (&nb, &vb, b)] {
        ip(&["-n", n, "addr", "add", &format!("{addr}/30"), "dev", v])?;
        ip(&["-n", n, "link", "set", v, "up"])?;
        ip(&["-n", n, "link", "set", "lo", "up"])?;
    }
    Ok(ns)
}

#[test]
fn a_worker_joins_from_another_host() {
    let id = std::process::id();
    let third = (id % 250) as u8;
    let (a, b) = (format!("10.250.{third}.1"), format!("10.250.{third}.2"));
    let ns = match make_namespaces(&a, &b) {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED: network namespaces cannot be created here ({why}); run the tests as root with iproute2 installed");
            return;
        }
    };
    let [cp_ns, worker_ns] = ns.names.clone();
    let cp = control_plane_at(&a, 6443, Some(&cp_ns));

    let join_root = tempfile::tempdir().unwrap();
    let kubelet = kubelet_stand_in(join_root.path().to_path_buf(), "worker-1", Some(&worker_ns));
    let o = kubeadm_in(
        Some(&worker_ns),
        join_root.path(),
        &[
            "join",
            &cp.endpoint,
            "--token",
            "abcdef.0123456789abcdef",
            "--discovery-token-ca-cert-hash",
            &cp.pin,
            "--node-name",
            "worker-1",
            "--skip-phases",
            "preflight",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    kubelet.join().unwrap();
    assert!(
        out.contains(&format!("will use API Server \"{a}:6443\"")),
        "{out}"
    );
    assert!(out.contains("This node has joined the cluster"), "{out}");
    assert!(join_root
        .path()
        .join("etc/kubernetes/kubelet.conf")
        .exists());
    let node = cp
        .server
        .state()
        .store
        .get(resources::find("", "v1", "nodes").unwrap(), "", "worker-1")
        .unwrap();
    assert_eq!(node["metadata"]["name"], "worker-1");

    // The refusals hold across hosts too: a wrong pin, an unknown token.
    let other_pin = format!("sha256:{}", "ab".repeat(32));
    let err = join_fails_in(
        Some(&worker_ns),
        &cp.endpoint,
        &["--discovery-token-ca-cert-hash", &other_pin],
    );
    assert!(err.contains("none of the public keys"), "wrong pin: {err}");
    let err = join_fails_in(
        Some(&worker_ns),
        &cp.endpoint,
        &[
            "--token",
            "zzzzzz.0123456789abcdef",
            "--discovery-token-ca-cert-hash",
            &cp.pin,
        ],
    );
    assert!(
        err.contains("token id \"zzzzzz\" is invalid for this cluster or it has expired"),
        "{err}"
    );

    let err = join_fails_in(Some(&worker_ns), &cp.endpoint, &[]);
    assert!(
        err.contains("without caCertHashes can be unsafe"),
        "no pin: {err}"
    );
    // An impostor with another CA, and one serving tampered content, on the control
    // plane's host.
    let (_r1, fake) = impostor(&cp, Some(&cp_ns), &a, true, false);
    let err = join_fails_in(
        Some(&worker_ns),
        &fake.addr().to_string(),
        &["--discovery-token-ca-cert-hash", &cp.pin],
    );
    assert!(
        err.contains("couldn't fetch cluster-info over a connection verified with the cluster CA"),
        "impostor: {err}"
    );
    let (_r2, tampered) = impostor(&cp, Some(&cp_ns), &a, false, true);
    let err = join_fails_in(
        Some(&worker_ns),
        &tampered.addr().to_string(),
        &["--discovery-token-ca-cert-hash", &cp.pin],
    );
    assert!(
        err.contains("failed to verify JWS signature"),
        "tampered: {err}"
    );
    // An expired token.
    let o = kubeadm_in(
        Some(&cp_ns),
        cp.root.path(),
        &[
            "token",
            "create",
            "exprd1.0123456789abcdef",
            "--ttl",
            "2s",
            "--kubeconfig",
            "/etc/kubernetes/super-admin.conf",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let secrets = resources::find("", "v1", "secrets").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while cp
        .server
        .state()
        .store
        .get(secrets, "kube-system", "bootstrap-token-exprd1")
        .is_ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the token did not expire"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let err = join_fails_in(
        Some(&worker_ns),
        &cp.endpoint,
        &[
            "--token",
            "exprd1.0123456789abcdef",
            "--discovery-token-ca-cert-hash",
            &cp.pin,
        ],
    );
    assert!(
        err.contains("token id \"exprd1\" is invalid for this cluster or it has expired"),
        "expired: {err}"
    );

    // The addresses were each in one namespace: the join crossed the veth link.
    let addrs = |n: &str| {
        String::from_utf8_lossy(
            &Command::new("ip")
                .args(["-n", n, "-o", "addr", "show"])
                .output()
                .unwrap()
                .stdout,
        )
        .into_owned()
    };
    let (in_cp, in_worker) = (addrs(&cp_ns), addrs(&worker_ns));
    assert!(
        in_cp.contains(&format!("{a}/30")) && !in_cp.contains(&format!("{b}/30")),
        "{in_cp}"
    );
    assert!(
        in_worker.contains(&format!("{b}/30")) && !in_worker.contains(&format!("{a}/30")),
        "{in_worker}"
    );
}

//! `kubeadm join` of a worker against a control plane made by `kubeadm init` on the test
//! API server, on loopback, with a kubelet stand-in doing the TLS bootstrap the real kubelet
//! does; and discovery's refusals. The same join across network namespaces is in
//! `netns_join.rs`.

mod support;

use std::path::Path;

use support::*;
use testapiserver::resources;

fn kubeadm(root: &Path, args: &[&str]) -> std::process::Output {
    kubeadm_in(None, root, args)
}

#[test]
fn a_worker_joins_with_the_printed_command() {
    let cp = control_plane();
    let join_root = tempfile::tempdir().unwrap();
    let kubelet = kubelet_stand_in(join_root.path().to_path_buf(), "worker-1", None);
    // The command init printed, verbatim, with this node's own settings added.
    let mut args = printed_join_command(&cp.init_output);
    assert_eq!(args[0], "join");
    assert!(args.contains(&cp.pin), "{args:?}");
    // At the most verbose logging: no secret where upstream does not print one.
    args.extend(
        [
            "--node-name",
            "worker-1",
            "--skip-phases",
            "preflight",
            "-v",
            "10",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = kubeadm(join_root.path(), &args);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    kubelet.join().unwrap();
    no_secret_outside_upstreams_places(
        join_root.path(),
        &out,
        &String::from_utf8_lossy(&o.stderr),
        "0123456789abcdef",
        None,
    );
    assert!(out.contains("Cluster info signature and contents are valid and TLS certificate validates against pinned roots"), "{out}");
    assert!(out.contains("This node has joined the cluster"), "{out}");
    let j = join_root.path();
    assert_eq!(
        std::fs::read(j.join("etc/kubernetes/pki/ca.crt")).unwrap(),
        std::fs::read(cp.root.path().join("etc/kubernetes/pki/ca.crt")).unwrap()
    );
    assert!(
        !j.join("etc/kubernetes/bootstrap-kubelet.conf").exists(),
        "removed after the bootstrap"
    );
    assert!(j.join("etc/kubernetes/kubelet.conf").exists());
    let config = std::fs::read_to_string(j.join("var/lib/kubelet/config.yaml")).unwrap();
    assert!(config.contains("clusterDNS:\n- 10.96.0.10"), "{config}");
    assert!(
        config.contains("containerRuntimeEndpoint: unix:///var/run/containerd/containerd.sock"),
        "{config}"
    );
    assert!(j.join("var/lib/kubelet/kubeadm-flags.env").exists());
    let store = &cp.server.state().store;
    let node = store
        .get(resources::find("", "v1", "nodes").unwrap(), "", "worker-1")
        .unwrap();
    assert_eq!(node["metadata"]["name"], "worker-1");
}

fn join_fails(cp: &ControlPlane, extra: &[&str]) -> String {
    join_fails_at(&cp.endpoint, extra)
}

fn join_fails_at(endpoint: &str, extra: &[&str]) -> String {
    join_fails_in(None, endpoint, extra)
}

#[test]
fn discovery_refuses_what_it_cannot_trust() {
    let cp = control_plane();
    let other_pin = format!("sha256:{}", "ab".repeat(32));
    let err = join_fails(&cp, &["--discovery-token-ca-cert-hash", &other_pin]);
    assert!(err.contains("none of the public keys"), "wrong pin: {err}");
    assert!(err.contains("are pinned"), "{err}");
    let err = join_fails(&cp, &[]);
    assert!(
        err.contains("without caCertHashes can be unsafe"),
        "no pin: {err}"
    );
    let err = join_fails(
        &cp,
        &[
            "--token",
            "zzzzzz.0123456789abcdef",
            "--discovery-token-ca-cert-hash",
            &cp.pin,
        ],
    );
    assert!(
        err.contains("token id \"zzzzzz\" is invalid for this cluster or it has expired"),
        "unknown token: {err}"
    );
    let err = join_fails(
        &cp,
        &[
            "--token",
            "abcdef.0123456789abcdee",
            "--discovery-token-ca-cert-hash",
            &cp.pin,
        ],
    );
    assert!(
        err.contains("failed to verify JWS signature"),
        "a token with the wrong secret: {err}"
    );
}

#[test]
fn discovery_refuses_impostors_and_expired_tokens() {
    let cp = control_plane();
    // A server with another CA that serves a correctly signed copy: the verified second
    // fetch cannot reach it.
    let (_r1, fake) = impostor(&cp, None, "127.0.0.1", true, false);
    let err = join_fails_at(
        &fake.addr().to_string(),
        &["--discovery-token-ca-cert-hash", &cp.pin],
    );
    assert!(
        err.contains("couldn't fetch cluster-info over a connection verified with the cluster CA"),
        "{err}"
    );
    // Content changed in transit, signature left as it was.
    let (_r2, tampered) = impostor(&cp, None, "127.0.0.1", false, true);
    let err = join_fails_at(
        &tampered.addr().to_string(),
        &["--discovery-token-ca-cert-hash", &cp.pin],
    );
    assert!(
        err.contains("failed to verify JWS signature"),
        "tampered: {err}"
    );
    // A token that expired (and was cleaned up) is refused.
    let o = kubeadm(
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
    let err = join_fails(
        &cp,
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
}

#[test]
fn join_dry_run_discovers_and_writes_nothing() {
    let cp = control_plane();
    let root = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .env("TMPDIR", tmp.path())
        .arg("--rootfs")
        .arg(root.path())
        .args([
            "join",
            &cp.endpoint,
            "--token",
            "abcdef.0123456789abcdef",
            "--discovery-token-ca-cert-hash",
            &cp.pin,
            "--node-name",
            "worker-9",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    // The root has no container runtime: preflight fails; the dry run shows the rest, then
    // fails as upstream's does.
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("[preflight] Some fatal errors occurred: "),
        "{err}"
    );
    assert!(
        out.contains("Cluster info signature and contents are valid"),
        "{out}"
    );
    assert!(
        out.contains(
            "[dryrun] Would write file /etc/kubernetes/bootstrap-kubelet.conf (mode 0600, "
        ),
        "{out}"
    );
    assert!(
        out.contains("content not shown, it holds a secret"),
        "{out}"
    );
    assert!(
        out.contains("[dryrun] Would write file /var/lib/kubelet/config.yaml"),
        "{out}"
    );
    assert!(
        !out.contains("0123456789abcdef"),
        "the token secret is never shown"
    );
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "the root stays untouched"
    );
    let store = &cp.server.state().store;
    assert!(store
        .get(resources::find("", "v1", "nodes").unwrap(), "", "worker-9")
        .is_err());
}

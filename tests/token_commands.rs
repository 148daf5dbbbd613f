//! `kubeadm token create|list|delete` against the test API server, started with the
//! certificates `kubeadm init phase certs` made.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod support;

use testapiserver::TestApiServer;

fn kubeadm(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn ok(root: &Path, args: &[&str]) -> String {
    let o = kubeadm(root, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(root: &Path, args: &[&str]) -> String {
    let o = kubeadm(root, args);
    assert!(!o.status.success(), "{args:?} must fail");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A control plane's certificates and super-admin.conf in a root, and the test API server
/// listening where the kubeconfig points.
pub fn control_plane() -> (tempfile::TempDir, TestApiServer) {
    let root = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port_s = port.to_string();
    let addr = [
        "--apiserver-advertise-address",
        "127.0.0.1",
        "--apiserver-bind-port",
        &port_s,
    ];
    let mut certs = vec!["init", "phase", "certs", "all"];
    certs.extend_from_slice(&addr[..2]);
    ok(root.path(), &certs);
    let mut kc = vec!["init", "phase", "kubeconfig", "super-admin"];
    kc.extend_from_slice(&addr);
    ok(root.path(), &kc);
    let pki = root.path().join("etc/kubernetes/pki");
    let server = TestApiServer::start(support::api_server_config(
        &pki,
        format!("127.0.0.1:{port}").parse().unwrap(),
    ))
    .unwrap();
    (root, server)
}

const KC: [&str; 2] = ["--kubeconfig", "/etc/kubernetes/super-admin.conf"];

fn token_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["token"];
    v.extend_from_slice(args);
    v.extend_from_slice(&KC);
    v
}

#[test]
fn create_list_delete() {
    let (root, server) = control_plane();
    let r = root.path();

    let token = ok(r, &token_args(&["create", "--description", "for tests"]));
    let token = token.trim();
    assert_eq!(token.len(), 23, "{token}");
    let id = &token[..6];
    let list = ok(r, &token_args(&["list"]));
    let mut lines = list.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("TOKEN "), "{list}");
    for col in ["TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with(token), "{list}");
    for field in [
        "23h",
        "authentication,signing",
        "for tests",
        "system:bootstrappers:kubeadm:default-node-token",
    ] {
        assert!(row.contains(field), "{field} missing: {row}");
    }

    // The token authenticates against the server, as system:bootstrap:<id>.
    let secret = server
        .state()
        .store
        .get(
            testapiserver::resources::find("", "v1", "secrets").unwrap(),
            "kube-system",
            &format!("bootstrap-token-{id}"),
        )
        .unwrap();
    assert_eq!(secret["type"], "bootstrap.kubernetes.io/token");
    assert_eq!(
        testapiserver::auth::from_bearer(&server.state().store, token)
            .unwrap()
            .name,
        format!("system:bootstrap:{id}")
    );

    // An explicit token, twice: the second is refused.
    ok(
        r,
        &token_args(&[
            "create",
            "abcdef.0123456789abcdef",
            "--ttl",
            "0",
            "--usages",
            "authentication",
        ]),
    );
    let err = fails(r, &token_args(&["create", "abcdef.0123456789abcdef"]));
    assert!(
        err.contains("a token with id \"abcdef\" already exists"),
        "{err}"
    );
    let json = ok(r, &token_args(&["list", "-o", "json"]));
    assert!(
        json.contains("{\n    \"kind\": \"BootstrapToken\",\n    \"apiVersion\": \"output.kubeadm.k8s.io/v1alpha3\",\n    \"token\": \"abcdef.0123456789abcdef\","),
        "{json}"
    );
    let listed = ok(
        r,
        &token_args(&["list", "-o", "jsonpath={.token} {.usages[*]}{\"\\n\"}"]),
    );
    assert!(
        listed
            .lines()
            .any(|l| l == "abcdef.0123456789abcdef authentication"),
        "{listed}"
    );
    assert!(ok(r, &token_args(&["list"])).contains("<forever>"));

    // Malformed tokens and usages.
    let err = fails(r, &token_args(&["create", "ABCDEF.0123456789abcdef"]));
    assert!(err.contains("was not of the form"), "{err}");
    assert!(
        !err.contains("0123456789abcdef"),
        "the secret is not echoed: {err}"
    );
    let err = fails(r, &token_args(&["create", "--usages", "flying"]));
    assert!(
        err.contains("invalid bootstrap token usage string: flying"),
        "{err}"
    );
    let err = fails(r, &token_args(&["delete", "abc"]));
    assert!(err.contains("given token didn't match pattern"), "{err}");

    // Delete by id and by full token; a missing one is a clear error.
    assert_eq!(
        ok(r, &token_args(&["delete", "abcdef"])),
        "bootstrap token \"abcdef\" deleted\n"
    );
    assert_eq!(
        ok(r, &token_args(&["delete", token])),
        format!("bootstrap token \"{id}\" deleted\n")
    );
    let err = fails(r, &token_args(&["delete", "abcdef"]));
    assert!(
        err.contains("failed to delete bootstrap token \"abcdef\": secrets \"bootstrap-token-abcdef\" not found"),
        "{err}"
    );
    assert_eq!(
        ok(r, &token_args(&["list"])).lines().count(),
        1,
        "only the header is left"
    );
}

#[test]
fn an_expired_token_stops_working_and_is_cleaned_up() {
    let (root, server) = control_plane();
    let r = root.path();
    let token = ok(r, &token_args(&["create", "--ttl", "2s"]));
    let token = token.trim().to_string();
    assert!(testapiserver::auth::from_bearer(&server.state().store, &token).is_ok());
    let deadline = Instant::now() + Duration::from_secs(15);
    while ok(r, &token_args(&["list"])).contains(&token) {
        assert!(
            Instant::now() < deadline,
            "the expired token was not cleaned up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        testapiserver::auth::from_bearer(&server.state().store, &token)
            .unwrap_err()
            .code,
        401
    );
}

/// `--ttl` takes what Go's flag parser takes: a negative duration is the flag's value (not
/// an unknown flag) and makes a token that never expires, as upstream writes no
/// expiration for a TTL of zero or less; a duration past Go's range is refused.
#[test]
fn negative_ttls_never_expire_and_huge_ones_are_refused() {
    let (root, server) = control_plane();
    let r = root.path();
    ok(
        r,
        &token_args(&["create", "abcdef.0123456789abcdef", "--ttl", "-5s"]),
    );
    ok(
        r,
        &token_args(&["create", "ghijkl.0123456789abcdef", "--ttl=-5s"]),
    );
    ok(
        r,
        &token_args(&["create", "mnopqr.0123456789abcdef", "--ttl", "1h"]),
    );
    for (id, expires) in [("abcdef", false), ("ghijkl", false), ("mnopqr", true)] {
        let secret = server
            .state()
            .store
            .get(
                testapiserver::resources::find("", "v1", "secrets").unwrap(),
                "kube-system",
                &format!("bootstrap-token-{id}"),
            )
            .unwrap();
        assert_eq!(
            secret["data"].get("expiration").is_some(),
            expires,
            "{secret}"
        );
    }
    let list = ok(r, &token_args(&["list"]));
    assert_eq!(list.matches("<forever>").count(), 2, "{list}");
    // Still valid after the five seconds.
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        testapiserver::auth::from_bearer(&server.state().store, "abcdef.0123456789abcdef").is_ok()
    );

    let o = kubeadm(r, &token_args(&["create", "--ttl", "99999999999h"]));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("invalid value '99999999999h' for '--ttl <duration>': invalid duration \"99999999999h\": out of range"),
        "{err}"
    );
    assert_eq!(
        ok(r, &token_args(&["list"])).lines().count(),
        4,
        "nothing made"
    );
}

#[test]
fn join_command_and_dry_run() {
    let (root, server) = control_plane();
    let r = root.path();
    let out = ok(
        r,
        &token_args(&["create", "abcdef.0123456789abcdef", "--print-join-command"]),
    );
    // The pin, computed independently with openssl.
    let ca = r.join("etc/kubernetes/pki/ca.crt");
    let script = format!(
        "openssl x509 -in {} -pubkey -noout | openssl pkey -pubin -outform der | sha256sum",
        ca.display()
    );
    let sum = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let hex = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        out.trim(),
        format!(
            "kubeadm join {} --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:{hex}",
            server.addr()
        )
    );
    let out = ok(
        r,
        &token_args(&[
            "create",
            "--print-join-command",
            "--certificate-key",
            "0123",
        ]),
    );
    assert!(
        out.trim()
            .ends_with(" --control-plane --certificate-key 0123"),
        "{out}"
    );

    // A dry run lists the call and creates nothing.
    let o = kubeadm(
        r,
        &token_args(&["create", "zzzzzz.0123456789abcdef", "--dry-run"]),
    );
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "[dryrun] Would perform action CREATE on resource \"secrets\" in API group \"core/v1\""
        ),
        "{out}"
    );
    assert!(!ok(r, &token_args(&["list"])).contains("zzzzzz"));
}

/// The configuration of the control plane `control_plane()` made.
fn config_for(root: &Path, server: &TestApiServer) -> String {
    let path = root.join("kubeadm.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.1\n  bindPort: {}\nnodeRegistration:\n  name: cp-1\n  criSocket: unix:///var/run/containerd/containerd.sock\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\ntimeouts:\n  kubeletHealthCheck: 2s\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\n",
            server.addr().port()
        ),
    )
    .unwrap();
    "/kubeadm.yaml".to_string()
}

#[test]
fn api_phases_run_on_their_own() {
    let (root, server) = control_plane();
    let r = root.path();
    let cfg = config_for(r, &server);
    for phase in [
        &["upload-config", "all"][..],
        &["bootstrap-token"][..],
        &["addon", "coredns"][..],
        &["addon", "kube-proxy"][..],
    ] {
        let mut args = vec!["init", "phase"];
        args.extend_from_slice(phase);
        args.extend_from_slice(&[
            "--config",
            &cfg,
            "--kubeconfig",
            "/etc/kubernetes/super-admin.conf",
        ]);
        ok(r, &args);
    }
    let store = &server.state().store;
    let find = |g: &str, p: &str, ns: &str, n: &str| {
        store
            .get(testapiserver::resources::find(g, "v1", p).unwrap(), ns, n)
            .is_ok()
    };
    assert!(find("", "configmaps", "kube-system", "kubeadm-config"));
    assert!(find("", "configmaps", "kube-system", "kubelet-config"));
    assert!(find("", "configmaps", "kube-public", "cluster-info"));
    assert!(find("", "secrets", "kube-system", "bootstrap-token-abcdef"));
    assert!(find("apps", "deployments", "kube-system", "coredns"));
    assert!(find("apps", "daemonsets", "kube-system", "kube-proxy"));
    // Running a phase again updates what it made instead of failing.
    ok(
        r,
        &[
            "init",
            "phase",
            "bootstrap-token",
            "--config",
            &cfg,
            "--kubeconfig",
            "/etc/kubernetes/super-admin.conf",
        ],
    );
}

#[test]
fn wait_control_plane_says_what_to_check_without_a_kubelet() {
    let (root, server) = control_plane();
    let r = root.path();
    let cfg = config_for(r, &server);
    // Hold the kubelet's health port without answering, so no other process can stand in
    // for a kubelet during this test.
    let _silent = std::net::TcpListener::bind("127.0.0.1:10248")
        .expect("port 10248 is free (no kubelet may run where the tests run)");
    // No kubelet on this node at all: nothing to wait for, said at once.
    let o = kubeadm(
        r,
        &["init", "phase", "wait-control-plane", "--config", &cfg],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no kubelet is installed on this node: there is no 'kubelet' on the system path and no kubelet.service unit"),
        "{err}"
    );
    assert!(!err.contains("the kubelet is not healthy after"), "{err}");
    // A kubelet is installed but does not answer: the wait runs its course and says
    // what to check.
    let unit = r.join("usr/lib/systemd/system/kubelet.service");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "[Service]\nExecStart=/usr/bin/kubelet\n").unwrap();
    let o = kubeadm(
        r,
        &["init", "phase", "wait-control-plane", "--config", &cfg],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the kubelet is not healthy after 2s"), "{err}");
    assert!(err.contains("'systemctl status kubelet'"), "{err}");
    assert!(err.contains("'journalctl -xeu kubelet'"), "{err}");

    // The kubelet's journal shows a known fatal line: the wait ends at once with the fix
    // (the timeout is ten minutes here). journalctl is played by a script inside the
    // root, where kubeadm runs it.
    support::programs::install_script(
        r,
        "/usr/bin/journalctl",
        "echo \"$(date +%s).000001 cp-1 kubelet[42]: E1130 run.go:72] \\\"command failed\\\" err=\\\"failed to run Kubelet: misconfiguration: kubelet cgroup driver: systemd is different from docker cgroup driver: cgroupfs\\\"\"\n",
        &["date"],
    );
    let text = std::fs::read_to_string(r.join("kubeadm.yaml")).unwrap();
    std::fs::write(
        r.join("kubeadm.yaml"),
        text.replace("kubeletHealthCheck: 2s", "kubeletHealthCheck: 10m"),
    )
    .unwrap();
    let o = kubeadm(
        r,
        &["init", "phase", "wait-control-plane", "--config", &cfg],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the kubelet keeps failing: ")
            && err.contains("misconfiguration: kubelet cgroup driver"),
        "{err}"
    );
    assert!(
        err.contains("Fix: the kubelet's cgroup driver differs from the container runtime's"),
        "{err}"
    );
    assert!(!err.contains("is not healthy after 10m"), "{err}");
}

/// At the most verbose logging, token secrets and certificate keys appear only where
/// upstream prints them (standard output of `token create`/`list` and `upload-certs`), and
/// no private key text appears in any log.
#[test]
fn secrets_stay_where_upstream_prints_them_at_v10() {
    let (root, server) = control_plane();
    let r = root.path();
    let cfg = config_for(r, &server);
    let token = "zyxwvu.0011223344556677";
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["-v", "10"]);
        let o = kubeadm(r, &all);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let logs_clean = |what: &str, err: &str| {
        use base64::Engine;
        for secret in [
            "0011223344556677".to_string(),
            "0123456789abcdef".to_string(),
            base64::engine::general_purpose::STANDARD.encode("0011223344556677"),
            "PRIVATE KEY".to_string(),
        ] {
            assert!(
                !err.contains(&secret),
                "{what}: {secret:?} in the log:\n{err}"
            );
        }
    };
    let (out, err) = run(&token_args(&["create", token]));
    assert_eq!(out.trim(), token, "token create prints the token");
    logs_clean("token create", &err);
    let (out, err) = run(&token_args(&["list"]));
    assert!(out.contains(token), "token list shows it, as upstream");
    logs_clean("token list", &err);
    let (out, err) = run(&[
        "init",
        "phase",
        "upload-certs",
        "--upload-certs",
        "--config",
        &cfg,
        "--kubeconfig",
        "/etc/kubernetes/super-admin.conf",
    ]);
    // The key made is printed once on standard output, never in the log.
    let made = out
        .lines()
        .skip_while(|l| *l != "[upload-certs] Using certificate key:")
        .nth(1)
        .unwrap_or_else(|| panic!("the certificate key is printed:\n{out}"))
        .to_string();
    assert_eq!(made.len(), 64);
    assert!(
        !err.contains(&made),
        "the certificate key in the log:\n{err}"
    );
    assert!(!out.contains("PRIVATE KEY"), "{out}");
    logs_clean("upload-certs", &err);
    let (out, err) = run(&["certs", "renew", "all"]);
    assert!(!out.contains("PRIVATE KEY"), "{out}");
    logs_clean("certs renew", &err);
    let (out, err) = run(&[
        "kubeconfig",
        "user",
        "--client-name",
        "jane",
        "--config",
        &cfg,
    ]);
    assert!(
        out.contains("client-key-data"),
        "the kubeconfig is the output, as upstream"
    );
    logs_clean("kubeconfig user", &err);
}

/// Flags before a subcommand's name, as cobra reads them: kubespray uploads the certificates
/// with `kubeadm init phase --config F upload-certs --upload-certs` (the default admin.conf),
/// and `init --config F phase upload-certs` runs the same phase with the same flags.
#[test]
fn upload_certs_with_flags_before_the_phase_name() {
    let (root, server) = control_plane();
    let r = root.path();
    let cfg = config_for(r, &server);
    ok(
        r,
        &["init", "phase", "kubeconfig", "admin", "--config", &cfg],
    );
    let secrets = testapiserver::resources::find("", "v1", "secrets").unwrap();
    let key_of = |out: &str| {
        out.lines()
            .skip_while(|l| *l != "[upload-certs] Using certificate key:")
            .nth(1)
            .unwrap_or_else(|| panic!("the certificate key is printed:\n{out}"))
            .to_string()
    };
    let orders: [&[&str]; 3] = [
        &[
            "init",
            "phase",
            "--config",
            &cfg,
            "upload-certs",
            "--upload-certs",
        ],
        &[
            "init",
            "--config",
            &cfg,
            "phase",
            "upload-certs",
            "--upload-certs",
        ],
        &[
            "init",
            "phase",
            "--config",
            &cfg,
            "upload-certs",
            "--upload-certs=true",
        ],
    ];
    for args in orders {
        let _ = server
            .state()
            .store
            .delete(secrets, "kube-system", "kubeadm-certs");
        let out = ok(r, args);
        assert_eq!(key_of(&out).len(), 64, "{args:?}");
        let secret = server
            .state()
            .store
            .get(secrets, "kube-system", "kubeadm-certs")
            .unwrap_or_else(|e| panic!("{args:?}: no kubeadm-certs Secret: {e:?}"));
        assert!(secret["data"]["ca.crt"].is_string(), "{args:?}");
    }
    // As in cobra, a switch before the phase name takes that name as its value: upstream
    // fails with "unknown flag" too, rather than running something else.
    let err = fails(
        r,
        &[
            "init",
            "--upload-certs",
            "phase",
            "upload-certs",
            "--config",
            &cfg,
        ],
    );
    assert!(err.contains("unknown flag: --upload-certs"), "{err}");
}

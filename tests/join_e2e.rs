//! `kubeadm join` of a worker against a control plane made by `kubeadm init` on the test
//! API server, with a kubelet stand-in doing the TLS bootstrap the real kubelet does; and
//! discovery's refusals. (On loopback: the multi-host variant with network namespaces is
//! not here yet.)

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kubeadm::client::Api;
use serde_json::json;
use testapiserver::{resources, Config, TestApiServer};

fn kubeadm(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

struct ControlPlane {
    root: tempfile::TempDir,
    server: TestApiServer,
    endpoint: String,
    pin: String,
}

/// `kubeadm init` (without preflight and the health wait) against the test API server.
fn control_plane() -> ControlPlane {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = r.join("kubeadm.yaml");
    std::fs::write(
        &cfg,
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.1\n  bindPort: {port}\nnodeRegistration:\n  name: cp-1\n  criSocket: unix:///var/run/containerd/containerd.sock\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\n"
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let o = kubeadm(r, &["init", "phase", "certs", "all", "--config", &cfg]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pki = r.join("etc/kubernetes/pki");
    let server = TestApiServer::start(Config {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        tls_cert_file: pki.join("apiserver.crt"),
        tls_private_key_file: pki.join("apiserver.key"),
        client_ca_file: pki.join("ca.crt"),
        signing_cert_file: Some(pki.join("ca.crt")),
        signing_key_file: Some(pki.join("ca.key")),
        data_dump: None,
    })
    .unwrap();
    server
        .state()
        .store
        .create(
            resources::find("", "v1", "nodes").unwrap(),
            "",
            json!({"metadata": {"name": "cp-1"}}),
        )
        .unwrap();
    let o = kubeadm(
        r,
        &[
            "init",
            "--config",
            &cfg,
            "--skip-phases",
            "preflight,wait-control-plane",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pin =
        kubeadm::pki::public_key_pin_pem(&std::fs::read(pki.join("ca.crt")).unwrap()).unwrap();
    ControlPlane {
        root,
        server,
        endpoint: format!("127.0.0.1:{port}"),
        pin,
    }
}

/// What the kubelet does at join: serve its health endpoint; once bootstrap-kubelet.conf
/// appears, post a CSR for its node with the bootstrap token, wait for the certificate,
/// write kubelet.conf and register its Node with its new identity.
fn kubelet_stand_in(root: PathBuf, node: &'static str) -> std::thread::JoinHandle<()> {
    let health = TcpListener::bind("127.0.0.1:10248").expect("the kubelet's health port is free");
    std::thread::spawn(move || {
        for s in health.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    std::thread::spawn(move || {
        let bootstrap = root.join("etc/kubernetes/bootstrap-kubelet.conf");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !bootstrap.exists() {
            assert!(Instant::now() < deadline, "no bootstrap-kubelet.conf");
            std::thread::sleep(Duration::from_millis(100));
        }
        let text = std::fs::read_to_string(&bootstrap).unwrap();
        let kc = kubeadm::kubeconfig::KubeConfig::from_yaml(&text).unwrap();
        let cluster = kc.current_cluster().unwrap().clone();
        let client = kubeadm::client::KubeClient::from_kubeconfig_text(&text).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "system:nodes");
        dn.push(rcgen::DnType::CommonName, format!("system:node:{node}"));
        params.distinguished_name = dn;
        let csr = params.serialize_request(&key).unwrap().pem().unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let created = client
            .call(
                "POST",
                "/apis/certificates.k8s.io/v1/certificatesigningrequests",
                Some(&json!({
                    "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                    "metadata": {"generateName": "csr-"},
                    "spec": {"request": b64.encode(csr), "signerName": "kubernetes.io/kube-apiserver-client-kubelet", "usages": ["digital signature", "client auth"]}
                })),
                "application/json",
            )
            .unwrap();
        let name = created["metadata"]["name"].as_str().unwrap().to_string();
        let cert = loop {
            let o = client
                .call(
                    "GET",
                    &format!("/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}"),
                    None,
                    "application/json",
                )
                .unwrap();
            if let Some(c) = o["status"]["certificate"].as_str() {
                break b64.decode(c).unwrap();
            }
            assert!(Instant::now() < deadline, "the CSR was not signed");
            std::thread::sleep(Duration::from_millis(100));
        };
        let kubelet = kubeadm::kubeconfig::KubeConfig::new(
            "default-cluster",
            &cluster.server,
            &cluster.certificate_authority_data,
            "default-auth",
            kubeadm::kubeconfig::AuthInfo {
                client_certificate_data: Some(cert),
                client_key_data: Some(key.serialize_pem().into_bytes()),
                ..Default::default()
            },
        );
        let yaml = kubelet.to_yaml().unwrap();
        let node_client = kubeadm::client::KubeClient::from_kubeconfig_text(&yaml).unwrap();
        node_client
            .call(
                "POST",
                "/api/v1/nodes",
                Some(&json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})),
                "application/json",
            )
            .unwrap();
        std::fs::write(root.join("etc/kubernetes/kubelet.conf"), yaml).unwrap();
    })
}

#[test]
fn a_worker_joins_with_the_printed_command() {
    let cp = control_plane();
    let join_root = tempfile::tempdir().unwrap();
    let kubelet = kubelet_stand_in(join_root.path().to_path_buf(), "worker-1");
    let o = kubeadm(
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
    let root = tempfile::tempdir().unwrap();
    let cfg = root.path().join("join.yaml");
    // A short discovery timeout through the configuration, as a user would set it.
    let token = extra
        .iter()
        .position(|a| *a == "--token")
        .map(|i| extra[i + 1])
        .unwrap_or("abcdef.0123456789abcdef");
    let pins: Vec<&str> = extra
        .iter()
        .enumerate()
        .filter(|(i, _)| *i > 0 && extra[i - 1] == "--discovery-token-ca-cert-hash")
        .map(|(_, p)| *p)
        .collect();
    let pins_yaml = if pins.is_empty() {
        String::new()
    } else {
        format!(
            "    caCertHashes:\n{}",
            pins.iter()
                .map(|p| format!("    - \"{p}\"\n"))
                .collect::<String>()
        )
    };
    std::fs::write(
        &cfg,
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: {}\n    token: {token}\n{pins_yaml}  tlsBootstrapToken: {token}\nnodeRegistration:\n  name: worker-x\ntimeouts:\n  discovery: 3s\n",
            cp.endpoint
        ),
    )
    .unwrap();
    let o = kubeadm(
        root.path(),
        &[
            "join",
            "--config",
            cfg.to_str().unwrap(),
            "--skip-phases",
            "preflight",
        ],
    );
    assert!(!o.status.success());
    let written: Vec<_> = walk(root.path())
        .into_iter()
        .filter(|p| !p.ends_with("join.yaml"))
        .collect();
    assert!(
        written.is_empty(),
        "nothing is written when discovery fails: {written:?}"
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
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

//! `kubeadm init` end to end in a temporary root, against the test API server started with
//! the certificates init made, at the advertise address and port of the configuration;
//! stand-ins answer the kubelet's and the other components' health endpoints (a kubelet
//! that registered its Node is what the test plays).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

mod support;
use support::{http_ok, https_ok, no_secret_outside_upstreams_places};

use testapiserver::{resources, TestApiServer};

fn kubeadm(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .output()
        .unwrap()
}

fn curl(args: &[&str]) -> (String, String) {
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/stderr", "-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn init_runs_through_show_join_command() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let work = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = r.join("kubeadm.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.1\n  bindPort: {port}\nnodeRegistration:\n  name: cp-1\n  criSocket: unix:///var/run/containerd/containerd.sock\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\ntimeouts:\n  kubeletHealthCheck: 30s\n  controlPlaneComponentHealthCheck: 30s\n  kubernetesAPICall: 30s\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\n"
        ),
    )
    .unwrap();
    let cfg = "/kubeadm.yaml";
    // The certificates first: the API server stand-in serves with them.
    let o = kubeadm(r, &["init", "phase", "certs", "all", "--config", cfg]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pki = r.join("etc/kubernetes/pki");
    let server = TestApiServer::start(support::api_server_config(
        &pki,
        format!("127.0.0.1:{port}").parse().unwrap(),
    ))
    .unwrap();
    http_ok("127.0.0.1:10248");
    let _cm = https_ok(
        10257,
        &pki.join("apiserver.crt"),
        &pki.join("apiserver.key"),
    );
    let _sched = https_ok(
        10259,
        &pki.join("apiserver.crt"),
        &pki.join("apiserver.key"),
    );
    // The kubelet registers its Node.
    let nodes = resources::find("", "v1", "nodes").unwrap();
    server
        .state()
        .store
        .create(nodes, "", serde_json::json!({"metadata": {"name": "cp-1"}}))
        .unwrap();

    let o = kubeadm(
        r,
        &[
            "init",
            "--config",
            cfg,
            "--skip-phases",
            "preflight",
            "--upload-certs",
            // The most verbose logging: still no secret where upstream does not print one.
            "-v",
            "10",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{out}{err}");
    for line in [
        "[kubelet-check] The kubelet is healthy after",
        "[control-plane-check] kube-apiserver is healthy after",
        "[control-plane-check] kube-controller-manager is healthy after",
        "[control-plane-check] kube-scheduler is healthy after",
        "[bootstrap-token] Using token: abcdef.0123456789abcdef",
        "Your Kubernetes control-plane has initialized successfully!",
    ] {
        assert!(out.contains(line), "{line} missing:\n{out}");
    }
    let pin = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -in {} -pubkey -noout | openssl pkey -pubin -outform der | sha256sum",
            pki.join("ca.crt").display()
        ))
        .output()
        .unwrap();
    let hex = String::from_utf8_lossy(&pin.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(
        out.contains(&format!(
            "kubeadm join 127.0.0.1:{port} --token abcdef.0123456789abcdef \\\n\t--discovery-token-ca-cert-hash sha256:{hex}"
        )),
        "{out}"
    );

    // The certificate key is printed once, and the control-plane join command carries it.
    let key = out
        .lines()
        .skip_while(|l| *l != "[upload-certs] Using certificate key:")
        .nth(1)
        .unwrap_or_else(|| panic!("the certificate key is printed:\n{out}"))
        .to_string();
    assert_eq!(key.len(), 64);
    assert!(
        out.contains(&format!("\t--control-plane --certificate-key {key}")),
        "{out}"
    );
    no_secret_outside_upstreams_places(r, &out, &err, "0123456789abcdef", Some(&key));

    // Every object upstream creates, with its key fields.
    let store = &server.state().store;
    let get = |group: &str, plural: &str, ns: &str, name: &str| {
        store
            .get(resources::find(group, "v1", plural).unwrap(), ns, name)
            .unwrap_or_else(|e| panic!("{plural} {ns}/{name}: {}", e.message))
    };
    let rbac = "rbac.authorization.k8s.io";
    for (name, role, subject) in [
        (
            "kubeadm:cluster-admins",
            "cluster-admin",
            "kubeadm:cluster-admins",
        ),
        (
            "kubeadm:apiserver-kubelet-client",
            "system:kubelet-api-admin",
            "kube-apiserver-kubelet-client",
        ),
        (
            "kubeadm:get-nodes",
            "kubeadm:get-nodes",
            "system:bootstrappers:kubeadm:default-node-token",
        ),
        (
            "kubeadm:kubelet-bootstrap",
            "system:node-bootstrapper",
            "system:bootstrappers:kubeadm:default-node-token",
        ),
        (
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            "system:bootstrappers:kubeadm:default-node-token",
        ),
        (
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "system:nodes",
        ),
    ] {
        let b = get(rbac, "clusterrolebindings", "", name);
        assert_eq!(b["roleRef"]["name"], role, "{name}");
        assert_eq!(b["subjects"][0]["name"], subject, "{name}");
    }
    let kc = get("", "configmaps", "kube-system", "kubeadm-config");
    let cc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(kc["data"]["ClusterConfiguration"].as_str().unwrap()).unwrap();
    assert_eq!(cc["kind"].as_str(), Some("ClusterConfiguration"));
    assert_eq!(cc["kubernetesVersion"].as_str(), Some("v1.37.1"));
    let kubelet = get("", "configmaps", "kube-system", "kubelet-config");
    assert!(kubelet["data"]["kubelet"]
        .as_str()
        .unwrap()
        .contains("clusterDNS:\n- 10.96.0.10"));
    for (ns, name, cm) in [
        (
            "kube-system",
            "kubeadm:nodes-kubeadm-config",
            "kubeadm-config",
        ),
        ("kube-system", "kubeadm:kubelet-config", "kubelet-config"),
        (
            "kube-public",
            "kubeadm:bootstrap-signer-clusterinfo",
            "cluster-info",
        ),
    ] {
        let role = get(rbac, "roles", ns, name);
        assert_eq!(role["rules"][0]["resourceNames"][0], cm);
        get(rbac, "rolebindings", ns, name);
    }
    let node = get("", "nodes", "", "cp-1");
    assert_eq!(
        node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"],
        ""
    );
    assert_eq!(
        node["metadata"]["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"],
        ""
    );
    assert_eq!(
        node["spec"]["taints"][0]["key"],
        "node-role.kubernetes.io/control-plane"
    );
    assert_eq!(node["spec"]["taints"][0]["effect"], "NoSchedule");
    let secret = get("", "secrets", "kube-system", "bootstrap-token-abcdef");
    assert_eq!(secret["type"], "bootstrap.kubernetes.io/token");
    // kubeadm-certs: each file encrypted with the key, owned by a two-hour token.
    let certs = get("", "secrets", "kube-system", "kubeadm-certs");
    let owner = &certs["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Secret");
    let owner_secret = get(
        "",
        "secrets",
        "kube-system",
        owner["name"].as_str().unwrap(),
    );
    assert_eq!(owner["uid"], owner_secret["metadata"]["uid"]);
    assert!(owner_secret["data"]["expiration"].is_string());
    let mut names: Vec<&String> = certs["data"].as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ca.crt",
            "ca.key",
            "etcd-ca.crt",
            "etcd-ca.key",
            "front-proxy-ca.crt",
            "front-proxy-ca.key",
            "sa.key",
            "sa.pub"
        ]
    );
    {
        use base64::Engine;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(certs["data"]["ca.key"].as_str().unwrap())
            .unwrap();
        let plain =
            kubeadm::copycerts::decrypt(&sealed, &kubeadm::copycerts::decode_key(&key).unwrap())
                .unwrap();
        assert_eq!(plain, std::fs::read(pki.join("ca.key")).unwrap());
    }
    get(rbac, "roles", "kube-system", "kubeadm:kubeadm-certs");
    // The addons.
    let dns = get("", "services", "kube-system", "kube-dns");
    assert_eq!(dns["spec"]["clusterIP"], "10.96.0.10");
    let coredns = get("apps", "deployments", "kube-system", "coredns");
    assert_eq!(
        coredns["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.k8s.io/coredns/coredns:v1.14.6"
    );
    assert!(
        get("", "configmaps", "kube-system", "coredns")["data"]["Corefile"]
            .as_str()
            .unwrap()
            .contains("kubernetes cluster.local")
    );
    get(rbac, "clusterrolebindings", "", "system:coredns");
    let proxy = get("apps", "daemonsets", "kube-system", "kube-proxy");
    assert_eq!(
        proxy["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.k8s.io/kube-proxy:v1.37.1"
    );
    let proxy_cm = get("", "configmaps", "kube-system", "kube-proxy");
    assert!(proxy_cm["data"]["kubeconfig.conf"]
        .as_str()
        .unwrap()
        .contains(&format!("server: https://127.0.0.1:{port}")));
    get(rbac, "clusterrolebindings", "", "kubeadm:node-proxier");
    assert!(out.contains("[addons] Applied essential addon: CoreDNS"));
    assert!(out.contains("[addons] Applied essential addon: kube-proxy"));
    let info = get("", "configmaps", "kube-public", "cluster-info");
    assert!(info["data"]["kubeconfig"]
        .as_str()
        .unwrap()
        .contains(&format!("server: https://127.0.0.1:{port}")));
    assert!(
        info["data"]["jws-kubeconfig-abcdef"].is_string(),
        "the bootstrap signer signed it: {info}"
    );

    // Anonymous reads cluster-info, not Secrets; the token can post a CSR, not read Secrets.
    let base = format!("https://127.0.0.1:{port}");
    let ca = pki.join("ca.crt");
    let ca = ca.to_str().unwrap();
    assert_eq!(
        curl(&[
            "--cacert",
            ca,
            &format!("{base}/api/v1/namespaces/kube-public/configmaps/cluster-info")
        ])
        .0,
        "200"
    );
    assert_eq!(
        curl(&[
            "--cacert",
            ca,
            &format!("{base}/api/v1/namespaces/kube-system/secrets")
        ])
        .0,
        "403"
    );
    let bearer = "Authorization: Bearer abcdef.0123456789abcdef";
    assert_eq!(
        curl(&[
            "--cacert",
            ca,
            "-H",
            bearer,
            &format!("{base}/api/v1/namespaces/kube-system/secrets")
        ])
        .0,
        "403"
    );
    let key = work.path().join("node.key");
    let csr = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/O=system:nodes/CN=system:node:worker-1",
            "-keyout",
        ])
        .arg(&key)
        .output()
        .unwrap();
    use base64::Engine;
    let body = serde_json::json!({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": {"request": base64::engine::general_purpose::STANDARD.encode(&csr.stdout), "signerName": "kubernetes.io/kube-apiserver-client-kubelet", "usages": ["digital signature", "client auth"]}
    });
    let (code, _) = curl(&[
        "--cacert",
        ca,
        "-H",
        bearer,
        "-H",
        "Content-Type: application/json",
        "-X",
        "POST",
        "--data",
        &body.to_string(),
        &format!("{base}/apis/certificates.k8s.io/v1/certificatesigningrequests"),
    ]);
    assert_eq!(code, "201");

    // admin.conf works with kubectl once its group is bound.
    let kubectl = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(r.join("etc/kubernetes/admin.conf"))
        .args(["get", "configmaps", "-A"])
        .output()
        .expect("kubectl");
    let listed = String::from_utf8_lossy(&kubectl.stdout);
    assert!(
        kubectl.status.success(),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    assert!(
        listed.contains("kubeadm-config") && listed.contains("cluster-info"),
        "{listed}"
    );
}

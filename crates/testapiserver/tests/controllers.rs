//! The bootstrap signer, the token cleaner and the kubelet CSR approver/signer.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use serde_json::{json, Value};

const CLUSTER_INFO: &str = "/api/v1/namespaces/kube-public/configmaps/cluster-info";
const CSRS: &str = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn jws_keys(admin: &Client) -> Vec<String> {
    let (_, cm) = admin.get(CLUSTER_INFO);
    cm["data"]
        .as_object()
        .map(|d| {
            d.keys()
                .filter(|k| k.starts_with("jws-kubeconfig-"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// HS256 over `header.payload`, computed here independently of the server's code.
fn expected_jws(kubeconfig: &str, id: &str, secret: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(format!("{{\"alg\":\"HS256\",\"kid\":\"{id}\"}}"));
    let input = format!("{header}.{}", b64.encode(kubeconfig));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "{header}..{}",
        b64.encode(aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref())
    )
}

#[test]
fn bootstrap_signer_follows_tokens() {
    let c = Cluster::start();
    let admin = c.admin();
    let kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n";
    admin.post(
        "/api/v1/namespaces/kube-public/configmaps",
        &json!({"metadata": {"name": "cluster-info"}, "data": {"kubeconfig": kubeconfig}}),
    );
    admin.post(
        SECRETS,
        &token_secret(
            "abcdef",
            "0123456789abcdef",
            &["authentication", "signing"],
            Some("2099-01-01T00:00:00Z"),
            None,
        ),
    );
    admin.post(
        SECRETS,
        &token_secret(
            "nosign",
            "0123456789abcdef",
            &["authentication"],
            None,
            None,
        ),
    );
    eventually("a signature for abcdef", || {
        jws_keys(&admin) == ["jws-kubeconfig-abcdef"]
    });
    let (_, cm) = admin.get(CLUSTER_INFO);
    assert_eq!(
        cm["data"]["jws-kubeconfig-abcdef"],
        expected_jws(kubeconfig, "abcdef", "0123456789abcdef")
    );
    // Anonymous users read it once kubeadm's Role allows it; here as admin.
    // A token that loses its signing usage loses its signature.
    let (_, mut s) = admin.get(&format!("{SECRETS}/bootstrap-token-abcdef"));
    s["data"]
        .as_object_mut()
        .unwrap()
        .remove("usage-bootstrap-signing");
    assert_eq!(
        admin
            .put(&format!("{SECRETS}/bootstrap-token-abcdef"), &s)
            .0,
        200
    );
    eventually("the signature removed", || jws_keys(&admin).is_empty());

    // A token that expires: its signature goes, and the cleaner deletes it.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    admin.post(
        SECRETS,
        &token_secret(
            "expire",
            "0123456789abcdef",
            &["signing"],
            Some(&soon),
            None,
        ),
    );
    eventually("a signature for expire", || {
        jws_keys(&admin) == ["jws-kubeconfig-expire"]
    });
    eventually("the expired token's signature removed", || {
        jws_keys(&admin).is_empty()
    });
    eventually("the expired token deleted", || {
        admin.get(&format!("{SECRETS}/bootstrap-token-expire")).0 == 404
    });
    // A new kubeconfig is signed again.
    admin.post(
        SECRETS,
        &token_secret("again1", "0123456789abcdef", &["signing"], None, None),
    );
    eventually("signed again", || {
        jws_keys(&admin) == ["jws-kubeconfig-again1"]
    });
}

fn csr(cn: &str, orgs: &[&str], usages: &[&str]) -> (Value, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, cn);
    for o in orgs {
        dn.push(rcgen::DnType::OrganizationName, *o);
    }
    params.distinguished_name = dn;
    let req = params.serialize_request(&key).unwrap().pem().unwrap();
    let body = json!({
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": {
            "request": base64::engine::general_purpose::STANDARD.encode(req),
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": usages,
            // The server sets these from the authenticated user, whatever a client claims.
            "username": "system:admin",
            "groups": ["system:masters"],
        }
    });
    (body, key)
}

fn approved(admin: &Client, name: &str) -> bool {
    let (_, o) = admin.get(&format!("{CSRS}/{name}"));
    o["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Approved"))
}

#[test]
fn kubelet_client_csrs_are_approved_and_signed_only_when_allowed() {
    let c = Cluster::start();
    let admin = c.admin();
    // What kubeadm's bootstrap-token phase sets up.
    let group = "system:bootstrappers:kubeadm:default-node-token";
    admin.post(
        SECRETS,
        &token_secret(
            "abcdef",
            "0123456789abcdef",
            &["authentication"],
            None,
            Some(group),
        ),
    );
    admin.post(
        CRB,
        &bind_group(
            "kubeadm:kubelet-bootstrap",
            "system:node-bootstrapper",
            group,
        ),
    );
    admin.post(
        CRB,
        &bind_group(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            group,
        ),
    );
    admin.post(
        CRB,
        &bind_group(
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "system:nodes",
        ),
    );
    let kubelet = c.token("abcdef.0123456789abcdef");

    // The TLS bootstrap request of a new node.
    let usages = ["digital signature", "client auth"];
    let (body, _key) = csr("system:node:worker-1", &["system:nodes"], &usages);
    let (code, created) = kubelet.post(CSRS, &body);
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["username"], "system:bootstrap:abcdef");
    let name = created["metadata"]["name"].as_str().unwrap().to_string();
    eventually("approval", || approved(&admin, &name));
    let mut cert_pem = String::new();
    eventually("a certificate", || {
        let (_, o) = kubelet.get(&format!("{CSRS}/{name}"));
        match o["status"]["certificate"].as_str() {
            Some(b64) => {
                cert_pem = String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                )
                .unwrap();
                true
            }
            None => false,
        }
    });
    let (_, o) = admin.get(&format!("{CSRS}/{name}"));
    let cond = &o["status"]["conditions"][0];
    assert_eq!(
        (cond["reason"].as_str(), cond["status"].as_str()),
        (Some("AutoApproved"), Some("True"))
    );
    // The certificate: the node's identity, client auth, signed by the cluster CA.
    let der = pem::parse(&cert_pem).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(der.contents()).unwrap();
    assert_eq!(
        cert.subject().to_string(),
        "CN=system:node:worker-1, O=system:nodes"
    );
    let ca = pem::parse(&c.ca.cert_pem).unwrap();
    let (_, ca) = x509_parser::parse_x509_certificate(ca.contents()).unwrap();
    assert!(cert.verify_signature(Some(ca.public_key())).is_ok());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    // The new certificate authenticates the node.
    let (_, nodes_list) = admin.get("/api/v1/nodes");
    assert_eq!(nodes_list["kind"], "NodeList");

    // A node renewing its own certificate (selfnodeclient) is approved...
    let (cert, key) = c.ca.leaf("system:node:worker-2", &["system:nodes"], false);
    let node2 = Client::new(
        &c.server.url(),
        &c.ca.cert_pem,
        Some((cert, key)),
        None,
        false,
    );
    let (body, _) = csr("system:node:worker-2", &["system:nodes"], &usages);
    let (code, created) = node2.post(CSRS, &body);
    assert_eq!(code, 201, "{created}");
    let own = created["metadata"]["name"].as_str().unwrap().to_string();
    eventually("self renewal approved", || approved(&admin, &own));

    // ...but a node asking for another node's name is not (it has no nodeclient right).
    let (body, _) = csr("system:node:worker-1", &["system:nodes"], &usages);
    let (_, forged) = node2.post(CSRS, &body);
    let forged = forged["metadata"]["name"].as_str().unwrap().to_string();
    // Requests the approver does not recognize stay pending too.
    let (body, _) = csr("system:node:worker-3", &["system:masters"], &usages);
    let (_, masters) = kubelet.post(CSRS, &body);
    let masters = masters["metadata"]["name"].as_str().unwrap().to_string();
    let (body, _) = csr(
        "system:node:worker-3",
        &["system:nodes"],
        &["digital signature", "server auth"],
    );
    let (_, serving) = kubelet.post(CSRS, &body);
    let serving = serving["metadata"]["name"].as_str().unwrap().to_string();
    // Give the controllers a few passes (they run on every change and every second).
    let (body, _) = csr("system:node:worker-4", &["system:nodes"], &usages);
    let (_, later) = kubelet.post(CSRS, &body);
    let later = later["metadata"]["name"].as_str().unwrap().to_string();
    eventually("a later request approved", || approved(&admin, &later));
    std::thread::sleep(Duration::from_millis(1200));
    for n in [&forged, &masters, &serving] {
        assert!(!approved(&admin, n), "{n} must not be approved");
        let (_, o) = admin.get(&format!("{CSRS}/{n}"));
        assert!(o["status"]["certificate"].is_null());
    }
}

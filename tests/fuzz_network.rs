//! A bounded, deterministic fuzz of every parser kubeadm feeds with what the network (or a
//! file kubeadm did not write) gives it: the `cluster-info` ConfigMap and its kubeconfig,
//! the JWS signature, the `kubeadm-certs` Secret, the `kubeadm-config` and `kubelet-config`
//! ConfigMaps, CSRs and certificates, and etcd member lists. Each starts from a valid
//! input, then mutates it (cuts, insertions, flipped bytes, invalid UTF-8, deep nesting,
//! long runs): no input may panic or hang, and none may be taken for the valid one unless
//! it is (a changed kubeconfig never passes its signature, a changed sealed certificate
//! never decrypts).

use base64::Engine;
use prost::Message;
use serde_json::{json, Value};

use kubeadm::discovery::{cluster_info_contents, detached_signature, verify_cluster_info};
use kubeadm::token::BootstrapToken;

mod support;
use support::rng::XorShift;

const ROUNDS: usize = 1000;

/// One to four random edits of `seed`.
fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b":",
        b",",
        b"\\u0000",
        b"\n- ",
        b": ",
        b"&a ",
        b"*a",
        b"!!binary ",
        b"-----BEGIN CERTIFICATE-----\n",
        b"-----END CERTIFICATE-----\n",
        b"==",
        b"\xff",
        b"\xc3",
        b"\xed\xa0\x80",
    ];
    let mut doc = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(doc.len() + 1);
        match rng.below(7) {
            0 => doc.truncate(at),
            1 | 2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                doc.splice(at..at, t.iter().copied());
            }
            3 if at < doc.len() => doc[at] = rng.next() as u8,
            4 => {
                // Deep nesting.
                let open = if rng.below(2) == 0 { b'[' } else { b'{' };
                let n = 100 + rng.below(5_000);
                doc.splice(at..at, std::iter::repeat_n(open, n));
            }
            5 => {
                // A long run (up to 256 KiB; larger answers are cut off before parsing).
                let n = rng.below(256 << 10);
                doc.splice(at..at, std::iter::repeat_n(b'A', n));
            }
            _ => {
                let end = (at + rng.below(16)).min(doc.len());
                doc.drain(at..end);
            }
        }
    }
    doc
}

/// Mutates either the JSON around a string field or the field's own text (re-encoded),
/// so that both the wrapper and the payload are exercised.
fn mutate_object(rng: &mut XorShift, obj: &Value, field: &[&str]) -> Vec<u8> {
    if rng.below(2) == 0 {
        return mutate(rng, &serde_json::to_vec(obj).unwrap());
    }
    let mut obj = obj.clone();
    let mut at = &mut obj;
    for f in field {
        at = &mut at[*f];
    }
    let text = at.as_str().unwrap().as_bytes().to_vec();
    *at = Value::String(String::from_utf8_lossy(&mutate(rng, &text)).into_owned());
    serde_json::to_vec(&obj).unwrap()
}

fn ca() -> (String, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "kubernetes");
    params.distinguished_name = dn;
    (params.self_signed(&key).unwrap().pem(), key)
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[test]
fn cluster_info_and_its_signature() {
    let (ca_pem, _) = ca();
    let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
    let pin = kubeadm::pki::public_key_pin_pem(ca_pem.as_bytes()).unwrap();
    let kubeconfig = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: https://192.0.2.10:6443\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n",
        b64(ca_pem.as_bytes())
    );
    let jws = detached_signature(&kubeconfig, "abcdef", "0123456789abcdef");
    let cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cluster-info", "namespace": "kube-public"},
        "data": {"kubeconfig": kubeconfig, "jws-kubeconfig-abcdef": jws},
    });
    // The valid one passes.
    let (content, sig) = cluster_info_contents(&cm, "abcdef").unwrap();
    let info = verify_cluster_info(
        &content,
        &sig.unwrap(),
        &token,
        std::slice::from_ref(&pin),
        false,
    )
    .unwrap();
    assert_eq!(info.server, "https://192.0.2.10:6443");

    let mut rng = XorShift(0x5eed_0001);
    let mut accepted = 0;
    for _ in 0..ROUNDS {
        let field: &[&str] = if rng.below(2) == 0 {
            &["data", "kubeconfig"]
        } else {
            &["data", "jws-kubeconfig-abcdef"]
        };
        let body = mutate_object(&mut rng, &cm, field);
        // What the discovery client does with an answer: text (lossy), then JSON.
        let Ok(value) = serde_json::from_str::<Value>(&String::from_utf8_lossy(&body)) else {
            continue;
        };
        let Ok((content, Some(sig))) = cluster_info_contents(&value, "abcdef") else {
            continue;
        };
        for skip in [false, true] {
            if let Ok(found) =
                verify_cluster_info(&content, &sig, &token, std::slice::from_ref(&pin), skip)
            {
                assert_eq!(
                    content, kubeconfig,
                    "a changed kubeconfig passed its signature"
                );
                assert_eq!(found.ca_pem, ca_pem.as_bytes());
                accepted += 1;
            }
        }
    }
    // Some mutations leave the signed parts alone (they touch the wrapper only).
    assert!(accepted > 0, "no mutation kept the signed content intact");
}

#[test]
fn jws_headers_and_signatures() {
    let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
    let content = "apiVersion: v1\nkind: Config\n";
    let jws = detached_signature(content, "abcdef", "0123456789abcdef");
    let mut rng = XorShift(0x5eed_0002);
    for _ in 0..ROUNDS {
        let m = String::from_utf8_lossy(&mutate(&mut rng, jws.as_bytes())).into_owned();
        assert_eq!(
            kubeadm::discovery::signature_is_valid(&m, content, &token),
            m == jws,
            "{m:?}"
        );
    }
}

#[test]
fn kubeadm_certs_secret() {
    let (ca_pem, ca_key) = ca();
    let key_pem = ca_key.serialize_pem();
    let pub_pem = ca_key.public_key_pem();
    let hex = kubeadm::copycerts::create_certificate_key().unwrap();
    let key = kubeadm::copycerts::decode_key(&hex).unwrap();
    let originals = [
        ("ca.crt", ca_pem.as_bytes()),
        ("ca.key", key_pem.as_bytes()),
        ("sa.pub", pub_pem.as_bytes()),
    ];
    let mut data = serde_json::Map::new();
    for (name, content) in originals {
        data.insert(
            name.into(),
            b64(&kubeadm::copycerts::encrypt(content, &key).unwrap()).into(),
        );
    }
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "data": data});
    let wanted: Vec<(String, std::path::PathBuf)> = originals
        .iter()
        .map(|(n, _)| (n.to_string(), format!("/pki/{n}").into()))
        .collect();
    let files = kubeadm::copycerts::open_secret(&secret, &key, &wanted).unwrap();
    assert_eq!(files.len(), 3);
    assert!(files.iter().any(|f| f.secret && f.path.ends_with("ca.key")));

    // Plain text sealed with the right key is written as upstream writes it, with a
    // warning naming it.
    let mut forged = secret.clone();
    forged["data"]["ca.crt"] =
        b64(&kubeadm::copycerts::encrypt(b"#!/bin/sh\n", &key).unwrap()).into();
    let Ok(files) = kubeadm::copycerts::open_secret(&forged, &key, &wanted) else {
        panic!("a sealed entry that decrypts is taken, as upstream takes it");
    };
    let warning = files[0].warning.as_deref().unwrap_or_default();
    assert!(
        warning.contains("ca.crt decrypts to something that is not a PEM CERTIFICATE"),
        "{warning}"
    );
    assert!(files[1..].iter().all(|f| f.warning.is_none()));

    let mut rng = XorShift(0x5eed_0003);
    for _ in 0..ROUNDS {
        let name = originals[rng.below(3)].0;
        let body = mutate_object(&mut rng, &secret, &["data", name]);
        let Ok(value) = serde_json::from_slice::<Value>(&body) else {
            continue;
        };
        match kubeadm::copycerts::open_secret(&value, &key, &wanted) {
            Ok(files) => {
                for f in files {
                    let (_, content) = originals.iter().find(|(n, _)| f.path.ends_with(n)).unwrap();
                    assert_eq!(
                        &f.content[..],
                        *content,
                        "{} changed yet decrypted",
                        f.path.display()
                    );
                }
            }
            Err(e) => assert!(!format!("{e:#}").is_empty()),
        }
    }
}

#[test]
fn kubeadm_config_and_kubelet_config() {
    let cluster = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\ncontrolPlaneEndpoint: cp.example:6443\nnetworking:\n  serviceSubnet: 10.96.0.0/12\n  podSubnet: 10.244.0.0/16\n  dnsDomain: cluster.local\napiServer:\n  extraArgs:\n  - name: audit-log-path\n    value: /var/log/audit.log\n  certSANs: [a.example, 192.0.2.7]\netcd:\n  local:\n    dataDir: /var/lib/etcd\nfeatureGates:\n  ControlPlaneKubeletLocalMode: true\n";
    let kubelet = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\nclusterDNS:\n- 10.96.0.10\nclusterDomain: cluster.local\nauthentication:\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt\nrotateCertificates: true\n";
    let kcm = json!({"data": {"ClusterConfiguration": cluster}});
    let kl = json!({"data": {"kubelet": kubelet}});
    let host = kubeadm::host::RealHost::new("/nonexistent");
    let overrides = kubeadm::config::InitOverrides::default();
    let docs = kubeadm::phases::api::kubeadm_config_documents(&kcm).unwrap();
    kubeadm::config::init_configuration(&host, Some(&docs), &overrides).unwrap();
    kubeadm::phases::api::kubelet_config_of(&kl).unwrap();

    let mut rng = XorShift(0x5eed_0004);
    for _ in 0..ROUNDS {
        let body = mutate_object(&mut rng, &kcm, &["data", "ClusterConfiguration"]);
        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
            if let Ok(docs) = kubeadm::phases::api::kubeadm_config_documents(&value) {
                let _ = kubeadm::config::init_configuration(&host, Some(&docs), &overrides);
            }
        }
        let body = mutate_object(&mut rng, &kl, &["data", "kubelet"]);
        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
            match kubeadm::phases::api::kubelet_config_of(&value) {
                Ok(v) => assert!(v.is_object()),
                Err(e) => assert!(!format!("{e:#}").is_empty()),
            }
        }
    }
}

#[test]
fn yaml_alias_bombs_and_deep_nesting_end_in_an_error() {
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\ni: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    let deep = format!("a: {}", "[".repeat(100_000));
    for text in [bomb.to_string(), deep] {
        let cm = json!({"data": {"kubelet": text.clone(), "ClusterConfiguration": text.clone()}});
        assert!(kubeadm::phases::api::kubelet_config_of(&cm).is_err());
        assert!(kubeadm::phases::api::kubeadm_config_documents(&cm).is_err());
        assert!(kubeadm::discovery::cluster_of_kubeconfig(&text).is_err());
    }
    // Refused before parsing, saying why.
    let e = kubeadm::phases::api::kubelet_config_of(
        &json!({"data": {"kubelet": format!("a: {}", "{".repeat(50_000))}}),
    )
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("50000 '[' or '{' characters"),
        "{e:#}"
    );
    let deep_json = "[".repeat(1_000_000);
    assert!(serde_json::from_str::<Value>(&deep_json).is_err());
}

#[test]
fn csrs_and_certificates() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "system:nodes");
    dn.push(rcgen::DnType::CommonName, "system:node:n1");
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key).unwrap();
    let request = b64(csr.pem().unwrap().as_bytes());
    assert_eq!(
        kubeadm::pki::csr::subject_common_name(&request).as_deref(),
        Some("system:node:n1")
    );
    let (ca_pem, _) = ca();
    let der = ::pem::parse(&ca_pem).unwrap().into_contents();
    let pin = kubeadm::pki::public_key_pin(&der).unwrap();
    let mut rng = XorShift(0x5eed_0005);
    for _ in 0..ROUNDS {
        // The CSR as the API gives it (base64 of PEM), its PEM, and its DER.
        let m = String::from_utf8_lossy(&mutate(&mut rng, request.as_bytes())).into_owned();
        let _ = kubeadm::pki::csr::subject_common_name(&m);
        let pem_text = mutate(&mut rng, csr.pem().unwrap().as_bytes());
        let _ = kubeadm::pki::csr::subject_common_name(&b64(&pem_text));
        let der_csr = mutate(&mut rng, csr.der());
        let _ = kubeadm::pki::csr::subject_common_name(&b64(::pem::encode(&::pem::Pem::new(
            "CERTIFICATE REQUEST",
            der_csr,
        ))
        .as_bytes()));
        // A certificate (a CSR's status.certificate, a CA bundle).
        let m = mutate(&mut rng, &der);
        if let Ok(p) = kubeadm::pki::public_key_pin(&m) {
            // Only the key's bytes make the pin.
            assert!(p == pin || m.len() != der.len() || m != der);
        }
        let _ = kubeadm::pki::public_key_pin_pem(&mutate(&mut rng, ca_pem.as_bytes()));
    }
}

#[test]
fn etcd_member_lists() {
    use kubeadm::etcd::api::{Member, MembersResponse};
    let members = MembersResponse {
        header: None,
        members: (1..=3)
            .map(|i| Member {
                id: i,
                name: format!("cp-{i}"),
                peer_urls: vec![format!("https://192.0.2.{i}:2380")],
                client_urls: vec![format!("https://192.0.2.{i}:2379")],
                is_learner: i == 3,
            })
            .collect(),
    };
    let bytes = members.encode_to_vec();
    let list = kubeadm::etcd::members_of(MembersResponse::decode(&bytes[..]).unwrap()).unwrap();
    assert_eq!(list.len(), 3);
    // A name that would add a member to --initial-cluster is refused.
    let mut bad = members.clone();
    bad.members[0].name = "cp-1=https://203.0.113.9:2380,x".into();
    let e = kubeadm::etcd::members_of(bad).unwrap_err();
    assert!(e.to_string().contains("a name etcd would not give"), "{e}");

    let mut rng = XorShift(0x5eed_0006);
    for _ in 0..ROUNDS {
        let m = mutate(&mut rng, &bytes);
        let Ok(r) = MembersResponse::decode(&m[..]) else {
            continue;
        };
        if let Ok(list) = kubeadm::etcd::members_of(r) {
            let initial = kubeadm::etcd::initial_cluster(&list, "cp-4", "https://192.0.2.4:2380");
            for member in initial {
                assert!(!member.name.contains([',', '=', '\n']), "{member:?}");
                assert!(!member.peer_url.contains([',', '=', '\n']), "{member:?}");
            }
        }
    }
}

//! The certs phases end to end on a rooted host: every file checked with `openssl` and in
//! Rust, for every encryptionAlgorithm, and the reuse, mismatch, expiry, wrong-CA and
//! external-CA rules.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kubeadm::config::{test_config, EncryptionAlgorithm, InitConfiguration};
use kubeadm::host::{Host, RealHost};
use kubeadm::phases::certs::{prepare, run_cert, run_sa, KeyCache};
use kubeadm::pki::{CertInfo, Usage, CERTS};

struct Node {
    _dir: tempfile::TempDir,
    host: RealHost,
    pki: PathBuf,
    cfg: InitConfiguration,
}

fn node(alg: EncryptionAlgorithm) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let host = RealHost::new(dir.path());
    let mut cfg = test_config();
    cfg.cluster.encryption_algorithm = alg;
    cfg.cluster.control_plane_endpoint = "cp.example.test:6443".into();
    cfg.cluster.api_server.cert_sans = vec!["10.0.0.9".into(), "api.example.test".into()];
    let pki = dir.path().join("etc/kubernetes/pki");
    Node {
        _dir: dir,
        host,
        pki,
        cfg,
    }
}

fn run_all(n: &Node) -> anyhow::Result<()> {
    let mut keys = prepare(&n.host, &n.cfg, &[], Default::default())?;
    for spec in CERTS {
        run_cert(&n.host, &n.cfg, &mut keys, spec)?;
    }
    run_sa(&n.host, &n.cfg, &mut keys)
}

fn run_one(n: &Node, name: &str) -> anyhow::Result<()> {
    let spec = CERTS.iter().find(|c| c.name == name).unwrap();
    run_cert(&n.host, &n.cfg, &mut KeyCache::default(), spec)
}

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn info(n: &Node, base: &str) -> CertInfo {
    let text = std::fs::read_to_string(n.pki.join(format!("{base}.crt"))).unwrap();
    CertInfo::parse_pem(&text).unwrap()
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn check_tree(n: &Node, alg: EncryptionAlgorithm) {
    let d = &n.pki;
    // Chains, verified by openssl.
    for (ca, leaves) in [
        (
            "ca.crt",
            &["apiserver.crt", "apiserver-kubelet-client.crt"][..],
        ),
        ("front-proxy-ca.crt", &["front-proxy-client.crt"][..]),
        (
            "etcd/ca.crt",
            &[
                "etcd/server.crt",
                "etcd/peer.crt",
                "etcd/healthcheck-client.crt",
                "apiserver-etcd-client.crt",
            ][..],
        ),
    ] {
        for leaf in leaves {
            let out = openssl(&["verify", "-CAfile", ca, leaf], d);
            assert_eq!(out.trim(), format!("{leaf}: OK"));
        }
    }
    // Fields, as openssl reads them.
    let text = openssl(&["x509", "-in", "apiserver.crt", "-noout", "-text"], d);
    assert!(text.contains("Subject: CN = kube-apiserver\n"), "{text}");
    assert!(text.contains("Issuer: CN = kubernetes\n"));
    assert!(text.contains(
        "DNS:api.example.test, DNS:cp.example.test, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, DNS:node1, IP Address:10.96.0.1, IP Address:192.0.2.10, IP Address:10.0.0.9"
    ), "{text}");
    assert!(text.contains("TLS Web Server Authentication"));
    assert!(!text.contains("TLS Web Client Authentication"));
    let text = openssl(&["x509", "-in", "etcd/server.crt", "-noout", "-text"], d);
    assert!(text.contains("Subject: CN = node1\n"));
    assert!(text.contains("DNS:localhost, DNS:node1, IP Address:192.0.2.10, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"), "{text}");
    assert!(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"));
    for client in [
        "apiserver-kubelet-client",
        "front-proxy-client",
        "etcd/healthcheck-client",
        "apiserver-etcd-client",
    ] {
        let text = openssl(
            &["x509", "-in", &format!("{client}.crt"), "-noout", "-text"],
            d,
        );
        assert!(text.contains("TLS Web Client Authentication"), "{client}");
        assert!(
            !text.contains("O = "),
            "{client} must carry no Organization"
        );
        assert!(text.contains("CA:FALSE"), "{client}");
    }
    for ca in ["ca", "front-proxy-ca", "etcd/ca"] {
        let text = openssl(&["x509", "-in", &format!("{ca}.crt"), "-noout", "-text"], d);
        assert!(text.contains("CA:TRUE"), "{ca}");
        assert!(text.contains("Certificate Sign"), "{ca}");
    }
    let sig = match alg {
        EncryptionAlgorithm::EcdsaP384 => "ecdsa-with-SHA384",
        EncryptionAlgorithm::EcdsaP256 => "ecdsa-with-SHA256",
        _ => "sha256WithRSAEncryption",
    };
    assert!(
        text.contains(&format!("Signature Algorithm: {sig}")),
        "{text}"
    );
    let bits = match alg {
        EncryptionAlgorithm::Rsa2048 => "(2048 bit)",
        EncryptionAlgorithm::Rsa3072 => "(3072 bit)",
        EncryptionAlgorithm::Rsa4096 => "(4096 bit)",
        EncryptionAlgorithm::EcdsaP256 => "(256 bit)",
        EncryptionAlgorithm::EcdsaP384 => "(384 bit)",
    };
    assert!(text.contains(bits), "{alg:?}: {text}");

    // Keys: openssl reads them, they match their certificates, mode 0600.
    let key_tag = match alg {
        EncryptionAlgorithm::EcdsaP256 | EncryptionAlgorithm::EcdsaP384 => "EC PRIVATE KEY",
        _ => "RSA PRIVATE KEY",
    };
    for spec in CERTS {
        let key = d.join(format!("{}.key", spec.base_name));
        let crt = d.join(format!("{}.crt", spec.base_name));
        assert_eq!(mode(&key), 0o600, "{}", key.display());
        assert_eq!(mode(&crt), 0o644, "{}", crt.display());
        let pem_text = std::fs::read_to_string(&key).unwrap();
        assert!(!pem_text.contains('\r') && !std::fs::read_to_string(&crt).unwrap().contains('\r'));
        assert!(pem_text.starts_with(&format!("-----BEGIN {key_tag}-----")));
        let from_key = openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout"], d);
        let from_crt = openssl(
            &["x509", "-in", crt.to_str().unwrap(), "-noout", "-pubkey"],
            d,
        );
        assert_eq!(from_key, from_crt, "{} and its key differ", spec.base_name);
    }
    assert_eq!(mode(&d.join("sa.key")), 0o600);
    let sa_pub = openssl(&["pkey", "-in", "sa.key", "-pubout"], d);
    assert_eq!(sa_pub, std::fs::read_to_string(d.join("sa.pub")).unwrap());

    // Validity, in Rust: CAs 10 years from five minutes ago, leaves one year and starting
    // with their CA.
    let ca = info(n, "ca");
    let life = |i: &CertInfo| i.not_after.duration_since(i.not_before).unwrap();
    let year = Duration::from_secs(365 * 24 * 3600);
    let close = |a: Duration, b: Duration| a.abs_diff(b) < Duration::from_secs(30);
    assert!(close(life(&ca), 10 * year + Duration::from_secs(300)));
    let api = info(n, "apiserver");
    assert_eq!(api.not_before, ca.not_before);
    assert!(close(life(&api), year + Duration::from_secs(300)));
    assert!(api.is_signed_by(&ca));
    assert!(!api.is_signed_by(&info(n, "front-proxy-ca")));
    assert_eq!(api.usages, vec![Usage::ServerAuth]);
}

#[test]
fn every_algorithm_yields_a_valid_tree() {
    for alg in EncryptionAlgorithm::ALL {
        let n = node(alg);
        run_all(&n).unwrap();
        check_tree(&n, alg);
    }
}

#[test]
fn existing_valid_files_are_kept() {
    let n = node(EncryptionAlgorithm::EcdsaP256);
    run_all(&n).unwrap();
    let before: Vec<_> = CERTS
        .iter()
        .map(|s| std::fs::read(n.pki.join(format!("{}.crt", s.base_name))).unwrap())
        .collect();
    let sa = std::fs::read(n.pki.join("sa.key")).unwrap();
    run_all(&n).unwrap();
    let after: Vec<_> = CERTS
        .iter()
        .map(|s| std::fs::read(n.pki.join(format!("{}.crt", s.base_name))).unwrap())
        .collect();
    assert_eq!(before, after);
    assert_eq!(sa, std::fs::read(n.pki.join("sa.key")).unwrap());
}

#[test]
fn missing_sans_are_an_error_naming_file_and_names() {
    let mut n = node(EncryptionAlgorithm::EcdsaP256);
    run_all(&n).unwrap();
    n.cfg.node_registration.name = "renamed".into();
    n.cfg.local_api_endpoint.advertise_address = "192.0.2.99".parse().unwrap();
    let e = format!("{:#}", run_one(&n, "apiserver").unwrap_err());
    assert!(e.contains("/etc/kubernetes/pki/apiserver.crt"), "{e}");
    assert!(e.contains("\"renamed\""), "{e}");
    assert!(e.contains("192.0.2.99"), "{e}");
}

#[test]
fn a_key_that_does_not_match_is_an_error() {
    let n = node(EncryptionAlgorithm::EcdsaP256);
    run_all(&n).unwrap();
    std::fs::copy(
        n.pki.join("front-proxy-client.key"),
        n.pki.join("apiserver.key"),
    )
    .unwrap();
    let e = format!("{:#}", run_one(&n, "apiserver").unwrap_err());
    assert!(
        e.contains("apiserver.crt: the certificate does not match its private key"),
        "{e}"
    );
}

#[test]
fn a_certificate_from_another_ca_is_an_error() {
    let n = node(EncryptionAlgorithm::EcdsaP256);
    run_all(&n).unwrap();
    // front-proxy-client is signed by front-proxy-ca, not by ca.
    for ext in ["crt", "key"] {
        std::fs::copy(
            n.pki.join(format!("front-proxy-client.{ext}")),
            n.pki.join(format!("apiserver-kubelet-client.{ext}")),
        )
        .unwrap();
    }
    let e = format!("{:#}", run_one(&n, "apiserver-kubelet-client").unwrap_err());
    assert!(
        e.contains("not signed by the corresponding CA (kubernetes)"),
        "{e}"
    );
}

#[test]
fn an_expired_certificate_is_an_error() {
    let mut n = node(EncryptionAlgorithm::EcdsaP256);
    n.cfg.cluster.certificate_validity_period = Duration::ZERO;
    run_one(&n, "ca").unwrap();
    run_one(&n, "apiserver-kubelet-client").unwrap();
    let e = format!("{:#}", run_one(&n, "apiserver-kubelet-client").unwrap_err());
    assert!(
        e.contains("apiserver-kubelet-client.crt: the certificate has expired"),
        "{e}"
    );
}

#[test]
fn half_a_pair_is_an_error() {
    let n = node(EncryptionAlgorithm::EcdsaP256);
    run_all(&n).unwrap();
    std::fs::remove_file(n.pki.join("apiserver.key")).unwrap();
    let e = format!("{:#}", run_one(&n, "apiserver").unwrap_err());
    assert!(e.contains("only one of"), "{e}");
}

#[test]
fn a_key_without_its_certificate_is_replaced_as_upstream_does() {
    // What a run killed between the key and the certificate leaves.
    let n = node(EncryptionAlgorithm::EcdsaP256);
    run_all(&n).unwrap();
    let old_key = std::fs::read(n.pki.join("apiserver.key")).unwrap();
    std::fs::remove_file(n.pki.join("apiserver.crt")).unwrap();
    run_one(&n, "apiserver").unwrap();
    assert!(n.pki.join("apiserver.crt").exists());
    assert_ne!(std::fs::read(n.pki.join("apiserver.key")).unwrap(), old_key);
    // The new pair is consistent: a second run keeps it.
    run_all(&n).unwrap();
}

#[test]
fn external_ca_mode_uses_provided_certificates_and_refuses_missing_ones() {
    let n = node(EncryptionAlgorithm::EcdsaP256);
    run_all(&n).unwrap();
    std::fs::remove_file(n.pki.join("ca.key")).unwrap();
    // Every certificate is there: the keyless CA is accepted.
    run_all(&n).unwrap();
    // A certificate the external CA should have signed is missing: refused.
    std::fs::remove_file(n.pki.join("apiserver.crt")).unwrap();
    std::fs::remove_file(n.pki.join("apiserver.key")).unwrap();
    let e = format!("{:#}", run_one(&n, "apiserver").unwrap_err());
    assert!(
        e.contains("with an external CA, every certificate it signs must be provided"),
        "{e}"
    );
    assert!(!n
        .host
        .exists(Path::new("/etc/kubernetes/pki/apiserver.crt"))
        .unwrap());
}

#[test]
fn a_leaf_without_its_ca_says_which_phase_to_run() {
    let n = node(EncryptionAlgorithm::EcdsaP256);
    let e = format!("{:#}", run_one(&n, "etcd-server").unwrap_err());
    assert!(e.contains("kubeadm init phase certs etcd-ca"), "{e}");
}

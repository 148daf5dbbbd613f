//! The kubeconfig phases end to end: every file read by the real `kubectl`, its embedded
//! client certificate verified against the CA with `openssl`, users, groups and servers as
//! upstream, and the reuse rules.

use std::path::{Path, PathBuf};
use std::process::Command;

use kubeadm::config::{test_config, EncryptionAlgorithm, InitConfiguration};
use kubeadm::host::RealHost;
use kubeadm::kubeconfig::KUBECONFIGS;
use kubeadm::phases::certs::{run_cert, KeyCache};
use kubeadm::phases::kubeconfig::{prepare, run_kubeconfig};
use kubeadm::pki::CERTS;

struct Node {
    dir: tempfile::TempDir,
    host: RealHost,
    cfg: InitConfiguration,
}

impl Node {
    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc/kubernetes")
    }
}

fn node(alg: EncryptionAlgorithm) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let host = RealHost::new(dir.path());
    let mut cfg = test_config();
    cfg.cluster.encryption_algorithm = alg;
    cfg.cluster.control_plane_endpoint = "lb.example.test".into();
    let n = Node { dir, host, cfg };
    make_ca(&n);
    n
}

fn make_ca(n: &Node) {
    run_cert(&n.host, &n.cfg, &mut KeyCache::default(), &CERTS[0]).unwrap();
}

fn run_all(n: &Node) -> anyhow::Result<()> {
    let dir = Path::new("/etc/kubernetes");
    let mut keys = prepare(&n.host, &n.cfg, dir, &[], Default::default())?;
    for spec in KUBECONFIGS {
        run_kubeconfig(&n.host, &n.cfg, dir, &mut keys, spec)?;
    }
    Ok(())
}

fn run(cmd: &str, args: &[&str], stdin_file: Option<&Path>) -> String {
    let mut c = Command::new(cmd);
    c.args(args);
    if let Some(f) = stdin_file {
        c.stdin(std::fs::File::open(f).unwrap());
    }
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("{cmd} must be installed: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn kubectl_reads_every_file_and_certificates_match_the_ca() {
    for alg in [EncryptionAlgorithm::Rsa2048, EncryptionAlgorithm::EcdsaP256] {
        let n = node(alg);
        run_all(&n).unwrap();
        let ca = n.etc().join("pki/ca.crt");
        for (file, cn, org, server) in [
            (
                "admin.conf",
                "kubernetes-admin",
                Some("kubeadm:cluster-admins"),
                "https://lb.example.test:6443",
            ),
            (
                "super-admin.conf",
                "kubernetes-super-admin",
                Some("system:masters"),
                "https://lb.example.test:6443",
            ),
            (
                "kubelet.conf",
                "system:node:node1",
                Some("system:nodes"),
                "https://192.0.2.10:6443",
            ),
            (
                "controller-manager.conf",
                "system:kube-controller-manager",
                None,
                "https://192.0.2.10:6443",
            ),
            (
                "scheduler.conf",
                "system:kube-scheduler",
                None,
                "https://192.0.2.10:6443",
            ),
        ] {
            let path = n.etc().join(file);
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&path).unwrap().permissions(),
            );
            assert_eq!(mode & 0o777, 0o600, "{file}");
            let json = run(
                "kubectl",
                &[
                    "config",
                    "view",
                    "--raw",
                    "-o",
                    "json",
                    "--kubeconfig",
                    path.to_str().unwrap(),
                ],
                None,
            );
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["clusters"][0]["name"], "kubernetes");
            assert_eq!(v["clusters"][0]["cluster"]["server"], server, "{file}");
            assert_eq!(v["users"][0]["name"], cn);
            assert_eq!(v["current-context"], format!("{cn}@kubernetes"));
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD;
            let ca_data = b64
                .decode(
                    v["clusters"][0]["cluster"]["certificate-authority-data"]
                        .as_str()
                        .unwrap(),
                )
                .unwrap();
            assert_eq!(ca_data, std::fs::read(&ca).unwrap(), "{file} embeds the CA");
            let cert = b64
                .decode(
                    v["users"][0]["user"]["client-certificate-data"]
                        .as_str()
                        .unwrap(),
                )
                .unwrap();
            let cert_file = n.dir.path().join(format!("{file}.crt"));
            std::fs::write(&cert_file, &cert).unwrap();
            let verified = run(
                "openssl",
                &[
                    "verify",
                    "-CAfile",
                    ca.to_str().unwrap(),
                    cert_file.to_str().unwrap(),
                ],
                None,
            );
            assert!(verified.trim().ends_with(": OK"), "{file}: {verified}");
            let subject = run(
                "openssl",
                &[
                    "x509",
                    "-noout",
                    "-subject",
                    "-ext",
                    "extendedKeyUsage",
                    "-in",
                    cert_file.to_str().unwrap(),
                ],
                None,
            );
            let want = match org {
                Some(o) => format!("subject=O = {o}, CN = {cn}"),
                None => format!("subject=CN = {cn}"),
            };
            assert!(subject.starts_with(&want), "{file}: {subject}");
            assert!(
                subject.contains("TLS Web Client Authentication"),
                "{file}: {subject}"
            );
            // The key in the file belongs to the certificate.
            let key = b64
                .decode(v["users"][0]["user"]["client-key-data"].as_str().unwrap())
                .unwrap();
            let key_file = n.dir.path().join(format!("{file}.key"));
            std::fs::write(&key_file, &key).unwrap();
            assert_eq!(
                run(
                    "openssl",
                    &["pkey", "-pubout", "-in", key_file.to_str().unwrap()],
                    None
                ),
                run(
                    "openssl",
                    &[
                        "x509",
                        "-noout",
                        "-pubkey",
                        "-in",
                        cert_file.to_str().unwrap()
                    ],
                    None
                ),
                "{file}"
            );
        }
    }
}

#[test]
fn existing_files_are_kept_and_a_foreign_ca_is_refused() {
    let n = node(EncryptionAlgorithm::EcdsaP256);
    run_all(&n).unwrap();
    let before = std::fs::read(n.etc().join("admin.conf")).unwrap();
    run_all(&n).unwrap();
    assert_eq!(before, std::fs::read(n.etc().join("admin.conf")).unwrap());

    // A new CA: the existing files belong to another cluster.
    std::fs::remove_file(n.etc().join("pki/ca.crt")).unwrap();
    std::fs::remove_file(n.etc().join("pki/ca.key")).unwrap();
    make_ca(&n);
    let e = format!("{:#}", run_all(&n).unwrap_err());
    assert!(
        e.contains("/etc/kubernetes/admin.conf\" exists already but has got the wrong CA cert"),
        "{e}"
    );
}

#[test]
fn external_ca_requires_the_files() {
    let n = node(EncryptionAlgorithm::EcdsaP256);
    std::fs::remove_file(n.etc().join("pki/ca.key")).unwrap();
    let e = format!("{:#}", run_all(&n).unwrap_err());
    assert!(
        e.contains("with an external CA, every kubeconfig file must be provided"),
        "{e}"
    );
    assert!(!n.etc().join("admin.conf").exists());
}

//! What upstream removed and kubeadm-rs still reads: `kubeadm.k8s.io/v1beta3` files (removed
//! from upstream in v1.37) get a warning that upstream refuses them and the `config migrate`
//! command, from every command but `config migrate`; removed feature gates get a warning
//! naming the removal, and `PublicKeysECDSA` keeps its meaning.

use std::path::Path;
use std::process::{Command, Output};

fn kubeadm(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        // Release labels are not asked for here: every file names its version.
        .env("KUBEADM_RS_RELEASE_URL", "http://127.0.0.1:1/release")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Runs kubeadm and requires success: (stdout, stderr).
fn ok(root: &Path, args: &[&str]) -> (String, String) {
    let o = kubeadm(root, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{args:?}:\n{out}{err}");
    (out, err)
}

const V1BETA3: &str = "apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.37.1
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.0.2.10
nodeRegistration:
  criSocket: unix:///run/containerd/containerd.sock
";

const REMOVAL: &str = "uses kubeadm.k8s.io/v1beta3, which upstream kubeadm removed in v1.37: upstream kubeadm v1.37 and later refuse this file";

#[test]
fn a_v1beta3_file_is_read_with_a_warning_and_the_migrate_command() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("old.yaml"), V1BETA3).unwrap();
    let migrate = "kubeadm config migrate --old-config /old.yaml --new-config new.yaml";
    for args in [
        &["config", "images", "list", "--config", "/old.yaml"][..],
        &["config", "validate", "--config", "/old.yaml"],
        &["init", "phase", "certs", "ca", "--config", "/old.yaml"],
    ] {
        let (_, err) = ok(root.path(), args);
        assert!(
            err.contains(&format!("/old.yaml {REMOVAL}")),
            "{args:?}: {err}"
        );
        assert!(err.contains(migrate), "{args:?}: {err}");
    }
    assert!(root.path().join("etc/kubernetes/pki/ca.crt").exists());

    // The command the warning names says nothing of the kind, and writes v1beta4.
    let (out, err) = ok(
        root.path(),
        &["config", "migrate", "--old-config", "/old.yaml"],
    );
    assert!(!err.contains("v1beta3"), "{err}");
    assert!(out.contains("apiVersion: kubeadm.k8s.io/v1beta4"), "{out}");
    assert!(!out.contains("v1beta3"), "{out}");
    // A v1beta4 file gets no such warning.
    std::fs::write(root.path().join("new.yaml"), &out).unwrap();
    let (_, err) = ok(
        root.path(),
        &["config", "images", "list", "--config", "/new.yaml"],
    );
    assert!(!err.contains("v1beta3"), "{err}");
}

#[test]
fn removed_feature_gates_are_warned_of_by_name() {
    let root = tempfile::tempdir().unwrap();
    let file = "apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.1
featureGates:
  NodeLocalCRISocket: true
  WaitForAllControlPlaneComponents: true
  RootlessControlPlane: false
";
    std::fs::write(root.path().join("c.yaml"), file).unwrap();
    let (out, err) = ok(
        root.path(),
        &["config", "images", "list", "--config", "/c.yaml"],
    );
    assert!(out.contains("kube-apiserver:v1.37.1"), "{out}");
    for (gate, release, pr) in [
        ("NodeLocalCRISocket", "v1.37", 138645),
        ("WaitForAllControlPlaneComponents", "v1.35", 134781),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(&format!("ClusterConfiguration.featureGates.{gate}")))
            .unwrap_or_else(|| panic!("no warning for {gate}:\n{err}"));
        assert!(line.starts_with("[WARNING FeatureGates]"), "{line}");
        assert!(
            line.contains(&format!(
                "removed from kubeadm in {release} (kubernetes/kubernetes#{pr})"
            )),
            "{line}"
        );
        assert!(
            line.contains(&format!("{gate} is not a valid feature name")),
            "{line}"
        );
    }
    assert!(!err.contains("RootlessControlPlane"), "a known gate: {err}");

    // The same through --feature-gates; a gate nobody knows is still an error.
    let (_, err) = ok(
        root.path(),
        &[
            "config",
            "images",
            "list",
            "--kubernetes-version",
            "v1.37.1",
            "--feature-gates",
            "ControlPlaneKubeletLocalMode=true",
        ],
    );
    assert!(
        err.contains("featureGates.ControlPlaneKubeletLocalMode: \"true\": the feature gate was removed from kubeadm in v1.36 (kubernetes/kubernetes#135773)"),
        "{err}"
    );
    let o = kubeadm(
        root.path(),
        &[
            "config",
            "images",
            "list",
            "--kubernetes-version",
            "v1.37.1",
            "--feature-gates",
            "NoSuchGate=true",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("unrecognized feature-gate key"), "{err}");
}

/// The key type of a PEM private key file, as openssl names it.
fn key_type(path: &Path) -> String {
    let o = Command::new("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_removed_public_keys_ecdsa_gate_keeps_its_meaning() {
    for (value, algorithm, expected) in [
        ("true", "RSA-2048", "Private-Key: (256 bit"),
        ("false", "ECDSA-P384", "Private-Key: (2048 bit"),
    ] {
        let root = tempfile::tempdir().unwrap();
        let file = format!(
            "apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.1
encryptionAlgorithm: {algorithm}
featureGates:
  PublicKeysECDSA: {value}
"
        );
        std::fs::write(root.path().join("c.yaml"), file).unwrap();
        let (_, err) = ok(
            root.path(),
            &["init", "phase", "certs", "ca", "--config", "/c.yaml"],
        );
        assert!(
            err.contains("PublicKeysECDSA: \"") && err.contains("(kubernetes/kubernetes#136016)"),
            "{err}"
        );
        let key = key_type(&root.path().join("etc/kubernetes/pki/ca.key"));
        assert!(key.contains(expected), "PublicKeysECDSA={value}: {key}");
    }
}

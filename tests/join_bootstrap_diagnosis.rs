//! A join whose TLS bootstrap does not finish says where it stands. Its own test binary:
//! the kubelet stand-in holds the kubelet's health port for the whole process.

mod support;

use std::path::Path;

use support::*;
use testapiserver::resources;

fn kubeadm(root: &Path, args: &[&str]) -> std::process::Output {
    kubeadm_in(None, root, args)
}

/// When the TLS bootstrap does not finish, the join says where it stands: no request from
/// the kubelet, or a request nothing approves (the approval binding is gone).
#[test]
fn a_stuck_tls_bootstrap_is_explained() {
    let cp = control_plane();
    let join = |root: &Path, node: &str| {
        std::fs::write(
            root.join("join.yaml"),
            format!(
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: {}\n    token: abcdef.0123456789abcdef\n    caCertHashes: [\"{}\"]\nnodeRegistration:\n  name: {node}\ntimeouts:\n  tlsBootstrap: 4s\n",
                cp.endpoint, cp.pin
            ),
        )
        .unwrap();
        kubeadm(
            root,
            &[
                "join",
                "--config",
                "/join.yaml",
                "--skip-phases",
                "preflight",
            ],
        )
    };
    // The kubelet of worker-9 bootstraps when its node joins; its health endpoint answers
    // for any node here.
    let pending = tempfile::tempdir().unwrap();
    let _kubelet = kubelet_stand_in(pending.path().to_path_buf(), "worker-9", None);

    // worker-8's kubelet answers its health check but never asks for a certificate.
    let quiet = tempfile::tempdir().unwrap();
    let o = join(quiet.path(), "worker-8");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains(
            "The kubelet has not sent a certificate signing request for system:node:worker-8"
        ),
        "{err}"
    );

    // The binding that lets the approver approve join requests is gone: the kubelet's
    // request stays pending, and the error names the binding and the manual approval.
    let store = &cp.server.state().store;
    store
        .delete(
            resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings").unwrap(),
            "",
            "kubeadm:node-autoapprove-bootstrap",
        )
        .unwrap();
    let o = join(pending.path(), "worker-9");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("for system:node:worker-9 is pending: nothing approved it"),
        "{err}"
    );
    assert!(err.contains("kubeadm:node-autoapprove-bootstrap"), "{err}");
    assert!(err.contains("kubectl certificate approve "), "{err}");
}

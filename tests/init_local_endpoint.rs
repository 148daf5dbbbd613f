//! `kubeadm init` talks to this node's API server (`localAPIEndpoint`) through copies of
//! admin.conf and super-admin.conf made in memory, so a `controlPlaneEndpoint` that does
//! not answer yet (a load balancer waiting for its first backend) does not stop it; the
//! files on disk and the `cluster-info` ConfigMap still name the `controlPlaneEndpoint`.

mod support;

use serde_json::json;
use support::*;
use testapiserver::{resources, TestApiServer};

#[test]
fn init_completes_while_the_control_plane_endpoint_does_not_answer() {
    let port = free_port();
    // Nothing listens there during init.
    let lb_port = free_port();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::write(
        r.join("kubeadm.yaml"),
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.1\n  bindPort: {port}\nnodeRegistration:\n  name: cp-1\n  criSocket: unix:///var/run/containerd/containerd.sock\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\ncontrolPlaneEndpoint: 127.0.0.1:{lb_port}\n"
        ),
    )
    .unwrap();
    kubeadm_ok(
        r,
        &["init", "phase", "certs", "all", "--config", "/kubeadm.yaml"],
    );
    let pki = r.join("etc/kubernetes/pki");
    let server = TestApiServer::start(support::api_server_config(
        &pki,
        format!("127.0.0.1:{port}").parse().unwrap(),
    ))
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
    let out = kubeadm_ok(
        r,
        &[
            "init",
            "--config",
            "/kubeadm.yaml",
            "--skip-phases",
            "preflight,wait-control-plane",
        ],
    );
    assert!(
        out.contains("Your Kubernetes control-plane has initialized successfully"),
        "{out}"
    );
    let lb = format!("https://127.0.0.1:{lb_port}");
    for f in ["admin.conf", "super-admin.conf"] {
        let text = std::fs::read_to_string(r.join("etc/kubernetes").join(f)).unwrap();
        assert!(text.contains(&format!("server: {lb}\n")), "{f}:\n{text}");
    }
    // The objects init made went to the local API server.
    let cm = |ns: &str, name: &str| {
        server
            .state()
            .store
            .get(resources::find("", "v1", "configmaps").unwrap(), ns, name)
            .unwrap()
    };
    assert!(
        cm("kube-system", "kubeadm-config")["data"]["ClusterConfiguration"]
            .as_str()
            .unwrap()
            .contains(&format!("controlPlaneEndpoint: 127.0.0.1:{lb_port}"))
    );
    // cluster-info, which joining nodes discover the cluster from, names the endpoint.
    let info = cm("kube-public", "cluster-info");
    let kubeconfig = info["data"]["kubeconfig"].as_str().unwrap();
    assert!(
        kubeconfig.contains(&format!("server: {lb}\n")),
        "{kubeconfig}"
    );
}

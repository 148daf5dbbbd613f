//! The node simulator of the init tests: `nodesim`'s, playing the kubelet of a
//! control-plane node on a root directory (the test serves the kubelet's health port
//! itself and needs no mirror Pods).

use std::path::Path;
use std::time::{Duration, Instant};

use testapiserver::TestApiServer;

#[allow(unused_imports)]
pub use nodesim::HOST_CHECKS;

/// What the simulated kubelet runs; see `nodesim`.
pub struct NodeSimulator(nodesim::NodeSim);

/// Writes `/kubeadm.yaml` in `root`: a first control-plane node `cp-1` at 127.0.0.1:`port`,
/// images never pulled, the token `abcdef.0123456789abcdef`.
pub fn write_init_config(root: &Path, port: u16) {
    std::fs::write(
        root.join("kubeadm.yaml"),
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.1\n  bindPort: {port}\nnodeRegistration:\n  name: cp-1\n  criSocket: unix:///var/run/containerd/containerd.sock\n  imagePullPolicy: Never\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\ntimeouts:\n  kubeletHealthCheck: 60s\n  controlPlaneComponentHealthCheck: 60s\n  kubernetesAPICall: 30s\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\n"
        ),
    )
    .unwrap();
}

impl NodeSimulator {
    /// Starts simulating node `node` on `root`.
    pub fn start(root: &Path, node: &str) -> Self {
        Self::start_with(root, node, Duration::ZERO)
    }

    /// As [`NodeSimulator::start`], each component turning healthy `delay` after its
    /// manifest appears (a known moment, for benchmarks).
    pub fn start_with(root: &Path, node: &str, delay: Duration) -> Self {
        let mut o = nodesim::Options::new(root, node);
        o.delay = delay;
        o.kubelet_health = false;
        o.mirror_pods = false;
        NodeSimulator(nodesim::NodeSim::start(o))
    }

    /// When the last component started answering.
    pub fn last_healthy(&self) -> Option<Instant> {
        self.0.last_healthy()
    }

    /// The API server, once started.
    pub fn with_server<T>(&self, f: impl FnOnce(Option<&TestApiServer>) -> T) -> T {
        self.0.with_server(f)
    }
}

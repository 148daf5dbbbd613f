//! A node simulator for init tests: it plays the kubelet of a control-plane node. When
//! `kube-apiserver.yaml` appears it starts the test API server with the certificate flags,
//! address and port of the manifest; when the controller-manager's and scheduler's
//! manifests appear it serves their health ports; once the API server is up and
//! `kubelet.conf` exists it registers the Node. It keeps running when kubeadm is killed,
//! as a kubelet would, and stops everything when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use testapiserver::{resources, Config, TestApiServer};

use super::{https_ok, Killed};

/// What the simulated kubelet runs; see the module documentation.
pub struct NodeSimulator {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    running: Arc<Mutex<Running>>,
}

#[derive(Default)]
struct Running {
    server: Option<TestApiServer>,
    health: Vec<Killed>,
    node_registered: bool,
    /// When the API server's manifest was first seen.
    apiserver_seen: Option<Instant>,
    /// When the other components' manifests were first seen.
    components_seen: Option<Instant>,
    /// When each component started answering.
    healthy: Vec<Instant>,
}

/// Host checks a test machine cannot pass (no kubelet, host tools or runtime inside a
/// temporary root); the file, directory and port checks stay.
pub const HOST_CHECKS: &str = "CRI,FileExisting-iptables,FileExisting-mount,FileExisting-nsenter,KubeletVersion,FileContent--proc-sys-net-ipv4-ip_forward,NumCPU,Mem,Swap,SystemVerification";

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

/// The value of `--flag=value` in a manifest's command.
fn flag(manifest: &serde_json::Value, name: &str) -> Option<String> {
    let prefix = format!("--{name}=");
    manifest["spec"]["containers"][0]["command"]
        .as_array()?
        .iter()
        .filter_map(|a| a.as_str())
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
}

fn read_manifest(root: &Path, name: &str) -> Option<serde_json::Value> {
    let text = std::fs::read(
        root.join("etc/kubernetes/manifests")
            .join(format!("{name}.yaml")),
    )
    .ok()?;
    serde_yaml_ng::from_slice(&text).ok()
}

impl NodeSimulator {
    /// Starts simulating node `node` on `root`.
    pub fn start(root: &Path, node: &str) -> Self {
        Self::start_with(root, node, Duration::ZERO)
    }

    /// As [`NodeSimulator::start`], each component turning healthy `delay` after its
    /// manifest appears (a known moment, for benchmarks).
    pub fn start_with(root: &Path, node: &str, delay: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::new(Mutex::new(Running::default()));
        let (root, node) = (root.to_path_buf(), node.to_string());
        let (stop2, running2) = (stop.clone(), running.clone());
        let handle = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                Self::tick(&root, &node, delay, &mut running2.lock().unwrap());
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        NodeSimulator {
            stop,
            handle: Some(handle),
            running,
        }
    }

    fn tick(root: &Path, node: &str, delay: Duration, r: &mut Running) {
        let under = |p: String| -> PathBuf { root.join(p.trim_start_matches('/')) };
        if r.server.is_none() {
            let manifest = read_manifest(root, "kube-apiserver");
            if manifest.is_some() && r.apiserver_seen.is_none() {
                r.apiserver_seen = Some(Instant::now());
            }
            let due = r.apiserver_seen.is_some_and(|t| t.elapsed() >= delay);
            if let Some(m) = manifest.filter(|_| due) {
                let (Some(cert), Some(key), Some(ca), Some(port), Some(addr)) = (
                    flag(&m, "tls-cert-file"),
                    flag(&m, "tls-private-key-file"),
                    flag(&m, "client-ca-file"),
                    flag(&m, "secure-port"),
                    flag(&m, "advertise-address"),
                ) else {
                    return;
                };
                let ca = under(ca);
                let ca_key = ca.with_extension("key");
                let config = Config {
                    listen: format!("{addr}:{port}").parse().unwrap(),
                    tls_cert_file: under(cert),
                    tls_private_key_file: under(key),
                    client_ca_file: ca.clone(),
                    signing_cert_file: Some(ca),
                    signing_key_file: Some(ca_key),
                    data_dump: None,
                    run_controllers: true,
                };
                // Not startable yet (a certificate still missing): try again next time.
                r.server = TestApiServer::start(config).ok();
                if r.server.is_some() {
                    r.healthy.push(Instant::now());
                }
            }
        }
        if r.components_seen.is_none()
            && read_manifest(root, "kube-controller-manager").is_some()
            && read_manifest(root, "kube-scheduler").is_some()
        {
            r.components_seen = Some(Instant::now());
        }
        if r.health.is_empty() && r.components_seen.is_some_and(|t| t.elapsed() >= delay) {
            let pki = root.join("etc/kubernetes/pki");
            for port in [10257, 10259] {
                r.health.push(https_ok(
                    port,
                    &pki.join("apiserver.crt"),
                    &pki.join("apiserver.key"),
                ));
                // Healthy once it accepts connections.
                let deadline = Instant::now() + Duration::from_secs(10);
                while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                r.healthy.push(Instant::now());
            }
        }
        if let Some(server) = &r.server {
            if !r.node_registered && root.join("etc/kubernetes/kubelet.conf").exists() {
                let nodes = resources::find("", "v1", "nodes").unwrap();
                let _ = server
                    .state()
                    .store
                    .create(nodes, "", json!({"metadata": {"name": node}}));
                r.node_registered = true;
            }
        }
    }

    /// When the last component started answering (the API server, the controller-manager
    /// and the scheduler all have).
    pub fn last_healthy(&self) -> Option<Instant> {
        let r = self.running.lock().unwrap();
        (r.healthy.len() == 3).then(|| *r.healthy.iter().max().unwrap())
    }

    /// The API server, once started.
    pub fn with_server<T>(&self, f: impl FnOnce(Option<&TestApiServer>) -> T) -> T {
        f(self.running.lock().unwrap().server.as_ref())
    }
}

impl Drop for NodeSimulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let mut r = self.running.lock().unwrap();
        r.health.clear();
        r.server = None;
    }
}

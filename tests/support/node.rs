//! A node simulator for init tests: it plays the kubelet of a control-plane node. When
//! `kube-apiserver.yaml` appears it starts the test API server with the certificate flags,
//! address and port of the manifest; when the controller-manager's and scheduler's
//! manifests appear it serves their health ports; once the API server is up and
//! `kubelet.conf` exists it registers the Node. It keeps running when kubeadm is killed,
//! as a kubelet would, and stops everything when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::new(Mutex::new(Running::default()));
        let (root, node) = (root.to_path_buf(), node.to_string());
        let (stop2, running2) = (stop.clone(), running.clone());
        let handle = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                Self::tick(&root, &node, &mut running2.lock().unwrap());
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        NodeSimulator {
            stop,
            handle: Some(handle),
            running,
        }
    }

    fn tick(root: &Path, node: &str, r: &mut Running) {
        let under = |p: String| -> PathBuf { root.join(p.trim_start_matches('/')) };
        if r.server.is_none() {
            if let Some(m) = read_manifest(root, "kube-apiserver") {
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
            }
        }
        if r.health.is_empty()
            && read_manifest(root, "kube-controller-manager").is_some()
            && read_manifest(root, "kube-scheduler").is_some()
        {
            let pki = root.join("etc/kubernetes/pki");
            for port in [10257, 10259] {
                r.health.push(https_ok(
                    port,
                    &pki.join("apiserver.crt"),
                    &pki.join("apiserver.key"),
                ));
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

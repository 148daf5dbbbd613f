//! A node simulator for tests: it plays a node's kubelet, on a node whose files live
//! under a root directory and whose network is a network namespace (or this one).
//!
//! - It answers the kubelet's health endpoint (`127.0.0.1:10248`) from the start.
//! - When `kube-apiserver.yaml` appears in the manifest directory it starts the test API
//!   server with the address, port and certificate flags of the manifest (and, when
//!   [`Options::etcd_backed`] asks for it, its objects kept in the etcd of the manifest's
//!   `--etcd-*` flags, so that they outlive the server as kube-apiserver's do); when the
//!   controller-manager's and scheduler's manifests appear it serves their health ports;
//!   when `etcd.yaml` appears (and etcd is asked for) it runs the real etcd with the
//!   manifest's command line. Each stops when its manifest goes away (`kubeadm reset`).
//! - When `bootstrap-kubelet.conf` appears without `kubelet.conf` it does the kubelet's
//!   TLS bootstrap: a CSR with the bootstrap token, the signed certificate, kubelet.conf.
//! - With `kubelet.conf` it registers its Node with its own identity and keeps a mirror
//!   Pod of each static Pod (with the manifest's labels and annotations and its config
//!   hash) in kube-system, as a kubelet does.
//!
//! - It keeps the Pods bound to its Node: each one not yet running is reported Running
//!   and Ready (through `/status`), as a kubelet reports the Pods it started.
//! - Its version is the one its kubelet binary reports: `usr/local/bin/kubelet` under the
//!   root when there (a file holding `kubelet --version`'s answer, `Kubernetes v1.37.1`,
//!   as a package would install it), else [`Options::kubelet_version`]. A running kubelet
//!   keeps its version until it restarts: the binary is read again only when
//!   `run/kubelet.restart` appears (what the test hosts' `systemctl restart kubelet`
//!   writes), and the Node's status then reports the new version.
//!
//! It keeps running when kubeadm is killed, as a kubelet would, and stops everything
//! when dropped.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use kubeadm::client::{Api, KubeClient};
use serde_json::{json, Value};
use testapiserver::etcd::EtcdConfig;
use testapiserver::{Config, TestApiServer};

/// Host checks a test machine cannot pass (no kubelet, host tools or runtime on the test
/// node); the file, directory and port checks stay.
pub const HOST_CHECKS: &str = "CRI,FileExisting-iptables,FileExisting-mount,FileExisting-nsenter,KubeletVersion,FileContent--proc-sys-net-ipv4-ip_forward,NumCPU,Mem,Swap,SystemVerification";

/// A child process killed and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `ip` (iproute2) with `args`, failing with its message.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// Moves the calling thread into a network namespace made with `ip netns add`.
pub fn enter_netns(name: &str) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(format!("/var/run/netns/{name}")).expect("the namespace exists");
    // SAFETY: setns with a valid namespace file descriptor affects only the calling thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {name}: {}", std::io::Error::last_os_error());
}

/// Answers every connection to `l` with `200 ok` until `stop` is set and the listener
/// shut down ([`stop_serving`]): the thread waits in `accept` rather than polling.
pub fn serve_ok_until(l: TcpListener, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf);
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                }
                // Shut down, or out of descriptors for a moment.
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })
}

/// Stops a [`serve_ok_until`] thread serving `l` (a clone of its listener): sets `stop`,
/// shuts the listening socket down, which wakes the thread's `accept`, and waits for it.
pub fn stop_serving(l: &TcpListener, stop: &AtomicBool, h: std::thread::JoinHandle<()>) {
    use std::os::fd::AsRawFd;
    stop.store(true, Ordering::SeqCst);
    // SAFETY: shutdown on a descriptor this listener owns; on Linux it makes a blocked
    // accept on the same socket return.
    unsafe { libc::shutdown(l.as_raw_fd(), libc::SHUT_RDWR) };
    let _ = h.join();
}

/// An HTTPS server answering 200 to any GET (a controller-manager or scheduler), with
/// the given certificate, on a loopback port.
pub fn https_ok(port: u16, cert: &Path, key: &Path) -> Killed {
    Killed(
        Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl"),
    )
}

/// The command line of a static Pod's first container.
fn command_of(manifest: &Value) -> Vec<String> {
    manifest["spec"]["containers"][0]["command"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The value of `--flag=value` in a manifest's command.
pub fn flag(manifest: &Value, name: &str) -> Option<String> {
    let prefix = format!("--{name}=");
    command_of(manifest)
        .into_iter()
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
}

/// etcd's command line from its manifest, for the installed etcd 3.5: paths under
/// `root`, `replacements` applied, and the two etcd 3.6 flags 3.5 spells differently.
pub fn etcd_args(manifest: &Value, root: &Path, replacements: &[(String, String)]) -> Vec<String> {
    command_of(manifest)
        .into_iter()
        .skip(1)
        .map(|a| match a.as_str() {
            "--feature-gates=InitialCorruptCheck=true" => {
                "--experimental-initial-corrupt-check=true".to_string()
            }
            "--watch-progress-notify-interval=5s" => {
                "--experimental-watch-progress-notify-interval=5s".to_string()
            }
            _ => {
                let mut s = a
                    .replace(
                        "/etc/kubernetes/",
                        &format!("{}/etc/kubernetes/", root.display()),
                    )
                    .replace(
                        "=/var/lib/etcd",
                        &format!("={}/var/lib/etcd", root.display()),
                    );
                for (from, to) in replacements {
                    s = s.replace(from.as_str(), to.as_str());
                }
                s
            }
        })
        .collect()
}

/// The kubelet's client certificate request for Node `node` (as its TLS bootstrap posts
/// it) and the key it was made with.
pub fn kubelet_csr(node: &str) -> (rcgen::KeyPair, Value) {
    let key = rcgen::KeyPair::generate().expect("a key");
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "system:nodes");
    dn.push(rcgen::DnType::CommonName, format!("system:node:{node}"));
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .expect("a CSR")
        .pem()
        .expect("PEM");
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = json!({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": {"request": b64.encode(csr), "signerName": "kubernetes.io/kube-apiserver-client-kubelet", "usages": ["digital signature", "client auth"]}
    });
    (key, body)
}

/// The signed certificate of a CSR object, once there.
pub fn signed_certificate(csr: &Value) -> Option<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    csr["status"]["certificate"]
        .as_str()
        .and_then(|c| b64.decode(c).ok())
}

/// kubelet.conf as the kubelet writes it after its TLS bootstrap: the bootstrap
/// kubeconfig's cluster with the new certificate and key.
pub fn kubelet_kubeconfig(
    cluster: &kubeadm::kubeconfig::Cluster,
    cert: Vec<u8>,
    key: &rcgen::KeyPair,
) -> String {
    kubeadm::kubeconfig::KubeConfig::new(
        "default-cluster",
        &cluster.server,
        &cluster.certificate_authority_data,
        "default-auth",
        kubeadm::kubeconfig::AuthInfo {
            client_certificate_data: Some(cert),
            client_key_data: Some(key.serialize_pem().into_bytes()),
            ..Default::default()
        },
    )
    .to_yaml()
    .expect("a kubeconfig")
}

/// What the simulator plays.
#[derive(Debug, Clone)]
pub struct Options {
    /// The node's root: its files are under `etc/kubernetes`, `var/lib/etcd`, …
    pub root: PathBuf,
    /// The Node's name.
    pub node: String,
    /// The network namespace the node's servers and clients live in (this one if none).
    pub netns: Option<String>,
    /// Run the real etcd from `etcd.yaml`.
    pub etcd: bool,
    /// How long after its manifest appears each component turns healthy.
    pub delay: Duration,
    /// Where etcd's log goes (none when `None`).
    pub etcd_log: Option<PathBuf>,
    /// Answer the kubelet's health endpoint (a test may serve it itself).
    pub kubelet_health: bool,
    /// Report mirror Pods of the static Pods.
    pub mirror_pods: bool,
    /// Report the Node Ready with this kubelet version in its status, as a running kubelet
    /// does (`None`: the Node is registered with no status).
    pub kubelet_version: Option<String>,
    /// Start the API server with its objects in etcd, from the manifest's `--etcd-servers`,
    /// `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile` (and `--etcd-prefix`), the
    /// files under the root; the server starts once that etcd answers. Off: in memory.
    pub etcd_backed: bool,
}

impl Options {
    /// A node `node` on `root`, in this network namespace, without etcd.
    pub fn new(root: &Path, node: &str) -> Options {
        Options {
            root: root.to_path_buf(),
            node: node.to_string(),
            netns: None,
            etcd: false,
            delay: Duration::ZERO,
            etcd_log: None,
            kubelet_health: true,
            mirror_pods: true,
            kubelet_version: None,
            etcd_backed: false,
        }
    }
}

/// The etcd the API server of manifest `m` keeps its objects in, its files under the
/// root (`under`); `None` when the manifest names no etcd servers.
fn apiserver_etcd(m: &Value, under: impl Fn(String) -> PathBuf) -> Option<EtcdConfig> {
    let servers: Vec<String> = flag(m, "etcd-servers")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if servers.is_empty() {
        return None;
    }
    Some(EtcdConfig {
        servers,
        ca_file: flag(m, "etcd-cafile").map(&under),
        cert_file: flag(m, "etcd-certfile").map(&under),
        key_file: flag(m, "etcd-keyfile").map(&under),
        prefix: flag(m, "etcd-prefix")
            .unwrap_or_else(|| testapiserver::etcd::DEFAULT_PREFIX.to_string()),
    })
}

/// The running simulator; see the crate documentation.
pub struct NodeSim {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    running: Arc<Mutex<Running>>,
}

#[derive(Default)]
struct Running {
    server: Option<TestApiServer>,
    health: Vec<Killed>,
    etcd: Option<Killed>,
    node_registered: bool,
    /// The kubelet version the Node's status was last reported with.
    status_reported: Option<String>,
    /// The TLS bootstrap's CSR, once posted, with the key it was made with.
    csr: Option<(String, rcgen::KeyPair)>,
    /// The mirror Pods reported, by component, with the hash they carry.
    mirrors: BTreeMap<String, String>,
    apiserver_seen: Option<Instant>,
    components_seen: Option<Instant>,
    healthy: Vec<Instant>,
    kubelet_health: Option<(TcpListener, Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
    /// The version the running kubelet has (read from its binary when it started).
    version: Option<String>,
    /// When the Pods bound to the Node were last looked at.
    pods_checked: Option<Instant>,
    /// etcd is held stopped ([`NodeSim::stop_etcd`]).
    etcd_stopped: bool,
    /// The kubelet's client, with the kubelet.conf it was made from: kept while the file
    /// stays the same, so its connection to the API server stays open between ticks, as
    /// a running kubelet's does.
    client: Option<(String, KubeClient)>,
}

/// The file the test hosts' `systemctl restart kubelet` leaves for the simulator.
pub const RESTART_REQUEST: &str = "run/kubelet.restart";

/// The kubelet binary whose version the simulated kubelet reports, under the root.
pub const KUBELET_BINARY: &str = "usr/local/bin/kubelet";

/// The version `kubelet --version` of the binary at `root` would print, when there is a
/// binary and it says one.
fn binary_version(root: &Path) -> Option<String> {
    let text = std::fs::read(root.join(KUBELET_BINARY)).ok()?;
    let text = String::from_utf8_lossy(&text);
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .find(|w| {
            w.strip_prefix('v').is_some_and(|v| {
                let parts: Vec<&str> = v.split('.').collect();
                parts.len() == 3
                    && parts
                        .iter()
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .map(str::to_string)
}

fn manifest_path(root: &Path, name: &str) -> PathBuf {
    root.join("etc/kubernetes/manifests")
        .join(format!("{name}.yaml"))
}

fn read_manifest(root: &Path, name: &str) -> Option<(Value, Vec<u8>)> {
    let text = std::fs::read(manifest_path(root, name)).ok()?;
    let v = serde_yaml_ng::from_slice(&text).ok()?;
    Some((v, text))
}

fn sha256_hex(b: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b)
        .as_ref()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

const COMPONENTS: [&str; 4] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];

impl NodeSim {
    /// Starts simulating the node `o` describes.
    pub fn start(o: Options) -> NodeSim {
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::new(Mutex::new(Running::default()));
        let (stop2, running2) = (stop.clone(), running.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            if let Some(ns) = &o.netns {
                enter_netns(ns);
            }
            if o.kubelet_health {
                // The kubelet's health endpoint, in the node's namespace.
                let l = TcpListener::bind("127.0.0.1:10248")
                    .expect("the kubelet's health port is free");
                let flag = Arc::new(AtomicBool::new(false));
                let waker = l.try_clone().expect("the listener's descriptor");
                let h = serve_ok_until(l, flag.clone());
                running2.lock().unwrap().kubelet_health = Some((waker, flag, h));
            }
            let _ = ready_tx.send(());
            while !stop2.load(Ordering::SeqCst) {
                Self::tick(&o, &mut running2.lock().unwrap());
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the node simulator started");
        NodeSim {
            stop,
            handle: Some(handle),
            running,
        }
    }

    fn tick(o: &Options, r: &mut Running) {
        let root = &o.root;
        let under = |p: String| -> PathBuf { root.join(p.trim_start_matches('/')) };
        // The API server.
        let apiserver = read_manifest(root, "kube-apiserver");
        if apiserver.is_none() {
            r.apiserver_seen = None;
            r.server = None;
        } else if r.apiserver_seen.is_none() {
            r.apiserver_seen = Some(Instant::now());
        }
        let due = r.apiserver_seen.is_some_and(|t| t.elapsed() >= o.delay);
        if r.server.is_none() && due {
            if let Some((m, _)) = &apiserver {
                if let (Some(cert), Some(key), Some(ca), Some(port), Some(addr)) = (
                    flag(m, "tls-cert-file"),
                    flag(m, "tls-private-key-file"),
                    flag(m, "client-ca-file"),
                    flag(m, "secure-port"),
                    flag(m, "advertise-address"),
                ) {
                    let ca = under(ca);
                    // Backed by the manifest's etcd, or in memory; a manifest without
                    // etcd servers is not startable, as kube-apiserver is not.
                    let etcd = o.etcd_backed.then(|| apiserver_etcd(m, under));
                    let config = Config {
                        listen: kubeadm::config::join_host_port(
                            &addr,
                            port.parse().unwrap_or(6443),
                        )
                        .parse()
                        .expect("the manifest's address"),
                        tls_cert_file: under(cert),
                        tls_private_key_file: under(key),
                        client_ca_file: ca.clone(),
                        signing_cert_file: Some(ca.clone()),
                        signing_key_file: Some(ca.with_extension("key")),
                        data_dump: None,
                        run_controllers: true,
                        etcd: etcd.clone().flatten(),
                    };
                    // Not startable yet (a certificate still missing, etcd not answering
                    // yet): again next time.
                    if etcd != Some(None) {
                        r.server = TestApiServer::start(config).ok();
                    }
                    if r.server.is_some() {
                        r.healthy.push(Instant::now());
                    }
                }
            }
        }
        // The controller-manager and the scheduler.
        let both = manifest_path(root, "kube-controller-manager").exists()
            && manifest_path(root, "kube-scheduler").exists();
        if !both {
            r.components_seen = None;
            r.health.clear();
        } else if r.components_seen.is_none() {
            r.components_seen = Some(Instant::now());
        }
        if r.health.is_empty() && r.components_seen.is_some_and(|t| t.elapsed() >= o.delay) {
            let pki = root.join("etc/kubernetes/pki");
            if pki.join("apiserver.key").exists() {
                for port in [10257, 10259] {
                    r.health.push(https_ok(
                        port,
                        &pki.join("apiserver.crt"),
                        &pki.join("apiserver.key"),
                    ));
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
                        && Instant::now() < deadline
                    {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    r.healthy.push(Instant::now());
                }
            }
        }
        // etcd.
        if o.etcd && r.etcd_stopped {
            r.etcd = None;
        } else if o.etcd {
            match read_manifest(root, "etcd") {
                None => r.etcd = None,
                Some((m, _)) if r.etcd.is_none() => {
                    let log = match &o.etcd_log {
                        Some(p) => std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(p)
                            .map(Stdio::from)
                            .unwrap_or_else(|_| Stdio::null()),
                        None => Stdio::null(),
                    };
                    r.etcd = Command::new("etcd")
                        .args(etcd_args(&m, root, &[]))
                        .stdout(Stdio::null())
                        .stderr(log)
                        .spawn()
                        .ok()
                        .map(Killed);
                }
                Some(_) => {}
            }
        }
        // The kubelet itself.
        let kubelet_conf = root.join("etc/kubernetes/kubelet.conf");
        let bootstrap = root.join("etc/kubernetes/bootstrap-kubelet.conf");
        if !kubelet_conf.exists() {
            r.client = None;
            r.node_registered = false;
            r.status_reported = None;
            r.mirrors.clear();
            if bootstrap.exists() {
                Self::bootstrap(o, r, &bootstrap, &kubelet_conf);
            } else {
                r.csr = None;
            }
            return;
        }
        let Ok(text) = std::fs::read_to_string(&kubelet_conf) else {
            return;
        };
        if r.client.as_ref().is_none_or(|(t, _)| *t != text) {
            r.client = None;
            let Ok(client) = KubeClient::from_kubeconfig_text(&text) else {
                return;
            };
            r.client = Some((text, client));
        }
        let Some((text, client)) = r.client.take() else {
            return;
        };
        Self::kubelet(o, r, &client);
        r.client = Some((text, client));
    }

    /// The joined kubelet's work of one tick, through its `client`.
    fn kubelet(o: &Options, r: &mut Running, client: &KubeClient) {
        let root = &o.root;
        if !r.node_registered {
            let _ = client.call(
                "POST",
                "/api/v1/nodes",
                Some(&json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": o.node}})),
                "application/json",
            );
            r.node_registered = client
                .call(
                    "GET",
                    &format!("/api/v1/nodes/{}", o.node),
                    None,
                    "application/json",
                )
                .is_ok();
            if !r.node_registered {
                return;
            }
        }
        // The kubelet (re)starting: the version of its binary from now on.
        let restart = root.join(RESTART_REQUEST);
        if r.version.is_none() || restart.exists() {
            let _ = std::fs::remove_file(&restart);
            r.version = binary_version(root).or_else(|| o.kubelet_version.clone());
        }
        if o.kubelet_version.is_some() && r.status_reported != r.version {
            Self::node_status(o, r, client);
        }
        if o.mirror_pods {
            Self::mirror_pods(o, r, client);
        }
        if r.pods_checked
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(250))
        {
            r.pods_checked = Some(Instant::now());
            Self::pods_started(o, client);
        }
    }

    /// The Pods bound to the Node that are not running yet, reported Running and Ready.
    fn pods_started(o: &Options, client: &KubeClient) {
        let Ok(list) = client.call(
            "GET",
            &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{}", o.node),
            None,
            "application/json",
        ) else {
            return;
        };
        for mut pod in list["items"].as_array().cloned().unwrap_or_default() {
            if pod["status"]["phase"] == "Running" {
                continue;
            }
            let (Some(ns), Some(name)) = (
                pod["metadata"]["namespace"].as_str().map(str::to_string),
                pod["metadata"]["name"].as_str().map(str::to_string),
            ) else {
                continue;
            };
            let now = testapiserver::store::now();
            let condition =
                |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": now});
            pod["status"]["phase"] = json!("Running");
            pod["status"]["startTime"] = json!(now);
            pod["status"]["conditions"] = json!([
                condition("PodScheduled"),
                condition("Initialized"),
                condition("ContainersReady"),
                condition("Ready"),
            ]);
            // Deleted or changed meanwhile: looked at again next time.
            let _ = client.call(
                "PUT",
                &format!("/api/v1/namespaces/{ns}/pods/{name}/status"),
                Some(&pod),
                "application/json",
            );
        }
    }

    /// The Node's status as a healthy kubelet reports it: Ready, with its version.
    fn node_status(o: &Options, r: &mut Running, client: &KubeClient) {
        let path = format!("/api/v1/nodes/{}/status", o.node);
        let Ok(mut node) = client.call("GET", &path, None, "application/json") else {
            return;
        };
        node["status"]["nodeInfo"]["kubeletVersion"] = json!(r.version);
        node["status"]["conditions"] = json!([{
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
        }]);
        if client
            .call("PUT", &path, Some(&node), "application/json")
            .is_ok()
        {
            r.status_reported = r.version.clone();
        }
    }

    /// The kubelet's TLS bootstrap, one step per tick.
    fn bootstrap(o: &Options, r: &mut Running, bootstrap: &Path, kubelet_conf: &Path) {
        let Ok(text) = std::fs::read_to_string(bootstrap) else {
            return;
        };
        let Ok(kc) = kubeadm::kubeconfig::KubeConfig::from_yaml(&text) else {
            return;
        };
        let Some(cluster) = kc.current_cluster().cloned() else {
            return;
        };
        let Ok(client) = KubeClient::from_kubeconfig_text(&text) else {
            return;
        };
        if r.csr.is_none() {
            let (key, body) = kubelet_csr(&o.node);
            let Ok(created) = client.call(
                "POST",
                "/apis/certificates.k8s.io/v1/certificatesigningrequests",
                Some(&body),
                "application/json",
            ) else {
                return;
            };
            let Some(name) = created["metadata"]["name"].as_str() else {
                return;
            };
            r.csr = Some((name.to_string(), key));
        }
        let Some((name, key)) = &r.csr else { return };
        let o2 = match client.call(
            "GET",
            &format!("/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}"),
            None,
            "application/json",
        ) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("nodesim {}: reading CSR {name}: {e}", o.node);
                return;
            }
        };
        let Some(cert) = signed_certificate(&o2) else {
            return;
        };
        let yaml = kubelet_kubeconfig(&cluster, cert, key);
        // As the kubelet writes it: a kubeconfig with a key, 0600, whole or not at all.
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = kubelet_conf.with_extension("conf.tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .expect("kubelet.conf's directory");
        f.write_all(yaml.as_bytes()).expect("kubelet.conf written");
        drop(f);
        std::fs::rename(&tmp, kubelet_conf).expect("kubelet.conf in place");
        r.csr = None;
    }

    /// A mirror Pod for each static Pod, replaced when its manifest changes.
    fn mirror_pods(o: &Options, r: &mut Running, client: &KubeClient) {
        for c in COMPONENTS {
            let name = format!("{c}-{}", o.node);
            let path = format!("/api/v1/namespaces/kube-system/pods/{name}");
            let Some((mut pod, text)) = read_manifest(&o.root, c) else {
                if r.mirrors.remove(c).is_some() {
                    let _ = client.call("DELETE", &path, None, "application/json");
                }
                continue;
            };
            let hash = sha256_hex(&text)[..32].to_string();
            if r.mirrors.get(c) == Some(&hash) {
                continue;
            }
            pod["metadata"]["name"] = json!(name);
            pod["metadata"]["namespace"] = json!("kube-system");
            let mut annotations = pod["metadata"]["annotations"].take();
            if !annotations.is_object() {
                annotations = json!({});
            }
            annotations["kubernetes.io/config.hash"] = json!(hash);
            annotations["kubernetes.io/config.mirror"] = json!(hash);
            annotations["kubernetes.io/config.source"] = json!("file");
            pod["metadata"]["annotations"] = annotations;
            pod["spec"]["nodeName"] = json!(o.node);
            let _ = client.call("DELETE", &path, None, "application/json");
            if client
                .call(
                    "POST",
                    "/api/v1/namespaces/kube-system/pods",
                    Some(&pod),
                    "application/json",
                )
                .is_ok()
            {
                r.mirrors.insert(c.to_string(), hash);
            }
        }
    }

    /// When the last component started answering (the API server, the controller-manager
    /// and the scheduler all have).
    pub fn last_healthy(&self) -> Option<Instant> {
        let r = self.running.lock().unwrap();
        (r.healthy.len() >= 3).then(|| *r.healthy.iter().max().unwrap())
    }

    /// Stops the node's etcd and keeps it stopped (a failed member) until
    /// [`NodeSim::start_etcd`].
    pub fn stop_etcd(&self) {
        let mut r = self.running.lock().unwrap();
        r.etcd_stopped = true;
        r.etcd = None;
    }

    /// Lets etcd run again from its manifest.
    pub fn start_etcd(&self) {
        self.running.lock().unwrap().etcd_stopped = false;
    }

    /// The API server, once started.
    pub fn with_server<T>(&self, f: impl FnOnce(Option<&TestApiServer>) -> T) -> T {
        f(self.running.lock().unwrap().server.as_ref())
    }
}

impl Drop for NodeSim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let mut r = self.running.lock().unwrap();
        r.health.clear();
        r.etcd = None;
        r.server = None;
        if let Some((waker, flag, h)) = r.kubelet_health.take() {
            stop_serving(&waker, &flag, h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_servers_etcd_is_the_manifests_under_the_root() {
        let m = json!({"spec": {"containers": [{"command": [
            "kube-apiserver",
            "--etcd-servers=https://127.0.0.1:2379,https://10.0.0.2:2379",
            "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
            "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
            "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
        ]}]}});
        let root = Path::new("/tmp/node");
        let under = |p: String| root.join(p.trim_start_matches('/'));
        let e = apiserver_etcd(&m, under).unwrap();
        assert_eq!(
            e.servers,
            ["https://127.0.0.1:2379", "https://10.0.0.2:2379"]
        );
        assert_eq!(
            e.ca_file.unwrap(),
            Path::new("/tmp/node/etc/kubernetes/pki/etcd/ca.crt")
        );
        assert_eq!(
            e.cert_file.unwrap(),
            Path::new("/tmp/node/etc/kubernetes/pki/apiserver-etcd-client.crt")
        );
        assert_eq!(
            e.key_file.unwrap(),
            Path::new("/tmp/node/etc/kubernetes/pki/apiserver-etcd-client.key")
        );
        assert_eq!(e.prefix, "/registry");
        let none = json!({"spec": {"containers": [{"command": ["kube-apiserver"]}]}});
        assert!(apiserver_etcd(&none, under).is_none());
    }
}

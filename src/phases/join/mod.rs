//! The `kubeadm join` workflow: its options, the data its phases share, the phases of every
//! join, and the tree; the control-plane part of `--control-plane` is in `controlplane`.

mod controlplane;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::config::join::{join_configuration, JoinConfiguration, JoinOverrides};
use crate::host::Host;
use crate::workflow::{Phase, Workflow};

impl crate::workflow::WorkflowData for JoinData {
    fn skip_phases(&self) -> Vec<String> {
        if self.opts.skip_phases.is_empty() {
            self.cfg.versioned.skip_phases.clone()
        } else {
            self.opts.skip_phases.clone()
        }
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    fn finish(&self) -> anyhow::Result<()> {
        crate::phases::preflight::dry_run_outcome(&self.notes)
    }
}

/// What `kubeadm join` was asked on its command line, as plain values (upstream's
/// `joinOptions`). The command line fills it from its flags; anything else that drives
/// the workflow builds one directly. `None` and empty mean "not given", so that the
/// configuration file or the defaults decide.
#[derive(Debug, Clone, Default)]
pub struct JoinOptions {
    /// The control-plane endpoint (host:port) to discover the cluster from (the argument).
    pub api_server_endpoint: Option<String>,
    /// `--apiserver-advertise-address`: for a control-plane join.
    pub apiserver_advertise_address: Option<String>,
    /// `--apiserver-bind-port`: for a control-plane join.
    pub apiserver_bind_port: Option<u16>,
    /// `--certificate-key`: decrypts the kubeadm-certs Secret.
    pub certificate_key: Option<String>,
    /// `--config`: the configuration file.
    pub config: Option<PathBuf>,
    /// `--control-plane`: this node hosts a new control-plane instance.
    pub control_plane: bool,
    /// `--cri-socket`: the container runtime's socket; detected when not given.
    pub cri_socket: Option<String>,
    /// `--discovery-file`: a file or URL holding the cluster's information.
    pub discovery_file: Option<String>,
    /// `--discovery-token`.
    pub discovery_token: Option<String>,
    /// `--discovery-token-ca-cert-hash`: the pins of the cluster's CA.
    pub discovery_token_ca_cert_hash: Vec<String>,
    /// `--discovery-token-unsafe-skip-ca-verification`.
    pub discovery_token_unsafe_skip_ca_verification: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--ignore-preflight-errors`.
    pub ignore_preflight_errors: Vec<String>,
    /// `--node-name`.
    pub node_name: Option<String>,
    /// `--patches`: the directory of patches for the static Pods and the kubelet.
    pub patches: Option<PathBuf>,
    /// `--skip-phases`: when empty, the configuration's `skipPhases` apply.
    pub skip_phases: Vec<String>,
    /// `--tls-bootstrap-token`.
    pub tls_bootstrap_token: Option<String>,
    /// `--token`: the discovery and TLS bootstrap token when those are not given.
    pub token: Option<String>,
}

impl JoinOptions {
    /// The flags (by their long names) whose options were given, for upstream's rule on
    /// mixing flags with `--config` ([`crate::config::check_mixed_flags`]).
    pub fn given_flags(&self) -> Vec<&'static str> {
        [
            (
                self.apiserver_advertise_address.is_some(),
                "apiserver-advertise-address",
            ),
            (self.apiserver_bind_port.is_some(), "apiserver-bind-port"),
            (self.certificate_key.is_some(), "certificate-key"),
            (self.config.is_some(), "config"),
            (self.control_plane, "control-plane"),
            (self.cri_socket.is_some(), "cri-socket"),
            (self.discovery_file.is_some(), "discovery-file"),
            (self.discovery_token.is_some(), "discovery-token"),
            (
                !self.discovery_token_ca_cert_hash.is_empty(),
                "discovery-token-ca-cert-hash",
            ),
            (
                self.discovery_token_unsafe_skip_ca_verification,
                "discovery-token-unsafe-skip-ca-verification",
            ),
            (self.dry_run, "dry-run"),
            (
                !self.ignore_preflight_errors.is_empty(),
                "ignore-preflight-errors",
            ),
            (self.node_name.is_some(), "node-name"),
            (self.patches.is_some(), "patches"),
            (!self.skip_phases.is_empty(), "skip-phases"),
            (self.tls_bootstrap_token.is_some(), "tls-bootstrap-token"),
            (self.token.is_some(), "token"),
        ]
        .into_iter()
        .filter_map(|(given, name)| given.then_some(name))
        .collect()
    }
}

/// What the join phases share.
pub struct JoinData {
    /// What the command line asked.
    pub opts: JoinOptions,
    /// The configuration every phase reads.
    pub cfg: JoinConfiguration,
    /// The machine (or the dry-run recorder).
    pub host: Arc<dyn Host>,
    /// What discovery found, once it ran.
    pub cluster: Option<crate::discovery::ClusterInfo>,
    /// Lines for the end of the run.
    pub notes: Vec<String>,
    /// This node's control-plane configuration, once built.
    pub cp_config: Option<crate::config::InitConfiguration>,
    /// Keys of a control-plane join, made in the background from preflight on.
    pub keys: crate::pki::KeyCache,
}

impl JoinData {
    /// Builds the data from the options and `--config`.
    pub fn new(opts: JoinOptions, host: Arc<dyn Host>) -> anyhow::Result<Self> {
        let docs = match &opts.config {
            Some(path) => {
                crate::config::check_mixed_flags(&opts.given_flags())?;
                Some(crate::config::load_file_for(
                    host.as_ref(),
                    path,
                    crate::config::documents::Reader::Join,
                )?)
            }
            None => None,
        };
        let overrides = JoinOverrides {
            api_server_endpoint: opts.api_server_endpoint.clone(),
            advertise_address: opts.apiserver_advertise_address.clone(),
            bind_port: opts.apiserver_bind_port,
            certificate_key: opts.certificate_key.clone(),
            control_plane: opts.control_plane,
            cri_socket: opts.cri_socket.clone(),
            discovery_file: opts.discovery_file.clone(),
            discovery_token: opts.discovery_token.clone(),
            ca_cert_hashes: opts.discovery_token_ca_cert_hash.clone(),
            unsafe_skip_ca_verification: opts.discovery_token_unsafe_skip_ca_verification,
            node_name: opts.node_name.clone(),
            tls_bootstrap_token: opts.tls_bootstrap_token.clone(),
            token: opts.token.clone(),
            patches: opts.patches.clone(),
            ignore_preflight_errors: opts.ignore_preflight_errors.clone(),
        };
        let mut cfg = join_configuration(host.as_ref(), docs.as_ref(), &overrides)?;
        // The CRI socket is detected when not given, as upstream's dynamic defaults do.
        let socket = &mut cfg.versioned.node_registration.cri_socket;
        if socket.is_empty() {
            *socket = crate::cri::detect_cri_socket(host.as_ref())?;
        } else if socket.starts_with('/') {
            *socket = format!("unix://{socket}");
        }
        Ok(JoinData {
            opts,
            cfg,
            host,
            cluster: None,
            notes: Vec::new(),
            cp_config: None,
            keys: Default::default(),
        })
    }

    pub(crate) fn control_plane(&self) -> bool {
        self.cfg.control_plane.is_some()
    }

    /// The cluster's server and CA, discovering them on first use.
    pub fn cluster(&mut self) -> anyhow::Result<crate::discovery::ClusterInfo> {
        if let Some(c) = &self.cluster {
            return Ok(c.clone());
        }
        let timeout = self
            .cfg
            .versioned
            .timeouts
            .as_ref()
            .and_then(|t| t.discovery.as_ref())
            .map(|d| d.0)
            .unwrap_or(std::time::Duration::from_secs(300));
        let info = match &self.cfg.discovery {
            crate::config::join::Discovery::Token {
                api_server_endpoint,
                token,
                ca_cert_hashes,
                unsafe_skip_ca_verification,
            } => crate::discovery::token_discovery(
                api_server_endpoint,
                token,
                ca_cert_hashes,
                *unsafe_skip_ca_verification,
                timeout,
                &mut |line| println!("{line}"),
            )?,
            crate::config::join::Discovery::File { path } => {
                crate::discovery::file_discovery(self.host.as_ref(), path)?
            }
        };
        for line in crate::discovery::ca_summary(&info.ca_pem, std::time::SystemTime::now()) {
            tracing::info!("[discovery] {line}");
        }
        self.cluster = Some(info.clone());
        Ok(info)
    }
}

impl JoinData {
    fn kubernetes_dir() -> std::path::PathBuf {
        std::path::PathBuf::from(crate::phases::kubeconfig::KUBERNETES_DIR)
    }

    fn bootstrap_kubeconfig_path() -> std::path::PathBuf {
        Self::kubernetes_dir().join("bootstrap-kubelet.conf")
    }
}

fn join_preflight(d: &mut JoinData) -> anyhow::Result<()> {
    let ignored =
        crate::preflight::Ignored::new(&d.cfg.versioned.node_registration.ignore_preflight_errors)?;
    println!("[preflight] Running pre-flight checks");
    let mut checks = crate::preflight::join_checks(
        &JoinData::kubernetes_dir(),
        &d.cfg.ca_cert_path,
        &d.cfg.versioned.node_registration.cri_socket,
        &d.cfg.node_name,
        d.control_plane(),
    );
    if let crate::config::join::Discovery::Token {
        api_server_endpoint,
        ..
    } = &d.cfg.discovery
    {
        checks.push(crate::preflight::Check::DiscoveryEndpoint(
            api_server_endpoint.clone(),
        ));
    }
    let mut control_plane = None;
    if d.control_plane() {
        // A new control-plane node also runs init's checks (ports, manifests, etcd data
        // directory, resources) against the cluster's configuration, as upstream does.
        let cp = d.control_plane_config()?;
        // This node's keys are made in the background while the checks and image pulls
        // wait on I/O.
        let names = controlplane::keys_needed(d.host.as_ref(), &cp)?;
        d.keys = crate::pki::KeyCache::spawn(names, cp.cluster.encryption_algorithm);
        let have: Vec<String> = checks.iter().map(|c| c.name()).collect();
        let manifests_dir = std::path::Path::new(crate::manifests::MANIFESTS_DIR);
        let cp_checks: Vec<_> = crate::preflight::init_checks(&cp, manifests_dir)
            .into_iter()
            .filter(|c| !have.contains(&c.name()))
            // Upstream asks the external etcd's version on `init` only.
            .filter(|c| !matches!(c, crate::preflight::Check::ExternalEtcdVersion(_)))
            .collect();
        // The static Pods an earlier run of this join wrote are reused.
        let proxy_env = crate::manifests::proxy_env_of(std::env::vars());
        let paths = crate::phases::preflight::InitPaths {
            manifests_dir,
            kubeconfig_dir: &JoinData::kubernetes_dir(),
            proxy_env: &proxy_env,
        };
        let earlier = crate::phases::preflight::EarlierRun::find(d.host.as_ref(), &cp, &paths)?;
        checks.extend(earlier.apply(cp_checks));
        control_plane = Some(cp);
    }
    // What an earlier join of this node to this cluster left is reused.
    let earlier = crate::phases::preflight::EarlierRun::find_join(
        d.host.as_ref(),
        &d.cfg,
        &JoinData::kubernetes_dir(),
    );
    checks = earlier.apply(checks);
    crate::phases::preflight::run_checks(
        d.host.as_ref(),
        &[crate::preflight::Check::IsPrivilegedUser],
        &ignored,
        d.opts.dry_run,
        &mut d.notes,
    )?;
    crate::phases::preflight::run_checks(
        d.host.as_ref(),
        &checks,
        &ignored,
        d.opts.dry_run,
        &mut d.notes,
    )?;
    // A new control plane pulls the control-plane images, as upstream's join preflight
    // does, with this node's (the JoinConfiguration's) pull policy and seriality.
    if let Some(cp) = control_plane {
        let nr = &d.cfg.versioned.node_registration;
        crate::phases::preflight::pull_images_with(
            d.host.as_ref(),
            &cp,
            &nr.image_pull_policy,
            nr.image_pull_serial.unwrap_or(true),
            &ignored,
            d.opts.dry_run,
        )?;
    }
    Ok(())
}

/// `kubelet-start` of join: discovery, the CA and bootstrap-kubelet.conf, the kubelet's
/// files from the cluster's `kubelet-config`, then the kubelet (re)started.
fn join_kubelet_start(d: &mut JoinData) -> anyhow::Result<()> {
    let cluster = d.cluster()?;
    let host = d.host.clone();
    match host.read(&d.cfg.ca_cert_path) {
        Ok(existing) if existing == cluster.ca_pem => {}
        // Kept, as upstream keeps an existing file; the kubelet will not trust this
        // cluster's API server with it.
        Ok(_) => crate::output::warn_once_as(
            "CACertificate",
            &format!(
                "[WARNING CACertificate]: {} holds another CA than this cluster's (left from a join to another cluster?); it is kept, and the kubelet will not trust this cluster's API server with it. Run 'kubeadm reset' on this node, then join again",
                d.cfg.ca_cert_path.display()
            ),
        ),
        Err(_) => host.write_file(
            &d.cfg.ca_cert_path,
            &cluster.ca_pem,
            0o644,
            crate::host::Sensitivity::Public,
        )?,
    }
    let kc = d.bootstrap_kubeconfig()?;
    let bootstrap_path = JoinData::bootstrap_kubeconfig_path();
    kc.write(host.as_ref(), &bootstrap_path)?;
    println!(
        "[kubelet-start] Wrote the bootstrap kubeconfig to {:?}",
        bootstrap_path.display().to_string()
    );
    let client = crate::client::KubeClient::from_kubeconfig_text(&kc.to_yaml()?)?;
    use crate::client::Api;
    // A Ready Node of this name would be taken over: refuse, as upstream does.
    let node_path = crate::client::object_path("Node", None, &d.cfg.node_name);
    match client.call("GET", &node_path, None, "application/json") {
        Ok(node) => {
            let ready = node["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            // This very node, joined by an earlier run that was interrupted: its kubelet
            // already holds this cluster's identity for the name.
            let kubelet_conf = JoinData::kubernetes_dir().join("kubelet.conf");
            let itself = crate::kubelet::node_name(host.as_ref(), &kubelet_conf)
                .is_ok_and(|n| n == d.cfg.node_name)
                && host
                    .read_to_string(&kubelet_conf)
                    .ok()
                    .and_then(|t| crate::kubeconfig::KubeConfig::from_yaml(&t).ok())
                    .and_then(|kc| {
                        kc.current_cluster()
                            .map(|c| c.certificate_authority_data == cluster.ca_pem)
                    })
                    .unwrap_or(false);
            if ready && itself {
                println!(
                    "[kubelet-start] The Node {:?} is this node, joined by an earlier run (its kubelet.conf is this cluster's): reusing it",
                    d.cfg.node_name
                );
            } else if ready {
                anyhow::bail!(
                    "a Node with name {:?} and status \"Ready\" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node",
                    d.cfg.node_name
                );
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(anyhow::anyhow!(e)).context("checking for a Node of the same name"),
    }
    println!("[kubelet-start] Downloading configuration for the kubelet from the \"kubelet-config\" ConfigMap in the kube-system namespace");
    let cm = client
        .call("GET", &crate::client::object_path("ConfigMap", Some("kube-system"), "kubelet-config"), None, "application/json")
        .map_err(|e| anyhow::anyhow!(e))
        .context("reading the kubelet-config ConfigMap (was the cluster made by kubeadm, and is the token valid?)")?;
    let cluster_config = crate::phases::api::kubelet_config_of(&cm)?;
    let default_cp_taint = vec![crate::config::v1beta4::Taint {
        effect: "NoSchedule".into(),
        key: "node-role.kubernetes.io/control-plane".into(),
        ..Default::default()
    }];
    let taints = match d
        .cfg
        .versioned
        .node_registration
        .taints
        .as_ref()
        .or(d.control_plane().then_some(&default_cp_taint))
    {
        Some(t) if !t.is_empty() => Some(
            t.iter()
                .map(|t| {
                    if t.value.is_empty() {
                        format!("{}:{}", t.key, t.effect)
                    } else {
                        format!("{}={}:{}", t.key, t.value, t.effect)
                    }
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    };
    let patches = match d
        .cfg
        .versioned
        .patches
        .as_ref()
        .map(|p| p.directory.as_str())
        .filter(|p| !p.is_empty())
    {
        Some(dir) => Some(crate::patches::PatchSet::load(
            host.as_ref(),
            std::path::Path::new(dir),
        )?),
        None => None,
    };
    crate::phases::staticpods::start_kubelet(
        host.as_ref(),
        std::path::Path::new(crate::kubelet::KUBELET_DIR),
        crate::phases::staticpods::KubeletSettings {
            cluster_config,
            node_name: &d.cfg.node_name,
            cri_socket: &d.cfg.versioned.node_registration.cri_socket,
            extra_args: &d.cfg.versioned.node_registration.kubelet_extra_args,
            register_taints: taints.as_deref(),
            patches: patches.as_ref(),
        },
        &mut |line| println!("{line}"),
    )?;
    Ok(())
}

/// `kubelet-wait-bootstrap`: the kubelet is healthy and has written kubelet.conf with its
/// own certificate; bootstrap-kubelet.conf is then removed, as upstream does.
/// Where the node's TLS bootstrap stands, asked of the cluster with the bootstrap token
/// (which may read CertificateSigningRequests): no CSR from the kubelet, pending (not
/// approved), denied, approved but not signed, or signed but not picked up.
fn bootstrap_csr_state(
    host: &dyn crate::host::Host,
    bootstrap: &std::path::Path,
    node: &str,
) -> String {
    use crate::client::Api;
    let client = match crate::client::KubeClient::from_kubeconfig(host, bootstrap) {
        Ok(c) => c,
        Err(e) => {
            return format!("Could not ask the cluster about the node's certificate request: {e:#}")
        }
    };
    let list = match client.call(
        "GET",
        "/apis/certificates.k8s.io/v1/certificatesigningrequests",
        None,
        "application/json",
    ) {
        Ok(l) => l,
        Err(e) => {
            return format!(
                "Could not list the cluster's certificate requests with the bootstrap token: {e}"
            )
        }
    };
    let user = format!("system:node:{node}");
    let ours = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
                && crate::pki::csr::subject_common_name(c["spec"]["request"].as_str().unwrap_or(""))
                    .is_some_and(|cn| cn == user)
        })
        .max_by_key(|c| {
            c["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or("")
                .to_string()
        });
    let Some(csr) = ours else {
        return format!("The kubelet has not sent a certificate signing request for {user}: it did not start, or cannot reach the API server with {}. Check the kubelet's log ('journalctl -xeu kubelet').", bootstrap.display());
    };
    let name = csr["metadata"]["name"].as_str().unwrap_or("");
    let conditions = csr["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = |t: &str| {
        conditions
            .iter()
            .find(|c| c["type"] == t && c["status"] != "False")
    };
    if let Some(c) = has("Denied").or_else(|| has("Failed")) {
        return format!(
            "The certificate signing request {name} for {user} was {}: {}",
            c["type"].as_str().unwrap_or("refused").to_lowercase(),
            c["message"].as_str().unwrap_or("no message")
        );
    }
    if has("Approved").is_none() {
        return format!("The certificate signing request {name} for {user} is pending: nothing approved it. The cluster approves join requests through the kubeadm:node-autoapprove-bootstrap ClusterRoleBinding (system:certificates.k8s.io:certificatesigningrequests:nodeclient for system:bootstrappers:kubeadm:default-node-token) and the controller-manager's csrapproving controller; run 'kubeadm init phase bootstrap-token' on a control-plane node to restore the binding, or approve it by hand: 'kubectl certificate approve {name}'.");
    }
    if csr["status"]["certificate"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        return format!("The certificate signing request {name} for {user} is approved but not signed: the controller-manager's signer is not running or has no CA key (--cluster-signing-cert-file, --cluster-signing-key-file).");
    }
    format!("The certificate signing request {name} for {user} is signed, but the kubelet has not written its kubeconfig: check the kubelet's log ('journalctl -xeu kubelet').")
}

fn join_wait_bootstrap(d: &mut JoinData) -> anyhow::Result<()> {
    let host = d.host.clone();
    let conf = JoinData::kubernetes_dir().join("kubelet.conf");
    if d.opts.dry_run {
        println!("[dryrun] Would wait for the kubelet at http://127.0.0.1:10248/healthz to perform the TLS bootstrap and write {}", conf.display());
        return Ok(());
    }
    let timeout = d
        .cfg
        .versioned
        .timeouts
        .as_ref()
        .and_then(|t| t.tls_bootstrap.as_ref())
        .map(|t| t.0)
        .unwrap_or(std::time::Duration::from_secs(300));
    println!("[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to {}", crate::duration::format_duration(timeout));
    let start = std::time::Instant::now();
    crate::client::health::wait_healthy("http://127.0.0.1:10248/healthz", timeout, &|took, last| {
        println!("[kubelet-check] Still waiting for the kubelet after {} (last answer: {last})", crate::output::human_duration(took))
    })
    .map_err(|last| anyhow::anyhow!("the kubelet is not healthy after {} (last: {last})\n\nIf you are on a systemd-powered system, you can try to troubleshoot the error with the following commands:\n\t- 'systemctl status kubelet'\n\t- 'journalctl -xeu kubelet'", crate::duration::format_duration(timeout)))?;
    println!("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap");
    let mut poll = crate::interrupt::Poll::new();
    let kubelet_client = loop {
        if host.exists(&conf)? {
            // The kubelet writes kubelet.conf in place (Go's os.WriteFile), so it can be
            // found empty or partly written: it is ready once it reads as a kubeconfig.
            match crate::client::KubeClient::from_kubeconfig(host.as_ref(), &conf) {
                Ok(client) => break client,
                Err(e) if start.elapsed() > timeout => return Err(e),
                Err(_) => {}
            }
        } else if start.elapsed() > timeout {
            let bootstrap = JoinData::kubernetes_dir().join("bootstrap-kubelet.conf");
            let csr = bootstrap_csr_state(host.as_ref(), &bootstrap, &d.cfg.node_name);
            let since = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|n| n.as_secs_f64() - start.elapsed().as_secs_f64())
                .unwrap_or(0.0);
            let mut log = String::new();
            if let Some(lines) =
                crate::diagnose::kubelet_journal(host.as_ref(), 30, since).filter(|l| !l.is_empty())
            {
                log.push_str("\nThe kubelet's last log lines:");
                for l in &lines {
                    log.push_str(&format!("\n\t{l}"));
                }
            }
            anyhow::bail!(
                "the kubelet did not write {} within {}: the TLS bootstrap did not finish.\n{csr}{log}",
                conf.display(),
                crate::duration::format_duration(timeout)
            );
        }
        poll.pause()?;
    };
    // The kubelet registers its Node with its new identity: wait for it, as the Node is
    // what the rest of the cluster sees of this machine.
    let node_path = crate::client::object_path("Node", None, &d.cfg.node_name);
    let mut poll = crate::interrupt::Poll::new();
    loop {
        use crate::client::Api;
        match kubelet_client.call("GET", &node_path, None, "application/json") {
            Ok(_) => break,
            Err(e) if start.elapsed() > timeout => {
                anyhow::bail!(
                    "the kubelet did not register the Node {:?} within {}: {e}. Check the kubelet's log ('journalctl -xeu kubelet')",
                    d.cfg.node_name,
                    crate::duration::format_duration(timeout)
                )
            }
            Err(_) => poll.pause()?,
        }
    }
    host.remove_file(&JoinData::bootstrap_kubeconfig_path())?;
    println!("\nThis node has joined the cluster:\n* Certificate signing request was sent to apiserver and a response was received.\n* The Kubelet was informed of the new secure connection details.\n\nRun 'kubectl get nodes' on the control-plane to see this node join the cluster.\n");
    Ok(())
}

const DISCOVERY_FLAGS: &[&str] = &[
    "config",
    "discovery-file",
    "discovery-token",
    "discovery-token-ca-cert-hash",
    "discovery-token-unsafe-skip-ca-verification",
    "dry-run",
    "tls-bootstrap-token",
    "token",
];
const CONTROL_PLANE_PREPARE_FLAGS: &[&str] = &[
    "apiserver-advertise-address",
    "apiserver-bind-port",
    "certificate-key",
    "config",
    "control-plane",
    "discovery-file",
    "discovery-token",
    "discovery-token-ca-cert-hash",
    "discovery-token-unsafe-skip-ca-verification",
    "dry-run",
    "node-name",
    "patches",
    "tls-bootstrap-token",
    "token",
];
const CONTROL_PLANE_JOIN_FLAGS: &[&str] = &[
    "apiserver-advertise-address",
    "config",
    "control-plane",
    "dry-run",
    "node-name",
    "patches",
];

fn prepare(
    name: &'static str,
    short: &'static str,
    run: fn(&mut JoinData) -> anyhow::Result<()>,
) -> Phase<JoinData> {
    Phase::new(name, short)
        .inherit(CONTROL_PLANE_PREPARE_FLAGS)
        .run(run)
        .run_if(JoinData::control_plane)
}

/// The join phases, in upstream's order.
pub fn workflow() -> Workflow<JoinData> {
    Workflow::new(
        "join",
        vec![
            Phase::new("preflight", "Run join pre-flight checks")
                .long("Run pre-flight checks for kubeadm join.")
                .inherit(&[
                    "apiserver-advertise-address",
                    "apiserver-bind-port",
                    "certificate-key",
                    "config",
                    "control-plane",
                    "cri-socket",
                    "discovery-file",
                    "discovery-token",
                    "discovery-token-ca-cert-hash",
                    "discovery-token-unsafe-skip-ca-verification",
                    "dry-run",
                    "ignore-preflight-errors",
                    "node-name",
                    "tls-bootstrap-token",
                    "token",
                ])
                .run(join_preflight),
            Phase::new("control-plane-prepare", "Prepare the machine for serving a control plane")
                .children(vec![
                    Phase::all("Prepare the machine for serving a control plane", CONTROL_PLANE_PREPARE_FLAGS),
                    prepare("download-certs", "Download certificates shared among control-plane nodes from the kubeadm-certs Secret", controlplane::download_certs),
                    prepare("certs", "Generate the certificates for the new control plane components", controlplane::certs),
                    prepare("kubeconfig", "Generate the kubeconfig for the new control plane components", controlplane::kubeconfigs),
                    prepare("control-plane", "Generate the manifests for the new control plane components", controlplane::manifests),
                ]),
            Phase::new("check-etcd", "Check that the etcd cluster is healthy")
                .hidden()
                .inherit(DISCOVERY_FLAGS)
                .run(controlplane::check_etcd)
                .run_if(JoinData::control_plane),
            Phase::new("kubelet-start", "Write kubelet settings, certificates and (re)start the kubelet")
                .inherit(&[
                    "config",
                    "cri-socket",
                    "discovery-file",
                    "discovery-token",
                    "discovery-token-ca-cert-hash",
                    "discovery-token-unsafe-skip-ca-verification",
                    "dry-run",
                    "node-name",
                    "patches",
                    "tls-bootstrap-token",
                    "token",
                ])
                .run(join_kubelet_start),
            Phase::new("etcd-join", "Join etcd for control plane nodes")
                .inherit(CONTROL_PLANE_JOIN_FLAGS)
                .run(controlplane::etcd_join)
                .run_if(JoinData::control_plane),
            Phase::new("kubelet-wait-bootstrap", "Wait for the kubelet to bootstrap itself")
                .inherit(DISCOVERY_FLAGS)
                .run(join_wait_bootstrap),
            Phase::new("control-plane-join", "Join a machine as a control plane instance")
                .children(vec![
                    Phase::all("Join a machine as a control plane instance", CONTROL_PLANE_JOIN_FLAGS),
                    Phase::new("mark-control-plane", "Mark a node as a control-plane")
                        .inherit(CONTROL_PLANE_JOIN_FLAGS)
                        .run(controlplane::mark)
                        .run_if(JoinData::control_plane),
                ]),
            Phase::new("wait-control-plane", "Wait for the control plane to start")
                .inherit(DISCOVERY_FLAGS)
                .run(controlplane::wait)
                .run_if(JoinData::control_plane),
        ],
    )
}

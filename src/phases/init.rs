//! The `kubeadm init` workflow.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::certs::{self, KeyCache};
use super::kubeconfig as kubeconfig_phase;
use super::staticpods;
use crate::config::{init_configuration, InitConfiguration, InitOverrides};
use crate::host::Host;
use crate::pki::certlist;
use crate::token::BootstrapToken;
use crate::workflow::{Phase, Workflow};

impl crate::workflow::WorkflowData for InitData {
    fn skip_phases(&self) -> Vec<String> {
        if self.opts.skip_phases.is_empty() {
            self.cfg.versioned.init.skip_phases.clone()
        } else {
            self.opts.skip_phases.clone()
        }
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    fn finish(&self) -> anyhow::Result<()> {
        super::preflight::dry_run_outcome(&self.notes)
    }
}

/// What `kubeadm init` was asked on its command line, as plain values (upstream's
/// `initOptions`). The command line fills it from its flags; anything else that drives
/// the workflow builds one directly. `None` and empty mean "not given", so that the
/// configuration file or the defaults decide.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// `--apiserver-advertise-address`: the address the API server advertises.
    pub apiserver_advertise_address: Option<String>,
    /// `--apiserver-bind-port`: the port the API server binds to.
    pub apiserver_bind_port: Option<u16>,
    /// `--apiserver-cert-extra-sans`: more SANs for the API server's certificate.
    pub apiserver_cert_extra_sans: Vec<String>,
    /// `--cert-dir`: where the certificates go.
    pub cert_dir: Option<PathBuf>,
    /// `--certificate-key`: the key that encrypts the kubeadm-certs Secret.
    pub certificate_key: Option<String>,
    /// `--config`: the configuration file.
    pub config: Option<PathBuf>,
    /// `--control-plane-endpoint`: the control plane's stable address.
    pub control_plane_endpoint: Option<String>,
    /// `--cri-socket`: the container runtime's socket.
    pub cri_socket: Option<String>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--feature-gates`, as given (`a=true,b=false`): parsed when the workflow starts.
    pub feature_gates: Option<String>,
    /// `--ignore-preflight-errors`.
    pub ignore_preflight_errors: Vec<String>,
    /// `--image-repository`.
    pub image_repository: Option<String>,
    /// `--kubeconfig`: the admin kubeconfig the cluster phases use.
    pub kubeconfig: Option<PathBuf>,
    /// `--kubeconfig-dir`: where the kubeconfig files go.
    pub kubeconfig_dir: Option<PathBuf>,
    /// `--kubernetes-version`.
    pub kubernetes_version: Option<String>,
    /// `--node-name`.
    pub node_name: Option<String>,
    /// `--patches`: the directory of patches for the static Pods and the kubelet.
    pub patches: Option<PathBuf>,
    /// `--pod-network-cidr`.
    pub pod_network_cidr: Option<String>,
    /// `--service-cidr`.
    pub service_cidr: Option<String>,
    /// `--service-dns-domain`.
    pub service_dns_domain: Option<String>,
    /// `--skip-certificate-key-print`.
    pub skip_certificate_key_print: bool,
    /// `--skip-phases`: when empty, the configuration's `skipPhases` apply.
    pub skip_phases: Vec<String>,
    /// `--skip-token-print`.
    pub skip_token_print: bool,
    /// `--token`: the first bootstrap token.
    pub token: Option<String>,
    /// `--token-ttl`.
    pub token_ttl: Option<Duration>,
    /// `--upload-certs`.
    pub upload_certs: bool,
    /// `--print-manifest` (`init phase addon coredns|kube-proxy` only): print the addon's
    /// objects instead of creating them.
    pub print_manifest: bool,
}

impl InitOptions {
    /// The flags (by their long names) whose options were given, for upstream's rule on
    /// mixing flags with `--config` ([`crate::config::check_mixed_flags`]).
    pub fn given_flags(&self) -> Vec<&'static str> {
        [
            (
                self.apiserver_advertise_address.is_some(),
                "apiserver-advertise-address",
            ),
            (self.apiserver_bind_port.is_some(), "apiserver-bind-port"),
            (
                !self.apiserver_cert_extra_sans.is_empty(),
                "apiserver-cert-extra-sans",
            ),
            (self.cert_dir.is_some(), "cert-dir"),
            (self.certificate_key.is_some(), "certificate-key"),
            (self.config.is_some(), "config"),
            (
                self.control_plane_endpoint.is_some(),
                "control-plane-endpoint",
            ),
            (self.cri_socket.is_some(), "cri-socket"),
            (self.dry_run, "dry-run"),
            (self.feature_gates.is_some(), "feature-gates"),
            (
                !self.ignore_preflight_errors.is_empty(),
                "ignore-preflight-errors",
            ),
            (self.image_repository.is_some(), "image-repository"),
            (self.kubeconfig.is_some(), "kubeconfig"),
            (self.kubeconfig_dir.is_some(), "kubeconfig-dir"),
            (self.print_manifest, "print-manifest"),
            (self.kubernetes_version.is_some(), "kubernetes-version"),
            (self.node_name.is_some(), "node-name"),
            (self.patches.is_some(), "patches"),
            (self.pod_network_cidr.is_some(), "pod-network-cidr"),
            (self.service_cidr.is_some(), "service-cidr"),
            (self.service_dns_domain.is_some(), "service-dns-domain"),
            (
                self.skip_certificate_key_print,
                "skip-certificate-key-print",
            ),
            (!self.skip_phases.is_empty(), "skip-phases"),
            (self.skip_token_print, "skip-token-print"),
            (self.token.is_some(), "token"),
            (self.token_ttl.is_some(), "token-ttl"),
            (self.upload_certs, "upload-certs"),
        ]
        .into_iter()
        .filter_map(|(given, name)| given.then_some(name))
        .collect()
    }
}

/// What the init phases share.
pub struct InitData {
    /// What the command line asked.
    pub opts: InitOptions,
    /// The configuration every phase reads.
    pub cfg: InitConfiguration,
    /// The machine (or the dry-run recorder).
    pub host: Arc<dyn Host>,
    /// Keys generated ahead by the `certs` and `kubeconfig` phases.
    pub keys: KeyCache,
    /// The proxy variables of kubeadm's environment, handed to the control plane.
    pub proxy_env: Vec<(String, String)>,
    /// Lines for the end of the run.
    pub notes: Vec<String>,
    /// The cluster client, made when a phase first needs it.
    pub client: Option<Arc<dyn crate::client::Api>>,
    /// The certificate key (`--certificate-key`, or made by upload-certs).
    pub certificate_key: Option<String>,
}

impl InitData {
    /// The keys made so far and those still being made in the background.
    fn ready_keys(&mut self) -> anyhow::Result<KeyCache> {
        Ok(std::mem::take(&mut self.keys))
    }

    /// `--kubeconfig-dir`, or `/etc/kubernetes`.
    pub fn kubeconfig_dir(&self) -> std::path::PathBuf {
        self.opts
            .kubeconfig_dir
            .clone()
            .unwrap_or_else(|| kubeconfig_phase::KUBERNETES_DIR.into())
    }

    /// `--kubeconfig`, or admin.conf in the kubeconfig directory.
    pub fn admin_kubeconfig(&self) -> std::path::PathBuf {
        self.opts
            .kubeconfig
            .clone()
            .unwrap_or_else(|| self.kubeconfig_dir().join("admin.conf"))
    }

    /// A client from a kubeconfig file. With the default admin.conf (no `--kubeconfig`, or
    /// the kubeconfig directory's own), the file's copy in memory points at this node's
    /// API server (`localAPIEndpoint`), as upstream's init does since #138449: the
    /// `controlPlaneEndpoint` the file names may not answer before this API server runs.
    fn client_of(&self, path: &std::path::Path) -> anyhow::Result<crate::client::KubeClient> {
        let default_admin = self.kubeconfig_dir().join("admin.conf");
        let local = self
            .opts
            .kubeconfig
            .as_ref()
            .is_none_or(|k| *k == default_admin);
        if !local {
            return crate::client::KubeClient::from_kubeconfig(self.host.as_ref(), path);
        }
        let text = self
            .host
            .read_to_string(path)
            .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
        let text = crate::kubeconfig::with_current_server(&text, &self.cfg.local_url())
            .with_context(|| format!("kubeconfig {}", path.display()))?;
        crate::client::KubeClient::from_kubeconfig_text(&text)
            .with_context(|| format!("kubeconfig {}", path.display()))
    }

    /// The cluster client: the dry-run recorder in a dry run; else admin.conf's, after
    /// making sure admin.conf is authorized (with super-admin.conf when it is not yet).
    pub fn api(&mut self) -> anyhow::Result<Arc<dyn crate::client::Api>> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let client: Arc<dyn crate::client::Api> = if self.opts.dry_run {
            Arc::new(crate::client::DryRunClient::new())
        } else {
            Arc::new(self.client_of(&self.admin_kubeconfig())?)
        };
        let super_admin_path = self.kubeconfig_dir().join("super-admin.conf");
        let super_admin = if !self.opts.dry_run && self.host.exists(&super_admin_path)? {
            Some(self.client_of(&super_admin_path)?)
        } else {
            None
        };
        super::api::ensure_admin_bindings(
            client.as_ref(),
            super_admin.as_ref().map(|c| c as &dyn crate::client::Api),
        )?;
        self.client = Some(client.clone());
        Ok(client)
    }

    /// Where static Pod manifests go.
    pub fn manifests_dir(&self) -> std::path::PathBuf {
        crate::manifests::MANIFESTS_DIR.into()
    }

    /// Builds the data from the options and `--config`.
    pub fn new(opts: InitOptions, host: Arc<dyn Host>) -> anyhow::Result<Self> {
        let feature_gates = match &opts.feature_gates {
            Some(text) => crate::config::parse_feature_gates(text)?,
            None => Default::default(),
        };
        let docs = match &opts.config {
            Some(path) => {
                crate::config::check_mixed_flags(&opts.given_flags())?;
                Some(crate::config::load_file(host.as_ref(), path)?)
            }
            None => None,
        };
        let overrides = InitOverrides {
            advertise_address: opts.apiserver_advertise_address.clone(),
            bind_port: opts.apiserver_bind_port,
            cert_sans: opts.apiserver_cert_extra_sans.clone(),
            cert_dir: opts.cert_dir.clone(),
            control_plane_endpoint: opts.control_plane_endpoint.clone(),
            cri_socket: opts.cri_socket.clone(),
            image_repository: opts.image_repository.clone(),
            kubernetes_version: opts.kubernetes_version.clone(),
            node_name: opts.node_name.clone(),
            pod_subnet: opts.pod_network_cidr.clone(),
            service_subnet: opts.service_cidr.clone(),
            dns_domain: opts.service_dns_domain.clone(),
            feature_gates,
            token: opts.token.clone(),
            token_ttl: opts.token_ttl,
            certificate_key: opts.certificate_key.clone(),
            patches: opts.patches.clone(),
            ignore_preflight_errors: opts.ignore_preflight_errors.clone(),
        };
        let mut cfg = init_configuration(host.as_ref(), docs.as_ref(), &overrides)?;
        // Tokens left empty are generated now, as upstream's dynamic defaults do.
        for t in &mut cfg.versioned.init.bootstrap_tokens {
            if t.token.is_empty() {
                t.token = crate::token::BootstrapToken::generate()?.to_string();
                if t.description.is_empty() {
                    t.description =
                        "The default bootstrap token generated by 'kubeadm init'.".into();
                }
            }
        }
        let certificate_key =
            Some(cfg.versioned.init.certificate_key.clone()).filter(|k| !k.is_empty());
        Ok(InitData {
            opts,
            cfg,
            host,
            keys: KeyCache::default(),
            proxy_env: crate::manifests::proxy_env_of(std::env::vars()),
            notes: Vec::new(),
            client: None,
            certificate_key,
        })
    }
}

const CERT_FLAGS: &[&str] = &["cert-dir", "config", "dry-run", "kubernetes-version"];
const APISERVER_CERT_FLAGS: &[&str] = &[
    "cert-dir",
    "config",
    "dry-run",
    "kubernetes-version",
    "apiserver-advertise-address",
    "apiserver-cert-extra-sans",
    "control-plane-endpoint",
    "service-cidr",
    "service-dns-domain",
];
const KUBECONFIG_FLAGS: &[&str] = &[
    "apiserver-advertise-address",
    "apiserver-bind-port",
    "cert-dir",
    "config",
    "control-plane-endpoint",
    "dry-run",
    "kubeconfig-dir",
    "kubernetes-version",
];
const KUBELET_KUBECONFIG_FLAGS: &[&str] = &[
    "apiserver-advertise-address",
    "apiserver-bind-port",
    "cert-dir",
    "config",
    "control-plane-endpoint",
    "dry-run",
    "kubeconfig-dir",
    "kubernetes-version",
    "node-name",
];
const CONTROL_PLANE_FLAGS: &[&str] = &[
    "apiserver-advertise-address",
    "apiserver-bind-port",
    "cert-dir",
    "config",
    "control-plane-endpoint",
    "dry-run",
    "feature-gates",
    "image-repository",
    "kubernetes-version",
    "patches",
    "pod-network-cidr",
    "service-cidr",
];
const ETCD_FLAGS: &[&str] = &[
    "cert-dir",
    "config",
    "dry-run",
    "image-repository",
    "patches",
];
const API_FLAGS: &[&str] = &["config", "dry-run", "kubeconfig"];
const COREDNS_FLAGS: &[&str] = &[
    "config",
    "dry-run",
    "feature-gates",
    "image-repository",
    "kubeconfig",
    "kubernetes-version",
    "print-manifest",
    "service-cidr",
    "service-dns-domain",
];
const KUBE_PROXY_FLAGS: &[&str] = &[
    "apiserver-advertise-address",
    "apiserver-bind-port",
    "config",
    "control-plane-endpoint",
    "dry-run",
    "feature-gates",
    "image-repository",
    "kubeconfig",
    "kubernetes-version",
    "pod-network-cidr",
    "print-manifest",
];
const ADDON_FLAGS: &[&str] = &[
    "apiserver-advertise-address",
    "apiserver-bind-port",
    "config",
    "control-plane-endpoint",
    "dry-run",
    "feature-gates",
    "image-repository",
    "kubeconfig",
    "kubernetes-version",
    "pod-network-cidr",
    "service-cidr",
    "service-dns-domain",
];

fn cert(name: &'static str, short: &'static str) -> Phase<InitData> {
    let flags = if name == "apiserver" {
        APISERVER_CERT_FLAGS
    } else {
        CERT_FLAGS
    };
    let spec = if name == "sa" {
        None
    } else {
        Some(certlist::spec(name).expect("every cert phase is in the table"))
    };
    Phase::new(name, short)
        .inherit(flags)
        .run(move |d: &mut InitData| match spec {
            Some(spec) => certs::run_cert(d.host.as_ref(), &d.cfg, &mut d.keys, spec),
            None => certs::run_sa(d.host.as_ref(), &d.cfg, &mut d.keys),
        })
}

fn kubeconfig(name: &'static str, short: &'static str) -> Phase<InitData> {
    let flags = if name == "kubelet" {
        KUBELET_KUBECONFIG_FLAGS
    } else {
        KUBECONFIG_FLAGS
    };
    let spec = crate::kubeconfig::spec(name).expect("every kubeconfig phase is in the table");
    Phase::new(name, short)
        .inherit(flags)
        .run(move |d: &mut InitData| {
            let dir = d.kubeconfig_dir();
            kubeconfig_phase::run_kubeconfig(d.host.as_ref(), &d.cfg, &dir, &mut d.keys, spec)
        })
}

fn control_plane(name: &'static str, short: &'static str) -> Phase<InitData> {
    Phase::new(name, short)
        .inherit(CONTROL_PLANE_FLAGS)
        .run(move |d: &mut InitData| {
            let component = format!("kube-{name}");
            let (manifests, kubeconfigs) = (d.manifests_dir(), d.kubeconfig_dir());
            staticpods::write_control_plane_component(
                d.host.as_ref(),
                &d.cfg,
                &component,
                &manifests,
                &kubeconfigs,
                &d.proxy_env,
            )
            .map(|_| ())
        })
}

/// `kubeadm join <endpoint> --token <token> --discovery-token-ca-cert-hash sha256:<hash>`
/// for the cluster of a kubeconfig (and `--control-plane --certificate-key` with a key), as
/// `show-join-command` and `kubeadm token create --print-join-command` print it. Fails when
/// the kubeconfig cannot be read, has no current cluster, or its CA is not a certificate.
pub fn join_command(
    host: &dyn crate::host::Host,
    kubeconfig: &std::path::Path,
    token: &BootstrapToken,
    certificate_key: Option<&str>,
) -> anyhow::Result<String> {
    let text = host
        .read_to_string(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let kc = crate::kubeconfig::KubeConfig::from_yaml(&text)
        .with_context(|| format!("{}: not a kubeconfig", kubeconfig.display()))?;
    let cluster = kc
        .current_cluster()
        .with_context(|| format!("{}: no current cluster", kubeconfig.display()))?;
    let endpoint = cluster
        .server
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let pin = crate::pki::public_key_pin_pem(&cluster.certificate_authority_data)?;
    let mut cmd =
        format!("kubeadm join {endpoint} --token {token} --discovery-token-ca-cert-hash {pin}");
    if let Some(k) = certificate_key {
        cmd.push_str(&format!(" --control-plane --certificate-key {k}"));
    }
    Ok(cmd)
}

/// `show-join-command`: how to use the cluster and how to join nodes to it.
/// An addon's objects, with the user's patches for its Deployment or DaemonSet applied.
fn addon_objects(
    d: &InitData,
    objects: fn(&InitConfiguration) -> anyhow::Result<Vec<serde_json::Value>>,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut objects = objects(&d.cfg)?;
    if let Some(patches) = super::staticpods::load_patches(d.host.as_ref(), &d.cfg)? {
        crate::addons::apply_patches(&mut objects, &patches)?;
    }
    Ok(objects)
}

fn show_join_command(d: &mut InitData) -> anyhow::Result<()> {
    let admin = d.admin_kubeconfig();
    let token = crate::token::BootstrapToken::parse(
        d.cfg
            .versioned
            .init
            .bootstrap_tokens
            .first()
            .map(|t| t.token.as_str())
            .unwrap_or(""),
    )?;
    let mut worker = join_command(d.host.as_ref(), &admin, &token, None)?;
    if d.opts.skip_token_print {
        worker = worker.replace(&token.to_string(), "<value withheld>");
    }
    let pretty = |cmd: &str| {
        cmd.replacen(
            " --discovery-token-ca-cert-hash",
            " \\\n\t--discovery-token-ca-cert-hash",
            1,
        )
        .replacen(" --control-plane", " \\\n\t--control-plane", 1)
    };
    println!("\nYour Kubernetes control-plane has initialized successfully!\n");
    println!("To start using your cluster, you need to run the following as a regular user:\n");
    println!("  mkdir -p $HOME/.kube");
    println!("  sudo cp -i {} $HOME/.kube/config", admin.display());
    println!("  sudo chown $(id -u):$(id -g) $HOME/.kube/config\n");
    println!("Alternatively, if you are the root user, you can run:\n");
    println!("  export KUBECONFIG={}\n", admin.display());
    println!("You should now deploy a pod network to the cluster.");
    println!("Run \"kubectl apply -f [podnetwork].yaml\" with one of the options listed at:");
    println!("  https://kubernetes.io/docs/concepts/cluster-administration/addons/\n");
    if let (true, Some(key)) = (d.opts.upload_certs, d.certificate_key.as_deref()) {
        let key = if d.opts.skip_certificate_key_print {
            "<value withheld>"
        } else {
            key
        };
        let cp = join_command(d.host.as_ref(), &admin, &token, Some(key))?;
        println!("You can now join any number of control-plane nodes running the following command on each as root:\n");
        println!("{}\n", pretty(&cp));
    }
    println!(
        "Then you can join any number of worker nodes by running the following on each as root:\n"
    );
    println!("{}", pretty(&worker));
    Ok(())
}

/// The init phases, in upstream's order.
pub fn workflow() -> Workflow<InitData> {
    Workflow::new(
        "init",
        vec![
            Phase::new("preflight", "Run pre-flight checks")
                .long("Run pre-flight checks for kubeadm init.")
                .example("  # Run pre-flight checks for kubeadm init using a config file.\n  kubeadm init phase preflight --config kubeadm-config.yaml")
                .inherit(&["config", "cri-socket", "dry-run", "ignore-preflight-errors", "image-repository"])
                .run(|d: &mut InitData| {
                    // The keys the certs and kubeconfig phases will need are made in the
                    // background while the checks and image pulls wait on I/O.
                    let skip = crate::workflow::WorkflowData::skip_phases(d);
                    let mut names = certs::needed(d.host.as_ref(), &d.cfg, &skip)?;
                    names.extend(kubeconfig_phase::needed(d.host.as_ref(), &d.kubeconfig_dir(), &skip)?);
                    d.keys = KeyCache::spawn(names, d.cfg.cluster.encryption_algorithm);
                    let (manifests_dir, kubeconfig_dir) = (d.manifests_dir(), d.kubeconfig_dir());
                    let paths = super::preflight::InitPaths {
                        manifests_dir: &manifests_dir,
                        kubeconfig_dir: &kubeconfig_dir,
                        proxy_env: &d.proxy_env,
                    };
                    let dry_run = d.opts.dry_run;
                    super::preflight::init(d.host.as_ref(), &d.cfg, &paths, dry_run, &mut d.notes)
                }),
            Phase::new("certs", "Certificate generation")
                .inherit(CERT_FLAGS)
                .run(|d: &mut InitData| {
                    let ready = d.ready_keys()?;
                    d.keys = certs::prepare(d.host.as_ref(), &d.cfg, &crate::workflow::WorkflowData::skip_phases(d), ready)?;
                    Ok(())
                })
                .children(vec![
                    Phase::all("Generate all certificates", APISERVER_CERT_FLAGS),
                    cert("ca", "Generate the self-signed Kubernetes CA to provision identities for other Kubernetes components"),
                    cert("apiserver", "Generate the certificate for serving the Kubernetes API"),
                    cert("apiserver-kubelet-client", "Generate the certificate for the API server to connect to kubelet"),
                    cert("front-proxy-ca", "Generate the self-signed CA to provision identities for front proxy"),
                    cert("front-proxy-client", "Generate the certificate for the front proxy client"),
                    cert("etcd-ca", "Generate the self-signed CA to provision identities for etcd"),
                    cert("etcd-server", "Generate the certificate for serving etcd"),
                    cert("etcd-peer", "Generate the certificate for etcd nodes to communicate with each other"),
                    cert("etcd-healthcheck-client", "Generate the certificate for liveness probes to healthcheck etcd"),
                    cert("apiserver-etcd-client", "Generate the certificate the apiserver uses to access etcd"),
                    cert("sa", "Generate a private key for signing service account tokens along with its public key"),
                ]),
            Phase::new("kubeconfig", "Generate all kubeconfig files necessary to establish the control plane and the admin kubeconfig file")
                .inherit(KUBECONFIG_FLAGS)
                .run(|d: &mut InitData| {
                    let dir = d.kubeconfig_dir();
                    let ready = d.ready_keys()?;
                    d.keys = kubeconfig_phase::prepare(d.host.as_ref(), &d.cfg, &dir, &crate::workflow::WorkflowData::skip_phases(d), ready)?;
                    Ok(())
                })
                .children(vec![
                    Phase::all("Generate all kubeconfig files", KUBELET_KUBECONFIG_FLAGS),
                    kubeconfig("admin", "Generate a kubeconfig file for the admin to use and for kubeadm itself"),
                    kubeconfig("super-admin", "Generate a kubeconfig file for the super-admin"),
                    kubeconfig("kubelet", "Generate a kubeconfig file for the kubelet to use *only* for cluster bootstrapping purposes"),
                    kubeconfig("controller-manager", "Generate a kubeconfig file for the controller manager to use"),
                    kubeconfig("scheduler", "Generate a kubeconfig file for the scheduler to use"),
                ]),
            Phase::new("etcd", "Generate static Pod manifest file for local etcd")
                .children(vec![Phase::new("local", "Generate the static Pod manifest file for a local, single-node local etcd instance")
                    .inherit(ETCD_FLAGS)
                    .run(|d: &mut InitData| {
                        let dir = d.manifests_dir();
                        staticpods::write_local_etcd(d.host.as_ref(), &d.cfg, &dir, &[]).map(|_| ())
                    })]),
            Phase::new("control-plane", "Generate all static Pod manifest files necessary to establish the control plane")
                .children(vec![
                    Phase::all("Generate all static Pod manifest files", CONTROL_PLANE_FLAGS),
                    control_plane("apiserver", "Generates the kube-apiserver static Pod manifest"),
                    control_plane("controller-manager", "Generates the kube-controller-manager static Pod manifest"),
                    control_plane("scheduler", "Generates the kube-scheduler static Pod manifest"),
                ]),
            Phase::new("kubelet-start", "Write kubelet settings and (re)start the kubelet")
                .long("Write a file with KubeletConfiguration and an environment file with node specific kubelet settings, and then (re)start kubelet.")
                .example("  # Writes a dynamic environment file with kubelet flags from a InitConfiguration file.\n  kubeadm init phase kubelet-start --config config.yaml")
                .inherit(&["config", "cri-socket", "dry-run", "node-name", "patches"])
                .run(|d: &mut InitData| {
                    // The control plane's taints are set by mark-control-plane, not by the kubelet.
                    staticpods::kubelet_start(
                        d.host.as_ref(),
                        &d.cfg,
                        std::path::Path::new(crate::kubelet::KUBELET_DIR),
                        None,
                        &mut |line| println!("{line}"),
                    )
                }),
            Phase::new("wait-control-plane", "Wait for the control plane to start")
                .inherit(API_FLAGS)
                .run(|d: &mut InitData| super::waitcontrolplane::wait_control_plane(d.host.as_ref(), &d.cfg, d.opts.dry_run)),
            Phase::new("upload-config", "Upload the kubeadm and kubelet configuration to a ConfigMap")
                .children(vec![
                    Phase::all("Upload all configuration to a config map", API_FLAGS),
                    Phase::new("kubeadm", "Upload the kubeadm ClusterConfiguration to a ConfigMap").inherit(API_FLAGS).run(|d: &mut InitData| {
                        let api = d.api()?;
                        super::api::upload_kubeadm_config(api.as_ref(), &d.cfg)
                    }),
                    Phase::new("kubelet", "Upload the kubelet component config to a ConfigMap").inherit(API_FLAGS).run(|d: &mut InitData| {
                        let api = d.api()?;
                        super::api::upload_kubelet_config(api.as_ref(), &d.cfg)
                    }),
                ]),
            Phase::new("upload-certs", "Upload certificates to kubeadm-certs")
                .inherit(&["certificate-key", "config", "dry-run", "kubeconfig", "skip-certificate-key-print", "upload-certs"])
                .run(|d: &mut InitData| {
                    if d.certificate_key.is_none() {
                        d.certificate_key = Some(crate::copycerts::create_certificate_key()?);
                    }
                    let key = d.certificate_key.clone().unwrap_or_default();
                    let api = d.api()?;
                    super::api::upload_certs(api.as_ref(), d.host.as_ref(), &d.cfg, &key)?;
                    if !d.opts.skip_certificate_key_print {
                        println!("[upload-certs] Using certificate key:\n{key}");
                    }
                    Ok(())
                })
                .run_if(|d: &InitData| d.opts.upload_certs),
            Phase::new("mark-control-plane", "Mark a node as a control-plane")
                .inherit(&["config", "dry-run", "kubeconfig", "node-name"])
                .run(|d: &mut InitData| {
                    let api = d.api()?;
                    super::api::mark_control_plane(api.as_ref(), &d.cfg, d.opts.dry_run)
                }),
            Phase::new("bootstrap-token", "Generates bootstrap tokens used to join a node to a cluster")
                .aliases(&["bootstraptoken"])
                .inherit(&["config", "dry-run", "kubeconfig", "skip-token-print"])
                .run(|d: &mut InitData| {
                    let api = d.api()?;
                    let info = super::api::cluster_info_kubeconfig(d.host.as_ref(), &d.admin_kubeconfig())?;
                    super::api::bootstrap_token(api.as_ref(), &d.cfg, &info, d.opts.skip_token_print)
                }),
            Phase::new("kubelet-finalize", "Updates settings relevant to the kubelet after TLS bootstrap")
                .children(vec![
                    Phase::all("Run all kubelet-finalize phases", &["cert-dir", "config", "dry-run"]),
                    Phase::new("enable-client-cert-rotation", "Enable kubelet client certificate rotation")
                        .inherit(&["cert-dir", "config", "dry-run"])
                        .run(|d: &mut InitData| super::api::kubelet_finalize(d.host.as_ref(), &d.kubeconfig_dir())),
                ]),
            Phase::new("addon", "Install required addons for passing conformance tests")
                .children(vec![
                    Phase::all("Install all the addons", ADDON_FLAGS),
                    Phase::new("coredns", "Install the CoreDNS addon to a Kubernetes cluster")
                        .inherit(COREDNS_FLAGS)
                        .run(|d: &mut InitData| {
                            let objects = addon_objects(d, crate::addons::coredns_objects)?;
                            // As upstream: printed instead of created, no cluster needed.
                            if d.opts.print_manifest {
                                print!("{}", crate::addons::manifest_stream(&objects, crate::addons::COREDNS_PRINT_ORDER)?);
                                return Ok(());
                            }
                            let api = d.api()?;
                            crate::addons::apply(api.as_ref(), &objects)?;
                            println!("[addons] Applied essential addon: CoreDNS");
                            Ok(())
                        })
                        .run_if(|d: &InitData| !d.cfg.versioned.cluster.dns.disabled),
                    Phase::new("kube-proxy", "Install the kube-proxy addon to a Kubernetes cluster")
                        .inherit(KUBE_PROXY_FLAGS)
                        .run(|d: &mut InitData| {
                            let objects = addon_objects(d, crate::addons::kube_proxy_objects)?;
                            if d.opts.print_manifest {
                                print!("{}", crate::addons::manifest_stream(&objects, crate::addons::KUBE_PROXY_PRINT_ORDER)?);
                                return Ok(());
                            }
                            let api = d.api()?;
                            crate::addons::apply(api.as_ref(), &objects)?;
                            println!("[addons] Applied essential addon: kube-proxy");
                            Ok(())
                        })
                        .run_if(|d: &InitData| !d.cfg.versioned.cluster.proxy.disabled),
                ]),
            Phase::new("show-join-command", "Show the join command for control-plane and worker node")
                .inherit(&["certificate-key", "config", "dry-run", "kubeconfig", "skip-certificate-key-print", "skip-token-print", "upload-certs"])
                .run(show_join_command),
        ],
    )
}

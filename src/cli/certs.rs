//! `kubeadm certs`: certificate management.

use std::path::PathBuf;

use super::token::OutputArgs;
use super::{real_host, GlobalArgs};
use crate::config::{
    init_configuration, load_optional_file, InitOverrides, DEFAULT_CERTIFICATES_DIR,
    DEFAULT_CERTIFICATE_VALIDITY,
};
use crate::copycerts::create_certificate_key;
use crate::host::Host;
use crate::phases::kubeconfig::KUBERNETES_DIR;
use crate::pki::renewal::{self, Dirs, RenewError, Renewable};

/// `kubeadm certs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CertsCommand {
    /// Generate certificate keys
    CertificateKey,
    /// Check certificates expiration for a Kubernetes cluster
    CheckExpiration(CheckExpirationArgs),
    /// Generate keys and certificate signing requests
    GenerateCsr(GenerateCsrArgs),
    /// Renew certificates for a Kubernetes cluster
    #[command(subcommand)]
    Renew(RenewCommand),
}

/// Flags shared by commands that read the certificates of a node.
#[derive(Debug, Clone, clap::Args)]
pub struct CertDirArgs {
    /// The path where to save the certificates [default: /etc/kubernetes/pki]
    #[arg(long, value_name = "string")]
    pub cert_dir: Option<PathBuf>,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// The kubeconfig file to use when talking to the cluster. If the flag is not set, a set of standard locations can be searched for an existing kubeconfig file. [default: /etc/kubernetes/admin.conf]
    #[arg(long, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
}

impl CertDirArgs {
    /// `--cert-dir`, else the configuration file's `certificatesDir`, else the default.
    fn dirs(&self, host: &dyn Host) -> anyhow::Result<Dirs> {
        let from_file = load_optional_file(host, self.config.as_deref())?
            .and_then(|d| d.cluster)
            .map(|c| c.certificates_dir)
            .filter(|d| !d.is_empty());
        Ok(Dirs {
            cert_dir: self
                .cert_dir
                .clone()
                .or(from_file.map(Into::into))
                .unwrap_or_else(|| DEFAULT_CERTIFICATES_DIR.into()),
            kubeconfig_dir: KUBERNETES_DIR.into(),
        })
    }
}

/// Flags of `kubeadm certs check-expiration`.
#[derive(Debug, clap::Args)]
pub struct CheckExpirationArgs {
    /// Where the certificates are.
    #[command(flatten)]
    pub dirs: CertDirArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags of `kubeadm certs generate-csr`.
#[derive(Debug, clap::Args)]
pub struct GenerateCsrArgs {
    /// The path where to save the certificates [default: /etc/kubernetes/pki]
    #[arg(long, value_name = "string")]
    pub cert_dir: Option<PathBuf>,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// The path where to save the kubeconfig file. [default: /etc/kubernetes]
    #[arg(long, value_name = "string")]
    pub kubeconfig_dir: Option<PathBuf>,
}

/// `kubeadm certs renew` subcommands: one per certificate and kubeconfig, and `all`.
#[derive(Debug, clap::Subcommand)]
pub enum RenewCommand {
    /// Renew the certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself
    #[command(name = "admin.conf")]
    AdminConf(CertDirArgs),
    /// Renew all available certificates
    All(CertDirArgs),
    /// Renew the certificate for serving the Kubernetes API
    Apiserver(CertDirArgs),
    /// Renew the certificate the apiserver uses to access etcd
    ApiserverEtcdClient(CertDirArgs),
    /// Renew the certificate for the API server to connect to kubelet
    ApiserverKubeletClient(CertDirArgs),
    /// Renew the certificate embedded in the kubeconfig file for the controller manager to use
    #[command(name = "controller-manager.conf")]
    ControllerManagerConf(CertDirArgs),
    /// Renew the certificate for liveness probes to healthcheck etcd
    EtcdHealthcheckClient(CertDirArgs),
    /// Renew the certificate for etcd nodes to communicate with each other
    EtcdPeer(CertDirArgs),
    /// Renew the certificate for serving etcd
    EtcdServer(CertDirArgs),
    /// Renew the certificate for the front proxy client
    FrontProxyClient(CertDirArgs),
    /// Renew the certificate embedded in the kubeconfig file for the scheduler manager to use
    #[command(name = "scheduler.conf")]
    SchedulerConf(CertDirArgs),
    /// Renew the certificate embedded in the kubeconfig file for the super-admin
    #[command(name = "super-admin.conf")]
    SuperAdminConf(CertDirArgs),
}

impl RenewCommand {
    /// The renewable it names (`None` for `all`) and its flags.
    fn target(&self) -> (Option<&'static str>, &CertDirArgs) {
        match self {
            RenewCommand::AdminConf(a) => (Some("admin.conf"), a),
            RenewCommand::All(a) => (None, a),
            RenewCommand::Apiserver(a) => (Some("apiserver"), a),
            RenewCommand::ApiserverEtcdClient(a) => (Some("apiserver-etcd-client"), a),
            RenewCommand::ApiserverKubeletClient(a) => (Some("apiserver-kubelet-client"), a),
            RenewCommand::ControllerManagerConf(a) => (Some("controller-manager.conf"), a),
            RenewCommand::EtcdHealthcheckClient(a) => (Some("etcd-healthcheck-client"), a),
            RenewCommand::EtcdPeer(a) => (Some("etcd-peer"), a),
            RenewCommand::EtcdServer(a) => (Some("etcd-server"), a),
            RenewCommand::FrontProxyClient(a) => (Some("front-proxy-client"), a),
            RenewCommand::SchedulerConf(a) => (Some("scheduler.conf"), a),
            RenewCommand::SuperAdminConf(a) => (Some("super-admin.conf"), a),
        }
    }
}

/// Runs a `kubeadm certs` subcommand.
pub fn run(global: &GlobalArgs, cmd: CertsCommand) -> anyhow::Result<()> {
    let host = real_host(global);
    match cmd {
        CertsCommand::CertificateKey => {
            println!("{}", create_certificate_key()?);
            Ok(())
        }
        CertsCommand::CheckExpiration(a) => {
            let printer = a.output.printer(host.as_ref())?;
            let info = renewal::check_expiration(host.as_ref(), &a.dirs.dirs(host.as_ref())?)?;
            if printer.is_text() {
                print!("{}", renewal::expiration_text(&info));
            } else {
                printer.print(&info, &mut std::io::stdout().lock())?;
            }
            Ok(())
        }
        CertsCommand::Renew(r) => {
            let _lock = super::lock_node(host.as_ref(), "certs renew")?;
            let (target, a) = r.target();
            renew(host.as_ref(), &a.dirs(host.as_ref())?, target)
        }
        CertsCommand::GenerateCsr(a) => {
            let docs = load_optional_file(host.as_ref(), a.config.as_deref())?;
            let cfg = init_configuration(
                host.as_ref(),
                docs.as_ref(),
                &InitOverrides {
                    cert_dir: a.cert_dir.clone(),
                    ..InitOverrides::default()
                },
            )?;
            let kubeconfig_dir = a
                .kubeconfig_dir
                .clone()
                .unwrap_or_else(|| KUBERNETES_DIR.into());
            crate::pki::csr::generate_all(host.as_ref(), &cfg, &kubeconfig_dir)
        }
    }
}

fn renew(host: &dyn Host, dirs: &Dirs, target: Option<&str>) -> anyhow::Result<()> {
    let chosen: Vec<Renewable> = renewal::renewables()
        .into_iter()
        .filter(|r| target.is_none_or(|t| t == r.name()))
        .collect();
    for r in chosen {
        match renewal::renew(host, dirs, r, DEFAULT_CERTIFICATE_VALIDITY) {
            Ok(()) => println!("{} renewed", r.description()),
            // `renew all` goes on past what kubeadm cannot renew here, as upstream.
            Err(e @ RenewError::ExternallyManaged { .. }) if target.is_none() => {
                println!("[renew] Detected external CA mode: {e}")
            }
            Err(RenewError::Missing { .. }) if target.is_none() => {}
            Err(e) => return Err(e.into()),
        }
    }
    println!(
        "\nDone renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates."
    );
    Ok(())
}

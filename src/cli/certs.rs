//! `kubeadm certs`: certificate management.

use std::path::PathBuf;

use super::not_implemented;
use super::token::OutputArgs;
use crate::copycerts::create_certificate_key;

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
#[derive(Debug, clap::Args)]
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

/// Runs a `kubeadm certs` subcommand.
pub fn run(cmd: CertsCommand) -> anyhow::Result<()> {
    match cmd {
        CertsCommand::CertificateKey => {
            println!("{}", create_certificate_key()?);
            Ok(())
        }
        CertsCommand::CheckExpiration(_) => not_implemented("certs check-expiration"),
        CertsCommand::GenerateCsr(_) => not_implemented("certs generate-csr"),
        CertsCommand::Renew(_) => not_implemented("certs renew"),
    }
}

//! `kubeadm kubeconfig`: kubeconfig file utilities.

use std::path::PathBuf;
use std::time::Duration;

use super::not_implemented;
use crate::duration::parse_duration;

/// `kubeadm kubeconfig` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KubeconfigCommand {
    /// Output a kubeconfig file for an additional user
    User(UserArgs),
}

/// Flags of `kubeadm kubeconfig user`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// The name of user. It will be used as the CN if client certificates are created
    #[arg(long, value_name = "string")]
    pub client_name: Option<String>,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// The organizations of the client certificate. It will be used as the O if client certificates are created
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub org: Vec<String>,
    /// The token that should be used as the authentication mechanism for this kubeconfig, instead of client certificates
    #[arg(long, value_name = "string")]
    pub token: Option<String>,
    /// The validity period of the client certificate. It is an offset from the current time. [default: 8760h0m0s]
    #[arg(long, value_name = "duration", value_parser = parse_duration)]
    pub validity_period: Option<Duration>,
}

/// Runs a `kubeadm kubeconfig` subcommand.
pub fn run(cmd: KubeconfigCommand) -> anyhow::Result<()> {
    match cmd {
        KubeconfigCommand::User(_) => not_implemented("kubeconfig user"),
    }
}

//! `kubeadm token`: bootstrap token management.

use std::path::PathBuf;
use std::time::Duration;

use super::not_implemented;
use crate::duration::parse_duration;
use crate::token::BootstrapToken;

/// `kubeadm token` and the flags its subcommands share.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Whether to enable dry-run mode or not
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// The kubeconfig file to use when talking to the cluster. If the flag is not set, a set of standard locations can be searched for an existing kubeconfig file. [default: /etc/kubernetes/admin.conf]
    #[arg(long, global = true, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// The token operation.
    #[command(subcommand)]
    pub command: TokenCommand,
}

/// `kubeadm token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create bootstrap tokens on the server
    Create(TokenCreateArgs),
    /// Delete bootstrap tokens on the server
    Delete {
        /// Token values (abcdef.0123456789abcdef) or ids (abcdef) to delete.
        #[arg(value_name = "token-value", required = true)]
        tokens: Vec<String>,
    },
    /// Generate and print a bootstrap token, but do not create it on the server
    Generate,
    /// List bootstrap tokens on the server
    List(OutputArgs),
}

/// Flags of `kubeadm token create`.
#[derive(Debug, clap::Args)]
pub struct TokenCreateArgs {
    /// The token to create; a random one when not given.
    #[arg(value_name = "token")]
    pub token: Option<String>,
    /// When used together with '--print-join-command', print the full 'kubeadm join' flag needed to join the cluster as a control-plane. To create a new certificate key you must use 'kubeadm init phase upload-certs --upload-certs'.
    #[arg(long, value_name = "string")]
    pub certificate_key: Option<String>,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// A human friendly description of how this token is used.
    #[arg(long, value_name = "string")]
    pub description: Option<String>,
    /// Extra groups that this token will authenticate as when used for authentication. Must match "\\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\\z" [default: system:bootstrappers:kubeadm:default-node-token]
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub groups: Vec<String>,
    /// Instead of printing only the token, print the full 'kubeadm join' flag needed to join the cluster using the token.
    #[arg(long)]
    pub print_join_command: bool,
    /// The duration before the token is automatically deleted (e.g. 1s, 2m, 3h). If set to '0', the token will never expire [default: 24h0m0s]
    #[arg(long, value_name = "duration", value_parser = parse_duration)]
    pub ttl: Option<Duration>,
    /// Describes the ways in which this token can be used. You can pass --usages multiple times or provide a comma separated list of options. Valid options: [signing,authentication] [default: signing,authentication]
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub usages: Vec<String>,
}

/// The output flags of commands that print objects.
#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// If true, ignore any errors in templates when a field or map key is missing in the template. Only applies to golang and jsonpath output formats.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "bool")]
    pub allow_missing_template_keys: bool,
    /// Output format. One of: text|json|yaml|go-template|go-template-file|template|templatefile|jsonpath|jsonpath-as-json|jsonpath-file.
    #[arg(short = 'o', long, default_value = "text", value_name = "string")]
    pub output: String,
    /// If true, keep the managedFields when printing objects in JSON or YAML format.
    #[arg(long)]
    pub show_managed_fields: bool,
}

/// Runs a `kubeadm token` subcommand.
pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    match args.command {
        TokenCommand::Generate => {
            println!("{}", BootstrapToken::generate()?);
            Ok(())
        }
        TokenCommand::Create(_) => not_implemented("token create"),
        TokenCommand::Delete { .. } => not_implemented("token delete"),
        TokenCommand::List(_) => not_implemented("token list"),
    }
}

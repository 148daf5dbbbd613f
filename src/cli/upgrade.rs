//! `kubeadm upgrade`: plan, apply, node and diff.

use std::path::PathBuf;

use super::not_implemented;
use super::token::OutputArgs;

/// `kubeadm upgrade` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UpgradeCommand {
    /// Upgrade your Kubernetes cluster to the specified version
    Apply(ApplyArgs),
    /// Show what differences would be applied to existing static pod manifests. See also: kubeadm upgrade apply --dry-run
    Diff(DiffArgs),
    /// Upgrade commands for a node in the cluster
    Node(NodeArgs),
    /// Check which versions are available to upgrade to and validate whether your current cluster is upgradeable.
    Plan(PlanArgs),
}

/// Flags shared by the upgrade commands.
#[derive(Debug, clap::Args)]
pub struct UpgradeCommonArgs {
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// A list of checks whose errors will be shown as warnings. Example: 'IsPrivilegedUser,Swap'. Value 'all' ignores errors from all checks.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
    /// The kubeconfig file to use when talking to the cluster. If the flag is not set, a set of standard locations can be searched for an existing kubeconfig file. [default: /etc/kubernetes/admin.conf]
    #[arg(long, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// Perform the upgrade of etcd. [default: true]
    #[arg(long, value_name = "bool", action = clap::ArgAction::Set, default_value_t = true)]
    pub etcd_upgrade: bool,
    /// Show unstable versions of Kubernetes as an upgrade alternative and allow upgrading to an alpha/beta/release candidate versions of Kubernetes.
    #[arg(long)]
    pub allow_experimental_upgrades: bool,
    /// Show release candidate versions of Kubernetes as an upgrade alternative and allow upgrading to a release candidate versions of Kubernetes.
    #[arg(long)]
    pub allow_release_candidate_upgrades: bool,
    /// Specify whether the configuration file that will be used in the upgrade should be printed or not.
    #[arg(long)]
    pub print_config: bool,
}

/// Flags of `kubeadm upgrade apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The version to upgrade to.
    #[arg(value_name = "version")]
    pub version: Option<String>,
    /// Shared flags.
    #[command(flatten)]
    pub common: UpgradeCommonArgs,
    /// Perform the renewal of certificates used by component changed during upgrades. [default: true]
    #[arg(long, value_name = "bool", action = clap::ArgAction::Set, default_value_t = true)]
    pub certificate_renewal: bool,
    /// Do not change any state, just output what actions would be performed.
    #[arg(long)]
    pub dry_run: bool,
    /// Force upgrading although some requirements might not be met. This also implies non-interactive mode.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Path to a directory that contains files named "target[suffix][+patchtype].extension".
    #[arg(long, value_name = "string")]
    pub patches: Option<PathBuf>,
    /// List of phases to be skipped
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub skip_phases: Vec<String>,
    /// Perform the upgrade and do not prompt for confirmation (non-interactive mode).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// Flags of `kubeadm upgrade plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The version to plan for.
    #[arg(value_name = "version")]
    pub version: Option<String>,
    /// Shared flags.
    #[command(flatten)]
    pub common: UpgradeCommonArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags of `kubeadm upgrade node`.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// Perform the renewal of certificates used by component changed during upgrades. [default: true]
    #[arg(long, value_name = "bool", action = clap::ArgAction::Set, default_value_t = true)]
    pub certificate_renewal: bool,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// Do not change any state, just output the actions that would be performed.
    #[arg(long)]
    pub dry_run: bool,
    /// Perform the upgrade of etcd. [default: true]
    #[arg(long, value_name = "bool", action = clap::ArgAction::Set, default_value_t = true)]
    pub etcd_upgrade: bool,
    /// A list of checks whose errors will be shown as warnings. Example: 'IsPrivilegedUser,Swap'. Value 'all' ignores errors from all checks.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
    /// The kubeconfig file to use when talking to the cluster. [default: /etc/kubernetes/admin.conf]
    #[arg(long, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// Path to a directory that contains files named "target[suffix][+patchtype].extension".
    #[arg(long, value_name = "string")]
    pub patches: Option<PathBuf>,
    /// List of phases to be skipped
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub skip_phases: Vec<String>,
}

/// Flags of `kubeadm upgrade diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The version to compare against.
    #[arg(value_name = "version")]
    pub version: Option<String>,
    /// path to API server manifest [default: /etc/kubernetes/manifests/kube-apiserver.yaml]
    #[arg(long, value_name = "string")]
    pub api_server_manifest: Option<PathBuf>,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// How many lines of context in the diff
    #[arg(short = 'c', long, value_name = "int", default_value_t = 3)]
    pub context_lines: u32,
    /// path to controller manifest [default: /etc/kubernetes/manifests/kube-controller-manager.yaml]
    #[arg(long, value_name = "string")]
    pub controller_manager_manifest: Option<PathBuf>,
    /// The kubeconfig file to use when talking to the cluster. [default: /etc/kubernetes/admin.conf]
    #[arg(long, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// path to scheduler manifest [default: /etc/kubernetes/manifests/kube-scheduler.yaml]
    #[arg(long, value_name = "string")]
    pub scheduler_manifest: Option<PathBuf>,
}

/// Runs a `kubeadm upgrade` subcommand.
pub fn run(cmd: UpgradeCommand) -> anyhow::Result<()> {
    match cmd {
        UpgradeCommand::Apply(_) => not_implemented("upgrade apply"),
        UpgradeCommand::Diff(_) => not_implemented("upgrade diff"),
        UpgradeCommand::Node(_) => not_implemented("upgrade node"),
        UpgradeCommand::Plan(_) => not_implemented("upgrade plan"),
    }
}

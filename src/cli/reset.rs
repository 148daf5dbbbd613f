//! `kubeadm reset`: flags and the hand-off to the reset workflow.

use std::path::PathBuf;

use clap::ArgMatches;

use super::{run_workflow, GlobalArgs, WorkflowArgs};
use crate::phases::reset::{workflow, ResetData, ResetOptions};

/// Flags of `kubeadm reset` (and of `kubeadm reset phase ...`).
#[derive(Debug, Clone, clap::Args)]
pub struct ResetArgs {
    /// The path to the directory where the certificates are stored. If specified, clean this directory. [default: /etc/kubernetes/pki]
    #[arg(long, value_name = "string")]
    pub cert_dir: Option<PathBuf>,
    /// Cleanup the "/etc/kubernetes/tmp" directory
    #[arg(long)]
    pub cleanup_tmp_dir: bool,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// Path to the CRI socket to connect. If empty kubeadm will try to auto-detect this value; use this option only if you have more than one CRI installed or if you have non-standard CRI socket.
    #[arg(long, value_name = "string")]
    pub cri_socket: Option<String>,
    /// Don't apply any changes; just output what would be done.
    #[arg(long)]
    pub dry_run: bool,
    /// Reset the node without prompting for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// A list of checks whose errors will be shown as warnings. Example: 'IsPrivilegedUser,Swap'. Value 'all' ignores errors from all checks.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
    /// The kubeconfig file to use when talking to the cluster. If the flag is not set, a set of standard locations can be searched for an existing kubeconfig file. [default: /etc/kubernetes/admin.conf]
    #[arg(long, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// List of phases to be skipped
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub skip_phases: Vec<String>,
}

options_from_args!(ResetArgs => ResetOptions {
    cert_dir,
    cleanup_tmp_dir,
    config,
    cri_socket,
    dry_run,
    force,
    ignore_preflight_errors,
    kubeconfig,
    skip_phases,
});

impl WorkflowArgs for ResetArgs {
    /// `--dry-run`, or `dryRun: true` in the ResetConfiguration: either makes the whole
    /// run a dry run, host included.
    fn dry_run(&self, host: &dyn crate::host::Host) -> bool {
        self.dry_run
            || crate::config::peek_file(host, self.config.as_deref())
                .and_then(|d| d.reset)
                .is_some_and(|r| r.dry_run)
    }
}

/// Runs `kubeadm reset` or `kubeadm reset phase ...`.
pub fn run(global: &GlobalArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    run_workflow(
        &workflow(),
        global,
        matches,
        &[],
        |args: ResetArgs, host| ResetData::new(args.into(), host),
    )
}

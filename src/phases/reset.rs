//! The `kubeadm reset` workflow.

use std::sync::Arc;

use super::pending;
use crate::cli::reset::ResetArgs;
use crate::host::Host;
use crate::workflow::{Phase, Workflow};

impl crate::workflow::WorkflowData for ResetData {
    fn skip_phases(&self) -> Vec<String> {
        self.args.skip_phases.clone()
    }
}

/// What the reset phases share.
pub struct ResetData {
    /// The command-line flags.
    pub args: ResetArgs,
    /// The machine (or the dry-run recorder).
    pub host: Arc<dyn Host>,
}

impl ResetData {
    /// Builds the data from the flags.
    pub fn new(args: ResetArgs, host: Arc<dyn Host>) -> anyhow::Result<Self> {
        Ok(ResetData { args, host })
    }
}

/// Asks before reverting what init or join did, as upstream does without `--force`.
fn confirm(input: &mut dyn std::io::BufRead) -> anyhow::Result<bool> {
    use std::io::Write;
    println!("[reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm join' will be reverted.");
    print!("[reset] Are you sure you want to proceed? [y/N]: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    input.read_line(&mut line)?;
    Ok(line.trim().eq_ignore_ascii_case("y"))
}

/// The reset phases, in upstream's order.
pub fn workflow() -> Workflow<ResetData> {
    Workflow::new(
        "reset",
        vec![
            Phase::new("preflight", "Run reset pre-flight checks")
                .long("Run pre-flight checks for kubeadm reset.")
                .inherit(&["dry-run", "force", "ignore-preflight-errors"])
                .run(|d: &mut ResetData| {
                    if !d.args.force && !confirm(&mut std::io::stdin().lock())? {
                        anyhow::bail!("aborted reset operation (answer \"y\", or pass --force to reset without asking)");
                    }
                    println!("[preflight] Running pre-flight checks");
                    let ignored = crate::preflight::Ignored::new(&d.args.ignore_preflight_errors)?;
                    let mut notes = Vec::new();
                    super::preflight::run_checks(
                        d.host.as_ref(),
                        &[crate::preflight::Check::IsPrivilegedUser],
                        &ignored,
                        d.args.dry_run,
                        &mut notes,
                    )
                }),
            Phase::new("remove-etcd-member", "Remove a local etcd member.")
                .inherit(&["dry-run", "kubeconfig"])
                .run(pending),
            Phase::new("cleanup-node", "Run cleanup node.")
                .inherit(&["cert-dir", "cleanup-tmp-dir", "cri-socket", "dry-run"])
                .run(pending),
        ],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_yes_confirms() {
        assert!(super::confirm(&mut "y\n".as_bytes()).unwrap());
        assert!(super::confirm(&mut "Y\n".as_bytes()).unwrap());
        assert!(!super::confirm(&mut "yes please\n".as_bytes()).unwrap());
        assert!(!super::confirm(&mut "".as_bytes()).unwrap());
    }
}

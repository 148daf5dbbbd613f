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

/// The reset phases, in upstream's order.
pub fn workflow() -> Workflow<ResetData> {
    Workflow::new(
        "reset",
        vec![
            Phase::new("preflight", "Run reset pre-flight checks")
                .inherit(&["dry-run", "force", "ignore-preflight-errors"])
                .run(pending),
            Phase::new("remove-etcd-member", "Remove a local etcd member.")
                .inherit(&["dry-run", "kubeconfig"])
                .run(pending),
            Phase::new("cleanup-node", "Run cleanup node.")
                .inherit(&["cert-dir", "cleanup-tmp-dir", "cri-socket", "dry-run"])
                .run(pending),
        ],
    )
}

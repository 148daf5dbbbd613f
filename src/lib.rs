//! kubeadm-rs: a drop-in implementation of kubeadm, the tool that bootstraps Kubernetes
//! clusters. The `kubeadm` binary is a thin command line over this library.

pub mod addons;
pub mod cli;
pub mod client;
pub mod config;
pub mod copycerts;
pub mod cri;
pub mod discovery;
pub mod duration;
pub mod etcd;
pub mod grpc;
pub mod host;
pub mod images;
pub mod kubeconfig;
pub mod kubelet;
pub mod manifests;
pub mod output;
pub mod patches;
pub mod phases;
pub mod pki;
pub mod preflight;
pub mod releases;
pub mod token;
pub mod upgrade;
pub mod version;
pub mod workflow;
pub mod yaml;

/// Work that a later release of kubeadm-rs delivers. Commands and phases return it rather
/// than pretend to have done something.
#[derive(Debug, thiserror::Error)]
#[error("{}not implemented yet in kubeadm-rs", what.as_ref().map(|w| format!("{w}: ")).unwrap_or_default())]
pub struct NotImplemented {
    /// The command, or `None` for a phase (the runner names the phase).
    pub what: Option<String>,
}

impl NotImplemented {
    /// The error for one command.
    pub fn command(what: impl Into<String>) -> Self {
        NotImplemented {
            what: Some(what.into()),
        }
    }

    /// The error for a phase.
    pub fn phase() -> Self {
        NotImplemented { what: None }
    }
}

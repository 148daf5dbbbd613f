//! kubeadm-cluster: one file describes a cluster's hosts and the kubeadm configuration
//! they share; `apply` builds the cluster over SSH with kubeadm-rs on every host (init on
//! the first control plane, the other control planes joined one at a time, the workers
//! in parallel), skipping hosts already joined; `reset` takes it apart again; `status`
//! and `kubeconfig` look at it.

pub mod address;
pub mod cli;
pub mod documents;
pub mod escape;
pub mod facts;
pub mod run;
pub mod spec;
pub mod ssh;

//! kubeadm-cluster: one file describes a cluster's hosts, the kubeadm configuration
//! they share and its add-on manifests; `plan` shows what `apply` would do, and `apply`
//! builds the cluster over SSH with kubeadm-rs on every host (init on the first control
//! plane, the manifests applied, the other control planes joined one at a time, the
//! workers in parallel), skipping hosts already joined; `reset` takes it apart again;
//! `status` and `kubeconfig` look at it.

pub mod address;
pub mod archive;
pub mod cli;
pub mod documents;
pub mod escape;
pub mod facts;
pub mod manifests;
pub mod run;
pub mod spec;
pub mod ssh;

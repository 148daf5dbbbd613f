//! kubeadm-rs: a drop-in implementation of kubeadm, the tool that bootstraps Kubernetes
//! clusters. The `kubeadm` binary is a thin command line over this library.

pub mod addons;
pub mod cli;
pub mod client;
pub mod config;
pub mod copycerts;
pub mod cri;
pub mod diagnose;
pub mod discovery;
pub mod duration;
pub mod etcd;
pub mod grpc;
pub mod host;
pub mod images;
pub mod interrupt;
pub mod kubeconfig;
pub mod kubelet;
pub mod manifests;
pub mod names;
pub mod objects;
pub mod output;
pub mod patches;
pub mod phases;
pub mod pki;
pub mod preflight;
pub mod printer;
pub mod releases;
pub mod token;
pub mod upgrade;
pub mod version;
pub mod workflow;
pub mod yaml;

//! `kubeadm upgrade`: the versions this release can upgrade to, the skew policy, and the
//! plan of an upgrade.

pub mod plan;
pub mod policy;
pub mod semver;

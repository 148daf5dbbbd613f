//! The phase trees of `init`, `join` and `reset`, with upstream's names and order, and the
//! data each workflow's phases share.

pub mod api;
pub mod certs;
pub mod init;
pub mod join;
pub mod joincp;
pub mod kubeconfig;
pub mod preflight;
pub mod reset;
pub mod staticpods;

use crate::NotImplemented;

/// The work of a phase that a later release of kubeadm-rs delivers: it fails rather than
/// pretend. The runner adds the phase's name to the error.
pub(crate) fn pending<D>(_: &mut D) -> anyhow::Result<()> {
    Err(NotImplemented::phase().into())
}

//! The phase trees of `init`, `join` and `reset`, with upstream's names and order, and the
//! data each workflow's phases share.

pub mod api;
pub mod certs;
pub mod init;
pub mod join;
pub mod kubeconfig;
pub mod preflight;
pub mod reset;
pub mod staticpods;
pub mod upgrade;
pub mod waitcontrolplane;

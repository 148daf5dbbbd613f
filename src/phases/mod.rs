//! The phase trees of `init`, `join`, `reset`, `upgrade apply` and `upgrade node`, with
//! upstream's names and order; the options each workflow takes (filled by the command line
//! or built by any other caller) and the data its phases share. Nothing here knows about
//! the command line's flag parsing.

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

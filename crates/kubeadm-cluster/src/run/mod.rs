//! `apply`, `reset`, `status` and `kubeconfig`: what each does to the hosts, in order,
//! with a line per host per step and a table at the end. `apply` goes in three steps:
//! [`observe`] connects to every host at once and reads its facts, [`plan`] decides from
//! them, before anything changes, what each host needs and in which order, and
//! [`execute`] does it; a rerun observes again and plans anew.

mod execute;
mod observe;
mod plan;
mod report;
mod reset;
mod status;

use std::path::PathBuf;

use crate::documents::Secrets;
use crate::escape;
use crate::spec::{Cluster, Host};
use crate::ssh;

pub use report::{HostResult, Outcome, Report};
pub use reset::reset;
pub use status::{kubeconfig, status};

/// How a run reaches the hosts and what it installs.
pub struct Settings {
    /// SSH's options.
    pub ssh: ssh::Options,
    /// The kubeadm binary to install on the hosts.
    pub kubeadm_binary: PathBuf,
}

/// `kubeadm-cluster apply`: see the crate's documentation.
pub async fn apply(c: &Cluster, s: &Settings) -> anyhow::Result<Report> {
    for w in &c.kubeadm.warnings {
        eprintln!("{}", escape::controls(w));
    }
    let binary = observe::Binary::read(&s.kubeadm_binary)?;
    let nodes = observe::connect_all(c, s).await;
    let facts: Vec<_> = nodes.iter().map(|n| n.facts.as_ref()).collect();
    let found = observe::find_cluster(c, &facts);
    let plan = plan::apply(c, &facts, &found, &binary);
    execute::apply(c, nodes, plan, &binary).await
}

/// The secrets of this run (token secret, certificate key): whatever a host prints that
/// we pass on has them replaced.
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn hide(secrets: &Secrets) {
    let mut s = SECRETS.lock().expect("the secrets list");
    if let Some((_, secret)) = secrets.token.split_once('.') {
        s.push(secret.to_string());
    }
    s.push(secrets.certificate_key.clone());
}

/// `text` with this run's secrets replaced by `<hidden>`.
fn redact(text: &str) -> String {
    let mut t = text.to_string();
    for s in SECRETS.lock().expect("the secrets list").iter() {
        if !s.is_empty() {
            t = t.replace(s.as_str(), "<hidden>");
        }
    }
    t
}

fn label(h: &Host) -> String {
    h.node_name.clone().unwrap_or_else(|| h.address.clone())
}

/// Prints a line of `h`'s progress; what hosts and the file say is escaped.
fn say(h: &Host, what: impl std::fmt::Display) {
    println!("{}", escape::controls(&format!("[{}] {what}", label(h))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_secrets_never_reach_what_it_prints() {
        let s = Secrets::generate().unwrap();
        hide(&s);
        let (id, secret) = s.token.split_once('.').unwrap();
        let text = format!(
            "kubeadm join --token {id}.{secret} --certificate-key {}",
            s.certificate_key
        );
        let shown = redact(&text);
        assert_eq!(
            shown,
            format!("kubeadm join --token {id}.<hidden> --certificate-key <hidden>")
        );
    }
}

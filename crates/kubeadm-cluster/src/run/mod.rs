//! `plan`, `apply`, `reset`, `status`, `kubeconfig`, `backup` and `restore`: what each does to the hosts, in
//! order, with a line per host per step and a table at the end. `apply` goes in three
//! steps: [`observe`] connects to every host at once and reads its facts, and reads the
//! cluster's state from its API ([`cluster`]); [`plan`] decides from them, before
//! anything changes, what each host needs and in which order, shown by [`show`]; and
//! [`execute`] does it. A rerun observes again and plans anew.

mod backup;
mod check;
mod cluster;
mod drain;
mod execute;
mod observe;
mod plan;
mod repair;
mod report;
mod reset;
mod restore;
mod show;
mod status;
mod upgrade;

use std::sync::atomic::{AtomicBool, Ordering};

use std::path::PathBuf;

use crate::documents::Secrets;
use crate::escape;
use crate::manifests;
use crate::spec::{Cluster, Host};
use crate::ssh;

pub use backup::{backup, Written};
pub use check::{check, Health};
pub use repair::{repair, RepairPlan};
pub use report::{HostResult, Outcome, Report};
pub use reset::reset;
pub use restore::{config_warnings as restore_warnings, describe as describe_backup};
pub use status::{kubeconfig, status};

/// How a run reaches the hosts and what it installs.
pub struct Settings {
    /// SSH's options.
    pub ssh: ssh::Options,
    /// The kubeadm binary to install on the hosts.
    pub kubeadm_binary: PathBuf,
}

/// A plan of `apply`, with the hosts' connections and what was observed, ready to run.
pub struct Planned {
    nodes: Vec<observe::Node>,
    plan: plan::Plan,
    actions: plan::Numbered,
    binary: observe::Binary,
    observed: cluster::Observed,
    /// The objects of the manifests, in the order they are applied.
    objects: Vec<manifests::Object>,
}

/// Observes the hosts and the cluster and plans `apply`; nothing changes on any host.
pub async fn plan(c: &Cluster, s: &Settings) -> anyhow::Result<Planned> {
    for w in &c.kubeadm.warnings {
        eprintln!("{}", escape::controls(w));
    }
    let binary = observe::Binary::read(&s.kubeadm_binary)?;
    // A manifest that cannot be read or is not objects stops the run before any host
    // is reached.
    let objects = manifests::read(c)?;
    let nodes = observe::connect_all(c, s).await;
    let facts: Vec<_> = nodes.iter().map(|n| n.facts.as_ref()).collect();
    let found = observe::find_cluster(c, &facts);
    let observed = match (&found.pin, &nodes[found.primary].remote) {
        (Some(_), Some(r)) => {
            let external = c
                .kubeadm
                .cluster
                .as_ref()
                .is_some_and(|cc| cc.etcd.external.is_some());
            cluster::observe(r.clone(), external).await
        }
        _ => cluster::Observed::NoCluster,
    };
    let plan = plan::apply(c, &facts, &found, &binary, !objects.is_empty(), &observed);
    let reachable: Vec<bool> = facts.iter().map(Option::is_some).collect();
    let actions = plan.actions(&reachable);
    Ok(Planned {
        nodes,
        plan,
        actions,
        binary,
        observed,
        objects,
    })
}

impl Planned {
    /// The plan as text: the cluster, then a line per host in the order of the run.
    pub fn text(&self, c: &Cluster) -> String {
        show::text(c, self)
    }

    /// The plan as one JSON document.
    pub fn json(&self, c: &Cluster) -> serde_json::Value {
        show::json(c, self)
    }

    /// Whether running it changes anything: a kubeadm installed, a node made, the
    /// manifests applied (server-side apply of unchanged files changes nothing, but
    /// whether they changed is only known by applying them).
    pub fn changes_anything(&self) -> bool {
        self.actions.manifests.is_some()
            || self
                .actions
                .hosts
                .iter()
                .any(|a| a.install || a.action.changes())
    }

    /// Whether a host would fail or not be attempted.
    pub fn any_fails(&self) -> bool {
        self.actions.hosts.iter().any(|a| a.action.fails())
    }

    /// Runs the plan and reports how every host (and the manifests) ended.
    pub async fn execute(self, c: &Cluster) -> anyhow::Result<Report> {
        execute::apply(c, self.nodes, self.plan, &self.binary, self.objects, None).await
    }

    /// Ends the connections without running anything.
    pub async fn close(mut self) {
        execute::close_all(&mut self.nodes).await;
    }
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

/// Progress goes to standard error rather than standard output (where `plan` prints
/// the plan alone).
static PROGRESS_ON_STDERR: AtomicBool = AtomicBool::new(false);

/// Sends the progress lines of this process to standard error.
pub fn progress_on_stderr() {
    PROGRESS_ON_STDERR.store(true, Ordering::Relaxed);
}

/// Prints a line of `h`'s progress; what hosts and the file say is escaped.
fn say(h: &Host, what: impl std::fmt::Display) {
    say_as(&label(h), what)
}

/// Prints a line of progress of `who` (a host, or a step of the whole cluster).
fn say_as(who: &str, what: impl std::fmt::Display) {
    let line = escape::controls(&format!("[{who}] {what}")).into_owned();
    if PROGRESS_ON_STDERR.load(Ordering::Relaxed) {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
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

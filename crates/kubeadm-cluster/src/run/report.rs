//! What a run did to every host: one line each in a table, with the reasons of the hosts
//! that failed or were skipped below it.

use std::time::Duration;

use crate::escape;
use crate::spec::Role;

/// How one host ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `kubeadm init` made the cluster here.
    Initialized,
    /// The host joined.
    Joined,
    /// Nothing to do.
    Unchanged,
    /// `kubeadm reset` cleaned it.
    Reset,
    /// Taken out of the cluster: drained, reset, its Node deleted.
    Removed,
    /// Upgraded to the file's Kubernetes version, and schedulable again.
    Upgraded,
    /// Left cordoned at the new version by an earlier upgrade: schedulable again.
    Uncordoned,
    /// Reachable and read (status).
    Reported(String),
    /// This many objects applied (the manifests).
    Applied(usize),
    /// Not attempted, and why.
    Skipped(String),
    /// Failed, and why.
    Failed(String),
}

impl Outcome {
    pub(super) fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    fn word(&self) -> &str {
        match self {
            Outcome::Initialized => "initialized",
            Outcome::Joined => "joined",
            Outcome::Unchanged => "unchanged",
            Outcome::Reset => "reset",
            Outcome::Removed => "removed",
            Outcome::Upgraded => "upgraded",
            Outcome::Uncordoned => "uncordoned",
            Outcome::Reported(s) => s,
            Outcome::Applied(_) => "applied",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "FAILED",
        }
    }
}

/// One host's line of the summary.
#[derive(Debug, Clone)]
pub struct HostResult {
    /// The host's label (its Node name, else its address).
    pub label: String,
    /// Its role.
    pub role: Role,
    /// How it ended.
    pub outcome: Outcome,
    /// How long its steps took.
    pub elapsed: Duration,
}

/// What a run did to every host.
#[derive(Debug, Clone)]
pub struct Report {
    /// The hosts in the file's order.
    pub hosts: Vec<HostResult>,
    /// How the manifests ended, when the run had some to apply.
    pub manifests: Option<Outcome>,
}

impl Report {
    /// Whether any host failed.
    pub fn any_failed(&self) -> bool {
        self.hosts.iter().any(|h| h.outcome.failed())
            || self.manifests.as_ref().is_some_and(Outcome::failed)
    }

    /// The summary table, with the reasons of failed and skipped hosts below it (what
    /// hosts said escaped).
    pub fn table(&self) -> String {
        let w = self
            .hosts
            .iter()
            .map(|h| h.label.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut s = format!("\n{:<w$}  {:<13}  {:<11}  TIME\n", "HOST", "ROLE", "RESULT");
        for h in &self.hosts {
            s.push_str(&format!(
                "{:<w$}  {:<13}  {:<11}  {:.1}s\n",
                h.label,
                h.role.to_string(),
                h.outcome.word(),
                h.elapsed.as_secs_f64()
            ));
        }
        match &self.manifests {
            Some(Outcome::Applied(n)) => s.push_str(&format!(
                "\nmanifests: {n} object{} applied\n",
                if *n == 1 { "" } else { "s" }
            )),
            Some(o) => s.push_str(&format!("\nmanifests: {}\n", o.word())),
            None => {}
        }
        let manifests = self.manifests.as_ref().map(|o| ("manifests", o));
        let hosts = self.hosts.iter().map(|h| (h.label.as_str(), &h.outcome));
        for (who, outcome) in hosts.chain(manifests) {
            match outcome {
                Outcome::Failed(why) => s.push_str(&format!("\n{who} failed: {why}\n")),
                Outcome::Skipped(why) => s.push_str(&format!("\n{who} skipped: {why}\n")),
                _ => {}
            }
        }
        escape::controls(&s).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_host_and_why_one_failed() {
        let r = Report {
            hosts: vec![
                HostResult {
                    label: "cp-1".into(),
                    role: Role::ControlPlane,
                    outcome: Outcome::Initialized,
                    elapsed: Duration::from_millis(7500),
                },
                HostResult {
                    label: "worker-long-name".into(),
                    role: Role::Worker,
                    outcome: Outcome::Failed("cannot connect".into()),
                    elapsed: Duration::ZERO,
                },
            ],
            manifests: None,
        };
        assert!(r.any_failed());
        let t = r.table();
        assert!(
            t.contains("\ncp-1              control-plane  initialized  7.5s\n"),
            "{t}"
        );
        assert!(
            t.contains("worker-long-name  worker         FAILED       0.0s"),
            "{t}"
        );
        assert!(t.contains("worker-long-name failed: cannot connect"), "{t}");
    }

    #[test]
    fn the_manifests_have_a_line_of_their_own_and_fail_the_run() {
        let host = HostResult {
            label: "cp-1".into(),
            role: Role::ControlPlane,
            outcome: Outcome::Unchanged,
            elapsed: Duration::ZERO,
        };
        let mut r = Report {
            hosts: vec![host],
            manifests: Some(Outcome::Applied(2)),
        };
        assert!(!r.any_failed());
        assert!(
            r.table().ends_with("\nmanifests: 2 objects applied\n"),
            "{}",
            r.table()
        );
        r.manifests = Some(Outcome::Failed("a.yaml:3: ConfigMap x: forbidden".into()));
        assert!(r.any_failed());
        let t = r.table();
        assert!(t.contains("\nmanifests: FAILED\n"), "{t}");
        assert!(
            t.ends_with("\nmanifests failed: a.yaml:3: ConfigMap x: forbidden\n"),
            "{t}"
        );
    }

    #[test]
    fn what_a_host_said_reaches_the_table_escaped() {
        let r = Report {
            hosts: vec![HostResult {
                label: "w-1".into(),
                role: Role::Worker,
                outcome: Outcome::Failed(
                    "kubeadm join exited with 1:\n    \x1b[2Jgone\r[w-2] joined".into(),
                ),
                elapsed: Duration::ZERO,
            }],
            manifests: None,
        };
        let t = r.table();
        assert!(
            t.contains(
                "w-1 failed: kubeadm join exited with 1:\n    \\u{1b}[2Jgone\\r[w-2] joined"
            ),
            "{t}"
        );
    }
}

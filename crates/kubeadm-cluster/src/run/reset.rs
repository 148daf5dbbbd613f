//! `reset`: every host of the file back to clean, workers first.

use std::sync::Arc;

use super::execute::{close_all, kubeadm, on_each, report};
use super::observe::connect_all;
use super::{say, Outcome, Report, Settings};
use crate::documents;
use crate::spec::{Cluster, Host, Role};
use crate::ssh::Remote;

/// `kubeadm-cluster reset`: the workers first (in parallel), then the control planes in
/// the reverse of their join order, each with `kubeadm reset -f`.
pub async fn reset(c: &Cluster, s: &Settings) -> anyhow::Result<Report> {
    let mut nodes = connect_all(c, s).await;
    for n in nodes.iter_mut() {
        if n.facts.as_ref().is_some_and(|f| !f.any_state) {
            say(&n.host, "nothing to reset");
            n.end(Outcome::Unchanged);
        } else if n.ready() && n.facts.as_ref().is_some_and(|f| f.kubeadm_sha256.is_none()) {
            n.end(Outcome::Failed(format!("the host has node files but no kubeadm at {}; install it there or run kubeadm-cluster apply first", c.kubeadm_path)));
        }
    }
    let cfg = documents::reset(c)?;
    let path = c.kubeadm_path.clone();
    let reset_one = move |h: Host, r: Arc<Remote>, cfg: Option<String>, path: String| async move {
        say(&h, "kubeadm reset -f");
        kubeadm(&r, &path, &["reset", "-f"], cfg.as_deref()).await?;
        say(&h, "reset");
        anyhow::Ok(Some(Outcome::Reset))
    };
    {
        let (cfg, path) = (cfg.clone(), path.clone());
        let workers: Vec<usize> = (0..nodes.len())
            .filter(|&i| nodes[i].host.role == Role::Worker)
            .collect();
        on_each(&mut nodes, c.parallel_joins, &workers, move |h, r| {
            reset_one(h, r, cfg.clone(), path.clone())
        })
        .await;
    }
    let mut cps: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].host.role == Role::ControlPlane)
        .collect();
    cps.reverse();
    for i in cps {
        if !nodes[i].ready() {
            continue;
        }
        let (h, r) = (
            nodes[i].host.clone(),
            nodes[i].remote.clone().expect("ready"),
        );
        match reset_one(h, r, cfg.clone(), path.clone()).await {
            Ok(Some(o)) => nodes[i].end(o),
            Ok(None) => {}
            Err(e) => nodes[i].end(Outcome::Failed(format!("{e:#}"))),
        }
    }
    close_all(&mut nodes).await;
    Ok(report(nodes))
}

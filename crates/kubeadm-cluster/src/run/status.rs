//! `status` and `kubeconfig`: the commands that only look.

use super::execute::{close_all, report};
use super::observe::connect_all;
use super::{Outcome, Report, Settings};
use crate::spec::{Cluster, Role};
use crate::ssh::Remote;

/// `kubeadm-cluster status`: each host's facts and whether it is a node of the cluster.
pub async fn status(c: &Cluster, s: &Settings) -> anyhow::Result<Report> {
    let mut nodes = connect_all(c, s).await;
    let pin = nodes
        .iter()
        .find(|n| {
            n.host.role == Role::ControlPlane && n.facts.as_ref().is_some_and(|f| f.admin_conf)
        })
        .and_then(|n| n.facts.as_ref().and_then(|f| f.ca_pin.clone()));
    for n in nodes.iter_mut() {
        let Some(f) = n.facts.clone() else { continue };
        if n.outcome.is_some() {
            continue;
        }
        let word = match (&pin, &f.ca_pin, f.kubelet_conf) {
            (Some(p), Some(q), true) if p == q => "in-cluster",
            (_, Some(_), _) => "other-cluster",
            (_, None, _) if f.any_state => "unfinished",
            _ => "not-joined",
        };
        n.end(Outcome::Reported(word.to_string()));
    }
    close_all(&mut nodes).await;
    Ok(report(nodes))
}

/// `kubeadm-cluster kubeconfig`: admin.conf of the first control plane that has one.
pub async fn kubeconfig(c: &Cluster, s: &Settings) -> anyhow::Result<Vec<u8>> {
    let mut last_err = None;
    for (_, h) in c.control_planes() {
        let r = match Remote::connect(h, &s.ssh).await {
            Ok(r) => r,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        let out = r.run("cat /etc/kubernetes/admin.conf", None).await;
        r.close().await;
        match out {
            Ok(o) if o.success() => return Ok(o.stdout),
            Ok(_) => continue,
            Err(e) => last_err = Some(e),
        }
    }
    Err(match last_err {
        Some(e) => e.context("no control plane gave its /etc/kubernetes/admin.conf"),
        None => anyhow::anyhow!(
            "no control plane has /etc/kubernetes/admin.conf: is the cluster applied?"
        ),
    })
}

//! `repair` (and `apply --repair`): fixes what `check` finds, the way Cluster API
//! remediates a machine: the unhealthy host is taken out of the cluster and joined
//! again. The unhealthy workers first: each Node deleted and `kubeadm reset -f` run on
//! the host. Then a control plane at a time: its etcd member removed through a healthy
//! member (never when etcd would lose quorum), its Node deleted, the host reset, and an
//! `apply` joins it again (and the workers with the first). A host that cannot be reached is
//! reported, not guessed at. The plan is printed first and nothing changes with
//! `--dry-run`.

use std::sync::Arc;

use serde::Serialize;

use kubeadm::client::Api;

use super::check::{self, Health, HostHealth, Quorum};
use super::cluster::{self, Observed};
use super::execute::{close_all, kubeadm};
use super::observe::Node;
use super::{say, say_as, Report, Settings};
use crate::documents;
use crate::escape;
use crate::spec::{Cluster, Role};
use crate::ssh::Remote;

/// What repair does to one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairLine {
    /// The host's label.
    pub host: String,
    /// `rejoin`, `down` (reported, not repaired) or `refused`.
    pub action: &'static str,
    /// Why: the failed checks, or why it is not repaired.
    pub reason: String,
    /// The etcd member removed first, for a control plane that has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_etcd_member: Option<String>,
}

/// The repair plan: the unhealthy hosts in the order they are repaired, the workers
/// first, then the control planes one at a time; then the hosts that are down.
#[derive(Debug, Clone, Serialize)]
pub struct RepairPlan {
    /// Per unhealthy host, in the order they are repaired.
    pub hosts: Vec<RepairLine>,
    /// Why nothing can be repaired, when nothing can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl RepairPlan {
    /// Whether running it changes anything.
    pub fn changes_anything(&self) -> bool {
        self.refused.is_none() && self.hosts.iter().any(|h| h.action == "rejoin")
    }

    /// As text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(why) = &self.refused {
            s.push_str(&format!("[repair] nothing can be repaired: {why}\n"));
        }
        if self.hosts.is_empty() {
            s.push_str("[repair] every host is healthy: nothing to repair\n");
        }
        for (i, h) in self.hosts.iter().enumerate() {
            s.push_str(&format!(
                "{:>2}. {} {}: {}\n",
                i + 1,
                h.action,
                h.host,
                h.reason
            ));
            if let Some(m) = &h.remove_etcd_member {
                s.push_str(&format!(
                    "    its etcd member {m} is removed through a healthy member first\n"
                ));
            }
        }
        escape::controls(&s).into_owned()
    }
}

/// Decides what to do about each unhealthy host of `health`.
pub(super) fn plan(c: &Cluster, health: &Health, observed: &Observed) -> RepairPlan {
    let mut cps = Vec::new();
    let mut workers = Vec::new();
    let mut down = Vec::new();
    let refused = match observed {
        Observed::NoCluster => Some("there is no cluster yet: run kubeadm-cluster apply".to_string()),
        Observed::Unreadable(why) => Some(format!(
            "the cluster's API cannot be read ({why}); repair joins hosts again through a working control plane"
        )),
        Observed::Read(_) => None,
    };
    // Healthy control planes, to join through.
    let healthy_cps = health
        .hosts
        .iter()
        .zip(&c.hosts)
        .filter(|(h, host)| host.role == Role::ControlPlane && h.healthy())
        .count();
    let mut quorum = health.etcd_quorum;
    for (h, host) in health.hosts.iter().zip(&c.hosts) {
        if h.healthy() {
            continue;
        }
        let reason = h.problems().join("; ");
        if !h.reachable() {
            down.push(RepairLine {
                host: h.host.clone(),
                action: "down",
                reason: format!("{reason}: reported, not repaired (a host that cannot be reached is not guessed at)"),
                remove_etcd_member: None,
            });
            continue;
        }
        if host.role == Role::Worker {
            workers.push(RepairLine {
                host: h.host.clone(),
                action: "rejoin",
                reason,
                remove_etcd_member: None,
            });
            continue;
        }
        let line = match control_plane_refusal(h, healthy_cps, quorum.as_mut()) {
            Some(why) => RepairLine {
                host: h.host.clone(),
                action: "refused",
                reason: format!("{reason}: {why}"),
                remove_etcd_member: None,
            },
            None => RepairLine {
                host: h.host.clone(),
                action: "rejoin",
                reason,
                remove_etcd_member: h.etcd_member.clone(),
            },
        };
        cps.push(line);
    }
    let mut hosts = workers;
    hosts.extend(cps);
    hosts.extend(down);
    if refused.is_some() {
        for h in hosts.iter_mut().filter(|h| h.action == "rejoin") {
            h.action = "refused";
        }
    }
    RepairPlan { hosts, refused }
}

/// Why the unhealthy control plane `h` cannot be taken out now, if it cannot; otherwise
/// `quorum` is updated as if its member were removed and joined again as a healthy one.
fn control_plane_refusal(
    h: &HostHealth,
    healthy_cps: usize,
    quorum: Option<&mut Quorum>,
) -> Option<String> {
    if healthy_cps == 0 {
        return Some(
            "no healthy control plane is left to join it through: restore the cluster from a backup (kubeadm-cluster restore)"
                .into(),
        );
    }
    let (Some(q), Some(_)) = (quorum, &h.etcd_member) else {
        return None;
    };
    let member_healthy = !h.failed("etcd");
    let voting_after = q.voting.saturating_sub(1);
    let healthy_after = q.healthy - usize::from(member_healthy);
    if voting_after == 0 || healthy_after < Quorum::needed(voting_after) {
        return Some(format!(
            "removing its etcd member would leave etcd without quorum ({healthy_after} healthy of {voting_after} voting members, {} needed)",
            Quorum::needed(voting_after.max(1))
        ));
    }
    // Joined again, it is a healthy voting member once more.
    if !member_healthy {
        q.healthy += 1;
    }
    None
}

/// `kubeadm-cluster repair`: checks, plans, and (unless `dry_run`, once `confirmed`
/// says so) repairs; returns the plan and, when it ran, the last apply's report.
pub async fn repair(
    c: &Cluster,
    s: &Settings,
    dry_run: bool,
    confirmed: impl FnOnce(&RepairPlan) -> anyhow::Result<()>,
) -> anyhow::Result<(Health, RepairPlan, Option<Report>)> {
    let mut checked = check::observe(c, s).await?;
    let p = plan(c, &checked.health, &checked.observed);
    print!("{}", checked.health.text());
    print!("\n{}", p.text());
    if dry_run || !p.changes_anything() {
        close_all(&mut checked.nodes).await;
        return Ok((checked.health, p, None));
    }
    if let Err(e) = confirmed(&p) {
        close_all(&mut checked.nodes).await;
        return Err(e);
    }
    let health = checked.health.clone();
    let mut nodes = checked.nodes;
    let state = checked.observed.state().cloned().unwrap_or_default();
    let index = |label: &str| health.hosts.iter().position(|h| h.host == label);
    let reset_cfg = documents::reset(c)?;
    let mut last = None;
    // The workers are taken out first, the control planes then one at a time, each
    // joined again (with the workers, the first time) before the next is taken out.
    let mut control_planes = 0;
    for line in p.hosts.iter().filter(|l| l.action == "rejoin") {
        let Some(i) = index(&line.host) else { continue };
        let node = health.hosts[i].node.clone();
        let r = nodes[i].remote.clone().expect("a reachable host");
        let Some(admin) = admin_of(&nodes, &health, i).await else {
            close_all(&mut nodes).await;
            anyhow::bail!(
                "no healthy control plane gave its admin.conf to repair {} through",
                line.host
            );
        };
        let control_plane = nodes[i].host.role == Role::ControlPlane;
        if let (true, Some(id)) = (control_plane, &line.remove_etcd_member) {
            say(
                &nodes[i].host,
                format_args!("removing its etcd member {id} through a healthy member"),
            );
            if let Err(e) = remove_member(&nodes, &health, i, id, &state).await {
                close_all(&mut nodes).await;
                return Err(e);
            }
        }
        if let Err(e) = take_out(c, &nodes[i], &r, &admin, &node, reset_cfg.as_deref()).await {
            close_all(&mut nodes).await;
            return Err(e.context(format!("repairing {}", line.host)));
        }
        if control_plane {
            control_planes += 1;
            let report = rejoin(c, s).await?;
            let failed = report.any_failed();
            last = Some(report);
            if failed {
                break;
            }
        }
    }
    close_all(&mut nodes).await;
    if control_planes == 0 {
        last = Some(rejoin(c, s).await?);
    }
    Ok((health, p, last))
}

/// The admin kubeconfig of a healthy control plane other than host `not`.
async fn admin_of(nodes: &[Node], health: &Health, not: usize) -> Option<Vec<u8>> {
    for (i, (n, h)) in nodes.iter().zip(&health.hosts).enumerate() {
        if i == not || n.host.role != Role::ControlPlane || !h.healthy() {
            continue;
        }
        let Some(r) = &n.remote else { continue };
        if let Ok(a) = cluster::read_file(r, cluster::ADMIN_CONF).await {
            return Some(a);
        }
    }
    None
}

/// Removes etcd member `id` (hex) through the healthy members, from here, with the etcd
/// client certificate of a healthy control plane.
async fn remove_member(
    nodes: &[Node],
    health: &Health,
    target: usize,
    id: &str,
    state: &cluster::ClusterState,
) -> anyhow::Result<()> {
    let id_num = u64::from_str_radix(id, 16)
        .map_err(|_| anyhow::anyhow!("etcd member id {id} is not hex"))?;
    let mut files = None;
    let mut endpoints = Vec::new();
    for (i, (n, h)) in nodes.iter().zip(&health.hosts).enumerate() {
        if i == target || n.host.role != Role::ControlPlane || h.failed("etcd") || !h.reachable() {
            continue;
        }
        if let Some(m) = state
            .etcd_members
            .as_ref()
            .and_then(|ms| ms.iter().find(|m| Some(&m.id) == h.etcd_member.as_ref()))
        {
            endpoints.extend(m.client_urls.iter().cloned());
        }
        if files.is_none() {
            if let Some(r) = &n.remote {
                files = cluster::etcd_client_files(r).await.ok();
            }
        }
    }
    let Some((ca, cert, key)) = files else {
        anyhow::bail!(
            "no healthy control plane gave its etcd client certificate to remove member {id} with"
        );
    };
    if endpoints.is_empty() {
        anyhow::bail!("no healthy etcd member to remove member {id} through");
    }
    tokio::task::spawn_blocking(move || {
        let mut etcd = kubeadm::etcd::EtcdClient::connect_pem(&endpoints, &ca, &cert, &key)
            .map_err(|why| anyhow::anyhow!("no healthy etcd member answers from here: {why}"))?;
        if etcd.member_list()?.iter().any(|m| m.id == id_num) {
            etcd.remove(id_num)?;
        }
        anyhow::Ok(())
    })
    .await
    .map_err(|e| anyhow::anyhow!("removing etcd member {id}: {e}"))?
}

/// Deletes host `n`'s Node and resets it.
async fn take_out(
    c: &Cluster,
    n: &Node,
    r: &Arc<Remote>,
    admin: &[u8],
    node: &str,
    reset_cfg: Option<&str>,
) -> anyhow::Result<()> {
    let admin = admin.to_vec();
    let name = node.to_string();
    say(&n.host, format_args!("deleting its Node {node}"));
    tokio::task::spawn_blocking(move || {
        let (client, server) = cluster::admin_client(&admin)?;
        let path = format!("/api/v1/nodes/{name}");
        match client.call("DELETE", &path, None, "application/json") {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(anyhow::anyhow!("DELETE {path} at {server}: {e}")),
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("deleting the Node {node}: {e}"))??;
    say(&n.host, "kubeadm reset -f");
    kubeadm(r, &c.kubeadm_path, &["reset", "-f"], reset_cfg).await?;
    Ok(())
}

/// Joins again every host that is no node: an `apply` run, planned afresh.
async fn rejoin(c: &Cluster, s: &Settings) -> anyhow::Result<Report> {
    say_as(
        "repair",
        "joining the repaired hosts again (kubeadm-cluster apply)",
    );
    let planned = super::plan(c, s).await?;
    print!("{}", planned.text(c));
    planned.execute(c).await
}

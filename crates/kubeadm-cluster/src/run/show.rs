//! A plan as the user reads it: what the cluster is (from its API server and etcd), then
//! a table of the hosts in the order the run takes them, each with its action, its Node
//! as the API shows it, and why; or the same as one JSON document.

use serde::Serialize;

use super::cluster::{ClusterState, NodeState, Observed};
use super::plan::Action;
use super::{label, Outcome, Planned};
use crate::escape;
use crate::facts::Facts;
use crate::manifests::{self, Object};
use crate::spec::{Cluster, Host, Role};

/// The Node name `h` (the file's `i`th host, `first` when it is the first control plane)
/// registers as: the file's nodeName, else the one the shared configuration names, else
/// the host's name in lower case, as kubeadm takes it.
pub(super) fn node_name(c: &Cluster, h: &Host, first: bool, facts: Option<&Facts>) -> String {
    if let Some(n) = &h.node_name {
        return n.clone();
    }
    let shared = if first {
        c.kubeadm
            .init
            .as_ref()
            .map(|i| i.node_registration.name.clone())
    } else {
        c.kubeadm
            .join
            .as_ref()
            .map(|j| j.node_registration.name.clone())
    };
    shared
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| facts.map(|f| f.hostname.to_lowercase()).unwrap_or_default())
}

/// One host's line of the plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HostLine {
    host: String,
    address: String,
    role: String,
    action: Action,
    /// Its place in the run; hosts of one step run at once.
    step: Option<usize>,
    install_kubeadm: bool,
    reason: Option<String>,
    /// Its Node as the API server shows it, when it has one.
    node: Option<NodeState>,
}

/// What the plan says about the cluster itself.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterLine {
    exists: bool,
    first_control_plane: String,
    /// Why the API could not be read, when it could not.
    api_error: Option<String>,
    #[serde(flatten)]
    state: Option<ClusterState>,
}

/// The manifests' step.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestsLine {
    /// Its place in the run.
    step: usize,
    field_manager: &'static str,
    /// The objects, in the order they are applied.
    objects: Vec<Object>,
}

/// The whole plan, as `-o json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanDocument {
    file: String,
    cluster: ClusterLine,
    hosts: Vec<HostLine>,
    /// The manifests, when they are applied.
    manifests: Option<ManifestsLine>,
    /// Nodes of the cluster no host of the file is: left alone.
    other_nodes: Vec<String>,
}

fn document(c: &Cluster, p: &Planned) -> PlanDocument {
    let state = p.observed.state();
    let hosts: Vec<HostLine> = p
        .actions
        .hosts
        .iter()
        .map(|a| {
            let n = &p.nodes[a.host];
            let name = node_name(c, &n.host, a.host == p.plan.primary, n.facts.as_ref());
            let reason = a.why.clone().or_else(|| match &n.outcome {
                Some(Outcome::Failed(why)) => Some(why.clone()),
                _ => None,
            });
            HostLine {
                host: label(&n.host),
                address: n.host.address.clone(),
                role: n.host.role.to_string(),
                action: a.action,
                step: a.step,
                install_kubeadm: a.install,
                reason,
                node: state.and_then(|s| s.node(&name)).cloned(),
            }
        })
        .collect();
    let names: Vec<String> = p
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| node_name(c, &n.host, i == p.plan.primary, n.facts.as_ref()))
        .collect();
    let other_nodes = state
        .map(|s| {
            s.nodes
                .iter()
                .filter(|n| !names.contains(&n.name))
                .map(|n| n.name.clone())
                .collect()
        })
        .unwrap_or_default();
    PlanDocument {
        file: c.file.clone(),
        cluster: ClusterLine {
            exists: p.plan.pin.is_some(),
            first_control_plane: label(&c.hosts[p.plan.primary]),
            api_error: match &p.observed {
                Observed::Unreadable(why) => Some(why.clone()),
                _ => None,
            },
            state: state.cloned(),
        },
        hosts,
        manifests: p.actions.manifests.map(|step| ManifestsLine {
            step,
            field_manager: manifests::FIELD_MANAGER,
            objects: p.objects.clone(),
        }),
        other_nodes,
    }
}

/// The plan as JSON.
pub(super) fn json(c: &Cluster, p: &Planned) -> serde_json::Value {
    serde_json::to_value(document(c, p)).expect("a plan is JSON")
}

fn word(a: Action) -> &'static str {
    match a {
        Action::Init => "init",
        Action::Join => "join",
        Action::Unchanged => "unchanged",
        Action::Remove => "remove",
        Action::Upgrade => "upgrade",
        Action::Refused => "REFUSED",
        Action::Skipped => "skipped",
        Action::Unreachable => "UNREACHABLE",
    }
}

/// The plan as text: the cluster, then one line per host; what hosts and the file say
/// is escaped.
pub(super) fn text(c: &Cluster, p: &Planned) -> String {
    let d = document(c, p);
    let mut s = format!("\nPlan for {}:\n", d.file);
    let first = &d.cluster.first_control_plane;
    match (&p.observed, &d.cluster.state) {
        (Observed::NoCluster, _) => s.push_str(&format!(
            "  the cluster does not exist yet: kubeadm init makes it on {first}\n"
        )),
        (Observed::Unreadable(why), _) => s.push_str(&format!(
            "  the cluster exists (its files are on {first}), but its API cannot be read from here: {why}\n"
        )),
        (Observed::Read(_), Some(st)) => {
            s.push_str(&format!(
                "  the cluster, read from {} through the admin.conf of {first}:\n",
                st.server
            ));
            let versions: Vec<String> = st
                .control_plane
                .iter()
                .map(|v| format!("{} on {}", v.version, v.node))
                .collect();
            s.push_str(&format!(
                "    control plane: {}\n",
                if versions.is_empty() {
                    "no API server mirror Pod".to_string()
                } else {
                    versions.join(", ")
                }
            ));
            let ready = st.nodes.iter().filter(|n| n.ready == Some(true)).count();
            s.push_str(&format!(
                "    Nodes: {}, {ready} Ready\n",
                st.nodes.len()
            ));
            match (&st.etcd_members, &st.etcd_error) {
                (Some(m), _) => {
                    let names: Vec<String> = m
                        .iter()
                        .map(|m| {
                            let name = if m.name.is_empty() {
                                format!("{} (not started)", m.id)
                            } else {
                                m.name.clone()
                            };
                            match (m.learner, m.healthy || m.name.is_empty()) {
                                (true, _) => format!("{name} (learner)"),
                                (false, false) => format!("{name} (not answering)"),
                                (false, true) => name,
                            }
                        })
                        .collect();
                    s.push_str(&format!("    etcd members: {}\n", names.join(", ")));
                }
                (None, Some(why)) => s.push_str(&format!("    etcd members: not read: {why}\n")),
                (None, None) => {}
            }
        }
        (Observed::Read(_), None) => {}
    }
    if !d.other_nodes.is_empty() {
        s.push_str(&format!(
            "  Nodes no host of this file is, left alone: {}\n",
            d.other_nodes.join(", ")
        ));
    }
    let w = d
        .hosts
        .iter()
        .map(|h| h.host.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let nodes: Vec<String> = d
        .hosts
        .iter()
        .map(|h| {
            h.node
                .as_ref()
                .map(NodeState::summary)
                .unwrap_or("-".into())
        })
        .collect();
    let nw = nodes.iter().map(String::len).max().unwrap_or(4).max(4);
    s.push_str(&format!(
        "\n{:<4}  {:<w$}  {:<13}  {:<11}  {:<nw$}  DETAIL\n",
        "STEP", "HOST", "ROLE", "ACTION", "NODE"
    ));
    for (h, node) in d.hosts.iter().zip(&nodes) {
        let mut detail = Vec::new();
        if h.install_kubeadm {
            detail.push(format!("kubeadm installed first at {}", c.kubeadm_path));
        }
        if h.action == Action::Join && h.role == Role::ControlPlane.to_string() {
            detail.push("joins as a control plane (one at a time)".into());
        }
        if h.action == Action::Remove {
            detail.push(format!(
                "cordon, drain (up to {}), kubeadm reset -f, delete the Node",
                kubeadm::duration::format_duration(c.drain_timeout)
            ));
        }
        if let Some(r) = &h.reason {
            detail.push(r.clone());
        }
        if h.action == Action::Upgrade && !h.reason.as_deref().unwrap_or("").contains("uncordoned")
        {
            detail.push(format!(
                "cordon, drain, {}restart the kubelet, wait until Ready (up to {}), uncordon",
                if c.hooks.kubelet_upgrade.is_some() {
                    "hooks.kubeletUpgrade, "
                } else {
                    ""
                },
                kubeadm::duration::format_duration(c.node_ready_timeout)
            ));
        }
        s.push_str(&format!(
            "{:<4}  {:<w$}  {:<13}  {:<11}  {:<nw$}  {}\n",
            h.step.map(|n| n.to_string()).unwrap_or("-".into()),
            h.host,
            h.role,
            word(h.action),
            node,
            detail.join("; ")
        ));
    }
    if let Some(m) = &d.manifests {
        s.push_str(&format!(
            "\nstep {}: the manifests, applied server-side (field manager {}) through the admin.conf of {first}; nothing is deleted:\n",
            m.step, m.field_manager
        ));
        let w = m
            .objects
            .iter()
            .map(|o| o.describe().len())
            .max()
            .unwrap_or(0);
        for o in &m.objects {
            s.push_str(&format!("  {:<w$}  {}\n", o.describe(), o.place()));
        }
    }
    escape::controls(&s).into_owned()
}

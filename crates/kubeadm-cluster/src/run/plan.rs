//! What `apply` does, decided from the hosts' facts before anything changes: a list of
//! steps in the order they run, each naming its hosts, and from them each host's action.
//! A host that ends before a step (it failed, or an earlier step ended it) is passed over
//! by that step.

use super::cluster::{ClusterState, Observed};
use super::observe::{same_machine, Binary, Found};
use super::show::node_name;
use crate::facts::Facts;
use crate::spec::{Cluster, Role};

/// One step of `apply`; hosts are indices into the file's hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// The host fails, for `why`, without anything run on it.
    Refuse { host: usize, why: String },
    /// kubeadm is installed on these hosts (theirs differs), several at once.
    Install { hosts: Vec<usize> },
    /// The run ends here: every host not yet ended is skipped, for `why`.
    Stop { why: String },
    /// The host is left as it is; `why` is said on its line.
    Keep { host: usize, why: &'static str },
    /// The host holds an unfinished join to this cluster: it is joined again (join's
    /// preflight reuses what the earlier attempt wrote).
    Rejoin { host: usize },
    /// Preflight on these hosts at once; one failing ends the run with nothing changed.
    Preflight { hosts: Vec<usize> },
    /// `kubeadm init` on the first control plane (the certificates uploaded when a
    /// control plane is left to join).
    Init { host: usize },
    /// A bootstrap token (and the certificates uploaded, when a control plane is left to
    /// join) on the first control plane of the existing cluster, when a host is left to
    /// join.
    PrepareJoins { host: usize },
    /// These control planes join, one at a time (each adds an etcd member); after one
    /// fails, the rest are skipped.
    JoinControlPlanes { hosts: Vec<usize> },
    /// These workers join, `parallelJoins` at once; one failing does not stop the others.
    JoinWorkers { hosts: Vec<usize> },
    /// The add-on manifests are applied through the admin kubeconfig of this host, the
    /// first control plane.
    Manifests { host: usize },
    /// These hosts are taken out of the cluster, one at a time (workers first, then
    /// control planes); after one fails, the rest are skipped.
    Remove { hosts: Vec<usize> },
    /// The rolling upgrade to `version`: `kubeadm upgrade plan` as a check on the first
    /// control plane (`check`, when a node is upgraded), then the control planes one at a
    /// time, then the workers `batch` at a time; the first failure stops the run.
    Upgrade {
        version: String,
        check: Option<usize>,
        control_planes: Vec<(usize, Upgrade)>,
        workers: Vec<(usize, Upgrade)>,
        batch: usize,
    },
}

/// What a rolling upgrade does to one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Upgrade {
    /// The first control plane: `kubeadm upgrade apply`.
    Apply,
    /// Any other node: `kubeadm upgrade node`.
    Node,
    /// At the version already, left cordoned by an earlier run: uncordoned.
    Uncordon,
}

impl Upgrade {
    /// What the plan says about it.
    pub(super) fn describe(self, version: &str) -> String {
        match self {
            Upgrade::Apply => format!("kubeadm upgrade apply {version}"),
            Upgrade::Node => format!("kubeadm upgrade node to {version}"),
            Upgrade::Uncordon => {
                format!("at {version} already, left cordoned by an earlier upgrade: uncordoned")
            }
        }
    }
}

/// What a plan does to one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Action {
    /// `kubeadm init` makes the cluster here.
    Init,
    /// The host joins the cluster, as its role says.
    Join,
    /// The host is taken out of the cluster.
    Remove,
    /// The node is upgraded to the file's Kubernetes version (or uncordoned, when an
    /// earlier upgrade left it so).
    Upgrade,
    /// Nothing is done (kubeadm may be installed).
    Unchanged,
    /// The host fails without anything run on it.
    Refused,
    /// The host is not attempted: the run stops before it.
    Skipped,
    /// The host could not be reached or read.
    Unreachable,
}

impl Action {
    /// Whether the host ends failed (or not done) when the plan runs.
    pub(super) fn fails(self) -> bool {
        matches!(
            self,
            Action::Refused | Action::Skipped | Action::Unreachable
        )
    }

    /// Whether the host changes.
    pub(super) fn changes(self) -> bool {
        matches!(
            self,
            Action::Init | Action::Join | Action::Remove | Action::Upgrade
        )
    }
}

/// One host's part of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostAction {
    /// Its index in the file's hosts.
    pub(super) host: usize,
    /// What is done to it.
    pub(super) action: Action,
    /// Its place in the run, from 1; hosts of one number run at once (the workers).
    /// `None` when nothing runs there.
    pub(super) step: Option<usize>,
    /// kubeadm is installed there first.
    pub(super) install: bool,
    /// Why, when it says more than the action.
    pub(super) why: Option<String>,
}

/// The hosts' actions in the order of the run, and the place of the manifests in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Numbered {
    /// Each host's action: those that run first, in their order, then the others in the
    /// file's order.
    pub(super) hosts: Vec<HostAction>,
    /// The step the manifests are applied at, when they are.
    pub(super) manifests: Option<usize>,
}

/// The steps of `apply`, and the cluster they build on.
#[derive(Debug)]
pub(super) struct Plan {
    /// The first control plane (see [`Found`]).
    pub(super) primary: usize,
    /// The cluster's CA pin, when it exists already.
    pub(super) pin: Option<String>,
    /// In order.
    pub(super) steps: Vec<Step>,
}

impl Plan {
    /// Each host's action, those that run first in their order, then the others in the
    /// file's order, and the manifests' step; `reachable` says which hosts' facts were
    /// read.
    pub(super) fn actions(&self, reachable: &[bool]) -> Numbered {
        let n = reachable.len();
        let mut decided: Vec<Option<HostAction>> = vec![None; n];
        let mut install = vec![false; n];
        let mut rejoin = vec![false; n];
        let mut step = 0;
        let mut manifests = None;
        let act = |host: usize, action: Action, step: Option<usize>, why: Option<String>| {
            Some(HostAction {
                host,
                action,
                step,
                install: false,
                why,
            })
        };
        for s in &self.steps {
            match s {
                Step::Refuse { host, why } => {
                    decided[*host] = act(*host, Action::Refused, None, Some(why.clone()))
                }
                Step::Install { hosts } => hosts.iter().for_each(|&i| install[i] = true),
                Step::Stop { why } => {
                    for (i, d) in decided.iter_mut().enumerate() {
                        if reachable[i] && d.is_none() {
                            *d = act(i, Action::Skipped, None, Some(why.clone()));
                        }
                    }
                }
                Step::Keep { host, why } => {
                    decided[*host] = act(*host, Action::Unchanged, None, Some(why.to_string()))
                }
                Step::Rejoin { host } => rejoin[*host] = true,
                Step::Preflight { .. } | Step::PrepareJoins { .. } => {}
                Step::Manifests { .. } => {
                    step += 1;
                    manifests = Some(step);
                }
                Step::Remove { hosts } => {
                    for &i in hosts {
                        step += 1;
                        decided[i] = act(i, Action::Remove, Some(step), None);
                    }
                }
                Step::Upgrade {
                    version,
                    control_planes,
                    workers,
                    batch,
                    ..
                } => {
                    for &(i, u) in control_planes {
                        step += 1;
                        decided[i] = act(i, Action::Upgrade, Some(step), Some(u.describe(version)));
                    }
                    for (k, &(i, u)) in workers.iter().enumerate() {
                        if k % batch.max(&1) == 0 {
                            step += 1;
                        }
                        decided[i] = act(i, Action::Upgrade, Some(step), Some(u.describe(version)));
                    }
                }
                Step::Init { host } => {
                    step += 1;
                    decided[*host] = act(*host, Action::Init, Some(step), None);
                }
                Step::JoinControlPlanes { hosts } | Step::JoinWorkers { hosts } => {
                    // Control planes one at a time, workers at once.
                    let at_once = matches!(s, Step::JoinWorkers { .. });
                    for (k, &i) in hosts.iter().enumerate() {
                        if k == 0 || !at_once {
                            step += 1;
                        }
                        let why = rejoin[i]
                            .then(|| "an unfinished join to this cluster: joining again".into());
                        decided[i] = act(i, Action::Join, Some(step), why);
                    }
                }
            }
        }
        // A host no step decides about could not be read.
        let mut out: Vec<HostAction> = decided
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let mut a = a
                    .or_else(|| act(i, Action::Unreachable, None, None))
                    .expect("set");
                a.install = install[i];
                a
            })
            .collect();
        // Stable: hosts of one step, and those outside the run, stay in the file's order.
        out.sort_by_key(|a| a.step.unwrap_or(usize::MAX));
        Numbered {
            hosts: out,
            manifests,
        }
    }
}

/// Plans `apply` from the hosts' `facts` (in the file's order, `None` for a host that
/// could not be read), the cluster they show, the binary to install, whether there are
/// manifests to apply, and the cluster as its API showed it.
pub(super) fn apply(
    c: &Cluster,
    facts: &[Option<&Facts>],
    found: &Found,
    binary: &Binary,
    manifests: bool,
    observed: &Observed,
) -> Plan {
    let mut steps = Vec::new();
    // Hosts with nothing more to do in this run.
    let mut done: Vec<bool> = facts.iter().map(|f| f.is_none()).collect();

    // A binary for another architecture is not installed.
    if let Some(want) = binary.arch {
        for (i, f) in facts.iter().enumerate() {
            let Some(f) = f else { continue };
            if !same_machine(want, &f.arch) {
                steps.push(Step::Refuse {
                    host: i,
                    why: format!(
                        "the host is {have}, the kubeadm binary {} is built for {want}: give a kubeadm for {have} with --kubeadm-binary",
                        binary.path.display(),
                        have = f.arch
                    ),
                });
                done[i] = true;
            }
        }
    }

    // The hosts marked for removal; a removal that would break the control plane stops
    // the run before anything changes.
    let removals = removals(c, facts, found, observed, &done);
    for (i, why) in removals.keep {
        steps.push(Step::Keep { host: i, why });
        done[i] = true;
    }
    for (i, why) in removals.refuse {
        steps.push(Step::Refuse { host: i, why });
        done[i] = true;
    }
    if let Some(why) = removals.stop {
        steps.push(Step::Stop { why });
        return Plan {
            primary: found.primary,
            pin: found.pin.clone(),
            steps,
        };
    }
    for &i in &removals.remove {
        done[i] = true;
    }

    // The rolling upgrade; a downgrade stops the run before anything changes.
    let upgrade = match upgrade(c, facts, found, observed, &done) {
        Ok(u) => u,
        Err(why) => {
            steps.push(Step::Refuse {
                host: found.primary,
                why,
            });
            steps.push(Step::Stop {
                why: "the upgrade was refused; nothing was changed".into(),
            });
            return Plan {
                primary: found.primary,
                pin: found.pin.clone(),
                steps,
            };
        }
    };
    if let Some(Step::Upgrade {
        control_planes,
        workers,
        ..
    }) = &upgrade
    {
        for &(i, _) in control_planes.iter().chain(workers) {
            done[i] = true;
        }
    }

    // kubeadm, where the host's differs (hosts to remove need it for their reset).
    let install: Vec<usize> = (0..c.hosts.len())
        .filter(|&i| {
            (!done[i] || removals.remove.contains(&i))
                && facts[i].and_then(|f| f.kubeadm_sha256.as_deref()) != Some(&binary.sha)
        })
        .collect();
    steps.push(Step::Install { hosts: install });

    let primary = found.primary;
    if facts[primary].is_none() {
        steps.push(Step::Stop {
            why: format!(
                "the first control plane {} cannot be reached",
                super::label(&c.hosts[primary])
            ),
        });
        return Plan {
            primary,
            pin: found.pin.clone(),
            steps,
        };
    }

    for (i, step) in decide_each(c, facts, found, &done) {
        if matches!(step, Step::Keep { .. } | Step::Refuse { .. }) {
            done[i] = true;
        }
        steps.push(step);
    }

    // Every host left, the first control plane too when init runs there.
    let left = |role: Option<Role>| -> Vec<usize> {
        (0..c.hosts.len())
            .filter(|&i| !done[i] && role.is_none_or(|r| c.hosts[i].role == r))
            .collect()
    };
    let joining = left(None);
    steps.push(Step::Preflight {
        hosts: joining.clone(),
    });
    match found.pin {
        None => steps.push(Step::Init { host: primary }),
        // A token only when a host is left to join.
        Some(_) if !joining.is_empty() => steps.push(Step::PrepareJoins { host: primary }),
        Some(_) => {}
    }
    // Once the first control plane is up, before the nodes join (a pod network among
    // them lets the nodes turn Ready as they come).
    if manifests {
        steps.push(Step::Manifests { host: primary });
    }
    // The nodes there are move to the new version before new ones join.
    steps.extend(upgrade);
    let mut control_planes = left(Some(Role::ControlPlane));
    control_planes.retain(|&i| i != primary);
    steps.push(Step::JoinControlPlanes {
        hosts: control_planes,
    });
    steps.push(Step::JoinWorkers {
        hosts: left(Some(Role::Worker)),
    });
    if !removals.remove.is_empty() {
        steps.push(Step::Remove {
            hosts: removals.remove,
        });
    }
    Plan {
        primary,
        pin: found.pin.clone(),
        steps,
    }
}

/// The rolling upgrade the file asks for, if any: the nodes whose control plane or
/// kubelet runs a version older than the file's `kubernetesVersion` (control planes in the
/// file's order, the first one first; then the workers), and those an earlier upgrade left
/// cordoned at that version. Fails (the run stops before anything changes) when the
/// cluster runs a newer version than the file's: kubeadm-cluster does not downgrade.
fn upgrade(
    c: &Cluster,
    facts: &[Option<&Facts>],
    found: &Found,
    observed: &Observed,
    done: &[bool],
) -> Result<Option<Step>, String> {
    use kubeadm::upgrade::semver::KubeVersion;
    let (Some(state), Some(_)) = (observed.state(), &found.pin) else {
        return Ok(None);
    };
    let Some(given) = c
        .kubeadm
        .cluster
        .as_ref()
        .map(|cc| cc.kubernetes_version.as_str())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    // A release label (stable-1.37) is resolved by kubeadm at init; only a version is
    // compared with the cluster's.
    let Some(target) = KubeVersion::parse(given) else {
        return Ok(None);
    };
    let version = target.to_string();
    // Everything the cluster runs, compared with the target.
    let mut newer: Vec<String> = Vec::new();
    for v in &state.control_plane {
        if KubeVersion::parse(&v.version).is_some_and(|k| k > target) {
            newer.push(format!("the API server on {} runs {}", v.node, v.version));
        }
    }
    for n in &state.nodes {
        if let Some(v) = &n.kubelet_version {
            if KubeVersion::parse(v).is_some_and(|k| k > target) {
                newer.push(format!("the kubelet of Node {} is {v}", n.name));
            }
        }
    }
    if !newer.is_empty() {
        let more = match newer.len() {
            0..=2 => String::new(),
            n => format!(", and {} more", n - 2),
        };
        newer.truncate(2);
        return Err(format!(
            "the file's kubernetesVersion {version} is older than what the cluster runs ({}{more}): kubeadm-cluster does not downgrade; set kubernetesVersion to the cluster's version or newer",
            newer.join(", ")
        ));
    }
    let behind = |v: Option<&str>| v.and_then(KubeVersion::parse).is_some_and(|k| k < target);
    let mut control_planes = Vec::new();
    let mut workers = Vec::new();
    // The first control plane first, then the others in the file's order.
    let order =
        std::iter::once(found.primary).chain((0..c.hosts.len()).filter(|&i| i != found.primary));
    for i in order {
        let h = &c.hosts[i];
        let Some(f) = facts[i] else { continue };
        let same = f.ca_pin == found.pin;
        if done[i] || h.remove || !same || !f.kubelet_conf {
            continue;
        }
        if h.role == Role::ControlPlane && !f.apiserver_manifest {
            continue;
        }
        let name = node_name(c, h, i == found.primary, Some(f));
        let Some(node) = state.node(&name) else {
            continue;
        };
        let apiserver = state
            .control_plane
            .iter()
            .find(|v| v.node == name)
            .map(|v| v.version.as_str());
        let control_plane_behind = h.role == Role::ControlPlane && behind(apiserver);
        let kind = if control_plane_behind || behind(node.kubelet_version.as_deref()) {
            if i == found.primary && control_plane_behind {
                Upgrade::Apply
            } else {
                Upgrade::Node
            }
        } else if node.unschedulable && node.upgrade_cordoned.is_some() {
            Upgrade::Uncordon
        } else {
            continue;
        };
        match h.role {
            Role::ControlPlane => control_planes.push((i, kind)),
            Role::Worker => workers.push((i, kind)),
        }
    }
    if control_planes.is_empty() && workers.is_empty() {
        return Ok(None);
    }
    let upgrades = control_planes
        .iter()
        .chain(&workers)
        .any(|(_, u)| *u != Upgrade::Uncordon);
    Ok(Some(Step::Upgrade {
        version,
        check: upgrades.then_some(found.primary),
        control_planes,
        workers,
        batch: c.max_unavailable,
    }))
}

/// What becomes of the hosts marked `remove`.
#[derive(Debug, Default)]
struct Removals {
    /// Taken out, in this order: workers, then control planes from the last joined.
    remove: Vec<usize>,
    /// Not nodes of the cluster: nothing to do.
    keep: Vec<(usize, &'static str)>,
    /// Refused, and why.
    refuse: Vec<(usize, String)>,
    /// The run stops before anything changes, for this reason.
    stop: Option<String>,
}

/// Decides the removals: a host that is no node of the cluster is left as it is; a
/// control plane is taken out only when at least one stays and etcd keeps its quorum
/// (counted from the members that answered when the cluster was read).
fn removals(
    c: &Cluster,
    facts: &[Option<&Facts>],
    found: &Found,
    observed: &Observed,
    done: &[bool],
) -> Removals {
    let mut out = Removals::default();
    let state = observed.state();
    let mut names = Vec::new();
    for (i, h) in c.hosts.iter().enumerate() {
        let Some(f) = facts[i].filter(|_| h.remove && !done[i]) else {
            continue;
        };
        let name = node_name(c, h, i == found.primary, Some(f));
        let node = state.and_then(|s| s.node(&name));
        let ours = found.pin.is_some() && f.ca_pin == found.pin && f.any_state;
        if found.pin.is_none() || (node.is_none() && !ours) {
            out.keep
                .push((i, "not a node of this cluster: nothing to remove"));
        } else if state.is_none() {
            out.refuse.push((
                i,
                "the cluster's API cannot be read from here (see above): draining the node and deleting its Node need it".into(),
            ));
        } else {
            out.remove.push(i);
            names.push(name);
        }
    }
    let (Some(state), false) = (state, out.remove.is_empty()) else {
        return out;
    };
    let cps: Vec<(usize, String)> = out
        .remove
        .iter()
        .zip(&names)
        .filter(|(&i, _)| c.hosts[i].role == Role::ControlPlane)
        .map(|(&i, n)| (i, n.clone()))
        .collect();
    // Workers first, then the control planes in the reverse of their join order.
    let mut order: Vec<usize> = out
        .remove
        .iter()
        .copied()
        .filter(|&i| c.hosts[i].role == Role::Worker)
        .collect();
    order.extend(cps.iter().rev().map(|(i, _)| *i));
    out.remove = order;
    if cps.is_empty() {
        return out;
    }
    let external = c
        .kubeadm
        .cluster
        .as_ref()
        .is_some_and(|cc| cc.etcd.external.is_some());
    if let Some(why) = control_plane_removal_refused(state, &cps, external) {
        for (i, _) in &cps {
            out.refuse.push((*i, why.clone()));
        }
        out.remove.clear();
        out.stop = Some("removing a control plane was refused; nothing was changed".into());
    }
    out
}

/// Why taking the control planes `cps` (host, Node name) out is refused, if it is: no
/// control plane would be left, or etcd would be left without quorum.
fn control_plane_removal_refused(
    state: &ClusterState,
    cps: &[(usize, String)],
    external_etcd: bool,
) -> Option<String> {
    let gone = |n: &str| cps.iter().any(|(_, c)| c == n);
    let listed: Vec<&str> = cps.iter().map(|(_, n)| n.as_str()).collect();
    let listed = listed.join(", ");
    let remaining = state
        .nodes
        .iter()
        .filter(|n| n.control_plane && !gone(&n.name))
        .count();
    if remaining == 0 {
        return Some(format!(
            "removing {listed} would leave the cluster without a control plane: the last control plane is never removed (kubeadm-cluster reset tears the whole cluster down)"
        ));
    }
    if external_etcd {
        return None;
    }
    let Some(members) = &state.etcd_members else {
        return Some(format!(
            "etcd's members could not be read ({}): removing a control plane needs them counted, to keep etcd's quorum",
            state.etcd_error.as_deref().unwrap_or("no answer")
        ));
    };
    let voting: Vec<_> = members.iter().filter(|m| !m.learner).collect();
    let after: Vec<_> = voting.iter().filter(|m| !gone(&m.name)).collect();
    let answering = after.iter().filter(|m| m.healthy).count();
    let quorum = after.len() / 2 + 1;
    if answering < quorum {
        let silent: Vec<&str> = after
            .iter()
            .filter(|m| !m.healthy)
            .map(|m| {
                if m.name.is_empty() {
                    m.id.as_str()
                } else {
                    m.name.as_str()
                }
            })
            .collect();
        return Some(format!(
            "removing {listed} would leave etcd without quorum: of the {} voting members left, {answering} answer{} and {quorum} are needed (not answering: {}); bring the members back first",
            after.len(),
            if answering == 1 { "s" } else { "" },
            silent.join(", ")
        ));
    }
    None
}

/// What each host's facts decide against the cluster found, in the file's order: the
/// hosts already in it are kept, those of another cluster refused, an unfinished join to
/// it joined again. Hosts in `done` are passed over.
fn decide_each(
    c: &Cluster,
    facts: &[Option<&Facts>],
    found: &Found,
    done: &[bool],
) -> Vec<(usize, Step)> {
    let mut steps = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        let Some(f) = f else { continue };
        if done[i] {
            continue;
        }
        let same = found.pin.is_some() && f.ca_pin == found.pin;
        let step = if i == found.primary {
            // Without the cluster, init runs here; what an interrupted init left is its
            // preflight's to judge (it reuses what this configuration wrote).
            if found.pin.is_none() {
                continue;
            }
            Step::Keep {
                host: i,
                why: "the cluster exists here",
            }
        } else if same && !f.kubelet_conf {
            Step::Rejoin { host: i }
        } else if f.kubelet_conf && same {
            if c.hosts[i].role == Role::ControlPlane && !f.apiserver_manifest {
                Step::Refuse {
                    host: i,
                    why: "the host is a worker of this cluster, not a control plane; reset it (kubeadm reset -f) to join it as a control plane".into(),
                }
            } else {
                Step::Keep {
                    host: i,
                    why: "already a node of this cluster",
                }
            }
        } else if f.kubelet_conf || f.ca_pin.is_some() {
            Step::Refuse {
                host: i,
                why: format!(
                    "the host holds the files of {}: /etc/kubernetes/pki/ca.crt is not this cluster's CA; reset it first (kubeadm reset -f on the host, or kubeadm-cluster reset with a file listing it)",
                    if f.kubelet_conf { "another cluster's node" } else { "another cluster" }
                ),
            }
        } else {
            continue;
        };
        steps.push((i, step));
    }
    steps
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::run::observe::find_cluster;

    fn cluster() -> Cluster {
        Cluster::parse(
            "apiVersion: kubeadm-rs.io/v1alpha1
kind: Cluster
hosts:
- {address: 10.0.0.10, role: control-plane, nodeName: cp-1}
- {address: 10.0.0.11, role: control-plane, nodeName: cp-2}
- {address: 10.0.0.12, role: worker, nodeName: w-1}
- {address: 10.0.0.13, role: worker, nodeName: w-2}
controlPlaneEndpoint: lb.example:6443
",
            "cluster.yaml",
        )
        .unwrap()
    }

    fn binary(arch: Option<&'static str>) -> Binary {
        Binary {
            path: PathBuf::from("/opt/kubeadm"),
            bytes: Arc::new(Vec::new()),
            sha: "1".repeat(64),
            arch,
        }
    }

    fn host(arch: &str, kubeadm: bool) -> Facts {
        Facts {
            arch: arch.into(),
            kubeadm_sha256: kubeadm.then(|| "1".repeat(64)),
            ..Facts::default()
        }
    }

    fn pinned(mut f: Facts, pin: &str, kubelet_conf: bool, apiserver: bool) -> Facts {
        f.ca_pin = Some(pin.into());
        f.kubelet_conf = kubelet_conf;
        f.apiserver_manifest = apiserver;
        f.admin_conf = apiserver;
        f.any_state = true;
        f
    }

    fn plan(facts: &[Option<Facts>], b: &Binary) -> Plan {
        let c = cluster();
        let facts: Vec<Option<&Facts>> = facts.iter().map(Option::as_ref).collect();
        let found = find_cluster(&c, &facts);
        apply(&c, &facts, &found, b, false, &Observed::NoCluster)
    }

    #[test]
    fn a_new_cluster_is_installed_checked_initialised_and_joined_in_that_order() {
        let p = plan(
            &[
                Some(host("x86_64", false)),
                Some(host("x86_64", true)),
                Some(host("x86_64", false)),
                None,
            ],
            &binary(Some("x86_64")),
        );
        assert_eq!(p.primary, 0);
        assert_eq!(p.pin, None);
        assert_eq!(
            p.steps,
            [
                Step::Install { hosts: vec![0, 2] },
                Step::Preflight {
                    hosts: vec![0, 1, 2]
                },
                Step::Init { host: 0 },
                Step::JoinControlPlanes { hosts: vec![1] },
                Step::JoinWorkers { hosts: vec![2] },
            ]
        );
        let acts = p.actions(&[true, true, true, false]).hosts;
        let seen: Vec<_> = acts
            .iter()
            .map(|a| (a.host, a.action, a.step, a.install))
            .collect();
        assert_eq!(
            seen,
            [
                (0, Action::Init, Some(1), true),
                (1, Action::Join, Some(2), false),
                (2, Action::Join, Some(3), true),
                (3, Action::Unreachable, None, false),
            ]
        );
    }

    #[test]
    fn an_existing_cluster_keeps_its_nodes_rejoins_the_unfinished_and_refuses_strangers() {
        let cp2 = host("x86_64", true);
        let p = plan(
            &[
                Some(cp2.clone()),
                Some(pinned(host("x86_64", true), "ours", true, true)),
                Some(pinned(host("x86_64", true), "ours", false, false)),
                Some(pinned(host("x86_64", true), "theirs", true, false)),
            ],
            &binary(Some("x86_64")),
        );
        // The cluster's files are on cp-2: it is the first control plane.
        assert_eq!(p.primary, 1);
        assert_eq!(p.pin.as_deref(), Some("ours"));
        assert_eq!(p.steps[0], Step::Install { hosts: vec![] });
        assert_eq!(
            p.steps[1],
            Step::Keep {
                host: 1,
                why: "the cluster exists here"
            }
        );
        assert_eq!(p.steps[2], Step::Rejoin { host: 2 });
        assert!(
            matches!(&p.steps[3], Step::Refuse { host: 3, why } if why.contains("another cluster's node")),
            "{:?}",
            p.steps[3]
        );
        assert_eq!(
            p.steps[4..],
            [
                Step::Preflight { hosts: vec![0, 2] },
                Step::PrepareJoins { host: 1 },
                Step::JoinControlPlanes { hosts: vec![0] },
                Step::JoinWorkers { hosts: vec![2] },
            ]
        );
        // The joins in their order, then the hosts nothing runs on, in the file's order.
        let acts = p.actions(&[true; 4]).hosts;
        let seen: Vec<_> = acts.iter().map(|a| (a.host, a.action, a.step)).collect();
        assert_eq!(
            seen,
            [
                (0, Action::Join, Some(1)),
                (2, Action::Join, Some(2)),
                (1, Action::Unchanged, None),
                (3, Action::Refused, None),
            ]
        );
        assert_eq!(
            acts[1].why.as_deref(),
            Some("an unfinished join to this cluster: joining again")
        );
        assert_eq!(acts[2].why.as_deref(), Some("the cluster exists here"));
        assert!(acts.iter().any(|a| a.action.changes()));
        assert!(acts[3].action.fails() && !acts[2].action.fails());
    }

    #[test]
    fn manifests_are_applied_once_the_first_control_plane_is_up_before_the_joins() {
        let c = cluster();
        let fresh = host("x86_64", true);
        let facts = [Some(&fresh), Some(&fresh), Some(&fresh), Some(&fresh)];
        let found = find_cluster(&c, &facts);
        let p = apply(
            &c,
            &facts,
            &found,
            &binary(None),
            true,
            &Observed::NoCluster,
        );
        let at = |want: &Step| p.steps.iter().position(|s| s == want).unwrap();
        let manifests = at(&Step::Manifests { host: 0 });
        assert_eq!(manifests, at(&Step::Init { host: 0 }) + 1);
        assert!(manifests < at(&Step::JoinControlPlanes { hosts: vec![1] }));
        let n = p.actions(&[true; 4]);
        assert_eq!(n.manifests, Some(2));
        let steps: Vec<_> = n.hosts.iter().map(|a| (a.host, a.step)).collect();
        assert_eq!(
            steps,
            [(0, Some(1)), (1, Some(3)), (2, Some(4)), (3, Some(4))]
        );
        // An existing cluster with nothing to join: the manifests are the only step.
        let joined = pinned(host("x86_64", true), "ours", true, true);
        let worker = pinned(host("x86_64", true), "ours", true, false);
        let facts = [Some(&joined), Some(&joined), Some(&worker), Some(&worker)];
        let found = find_cluster(&c, &facts);
        let n = apply(
            &c,
            &facts,
            &found,
            &binary(None),
            true,
            &Observed::NoCluster,
        )
        .actions(&[true; 4]);
        assert_eq!(n.manifests, Some(1));
        assert!(n.hosts.iter().all(|a| a.action == Action::Unchanged));
    }

    #[test]
    fn a_worker_of_the_cluster_listed_as_a_control_plane_is_refused() {
        let p = plan(
            &[
                Some(pinned(host("x86_64", true), "ours", true, true)),
                Some(pinned(host("x86_64", true), "ours", true, false)),
                Some(pinned(host("x86_64", true), "ours", true, false)),
                Some(host("x86_64", true)),
            ],
            &binary(Some("x86_64")),
        );
        assert!(
            matches!(&p.steps[2], Step::Refuse { host: 1, why } if why.contains("not a control plane")),
            "{:?}",
            p.steps
        );
        assert_eq!(
            p.steps[3],
            Step::Keep {
                host: 2,
                why: "already a node of this cluster"
            }
        );
        assert_eq!(p.steps[4], Step::Preflight { hosts: vec![3] });
    }

    #[test]
    fn an_unreachable_first_control_plane_stops_the_run_after_the_installs() {
        let p = plan(
            &[None, Some(host("x86_64", false)), None, None],
            &binary(Some("x86_64")),
        );
        assert_eq!(
            p.steps,
            [
                Step::Install { hosts: vec![1] },
                Step::Stop {
                    why: "the first control plane cp-1 cannot be reached".into()
                },
            ]
        );
        let acts = p.actions(&[false, true, false, false]).hosts;
        assert_eq!(acts[1].action, Action::Skipped);
        assert_eq!(
            acts[1].why.as_deref(),
            Some("the first control plane cp-1 cannot be reached")
        );
        assert_eq!(acts[0].action, Action::Unreachable);
        assert!(acts.iter().all(|a| a.step.is_none()));
    }

    #[test]
    fn a_host_of_another_architecture_is_refused_before_the_installs() {
        let p = plan(
            &[
                Some(host("x86_64", false)),
                Some(host("aarch64", false)),
                Some(host("x86_64", false)),
                Some(host("x86_64", false)),
            ],
            &binary(Some("x86_64")),
        );
        assert!(
            matches!(&p.steps[0], Step::Refuse { host: 1, why }
                if why == "the host is aarch64, the kubeadm binary /opt/kubeadm is built for x86_64: give a kubeadm for aarch64 with --kubeadm-binary"),
            "{:?}",
            p.steps[0]
        );
        assert_eq!(
            p.steps[1],
            Step::Install {
                hosts: vec![0, 2, 3]
            }
        );
        assert_eq!(p.steps[3], Step::Init { host: 0 });
        assert_eq!(p.steps[4], Step::JoinControlPlanes { hosts: vec![] });
        // A binary that is not ELF is installed everywhere.
        let p = plan(
            &[
                Some(host("x86_64", false)),
                Some(host("aarch64", false)),
                None,
                None,
            ],
            &binary(None),
        );
        assert_eq!(p.steps[0], Step::Install { hosts: vec![0, 1] });
    }
}

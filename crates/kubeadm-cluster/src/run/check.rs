//! `check`: how healthy every host of the cluster is, read without changing anything.
//! Per host: SSH, the kubelet's health endpoint, its Node's Ready condition, its cluster
//! files (the CA and kubelet.conf match the cluster's), and for a control plane the
//! health endpoints of its components and its etcd member (present, started, voting,
//! healthy). The health endpoints are asked on the host itself, over the SSH connection,
//! at the addresses and ports its static Pod manifests give (as kubeadm's own wait for
//! the control plane asks them). `repair` acts on what this finds.

use std::time::SystemTime;

use serde::Serialize;

use super::cluster::{self, ClusterState, EtcdMemberState, Observed};
use super::observe::{connect_all, find_cluster, Node};
use super::show::node_name;
use super::{label, Settings};
use crate::escape;
use crate::spec::{Cluster, Role};
use crate::ssh::Remote;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Healthy.
    Ok,
    /// Unhealthy: `check` exits 1 and `repair` acts.
    Failed,
    /// Could not be told (the cluster's API unreadable, no HTTP client on the host).
    Unknown,
}

/// One check of a host (or of the whole cluster).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `ssh`, `kubelet`, `node`, `files`, `control-plane`, `etcd`
    /// (and `api`, `etcd-members` for the cluster).
    pub name: &'static str,
    /// How it ended.
    pub status: Status,
    /// What was seen.
    pub detail: String,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
        }
    }

    fn failed(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Failed,
            detail: detail.into(),
        }
    }

    fn unknown(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Unknown,
            detail: detail.into(),
        }
    }
}

/// The health of one host.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostHealth {
    /// Its label (Node name from the file, else its address).
    pub host: String,
    /// Its address.
    pub address: String,
    /// The Node name it registers as.
    pub node: String,
    /// `control-plane` or `worker`.
    pub role: String,
    /// Its checks, in order.
    pub checks: Vec<Check>,
    /// Its etcd member's id (hex), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd_member: Option<String>,
}

impl HostHealth {
    /// No check failed.
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Failed)
    }

    /// SSH reached it.
    pub fn reachable(&self) -> bool {
        self.checks
            .iter()
            .any(|c| c.name == "ssh" && c.status == Status::Ok)
    }

    /// The failed checks, as `name: detail`.
    pub fn problems(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Failed)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect()
    }

    /// Whether the check named `name` failed.
    pub fn failed(&self, name: &str) -> bool {
        self.checks
            .iter()
            .any(|c| c.name == name && c.status == Status::Failed)
    }
}

/// The health of the cluster and each of its hosts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Checks of the cluster as a whole: its API, etcd members no host of the file has.
    pub cluster: Vec<Check>,
    /// The hosts, in the file's order.
    pub hosts: Vec<HostHealth>,
    /// Voting etcd members, and how many of them are healthy (stacked etcd only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd_quorum: Option<Quorum>,
}

/// The voting members of etcd and how many answer healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quorum {
    /// Voting members.
    pub voting: usize,
    /// Voting members whose host says they are healthy.
    pub healthy: usize,
}

impl Quorum {
    /// The members a cluster of `voting` members needs to make progress.
    pub fn needed(voting: usize) -> usize {
        voting / 2 + 1
    }

    /// Whether etcd keeps quorum after the unhealthy member of a host is removed: the
    /// healthy members are still a majority of the members left.
    pub fn survives_removing_an_unhealthy_member(&self) -> bool {
        self.voting > 1
            && self.healthy < self.voting
            && self.healthy >= Quorum::needed(self.voting - 1)
    }
}

impl Health {
    /// Nothing failed.
    pub fn healthy(&self) -> bool {
        self.cluster.iter().all(|c| c.status != Status::Failed)
            && self.hosts.iter().all(HostHealth::healthy)
    }

    /// The report as text: the cluster's checks, then a table of the hosts, with each
    /// unhealthy host's problems below it.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.cluster {
            s.push_str(&format!(
                "cluster {}: {} {}\n",
                c.name,
                word(c.status),
                c.detail
            ));
        }
        if let Some(q) = &self.etcd_quorum {
            s.push_str(&format!(
                "etcd: {} of {} voting members healthy (quorum needs {})\n",
                q.healthy,
                q.voting,
                Quorum::needed(q.voting)
            ));
        }
        let w = self
            .hosts
            .iter()
            .map(|h| h.host.len())
            .max()
            .unwrap_or(4)
            .max(4);
        s.push_str(&format!("\n{:<w$}  {:<13}  RESULT\n", "HOST", "ROLE"));
        for h in &self.hosts {
            s.push_str(&format!(
                "{:<w$}  {:<13}  {}\n",
                h.host,
                h.role,
                if h.healthy() { "healthy" } else { "UNHEALTHY" }
            ));
        }
        for h in &self.hosts {
            for c in &h.checks {
                if c.status != Status::Ok {
                    s.push_str(&format!(
                        "\n{} {} {}: {}",
                        h.host,
                        c.name,
                        word(c.status),
                        c.detail
                    ));
                }
            }
        }
        s.push('\n');
        escape::controls(&s).into_owned()
    }
}

fn word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Failed => "FAILED",
        Status::Unknown => "unknown",
    }
}

/// What `check` read, kept for `repair`: the connections and the cluster's state.
pub(super) struct Checked {
    pub(super) nodes: Vec<Node>,
    pub(super) observed: Observed,
    pub(super) health: Health,
}

/// Connects to every host at once and checks it; nothing changes on any host.
pub(super) async fn observe(c: &Cluster, s: &Settings) -> anyhow::Result<Checked> {
    let nodes = connect_all(c, s).await;
    let facts: Vec<_> = nodes.iter().map(|n| n.facts.as_ref()).collect();
    let found = find_cluster(c, &facts);
    let external = c
        .kubeadm
        .cluster
        .as_ref()
        .is_some_and(|cc| cc.etcd.external.is_some());
    let observed = match (&found.pin, &nodes[found.primary].remote) {
        (Some(_), Some(r)) => cluster::observe(r.clone(), external).await,
        _ => Observed::NoCluster,
    };
    // Every reachable host's health endpoints, at once.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, n) in nodes.iter().enumerate() {
        if let (Some(r), None) = (&n.remote, &n.outcome) {
            let r = r.clone();
            tasks.spawn(async move { (i, probe(&r).await) });
        }
    }
    let mut probes: Vec<Option<anyhow::Result<Probe>>> = (0..nodes.len()).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, p) = done.expect("a health task");
        probes[i] = Some(p);
    }
    let mut cluster_checks = Vec::new();
    match &observed {
        Observed::NoCluster => cluster_checks.push(Check::failed(
            "api",
            "no control plane of the file holds the cluster's files (admin.conf, the API server's manifest, the CA): run kubeadm-cluster apply",
        )),
        Observed::Unreadable(why) => cluster_checks.push(Check::failed("api", why.clone())),
        Observed::Read(st) => cluster_checks.push(Check::ok("api", format!("read from {}", st.server))),
    }
    let state = observed.state();
    let now = SystemTime::now();
    let mut hosts = Vec::new();
    for (i, (n, p)) in nodes.iter().zip(probes).enumerate() {
        let first = i == found.primary;
        let node = node_name(c, &n.host, first, n.facts.as_ref());
        hosts.push(host_health(
            n,
            &node,
            p,
            found.pin.as_deref(),
            state,
            external,
            now,
        ));
    }
    let mut etcd_quorum = None;
    if let (false, Some(st)) = (external, state) {
        match &st.etcd_members {
            Some(members) => {
                let voting: Vec<&EtcdMemberState> = members.iter().filter(|m| !m.learner).collect();
                let healthy = voting
                    .iter()
                    .filter(|m| {
                        hosts.iter().any(|h| {
                            h.etcd_member.as_deref() == Some(m.id.as_str()) && !h.failed("etcd")
                        })
                    })
                    .count();
                etcd_quorum = Some(Quorum {
                    voting: voting.len(),
                    healthy,
                });
                let strangers: Vec<String> = members
                    .iter()
                    .filter(|m| {
                        !hosts
                            .iter()
                            .any(|h| h.etcd_member.as_deref() == Some(m.id.as_str()))
                    })
                    .map(|m| {
                        if m.name.is_empty() {
                            format!("{} (not started)", m.id)
                        } else {
                            format!("{} ({})", m.id, m.name)
                        }
                    })
                    .collect();
                if strangers.is_empty() {
                    cluster_checks.push(Check::ok(
                        "etcd-members",
                        format!(
                            "{} members, each of a control plane of the file",
                            members.len()
                        ),
                    ));
                } else {
                    cluster_checks.push(Check::failed(
                        "etcd-members",
                        format!(
                            "etcd has members of no control plane of the file: {} (a member that never answers counts against quorum; remove it with etcdctl member remove)",
                            strangers.join(", ")
                        ),
                    ));
                }
            }
            None => cluster_checks.push(Check::unknown(
                "etcd-members",
                st.etcd_error.clone().unwrap_or_default(),
            )),
        }
    }
    Ok(Checked {
        nodes,
        observed,
        health: Health {
            cluster: cluster_checks,
            hosts,
            etcd_quorum,
        },
    })
}

/// `kubeadm-cluster check`: every host's health; the connections are closed.
pub async fn check(c: &Cluster, s: &Settings) -> anyhow::Result<Health> {
    let mut checked = observe(c, s).await?;
    super::execute::close_all(&mut checked.nodes).await;
    Ok(checked.health)
}

/// What a host's health script printed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Probe {
    /// Each endpoint asked: (what, HTTP status or `000` for no answer or `none` for no
    /// client on the host, the URL).
    endpoints: Vec<(String, String, String)>,
    /// kubelet.conf's `certificate-authority-data`, when it has one.
    kubeconfig_ca: Option<String>,
    /// kubelet.conf's client certificate file, when it names one that is missing.
    kubeconfig_cert_missing: Option<String>,
    /// The static Pod manifests found.
    manifests: Vec<String>,
    /// etcd's peer URL, from its manifest.
    etcd_peer: Option<String>,
}

impl Probe {
    fn endpoint(&self, what: &str) -> Option<(&str, &str)> {
        self.endpoints
            .iter()
            .find(|(w, _, _)| w == what)
            .map(|(_, code, url)| (code.as_str(), url.as_str()))
    }
}

/// The components of a control plane and the health path each answers on.
const COMPONENTS: [&str; 4] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
];

/// The script that asks a host's health endpoints: the kubelet's, and each control-plane
/// component's whose manifest is there, at the address and port its manifest gives.
/// POSIX sh; curl or wget asks (neither: `none`).
pub(super) const PROBE_SCRIPT: &str = r#"M=/etc/kubernetes/manifests
K=/etc/kubernetes/kubelet.conf
probe() {
  if command -v curl >/dev/null 2>&1; then
    c=$(curl -sk -o /dev/null -m 5 -w '%{http_code}' "$2" 2>/dev/null)
    [ -n "$c" ] || c=000
  elif command -v wget >/dev/null 2>&1; then
    if wget -q -T 5 --no-check-certificate -O /dev/null "$2" 2>/dev/null; then c=200; else c=000; fi
  else
    c=none
  fi
  echo "probe=$1 $c $2"
}
flag() { sed -n "s/^ *- --$2=//p" "$M/$1.yaml" 2>/dev/null | head -n 1; }
addr() { case "$1" in ''|0.0.0.0|::) echo 127.0.0.1 ;; *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }
probe kubelet http://127.0.0.1:10248/healthz
if [ -f "$K" ]; then
  echo "kubeconfig-ca=$(sed -n 's/^ *certificate-authority-data: *//p' "$K" | head -n 1)"
  cc=$(sed -n 's/^ *client-certificate: *//p' "$K" | head -n 1)
  if [ -n "$cc" ] && [ ! -f "$cc" ]; then echo "kubeconfig-cert-missing=$cc"; fi
fi
for m in kube-apiserver kube-controller-manager kube-scheduler etcd; do
  if [ -f "$M/$m.yaml" ]; then echo "manifest=$m"; fi
done
if [ -f "$M/kube-apiserver.yaml" ]; then
  p=$(flag kube-apiserver secure-port)
  probe kube-apiserver "https://$(addr "$(flag kube-apiserver advertise-address)"):${p:-6443}/livez"
fi
if [ -f "$M/kube-controller-manager.yaml" ]; then
  p=$(flag kube-controller-manager secure-port)
  probe kube-controller-manager "https://$(addr "$(flag kube-controller-manager bind-address)"):${p:-10257}/healthz"
fi
if [ -f "$M/kube-scheduler.yaml" ]; then
  p=$(flag kube-scheduler secure-port)
  probe kube-scheduler "https://$(addr "$(flag kube-scheduler bind-address)"):${p:-10259}/livez"
fi
if [ -f "$M/etcd.yaml" ]; then
  u=$(flag etcd listen-metrics-urls | cut -d, -f1)
  echo "etcd-peer=$(flag etcd initial-advertise-peer-urls | cut -d, -f1)"
  probe etcd "${u:-http://127.0.0.1:2381}/health"
fi
exit 0
"#;

/// The longest a host's health answer is read (a few lines are expected).
const MAX_PROBE_OUTPUT: usize = 64 * 1024;

async fn probe(r: &Remote) -> anyhow::Result<Probe> {
    let out = r.run(PROBE_SCRIPT, None).await?;
    if !out.success() {
        anyhow::bail!("the health script failed: {}", out.tail(3));
    }
    if out.stdout.len() > MAX_PROBE_OUTPUT {
        anyhow::bail!(
            "the health script printed {} bytes, more than the {MAX_PROBE_OUTPUT} it can",
            out.stdout.len()
        );
    }
    Ok(parse_probe(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses what [`PROBE_SCRIPT`] printed.
pub(super) fn parse_probe(out: &str) -> Probe {
    let mut p = Probe::default();
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "probe" => {
                let mut w = v.splitn(3, ' ');
                if let (Some(what), Some(code), Some(url)) = (w.next(), w.next(), w.next()) {
                    p.endpoints
                        .push((what.to_string(), code.to_string(), url.to_string()));
                }
            }
            "kubeconfig-ca" if !v.trim().is_empty() => p.kubeconfig_ca = Some(v.trim().to_string()),
            "kubeconfig-cert-missing" => p.kubeconfig_cert_missing = Some(v.to_string()),
            "manifest" => p.manifests.push(v.to_string()),
            "etcd-peer" if !v.is_empty() => p.etcd_peer = Some(v.to_string()),
            _ => {}
        }
    }
    p
}

/// What an endpoint's answer says: healthy, or why not.
fn endpoint_answer(code: &str, url: &str) -> Result<(), String> {
    match code {
        "200" => Ok(()),
        "000" => Err(format!("{url} does not answer")),
        "none" => Err(format!(
            "{url} could not be asked: the host has neither curl nor wget"
        )),
        c => Err(format!("{url} answered HTTP {c}")),
    }
}

fn host_health(
    n: &Node,
    node: &str,
    probe: Option<anyhow::Result<Probe>>,
    pin: Option<&str>,
    state: Option<&ClusterState>,
    external_etcd: bool,
    now: SystemTime,
) -> HostHealth {
    let mut h = HostHealth {
        host: label(&n.host),
        address: n.host.address.clone(),
        node: node.to_string(),
        role: n.host.role.to_string(),
        checks: Vec::new(),
        etcd_member: None,
    };
    let (Some(facts), None) = (&n.facts, &n.outcome) else {
        let why = match &n.outcome {
            Some(super::Outcome::Failed(why)) => why.clone(),
            _ => "not reached".to_string(),
        };
        h.checks.push(Check::failed("ssh", why));
        return h;
    };
    h.checks.push(Check::ok("ssh", "connected"));
    let probe = match probe {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            h.checks.push(Check::unknown(
                "kubelet",
                format!("the host's health endpoints could not be asked: {e:#}"),
            ));
            Probe::default()
        }
        None => Probe::default(),
    };
    // The kubelet.
    match probe.endpoint("kubelet") {
        Some(("none", url)) => h.checks.push(Check::unknown(
            "kubelet",
            format!("{url} could not be asked: the host has neither curl nor wget"),
        )),
        Some((code, url)) => h.checks.push(match endpoint_answer(code, url) {
            Ok(()) => Check::ok("kubelet", format!("{url} answers ok")),
            Err(why) => Check::failed("kubelet", format!("not running: {why}")),
        }),
        None => {}
    }
    // The Node.
    match state {
        Some(st) => h.checks.push(match st.node(node) {
            None => Check::failed("node", format!("the cluster has no Node named {node}")),
            Some(ns) => match ns.ready {
                Some(true) => Check::ok("node", "Ready"),
                Some(false) | None => {
                    let since = ns
                        .ready_since
                        .as_deref()
                        .and_then(|t| {
                            time::OffsetDateTime::parse(
                                t,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .ok()
                        })
                        .and_then(|t| now.duration_since(SystemTime::from(t)).ok())
                        .map(|d| {
                            format!(
                                " for {}",
                                kubeadm::duration::format_duration(std::time::Duration::from_secs(
                                    d.as_secs()
                                ))
                            )
                        })
                        .unwrap_or_default();
                    match ns.ready {
                        Some(false) => Check::failed("node", format!("NotReady{since}")),
                        _ => {
                            Check::failed("node", "its kubelet has not reported a Ready condition")
                        }
                    }
                }
            },
        }),
        None => h.checks.push(Check::unknown(
            "node",
            "the cluster's API could not be read (see the cluster's checks)",
        )),
    }
    // The cluster's files.
    h.checks.push(files_check(facts, &probe, pin));
    if n.host.role == Role::ControlPlane {
        let mut bad = Vec::new();
        let mut unknown = Vec::new();
        for comp in COMPONENTS {
            if comp == "etcd" && external_etcd {
                continue;
            }
            if !probe.manifests.iter().any(|m| m == comp) {
                bad.push(format!(
                    "{comp}: no static Pod manifest /etc/kubernetes/manifests/{comp}.yaml"
                ));
                continue;
            }
            if comp == "etcd" {
                continue;
            }
            match probe.endpoint(comp) {
                Some(("none", url)) => unknown.push(format!(
                    "{comp}: {url} could not be asked: the host has neither curl nor wget"
                )),
                Some((code, url)) => {
                    if let Err(why) = endpoint_answer(code, url) {
                        bad.push(format!("{comp}: {why}"));
                    }
                }
                None => unknown.push(format!("{comp}: not asked")),
            }
        }
        h.checks.push(if !bad.is_empty() {
            Check::failed("control-plane", bad.join("; "))
        } else if !unknown.is_empty() {
            Check::unknown("control-plane", unknown.join("; "))
        } else {
            Check::ok(
                "control-plane",
                "kube-apiserver, kube-controller-manager and kube-scheduler answer ok",
            )
        });
        if !external_etcd {
            h.checks
                .push(etcd_check(&mut h.etcd_member, node, &probe, state));
        }
    }
    h
}

fn files_check(facts: &crate::facts::Facts, probe: &Probe, pin: Option<&str>) -> Check {
    let Some(pin) = pin else {
        return Check::unknown("files", "there is no cluster to compare with");
    };
    match &facts.ca_pin {
        None => return Check::failed("files", "/etc/kubernetes/pki/ca.crt is missing"),
        Some(p) if p != pin => {
            return Check::failed(
                "files",
                "/etc/kubernetes/pki/ca.crt is another cluster's CA (its public key differs from the first control plane's)",
            )
        }
        Some(_) => {}
    }
    if !facts.kubelet_conf {
        return Check::failed("files", "/etc/kubernetes/kubelet.conf is missing");
    }
    if let Some(missing) = &probe.kubeconfig_cert_missing {
        return Check::failed(
            "files",
            format!(
                "the client certificate /etc/kubernetes/kubelet.conf names, {missing}, is missing"
            ),
        );
    }
    match &probe.kubeconfig_ca {
        Some(data) => {
            use base64::Engine;
            let trusted = base64::engine::general_purpose::STANDARD
                .decode(data)
                .ok()
                .and_then(|pem| kubeadm::pki::public_key_pin_pem(&pem).ok());
            match trusted {
                Some(p) if p == pin => Check::ok("files", "the CA and kubelet.conf are the cluster's"),
                Some(_) => Check::failed(
                    "files",
                    "/etc/kubernetes/kubelet.conf trusts another CA than the cluster's",
                ),
                None => Check::failed(
                    "files",
                    "/etc/kubernetes/kubelet.conf's certificate-authority-data is not a certificate",
                ),
            }
        }
        // A kubelet.conf naming its CA by file: the host's ca.crt, checked above.
        None => Check::ok("files", "the CA and kubelet.conf are the cluster's"),
    }
}

fn etcd_check(
    id: &mut Option<String>,
    node: &str,
    probe: &Probe,
    state: Option<&ClusterState>,
) -> Check {
    let Some(st) = state else {
        return Check::unknown("etcd", "the cluster's API could not be read");
    };
    let Some(members) = &st.etcd_members else {
        return Check::unknown(
            "etcd",
            format!(
                "the etcd members could not be read: {}",
                st.etcd_error.as_deref().unwrap_or("no answer")
            ),
        );
    };
    // A member that has not started has no name yet: found by its peer URL.
    let member = members.iter().find(|m| m.name == node).or_else(|| {
        probe
            .etcd_peer
            .as_deref()
            .and_then(|u| members.iter().find(|m| m.peer_urls.iter().any(|p| p == u)))
    });
    let Some(m) = member else {
        return Check::failed("etcd", format!("etcd has no member named {node}"));
    };
    *id = Some(m.id.clone());
    if m.name.is_empty() {
        return Check::failed("etcd", format!("member {} has not started", m.id));
    }
    if m.learner {
        return Check::failed("etcd", format!("member {} is a learner, not voting", m.id));
    }
    match probe.endpoint("etcd") {
        Some(("none", url)) => Check::unknown(
            "etcd",
            format!(
                "member {} voting; {url} could not be asked: the host has neither curl nor wget",
                m.id
            ),
        ),
        Some((code, url)) => match endpoint_answer(code, url) {
            Ok(()) => Check::ok("etcd", format!("member {} voting, healthy", m.id)),
            Err(why) => Check::failed("etcd", format!("member {} is not healthy: {why}", m.id)),
        },
        None => Check::failed(
            "etcd",
            format!(
                "member {} is voting but its host has no etcd manifest",
                m.id
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_is_parsed_whatever_else_the_host_prints() {
        let p = parse_probe(
            "motd line\nprobe=kubelet 200 http://127.0.0.1:10248/healthz\nkubeconfig-ca=QUJD\nmanifest=etcd\netcd-peer=https://10.0.0.1:2380\nprobe=etcd 503 http://127.0.0.1:2381/health\nprobe=broken\n",
        );
        assert_eq!(
            p.endpoint("kubelet"),
            Some(("200", "http://127.0.0.1:10248/healthz"))
        );
        assert_eq!(
            p.endpoint("etcd"),
            Some(("503", "http://127.0.0.1:2381/health"))
        );
        assert_eq!(p.kubeconfig_ca.as_deref(), Some("QUJD"));
        assert_eq!(p.manifests, ["etcd"]);
        assert_eq!(p.etcd_peer.as_deref(), Some("https://10.0.0.1:2380"));
        assert_eq!(p.endpoint("kube-apiserver"), None);
        assert!(endpoint_answer("503", "u")
            .unwrap_err()
            .contains("HTTP 503"));
        assert!(endpoint_answer("000", "u")
            .unwrap_err()
            .contains("does not answer"));
    }

    #[test]
    fn quorum_allows_removing_a_broken_member_only_while_the_rest_are_a_majority() {
        // 3 members, 2 healthy: removing the broken one leaves 2 of 2.
        assert!(Quorum {
            voting: 3,
            healthy: 2
        }
        .survives_removing_an_unhealthy_member());
        // 3 members, 1 healthy: etcd has no quorum already.
        assert!(!Quorum {
            voting: 3,
            healthy: 1
        }
        .survives_removing_an_unhealthy_member());
        // 5 members, 3 healthy: 3 of 4 left.
        assert!(Quorum {
            voting: 5,
            healthy: 3
        }
        .survives_removing_an_unhealthy_member());
        // 1 member: nothing would be left.
        assert!(!Quorum {
            voting: 1,
            healthy: 0
        }
        .survives_removing_an_unhealthy_member());
        // All healthy: nothing to remove.
        assert!(!Quorum {
            voting: 3,
            healthy: 3
        }
        .survives_removing_an_unhealthy_member());
    }
}

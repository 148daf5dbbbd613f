//! The rolling upgrade of `apply`, nodes in the order of upstream's upgrade procedure:
//! `kubeadm upgrade plan` as a check on the first control plane, then each node in turn
//! (the first control plane with `kubeadm upgrade apply`, the other control planes one at
//! a time and the workers `maxUnavailable` at a time with `kubeadm upgrade node`). Each
//! node is cordoned and drained first, so nothing runs on it while its kubeadm upgrade
//! restarts its components; then the kubeadm upgrade, the file's `hooks.kubeletUpgrade`,
//! the kubelet restarted, its Node waited for until Ready at the new version, uncordon.
//! (Upstream's manual procedure drains after the kubeadm step and before the kubelet's
//! upgrade; draining first is the safer of the two and costs nothing more.) The first
//! failure stops the run, its Node left cordoned; a rerun plans from the cluster's state
//! again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kubeadm::client::Api;
use kubeadm::upgrade::semver::KubeVersion;

use super::execute::kubeadm;
use super::observe::Node;
use super::plan::Upgrade;
use super::{cluster, drain, label, redact, say, show, Outcome};
use crate::documents;
use crate::spec::{Cluster, Host};
use crate::ssh::{quote, Remote};

/// How many of the last lines of a hook's output are shown.
const HOOK_LINES: usize = 20;
/// How long a wait for the Node sleeps between looks.
const POLL: Duration = Duration::from_secs(1);

/// A node's step, as a failure names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Cordon,
    Drain,
    Kubeadm(Upgrade),
    Hook,
    Restart,
    Ready,
    Uncordon,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Cordon => "cordon",
            Stage::Drain => "drain",
            Stage::Kubeadm(Upgrade::Apply) => "kubeadm upgrade apply",
            Stage::Kubeadm(_) => "kubeadm upgrade node",
            Stage::Hook => "hooks.kubeletUpgrade",
            Stage::Restart => "kubelet restart",
            Stage::Ready => "wait for the Node",
            Stage::Uncordon => "uncordon",
        })
    }
}

/// A step of a node's upgrade made through the cluster's API (on a thread of its own: the
/// client blocks).
type ApiStep = Box<dyn FnOnce(&dyn Api) -> anyhow::Result<()> + Send>;

/// Runs the upgrade to `version` on the nodes given, the first control plane being
/// `primary`; returns why the run stops, when it does.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    c: &Arc<Cluster>,
    nodes: &mut [Node],
    primary: usize,
    version: &str,
    check: Option<usize>,
    control_planes: &[(usize, Upgrade)],
    workers: &[(usize, Upgrade)],
    batch: usize,
) -> Option<String> {
    let Some(pr) = nodes[primary].remote.clone() else {
        return Some("the first control plane cannot be reached".into());
    };
    let admin = match cluster::read_file(&pr, cluster::ADMIN_CONF).await {
        Ok(a) => Arc::new(a),
        Err(e) => {
            let why = format!("the upgrade cannot start: {e:#}");
            nodes[primary].end(Outcome::Failed(why));
            return Some("the first control plane's admin.conf could not be read".into());
        }
    };
    if let Some(cp) = check {
        let h = nodes[cp].host.clone();
        say(&h, format_args!("kubeadm upgrade plan {version}"));
        if let Err(e) = plan_check(c, &pr, version).await {
            nodes[cp].end(Outcome::Failed(format!("{e:#}")));
            return Some(format!(
                "the upgrade to {version} was refused on the first control plane {}; nothing was changed",
                label(&h)
            ));
        }
        say(&h, format_args!("the upgrade to {version} is possible"));
    }
    // The control planes one at a time, then the workers a batch at a time.
    let mut batches: Vec<Vec<(usize, Upgrade)>> = control_planes.iter().map(|&u| vec![u]).collect();
    batches.extend(workers.chunks(batch.max(1)).map(<[_]>::to_vec));
    for group in batches {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, kind) in group {
            let n = &nodes[i];
            let Some(r) = n.remote.clone().filter(|_| n.outcome.is_none()) else {
                continue;
            };
            let node = show::node_name(c, &n.host, i == primary, n.facts.as_ref());
            let (c, h, admin, version) = (
                c.clone(),
                n.host.clone(),
                admin.clone(),
                version.to_string(),
            );
            tasks.spawn(async move {
                let r = one(&c, &h, &r, &admin, &node, kind, &version).await;
                (i, node, kind, r)
            });
        }
        let mut failed: Vec<String> = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (i, node, kind, r) = done.expect("an upgrade task");
            match r {
                Ok(()) => {
                    let o = if kind == Upgrade::Uncordon {
                        Outcome::Uncordoned
                    } else {
                        Outcome::Upgraded
                    };
                    nodes[i].end(o);
                }
                Err((stage, e)) => {
                    let cordoned = !matches!(stage, Stage::Cordon);
                    nodes[i].end(Outcome::Failed(format!(
                        "upgrade to {version}: {stage} failed: {e:#}{}",
                        if cordoned {
                            format!("; Node {node} stays cordoned")
                        } else {
                            String::new()
                        }
                    )));
                    failed.push(format!("{} at {stage}", label(&nodes[i].host)));
                }
            }
        }
        if !failed.is_empty() {
            return Some(format!(
                "the upgrade of {} failed; a rolling upgrade stops at its first failure (a rerun goes on from the cluster's state)",
                failed.join(", ")
            ));
        }
    }
    None
}

/// `kubeadm upgrade plan <version>` on the first control plane: it fails, or warns of
/// what its skew policy makes `upgrade apply` refuse, and the upgrade is refused with
/// kubeadm's words.
async fn plan_check(c: &Cluster, r: &Remote, version: &str) -> anyhow::Result<()> {
    let cfg = documents::upgrade(c)?;
    let out = kubeadm(
        r,
        &c.kubeadm_path,
        &["upgrade", "plan", version],
        cfg.as_deref(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("kubeadm upgrade plan {version}: {e:#}"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    let refused: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("[upgrade/versions] WARNING: ").map(|(_, m)| m))
        .map(|m| m.trim_end_matches(" (upgrade apply needs --force for this)"))
        .collect();
    if !refused.is_empty() {
        anyhow::bail!(
            "kubeadm upgrade plan {version}: kubeadm's version skew policy refuses the upgrade: {}",
            redact(&refused.join("; "))
        );
    }
    Ok(())
}

/// One node's upgrade; fails with the step it stopped at.
async fn one(
    c: &Cluster,
    h: &Host,
    r: &Remote,
    admin: &Arc<Vec<u8>>,
    node: &str,
    kind: Upgrade,
    version: &str,
) -> Result<(), (Stage, anyhow::Error)> {
    let api = |stage: Stage, f: ApiStep| {
        let admin = admin.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let (client, _) = cluster::admin_client(&admin)?;
                f(&client)
            })
            .await
            .map_err(|e| (stage, anyhow::anyhow!("{e}")))?
            .map_err(|e| (stage, e))
        }
    };
    if kind != Upgrade::Uncordon {
        say(h, format_args!("upgrade: cordoning Node {node}"));
        let (n, v) = (node.to_string(), version.to_string());
        api(
            Stage::Cordon,
            Box::new(move |a| drain::set_upgrade_cordon(a, &n, Some(&v))),
        )
        .await?;
        say(h, format_args!("upgrade: draining Node {node}"));
        let (n, h2, timeout) = (node.to_string(), h.clone(), c.drain_timeout);
        api(
            Stage::Drain,
            Box::new(move |a| drain::drain(a, &n, timeout, &|line| say(&h2, line))),
        )
        .await?;
        let stage = Stage::Kubeadm(kind);
        let args: Vec<&str> = match kind {
            Upgrade::Apply => vec!["upgrade", "apply", version, "-y"],
            _ => vec!["upgrade", "node"],
        };
        say(h, format_args!("upgrade: kubeadm {}", args.join(" ")));
        let cfg = documents::upgrade(c).map_err(|e| (stage, e))?;
        kubeadm(r, &c.kubeadm_path, &args, cfg.as_deref())
            .await
            .map_err(|e| (stage, e))?;
        if let Some(hook) = &c.hooks.kubelet_upgrade {
            say(h, "upgrade: running hooks.kubeletUpgrade");
            run_hook(h, r, hook, version, node)
                .await
                .map_err(|e| (Stage::Hook, e))?;
        }
        say(h, "upgrade: systemctl restart kubelet");
        let out = r
            .run("systemctl restart kubelet", None)
            .await
            .map_err(|e| (Stage::Restart, e))?;
        if !out.success() {
            return Err((
                Stage::Restart,
                anyhow::anyhow!("systemctl restart kubelet: {}", redact(&out.tail(5))),
            ));
        }
        say(
            h,
            format_args!(
                "upgrade: waiting up to {} for Node {node} to be Ready at {version}",
                kubeadm::duration::format_duration(c.node_ready_timeout)
            ),
        );
        let (n, v, timeout) = (node.to_string(), version.to_string(), c.node_ready_timeout);
        api(
            Stage::Ready,
            Box::new(move |a| wait_ready(a, &n, &v, timeout)),
        )
        .await?;
    }
    say(h, format_args!("upgrade: uncordoning Node {node}"));
    let n = node.to_string();
    api(
        Stage::Uncordon,
        Box::new(move |a| drain::set_upgrade_cordon(a, &n, None)),
    )
    .await?;
    say(
        h,
        format_args!("upgrade: Node {node} is Ready at {version} and schedulable"),
    );
    Ok(())
}

/// The file's kubelet hook on the host, through the same runner as kubeadm (with sudo
/// for a login other than root), its last lines shown with this run's secrets hidden.
async fn run_hook(
    h: &Host,
    r: &Remote,
    hook: &str,
    version: &str,
    node: &str,
) -> anyhow::Result<()> {
    let script = format!(
        "KUBERNETES_VERSION={}; NODE_NAME={}; export KUBERNETES_VERSION NODE_NAME\n{hook}",
        quote(version),
        quote(node)
    );
    let out = r.run(&script, None).await?;
    let mut lines: Vec<String> = Vec::new();
    for text in [&out.stdout, &out.stderr] {
        lines.extend(
            String::from_utf8_lossy(text)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.chars().take(500).collect::<String>()),
        );
    }
    let shown = &lines[lines.len().saturating_sub(HOOK_LINES)..];
    if out.success() {
        for l in shown {
            say(h, format_args!("  {}", redact(l)));
        }
        return Ok(());
    }
    anyhow::bail!(
        "exited with {}:\n{}",
        out.code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "a signal".into()),
        shown
            .iter()
            .map(|l| format!("    {}", redact(l)))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// Waits until Node `node` is Ready with kubelet `version`, up to `timeout`.
fn wait_ready(api: &dyn Api, node: &str, version: &str, timeout: Duration) -> anyhow::Result<()> {
    let want = KubeVersion::parse(version);
    let deadline = Instant::now() + timeout;
    loop {
        let last = match api.call(
            "GET",
            &format!("/api/v1/nodes/{node}"),
            None,
            "application/json",
        ) {
            Ok(n) => {
                let have = n["status"]["nodeInfo"]["kubeletVersion"]
                    .as_str()
                    .unwrap_or_default();
                let ready = n["status"]["conditions"]
                    .as_array()
                    .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                    .is_some_and(|c| c["status"] == "True");
                if ready && KubeVersion::parse(have).is_some() && KubeVersion::parse(have) == want {
                    return Ok(());
                }
                format!(
                    "its kubelet reports {} and it is {}",
                    if have.is_empty() { "no version" } else { have },
                    if ready { "Ready" } else { "not Ready" }
                )
            }
            Err(e) => format!("reading it: {e}"),
        };
        if Instant::now() >= deadline {
            anyhow::bail!(
                "Node {node} was not Ready at {version} within nodeReadyTimeout ({}): {}; check that the kubelet upgrade installed kubelet {version} (hooks.kubeletUpgrade)",
                kubeadm::duration::format_duration(timeout),
                escape(&last)
            );
        }
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

/// What the server said, bounded.
fn escape(s: &str) -> String {
    s.chars().take(300).collect()
}

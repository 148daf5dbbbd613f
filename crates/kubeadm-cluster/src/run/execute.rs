//! Runs a plan: each step on its hosts, a line per host per step, one host's failure
//! reported against that host, and the table at the end.

use std::sync::Arc;

use super::observe::{Binary, Node};
use super::plan::{Plan, Step};
use super::{cluster, drain, hide, label, redact, say, say_as, show, HostResult, Outcome, Report};
use crate::archive::Backup;
use crate::documents::{self, Secrets, Trust};
use crate::facts;
use crate::manifests::{self, Object};
use crate::spec::{Cluster, Host, Role};
use crate::ssh::{self, quote, Remote};

/// Runs `plan` on `nodes` (as observed), with the manifests' `objects`, and reports how
/// every host (and the manifests) ended; with a backup to `restore`, it is put on the
/// first control plane right before init.
pub(super) async fn apply(
    c: &Cluster,
    nodes: Vec<Node>,
    plan: Plan,
    binary: &Binary,
    objects: Vec<Object>,
    restore: Option<Arc<Backup>>,
) -> anyhow::Result<Report> {
    let endpoint = documents::join_endpoint(c, &nodes[plan.primary].host);
    let manifests = (!objects.is_empty())
        .then(|| Outcome::Skipped("the run stopped before the first control plane was up".into()));
    let primary = plan.primary;
    let mut run = Run {
        c: Arc::new(c.clone()),
        nodes,
        pins: plan.pin.into_iter().collect(),
        secrets: None,
        endpoint,
        objects: Arc::new(objects),
        manifests,
        restore,
    };
    for step in plan.steps {
        let next = match step {
            Step::Refuse { host, why } => run.refuse(host, why),
            Step::Install { hosts } => run.install(&hosts, binary).await,
            Step::Stop { why } => Next::Stop(why),
            Step::Keep { host, why } => run.keep(host, why),
            Step::Rejoin { host } => run.rejoin(host),
            Step::Preflight { hosts } => run.preflight(&hosts).await?,
            Step::Init { host } => run.init(host).await?,
            Step::PrepareJoins { host } => run.prepare_joins(host).await?,
            Step::JoinControlPlanes { hosts } => run.join_control_planes(&hosts).await?,
            Step::JoinWorkers { hosts } => run.join_workers(&hosts).await?,
            Step::Manifests { host } => run.manifests(host).await,
            Step::Remove { hosts } => run.remove(&hosts, primary).await,
            Step::Upgrade {
                version,
                check,
                control_planes,
                workers,
                batch,
            } => match super::upgrade::run(
                &run.c,
                &mut run.nodes,
                primary,
                &version,
                check,
                &control_planes,
                &workers,
                batch,
            )
            .await
            {
                Some(why) => Next::Stop(why),
                None => Next::Go,
            },
        };
        if let Next::Stop(why) = next {
            let mut r = stop_here(run.nodes, &why).await;
            r.manifests = run.manifests;
            return Ok(r);
        }
    }
    close_all(&mut run.nodes).await;
    let mut r = report(run.nodes);
    r.manifests = run.manifests;
    Ok(r)
}

/// After a step: on to the next, or the run ends, for the reason given.
enum Next {
    Go,
    Stop(String),
}

/// A run of `apply` under way.
struct Run {
    c: Arc<Cluster>,
    nodes: Vec<Node>,
    /// The cluster's CA pin, once the cluster exists.
    pins: Vec<String>,
    /// This run's token and certificate key, made when first needed.
    secrets: Option<Secrets>,
    /// Where joining nodes find the API server.
    endpoint: String,
    /// The manifests' objects, in the order they are applied.
    objects: Arc<Vec<Object>>,
    /// How the manifests ended (`None` when there are none).
    manifests: Option<Outcome>,
    /// The backup `restore` puts on the first control plane before init.
    restore: Option<Arc<Backup>>,
}

impl Run {
    /// This run's secrets, made (and hidden from all output) the first time.
    fn secrets(&mut self) -> anyhow::Result<Secrets> {
        if let Some(s) = &self.secrets {
            return Ok(s.clone());
        }
        let s = Secrets::generate()?;
        hide(&s);
        self.secrets = Some(s.clone());
        Ok(s)
    }

    fn refuse(&mut self, host: usize, why: String) -> Next {
        let n = &mut self.nodes[host];
        if n.outcome.is_none() {
            n.end(Outcome::Failed(why));
        }
        Next::Go
    }

    fn keep(&mut self, host: usize, why: &str) -> Next {
        let n = &mut self.nodes[host];
        if n.outcome.is_none() {
            say(&n.host, why);
            n.end(Outcome::Unchanged);
        }
        Next::Go
    }

    fn rejoin(&mut self, host: usize) -> Next {
        let n = &self.nodes[host];
        if n.outcome.is_none() {
            say(&n.host, "an unfinished join to this cluster: joining again");
        }
        Next::Go
    }

    /// kubeadm, where the host's differs.
    async fn install(&mut self, hosts: &[usize], binary: &Binary) -> Next {
        let path = self.c.kubeadm_path.clone();
        on_each(&mut self.nodes, 16, hosts, |h, r| {
            let (bytes, sha, path) = (binary.bytes.clone(), binary.sha.clone(), path.clone());
            async move {
                install_kubeadm(&r, &path, &bytes, &sha).await?;
                say(
                    &h,
                    format_args!("installed kubeadm at {path} (sha256 {})", &sha[..16]),
                );
                Ok(None)
            }
        })
        .await;
        Next::Go
    }

    /// Preflight everywhere before anything changes; one failure stops the run.
    async fn preflight(&mut self, hosts: &[usize]) -> anyhow::Result<Next> {
        let failed_before_preflight = failed(&self.nodes);
        let secrets = self.secrets()?;
        // With the cluster there, preflight knows its CA pin (and reuses what an unfinished
        // join to it left); before, there is none to know and it makes no connection.
        let known = self.pins.clone();
        let exists = !known.is_empty();
        let (cc, endpoint, path) = (
            self.c.clone(),
            self.endpoint.clone(),
            self.c.kubeadm_path.clone(),
        );
        on_each(&mut self.nodes, 16, hosts, move |h, r| {
            let (cc, secrets, endpoint, path, known) = (
                cc.clone(),
                secrets.clone(),
                endpoint.clone(),
                path.clone(),
                known.clone(),
            );
            async move {
                match h.role {
                    Role::ControlPlane => {
                        let cfg = documents::init(&cc, &h, None)?;
                        kubeadm(&r, &path, &["init", "phase", "preflight"], Some(&cfg)).await
                    }
                    Role::Worker => {
                        let cfg = documents::join(
                            &cc,
                            &h,
                            &endpoint,
                            &secrets.token,
                            if known.is_empty() {
                                Trust::PreflightOnly
                            } else {
                                Trust::Pins(&known)
                            },
                            None,
                        )?;
                        let mut args = vec!["join", "phase", "preflight"];
                        if !exists {
                            // The API server does not exist yet.
                            args.push("--ignore-preflight-errors=DiscoveryEndpoint");
                        }
                        kubeadm(&r, &path, &args, Some(&cfg)).await
                    }
                }
                .map_err(|e| anyhow::anyhow!("preflight: {e:#}"))?;
                say(&h, "preflight passed");
                Ok(None)
            }
        })
        .await;
        Ok(if failed(&self.nodes) > failed_before_preflight {
            Next::Stop("the preflight checks of another host failed; nothing was changed".into())
        } else {
            Next::Go
        })
    }

    /// The cluster: init on the first control plane, with this run's token and (for the
    /// other control planes) certificate key.
    async fn init(&mut self, primary: usize) -> anyhow::Result<Next> {
        let secrets = self.secrets()?;
        let (c, nodes) = (&*self.c, &mut self.nodes);
        let pr = nodes[primary].remote.clone().expect("reachable");
        let primary_host = nodes[primary].host.clone();
        let others = nodes
            .iter()
            .enumerate()
            .any(|(i, n)| i != primary && n.ready() && n.host.role == Role::ControlPlane);
        let mut extra = Vec::new();
        let restoring = self.restore.is_some();
        if let (Some(b), Some(f)) = (self.restore.take(), nodes[primary].facts.clone()) {
            match super::restore::put(c, &primary_host, &f, &pr, &b).await {
                Ok(flags) => extra = flags,
                Err(e) => {
                    nodes[primary].end(Outcome::Failed(format!("{e:#}")));
                    return Ok(Next::Stop(
                        "restoring the backup on the first control plane failed".into(),
                    ));
                }
            }
        }
        say(&primary_host, "kubeadm init");
        let cfg = documents::init(c, &primary_host, Some(&secrets))?;
        let mut args: Vec<&str> = if others {
            vec!["init", "--upload-certs"]
        } else {
            vec!["init"]
        };
        args.extend(extra.iter().map(String::as_str));
        match kubeadm(&pr, &c.kubeadm_path, &args, Some(&cfg)).await {
            Ok(_) => {
                say(&primary_host, "the cluster is initialized");
                nodes[primary].end(Outcome::Initialized);
                if restoring {
                    let joining: Vec<String> = nodes
                        .iter()
                        .filter(|n| n.ready())
                        .filter_map(|n| super::restore::node_name(c, &n.host, n.facts.as_ref()?))
                        .collect();
                    super::restore::forget_nodes(&primary_host, &pr, joining).await;
                }
            }
            Err(e) => {
                nodes[primary].end(Outcome::Failed(format!("{e:#}")));
                return Ok(Next::Stop(
                    "kubeadm init failed on the first control plane".into(),
                ));
            }
        }
        let f = facts::gather(&pr, &c.kubeadm_path).await?;
        self.pins = vec![f.ca_pin.ok_or_else(|| {
            anyhow::anyhow!(
                "the first control plane has no /etc/kubernetes/pki/ca.crt after kubeadm init"
            )
        })?];
        Ok(Next::Go)
    }

    /// The cluster exists: a token (and a certificate key) for this run's joins.
    async fn prepare_joins(&mut self, primary: usize) -> anyhow::Result<Next> {
        let secrets = self.secrets()?;
        let (c, nodes) = (&*self.c, &self.nodes);
        let cp_to_join = nodes
            .iter()
            .any(|n| n.ready() && n.host.role == Role::ControlPlane);
        if !nodes.iter().any(|n| n.ready()) {
            return Ok(Next::Go);
        }
        let pr = nodes[primary].remote.clone().expect("reachable");
        let primary_host = &nodes[primary].host;
        say(primary_host, "creating a bootstrap token for the joins");
        let step = async {
            kubeadm(
                &pr,
                &c.kubeadm_path,
                &["token", "create"],
                Some(&documents::token(c, primary_host, &secrets.token)?),
            )
            .await?;
            if cp_to_join {
                say(
                    primary_host,
                    "uploading the control-plane certificates for the joins",
                );
                kubeadm(
                    &pr,
                    &c.kubeadm_path,
                    &["init", "phase", "upload-certs", "--upload-certs"],
                    Some(&documents::upload_certs(
                        c,
                        primary_host,
                        &secrets.certificate_key,
                    )?),
                )
                .await?;
            }
            anyhow::Ok(())
        };
        Ok(match step.await {
            Ok(()) => Next::Go,
            Err(e) => Next::Stop(format!(
                "preparing the joins on the first control plane failed: {e:#}"
            )),
        })
    }

    /// The other control planes, one at a time (each adds an etcd member).
    async fn join_control_planes(&mut self, hosts: &[usize]) -> anyhow::Result<Next> {
        let secrets = self.secrets()?;
        let (c, nodes) = (&*self.c, &mut self.nodes);
        let order: Vec<usize> = hosts
            .iter()
            .copied()
            .filter(|&i| nodes[i].ready())
            .collect();
        let mut cp_failed: Option<String> = None;
        for i in order {
            if let Some(who) = &cp_failed {
                nodes[i].end(Outcome::Skipped(format!(
                    "control plane {who} failed to join before it; control planes join one at a time"
                )));
                continue;
            }
            let h = nodes[i].host.clone();
            let r = nodes[i].remote.clone().expect("ready");
            say(&h, "kubeadm join --control-plane");
            let cfg = documents::join(
                c,
                &h,
                &self.endpoint,
                &secrets.token,
                Trust::Pins(&self.pins),
                Some(&secrets.certificate_key),
            )?;
            match kubeadm(&r, &c.kubeadm_path, &["join"], Some(&cfg)).await {
                Ok(_) => {
                    say(&h, "joined as a control plane");
                    nodes[i].end(Outcome::Joined);
                }
                Err(e) => {
                    cp_failed = Some(label(&h));
                    nodes[i].end(Outcome::Failed(format!("{e:#}")));
                }
            }
        }
        Ok(Next::Go)
    }

    /// The workers, in parallel; one failing does not stop the others.
    async fn join_workers(&mut self, hosts: &[usize]) -> anyhow::Result<Next> {
        let secrets = self.secrets()?;
        let (cc, token, endpoint, pins, path) = (
            self.c.clone(),
            secrets.token.clone(),
            self.endpoint.clone(),
            self.pins.clone(),
            self.c.kubeadm_path.clone(),
        );
        on_each(&mut self.nodes, cc.parallel_joins, hosts, move |h, r| {
            let (cc, token, endpoint, pins, path) = (
                cc.clone(),
                token.clone(),
                endpoint.clone(),
                pins.clone(),
                path.clone(),
            );
            async move {
                say(&h, "kubeadm join");
                let cfg = documents::join(&cc, &h, &endpoint, &token, Trust::Pins(&pins), None)?;
                // Its preflight passed in this run's preflight step, before anything
                // changed anywhere: not run a second time.
                kubeadm(&r, &path, &["join", "--skip-phases=preflight"], Some(&cfg)).await?;
                say(&h, "joined as a worker");
                Ok(Some(Outcome::Joined))
            }
        })
        .await;
        Ok(Next::Go)
    }
}

impl Run {
    /// The first control plane's admin.conf, read over SSH (kept in memory only).
    async fn admin_conf(&self, primary: usize) -> anyhow::Result<Vec<u8>> {
        let r = self.nodes[primary]
            .remote
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the first control plane cannot be reached"))?;
        cluster::read_file(&r, cluster::ADMIN_CONF).await
    }

    /// Takes `hosts` out of the cluster, one at a time: cordon, drain, `kubeadm reset -f`
    /// (which removes a control plane's etcd member), delete the Node. After one fails
    /// the others are skipped.
    async fn remove(&mut self, hosts: &[usize], primary: usize) -> Next {
        let mut failed_one: Option<String> = None;
        for &i in hosts {
            if !self.nodes[i].ready() {
                continue;
            }
            if let Some(who) = &failed_one {
                self.nodes[i].end(Outcome::Skipped(format!(
                    "the removal of {who} failed before it; hosts are removed one at a time"
                )));
                continue;
            }
            let h = self.nodes[i].host.clone();
            match self.remove_one(i, primary).await {
                Ok(()) => {
                    say(&h, "removed from the cluster");
                    self.nodes[i].end(Outcome::Removed);
                }
                Err(e) => {
                    failed_one = Some(label(&h));
                    self.nodes[i].end(Outcome::Failed(format!("{e:#}")));
                }
            }
        }
        Next::Go
    }

    async fn remove_one(&mut self, i: usize, primary: usize) -> anyhow::Result<()> {
        let n = &self.nodes[i];
        let (h, r) = (n.host.clone(), n.remote.clone().expect("ready"));
        let node = show::node_name(&self.c, &h, false, n.facts.as_ref());
        let admin = self.admin_conf(primary).await?;
        let timeout = self.c.drain_timeout;
        say(&h, format_args!("cordoning and draining Node {node}"));
        let (node2, h2) = (node.clone(), h.clone());
        tokio::task::spawn_blocking(move || {
            let (client, _) = cluster::admin_client(&admin)?;
            drain::set_unschedulable(&client, &node2, true)?;
            drain::drain(&client, &node2, timeout, &|line| say(&h2, line))
                .map_err(|e| anyhow::anyhow!("drain: {e:#}"))
        })
        .await??;
        say(&h, "kubeadm reset -f");
        let cfg = documents::reset(&self.c)?;
        kubeadm(&r, &self.c.kubeadm_path, &["reset", "-f"], cfg.as_deref()).await?;
        say(&h, format_args!("deleting Node {node}"));
        let admin = self.admin_conf(primary).await?;
        tokio::task::spawn_blocking(move || {
            let (client, _) = cluster::admin_client(&admin)?;
            drain::delete_node(&client, &node)
        })
        .await??;
        Ok(())
    }

    /// The manifests, applied server-side from this machine through the admin
    /// kubeconfig of the first control plane; a failure is the manifests', the run goes on.
    async fn manifests(&mut self, primary: usize) -> Next {
        let n = &self.nodes[primary];
        let (Some(r), false) = (
            n.remote.clone(),
            n.outcome.as_ref().is_some_and(Outcome::failed),
        ) else {
            return Next::Go;
        };
        let objects = self.objects.clone();
        say_as(
            "manifests",
            format_args!(
                "applying {} object{} server-side (field manager {}) through the admin.conf of {}",
                objects.len(),
                if objects.len() == 1 { "" } else { "s" },
                manifests::FIELD_MANAGER,
                label(&n.host)
            ),
        );
        let applied = async {
            let admin = cluster::read_file(&r, cluster::ADMIN_CONF).await?;
            tokio::task::spawn_blocking(move || {
                let (client, _) = cluster::admin_client(&admin)?;
                manifests::apply(&client, &objects, |o| {
                    say_as(
                        "manifests",
                        format_args!("applied {} ({})", o.describe(), o.place()),
                    )
                })?;
                anyhow::Ok(objects.len())
            })
            .await?
        };
        self.manifests = Some(match applied.await {
            Ok(count) => Outcome::Applied(count),
            Err(e) => {
                let why = redact(&format!("{e:#}"));
                say_as("manifests", format_args!("failed: {why}"));
                Outcome::Failed(why)
            }
        });
        Next::Go
    }
}

/// How many hosts have failed so far.
pub(super) fn failed(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .filter(|n| n.outcome.as_ref().is_some_and(Outcome::failed))
        .count()
}

pub(super) fn report(nodes: Vec<Node>) -> Report {
    Report {
        manifests: None,
        hosts: nodes
            .into_iter()
            .map(|n| HostResult {
                label: label(&n.host),
                role: n.host.role,
                outcome: n.outcome.unwrap_or(Outcome::Unchanged),
                elapsed: if n.elapsed.is_zero() {
                    n.started.elapsed()
                } else {
                    n.elapsed
                },
            })
            .collect(),
    }
}

pub(super) async fn close_all(nodes: &mut [Node]) {
    for n in nodes.iter_mut() {
        if let Some(r) = n.remote.take() {
            if let Ok(r) = Arc::try_unwrap(r) {
                r.close().await;
            }
        }
    }
}

/// Ends the run early: every host not yet ended is skipped for `why`.
pub(super) async fn stop_here(mut nodes: Vec<Node>, why: &str) -> Report {
    for n in nodes.iter_mut().filter(|n| n.outcome.is_none()) {
        n.end(Outcome::Skipped(why.to_string()));
    }
    close_all(&mut nodes).await;
    report(nodes)
}

/// Runs kubeadm on a host with `args`, giving it `config` (when some) as a 0600 file in
/// `/run/kubeadm-cluster` that is removed afterwards; fails with kubeadm's last lines.
pub(super) async fn kubeadm(
    r: &Remote,
    kubeadm_path: &str,
    args: &[&str],
    config: Option<&str>,
) -> anyhow::Result<ssh::Output> {
    let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let k = quote(kubeadm_path);
    let script = match config {
        Some(_) => format!(
            "umask 077; mkdir -p /run/kubeadm-cluster && f=$(mktemp /run/kubeadm-cluster/config.XXXXXX) || exit 125
cat > \"$f\" || {{ rm -f \"$f\"; exit 125; }}
{k} {} --config \"$f\"; rc=$?; rm -f \"$f\"; exit $rc",
            args.join(" ")
        ),
        None => format!("{k} {}", args.join(" ")),
    };
    let out = r.run(&script, config.map(str::as_bytes)).await?;
    if !out.success() {
        anyhow::bail!(
            "kubeadm {} exited with {}:\n{}",
            args.join(" "),
            out.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "a signal".into()),
            indent(&redact(&out.tail(15)))
        );
    }
    Ok(out)
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Installs `binary` (whose SHA-256 is `sha`) as the host's kubeadm: written beside it,
/// checked, then renamed over it.
async fn install_kubeadm(r: &Remote, path: &str, binary: &[u8], sha: &str) -> anyhow::Result<()> {
    let k = quote(path);
    let script = format!(
        "{sha256_of}set -e; umask 022; mkdir -p \"$(dirname {k})\"; t={k}.kubeadm-cluster.tmp
cat > \"$t\"; chmod 0755 \"$t\"
if [ \"$(sha256_of \"$t\")\" != {sha} ]; then rm -f \"$t\"; echo 'the copy does not match its checksum' >&2; exit 1; fi
mv -f \"$t\" {k}",
        sha256_of = ssh::SHA256_OF,
    );
    let out = r.run(&script, Some(binary)).await?;
    if !out.success() {
        anyhow::bail!("installing kubeadm at {path} failed: {}", out.tail(5));
    }
    Ok(())
}

/// Runs `f` on each of `hosts` that is ready, at most `limit` at once, ending each with
/// its result (`Err` ends it failed).
pub(super) async fn on_each<F, Fut>(nodes: &mut [Node], limit: usize, hosts: &[usize], f: F)
where
    F: Fn(Host, Arc<Remote>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<Outcome>>> + Send + 'static,
{
    let sem = Arc::new(tokio::sync::Semaphore::new(limit));
    let mut tasks = tokio::task::JoinSet::new();
    for &i in hosts {
        let n = &nodes[i];
        if !n.ready() {
            continue;
        }
        let fut = f(n.host.clone(), n.remote.clone().expect("ready"));
        let sem = sem.clone();
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, fut.await)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (i, r) = done.expect("a host task");
        match r {
            Ok(Some(o)) => nodes[i].end(o),
            Ok(None) => {}
            Err(e) => nodes[i].end(Outcome::Failed(format!("{e:#}"))),
        }
    }
}

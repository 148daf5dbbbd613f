//! `apply`, `reset`, `status` and `kubeconfig`: what each does to the hosts, in order,
//! with a line per host per step and a table at the end.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::documents::{self, Secrets, Trust};
use crate::escape;
use crate::facts::{self, Facts};
use crate::spec::{Cluster, Host, Role};
use crate::ssh::{self, quote, Remote};

/// How a run reaches the hosts and what it installs.
pub struct Settings {
    /// SSH's options.
    pub ssh: ssh::Options,
    /// The kubeadm binary to install on the hosts.
    pub kubeadm_binary: PathBuf,
}

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
    /// Reachable and read (status).
    Reported(String),
    /// Not attempted, and why.
    Skipped(String),
    /// Failed, and why.
    Failed(String),
}

impl Outcome {
    fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    fn word(&self) -> &str {
        match self {
            Outcome::Initialized => "initialized",
            Outcome::Joined => "joined",
            Outcome::Unchanged => "unchanged",
            Outcome::Reset => "reset",
            Outcome::Reported(s) => s,
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
}

impl Report {
    /// Whether any host failed.
    pub fn any_failed(&self) -> bool {
        self.hosts.iter().any(|h| h.outcome.failed())
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
        for h in &self.hosts {
            match &h.outcome {
                Outcome::Failed(why) => s.push_str(&format!("\n{} failed: {why}\n", h.label)),
                Outcome::Skipped(why) => s.push_str(&format!("\n{} skipped: {why}\n", h.label)),
                _ => {}
            }
        }
        escape::controls(&s).into_owned()
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

/// Prints a line of `h`'s progress; what hosts and the file say is escaped.
fn say(h: &Host, what: impl std::fmt::Display) {
    println!("{}", escape::controls(&format!("[{}] {what}", label(h))));
}

/// A host as a run sees it: its connection and facts, or why it has none, and how it
/// ended so far.
struct Node {
    host: Host,
    remote: Option<Arc<Remote>>,
    facts: Option<Facts>,
    outcome: Option<Outcome>,
    started: Instant,
    elapsed: Duration,
}

impl Node {
    fn ready(&self) -> bool {
        self.outcome.is_none() && self.remote.is_some()
    }

    fn end(&mut self, o: Outcome) {
        let o = match o {
            Outcome::Failed(why) => Outcome::Failed(redact(&why)),
            o => o,
        };
        if let Outcome::Failed(why) = &o {
            say(&self.host, format_args!("failed: {why}"));
        }
        self.outcome = Some(o);
        self.elapsed = self.started.elapsed();
    }
}

/// Connects to every host at once and reads its facts; a host that cannot be reached
/// ends failed.
async fn connect_all(c: &Cluster, s: &Settings) -> Vec<Node> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, h) in c.hosts.iter().cloned().enumerate() {
        let o = s.ssh.clone();
        let path = c.kubeadm_path.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let r = async {
                let r = Remote::connect(&h, &o).await?;
                let f = facts::gather(&r, &path).await?;
                anyhow::Ok((r, f))
            }
            .await;
            (i, h, started, r)
        });
    }
    let mut nodes: Vec<Option<Node>> = (0..c.hosts.len()).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, h, started, r) = done.expect("a connection task");
        let mut n = Node {
            host: h,
            remote: None,
            facts: None,
            outcome: None,
            started,
            elapsed: Duration::ZERO,
        };
        match r {
            Ok((r, f)) => {
                say(&n.host, format_args!("connected: {}", f.summary()));
                n.remote = Some(Arc::new(r));
                n.facts = Some(f);
            }
            Err(e) => n.end(Outcome::Failed(format!("{e:#}"))),
        }
        nodes[i] = Some(n);
    }
    nodes.into_iter().map(|n| n.expect("every host")).collect()
}

/// How many hosts have failed so far.
fn failed(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .filter(|n| n.outcome.as_ref().is_some_and(Outcome::failed))
        .count()
}

fn report(nodes: Vec<Node>) -> Report {
    Report {
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

async fn close_all(nodes: &mut [Node]) {
    for n in nodes.iter_mut() {
        if let Some(r) = n.remote.take() {
            if let Ok(r) = Arc::try_unwrap(r) {
                r.close().await;
            }
        }
    }
}

/// Ends the run early: every host not yet ended is skipped for `why`.
async fn stop_here(mut nodes: Vec<Node>, why: &str) -> Report {
    for n in nodes.iter_mut().filter(|n| n.outcome.is_none()) {
        n.end(Outcome::Skipped(why.to_string()));
    }
    close_all(&mut nodes).await;
    report(nodes)
}

/// Runs kubeadm on a host with `args`, giving it `config` (when some) as a 0600 file in
/// `/run/kubeadm-cluster` that is removed afterwards; fails with kubeadm's last lines.
async fn kubeadm(
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

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The architecture an ELF executable is built for, in `uname -m`'s words.
fn elf_machine(binary: &[u8]) -> Option<&'static str> {
    if binary.len() < 20 || &binary[..4] != b"\x7fELF" || binary[5] != 1 {
        return None;
    }
    Some(match u16::from_le_bytes([binary[18], binary[19]]) {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        0x28 => "arm",
        0xf3 => "riscv64",
        0x15 => "ppc64le",
        0x16 => "s390x",
        0x03 => "i686",
        _ => return None,
    })
}

/// Whether a host whose `uname -m` is `have` runs binaries for `want`.
fn same_machine(want: &str, have: &str) -> bool {
    match want {
        "arm" => have.starts_with("arm"),
        "i686" => matches!(have, "i386" | "i486" | "i586" | "i686"),
        _ => want == have,
    }
}

/// Installs `binary` (whose SHA-256 is `sha`) as the host's kubeadm: written beside it,
/// checked, then renamed over it.
async fn install_kubeadm(r: &Remote, path: &str, binary: &[u8], sha: &str) -> anyhow::Result<()> {
    let k = quote(path);
    let script = format!(
        "set -e; umask 022; mkdir -p \"$(dirname {k})\"; t={k}.kubeadm-cluster.tmp
cat > \"$t\"; chmod 0755 \"$t\"
if [ \"$(sha256sum \"$t\" | cut -d' ' -f1)\" != {sha} ]; then rm -f \"$t\"; echo 'the copy does not match its checksum' >&2; exit 1; fi
mv -f \"$t\" {k}"
    );
    let out = r.run(&script, Some(binary)).await?;
    if !out.success() {
        anyhow::bail!("installing kubeadm at {path} failed: {}", out.tail(5));
    }
    Ok(())
}

/// Runs `f` on every node `pick` selects, at most `limit` at once, ending each node with
/// its result (`Err` ends it failed).
async fn on_each<F, Fut>(nodes: &mut [Node], limit: usize, pick: impl Fn(&Node) -> bool, f: F)
where
    F: Fn(Host, Arc<Remote>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<Outcome>>> + Send + 'static,
{
    let sem = Arc::new(tokio::sync::Semaphore::new(limit));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, n) in nodes.iter().enumerate() {
        if !n.ready() || !pick(n) {
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

/// `kubeadm-cluster apply`: see the crate's documentation.
pub async fn apply(c: &Cluster, s: &Settings) -> anyhow::Result<Report> {
    for w in &c.kubeadm.warnings {
        eprintln!("{}", escape::controls(w));
    }
    let binary = std::fs::read(&s.kubeadm_binary).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the kubeadm binary to install on the hosts, {}: {e}; give it with --kubeadm-binary",
            s.kubeadm_binary.display()
        )
    })?;
    let sha = sha256_hex(&binary);
    let binary_arch = elf_machine(&binary);
    let binary = Arc::new(binary);
    let mut nodes = connect_all(c, s).await;

    // A binary for another architecture is not installed.
    if let Some(want) = binary_arch {
        for n in nodes.iter_mut() {
            let Some(have) = n.facts.as_ref().map(|f| f.arch.clone()) else {
                continue;
            };
            if n.outcome.is_none() && !same_machine(want, &have) {
                n.end(Outcome::Failed(format!(
                    "the host is {have}, the kubeadm binary {} is built for {want}: give a kubeadm for {have} with --kubeadm-binary",
                    s.kubeadm_binary.display()
                )));
            }
        }
    }

    // kubeadm, where the host's differs.
    let path = c.kubeadm_path.clone();
    on_each(
        &mut nodes,
        16,
        |n| n.facts.as_ref().and_then(|f| f.kubeadm_sha256.as_deref()) != Some(sha.as_str()),
        |h, r| {
            let (binary, sha, path) = (binary.clone(), sha.clone(), path.clone());
            async move {
                install_kubeadm(&r, &path, &binary, &sha).await?;
                say(
                    &h,
                    format_args!("installed kubeadm at {path} (sha256 {})", &sha[..16]),
                );
                Ok(None)
            }
        },
    )
    .await;

    // The cluster, if it exists: the first control plane holding its files.
    let primary = nodes.iter().position(|n| {
        n.host.role == Role::ControlPlane
            && n.facts
                .as_ref()
                .is_some_and(|f| f.admin_conf && f.apiserver_manifest && f.ca_pin.is_some())
    });
    let exists = primary.is_some();
    let primary = primary.unwrap_or_else(|| c.control_planes().next().expect("a control plane").0);
    if nodes[primary].remote.is_none() {
        let why = format!(
            "the first control plane {} cannot be reached",
            label(&nodes[primary].host)
        );
        return Ok(stop_here(nodes, &why).await);
    }
    let mut cluster_pin = if exists {
        nodes[primary].facts.as_ref().and_then(|f| f.ca_pin.clone())
    } else {
        None
    };

    // Hosts already in the cluster are left alone; hosts of another cluster fail.
    for (i, n) in nodes.iter_mut().enumerate() {
        let Some(f) = n.facts.clone() else { continue };
        if n.outcome.is_some() {
            continue;
        }
        let same = cluster_pin.is_some() && f.ca_pin == cluster_pin;
        if i == primary {
            if exists {
                say(&n.host, "the cluster exists here");
                n.end(Outcome::Unchanged);
            }
            // Otherwise init runs here; what an interrupted init left is its preflight's
            // to judge (it reuses what this configuration wrote).
        } else if same && !f.kubelet_conf {
            // An unfinished join to this cluster: joined again (join's preflight reuses
            // what the earlier attempt wrote).
            say(&n.host, "an unfinished join to this cluster: joining again");
        } else if f.kubelet_conf && same {
            if n.host.role == Role::ControlPlane && !f.apiserver_manifest {
                n.end(Outcome::Failed("the host is a worker of this cluster, not a control plane; reset it (kubeadm reset -f) to join it as a control plane".into()));
            } else {
                say(&n.host, "already a node of this cluster");
                n.end(Outcome::Unchanged);
            }
        } else if f.kubelet_conf || f.ca_pin.is_some() {
            n.end(Outcome::Failed(format!(
                "the host holds the files of {}: /etc/kubernetes/pki/ca.crt is not this cluster's CA; reset it first (kubeadm reset -f on the host, or kubeadm-cluster reset with a file listing it)",
                if f.kubelet_conf { "another cluster's node" } else { "another cluster" }
            )));
        }
    }

    // Preflight everywhere before anything changes; one failure stops the run.
    let failed_before_preflight = failed(&nodes);
    let secrets = Secrets::generate()?;
    hide(&secrets);
    let endpoint = documents::join_endpoint(c, &nodes[primary].host);
    let primary_host = nodes[primary].host.clone();
    let cc = Arc::new(c.clone());
    {
        // With the cluster there, preflight knows its CA pin (and reuses what an unfinished
        // join to it left); before, there is none to know and it makes no connection.
        let known: Vec<String> = cluster_pin.iter().cloned().collect();
        let (cc, secrets, endpoint, path) = (
            cc.clone(),
            secrets.clone(),
            endpoint.clone(),
            c.kubeadm_path.clone(),
        );
        on_each(
            &mut nodes,
            16,
            |_| true,
            move |h, r| {
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
            },
        )
        .await;
    }
    if failed(&nodes) > failed_before_preflight {
        return Ok(stop_here(
            nodes,
            "the preflight checks of another host failed; nothing was changed",
        )
        .await);
    }

    let cp_to_join = nodes
        .iter()
        .any(|n| n.ready() && n.host.role == Role::ControlPlane);
    let todo = nodes.iter().any(|n| n.ready());
    let pr = nodes[primary].remote.clone().expect("reachable");
    if !exists {
        // The cluster: init on the first control plane, with this run's token and (for
        // the other control planes) certificate key.
        let others = nodes
            .iter()
            .enumerate()
            .any(|(i, n)| i != primary && n.ready() && n.host.role == Role::ControlPlane);
        say(&primary_host, "kubeadm init");
        let cfg = documents::init(c, &primary_host, Some(&secrets))?;
        let args: &[&str] = if others {
            &["init", "--upload-certs"]
        } else {
            &["init"]
        };
        match kubeadm(&pr, &c.kubeadm_path, args, Some(&cfg)).await {
            Ok(_) => {
                say(&primary_host, "the cluster is initialized");
                nodes[primary].end(Outcome::Initialized);
            }
            Err(e) => {
                nodes[primary].end(Outcome::Failed(format!("{e:#}")));
                return Ok(
                    stop_here(nodes, "kubeadm init failed on the first control plane").await,
                );
            }
        }
        let f = facts::gather(&pr, &c.kubeadm_path).await?;
        cluster_pin = f.ca_pin;
    } else if todo {
        // The cluster exists: a token (and a certificate key) for this run's joins.
        say(&primary_host, "creating a bootstrap token for the joins");
        let step = async {
            kubeadm(
                &pr,
                &c.kubeadm_path,
                &["token", "create"],
                Some(&documents::token(c, &primary_host, &secrets.token)?),
            )
            .await?;
            if cp_to_join {
                say(
                    &primary_host,
                    "uploading the control-plane certificates for the joins",
                );
                kubeadm(
                    &pr,
                    &c.kubeadm_path,
                    &["init", "phase", "upload-certs", "--upload-certs"],
                    Some(&documents::upload_certs(
                        c,
                        &primary_host,
                        &secrets.certificate_key,
                    )?),
                )
                .await?;
            }
            anyhow::Ok(())
        };
        if let Err(e) = step.await {
            let why = format!("preparing the joins on the first control plane failed: {e:#}");
            return Ok(stop_here(nodes, &why).await);
        }
    }
    let pins = vec![cluster_pin.ok_or_else(|| {
        anyhow::anyhow!(
            "the first control plane has no /etc/kubernetes/pki/ca.crt after kubeadm init"
        )
    })?];

    // The other control planes, one at a time (each adds an etcd member).
    let cp_order: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].ready() && nodes[i].host.role == Role::ControlPlane)
        .collect();
    let mut cp_failed: Option<String> = None;
    for i in cp_order {
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
            &endpoint,
            &secrets.token,
            Trust::Pins(&pins),
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

    // The workers, in parallel; one failing does not stop the others.
    {
        let (cc, token, endpoint, pins, path) = (
            cc.clone(),
            secrets.token.clone(),
            endpoint.clone(),
            pins.clone(),
            c.kubeadm_path.clone(),
        );
        on_each(
            &mut nodes,
            c.parallel_joins,
            |n| n.host.role == Role::Worker,
            move |h, r| {
                let (cc, token, endpoint, pins, path) = (
                    cc.clone(),
                    token.clone(),
                    endpoint.clone(),
                    pins.clone(),
                    path.clone(),
                );
                async move {
                    say(&h, "kubeadm join");
                    let cfg =
                        documents::join(&cc, &h, &endpoint, &token, Trust::Pins(&pins), None)?;
                    kubeadm(&r, &path, &["join"], Some(&cfg)).await?;
                    say(&h, "joined as a worker");
                    Ok(Some(Outcome::Joined))
                }
            },
        )
        .await;
    }
    close_all(&mut nodes).await;
    Ok(report(nodes))
}

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
        on_each(
            &mut nodes,
            c.parallel_joins,
            |n| n.host.role == Role::Worker,
            move |h, r| reset_one(h, r, cfg.clone(), path.clone()),
        )
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

    #[test]
    fn the_architecture_of_an_executable_is_read_from_its_header() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let arch = elf_machine(&me).expect("an ELF test binary");
        assert!(same_machine(arch, std::env::consts::ARCH), "{arch}");
        assert_eq!(elf_machine(b"#!/bin/sh\necho not elf\n"), None);
        assert!(!same_machine("aarch64", "x86_64"));
        assert!(same_machine("arm", "armv7l"));
    }

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

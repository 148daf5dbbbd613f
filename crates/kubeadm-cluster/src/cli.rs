//! The command line: `plan`, `apply`, `check`, `repair`, `reset`, `status`,
//! `kubeconfig`, `backup` and `restore`, each with `-f cluster.yaml`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::escape;
use crate::run::{self, Settings};
use crate::spec::Cluster;

/// Builds, resets and inspects a whole kubeadm-rs cluster described by one file, over SSH.
#[derive(Debug, Parser)]
#[command(name = "kubeadm-cluster", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The longest connection timeout taken, in seconds (ssh refuses larger ones).
const MAX_CONNECT_TIMEOUT: u64 = 3600;

#[derive(Debug, clap::Args)]
struct Common {
    /// The cluster file (kind: Cluster, apiVersion: kubeadm-rs.io/v1alpha1).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: PathBuf,
    /// The known_hosts file host keys are checked against (overrides the cluster file's
    /// knownHostsFile; SSH's own by default).
    #[arg(long, value_name = "FILE")]
    known_hosts: Option<PathBuf>,
    /// Accept and record the SSH key of a host seen for the first time (a key that
    /// differs from the known one is still refused).
    #[arg(long)]
    accept_new_host_keys: bool,
    /// How long connecting to a host may take.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(1..=MAX_CONNECT_TIMEOUT)
    )]
    connect_timeout: u64,
}

/// How `plan` prints the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A summary of the cluster and a table of the hosts.
    Text,
    /// One JSON document.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Shows what apply would do to each host, in order (init, join, unchanged), from the
    /// hosts' facts and the cluster's state; changes nothing.
    Plan {
        #[command(flatten)]
        common: Common,
        /// The kubeadm binary apply would install on the hosts (default: the kubeadm
        /// beside this program, else the one on PATH).
        #[arg(long, value_name = "FILE")]
        kubeadm_binary: Option<PathBuf>,
        /// The plan's format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Makes the hosts the cluster the file describes: shows the plan and, once
    /// confirmed, installs kubeadm, runs preflight everywhere, initialises the first
    /// control plane, joins the others; hosts already joined are left as they are.
    Apply {
        #[command(flatten)]
        common: Common,
        /// The kubeadm binary installed on the hosts (default: the kubeadm beside this
        /// program, else the one on PATH).
        #[arg(long, value_name = "FILE")]
        kubeadm_binary: Option<PathBuf>,
        /// Do not ask for confirmation of the plan.
        #[arg(long, short = 'y')]
        yes: bool,
        /// First repair the unhealthy hosts `check` finds, as `repair` does (the plan
        /// of the repair is shown and confirmed; the apply follows it).
        #[arg(long)]
        repair: bool,
    },
    /// Checks every host: SSH, the kubelet, its Node's readiness, its cluster files, and
    /// for a control plane its components and etcd member; exits 1 when anything is
    /// unhealthy. Changes nothing.
    Check {
        #[command(flatten)]
        common: Common,
        /// The report's format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Repairs what `check` finds, a control plane at a time: an unhealthy host's etcd
    /// member is removed (never when etcd would lose quorum), its Node deleted, the host
    /// reset and joined again; a host that cannot be reached is reported. Shows its plan
    /// first.
    Repair {
        #[command(flatten)]
        common: Common,
        /// The kubeadm binary installed on the hosts (default: the kubeadm beside this
        /// program, else the one on PATH).
        #[arg(long, value_name = "FILE")]
        kubeadm_binary: Option<PathBuf>,
        /// Do not ask for confirmation of the plan.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Show the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Runs `kubeadm reset -f` on every host: workers first, then the control planes in
    /// the reverse of their join order.
    Reset {
        #[command(flatten)]
        common: Common,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Shows each host's facts and whether it is a node of the cluster.
    Status {
        #[command(flatten)]
        common: Common,
    },
    /// Prints the cluster's admin kubeconfig, read from the first control plane.
    Kubeconfig {
        #[command(flatten)]
        common: Common,
    },
    /// Writes one archive (0600) holding what restore needs: an etcd snapshot taken
    /// from a healthy member, the cluster CA, front-proxy CA and etcd CA with their keys,
    /// the service-account key pair, the kubeadm-config and kubelet-config ConfigMaps,
    /// and a manifest of their SHA-256 checksums. It holds private keys: keep it safe.
    Backup {
        #[command(flatten)]
        common: Common,
        /// The archive to write (replaced whole, or left as it was).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// Brings the cluster of a backup back on clean hosts: the archive is verified
    /// first, the first control plane gets its CAs and keys and its etcd data from the
    /// snapshot (etcdutl on that host), then kubeadm init runs there and the other
    /// hosts join as apply joins them.
    Restore {
        #[command(flatten)]
        common: Common,
        /// The archive written by backup.
        #[arg(long = "from", value_name = "FILE")]
        from: PathBuf,
        /// The kubeadm binary installed on the hosts (default: the kubeadm beside this
        /// program, else the one on PATH).
        #[arg(long, value_name = "FILE")]
        kubeadm_binary: Option<PathBuf>,
        /// Do not ask for confirmation of the plan.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

fn default_kubeadm_binary() -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("kubeadm")));
    if let Some(p) = beside.filter(|p| p.is_file()) {
        return p;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("kubeadm"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("kubeadm"))
}

fn settings(
    c: &Cluster,
    common: &Common,
    binary: Option<PathBuf>,
) -> anyhow::Result<(Settings, tempfile::TempDir)> {
    if let Some(f) = &common.known_hosts {
        crate::spec::check_path(f, true).map_err(|why| anyhow::anyhow!("--known-hosts: {why}"))?;
    }
    // The master connections' sockets: a private directory of this run.
    let control = tempfile::Builder::new()
        .prefix("kubeadm-cluster-ssh.")
        .tempdir()?;
    Ok((
        Settings {
            ssh: crate::ssh::Options {
                known_hosts_file: common
                    .known_hosts
                    .clone()
                    .or_else(|| c.known_hosts_file.clone()),
                accept_new_host_keys: common.accept_new_host_keys,
                control_dir: control.path().to_path_buf(),
                connect_timeout: Duration::from_secs(common.connect_timeout),
            },
            kubeadm_binary: binary.unwrap_or_else(default_kubeadm_binary),
        },
        control,
    ))
}

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run_cli(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", escape::controls(&format!("{e:#}")));
            1
        }
    }
}

fn run_cli(cli: Cli) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (common, binary) = match &cli.command {
        Command::Apply {
            common,
            kubeadm_binary,
            ..
        }
        | Command::Plan {
            common,
            kubeadm_binary,
            ..
        }
        | Command::Repair {
            common,
            kubeadm_binary,
            ..
        }
        | Command::Restore {
            common,
            kubeadm_binary,
            ..
        } => (common, kubeadm_binary.clone()),
        Command::Reset { common, .. }
        | Command::Check { common, .. }
        | Command::Status { common }
        | Command::Kubeconfig { common }
        | Command::Backup { common, .. } => (common, None),
    };
    let cluster = Cluster::load(&common.file)?;
    // The archive is verified whole before any host is reached.
    let backup = match &cli.command {
        Command::Restore { from, .. } => Some(crate::archive::read(from)?),
        _ => None,
    };
    let (s, _control) = settings(&cluster, common, binary)?;
    if let Command::Plan { .. } | Command::Check { .. } = &cli.command {
        // Standard output holds the plan (the report) alone.
        run::progress_on_stderr();
    }
    let report = match &cli.command {
        Command::Plan { output, .. } => {
            let planned = rt.block_on(run::plan(&cluster, &s))?;
            match output {
                Format::Text => print!("{}", planned.text(&cluster)),
                Format::Json => println!("{:#}", planned.json(&cluster)),
            }
            let fails = planned.any_fails();
            rt.block_on(planned.close());
            return Ok(if fails { 1 } else { 0 });
        }
        Command::Check { output, .. } => {
            let health = rt.block_on(run::check(&cluster, &s))?;
            match output {
                Format::Text => print!("{}", health.text()),
                Format::Json => println!("{:#}", serde_json::to_value(&health)?),
            }
            return Ok(if health.healthy() { 0 } else { 1 });
        }
        Command::Repair { yes, dry_run, .. } => {
            return repair(&rt, &cluster, &s, *yes, *dry_run);
        }
        Command::Apply {
            yes, repair: true, ..
        } => {
            let code = repair(&rt, &cluster, &s, *yes, false)?;
            if code != 0 {
                return Ok(code);
            }
            let planned = rt.block_on(run::plan(&cluster, &s))?;
            print!("{}", planned.text(&cluster));
            if planned.changes_anything() && !yes {
                if let Err(e) = confirm_apply(&cluster) {
                    rt.block_on(planned.close());
                    return Err(e);
                }
            }
            rt.block_on(planned.execute(&cluster))?
        }
        Command::Apply { yes, .. } => {
            let planned = rt.block_on(run::plan(&cluster, &s))?;
            print!("{}", planned.text(&cluster));
            if planned.changes_anything() && !yes {
                if let Err(e) = confirm_apply(&cluster) {
                    rt.block_on(planned.close());
                    return Err(e);
                }
            }
            rt.block_on(planned.execute(&cluster))?
        }
        Command::Reset { yes, .. } => {
            if !yes {
                confirm_reset(&cluster)?;
            }
            rt.block_on(run::reset(&cluster, &s))?
        }
        Command::Restore { from, yes, .. } => {
            let backup = backup.expect("read above");
            println!(
                "[restore] {}: a backup taken {} (etcd {}), every entry verified against its checksum:",
                from.display(),
                escape::controls(&backup.manifest.created),
                escape::controls(backup.manifest.etcd_version.as_deref().unwrap_or("?"))
            );
            for (name, size) in run::describe_backup(&backup) {
                println!("  {name} ({size} bytes)");
            }
            for w in run::restore_warnings(&cluster, &backup) {
                eprintln!("{}", escape::controls(&w));
            }
            let planned = rt.block_on(run::plan(&cluster, &s))?;
            print!("{}", planned.text(&cluster));
            let refusals = planned.restore_refusals(&cluster);
            if !refusals.is_empty() {
                rt.block_on(planned.close());
                anyhow::bail!(
                    "restore refused, nothing was changed on any host:\n  {}",
                    refusals.join("\n  ")
                );
            }
            if !yes {
                if let Err(e) = confirm_restore(&cluster) {
                    rt.block_on(planned.close());
                    return Err(e);
                }
            }
            rt.block_on(planned.execute_restore(&cluster, backup))?
        }
        Command::Backup { output, .. } => {
            let w = rt.block_on(run::backup(&cluster, &s, output))?;
            println!(
                "[backup] wrote {} ({} bytes, mode 0600): the etcd snapshot ({} bytes, from the member on {}), the CAs and service-account keys, the kubeadm-config and kubelet-config ConfigMaps, and their checksums; it holds private keys: keep it safe",
                w.path.display(),
                w.size,
                w.snapshot_size,
                escape::controls(&w.member_host)
            );
            return Ok(0);
        }
        Command::Status { .. } => rt.block_on(run::status(&cluster, &s))?,
        Command::Kubeconfig { .. } => {
            let kc = rt.block_on(run::kubeconfig(&cluster, &s))?;
            let mut out = std::io::stdout();
            if out.is_terminal() {
                // Shown, not saved: a host's file reaches the terminal escaped.
                out.write_all(escape::controls(&String::from_utf8_lossy(&kc)).as_bytes())?;
            } else {
                out.write_all(&kc)?;
            }
            return Ok(0);
        }
    };
    print!("{}", report.table());
    Ok(if report.any_failed() { 1 } else { 0 })
}

/// Runs `repair`; 0 when every host ends healthy or repaired, 1 when a host is down,
/// refused or failed.
fn repair(
    rt: &tokio::runtime::Runtime,
    c: &Cluster,
    s: &Settings,
    yes: bool,
    dry_run: bool,
) -> anyhow::Result<i32> {
    let (_, plan, report) = rt.block_on(run::repair(c, s, dry_run, |_| {
        if yes {
            Ok(())
        } else {
            confirm_repair(c)
        }
    }))?;
    let stuck = plan.refused.is_some() || plan.hosts.iter().any(|h| h.action != "rejoin");
    if let Some(r) = &report {
        print!("{}", r.table());
        if r.any_failed() {
            return Ok(1);
        }
    }
    Ok(if stuck { 1 } else { 0 })
}

fn confirm_repair(c: &Cluster) -> anyhow::Result<()> {
    let file = escape::controls(&c.file);
    confirm(
        &format!("repair resets and joins again the unhealthy hosts of {file} as planned above"),
        &format!("[repair] The unhealthy hosts of {file} will be reset and joined again as planned above. Go ahead?"),
        "repair aborted; nothing was changed",
    )
}

/// Asks `question` on the terminal; without one, fails saying that `what` needs
/// `--yes`; an answer other than yes fails with `aborted`.
fn confirm(what: &str, question: &str, aborted: &str) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{what}; there is no terminal to confirm it on: pass --yes");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        anyhow::bail!("{aborted}");
    }
    Ok(())
}

fn confirm_apply(c: &Cluster) -> anyhow::Result<()> {
    let file = escape::controls(&c.file);
    confirm(
        &format!("apply changes the hosts of {file} as planned above"),
        &format!("[apply] The hosts of {file} will be changed as planned above. Go ahead?"),
        "apply aborted; nothing was changed",
    )
}

fn confirm_restore(c: &Cluster) -> anyhow::Result<()> {
    let file = escape::controls(&c.file);
    confirm(
        &format!("restore builds the cluster of the backup on the hosts of {file} as planned above"),
        &format!("[restore] The hosts of {file} will be made the backup's cluster as planned above. Go ahead?"),
        "restore aborted; nothing was changed",
    )
}

fn confirm_reset(c: &Cluster) -> anyhow::Result<()> {
    let (n, file) = (c.hosts.len(), escape::controls(&c.file));
    confirm(
        &format!("reset removes the cluster from all {n} hosts of {file}"),
        &format!("[reset] kubeadm reset -f will run on all {n} hosts of {file}: their cluster files, etcd data and Node state are removed. Are you sure?"),
        "reset aborted",
    )
}

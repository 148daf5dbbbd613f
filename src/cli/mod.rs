//! The command line: one file per command group, each defining its flags (as upstream
//! names them) and handing over to the library. No domain logic lives here.

/// `impl From<$args> for $opts` that moves each listed field across by name: a command's
/// clap arguments into the options its workflow owns. Both sides are spelt out in full
/// (a destructuring and a struct literal, no `..`), so a flag added to one and not the
/// other is a compile error rather than a flag silently ignored.
macro_rules! options_from_args {
    ($args:ident => $opts:ident { $($field:ident),* $(,)? }) => {
        impl From<$args> for $opts {
            fn from(a: $args) -> Self {
                let $args { $($field),* } = a;
                $opts { $($field),* }
            }
        }
    };
}

pub mod argv;
pub mod certs;
pub mod completion;
pub mod config;
pub mod init;
pub mod join;
pub mod kubeconfig;
pub mod manpages;
pub mod reset;
pub mod token;
pub mod upgrade;
pub mod version;
pub mod vmodule;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::host::{DryRunHost, Host, RealHost};
use crate::output::Console;
use crate::workflow::{RunOptions, Workflow, WorkflowData};

const ROOT_LONG: &str = "\
kubeadm: easily bootstrap a secure Kubernetes cluster

kubeadm-rs is a drop-in implementation of kubeadm: the same commands, flags, configuration
files and cluster objects.

Example usage:

    Create a two-machine cluster with one control-plane node
    (which controls the cluster), and one worker node
    (where your workloads, like Pods and Deployments run).

    On the first machine:
        control-plane# kubeadm init

    On the second machine:
        worker# kubeadm join <arguments-returned-from-init>

    You can then repeat the second step on as many other machines as you like.";

/// `kubeadm`: the root command.
#[derive(Debug, Parser)]
#[command(
    name = "kubeadm",
    about = "kubeadm: easily bootstrap a secure Kubernetes cluster",
    long_about = ROOT_LONG,
    disable_version_flag = true,
    propagate_version = false
)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Commands,
}

/// Flags every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// The path to the 'real' host root filesystem. kubeadm-rs maps every host path under it.
    #[arg(long, global = true, value_name = "string")]
    pub rootfs: Option<PathBuf>,
    /// Number for the log level verbosity (0: progress only, 1-4: details, 5: debug, 6+: trace).
    #[arg(
        short = 'v',
        long = "v",
        global = true,
        value_name = "Level",
        default_value_t = 0
    )]
    pub verbosity: u8,
    /// Comma-separated list of pattern=N settings for file-filtered logging: the source
    /// files a pattern matches log at level N.
    #[arg(long, global = true, value_name = "pattern=N,...", value_parser = parse_vmodule, default_value = "")]
    pub vmodule: VModule,
}

/// `--vmodule`'s entries.
#[derive(Debug, Clone, Default)]
pub struct VModule(pub Vec<vmodule::ModulePattern>);

fn parse_vmodule(value: &str) -> Result<VModule, String> {
    vmodule::parse(value).map(VModule)
}

/// Argument ids of [`GlobalArgs`], accepted by every phase subcommand.
const GLOBAL_ARG_IDS: &[&str] = &["rootfs", "verbosity", "vmodule"];

/// kubeadm's commands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Commands related to handling Kubernetes certificates
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Output shell completion code for the specified shell (bash, zsh or fish)
    Completion(completion::CompletionArgs),
    /// Manage configuration for a kubeadm cluster persisted in a ConfigMap in the cluster
    Config(config::ConfigArgs),
    /// Run this command in order to set up the Kubernetes control plane
    Init(init::InitArgs),
    /// Run this on any machine you wish to join an existing cluster
    Join(join::JoinArgs),
    /// Kubeconfig file utilities
    #[command(subcommand)]
    Kubeconfig(kubeconfig::KubeconfigCommand),
    /// Performs a best effort revert of changes made to this host by 'kubeadm init' or 'kubeadm join'
    Reset(reset::ResetArgs),
    /// Manage bootstrap tokens
    Token(token::TokenArgs),
    /// Upgrade your cluster smoothly to a newer version with this command
    #[command(subcommand)]
    Upgrade(upgrade::UpgradeCommand),
    /// Print the version of kubeadm
    Version(version::VersionArgs),
}

/// The full command tree, with the phase subcommands and phase listings of `init`, `join`
/// and `reset` derived from their workflows.
pub fn command() -> clap::Command {
    Cli::command()
        .mut_subcommand("init", |c| {
            bind_workflow(c, &crate::phases::init::workflow())
        })
        .mut_subcommand("join", |c| {
            bind_workflow(c, &crate::phases::join::workflow())
        })
        .mut_subcommand("reset", |c| {
            bind_workflow(c, &crate::phases::reset::workflow())
        })
        .mut_subcommand("upgrade", |u| {
            u.mut_subcommand("apply", |c| {
                bind_workflow(c, &crate::phases::upgrade::workflow())
            })
            .mut_subcommand("node", |c| {
                bind_workflow(c, &crate::phases::upgrade::node_workflow())
            })
        })
}

/// Parses a command line (program name first) as upstream's cobra does: flags may stand
/// before a subcommand's name as well as after it (see [`argv::in_cobra_order`]). A usage
/// error (or a request for help) is the error, for the caller to print and exit with.
pub fn parse(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<ArgMatches, clap::Error> {
    let mut cmd = command();
    cmd.build();
    let args = argv::in_cobra_order(&cmd, args)
        .map_err(|e| cmd.error(clap::error::ErrorKind::UnknownArgument, e))?;
    cmd.try_get_matches_from(args)
}

/// Adds the phase listing to a command's help and its `phase` subcommand, as upstream's
/// `BindToCommand`.
fn bind_workflow<D>(cmd: clap::Command, wf: &Workflow<D>) -> clap::Command {
    let long = format!(
        "{}\n\n{}",
        cmd.get_about().map(|a| a.to_string()).unwrap_or_default(),
        wf.help_listing()
    );
    let phase = wf.phase_command(&cmd);
    cmd.long_about(long).subcommand(phase)
}

/// Runs the command the user asked for.
pub fn run(matches: &ArgMatches) -> anyhow::Result<()> {
    let cli = Cli::from_arg_matches(matches)?;
    init_logging(cli.global.verbosity, &cli.global.vmodule.0);
    let sub = matches
        .subcommand()
        .map(|(_, m)| m)
        .expect("clap requires a subcommand");
    match cli.command {
        Commands::Certs(c) => certs::run(&cli.global, c),
        Commands::Completion(a) => completion::run(a),
        Commands::Config(a) => config::run(&cli.global, a),
        Commands::Init(_) => init::run(&cli.global, sub),
        Commands::Join(_) => join::run(&cli.global, sub),
        Commands::Kubeconfig(c) => kubeconfig::run(&cli.global, c),
        Commands::Reset(_) => reset::run(&cli.global, sub),
        Commands::Token(a) => token::run(&cli.global, a),
        Commands::Upgrade(upgrade::UpgradeCommand::Apply(_)) => {
            let apply = sub
                .subcommand_matches("apply")
                .expect("clap parsed upgrade apply");
            upgrade::run_apply(&cli.global, apply)
        }
        Commands::Upgrade(upgrade::UpgradeCommand::Node(_)) => {
            let node = sub
                .subcommand_matches("node")
                .expect("clap parsed upgrade node");
            upgrade::run_node(&cli.global, node)
        }
        Commands::Upgrade(c) => upgrade::run(&cli.global, c),
        Commands::Version(a) => version::run(a),
    }
}

/// The most verbose level shown at a `-v` (or `--vmodule`) verbosity.
fn level_of(verbosity: u32) -> tracing::Level {
    match verbosity {
        0 => tracing::Level::WARN,
        1..=4 => tracing::Level::INFO,
        5 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    }
}

fn init_logging(verbosity: u8, vmodule: &[vmodule::ModulePattern]) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let global = u32::from(verbosity);
    let patterns = vmodule.to_vec();
    // As klog's: a file's pattern raises its verbosity, never lowers it below `-v`'s.
    let filter = tracing_subscriber::filter::filter_fn(move |meta| {
        if !meta.target().starts_with("kubeadm") {
            return false;
        }
        let verbosity = meta
            .file()
            .and_then(|f| vmodule::level_for(&patterns, f))
            .map_or(global, |n| n.max(global));
        *meta.level() <= level_of(verbosity)
    });
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours only on a terminal (and not with NO_COLOR set): a log file or
                // a pipe gets plain text, as upstream's logs are.
                .with_ansi(
                    std::io::IsTerminal::is_terminal(&std::io::stderr())
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
                )
                .with_target(false)
                .with_filter(filter),
        )
        .try_init();
}

/// A usage error: printed like clap's own and exits with code 2.
pub(crate) fn usage_error(message: impl std::fmt::Display) -> anyhow::Error {
    clap::Error::raw(
        clap::error::ErrorKind::UnknownArgument,
        format!("{message}\n"),
    )
    .into()
}

/// Flags of a workflow command that the runner needs before the phases start.
pub(crate) trait WorkflowArgs: FromArgMatches {
    /// `--dry-run` (or the configuration's `dryRun`, read through the host).
    fn dry_run(&self, host: &dyn Host) -> bool;
}

/// Everything a workflow command (`init`, `join`, `reset`) does around its phases: picks
/// the phase from `<command> phase ...`, checks its flags, builds the host (real, or
/// recording for `--dry-run`), runs the phases with progress lines, and prints the
/// dry-run report and the summary.
pub(crate) fn run_workflow<A: WorkflowArgs, D: WorkflowData>(
    wf: &Workflow<D>,
    global: &GlobalArgs,
    matches: &ArgMatches,
    phase_only_flags: &[&str],
    make_data: impl FnOnce(A, Arc<dyn Host>) -> anyhow::Result<D>,
) -> anyhow::Result<()> {
    let (filter, leaf) = match wf.selected_phase(matches) {
        Some((path, m)) => (Some(path), m),
        None => (None, matches),
    };
    if let Some(path) = &filter {
        if wf.has_children(path) {
            print_help_of(
                &[
                    &wf.command_path()[..],
                    &["phase"],
                    &path.split('/').collect::<Vec<_>>(),
                ]
                .concat(),
            )?;
            return Ok(());
        }
        let cmd = command();
        let mut node = Some(&cmd);
        for name in wf.command_path() {
            node = node.and_then(|c| c.find_subcommand(name));
        }
        let positionals = node
            .into_iter()
            .flat_map(|c| c.get_positionals())
            .map(|a| a.get_id().as_str().to_string())
            .collect::<Vec<_>>();
        let allowed: Vec<&str> = GLOBAL_ARG_IDS
            .iter()
            .copied()
            .chain(positionals.iter().map(String::as_str))
            .collect();
        wf.check_phase_flags(path, leaf, &allowed)
            .map_err(usage_error)?;
    } else {
        for flag in phase_only_flags {
            let id = flag.replace('-', "_");
            if matches.value_source(&id) == Some(clap::parser::ValueSource::CommandLine) {
                return Err(usage_error(format!(
                    "unknown flag: --{flag} (it is taken by the \"{} phase\" subcommands only)",
                    wf.command()
                )));
            }
        }
    }
    let args = A::from_arg_matches(leaf)?;
    let base = real_host(global);
    let dry_run = args.dry_run(base.as_ref());
    // `--print-manifest` (the addon phases): the manifests are all that goes to standard
    // output, so that it can be piped; progress goes to standard error.
    let print_manifest = leaf
        .try_get_one::<bool>("print_manifest")
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false);
    // A dry run, or printing, changes nothing, so it neither takes nor waits for the lock.
    let _lock = if dry_run || print_manifest {
        None
    } else {
        Some(lock_node(base.as_ref(), &wf.command_path().join(" "))?)
    };

    let mut console = if print_manifest {
        Console::to_writer(Box::new(std::io::stderr()))
    } else {
        Console::stdout()
    };
    let dry_host = if dry_run {
        let scratch = tempfile::Builder::new()
            .prefix(&format!("kubeadm-{}-dryrun", wf.command()))
            .tempdir()
            .map_err(|e| anyhow::anyhow!("creating the dry-run directory: {e}"))?
            .keep();
        console.line(&format!(
            "[dryrun] Running in dry-run mode: nothing on this machine changes; files are written under {}",
            scratch.display()
        ));
        Some(Arc::new(DryRunHost::new(base.clone(), scratch)))
    } else {
        None
    };
    let host: Arc<dyn Host> = match &dry_host {
        Some(d) => d.clone(),
        None => base,
    };

    let mut data = make_data(args, host)?;
    let skip = if filter.is_none() {
        data.skip_phases()
    } else {
        Vec::new()
    };
    wf.validate_skip(&skip)?;
    let start = Instant::now();
    let result = wf.run(&mut data, &RunOptions { filter, skip }, &mut console);
    if let Some(d) = &dry_host {
        console.dry_run_report(&d.actions(), &|p| d.read(p).ok());
        console.line(&format!(
            "[dryrun] The files of this dry run are in {}",
            d.scratch_dir().display()
        ));
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            for note in data.notes() {
                console.line(&note);
            }
            return Err(e);
        }
    };
    console.summary(wf.command(), &summary, start.elapsed());
    for note in data.notes() {
        console.line(&note);
    }
    data.finish()
}

fn print_help_of(path: &[&str]) -> anyhow::Result<()> {
    let mut cmd = command();
    cmd.build();
    let mut cur = &mut cmd;
    for name in path {
        cur = cur
            .find_subcommand_mut(name)
            .ok_or_else(|| anyhow::anyhow!("no command {name}"))?;
    }
    cur.print_help()?;
    Ok(())
}

/// Where the node's kubeadm lock lives (under `--rootfs` when given).
pub const LOCK_FILE: &str = "/run/kubeadm.lock";

/// Takes the node's exclusive lock for a command that changes the node (`init`, `join`,
/// `reset`, `upgrade`, `certs renew`); a second such command fails at once, naming the
/// process that holds it.
pub(crate) fn lock_node(host: &dyn Host, command: &str) -> anyhow::Result<crate::host::LockGuard> {
    match host.try_lock(std::path::Path::new(LOCK_FILE))? {
        crate::host::Lock::Acquired(guard) => Ok(guard),
        crate::host::Lock::HeldBy(pid) => anyhow::bail!(
            "another kubeadm is changing this node ({} holds {LOCK_FILE}); wait until it ends, then run 'kubeadm {command}' again",
            pid.map(|p| format!("process {p}"))
                .unwrap_or_else(|| "a process".into())
        ),
    }
}

/// The machine, rooted at `--rootfs` when given.
pub(crate) fn real_host(global: &GlobalArgs) -> Arc<dyn Host> {
    let root = global.rootfs.clone().unwrap_or_else(|| PathBuf::from("/"));
    if root != std::path::Path::new("/") {
        crate::releases::label::set_trust_root(&root);
    }
    Arc::new(RealHost::new(root))
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_tree_is_consistent() {
        super::command().debug_assert();
    }
}

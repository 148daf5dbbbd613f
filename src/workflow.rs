//! The phase workflow: `init`, `join` and `reset` are trees of phases, as upstream's
//! `cmd/phases/workflow`. A phase is plain data plus a `run` function; from one tree the
//! [`Workflow`] derives the ordered run, `--skip-phases`, the `<command> phase <name>`
//! subcommands with their flags, the `all` sub-phases and the phase listing in the help.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What a workflow's shared data tells the runner.
pub trait WorkflowData {
    /// The phases to skip: `--skip-phases`, or the configuration's `skipPhases` when the
    /// flag is not given (the flag takes precedence, as upstream).
    fn skip_phases(&self) -> Vec<String>;

    /// Lines for the end of the run, after the summary (a dry run's "a real run would
    /// have stopped here", for example).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// The outcome of the whole run once every phase has returned: an error when a
    /// workflow that goes on past failures (reset) had any.
    fn finish(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The work of a phase.
pub type RunFn<D> = Box<dyn Fn(&mut D) -> anyhow::Result<()>>;
/// Whether a phase applies to this run (its children decide for themselves).
pub type RunIfFn<D> = Box<dyn Fn(&D) -> bool>;

/// One phase of a workflow.
pub struct Phase<D> {
    /// The name used in `--skip-phases` and `phase` subcommands.
    pub name: &'static str,
    /// Other names the `phase` subcommand accepts.
    pub aliases: &'static [&'static str],
    /// One line for the phase listing.
    pub short: &'static str,
    /// The long help of the `phase` subcommand.
    pub long: &'static str,
    /// Examples for the `phase` subcommand's help.
    pub example: &'static str,
    /// Left out of the help (still runs and can be skipped).
    pub hidden: bool,
    /// The `all` sub-phase: selecting it runs its parent with every sibling.
    pub run_all_siblings: bool,
    /// The command's flags this phase's subcommand accepts.
    pub inherit_flags: &'static [&'static str],
    /// The phase's own work, run before its children.
    pub run: Option<RunFn<D>>,
    /// Gate for the phase's own work.
    pub run_if: Option<RunIfFn<D>>,
    /// Nested phases, in order.
    pub children: Vec<Phase<D>>,
}

impl<D> Phase<D> {
    /// A phase with a name and its one-line description.
    pub fn new(name: &'static str, short: &'static str) -> Self {
        Phase {
            name,
            aliases: &[],
            short,
            long: "",
            example: "",
            hidden: false,
            run_all_siblings: false,
            inherit_flags: &[],
            run: None,
            run_if: None,
            children: Vec::new(),
        }
    }

    /// The `all` sub-phase that runs every sibling.
    pub fn all(short: &'static str, inherit_flags: &'static [&'static str]) -> Self {
        Phase {
            run_all_siblings: true,
            inherit_flags,
            ..Phase::new("all", short)
        }
    }

    /// Sets the work of the phase.
    pub fn run(mut self, f: impl Fn(&mut D) -> anyhow::Result<()> + 'static) -> Self {
        self.run = Some(Box::new(f));
        self
    }

    /// Sets the gate of the phase's own work.
    pub fn run_if(mut self, f: impl Fn(&D) -> bool + 'static) -> Self {
        self.run_if = Some(Box::new(f));
        self
    }

    /// Sets the nested phases.
    pub fn children(mut self, children: Vec<Phase<D>>) -> Self {
        self.children = children;
        self
    }

    /// Sets the flags the phase subcommand accepts.
    pub fn inherit(mut self, flags: &'static [&'static str]) -> Self {
        self.inherit_flags = flags;
        self
    }

    /// Sets the long help.
    pub fn long(mut self, long: &'static str) -> Self {
        self.long = long;
        self
    }

    /// Sets the examples.
    pub fn example(mut self, example: &'static str) -> Self {
        self.example = example;
        self
    }

    /// Sets other accepted names.
    pub fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// Hides the phase from the help.
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }
}

/// A workflow misuse the user can fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkflowError {
    /// A name in `--skip-phases` (or the config's `skipPhases`) that is no phase.
    #[error("invalid phase name: {name} (valid names: {valid})")]
    InvalidPhase {
        /// The name given.
        name: String,
        /// The names that exist.
        valid: String,
    },
}

/// What the runner tells whoever shows progress.
pub trait Reporter {
    /// A phase's work starts.
    fn phase_started(&mut self, path: &str);
    /// A phase's work finished.
    fn phase_finished(&mut self, path: &str, took: Duration);
    /// A phase's work failed.
    fn phase_failed(&mut self, path: &str, took: Duration, error: &anyhow::Error);
}

/// Why a phase did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Named in `--skip-phases` or `skipPhases`, or below such a phase.
    Requested,
    /// Its condition said it does not apply.
    NotApplicable,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// Phases whose work ran, with how long it took.
    pub ran: Vec<(String, Duration)>,
    /// Phases with work that did not run.
    pub skipped: Vec<(String, SkipReason)>,
}

/// How to run a workflow.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// Run only this phase (path like `certs/ca`) and the phases below it.
    pub filter: Option<String>,
    /// Skip these phases and the phases below them.
    pub skip: Vec<String>,
}

struct Flat<'a, D> {
    path: String,
    level: usize,
    phase: &'a Phase<D>,
    parent: Option<usize>,
}

/// True when `path` (`certs/ca`) or one of the phases above it is in `skip`, as the runner
/// decides; for phases that prepare work for the phases below them.
pub fn is_skipped(skip: &[String], path: &str) -> bool {
    skip.iter().any(|s| {
        let s = s.trim().to_lowercase();
        path == s || path.starts_with(&format!("{s}/"))
    })
}

/// A command's phase tree.
pub struct Workflow<D> {
    command: &'static str,
    parents: &'static [&'static str],
    phases: Vec<Phase<D>>,
}

impl<D> Workflow<D> {
    /// The workflow of `command` (`init`, `join`, `reset`).
    pub fn new(command: &'static str, phases: Vec<Phase<D>>) -> Self {
        Workflow {
            command,
            parents: &[],
            phases,
        }
    }

    /// The workflow of a subcommand (`apply` under `upgrade`).
    pub fn under(mut self, parents: &'static [&'static str]) -> Self {
        self.parents = parents;
        self
    }

    /// The command this workflow belongs to.
    pub fn command(&self) -> &'static str {
        self.command
    }

    /// The command's path from the top (`["upgrade", "apply"]`).
    pub fn command_path(&self) -> Vec<&'static str> {
        let mut p = self.parents.to_vec();
        p.push(self.command);
        p
    }

    fn flatten(&self) -> Vec<Flat<'_, D>> {
        fn walk<'a, D>(
            phases: &'a [Phase<D>],
            prefix: &str,
            level: usize,
            parent: Option<usize>,
            out: &mut Vec<Flat<'a, D>>,
        ) {
            for p in phases {
                let path = if prefix.is_empty() {
                    p.name.to_string()
                } else {
                    format!("{prefix}/{}", p.name)
                };
                let idx = out.len();
                out.push(Flat {
                    path: path.clone(),
                    level,
                    phase: p,
                    parent,
                });
                walk(&p.children, &path, level + 1, Some(idx), out);
            }
        }
        let mut out = Vec::new();
        walk(&self.phases, "", 0, None, &mut out);
        out
    }

    /// Every phase path in run order (`certs`, `certs/all`, `certs/ca`, ...).
    pub fn phase_paths(&self) -> Vec<String> {
        self.flatten().into_iter().map(|f| f.path).collect()
    }

    /// Decides for every phase whether it is selected, as upstream's runner does: a filter
    /// selects one phase and everything below it; each skipped phase deselects itself and
    /// everything below it. Names are matched case-insensitively.
    fn selection(&self, opts: &RunOptions) -> Result<Vec<bool>, WorkflowError> {
        let flat = self.flatten();
        let find = |name: &str| -> Result<usize, WorkflowError> {
            let wanted = name.trim().to_lowercase();
            flat.iter()
                .position(|f| f.path == wanted)
                .ok_or_else(|| WorkflowError::InvalidPhase {
                    name: name.to_string(),
                    valid: flat
                        .iter()
                        .filter(|f| !f.phase.run_all_siblings)
                        .map(|f| f.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        };
        let below = |i: usize, j: usize| {
            let mut cur = Some(j);
            while let Some(c) = cur {
                if c == i {
                    return true;
                }
                cur = flat[c].parent;
            }
            false
        };
        let mut selected = vec![true; flat.len()];
        if let Some(filter) = &opts.filter {
            let i = find(filter)?;
            let i = if flat[i].phase.run_all_siblings {
                flat[i].parent.unwrap_or(i)
            } else {
                i
            };
            for (j, s) in selected.iter_mut().enumerate() {
                *s = below(i, j);
            }
        }
        for name in opts.skip.iter().filter(|s| !s.trim().is_empty()) {
            let i = find(name)?;
            for (j, s) in selected.iter_mut().enumerate() {
                if below(i, j) {
                    *s = false;
                }
            }
        }
        Ok(selected)
    }

    /// Checks that every name in `skip` is a phase, before any work starts.
    pub fn validate_skip(&self, skip: &[String]) -> Result<(), WorkflowError> {
        self.selection(&RunOptions {
            filter: None,
            skip: skip.to_vec(),
        })
        .map(|_| ())
    }

    /// Runs the selected phases in order; the first failure stops the run and is returned
    /// as `error execution phase <path>: <cause>`.
    pub fn run(
        &self,
        data: &mut D,
        opts: &RunOptions,
        reporter: &mut dyn Reporter,
    ) -> anyhow::Result<RunSummary> {
        let selected = self.selection(opts)?;
        let mut summary = RunSummary::default();
        let flat = self.flatten();
        // What a stop on Ctrl-C or SIGTERM reports: the phases done and those not.
        let stopped = |data: &D, summary: &RunSummary, from: usize, signal: &str, inside: bool| {
            let not_done: Vec<&str> = flat
                .iter()
                .zip(&selected)
                .skip(from)
                .filter(|(f, s)| {
                    **s && f.phase.run.is_some() && f.phase.run_if.as_ref().is_none_or(|g| g(data))
                })
                .map(|(f, _)| f.path.as_str())
                .collect();
            let done: Vec<&str> = summary.ran.iter().map(|(p, _)| p.as_str()).collect();
            let during = flat
                .get(from)
                .filter(|_| inside)
                .map(|f| format!(" during {}", f.path))
                .unwrap_or_default();
            crate::interrupt::stop_reported();
            anyhow::anyhow!(
                "stopped by {signal}{during}: phases done: [{}]; not done: [{}]. Every file written is complete; run the same command again to finish (what is done is reused), or 'kubeadm reset' to undo",
                done.join(", "),
                not_done.join(", ")
            )
        };
        for (i, (f, selected)) in flat.iter().zip(selected.iter().copied()).enumerate() {
            let Some(run) = &f.phase.run else { continue };
            if let Some(signal) = crate::interrupt::requested() {
                if selected {
                    return Err(stopped(data, &summary, i, signal, false));
                }
            }
            if !selected {
                if opts.filter.is_none() {
                    summary
                        .skipped
                        .push((f.path.clone(), SkipReason::Requested));
                }
                continue;
            }
            if let Some(run_if) = &f.phase.run_if {
                if !run_if(data) {
                    summary
                        .skipped
                        .push((f.path.clone(), SkipReason::NotApplicable));
                    continue;
                }
            }
            reporter.phase_started(&f.path);
            crate::interrupt::phase_started(&f.path);
            let start = Instant::now();
            match run(data) {
                Ok(()) => {
                    let took = start.elapsed();
                    crate::interrupt::phase_finished(&f.path);
                    reporter.phase_finished(&f.path, took);
                    summary.ran.push((f.path.clone(), took));
                }
                Err(e) => {
                    reporter.phase_failed(&f.path, start.elapsed(), &e);
                    if let Some(signal) = crate::interrupt::requested() {
                        tracing::debug!("{}: {e:#}", f.path);
                        return Err(stopped(data, &summary, i, signal, true));
                    }
                    return Err(e.context(format!("error execution phase {}", f.path)));
                }
            }
        }
        Ok(summary)
    }

    /// The phase listing upstream appends to the command's long help.
    pub fn help_listing(&self) -> String {
        let flat: Vec<_> = self
            .flatten()
            .into_iter()
            .filter(|f| !f.phase.hidden && !f.phase.run_all_siblings && !self.hidden_above(f))
            .collect();
        let label = |f: &Flat<'_, D>| {
            if f.level > 0 {
                format!("/{}", f.phase.name)
            } else {
                f.phase.name.to_string()
            }
        };
        let width = flat.iter().map(|f| label(f).len()).max().unwrap_or(0);
        let mut out = format!(
            "The \"{}\" command executes the following phases:\n```\n",
            self.command
        );
        for f in &flat {
            let l = label(f);
            out.push_str(&" ".repeat(2 * f.level));
            out.push_str(&l);
            out.push_str(&" ".repeat(width - l.len() + 2));
            out.push_str(f.phase.short);
            out.push('\n');
        }
        out.push_str("```");
        out
    }

    fn hidden_above(&self, f: &Flat<'_, D>) -> bool {
        let flat = self.flatten();
        let mut cur = f.parent;
        while let Some(c) = cur {
            if flat[c].phase.hidden {
                return true;
            }
            cur = flat[c].parent;
        }
        false
    }

    /// Builds `<command> phase` with one subcommand per phase. Each subcommand carries a
    /// copy of every argument of `base` (so the command's argument parser reads its
    /// matches), with the ones the phase does not inherit hidden and refused by
    /// [`check_phase_flags`](Self::check_phase_flags).
    pub fn phase_command(&self, base: &clap::Command) -> clap::Command {
        let args: Vec<clap::Arg> = base
            .get_arguments()
            // `--skip-phases` stays (hidden, refused) so that the command's argument
            // parser finds every id it knows.
            .filter(|a| a.get_id().as_str() != "help")
            .cloned()
            .collect();
        fn build<D>(p: &Phase<D>, args: &[clap::Arg]) -> clap::Command {
            let mut cmd = clap::Command::new(p.name)
                .about(p.short)
                .hide(p.hidden)
                .visible_aliases(p.aliases.iter().copied());
            if !p.long.is_empty() {
                cmd = cmd.long_about(p.long);
            }
            if !p.example.is_empty() {
                cmd = cmd.after_help(format!("Examples:\n{}", p.example));
            }
            for a in args {
                let long = a.get_long().unwrap_or(a.get_id().as_str());
                let inherited = a.is_positional() || p.inherit_flags.contains(&long);
                cmd = cmd.arg(a.clone().hide(!inherited));
            }
            for c in &p.children {
                cmd = cmd.subcommand(build(c, args));
            }
            cmd
        }
        let mut cmd = clap::Command::new("phase")
            .about(format!(
                "Use this command to invoke single phase of the {} workflow",
                self.command
            ))
            .subcommand_required(true)
            .arg_required_else_help(true);
        for p in &self.phases {
            cmd = cmd.subcommand(build(p, &args));
        }
        cmd
    }

    /// Follows `phase <name> [<child> ...]` in the matches of the command, returning the
    /// phase path and the matches that hold its flags. `None` when no phase was named.
    pub fn selected_phase<'m>(
        &self,
        matches: &'m clap::ArgMatches,
    ) -> Option<(String, &'m clap::ArgMatches)> {
        let (_, mut m) = matches.subcommand().filter(|(n, _)| *n == "phase")?;
        let mut names = Vec::new();
        while let Some((name, sub)) = m.subcommand() {
            names.push(name.to_string());
            m = sub;
        }
        // Resolve aliases to phase names.
        let mut level = &self.phases;
        let mut path = Vec::new();
        for n in &names {
            let p = level
                .iter()
                .find(|p| p.name == n || p.aliases.contains(&n.as_str()))?;
            path.push(p.name);
            level = &p.children;
        }
        Some((path.join("/"), m))
    }

    /// True when the phase at `path` has children: its subcommand only prints help.
    pub fn has_children(&self, path: &str) -> bool {
        self.flatten()
            .iter()
            .any(|f| f.path == path && !f.phase.children.is_empty())
    }

    /// Refuses flags given to a phase subcommand that the phase does not take, as upstream
    /// (whose phase commands only define their inherited flags).
    /// Arguments whose ids are in `always_allowed` (the root command's flags, the command's
    /// positional arguments) are accepted by every phase.
    pub fn check_phase_flags(
        &self,
        path: &str,
        matches: &clap::ArgMatches,
        always_allowed: &[&str],
    ) -> Result<(), String> {
        let flat = self.flatten();
        let Some(f) = flat.iter().find(|f| f.path == path) else {
            return Ok(());
        };
        let mut given: BTreeMap<&str, ()> = BTreeMap::new();
        for id in matches
            .ids()
            .filter(|id| !always_allowed.contains(&id.as_str()))
        {
            if matches.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine) {
                given.insert(id.as_str(), ());
            }
        }
        for id in given.keys() {
            let long = id.replace('_', "-");
            if !f.phase.inherit_flags.contains(&long.as_str()) {
                return Err(format!(
                    "unknown flag: --{long} (the phase \"{path}\" takes: {})",
                    if f.phase.inherit_flags.is_empty() {
                        "no flags".to_string()
                    } else {
                        f.phase
                            .inherit_flags
                            .iter()
                            .map(|f| format!("--{f}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Data {
        log: Vec<&'static str>,
        want_b: bool,
        fail_at: Option<&'static str>,
    }

    fn step(d: &mut Data, name: &'static str) -> anyhow::Result<()> {
        if d.fail_at == Some(name) {
            anyhow::bail!("{name} broke");
        }
        d.log.push(name);
        Ok(())
    }

    fn tree() -> Workflow<Data> {
        Workflow::new(
            "init",
            vec![
                Phase::new("a", "first").run(|d| step(d, "a")),
                Phase::new("b", "second")
                    .run(|d| step(d, "b"))
                    .run_if(|d| d.want_b),
                Phase::new("c", "parent")
                    .run(|d| step(d, "c"))
                    .children(vec![
                        Phase::all("all of c", &["config"]),
                        Phase::new("x", "child x").run(|d| step(d, "c/x")),
                        Phase::new("y", "child y")
                            .run(|d| step(d, "c/y"))
                            .children(
                                vec![Phase::new("z", "grandchild").run(|d| step(d, "c/y/z"))],
                            ),
                    ]),
                Phase::new("h", "hidden one").hidden().run(|d| step(d, "h")),
                Phase::new("d", "last").run(|d| step(d, "d")),
            ],
        )
    }

    #[derive(Default)]
    struct Rec(Vec<String>);
    impl Reporter for Rec {
        fn phase_started(&mut self, p: &str) {
            self.0.push(format!("start {p}"));
        }
        fn phase_finished(&mut self, p: &str, _: Duration) {
            self.0.push(format!("done {p}"));
        }
        fn phase_failed(&mut self, p: &str, _: Duration, e: &anyhow::Error) {
            self.0.push(format!("fail {p}: {e}"));
        }
    }

    fn run(opts: RunOptions, mut d: Data) -> (anyhow::Result<RunSummary>, Vec<&'static str>) {
        let r = tree().run(&mut d, &opts, &mut Rec::default());
        (r, d.log)
    }

    fn skip(names: &[&str]) -> RunOptions {
        RunOptions {
            filter: None,
            skip: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn runs_in_tree_order_parents_before_children() {
        let (r, log) = run(RunOptions::default(), Data::default());
        assert_eq!(log, ["a", "c", "c/x", "c/y", "c/y/z", "h", "d"]);
        let s = r.unwrap();
        assert_eq!(
            s.skipped,
            vec![("b".to_string(), SkipReason::NotApplicable)]
        );
        assert_eq!(s.ran.len(), 7);
    }

    #[test]
    fn run_if_gates_only_the_phase() {
        let d = Data {
            want_b: true,
            ..Data::default()
        };
        let (_, log) = run(RunOptions::default(), d);
        assert_eq!(log, ["a", "b", "c", "c/x", "c/y", "c/y/z", "h", "d"]);
    }

    #[test]
    fn skipping_a_parent_skips_its_subtree() {
        let (r, log) = run(skip(&["c/y", "A"]), Data::default());
        assert_eq!(log, ["c", "c/x", "h", "d"]);
        let s = r.unwrap();
        assert!(s
            .skipped
            .contains(&("c/y/z".to_string(), SkipReason::Requested)));
        assert!(s
            .skipped
            .contains(&("a".to_string(), SkipReason::Requested)));
    }

    #[test]
    fn unknown_skip_name_is_refused_before_anything_runs() {
        let (r, log) = run(skip(&["c/nope"]), Data::default());
        assert!(log.is_empty());
        let e = r.unwrap_err().downcast::<WorkflowError>().unwrap();
        assert!(matches!(e, WorkflowError::InvalidPhase { ref name, .. } if name == "c/nope"));
        assert!(e.to_string().contains("c/y/z"));
    }

    #[test]
    fn is_skipped_follows_the_tree() {
        let skip = vec!["Certs".to_string(), "kubeconfig/admin".to_string()];
        assert!(is_skipped(&skip, "certs/ca"));
        assert!(is_skipped(&skip, "kubeconfig/admin"));
        assert!(!is_skipped(&skip, "kubeconfig/kubelet"));
        assert!(!is_skipped(&skip, "certs-extra/x"));
    }

    #[test]
    fn filter_runs_one_phase_and_its_subtree() {
        let f = |p: &str| RunOptions {
            filter: Some(p.into()),
            skip: vec![],
        };
        assert_eq!(run(f("c/y"), Data::default()).1, ["c/y", "c/y/z"]);
        assert_eq!(run(f("c/x"), Data::default()).1, ["c/x"]);
        // The `all` sub-phase runs the parent with every sibling.
        assert_eq!(
            run(f("c/all"), Data::default()).1,
            ["c", "c/x", "c/y", "c/y/z"]
        );
    }

    #[test]
    fn failure_stops_the_run_and_names_the_phase() {
        let d = Data {
            fail_at: Some("c/x"),
            ..Data::default()
        };
        let mut rec = Rec::default();
        let mut d = d;
        let e = tree()
            .run(&mut d, &RunOptions::default(), &mut rec)
            .unwrap_err();
        assert_eq!(format!("{e:#}"), "error execution phase c/x: c/x broke");
        assert_eq!(d.log, ["a", "c"]);
        assert_eq!(rec.0.last().unwrap(), "fail c/x: c/x broke");
    }

    #[test]
    fn help_lists_visible_phases_aligned() {
        let help = tree().help_listing();
        let expected = [
            "The \"init\" command executes the following phases:",
            "```",
            "a   first",
            "b   second",
            "c   parent",
            "  /x  child x",
            "  /y  child y",
            "    /z  grandchild",
            "d   last",
            "```",
        ]
        .join("\n");
        assert_eq!(help, expected);
    }

    #[test]
    fn phase_subcommands_follow_the_tree() {
        let base = clap::Command::new("init")
            .arg(clap::Arg::new("config").long("config"))
            .arg(
                clap::Arg::new("dry_run")
                    .long("dry-run")
                    .action(clap::ArgAction::SetTrue),
            );
        let wf = tree();
        let cmd = base.clone().subcommand(wf.phase_command(&base));
        let m = cmd
            .clone()
            .try_get_matches_from(["init", "phase", "c", "y", "z"])
            .unwrap();
        assert_eq!(wf.selected_phase(&m).unwrap().0, "c/y/z");
        assert!(wf.has_children("c/y"));
        assert!(!wf.has_children("c/y/z"));

        let m = cmd
            .clone()
            .try_get_matches_from(["init", "phase", "c", "all", "--config", "f.yaml"])
            .unwrap();
        let (path, pm) = wf.selected_phase(&m).unwrap();
        assert_eq!(path, "c/all");
        assert_eq!(pm.get_one::<String>("config").unwrap(), "f.yaml");
        assert!(wf.check_phase_flags(&path, pm, &[]).is_ok());

        let m = cmd
            .try_get_matches_from(["init", "phase", "c", "x", "--dry-run"])
            .unwrap();
        let (path, pm) = wf.selected_phase(&m).unwrap();
        let e = wf.check_phase_flags(&path, pm, &[]).unwrap_err();
        assert_eq!(
            e,
            "unknown flag: --dry-run (the phase \"c/x\" takes: no flags)"
        );
    }
}

//! The command line in the order cobra reads it.
//!
//! Upstream's cobra finds the command first and parses flags afterwards: it walks the words
//! of the command line, skipping flags (and the value after a flag that takes one), and
//! follows each word that names a subcommand; every other word, wherever it stood, is then
//! parsed by the command found, with that command's flags and the persistent flags of the
//! commands above it. So `kubeadm init phase --config F upload-certs` and `kubeadm init
//! --config F phase upload-certs` both run the upload-certs phase with `--config F`. clap
//! parses each word for the command it stands under instead; [`in_cobra_order`] moves the
//! subcommand names to the front so clap sees the command line as cobra understands it.
//! Persistent flags are clap `global` arguments, which every subcommand takes.

use std::ffi::OsString;

/// What a word that is a flag of its own does with the word after it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flag {
    /// A flag of the command that takes its value from the next word (`--config F`).
    TakesNextWord,
    /// A flag of the command that takes no word: a switch, or a flag whose value is optional
    /// (`--upload-certs`, `--etcd-upgrade`), like a pflag flag with a `NoOptDefVal`.
    Alone,
    /// Not a flag of the command: cobra takes the next word as its value.
    Unknown,
    /// `--help`: cobra adds it to a command only when it runs it, so while looking for the
    /// command it is unknown (and takes the next word), but the command found knows it.
    Help,
}

/// The command line `args` (program name first) with the names of the subcommands moved
/// right after the program name and every other word after them, in its original order.
///
/// A subcommand is found as cobra's `Find` finds it: at each command, the first word that is
/// neither a flag nor a flag's value is looked up among the command's subcommands (names
/// and aliases); the walk ends at the first word that is not one, or at `--`. Whether a
/// flag's value is the next word is decided by the command being searched; a flag that
/// command does not know is taken to have its value in the next word, as cobra does.
/// `cmd` must be built (`Command::build`), so that global arguments are on every
/// subcommand.
///
/// Fails with cobra's message when a flag the command found does not know stands before the
/// name of one of its subcommands: cobra read that name as the flag's value and ends with
/// "unknown flag", where clap would go on into the subcommand.
pub fn in_cobra_order(
    cmd: &clap::Command,
    args: impl IntoIterator<Item = OsString>,
) -> Result<Vec<OsString>, String> {
    let mut args = args.into_iter();
    let Some(program) = args.next() else {
        return Ok(Vec::new());
    };
    let mut rest: Vec<OsString> = args.collect();
    let mut names = Vec::new();
    let mut cur = cmd;
    let mut in_phases = false;
    loop {
        let scan = scan(&rest, cur, in_phases);
        let sub = scan
            .word
            .and_then(|pos| Some((pos, cur.find_subcommand(rest[pos].to_str()?)?)));
        let Some((pos, sub)) = sub else {
            if let Some((flag, name)) = scan.unknown_before_subcommand {
                let path: Vec<_> = std::iter::once(cmd.get_name())
                    .chain(names.iter().filter_map(|n: &OsString| n.to_str()))
                    .collect();
                return Err(format!(
                    "unknown flag: {flag}: '{}' does not take it, so {flag} reads '{name}' as its value, as upstream's command line does; put {flag} after '{name}'",
                    path.join(" ")
                ));
            }
            break;
        };
        // Below `<command> phase`, a phase's subcommand carries every flag of its command,
        // hidden when the phase does not take it (see `Workflow::phase_command`); upstream's
        // phase command has only the flags it takes.
        in_phases = in_phases || sub.get_name() == "phase";
        names.push(rest.remove(pos));
        cur = sub;
    }
    let rest = switch_values(rest, cur, in_phases)?;
    let mut out = Vec::with_capacity(1 + names.len() + rest.len());
    out.push(program);
    out.extend(names);
    out.extend(rest);
    Ok(out)
}

/// Reads `--switch=VALUE` (and `-s=VALUE`) for the switches of the command found, as pflag
/// reads a bool flag with a value: `--dry-run=true` is `--dry-run`, `--dry-run=false` is
/// no flag. clap's switches take no value.
fn switch_values(
    rest: Vec<OsString>,
    cmd: &clap::Command,
    in_phases: bool,
) -> Result<Vec<OsString>, String> {
    let mut out = Vec::with_capacity(rest.len());
    let mut words = rest.into_iter();
    while let Some(word) = words.next() {
        let Some(text) = word.to_str() else {
            out.push(word);
            continue;
        };
        if text == "--" {
            out.push(word);
            out.extend(words);
            break;
        }
        let switch =
            if let Some((name, value)) = text.strip_prefix("--").and_then(|l| l.split_once('=')) {
                find(cmd, in_phases, |a| is_long(a, name)).map(|a| (a, value))
            } else if let Some((name, value)) = text
                .strip_prefix('-')
                .filter(|s| !s.starts_with('-'))
                .and_then(|s| s.split_once('='))
            {
                let mut c = name.chars();
                match (c.next(), c.next()) {
                    (Some(c), None) => find(cmd, in_phases, |a| is_short(a, c)).map(|a| (a, value)),
                    _ => None,
                }
            } else {
                None
            };
        match switch {
            Some((arg, value)) if matches!(arg.get_action(), clap::ArgAction::SetTrue) => {
                let name = text.split_once('=').map(|(n, _)| n).unwrap_or(text);
                match parse_go_bool(value) {
                    Ok(true) => out.push(OsString::from(name)),
                    Ok(false) => {}
                    Err(e) => {
                        return Err(format!(
                            "invalid argument {value:?} for \"{name}\" flag: {e}"
                        ))
                    }
                }
            }
            _ => out.push(word),
        }
    }
    Ok(out)
}

/// A bool flag's value as upstream's flags read it (Go's `strconv.ParseBool`): `1`, `t`,
/// `T`, `TRUE`, `true`, `True`, `0`, `f`, `F`, `FALSE`, `false`, `False`.
pub fn parse_go_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "{value:?} is not a bool; use true or false (also 1, t, T, TRUE, True, 0, f, F, FALSE, False)"
        )),
    }
}

/// What [`scan`] found in the words left for a command.
struct Scan {
    /// The first word that is neither a flag nor a flag's value.
    word: Option<usize>,
    /// A flag unknown to the command whose value, as cobra reads it, is the name of one of
    /// the command's subcommands; and that name.
    unknown_before_subcommand: Option<(String, String)>,
}

/// Reads `args` with the flags of `cmd`, as cobra's `stripFlags`, up to the first word that
/// is neither a flag nor a flag's value, the end, or a `--`.
fn scan(args: &[OsString], cmd: &clap::Command, in_phases: bool) -> Scan {
    let mut found = Scan {
        word: None,
        unknown_before_subcommand: None,
    };
    let mut i = 0;
    while i < args.len() {
        let Some(word) = args[i].to_str() else {
            // Not UTF-8: no flag and no command name; a positional argument.
            found.word = Some(i);
            return found;
        };
        if word == "--" {
            return found;
        }
        let flag = if let Some(long) = word.strip_prefix("--") {
            (!long.contains('=')).then(|| long_flag(cmd, long, in_phases))
        } else if let Some(short) = word.strip_prefix('-') {
            let mut chars = short.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c != '=' => Some(short_flag(cmd, c, in_phases)),
                _ => None,
            }
        } else if word.is_empty() {
            None
        } else {
            found.word = Some(i);
            return found;
        };
        if matches!(flag, Some(Flag::TakesNextWord | Flag::Unknown | Flag::Help)) {
            let value = args.get(i + 1).and_then(|v| v.to_str());
            if let Some(v) = value.filter(|v| cmd.find_subcommand(v).is_some()) {
                if flag == Some(Flag::Unknown) && found.unknown_before_subcommand.is_none() {
                    found.unknown_before_subcommand = Some((word.to_string(), v.to_string()));
                }
            }
            if i + 2 >= args.len() {
                // cobra stops here: a last word after a flag is that flag's value.
                return found;
            }
            i += 1;
        }
        i += 1;
    }
    found
}

fn is_long(a: &clap::Arg, name: &str) -> bool {
    a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name))
}

fn is_short(a: &clap::Arg, c: char) -> bool {
    a.get_short() == Some(c) || a.get_all_short_aliases().is_some_and(|al| al.contains(&c))
}

/// The flag of `cmd` that `is` picks; below `phase`, the hidden copies of the flags a phase
/// does not take are not its flags.
fn find(
    cmd: &clap::Command,
    in_phases: bool,
    is: impl Fn(&clap::Arg) -> bool,
) -> Option<&clap::Arg> {
    cmd.get_arguments()
        .find(|a| !(a.is_positional() || in_phases && a.is_hide_set()) && is(a))
}

fn long_flag(cmd: &clap::Command, name: &str, in_phases: bool) -> Flag {
    kind(find(cmd, in_phases, |a| is_long(a, name)))
}

fn short_flag(cmd: &clap::Command, c: char, in_phases: bool) -> Flag {
    kind(find(cmd, in_phases, |a| is_short(a, c)))
}

fn kind(arg: Option<&clap::Arg>) -> Flag {
    use clap::ArgAction;
    match arg {
        None => Flag::Unknown,
        Some(a)
            if matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong
            ) =>
        {
            Flag::Help
        }
        Some(a) if !a.get_action().takes_values() => Flag::Alone,
        Some(a) if a.get_num_args().is_some_and(|n| n.min_values() == 0) => Flag::Alone,
        Some(_) => Flag::TakesNextWord,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line `line` (words split at spaces) in cobra's order, joined by spaces.
    fn try_order(line: &str) -> Result<String, String> {
        let mut cmd = crate::cli::command();
        cmd.build();
        let words = line.split(' ').map(OsString::from);
        in_cobra_order(&cmd, words).map(|v| {
            v.into_iter()
                .map(|a| a.into_string().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    fn order(line: &str) -> String {
        try_order(line).unwrap()
    }

    /// Each command line as given, and as cobra reads it.
    fn assert_reads(cases: &[(&str, &str)]) {
        for (given, read) in cases {
            assert_eq!(order(given), *read, "{given}");
        }
    }

    #[test]
    fn flags_before_a_subcommand_name_follow_it() {
        assert_reads(&[
            // kubespray's certificate upload.
            (
                "kubeadm init phase --config F upload-certs --upload-certs",
                "kubeadm init phase upload-certs --config F --upload-certs",
            ),
            (
                "kubeadm init --config F phase upload-certs",
                "kubeadm init phase upload-certs --config F",
            ),
            (
                "kubeadm -v 5 --rootfs=/r init --upload-certs=true phase upload-certs",
                "kubeadm init phase upload-certs -v 5 --rootfs=/r --upload-certs",
            ),
            (
                "kubeadm token --kubeconfig k --dry-run create --ttl 1h",
                "kubeadm token create --kubeconfig k --dry-run --ttl 1h",
            ),
            // A flag a parent phase does not take swallows the next word, which here is not
            // a name; the child found takes the flag.
            (
                "kubeadm init phase certs --cert-dir /p ca",
                "kubeadm init phase certs ca --cert-dir /p",
            ),
            // `=` values do not take the next word.
            (
                "kubeadm init --config=F phase preflight",
                "kubeadm init phase preflight --config=F",
            ),
            // A switch init knows does not take the next word: `phase` is the subcommand.
            // (What follows is an error: see below.)
            (
                "kubeadm init --dry-run phase",
                "kubeadm init phase --dry-run",
            ),
        ]);
    }

    #[test]
    fn the_walk_stops_where_cobra_stops() {
        for same in [
            // A command line without flags before a name stays as it is.
            "kubeadm init phase certs ca --cert-dir /x",
            "kubeadm join 192.0.2.1:6443 --token t",
            "kubeadm help init",
            // A value that is a command's name is still a value.
            "kubeadm init --node-name phase",
            "kubeadm init --node-name phase --dry-run",
            // After `--` nothing is a command name.
            "kubeadm init -- phase certs",
            // `--help` takes the next word while cobra looks for the command: the help is
            // init's, as upstream's.
            "kubeadm init --help phase preflight",
        ] {
            assert_eq!(order(same), same);
        }
        // A bool flag whose value is optional takes no word, as pflag's bools.
        let mut cmd = crate::cli::command();
        cmd.build();
        let apply = cmd
            .find_subcommand("upgrade")
            .and_then(|u| u.find_subcommand("apply"))
            .unwrap();
        assert!(long_flag(apply, "etcd-upgrade", false) == Flag::Alone);
        assert!(long_flag(apply, "config", false) == Flag::TakesNextWord);
        assert!(long_flag(apply, "upload-certs", false) == Flag::Unknown);
        assert!(short_flag(apply, 'h', false) == Flag::Help);
    }

    #[test]
    fn an_unknown_flag_before_a_name_is_an_error_as_in_cobra() {
        // `phase` does not know `--upload-certs`: cobra reads `upload-certs` as its value,
        // finds no phase and fails on the flag.
        assert_eq!(
            try_order("kubeadm init phase --upload-certs upload-certs").unwrap_err(),
            "unknown flag: --upload-certs: 'kubeadm init phase' does not take it, so --upload-certs reads 'upload-certs' as its value, as upstream's command line does; put --upload-certs after 'upload-certs'"
        );
        let e = try_order("kubeadm init phase certs --node-name ca").unwrap_err();
        assert!(e.starts_with("unknown flag: --node-name: 'kubeadm init phase certs' does not"));
        // So a switch before `phase` fails in upstream too: init knows `--dry-run`, but
        // then `phase` does not, and it takes `preflight` for its value.
        let e = try_order("kubeadm init --dry-run phase preflight").unwrap_err();
        assert!(e.starts_with("unknown flag: --dry-run: 'kubeadm init phase'"));
    }

    #[test]
    fn switches_take_a_value_after_an_equals_sign_as_pflag_bools() {
        assert_reads(&[
            (
                "kubeadm init --dry-run=true --upload-certs=false",
                "kubeadm init --dry-run",
            ),
            (
                "kubeadm upgrade apply -f=1 -y=F v1.37.1",
                "kubeadm upgrade apply -f v1.37.1",
            ),
            // After `--` words are left alone; a flag the command lacks is left for clap
            // to refuse.
            (
                "kubeadm init --no-such=false -- --dry-run=false",
                "kubeadm init --no-such=false -- --dry-run=false",
            ),
        ]);
        assert_eq!(
            try_order("kubeadm init --dry-run=yes").unwrap_err(),
            "invalid argument \"yes\" for \"--dry-run\" flag: \"yes\" is not a bool; use true or false (also 1, t, T, TRUE, True, 0, f, F, FALSE, False)"
        );
        for (v, want) in [("1", true), ("True", true), ("f", false), ("FALSE", false)] {
            assert_eq!(parse_go_bool(v), Ok(want));
        }
        assert!(parse_go_bool("").is_err());
        assert!(parse_go_bool("yes").is_err());
    }

    #[test]
    fn bools_that_default_to_true_take_an_optional_value() {
        let etcd_upgrade = |line: &str| {
            let m = crate::cli::parse(line.split(' ').map(OsString::from))?;
            let (_, up) = m.subcommand().unwrap();
            let (_, apply) = up.subcommand().unwrap();
            Ok::<_, clap::Error>(*apply.get_one::<bool>("etcd_upgrade").unwrap())
        };
        assert!(etcd_upgrade("kubeadm upgrade apply --etcd-upgrade v1.37.1").unwrap());
        assert!(!etcd_upgrade("kubeadm upgrade apply --etcd-upgrade=false v1.37.1").unwrap());
        assert!(etcd_upgrade("kubeadm upgrade apply").unwrap());
        // As pflag: the value goes after `=`; a separate `false` is an argument.
        assert!(etcd_upgrade("kubeadm upgrade apply --etcd-upgrade false v1.37.1").is_err());
    }
}

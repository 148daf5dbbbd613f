//! What kubeadm prints while it works: a line per phase as it starts and finishes, the
//! dry-run report, and the final summary. Colour only when standard output is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::host::{HostAction, Sensitivity};
use crate::workflow::{Reporter, RunSummary, SkipReason};

/// The longest word (a run without spaces, such as a quoted value) an error or warning
/// shows whole; a longer one is cut to its start and its size.
pub const MAX_SHOWN_WORD: usize = 200;
/// The longest error or warning text shown whole.
pub const MAX_SHOWN_MESSAGE: usize = 4096;

/// A message as kubeadm prints it: any input it quotes shown as a bounded excerpt, never
/// a whole multi-megabyte value (a word longer than [`MAX_SHOWN_WORD`] bytes keeps its
/// first 120 characters and says how long it was; the whole stops at
/// [`MAX_SHOWN_MESSAGE`] bytes).
pub fn bounded(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_SHOWN_WORD
        || (text.len() <= MAX_SHOWN_MESSAGE
            && text.split([' ', '\n']).all(|w| w.len() <= MAX_SHOWN_WORD))
    {
        return text.into();
    }
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (j, word) in line.split(' ').enumerate() {
            if j > 0 {
                out.push(' ');
            }
            if word.len() <= MAX_SHOWN_WORD {
                out.push_str(word);
            } else {
                out.extend(word.chars().take(120));
                out.push_str(&format!("... ({} bytes)", word.len()));
            }
            if out.len() > MAX_SHOWN_MESSAGE {
                let mut end = MAX_SHOWN_MESSAGE;
                while !out.is_char_boundary(end) {
                    end -= 1;
                }
                out.truncate(end);
                out.push_str(&format!("... (message cut at {MAX_SHOWN_MESSAGE} bytes)"));
                return out.into();
            }
        }
    }
    out.into()
}

/// Formats a duration the way the progress lines show it: `212ms`, `3.4s`.
pub fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Progress on standard output.
pub struct Console {
    colour: bool,
    out: Box<dyn Write + Send>,
}

impl Console {
    /// Prints to standard output, in colour when it is a terminal and `NO_COLOR` is unset.
    pub fn stdout() -> Self {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Console {
            colour,
            out: Box::new(std::io::stdout()),
        }
    }

    /// Prints to any writer, without colour (for tests).
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        Console { colour: false, out }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Prints one line.
    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }

    /// Prints the closing summary of a workflow run.
    pub fn summary(&mut self, command: &str, summary: &RunSummary, total: Duration) {
        let skipped: Vec<_> = summary
            .skipped
            .iter()
            .map(|(p, why)| match why {
                SkipReason::Requested => format!("{p} (skipped)"),
                SkipReason::NotApplicable => format!("{p} (not needed)"),
            })
            .collect();
        let head = self.paint("1", &format!("[{command}]"));
        let mut text = format!(
            "{head} {} phases ran in {}",
            summary.ran.len(),
            human_duration(total)
        );
        if !skipped.is_empty() {
            text.push_str(&format!("; not run: {}", skipped.join(", ")));
        }
        self.line(&text);
    }

    /// Prints every change a dry run recorded: files with path, mode and size, and the
    /// content of the ones that hold no secret; commands it would have run.
    pub fn dry_run_report(
        &mut self,
        actions: &[HostAction],
        read: &dyn Fn(&std::path::Path) -> Option<Vec<u8>>,
    ) {
        for a in actions {
            match a {
                HostAction::WriteFile {
                    path,
                    mode,
                    size,
                    sensitivity,
                } => {
                    let head = format!(
                        "[dryrun] Would write file {} (mode {:04o}, {} bytes)",
                        path.display(),
                        mode,
                        size
                    );
                    match sensitivity {
                        Sensitivity::Secret => {
                            self.line(&format!("{head}: content not shown, it holds a secret"))
                        }
                        Sensitivity::Public => {
                            self.line(&format!("{head}:"));
                            match read(path).map(String::from_utf8) {
                                Some(Ok(text)) => {
                                    for l in text.lines() {
                                        self.line(&format!("\t{l}"));
                                    }
                                }
                                _ => self.line("\t(binary content)"),
                            }
                        }
                    }
                }
                HostAction::CreateDir { path, mode } => self.line(&format!(
                    "[dryrun] Would create directory {} (mode {:04o})",
                    path.display(),
                    mode
                )),
                HostAction::RemoveFile { path } => {
                    self.line(&format!("[dryrun] Would remove file {}", path.display()))
                }
                HostAction::RemoveDir { path } => self.line(&format!(
                    "[dryrun] Would remove directory {} and its content",
                    path.display()
                )),
                HostAction::Run { command } => self.line(&format!("[dryrun] Would run: {command}")),
                HostAction::Unmount { path, flags } => self.line(&format!(
                    "[dryrun] Would unmount {}{}",
                    path.display(),
                    if *flags == 0 {
                        String::new()
                    } else {
                        format!(" (flags {flags:#x})")
                    }
                )),
            }
        }
    }
}

impl Reporter for Console {
    fn phase_started(&mut self, path: &str) {
        let head = self.paint("1", &format!("[{path}]"));
        self.line(&format!("{head} running"));
    }

    fn phase_finished(&mut self, path: &str, took: Duration) {
        let head = self.paint("1", &format!("[{path}]"));
        let done = self.paint("32", "done");
        self.line(&format!("{head} ... {done} in {}", human_duration(took)));
    }

    fn phase_failed(&mut self, path: &str, took: Duration, _error: &anyhow::Error) {
        let head = self.paint("1", &format!("[{path}]"));
        let failed = self.paint("31", "failed");
        self.line(&format!(
            "{head} ... {failed} after {}",
            human_duration(took)
        ));
    }
}

/// Lays out tab-separated rows as Go's `tabwriter.NewWriter(w, 10, 4, 3, ' ', 0)`: each
/// tab-terminated cell is padded to its column's widest cell plus 3, at least 10; the last
/// cell of a row is not aligned.
pub fn tabwrite(rows: &[String]) -> String {
    let split: Vec<Vec<&str>> = rows.iter().map(|r| r.split('\t').collect()).collect();
    let cols = split
        .iter()
        .map(|r| r.len().saturating_sub(1))
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            split
                .iter()
                .filter(|r| r.len() > c + 1)
                .map(|r| r[c].chars().count() + 3)
                .max()
                .unwrap_or(0)
                .max(10)
        })
        .collect();
    let mut out = String::new();
    for r in &split {
        for (c, cell) in r.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < r.len() {
                out.push_str(&" ".repeat(widths[c].saturating_sub(cell.chars().count())));
            }
        }
        out.push('\n');
    }
    out
}

/// Prints a warning on standard error once per process, however often the condition
/// that causes it is found (a configuration validated twice, discovery retried).
pub fn warn_once(w: &str) {
    warn_once_as(w, w);
}

/// [`warn_once`] for warnings whose text varies between occurrences (a time, a count):
/// printed once per `key`.
pub fn warn_once_as(key: &str, w: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if !seen.iter().any(|s| s == key) {
        eprintln!("{w}");
        seen.push(key.to_string());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_values_in_messages_are_cut() {
        let short = "a: invalid value \"x\"";
        assert_eq!(super::bounded(short), short);
        let value = "C".repeat(7_000_000);
        let msg = format!("kubernetesVersion: Invalid value: \"{value}\": not a version");
        let shown = super::bounded(&msg);
        assert!(shown.len() < 300, "{}", shown.len());
        assert!(
            shown.starts_with("kubernetesVersion: Invalid value: \"CCC"),
            "{shown}"
        );
        assert!(
            shown.ends_with("... (7000003 bytes) not a version"),
            "{shown}"
        );
        let many = "word ".repeat(10_000);
        let shown = super::bounded(&many);
        assert!(shown.len() < super::MAX_SHOWN_MESSAGE + 100);
        assert!(shown.ends_with("(message cut at 4096 bytes)"));
    }

    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_millis(212)), "212ms");
        assert_eq!(human_duration(Duration::from_millis(3420)), "3.4s");
    }

    #[test]
    fn dry_run_report_hides_secrets_and_shows_public_content() {
        let buf = Buf::default();
        let mut c = Console::to_writer(Box::new(buf.clone()));
        let actions = vec![
            HostAction::WriteFile {
                path: "/etc/kubernetes/pki/ca.key".into(),
                mode: 0o600,
                size: 6,
                sensitivity: Sensitivity::Secret,
            },
            HostAction::WriteFile {
                path: "/var/lib/kubelet/config.yaml".into(),
                mode: 0o644,
                size: 14,
                sensitivity: Sensitivity::Public,
            },
        ];
        c.dry_run_report(&actions, &|p| {
            Some(if p.ends_with("ca.key") {
                b"SECRET".to_vec()
            } else {
                b"kind: Kubelet\n".to_vec()
            })
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("SECRET"));
        assert!(text.contains("/etc/kubernetes/pki/ca.key (mode 0600, 6 bytes): content not shown"));
        assert!(
            text.contains("/var/lib/kubelet/config.yaml (mode 0644, 14 bytes):\n\tkind: Kubelet\n")
        );
    }
}

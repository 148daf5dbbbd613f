//! SSH to the hosts, through the `openssh` crate over the system's OpenSSH client: the
//! user's `~/.ssh/config`, agents, jump hosts and known_hosts work as they do for `ssh`,
//! one master connection per host carries every command of a run, and host keys are
//! checked strictly (an unknown key is refused unless the user accepts new keys).

use std::path::PathBuf;
use std::time::Duration;

use openssh::{KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::AsyncWriteExt;

use crate::spec::Host;

mod forward;
pub use forward::Forward;

/// How every host is reached.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `known_hosts` file (SSH's own when `None`).
    pub known_hosts_file: Option<PathBuf>,
    /// Accept, and record, the key of a host not yet in known_hosts (a changed key is
    /// still refused).
    pub accept_new_host_keys: bool,
    /// Where the master connections' sockets live.
    pub control_dir: PathBuf,
    /// How long connecting may take.
    pub connect_timeout: Duration,
}

/// One host's SSH connection.
pub struct Remote {
    session: Session,
    /// `user@address:port`, for messages.
    pub name: String,
    /// Commands go through `sudo -n` (the login user is not root).
    sudo: bool,
}

/// What a command did.
#[derive(Debug)]
pub struct Output {
    /// Its exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// What it printed.
    pub stdout: Vec<u8>,
    /// What it printed on standard error.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether it succeeded.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last `n` lines it printed on standard error (or standard output, when standard
    /// error is empty), for a failure's message.
    pub fn tail(&self, n: usize) -> String {
        let text = if self.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
            &self.stderr
        } else {
            &self.stdout
        };
        let text = String::from_utf8_lossy(text);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Remote {
    /// Connects to `h`.
    pub async fn connect(h: &Host, o: &Options) -> anyhow::Result<Remote> {
        let name = format!(
            "{}@{}",
            h.user,
            kubeadm::config::join_host_port(&h.address, h.port)
        );
        let mut b = SessionBuilder::default();
        b.user(h.user.clone())
            .port(h.port)
            .known_hosts_check(if o.accept_new_host_keys {
                KnownHosts::Add
            } else {
                KnownHosts::Strict
            })
            .connect_timeout(o.connect_timeout)
            .server_alive_interval(Duration::from_secs(15))
            .control_directory(&o.control_dir);
        if let Some(k) = &h.identity_file {
            b.keyfile(k);
        }
        if let Some(f) = &o.known_hosts_file {
            b.user_known_hosts_file(f);
        }
        // The crate puts the destination last on ssh's command line with no `--` before
        // it; the file's checks (crate::address) keep addresses and users from beginning
        // with '-', and the destination begins with the user besides, so it cannot be
        // read as an option. The user is also given with -l, which ssh prefers.
        let destination = format!("{}@{}", h.user, h.address);
        let session = b.connect_mux(&destination).await.map_err(|e| {
            let text = error_text(&e);
            let hint = if text.contains("Host key verification failed")
                || text.contains("host key")
            {
                format!(
                    "\n  the host's SSH key is not the one known_hosts{} holds for it, or it is not there: compare `ssh-keyscan -p {} {}` with the host's /etc/ssh/ssh_host_*_key.pub and add it to known_hosts, or run again with --accept-new-host-keys to accept a key seen for the first time",
                    o.known_hosts_file
                        .as_ref()
                        .map(|f| format!(" ({})", f.display()))
                        .unwrap_or_default(),
                    h.port,
                    h.address
                )
            } else {
                String::new()
            };
            anyhow::anyhow!("cannot connect over SSH to {name}: {text}{hint}")
        })?;
        let r = Remote {
            session,
            name,
            sudo: h.user != "root",
        };
        if r.sudo {
            if let Err(e) = r.check_sudo(&h.user).await {
                r.close().await;
                return Err(e);
            }
        }
        Ok(r)
    }

    /// Checks, before anything else runs, that `sudo -n` lets `user` run commands as root:
    /// `-n` never prompts (a password prompt would hang the run), so a sudo that asks for a
    /// password fails here at once, saying what to change on the host.
    async fn check_sudo(&self, user: &str) -> anyhow::Result<()> {
        let out = self.run("[ \"$(id -u)\" = 0 ]", None).await?;
        if out.success() {
            return Ok(());
        }
        let said = bounded(&out.tail(3), 300).replace('\n', "; ");
        let why = if out.code == Some(127) || said.contains("not found") {
            "sudo is not installed".to_string()
        } else if said.contains("password") {
            format!("sudo asks {user} for a password")
        } else if said.contains("tty") {
            format!("sudo wants a terminal for {user} (requiretty; `Defaults:{user} !requiretty` lifts it)")
        } else if said.is_empty() {
            "commands run through sudo do not run as root".to_string()
        } else {
            format!("sudo refuses {user} commands as root")
        };
        anyhow::bail!(
            "{}: {why}; commands of a user other than root run through `sudo -n`, which never prompts: allow {user} sudo without a password (a sudoers drop-in such as /etc/sudoers.d/{user} holding `{user} ALL=(ALL) NOPASSWD: ALL`), or log in as root (user: root){}",
            self.name,
            if said.is_empty() {
                String::new()
            } else {
                format!("\n  sudo said: {said}")
            }
        )
    }

    /// Runs `script` with `sh -c` on the host, with `stdin` as its standard input.
    pub async fn run(&self, script: &str, stdin: Option<&[u8]>) -> anyhow::Result<Output> {
        let mut cmd = if self.sudo {
            let mut c = self.session.command("sudo");
            c.args(["-n", "sh", "-c", script]);
            c
        } else {
            let mut c = self.session.command("sh");
            c.args(["-c", script]);
            c
        };
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().await.map_err(|e| {
            anyhow::anyhow!("{}: cannot run a command: {}", self.name, error_text(&e))
        })?;
        // The input is written from a task of its own, so a command that prints a lot
        // before reading it cannot stall both sides.
        let writer = match stdin {
            Some(input) => {
                let mut w = child
                    .stdin()
                    .take()
                    .ok_or_else(|| anyhow::anyhow!("{}: no standard input", self.name))?;
                let input = input.to_vec();
                Some(tokio::spawn(async move {
                    let r = w.write_all(&input).await;
                    let _ = w.shutdown().await;
                    r
                }))
            }
            None => None,
        };
        let out = child.wait_with_output().await;
        if let Some(writer) = writer {
            writer
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.name))?
                .map_err(|e| anyhow::anyhow!("{}: sending the input: {e}", self.name))?;
        }
        let out = out.map_err(|e| anyhow::anyhow!("{}: {}", self.name, error_text(&e)))?;
        Ok(Output {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Ends the master connection.
    pub async fn close(self) {
        let _ = self.session.close().await;
    }
}

/// `text` cut to `max` characters (a host's answer quoted in a message stays short).
fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()),
        None => text.to_string(),
    }
}

/// An openssh error with its causes, on one line.
fn error_text(e: &openssh::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A shell function for the scripts run on hosts: `sha256_of FILE` prints the file's
/// SHA-256 in hex. OpenSSL's digest when the host has it (several times faster than
/// sha256sum where the CPU has SHA instructions, which counts for a binary of megabytes
/// hashed on every host on every run), else sha256sum's; an answer that is not 64 hex
/// digits is not taken (both tools put a `\` before the digest of a name holding a
/// backslash or a newline).
pub const SHA256_OF: &str = r#"sha256_of() {
  _s=
  if command -v openssl >/dev/null 2>&1; then _s=$(openssl dgst -sha256 -r "$1" 2>/dev/null) || _s=; fi
  _s=${_s%% *}; _s=${_s#\\}
  case $_s in *[!0-9a-f]*) _s= ;; esac
  if [ ${#_s} -ne 64 ]; then
    _s=$(sha256sum "$1") || return 1
    _s=${_s%% *}; _s=${_s#\\}
  fi
  echo "$_s"
}
"#;

/// `s` quoted for a POSIX shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_words_and_quotes_the_rest() {
        assert_eq!(quote("/usr/local/bin/kubeadm"), "/usr/local/bin/kubeadm");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$(x)"), "'$(x)'");
    }

    #[test]
    fn sha256_of_is_openssls_digest_or_sha256sums() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a b\\c");
        std::fs::write(&file, b"hello").unwrap();
        let want = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let run = |path: Option<&std::path::Path>| {
            let mut c = std::process::Command::new("/bin/sh");
            c.arg("-c")
                .arg(format!("{SHA256_OF}sha256_of \"$1\""))
                .arg("sh")
                .arg(&file);
            if let Some(p) = path {
                c.env("PATH", p);
            }
            let o = c.output().unwrap();
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
            )
        };
        assert_eq!(run(None), (true, format!("{want}\n")));
        // Without openssl on PATH: sha256sum's.
        let only = dir.path().join("bin");
        std::fs::create_dir(&only).unwrap();
        let sum = ["/usr/bin/sha256sum", "/bin/sha256sum"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("sha256sum");
        std::os::unix::fs::symlink(sum, only.join("sha256sum")).unwrap();
        assert_eq!(run(Some(&only)), (true, format!("{want}\n")));
        std::fs::remove_file(&file).unwrap();
        assert!(!run(None).0, "a missing file is a failure");
    }

    #[test]
    fn a_tail_prefers_standard_error() {
        let o = Output {
            code: Some(1),
            stdout: b"a\nb\n".to_vec(),
            stderr: b"x\n\ny\nz\n".to_vec(),
        };
        assert_eq!(o.tail(2), "y\nz");
        let o = Output {
            code: Some(1),
            stdout: b"a\nb\n".to_vec(),
            stderr: b" \n".to_vec(),
        };
        assert_eq!(o.tail(5), "a\nb");
    }
}

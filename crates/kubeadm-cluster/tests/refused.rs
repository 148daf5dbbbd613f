//! Cluster files whose values would reach ssh as options, garble the terminal or crash
//! the run are refused when the file is read: the program exits 1 naming the field and
//! its line, and no ssh is started. An `ssh` first on PATH records every start, so a
//! start the checks let through would show; a good file shows that it would.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory with a recording `ssh` and the cluster files of one test.
struct Bench {
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let ssh = bin.join("ssh");
        std::fs::write(
            &ssh,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexit 255\n",
                dir.path().join("ssh-started").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
        Bench { dir }
    }

    /// What ssh was started with, one line per start (`None`: never started).
    fn ssh_started(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("ssh-started")).ok()
    }

    fn file(&self, address: &str, rest: &str) -> PathBuf {
        let f = self.dir.path().join("cluster.yaml");
        std::fs::write(
            &f,
            format!(
                "apiVersion: kubeadm-rs.io/v1alpha1
kind: Cluster
hosts:
- role: control-plane
  address: {address}
{rest}"
            ),
        )
        .unwrap();
        f
    }

    /// Runs kubeadm-cluster `command` on `file`, with the recording ssh first on PATH:
    /// its exit code and its standard error.
    fn run(&self, command: &str, file: &Path) -> (Option<i32>, String) {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new(env!("CARGO_BIN_EXE_kubeadm-cluster"));
        c.arg(command).arg("-f").arg(file);
        match command {
            "apply" => {
                c.arg("--yes")
                    .arg("--kubeadm-binary")
                    .arg(env!("CARGO_BIN_EXE_kubeadm-cluster"));
            }
            "reset" => {
                c.arg("--yes");
            }
            _ => {}
        }
        let o = c
            .env("PATH", path)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

#[test]
fn hostile_values_are_refused_before_any_ssh_starts() {
    for (command, address, rest, says) in [
        ("status", "-V", "", "hosts[0].address: \"-V\" begins with '-'"),
        (
            "apply",
            "-oProxyCommand=touch /tmp/kubeadm-cluster-proxycommand",
            "",
            "hosts[0].address: \"-oProxyCommand=touch /tmp/kubeadm-cluster-proxycommand\" begins with '-'",
        ),
        (
            "status",
            "\"\\e]0;owned\\anode\"",
            "",
            "hosts[0].address: \"\\u{1b}]0;owned\\u{7}node\" holds whitespace or a control character",
        ),
        ("apply", "\"node 1\"", "", "hosts[0].address: \"node 1\" holds whitespace"),
        (
            "reset",
            "node1",
            "parallelJoins: 18446744073709551615\n",
            "parallelJoins: 18446744073709551615 workers joining at once is more than",
        ),
    ] {
        let b = Bench::new();
        let file = b.file(address, rest);
        let (code, err) = b.run(command, &file);
        let line = if rest.is_empty() { 5 } else { 6 };
        assert_eq!(code, Some(1), "{command} {address}: {err}");
        assert!(
            err.starts_with(&format!("error: {}:{line}: ", file.display())),
            "{command} {address}: {err}"
        );
        assert!(err.contains(says), "{command} {address}: {err}");
        assert!(!err.contains(['\x1b', '\x07']), "raw control characters: {err:?}");
        assert_eq!(b.ssh_started(), None, "{command} {address}: ssh was started");
        assert!(!Path::new("/tmp/kubeadm-cluster-proxycommand").exists());
    }
}

#[test]
fn a_good_file_does_reach_ssh_with_the_user_before_the_address() {
    let b = Bench::new();
    for (address, destination) in [("node1", "root@node1"), ("\"[fd00::1]\"", "root@fd00::1")] {
        let file = b.file(address, "");
        let (code, err) = b.run("status", &file);
        // The recording ssh fails every connection: the host fails, the run says so.
        assert_eq!(code, Some(1), "{err}");
        let started = b.ssh_started().expect("ssh started");
        let last = started.lines().last().unwrap();
        assert!(
            last.contains(" -l root ") && last.ends_with(&format!(" {destination}")),
            "the user is given with -l and the destination is ssh's last word: {started}"
        );
    }
}

/// A cluster file that is a FIFO, a device or nests without end is refused at once, with
/// the path (and the line), and nothing is started.
#[test]
fn cluster_files_that_are_no_files_or_nest_without_end_are_refused() {
    let bench = Bench::new();
    let fifo = bench.dir.path().join("fifo.yaml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (code, err) = bench.run("status", &fifo);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is a FIFO, not a regular file"), "{err}");
    let (code, err) = bench.run("status", Path::new("/dev/zero"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("/dev/zero: cannot read the cluster file: is a character device"),
        "{err}"
    );
    let deep = bench.dir.path().join("deep.yaml");
    std::fs::write(
        &deep,
        format!(
            "apiVersion: kubeadm-rs.io/v1alpha1\nhosts: {}",
            "[".repeat(100_000)
        ),
    )
    .unwrap();
    let (code, err) = bench.run("status", &deep);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("deep.yaml:2: more than 256 nested"), "{err}");
    assert_eq!(bench.ssh_started(), None);
}

//! What the package tests share: the programs and man pages a package is built from (this
//! build's kubeadm and kubeadm-cluster, and the pages of both as kubeadm-manpages writes
//! them), and running a command that must succeed.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `cmd`, failing the test with its output unless it succeeds; its standard output.
pub fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What a package is built from.
pub struct Inputs {
    pub kubeadm: PathBuf,
    pub kubeadm_cluster: PathBuf,
    /// The man pages' directory.
    pub man: PathBuf,
    /// Its pages: kubeadm's, then kubeadm-cluster's.
    pub pages: Vec<String>,
}

impl Inputs {
    /// The binaries of this build and their pages, written under `dir`.
    pub fn new(dir: &Path) -> Inputs {
        let kubeadm = PathBuf::from(env!("CARGO_BIN_EXE_kubeadm"));
        // Another package's binary: cargo builds it beside kubeadm for that package's own
        // tests (`cargo test --workspace`).
        let kubeadm_cluster = kubeadm.with_file_name("kubeadm-cluster");
        assert!(
            kubeadm_cluster.is_file(),
            "{} is missing: build it with `cargo build -p kubeadm-cluster` (`cargo test --workspace` does)",
            kubeadm_cluster.display()
        );
        let man = dir.join("man");
        let mut pages = kubeadm::cli::manpages::write_all(&man).unwrap();
        let cluster = <kubeadm_cluster::cli::Cli as clap::CommandFactory>::command();
        pages.extend(kubeadm::cli::manpages::write_program(cluster, &man).unwrap());
        Inputs {
            kubeadm,
            kubeadm_cluster,
            man,
            pages,
        }
    }

    /// The arguments giving them to `packaging/*/build`, with the package written to
    /// `out`, uncompressed (the test's binaries carry line tables: compressing them takes
    /// most of a minute and proves nothing more).
    pub fn build_args(&self, out: &Path) -> Vec<PathBuf> {
        [
            "--binary".into(),
            self.kubeadm.clone(),
            "--cluster-binary".into(),
            self.kubeadm_cluster.clone(),
            "--man-dir".into(),
            self.man.clone(),
            "--out".into(),
            out.to_path_buf(),
            "--compression".into(),
            "none".into(),
        ]
        .to_vec()
    }
}

/// Checks the programs installed under `root`: kubeadm is this build's (its version and
/// its bytes) and kubeadm-cluster runs and lists its commands.
pub fn check_programs(root: &Path, inputs: &Inputs) {
    let kubeadm = root.join("usr/bin/kubeadm");
    assert_eq!(
        run(Command::new(&kubeadm).args(["version", "-o", "short"])).trim(),
        "v1.37.1"
    );
    for (installed, built) in [
        (&kubeadm, &inputs.kubeadm),
        (
            &root.join("usr/bin/kubeadm-cluster"),
            &inputs.kubeadm_cluster,
        ),
    ] {
        assert!(
            std::fs::read(installed).unwrap() == std::fs::read(built).unwrap(),
            "{} is not the binary built",
            installed.display()
        );
    }
    let help = run(Command::new(root.join("usr/bin/kubeadm-cluster")).arg("--help"));
    for command in ["plan", "apply", "reset", "status", "kubeconfig"] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "{command} missing from kubeadm-cluster --help:\n{help}"
        );
    }
}

/// Checks that man finds the pages of both programs under `root`'s man directory, one
/// per command.
pub fn check_man_pages(root: &Path, inputs: &Inputs) {
    let man_dir = root.join("usr/share/man");
    for (page, flag) in [
        ("kubeadm-join", "--discovery-token-ca-cert-hash"),
        ("kubeadm-cluster-apply", "--accept-new-host-keys"),
    ] {
        let found = run(Command::new("man")
            .arg("-M")
            .arg(&man_dir)
            .args(["-w", page]));
        assert_eq!(
            found.trim(),
            man_dir.join(format!("man1/{page}.1.gz")).to_str().unwrap()
        );
        let text = run(Command::new("man")
            .env("MANWIDTH", "200")
            .env("MAN_KEEP_FORMATTING", "0")
            .arg("-M")
            .arg(&man_dir)
            .arg(page));
        // Bold and underlined words come overstruck ("c\x08c"): read as plain text.
        let mut plain = String::new();
        for c in text.chars() {
            if c == '\u{8}' {
                plain.pop();
            } else {
                plain.push(c);
            }
        }
        assert!(plain.contains(flag), "{page}: {plain}");
    }
    let mut installed: Vec<String> = std::fs::read_dir(man_dir.join("man1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    installed.sort();
    let mut want: Vec<String> = inputs.pages.iter().map(|p| format!("{p}.gz")).collect();
    want.sort();
    assert_eq!(installed, want);
    assert!(
        want.iter().any(|p| p == "kubeadm-cluster-plan.1.gz"),
        "{want:?}"
    );
}

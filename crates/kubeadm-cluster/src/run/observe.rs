//! What a run starts from: the kubeadm binary it installs (its checksum and
//! architecture), every host's connection and facts, read from all hosts at once, and
//! the cluster those facts show, if there is one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{redact, say, Outcome, Settings};
use crate::facts::{self, Facts};
use crate::spec::{Cluster, Host, Role};
use crate::ssh::Remote;

/// A host as a run sees it: its connection and facts, or why it has none, and how it
/// ended so far.
pub(super) struct Node {
    pub(super) host: Host,
    pub(super) remote: Option<Arc<Remote>>,
    pub(super) facts: Option<Facts>,
    pub(super) outcome: Option<Outcome>,
    pub(super) started: Instant,
    pub(super) elapsed: Duration,
}

impl Node {
    /// Reachable and not ended: the next step runs here.
    pub(super) fn ready(&self) -> bool {
        self.outcome.is_none() && self.remote.is_some()
    }

    /// Ends the host with `o`, saying why when it failed.
    pub(super) fn end(&mut self, o: Outcome) {
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
pub(super) async fn connect_all(c: &Cluster, s: &Settings) -> Vec<Node> {
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

/// The cluster as the hosts' facts show it.
pub(super) struct Found {
    /// The first control plane: the one holding the cluster's files, else the first of
    /// the file (where init runs).
    pub(super) primary: usize,
    /// The CA public-key pin of the cluster, when it exists.
    pub(super) pin: Option<String>,
}

/// Finds the cluster: the first control plane holding its files (admin.conf, the API
/// server's manifest and the CA). `facts` are the hosts', in the file's order (`None`
/// for a host that could not be read).
pub(super) fn find_cluster(c: &Cluster, facts: &[Option<&Facts>]) -> Found {
    let holds = |(h, f): (&Host, &Option<&Facts>)| {
        h.role == Role::ControlPlane
            && f.is_some_and(|f| f.admin_conf && f.apiserver_manifest && f.ca_pin.is_some())
    };
    // One that stays, when there is one: a control plane being removed is not the one
    // the run works through.
    let existing = c
        .hosts
        .iter()
        .zip(facts)
        .position(|(h, f)| !h.remove && holds((h, f)))
        .or_else(|| c.hosts.iter().zip(facts).position(holds));
    match existing {
        Some(primary) => Found {
            primary,
            pin: facts[primary].and_then(|f| f.ca_pin.clone()),
        },
        None => Found {
            primary: c.control_planes().next().expect("a control plane").0,
            pin: None,
        },
    }
}

/// The kubeadm binary a run installs.
pub(super) struct Binary {
    /// Where it was read.
    pub(super) path: PathBuf,
    /// Its bytes.
    pub(super) bytes: Arc<Vec<u8>>,
    /// Their SHA-256, in hex.
    pub(super) sha: String,
    /// The architecture it is built for (`uname -m`'s word), when it is an ELF file.
    pub(super) arch: Option<&'static str>,
}

impl Binary {
    /// Reads the binary at `path`.
    pub(super) fn read(path: &Path) -> anyhow::Result<Binary> {
        let bytes = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the kubeadm binary to install on the hosts, {}: {e}; give it with --kubeadm-binary",
                path.display()
            )
        })?;
        Ok(Binary {
            path: path.to_path_buf(),
            sha: sha256_hex(&bytes),
            arch: elf_machine(&bytes),
            bytes: Arc::new(bytes),
        })
    }
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
pub(super) fn same_machine(want: &str, have: &str) -> bool {
    match want {
        "arm" => have.starts_with("arm"),
        "i686" => matches!(have, "i386" | "i486" | "i586" | "i686"),
        _ => want == have,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_architecture_of_an_executable_is_read_from_its_header() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let arch = elf_machine(&me).expect("an ELF test binary");
        assert!(same_machine(arch, std::env::consts::ARCH), "{arch}");
        assert_eq!(elf_machine(b"#!/bin/sh\necho not elf\n"), None);
        assert!(!same_machine("aarch64", "x86_64"));
        assert!(same_machine("arm", "armv7l"));
    }
}

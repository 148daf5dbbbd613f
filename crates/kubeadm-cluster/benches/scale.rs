//! kubeadm-cluster as hosts grow: clusters of one control plane and N workers (10 by
//! default; give the counts as arguments: `cargo bench -p kubeadm-cluster --bench scale
//! -- 10 30 50`) built from simulated hosts (network namespaces with their own sshd and
//! a node simulator each), every worker joining at once. For each size: the first
//! `apply`, the second (no-op) `apply` and `check`, each as a total and per host; and,
//! on the same hosts over the same SSH keys, the floor of an Ansible-based tool such as
//! kubespray: `ansible all -m setup` (fact gathering, which every kubespray run starts
//! with), when `ansible` is on PATH (`pip install ansible-core`; bench/scale does it).
//! The reference for the first apply: one control plane and one worker (init plus one
//! join).
//! Run as root; `bash bench/scale` installs what it needs and runs it.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    if let Some(why) = support::unavailable() {
        eprintln!("scale benchmark skipped: {why}");
        return;
    }
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes.push(10);
    }
    let reference = support::scale_run(1);
    let (base, ok, out) = reference.first_apply.clone();
    assert!(ok, "init plus one join failed:\n{out}");
    drop(reference);
    println!(
        "first apply of 1 control plane + 1 worker (init plus one join): {:.2} s",
        secs(base)
    );
    println!();
    println!(
        "{:>7}  {:>22}  {:>22}  {:>22}  {:>22}",
        "workers", "first apply", "no-op apply", "check", "ansible -m setup"
    );
    for n in sizes {
        let run = support::scale_run(n);
        for (what, (_, ok, out)) in [
            ("first apply", &run.first_apply),
            ("no-op apply", &run.noop_apply),
            ("check", &run.check),
        ] {
            assert!(ok, "{what} of {n} workers failed:\n{out}");
        }
        let hosts = n + 1;
        let ansible = ansible_setup(&run);
        let cell = |d: Duration| {
            format!(
                "{:.2} s ({:.0} ms/host)",
                secs(d),
                secs(d) * 1000.0 / hosts as f64
            )
        };
        println!(
            "{n:>7}  {:>22}  {:>22}  {:>22}  {:>22}",
            cell(run.first_apply.0),
            cell(run.noop_apply.0),
            cell(run.check.0),
            match &ansible {
                Ok(d) => cell(*d),
                Err(why) => why.clone(),
            }
        );
        println!(
            "         first apply / (init plus one join) = {:.2}; no-op apply / ansible floor = {}",
            secs(run.first_apply.0) / secs(base),
            match ansible {
                Ok(d) => format!("{:.2}", secs(run.noop_apply.0) / secs(d)),
                Err(_) => "-".into(),
            }
        );
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `ansible all -m setup` on the run's hosts from the operator's namespace, with the
/// same key and known_hosts, every host at once (`--forks` as many as hosts).
fn ansible_setup(run: &support::ScaleRun) -> Result<Duration, String> {
    let found = Command::new("sh")
        .args(["-c", "command -v ansible"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        return Err("no ansible".into());
    }
    let dir = run.net.dir.path();
    let mut inv = String::from("[all]\n");
    for h in &run.hosts {
        inv.push_str(&format!("{}\n", h.addr));
    }
    inv.push_str(&format!(
        "[all:vars]\nansible_user=root\nansible_ssh_private_key_file={}\nansible_ssh_common_args='-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes'\nansible_python_interpreter=/usr/bin/python3\n",
        run.net.identity().display(),
        run.net.known_hosts().display()
    ));
    let path = dir.join("inventory.ini");
    std::fs::write(&path, inv).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let o = Command::new("ip")
        .args(["netns", "exec", &run.net.operator, "ansible", "all", "-i"])
        .arg(&path)
        .args(["-m", "setup", "--forks", &run.hosts.len().to_string()])
        .env("ANSIBLE_LOCAL_TEMP", dir.join("ansible-tmp"))
        .env("ANSIBLE_HOME", dir.join("ansible-home"))
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    if !o.status.success() {
        return Err(format!(
            "ansible failed: {}",
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .chain(String::from_utf8_lossy(&o.stderr).lines())
                .filter(|l| l.contains("FAILED")
                    || l.contains("UNREACHABLE")
                    || l.contains("ERROR"))
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    Ok(took)
}

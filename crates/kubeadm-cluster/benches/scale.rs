//! kubeadm-cluster as hosts grow: clusters of one control plane and N workers (10 by
//! default; give the counts as arguments: `cargo bench -p kubeadm-cluster --bench scale
//! -- 10 30 50`) built from simulated hosts (network namespaces with their own sshd and
//! a node simulator each), every worker joining at once. For each size: the first
//! `apply`, the second (no-op) `apply` and `check`, each as a total and per host; and,
//! on the same hosts over the same SSH keys, the floor of an Ansible-based tool such as
//! kubespray: `ansible all -m setup` (fact gathering, which every kubespray run starts
//! with), when `ansible` is on PATH (`pip install ansible-core`; bench/scale does it).
//! The reference for the first apply: one control plane and one worker (init plus one
//! join), the median of three runs. Under each size's times, the CPU time kubeadm-cluster and the SSH clients it
//! started used (the operator's own work): the simulated hosts' sshd, kubeadm and
//! kubelet share this machine's CPUs with it here, where a real cluster's hosts each
//! have their own.
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
    // The reference varies from run to run more than the larger runs do: the median of
    // three.
    let mut runs: Vec<Duration> = (0..3)
        .map(|_| {
            let reference = support::scale_run(1);
            let first = &reference.first_apply;
            assert!(first.ok, "init plus one join failed:\n{}", first.out);
            first.wall
        })
        .collect();
    runs.sort();
    let base = runs[1];
    println!(
        "first apply of 1 control plane + 1 worker (init plus one join), median of 3: {:.2} s ({})",
        secs(base),
        runs.iter()
            .map(|d| format!("{:.2}", secs(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!(
        "{:>7}  {:>22}  {:>22}  {:>22}  {:>22}",
        "workers", "first apply", "no-op apply", "check", "ansible -m setup"
    );
    for n in sizes {
        let run = support::scale_run(n);
        let timed = [
            ("first apply", &run.first_apply),
            ("no-op apply", &run.noop_apply),
            ("check", &run.check),
        ];
        for (what, t) in timed {
            assert!(t.ok, "{what} of {n} workers failed:\n{}", t.out);
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
            cell(run.first_apply.wall),
            cell(run.noop_apply.wall),
            cell(run.check.wall),
            match &ansible {
                Ok(d) => cell(*d),
                Err(why) => why.clone(),
            }
        );
        // The operator's own share: kubeadm-cluster and its SSH clients, without the
        // simulated hosts' sshd, kubeadm and kubelet, which share this machine's CPUs here
        // but have their own on a real cluster.
        println!(
            "{:>7}  {:>22}  {:>22}  {:>22}",
            "CPU",
            cpu_cell(run.first_apply.cpu, hosts),
            cpu_cell(run.noop_apply.cpu, hosts),
            cpu_cell(run.check.cpu, hosts)
        );
        println!(
            "         first apply / (init plus one join) = {:.2}; no-op apply / ansible floor = {}",
            secs(run.first_apply.wall) / secs(base),
            match ansible {
                Ok(d) => format!("{:.2}", secs(run.noop_apply.wall) / secs(d)),
                Err(_) => "-".into(),
            }
        );
    }
}

/// The CPU time of kubeadm-cluster and the processes it started (its SSH clients), in
/// total and per host; `-` where it could not be counted.
fn cpu_cell(cpu: Option<Duration>, hosts: usize) -> String {
    match cpu {
        Some(d) => format!(
            "{:.2} s ({:.0} ms/host)",
            secs(d),
            secs(d) * 1000.0 / hosts as f64
        ),
        None => "-".into(),
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

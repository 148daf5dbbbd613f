//! A whole `kubeadm init`, then a worker's `kubeadm join`, against the test API server, with
//! a node simulator whose components turn healthy a known moment (one second) after their
//! manifests appear; preflight runs, with only the host checks a temporary root cannot pass
//! ignored. Reported, as medians of 5 rounds: each command's wall time, and the time from
//! the last event it waits for (init: the last control-plane component answering; join:
//! the kubelet writing `kubelet.conf` after its TLS bootstrap) to the command's end, which
//! is kubeadm's own share after the wait. Run with `cargo bench --bench init_join`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::node::{write_init_config, NodeSimulator, HOST_CHECKS};

const ROUNDS: usize = 5;
const HEALTHY_AFTER: Duration = Duration::from_secs(1);

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    support::http_ok("127.0.0.1:10248");
    let (mut init_total, mut init_after) = (Vec::new(), Vec::new());
    let (mut join_total, mut join_after) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let root = tempfile::tempdir().unwrap();
        write_init_config(root.path(), support::free_port());
        let sim = NodeSimulator::start_with(root.path(), "cp-1", HEALTHY_AFTER);
        let start = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
            .arg("--rootfs")
            .arg(root.path())
            .args([
                "init",
                "--config",
                "/kubeadm.yaml",
                "--ignore-preflight-errors",
                HOST_CHECKS,
            ])
            .output()
            .unwrap();
        let end = Instant::now();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        init_total.push(end - start);
        init_after.push(end - sim.last_healthy().expect("every component answered"));

        let worker = tempfile::tempdir().unwrap();
        let kubelet = support::kubelet_bootstrap(worker.path().to_path_buf(), "worker-1", None);
        let mut args = support::printed_join_command(&out);
        args.extend(
            [
                "--node-name",
                "worker-1",
                "--ignore-preflight-errors",
                HOST_CHECKS,
            ]
            .map(String::from),
        );
        let start = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
            .arg("--rootfs")
            .arg(worker.path())
            .args(&args)
            .output()
            .unwrap();
        let end = Instant::now();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bootstrapped = kubelet.join().unwrap();
        join_total.push(end - start);
        join_after.push(end - bootstrapped);
        drop(sim);
    }
    println!(
        "init: {} in all; {} after the last component turned healthy",
        ms(median(init_total)),
        ms(median(init_after))
    );
    println!(
        "join: {} in all; {} after the kubelet's TLS bootstrap wrote kubelet.conf",
        ms(median(join_total)),
        ms(median(join_after))
    );
}

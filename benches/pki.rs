//! Key generation and the `certs` + `kubeconfig` phases, side by side in one run (these
//! machines are shared: compare the medians and ratios of the same run, not across runs):
//!
//! - (a) one key;
//! - (b) the 16 keys of a control-plane node one after another;
//! - (c) `kubeadm init phase certs all` then `init phase kubeconfig all`, two processes;
//! - (d) the same work in one run as `kubeadm init` does it: all 16 keys in one parallel
//!   batch (started during preflight), then every certificate and kubeconfig file;
//! - (e) the machine's limit: the 16 keys made by one thread per core from a shared queue,
//!   and nothing else.
//!
//! For RSA-2048 and ECDSA-P256, plus one key from the pure-Rust `rsa` crate for scale.
//! (b) to (e) are measured in turn within each of the rounds; medians are printed.
//! Run with `cargo bench --bench pki`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kubeadm::config::{test_config, EncryptionAlgorithm};
use kubeadm::host::RealHost;
use kubeadm::kubeconfig::KUBECONFIGS;
use kubeadm::phases::certs::{self, KeyCache};
use kubeadm::phases::kubeconfig;
use kubeadm::pki::{PrivateKey, CERTS};

const ROUNDS: usize = 9;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn timed(rounds: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..rounds)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed()
            })
            .collect(),
    )
}

/// The names of the 16 keys of a control-plane node.
fn key_names() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let host = RealHost::new(dir.path());
    let cfg = test_config();
    let mut names = certs::needed(&host, &cfg, &[]).unwrap();
    names.extend(kubeconfig::needed(&host, Path::new("/etc/kubernetes"), &[]).unwrap());
    names
}

/// (d): one batch of every key started at once, each certificate and kubeconfig signed
/// and written as soon as its key is ready.
fn one_run(alg: EncryptionAlgorithm) {
    let dir = tempfile::tempdir().unwrap();
    let host = RealHost::new(dir.path());
    let mut cfg = test_config();
    cfg.cluster.encryption_algorithm = alg;
    let kdir = Path::new("/etc/kubernetes");
    let ready = KeyCache::spawn(key_names(), alg);
    let mut keys = certs::prepare(&host, &cfg, &[], ready).unwrap();
    for spec in CERTS {
        certs::run_cert(&host, &cfg, &mut keys, spec).unwrap();
    }
    certs::run_sa(&host, &cfg, &mut keys).unwrap();
    let mut keys = kubeconfig::prepare(&host, &cfg, kdir, &[], keys).unwrap();
    for spec in KUBECONFIGS {
        kubeconfig::run_kubeconfig(&host, &cfg, kdir, &mut keys, spec).unwrap();
    }
}

/// (c): the two phase commands as a user runs them.
fn two_processes(alg: EncryptionAlgorithm) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("k.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.0.2.10\nnodeRegistration:\n  name: bench\n  criSocket: unix:///var/run/containerd/containerd.sock\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nencryptionAlgorithm: {}\n",
            alg.as_str()
        ),
    )
    .unwrap();
    for phase in ["certs", "kubeconfig"] {
        let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
            .arg("--rootfs")
            .arg(dir.path())
            .args(["init", "phase", phase, "all", "--config", "/k.yaml"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

fn main() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let names = key_names();
    println!(
        "cores: {cores}; {} keys; medians of {ROUNDS} rounds",
        names.len()
    );
    for alg in [EncryptionAlgorithm::Rsa2048, EncryptionAlgorithm::EcdsaP256] {
        let a = timed(ROUNDS * 2, || {
            PrivateKey::generate(alg).unwrap();
        });
        // (b) to (e) take turns within each round, so a change in the machine's load
        // touches all of them alike.
        let mut rounds: [Vec<Duration>; 4] = Default::default();
        for _ in 0..ROUNDS {
            let time = |f: &mut dyn FnMut()| {
                let s = Instant::now();
                f();
                s.elapsed()
            };
            rounds[0].push(time(&mut || {
                for _ in &names {
                    PrivateKey::generate(alg).unwrap();
                }
            }));
            rounds[1].push(time(&mut || two_processes(alg)));
            rounds[2].push(time(&mut || one_run(alg)));
            rounds[3].push(time(&mut || {
                KeyCache::generate(&names, alg).unwrap();
            }));
        }
        let [b, c, d, e] = rounds.map(median);
        let ratio = |x: Duration| x.as_secs_f64() / e.as_secs_f64();
        println!("{}:", alg.as_str());
        println!("  (a) one key                         {a:>9.1?}");
        println!(
            "  (b) 16 keys, one after another      {b:>9.1?}  {:.2}x of (e)",
            ratio(b)
        );
        println!(
            "  (c) certs all + kubeconfig all (2 processes) {c:>9.1?}  {:.2}x of (e)",
            ratio(c)
        );
        println!(
            "  (d) the same in one run (init)      {d:>9.1?}  {:.2}x of (e)",
            ratio(d)
        );
        println!("  (e) 16 keys, one thread per core    {e:>9.1?}");
    }
    let k = timed(ROUNDS * 2, || {
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    });
    println!("RSA-2048 one key (pure-Rust rsa crate): {k:>8.2?}");
}

//! Times the `certs` and `kubeconfig` phases end to end (every key, certificate and
//! kubeconfig file of a control-plane node, written to a scratch root) for RSA-2048 and
//! ECDSA-P256, and the cost of one key from aws-lc-rs (the backend kubeadm-rs uses) and from
//! the pure-Rust `rsa` crate. Run with `cargo bench --bench pki`.

use std::path::Path;
use std::time::{Duration, Instant};

use kubeadm::config::{test_config, EncryptionAlgorithm};
use kubeadm::host::RealHost;
use kubeadm::kubeconfig::KUBECONFIGS;
use kubeadm::phases::{certs, kubeconfig};
use kubeadm::pki::{PrivateKey, CERTS};

const ROUNDS: u32 = 5;

fn init_certs_and_kubeconfigs(alg: EncryptionAlgorithm) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let host = RealHost::new(dir.path());
    let mut cfg = test_config();
    cfg.cluster.encryption_algorithm = alg;
    let start = Instant::now();
    let mut keys = certs::prepare(&host, &cfg, &[]).unwrap();
    for spec in CERTS {
        certs::run_cert(&host, &cfg, &mut keys, spec).unwrap();
    }
    certs::run_sa(&host, &cfg, &mut keys).unwrap();
    let kdir = Path::new("/etc/kubernetes");
    let mut keys = kubeconfig::prepare(&host, &cfg, kdir, &[]).unwrap();
    for spec in KUBECONFIGS {
        kubeconfig::run_kubeconfig(&host, &cfg, kdir, &mut keys, spec).unwrap();
    }
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn per_key(f: impl Fn()) -> Duration {
    median(
        (0..ROUNDS * 2)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("cores: {cores}; {ROUNDS} rounds, medians");
    // 10 certificates + sa + 5 kubeconfigs = 16 keys.
    let keys = CERTS.len() + 1 + KUBECONFIGS.len();
    for alg in [EncryptionAlgorithm::Rsa2048, EncryptionAlgorithm::EcdsaP256] {
        let t = median(
            (0..ROUNDS)
                .map(|_| init_certs_and_kubeconfigs(alg))
                .collect(),
        );
        let k = per_key(|| {
            PrivateKey::generate(alg).unwrap();
        });
        println!(
            "{:<11} certs all + kubeconfig all: {:>8.1?} ({keys} keys); one key (aws-lc-rs): {:>8.2?}",
            alg.as_str(),
            t,
            k
        );
    }
    let k = per_key(|| {
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    });
    println!("RSA-2048    one key (pure-Rust rsa crate): {k:>8.2?}");
}

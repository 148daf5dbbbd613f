//! Keys generated ahead of the phases that use them, by certificate (or kubeconfig) name:
//! in a batch across the machine's cores, or streamed from background threads started as
//! soon as a run knows what it will need, so that each certificate is signed and written
//! while the later keys are still being made. Each key is used once and only by this run;
//! a key nobody takes is dropped with the cache, never written.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::config::EncryptionAlgorithm;
use crate::pki::PrivateKey;

/// Keys made ahead, by name.
#[derive(Default)]
pub struct KeyCache {
    keys: HashMap<String, PrivateKey>,
    stream: Option<Stream>,
}

/// Keys still arriving from background threads. Fresh keys of one algorithm are
/// interchangeable, so each name takes whichever key is made first. (Spare keys made by
/// idle threads while the last one finishes were tried: no gain in the median, and their
/// CPU, spent after the need, slowed what came next.)
struct Stream {
    rx: mpsc::Receiver<anyhow::Result<PrivateKey>>,
    expected: HashSet<String>,
}

/// How many threads make `count` keys: one per core for RSA; one for ECDSA, whose keys
/// take microseconds (starting threads would cost more than they save).
fn threads_for(count: usize, alg: EncryptionAlgorithm) -> usize {
    if matches!(
        alg,
        EncryptionAlgorithm::EcdsaP256 | EncryptionAlgorithm::EcdsaP384
    ) {
        return 1;
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(count.max(1))
}

impl KeyCache {
    /// Generates, in parallel across the machine's cores, one key for each name, and
    /// returns when all are made.
    pub fn generate(names: &[String], alg: EncryptionAlgorithm) -> anyhow::Result<Self> {
        let next = AtomicUsize::new(0);
        let out = Mutex::new(Vec::with_capacity(names.len()));
        std::thread::scope(|s| {
            for _ in 0..threads_for(names.len(), alg) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(name) = names.get(i) else { break };
                    let key = PrivateKey::generate(alg);
                    out.lock().expect("key cache").push((name.clone(), key));
                });
            }
        });
        let mut keys = HashMap::new();
        for (name, key) in out.into_inner().expect("key cache") {
            keys.insert(name, key?);
        }
        Ok(KeyCache { keys, stream: None })
    }

    /// Starts generating one key for each name in the background (one thread per core)
    /// and returns at once; [`KeyCache::take`] waits only until some key is ready.
    pub fn spawn(names: Vec<String>, alg: EncryptionAlgorithm) -> Self {
        let (tx, rx) = mpsc::channel();
        let needed = names.len();
        let threads = threads_for(needed, alg);
        let started = Arc::new(AtomicUsize::new(0));
        for _ in 0..threads {
            let (started, tx) = (started.clone(), tx.clone());
            std::thread::spawn(move || {
                while started.fetch_add(1, Ordering::Relaxed) < needed {
                    let key = PrivateKey::generate(alg).map_err(anyhow::Error::from);
                    // The cache is gone: nobody needs the rest.
                    if tx.send(key).is_err() {
                        break;
                    }
                }
            });
        }
        KeyCache {
            keys: HashMap::new(),
            stream: Some(Stream {
                rx,
                expected: names.into_iter().collect(),
            }),
        }
    }

    /// Whether a key for `name` is ready or on its way.
    pub fn has(&self, name: &str) -> bool {
        self.keys.contains_key(name)
            || self
                .stream
                .as_ref()
                .is_some_and(|s| s.expected.contains(name))
    }

    /// Makes the keys of `names` this cache neither holds nor expects: streamed from the
    /// background when nothing is streaming yet (the caller signs as they come), else in
    /// one parallel batch.
    pub fn fill(&mut self, names: &[String], alg: EncryptionAlgorithm) -> anyhow::Result<()> {
        let missing: Vec<String> = names.iter().filter(|n| !self.has(n)).cloned().collect();
        if missing.is_empty() {
            return Ok(());
        }
        if self.stream.is_none() {
            self.stream = Self::spawn(missing, alg).stream;
        } else {
            self.keys.extend(Self::generate(&missing, alg)?.keys);
        }
        Ok(())
    }

    /// A key for `name`: the one made for it in a batch, else the first streamed key
    /// when `name` is expected (waiting for one), else a new one.
    pub fn take(&mut self, name: &str, alg: EncryptionAlgorithm) -> anyhow::Result<PrivateKey> {
        if let Some(k) = self.keys.remove(name) {
            return Ok(k);
        }
        if let Some(stream) = self.stream.as_mut() {
            if stream.expected.remove(name) {
                if let Ok(key) = stream.rx.recv() {
                    return key;
                }
                // The generating threads are gone without it.
                stream.expected.clear();
            }
        }
        Ok(PrivateKey::generate(alg)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_keys_are_each_taken_once_and_missing_ones_made() {
        let alg = EncryptionAlgorithm::EcdsaP256;
        let names: Vec<String> = ["ca", "apiserver", "sa"].map(String::from).to_vec();
        let mut cache = KeyCache::spawn(names.clone(), alg);
        assert!(cache.has("apiserver") && !cache.has("admin.conf"));
        // Taken out of order: the others wait in the cache.
        let sa = cache.take("sa", alg).unwrap();
        let ca = cache.take("ca", alg).unwrap();
        let apiserver = cache.take("apiserver", alg).unwrap();
        let pems: HashSet<String> = [sa, ca, apiserver].iter().map(|k| k.to_pem()).collect();
        assert_eq!(pems.len(), 3, "three different keys");
        assert!(!cache.has("ca"), "a key is used once");
        cache.fill(&["admin.conf".to_string()], alg).unwrap();
        assert!(cache.has("admin.conf"));
        cache.take("ca", alg).unwrap();
    }
}

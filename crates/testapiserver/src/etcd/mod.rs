//! The optional etcd backing of the store, as kube-apiserver keeps its objects: each
//! object under `<prefix>/<resource>/<namespace>/<name>` (`<prefix>/<resource>/<name>`
//! when cluster-scoped; `--etcd-prefix`, `/registry` by default), with the key names of
//! the real registry (Nodes under `minions`, Services under `services/specs`, Endpoints
//! under `services/endpoints`). Values are the objects as JSON without their
//! `resourceVersion`, which is the key's `mod_revision`, as the real server stores
//! and reads them (it writes built-in kinds as protobuf, which this server does not).
//!
//! The client speaks etcd's v3 gRPC API (KV Range, Put, DeleteRange) over plain HTTP or
//! TLS with a client certificate, from a thread of its own so that the store's callers
//! (request handlers on the server's runtime, controllers, tests) can wait on it.

pub mod api;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::resources::{self, Resource};
use crate::store::Key;

/// Where the store's objects live (flag names as kube-apiserver's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// `--etcd-servers`: client URLs (`https://` or `http://`); the first that answers
    /// is used.
    pub servers: Vec<String>,
    /// `--etcd-cafile`: the CA etcd's serving certificate chains to.
    pub ca_file: Option<PathBuf>,
    /// `--etcd-certfile`: the client certificate.
    pub cert_file: Option<PathBuf>,
    /// `--etcd-keyfile`: its key.
    pub key_file: Option<PathBuf>,
    /// `--etcd-prefix`: the prefix of every key (`/registry`).
    pub prefix: String,
}

impl EtcdConfig {
    /// The servers at `servers` with kube-apiserver's default prefix and no TLS files.
    pub fn new(servers: &[&str]) -> Self {
        EtcdConfig {
            servers: servers.iter().map(|s| s.to_string()).collect(),
            ca_file: None,
            cert_file: None,
            key_file: None,
            prefix: DEFAULT_PREFIX.to_string(),
        }
    }
}

/// kube-apiserver's default `--etcd-prefix`.
pub const DEFAULT_PREFIX: &str = "/registry";

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to one server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys asked for per Range page at first; a page too large for one message is asked
/// for again in halves.
const PAGE: i64 = 500;
/// The most keys read at start.
pub const MAX_KEYS: usize = 100_000;
/// The most value bytes read at start.
pub const MAX_BYTES: usize = 512 << 20;

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, &Channel) + Send>;

/// A client of etcd's KV service.
pub struct Kv {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    endpoint: String,
}

fn read(p: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

fn tls(cfg: &EtcdConfig) -> anyhow::Result<Option<ClientTlsConfig>> {
    let mut tls = ClientTlsConfig::new();
    let mut any = false;
    if let Some(ca) = &cfg.ca_file {
        tls = tls.ca_certificate(Certificate::from_pem(read(ca)?));
        any = true;
    }
    match (&cfg.cert_file, &cfg.key_file) {
        (Some(c), Some(k)) => {
            tls = tls.identity(Identity::from_pem(read(c)?, read(k)?));
            any = true;
        }
        (None, None) => {}
        _ => anyhow::bail!("--etcd-certfile and --etcd-keyfile go together"),
    }
    Ok(any.then_some(tls))
}

async fn connect_any(
    servers: &[String],
    tls: Option<ClientTlsConfig>,
) -> Result<(Channel, String), String> {
    let mut failures = Vec::new();
    for s in servers {
        let attempt = async {
            let mut ep = Endpoint::from_shared(s.clone())
                .map_err(|e| format!("not a URL: {e}"))?
                .connect_timeout(CONNECT_TIMEOUT);
            if s.starts_with("https://") {
                let Some(tls) = tls.clone() else {
                    return Err(
                        "an https:// server needs --etcd-cafile (and a client certificate)"
                            .to_string(),
                    );
                };
                ep = ep
                    .tls_config(tls)
                    .map_err(|e| kubeadm::grpc::error_chain(&e))?;
            } else if !s.starts_with("http://") {
                return Err("the URL must be https:// or http://".to_string());
            }
            tokio::time::timeout(CONNECT_TIMEOUT, ep.connect())
                .await
                .map_err(|_| format!("no answer within {CONNECT_TIMEOUT:?}"))?
                .map_err(|e| kubeadm::grpc::error_chain(&e))
        };
        match attempt.await {
            Ok(ch) => return Ok((ch, s.clone())),
            Err(e) => failures.push(format!("{s}: {e}")),
        }
    }
    Err(if failures.is_empty() {
        "--etcd-servers is empty".to_string()
    } else {
        failures.join("; ")
    })
}

impl Kv {
    /// Connects to the first of the configured servers that answers.
    pub fn connect(cfg: &EtcdConfig) -> anyhow::Result<Kv> {
        let tls = tls(cfg)?;
        let servers = cfg.servers.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("testapiserver-etcd".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("a runtime for the client: {e}")));
                        return;
                    }
                };
                let channel = match rt.block_on(connect_any(&servers, tls)) {
                    Ok((channel, endpoint)) => {
                        let _ = ready_tx.send(Ok(endpoint));
                        channel
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = jobs_rx.recv() {
                    job(&rt, &channel);
                }
            })
            .context("starting the etcd client's thread")?;
        let endpoint = ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the etcd client's thread stopped"))
            .and_then(|r| r.map_err(|e| anyhow::anyhow!("connecting to etcd: {e}")));
        let endpoint = match endpoint {
            Ok(e) => e,
            Err(e) => {
                let _ = thread.join();
                return Err(e);
            }
        };
        Ok(Kv {
            jobs: Some(jobs_tx),
            thread: Some(thread),
            endpoint,
        })
    }

    /// The server this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn call<Req, Resp>(&self, path: &'static str, req: Req) -> Result<Resp, tonic::Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |rt, channel| {
            let r = rt
                .block_on(async {
                    tokio::time::timeout(CALL_TIMEOUT, kubeadm::grpc::unary(channel, path, req))
                        .await
                })
                .unwrap_or_else(|_| {
                    Err(tonic::Status::deadline_exceeded(format!(
                        "no answer within {CALL_TIMEOUT:?}"
                    )))
                });
            let _ = tx.send(r);
        });
        let gone = || tonic::Status::unavailable("the etcd client's thread stopped");
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }

    /// Writes `value` at `key`; the revision of the write.
    pub fn put(&self, key: &str, value: Vec<u8>) -> Result<i64, tonic::Status> {
        let r: api::PutResponse = self.call(
            api::PUT,
            api::PutRequest {
                key: key.as_bytes().to_vec(),
                value,
            },
        )?;
        Ok(r.header.map_or(0, |h| h.revision))
    }

    /// Deletes `key`; the revision after the delete and whether the key was there.
    pub fn delete(&self, key: &str) -> Result<(i64, bool), tonic::Status> {
        let r: api::DeleteRangeResponse = self.call(
            api::DELETE_RANGE,
            api::DeleteRangeRequest {
                key: key.as_bytes().to_vec(),
                range_end: Vec::new(),
            },
        )?;
        Ok((r.header.map_or(0, |h| h.revision), r.deleted > 0))
    }

    /// Every key under `prefix`, read at one revision page by page: the keys and that
    /// revision. Fails past `max_keys` keys or `max_bytes` bytes of values.
    pub fn range_prefix(
        &self,
        prefix: &str,
        max_keys: usize,
        max_bytes: usize,
    ) -> Result<(Vec<api::KeyValue>, i64), String> {
        let end = prefix_end(prefix.as_bytes());
        let mut start = prefix.as_bytes().to_vec();
        let mut revision = 0;
        let mut page = PAGE;
        let mut out: Vec<api::KeyValue> = Vec::new();
        let mut bytes = 0usize;
        loop {
            let req = api::RangeRequest {
                key: start.clone(),
                range_end: end.clone(),
                limit: page,
                revision,
            };
            let r: api::RangeResponse = match self.call(api::RANGE, req) {
                Ok(r) => r,
                // A page larger than one message may be: ask for fewer keys.
                Err(s)
                    if s.code() == tonic::Code::OutOfRange
                        && s.message().contains("too large")
                        && page > 1 =>
                {
                    page /= 2;
                    continue;
                }
                Err(s) => return Err(format!("Range {prefix}: {}", s.message())),
            };
            if revision == 0 {
                revision = r.header.as_ref().map_or(0, |h| h.revision);
            }
            for kv in r.kvs {
                bytes += kv.value.len();
                out.push(kv);
                if out.len() > max_keys {
                    return Err(format!(
                        "more than {max_keys} keys under {prefix}: more than this server reads"
                    ));
                }
                if bytes > max_bytes {
                    return Err(format!(
                        "more than {max_bytes} bytes of values under {prefix}: more than this server reads"
                    ));
                }
            }
            if !r.more {
                return Ok((out, revision));
            }
            let Some(last) = out.last() else {
                return Err(format!("Range {prefix}: more keys said, none sent"));
            };
            start = last.key.clone();
            start.push(0);
        }
    }
}

impl Drop for Kv {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The key after every key that starts with `prefix`: the range end etcd takes for "all
/// keys with this prefix".
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte 0xff: to the end of the key space.
    vec![0]
}

/// The registry's name for a resource's keys: the real registry's, which for a few core
/// resources is not the plural.
fn segment(r: &Resource) -> &'static str {
    match (r.group, r.plural) {
        ("", "nodes") => "minions",
        ("", "services") => "services/specs",
        ("", "endpoints") => "services/endpoints",
        (_, plural) => plural,
    }
}

/// The etcd key of an object (`key` as the store names it) under `prefix`.
pub fn etcd_key(prefix: &str, r: &Resource, namespace: &str, name: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if r.namespaced {
        format!("{prefix}/{}/{namespace}/{name}", segment(r))
    } else {
        format!("{prefix}/{}/{name}", segment(r))
    }
}

/// The resource, namespace and name an etcd key under `prefix` stands for, when it is
/// one of the resources served here.
pub fn parse_key(prefix: &str, key: &str) -> Option<(&'static Resource, String, String)> {
    let rest = key
        .strip_prefix(prefix.trim_end_matches('/'))?
        .strip_prefix('/')?;
    resources::RESOURCES.iter().find_map(|r| {
        let tail = rest.strip_prefix(segment(r))?.strip_prefix('/')?;
        let parts: Vec<&str> = tail.split('/').collect();
        match (r.namespaced, parts.as_slice()) {
            (true, [ns, name]) if !ns.is_empty() && !name.is_empty() => {
                Some((r, ns.to_string(), name.to_string()))
            }
            (false, [name]) if !name.is_empty() => Some((r, String::new(), name.to_string())),
            _ => None,
        }
    })
}

/// The store's objects in etcd.
pub struct Backing {
    kv: Kv,
    prefix: String,
}

impl Backing {
    /// Connects to etcd.
    pub fn connect(cfg: &EtcdConfig) -> anyhow::Result<Backing> {
        if !cfg.prefix.starts_with('/') {
            anyhow::bail!("--etcd-prefix {:?} must start with /", cfg.prefix);
        }
        Ok(Backing {
            kv: Kv::connect(cfg)?,
            prefix: cfg.prefix.trim_end_matches('/').to_string(),
        })
    }

    /// The server the backing talks to.
    pub fn endpoint(&self) -> &str {
        self.kv.endpoint()
    }

    /// The etcd key of a stored object.
    pub fn key(&self, (group, plural, ns, name): &Key) -> String {
        let r = resources::RESOURCES
            .iter()
            .find(|r| r.group == group && r.plural == plural)
            .expect("a stored object's resource is served");
        etcd_key(&self.prefix, r, ns, name)
    }

    /// Writes `object` (without its `resourceVersion`, as the real server stores it) at
    /// the object's key; the revision of the write.
    pub fn put(&self, key: &Key, object: &Value) -> Result<u64, String> {
        let k = self.key(key);
        let mut stored = object.clone();
        if let Some(m) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        let value = serde_json::to_vec(&stored).expect("JSON");
        let rev = self
            .kv
            .put(&k, value)
            .map_err(|s| format!("writing {k} to etcd: {}", s.message()))?;
        revision(rev).ok_or_else(|| format!("writing {k} to etcd: no revision in the answer"))
    }

    /// Deletes the object's key; the revision of the delete.
    pub fn delete(&self, key: &Key) -> Result<u64, String> {
        let k = self.key(key);
        let (rev, _) = self
            .kv
            .delete(&k)
            .map_err(|s| format!("deleting {k} from etcd: {}", s.message()))?;
        revision(rev).ok_or_else(|| format!("deleting {k} from etcd: no revision in the answer"))
    }

    /// Every object of a served resource under the prefix, each with its
    /// `resourceVersion` from its key's `mod_revision`, and the revision they were read at.
    /// Keys of resources not served here are passed over (and left alone); a value this
    /// server cannot read fails the load, naming its key.
    pub fn load(&self) -> anyhow::Result<(Vec<(Key, Value)>, u64)> {
        let under = format!("{}/", self.prefix);
        let (kvs, rev) = self
            .kv
            .range_prefix(&under, MAX_KEYS, MAX_BYTES)
            .map_err(|e| {
                anyhow::anyhow!("reading the objects from etcd at {}: {e}", self.endpoint())
            })?;
        let mut objects = Vec::new();
        for kv in kvs {
            let key = String::from_utf8_lossy(&kv.key).into_owned();
            let Some((r, ns, name)) = parse_key(&self.prefix, &key) else {
                continue;
            };
            let object = decode(r, &ns, &name, &kv)
                .with_context(|| format!("etcd key {key}: not an object this server can read"))?;
            objects.push((
                (
                    r.group.to_string(),
                    r.plural.to_string(),
                    ns.clone(),
                    name.clone(),
                ),
                object,
            ));
        }
        let rev = revision(rev).context("reading the objects from etcd: no revision")?;
        Ok((objects, rev))
    }
}

fn revision(rev: i64) -> Option<u64> {
    u64::try_from(rev).ok().filter(|r| *r > 0)
}

fn decode(r: &Resource, ns: &str, name: &str, kv: &api::KeyValue) -> anyhow::Result<Value> {
    if kv.value.starts_with(b"k8s\0") {
        anyhow::bail!("the value is protobuf, as kube-apiserver writes built-in kinds; this server reads JSON only");
    }
    if kv.value.starts_with(b"k8s:enc:") {
        anyhow::bail!("the value is encrypted at rest; this server reads plain JSON only");
    }
    let mut v: Value = serde_json::from_slice(&kv.value).context("the value is not JSON")?;
    let Some(o) = v.as_object_mut() else {
        anyhow::bail!("the value is not a JSON object");
    };
    let api_version = r.api_version();
    if o.get("apiVersion").and_then(Value::as_str) != Some(api_version.as_str())
        || o.get("kind").and_then(Value::as_str) != Some(r.kind)
    {
        anyhow::bail!("the value is not a {api_version} {}", r.kind);
    }
    let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) else {
        anyhow::bail!("the value has no metadata");
    };
    if m.get("name").and_then(Value::as_str) != Some(name)
        || (r.namespaced && m.get("namespace").and_then(Value::as_str) != Some(ns))
    {
        anyhow::bail!("the object's name or namespace is not its key's");
    }
    let rv = revision(kv.mod_revision).context("the key has no mod_revision")?;
    m.insert("resourceVersion".into(), Value::String(rv.to_string()));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(group: &str, plural: &str) -> &'static Resource {
        resources::find(group, "v1", plural).unwrap()
    }

    #[test]
    fn keys_are_the_real_registrys() {
        let p = "/registry";
        for (r, ns, name, want) in [
            (
                res("", "configmaps"),
                "default",
                "cm",
                "/registry/configmaps/default/cm",
            ),
            (
                res("", "namespaces"),
                "",
                "kube-system",
                "/registry/namespaces/kube-system",
            ),
            (res("", "nodes"), "", "cp-1", "/registry/minions/cp-1"),
            (
                res("", "services"),
                "default",
                "kubernetes",
                "/registry/services/specs/default/kubernetes",
            ),
            (
                res("", "endpoints"),
                "default",
                "kubernetes",
                "/registry/services/endpoints/default/kubernetes",
            ),
            (
                res("apps", "deployments"),
                "kube-system",
                "coredns",
                "/registry/deployments/kube-system/coredns",
            ),
            (
                res("rbac.authorization.k8s.io", "clusterroles"),
                "",
                "system:discovery",
                "/registry/clusterroles/system:discovery",
            ),
            (
                res("certificates.k8s.io", "certificatesigningrequests"),
                "",
                "csr-1",
                "/registry/certificatesigningrequests/csr-1",
            ),
            (
                res("coordination.k8s.io", "leases"),
                "kube-node-lease",
                "cp-1",
                "/registry/leases/kube-node-lease/cp-1",
            ),
            (
                res("policy", "poddisruptionbudgets"),
                "default",
                "b",
                "/registry/poddisruptionbudgets/default/b",
            ),
        ] {
            let key = etcd_key(p, r, ns, name);
            assert_eq!(key, want);
            let (back, bns, bname) = parse_key(p, &key).unwrap();
            assert_eq!((back, bns.as_str(), bname.as_str()), (r, ns, name));
        }
        // Keys of resources not served, or not of an object, are none of ours.
        for key in [
            "/registry/events/default/e1",
            "/registry/apiregistration.k8s.io/apiservices/v1.",
            "/registry/configmaps/default",
            "/registry/minions/a/b",
            "/other/configmaps/default/cm",
            "/registryx/namespaces/a",
        ] {
            assert!(parse_key(p, key).is_none(), "{key}");
        }
    }

    #[test]
    fn the_prefix_end_covers_every_key_with_the_prefix() {
        assert_eq!(prefix_end(b"/registry/"), b"/registry0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), [0]);
    }

    #[test]
    fn a_value_decodes_with_its_mod_revision_as_resource_version() {
        let r = res("", "configmaps");
        let kv = |value: &[u8]| api::KeyValue {
            key: b"/registry/configmaps/default/cm".to_vec(),
            create_revision: 3,
            mod_revision: 5,
            version: 2,
            value: value.to_vec(),
        };
        let v = decode(
            r,
            "default",
            "cm",
            &kv(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"}}"#),
        )
        .unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], "5");
        for (value, why) in [
            (&b"k8s\0\x0a\x02v1"[..], "protobuf"),
            (b"{", "not JSON"),
            (br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"cm","namespace":"default"}}"#, "not a v1 ConfigMap"),
            (br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other","namespace":"default"}}"#, "not its key's"),
        ] {
            let e = format!("{:#}", decode(r, "default", "cm", &kv(value)).unwrap_err());
            assert!(e.contains(why), "{e}");
        }
    }
}

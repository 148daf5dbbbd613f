//! The cluster API client: a kubeconfig-backed client (kube-rs) and the dry-run recorder,
//! behind one interface, with the create-or-update helpers and the retries kubeadm needs.
//! Objects are the typed `k8s-openapi` kinds, sent as JSON.

pub mod health;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::host::Host;

/// A failed API call: the server's `Status` when it answered, or why it could not.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status; 0 when the server was not reached.
    pub code: u16,
    /// `reason` (`NotFound`, `AlreadyExists`, `Conflict`, ...).
    pub reason: String,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }
    /// 409 for an existing name.
    pub fn is_already_exists(&self) -> bool {
        self.code == 409 && self.reason == "AlreadyExists"
    }
    /// 409 for a stale version.
    pub fn is_conflict(&self) -> bool {
        self.code == 409 && self.reason != "AlreadyExists"
    }
    /// Worth retrying: the server was unreachable, overloaded or failing, or a version moved.
    pub fn is_transient(&self) -> bool {
        self.code == 0 || self.code == 429 || self.code >= 500 || self.is_conflict()
    }
    fn not_found(path: &str) -> Self {
        ApiError {
            code: 404,
            reason: "NotFound".into(),
            message: format!("{path} not found"),
        }
    }
}

/// One API call as kubeadm makes it.
pub trait Api: Send + Sync {
    /// Sends `method path` with an optional JSON body (`content_type` for PATCH).
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<Value, ApiError>;

    /// Whether independent calls may be made at once. The dry-run recorder says no: its
    /// list of calls is the order a reader follows.
    fn concurrent(&self) -> bool {
        true
    }
}

/// How [`put_all`] puts one object.
pub enum Put {
    /// Create it, or replace the existing one ([`create_or_update`]).
    Apply(Value),
    /// Create it unless one of that name exists ([`create_or_retain`]).
    Keep(Value),
}

/// Puts objects whose order the API server does not care about (a binding may name a
/// role that comes later; a Deployment its ServiceAccount), all at once where the API
/// allows it, one after another otherwise. Every object is attempted; the first error in
/// the given order is returned.
pub fn put_all(api: &dyn Api, objects: &[Put]) -> anyhow::Result<()> {
    let put = |p: &Put| match p {
        Put::Apply(o) => create_or_update(api, o).map(|_| ()),
        Put::Keep(o) => create_or_retain(api, o),
    };
    let results: Vec<anyhow::Result<()>> = if api.concurrent() && objects.len() > 1 {
        std::thread::scope(|s| {
            let handles: Vec<_> = objects.iter().map(|p| s.spawn(move || put(p))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("an API call panicked")))
                })
                .collect()
        })
    } else {
        objects.iter().map(put).collect()
    };
    results.into_iter().collect()
}

/// The REST path of a kind kubeadm writes.
pub fn plural(kind: &str) -> Option<(&'static str, &'static str)> {
    // (API prefix, plural)
    Some(match kind {
        "Secret" => ("/api/v1", "secrets"),
        "ConfigMap" => ("/api/v1", "configmaps"),
        "Node" => ("/api/v1", "nodes"),
        "Pod" => ("/api/v1", "pods"),
        "ServiceAccount" => ("/api/v1", "serviceaccounts"),
        "Service" => ("/api/v1", "services"),
        "Namespace" => ("/api/v1", "namespaces"),
        "Deployment" => ("/apis/apps/v1", "deployments"),
        "DaemonSet" => ("/apis/apps/v1", "daemonsets"),
        "Job" => ("/apis/batch/v1", "jobs"),
        "Role" => ("/apis/rbac.authorization.k8s.io/v1", "roles"),
        "RoleBinding" => ("/apis/rbac.authorization.k8s.io/v1", "rolebindings"),
        "ClusterRole" => ("/apis/rbac.authorization.k8s.io/v1", "clusterroles"),
        "ClusterRoleBinding" => ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings"),
        "CertificateSigningRequest" => {
            ("/apis/certificates.k8s.io/v1", "certificatesigningrequests")
        }
        _ => return None,
    })
}

/// The collection path of a kind in a namespace (`None` for cluster-scoped kinds).
pub fn collection(kind: &str, namespace: Option<&str>) -> String {
    let (prefix, plural) = plural(kind).unwrap_or(("/api/v1", "unknown"));
    match namespace {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}"),
        None => format!("{prefix}/{plural}"),
    }
}

/// The path of one object.
pub fn object_path(kind: &str, namespace: Option<&str>, name: &str) -> String {
    format!("{}/{name}", collection(kind, namespace))
}

fn identity(obj: &Value) -> anyhow::Result<(String, Option<String>, String)> {
    let kind = obj["kind"]
        .as_str()
        .context("an object needs a kind")?
        .to_string();
    let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
    let name = obj["metadata"]["name"]
        .as_str()
        .context("an object needs a name")?
        .to_string();
    Ok((kind, ns, name))
}

/// Retries `f` with backoff while it fails transiently, up to `attempts` times.
pub fn retry<T>(attempts: u32, mut f: impl FnMut() -> Result<T, ApiError>) -> Result<T, ApiError> {
    let mut delay = Duration::from_millis(100);
    let mut n = 1;
    loop {
        match f() {
            Err(e) if e.is_transient() && n < attempts => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(2));
                n += 1;
            }
            other => return other,
        }
    }
}

/// Creates an object, or replaces the existing one (retrying on version conflicts).
pub fn create_or_update(api: &dyn Api, obj: &Value) -> anyhow::Result<Value> {
    let (kind, ns, name) = identity(obj)?;
    let coll = collection(&kind, ns.as_deref());
    let path = format!("{coll}/{name}");
    let result = retry(8, || {
        match api.call("POST", &coll, Some(obj), "application/json") {
            Err(e) if e.is_already_exists() => {
                let current = api.call("GET", &path, None, "application/json")?;
                let mut next = obj.clone();
                next["metadata"]["resourceVersion"] =
                    current["metadata"]["resourceVersion"].clone();
                api.call("PUT", &path, Some(&next), "application/json")
            }
            other => other,
        }
    });
    result.with_context(|| format!("unable to create or update {kind} {name:?}"))
}

/// Creates an object unless one of that name exists, which is left as it is.
pub fn create_or_retain(api: &dyn Api, obj: &Value) -> anyhow::Result<()> {
    let (kind, ns, name) = identity(obj)?;
    let coll = collection(&kind, ns.as_deref());
    match retry(8, || api.call("POST", &coll, Some(obj), "application/json")) {
        Ok(_) => Ok(()),
        Err(e) if e.is_already_exists() => Ok(()),
        Err(e) => Err(e).with_context(|| format!("unable to create {kind} {name:?}")),
    }
}

/// A client for the cluster a kubeconfig points at.
pub struct KubeClient {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    timeout: Duration,
}

impl KubeClient {
    /// From a kubeconfig file on the host.
    pub fn from_kubeconfig(host: &dyn Host, path: &Path) -> anyhow::Result<Self> {
        let text = host
            .read_to_string(path)
            .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
        Self::from_kubeconfig_text(&text).with_context(|| format!("kubeconfig {}", path.display()))
    }

    /// From kubeconfig text.
    pub fn from_kubeconfig_text(text: &str) -> anyhow::Result<Self> {
        Self::from_text(text, true)
    }

    /// From kubeconfig text, without the client library's own retries of 429, 503 and
    /// 504 answers (which back off for up to minutes whether or not the server asked for
    /// a retry): for a caller that has to see a refusal at once, such as an eviction a
    /// PodDisruptionBudget refuses with 429, and retries on its own terms.
    pub fn from_kubeconfig_text_without_retries(text: &str) -> anyhow::Result<Self> {
        Self::from_text(text, false)
    }

    fn from_text(text: &str, library_retries: bool) -> anyhow::Result<Self> {
        crate::yaml::check_nesting(text, "the kubeconfig")?;
        // The client library's errors quote the file; ours say where without quoting it.
        let kc =
            kube::config::Kubeconfig::from_yaml(text).map_err(
                |_| match serde_yaml_ng::from_str::<kube::config::Kubeconfig>(text) {
                    Err(e) => anyhow::anyhow!(
                        "not a valid kubeconfig: {}",
                        crate::yaml::error_without_values(&e)
                    ),
                    Ok(_) => anyhow::anyhow!("not a valid kubeconfig"),
                },
            )?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = rt.block_on(async {
            let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .context("building a client from the kubeconfig")?;
            cfg.default_retry = library_retries;
            kube::Client::try_from(cfg).context("building a client from the kubeconfig")
        })?;
        Ok(KubeClient {
            rt,
            client,
            timeout: Duration::from_secs(10),
        })
    }
}

impl Api for KubeClient {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<Value, ApiError> {
        let bytes = body
            .map(|b| serde_json::to_vec(b).expect("serializable"))
            .unwrap_or_default();
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .header("accept", "application/json")
            .body(bytes)
            .map_err(|e| ApiError {
                code: 0,
                reason: "BadRequest".into(),
                message: e.to_string(),
            })?;
        let limit = answer_limit(method, path);
        let client = &self.client;
        // No answer from the server, or one that could not be read whole.
        let unavailable = |e: &dyn std::fmt::Display| ApiError {
            code: 0,
            reason: "ServiceUnavailable".into(),
            message: format!("{method} {path}: {e}"),
        };
        let fut = async move {
            let res = client
                .send(req.map(kube::client::Body::from))
                .await
                .map_err(|e| unavailable(&e))?;
            let status = res.status();
            let body = read_bounded(res.into_body(), limit)
                .await
                .map_err(|e| unavailable(&e))?;
            Ok::<_, ApiError>((status, body))
        };
        let result = self
            .rt
            .block_on(async { tokio::time::timeout(self.timeout, fut).await });
        match result {
            Err(_) => Err(ApiError {
                code: 0,
                reason: "Timeout".into(),
                message: format!("{method} {path}: no answer within {:?}", self.timeout),
            }),
            Ok(Err(e)) => Err(e),
            Ok(Ok((status, body))) => answer(status, &body),
        }
    }
}

/// The most kubeadm reads of one object: the API server stores objects of at most about
/// 1.5 MiB (etcd's request limit), so a larger answer is not an object.
pub const MAX_OBJECT_ANSWER: usize = 16 << 20;
/// The most kubeadm reads of one list (Nodes of a large cluster, Secrets of kube-system).
pub const MAX_LIST_ANSWER: usize = 256 << 20;

/// How much of an answer to `method path` is read before the call fails: lists may be
/// large, single objects may not.
pub fn answer_limit(method: &str, path: &str) -> usize {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match segs.as_slice() {
        ["api", _, rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        other => other,
    };
    let rest = match rest {
        ["namespaces", _, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    if method == "GET" && rest.len() == 1 {
        MAX_LIST_ANSWER
    } else {
        MAX_OBJECT_ANSWER
    }
}

/// Reads a body frame by frame, failing as soon as it passes `limit` bytes (nothing more
/// is buffered).
async fn read_bounded(mut body: kube::client::Body, limit: usize) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the answer: {e}"))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(format!(
                    "the answer is larger than {} MiB; refusing to read more",
                    limit >> 20
                ));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// An API server's answer as kubeadm uses it: JSON on success (text kept as a string),
/// the `Status` of a failure (or its text when it is not one).
pub fn answer(status: http::StatusCode, body: &[u8]) -> Result<Value, ApiError> {
    let text = String::from_utf8_lossy(body);
    if status.is_client_error() || status.is_server_error() {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v[name].as_str().map(str::to_string))
        };
        let message = field("message").unwrap_or_else(|| {
            let t = text.trim();
            // A page of HTML from a proxy says little past its start.
            let end = t.char_indices().nth(512).map_or(t.len(), |(i, _)| i);
            t[..end].to_string()
        });
        return Err(ApiError {
            code: status.as_u16(),
            reason: field("reason").unwrap_or_default(),
            message,
        });
    }
    Ok(serde_json::from_slice(body).unwrap_or_else(|_| Value::String(text.into_owned())))
}

/// The dry-run client: records every call, sends none. Reads of objects the dry run itself
/// wrote answer from the recording, others are "not found", as upstream's dry-run client
/// does for a cluster that does not exist yet.
#[derive(Default)]
pub struct DryRunClient {
    objects: Mutex<BTreeMap<String, Value>>,
    calls: Mutex<Vec<String>>,
}

impl DryRunClient {
    /// A recorder with nothing recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// The calls so far, in order, as the dry-run report lists them.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }
}

fn action(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "CREATE",
        "PUT" => "UPDATE",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "UNKNOWN",
    }
}

/// A request path's resource, `group/version` (`core/v1` for the legacy group), object
/// name (empty for a collection) and namespace (empty when cluster-scoped).
fn request_of(path: &str) -> (String, String, String, String) {
    let path = path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (gv, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => (format!("core/{v}"), rest.to_vec()),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest.to_vec()),
        _ => (String::new(), segs.clone()),
    };
    let (namespace, rest) = match rest.as_slice() {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (ns.to_string(), tail.to_vec()),
        other => (String::new(), other.to_vec()),
    };
    (
        rest.first().unwrap_or(&"").to_string(),
        gv,
        rest.get(1).unwrap_or(&"").to_string(),
        namespace,
    )
}

/// What a dry run shows of an object it would send, as upstream's dry-run client prints
/// it ("[dryrun] Attached object:" and the object as YAML), except that every value of a
/// Secret's `data` and `stringData` is replaced by `<redacted>`: secrets are never shown.
pub fn dry_run_object_text(obj: &Value) -> String {
    let mut shown = obj.clone();
    if shown["kind"] == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(map) = shown.get_mut(field).and_then(Value::as_object_mut) {
                for v in map.values_mut() {
                    *v = Value::String("<redacted>".into());
                }
            }
        }
    }
    let yaml = crate::yaml::to_string(&shown).unwrap_or_else(|e| format!("(not shown: {e})\n"));
    format!("[dryrun] Attached object:\n{yaml}")
}

impl Api for DryRunClient {
    fn concurrent(&self) -> bool {
        false
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        _content_type: &str,
    ) -> Result<Value, ApiError> {
        let (resource, gv, name, namespace) = request_of(path);
        let line = format!(
            "[dryrun] Would perform action {} on resource {resource:?} in API group {gv:?} ({method} {path})",
            action(method)
        );
        // Shown as it happens, in the order of the run, like upstream's dry-run client:
        // the name of what is read, changed or removed, the object of what is created or
        // replaced.
        println!("{line}");
        if matches!(method, "GET" | "PATCH" | "DELETE") && !name.is_empty() {
            println!("[dryrun] Resource name {name:?}, namespace {namespace:?}");
        }
        if let Some(obj) = body.filter(|_| matches!(method, "POST" | "PUT")) {
            println!("{}", dry_run_object_text(obj));
        }
        self.calls.lock().expect("calls").push(line);
        let mut objects = self.objects.lock().expect("objects");
        match method {
            "GET" => objects
                .get(path)
                .cloned()
                .ok_or_else(|| ApiError::not_found(path)),
            "POST" => {
                let obj = body.cloned().unwrap_or(Value::Null);
                let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
                let key = format!("{path}/{name}");
                if objects.contains_key(&key) {
                    return Err(ApiError {
                        code: 409,
                        reason: "AlreadyExists".into(),
                        message: format!("{resource} {name:?} already exists"),
                    });
                }
                objects.insert(key, obj.clone());
                Ok(obj)
            }
            "PUT" | "PATCH" => {
                let obj = body.cloned().unwrap_or(Value::Null);
                if method == "PUT" {
                    objects.insert(path.to_string(), obj.clone());
                }
                Ok(obj)
            }
            "DELETE" => {
                objects.remove(path);
                Ok(Value::Null)
            }
            _ => Ok(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dry_run_records_and_answers_from_the_recording() {
        let d = DryRunClient::new();
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "kube-system"}});
        create_or_update(&d, &cm).unwrap();
        let got = d
            .call(
                "GET",
                "/api/v1/namespaces/kube-system/configmaps/c",
                None,
                "application/json",
            )
            .unwrap();
        assert_eq!(got["metadata"]["name"], "c");
        assert!(d
            .call(
                "GET",
                "/api/v1/namespaces/kube-system/configmaps/other",
                None,
                "application/json"
            )
            .unwrap_err()
            .is_not_found());
        create_or_update(&d, &cm).unwrap();
        assert_eq!(
            d.calls(),
            [
                "[dryrun] Would perform action CREATE on resource \"configmaps\" in API group \"core/v1\" (POST /api/v1/namespaces/kube-system/configmaps)",
                "[dryrun] Would perform action GET on resource \"configmaps\" in API group \"core/v1\" (GET /api/v1/namespaces/kube-system/configmaps/c)",
                "[dryrun] Would perform action GET on resource \"configmaps\" in API group \"core/v1\" (GET /api/v1/namespaces/kube-system/configmaps/other)",
                "[dryrun] Would perform action CREATE on resource \"configmaps\" in API group \"core/v1\" (POST /api/v1/namespaces/kube-system/configmaps)",
                "[dryrun] Would perform action GET on resource \"configmaps\" in API group \"core/v1\" (GET /api/v1/namespaces/kube-system/configmaps/c)",
                "[dryrun] Would perform action UPDATE on resource \"configmaps\" in API group \"core/v1\" (PUT /api/v1/namespaces/kube-system/configmaps/c)",
            ]
        );
    }

    #[test]
    fn dry_run_objects_are_shown_with_secrets_redacted() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
            "data": {"token-id": "YWJjZGVm", "token-secret": "MDEyMzQ1Njc4OWFiY2RlZg=="},
            "stringData": {"description": "x"}});
        let text = dry_run_object_text(&secret);
        assert!(
            text.starts_with("[dryrun] Attached object:\napiVersion: v1\n"),
            "{text}"
        );
        assert!(text.contains("  token-secret: <redacted>\n"), "{text}");
        assert!(text.contains("  description: <redacted>\n"), "{text}");
        assert!(!text.contains("MDEy") && !text.contains("YWJj"), "{text}");
        assert!(text.contains("  name: bootstrap-token-abcdef\n"), "{text}");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
        assert!(dry_run_object_text(&cm).contains("data:\n  k: v\n"));
        assert_eq!(
            request_of("/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef"),
            (
                "secrets".into(),
                "core/v1".into(),
                "bootstrap-token-abcdef".into(),
                "kube-system".into()
            )
        );
        assert_eq!(
            request_of("/apis/rbac.authorization.k8s.io/v1/clusterroles/x?fieldManager=kubeadm"),
            (
                "clusterroles".into(),
                "rbac.authorization.k8s.io/v1".into(),
                "x".into(),
                String::new()
            )
        );
        assert_eq!(
            request_of("/api/v1/namespaces/kube-system/configmaps"),
            (
                "configmaps".into(),
                "core/v1".into(),
                String::new(),
                "kube-system".into()
            )
        );
    }

    #[test]
    fn retries_stop_on_permanent_errors() {
        let mut n = 0;
        let r: Result<(), ApiError> = retry(5, || {
            n += 1;
            Err(ApiError {
                code: 403,
                reason: "Forbidden".into(),
                message: "no".into(),
            })
        });
        assert!(r.is_err());
        assert_eq!(n, 1);
        let mut n = 0;
        let r = retry(5, || {
            n += 1;
            if n < 3 {
                Err(ApiError {
                    code: 503,
                    reason: "ServiceUnavailable".into(),
                    message: "busy".into(),
                })
            } else {
                Ok(n)
            }
        });
        assert_eq!(r.unwrap(), 3);
    }

    /// A plain-HTTP API server on loopback answering every request with `answer`, and a
    /// client for it.
    fn client_of(answer: impl Fn(&mut std::net::TcpStream) + Send + 'static) -> KubeClient {
        use std::io::Read;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let mut req = [0u8; 4096];
                let _ = s.read(&mut req);
                answer(&mut s);
            }
        });
        KubeClient::from_kubeconfig_text(&format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://{addr}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"
        ))
        .unwrap()
    }

    #[test]
    fn an_oversized_answer_is_cut_off_not_buffered() {
        use std::io::Write;
        let c = client_of(|s| {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[",
            );
            let chunk = vec![b' '; 64 * 1024];
            // 100 MiB, unless the client hangs up first.
            for _ in 0..1600 {
                if s.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        let path = object_path("ConfigMap", Some("kube-system"), "kubeadm-config");
        let e = c.call("GET", &path, None, "application/json").unwrap_err();
        assert!(e.message.contains("larger than 16 MiB"), "{e}");
    }

    #[test]
    fn failures_keep_the_servers_status_or_a_bounded_text() {
        use std::io::Write;
        let c = client_of(|s| {
            let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","code":404}"#;
            let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        });
        let e = c
            .call(
                "GET",
                "/api/v1/namespaces/kube-system/configmaps/x",
                None,
                "application/json",
            )
            .unwrap_err();
        assert!(e.is_not_found() && e.reason == "NotFound", "{e:?}");
        assert_eq!(e.message, "configmaps \"x\" not found");
        let page = format!("<html>{}</html>", "x".repeat(100_000));
        let e = answer(http::StatusCode::BAD_GATEWAY, page.as_bytes()).unwrap_err();
        assert_eq!((e.code, e.message.chars().count()), (502, 512));
        let e = answer(http::StatusCode::FORBIDDEN, b"\xff\xfe not utf-8").unwrap_err();
        assert!(e.message.contains("not utf-8"), "{e:?}");
    }

    #[test]
    fn lists_may_be_larger_than_objects() {
        assert_eq!(answer_limit("GET", "/api/v1/nodes"), MAX_LIST_ANSWER);
        assert_eq!(
            answer_limit(
                "GET",
                "/api/v1/namespaces/kube-system/secrets?fieldSelector=type"
            ),
            MAX_LIST_ANSWER
        );
        assert_eq!(answer_limit("GET", "/api/v1/nodes/n1"), MAX_OBJECT_ANSWER);
        assert_eq!(
            answer_limit(
                "GET",
                "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/roles/r"
            ),
            MAX_OBJECT_ANSWER
        );
        assert_eq!(answer_limit("POST", "/api/v1/nodes"), MAX_OBJECT_ANSWER);
    }
}

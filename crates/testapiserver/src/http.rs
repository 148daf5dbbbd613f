//! The REST surface: request parsing, authentication, authorization, the verbs, discovery
//! and health endpoints, watches.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::auth::{self, User};
use crate::disruption;
use crate::patch;
use crate::rbac::{self, Attributes};
use crate::resources::{self, Resource};
use crate::status::ApiError;
use crate::store;
use crate::State;

/// The body of every response.
pub type Body = BoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(full(serde_json::to_vec(v).expect("serializable")))
        .expect("a valid response")
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json_response(e.code, &e.body());
    // The server tells a client how long to wait before it retries, when it knows.
    if let Some(secs) = e
        .details
        .as_ref()
        .and_then(|d| d["retryAfterSeconds"].as_u64())
        .filter(|s| *s > 0)
    {
        r.headers_mut()
            .insert("retry-after", http::HeaderValue::from(secs));
    }
    r
}

fn text(code: u16, body: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "text/plain; charset=utf-8")
        .body(full(body.to_string()))
        .expect("a valid response")
}

/// A request's query parameters, decoded.
fn query(req: &Request<hyper::body::Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A parsed resource path.
struct Target {
    resource: &'static Resource,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_resource_path(path: &str) -> Result<Option<Target>, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", "v1", rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return Ok(None),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if resources::find(group, version, plural).is_some_and(|r| r.namespaced) =>
        {
            (Some(ns.to_string()), {
                let mut v = vec![*plural];
                v.extend_from_slice(tail);
                v
            })
        }
        other => (None, other.to_vec()),
    };
    let Some(resource) = resources::find(group, version, rest[0]) else {
        return Err(ApiError::no_route());
    };
    let name = rest.get(1).map(|s| s.to_string());
    let subresource = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 {
        return Err(ApiError::no_route());
    }
    if let Some(s) = &subresource {
        if !resource.subresources.contains(&s.as_str()) {
            return Err(ApiError::no_route());
        }
    }
    Ok(Some(Target {
        resource,
        namespace: if resource.namespaced { namespace } else { None },
        name,
        subresource,
    }))
}

/// Label selector matching: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`.
pub fn labels_match(selector: &str, labels: &serde_json::Map<String, Value>) -> bool {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                return get(k.trim()) != Some(v.trim());
            }
            if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                return get(k.trim()) == Some(v.trim());
            }
            let set = |s: &str| -> Vec<String> {
                s.trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .split(',')
                    .map(|x| x.trim().to_string())
                    .collect()
            };
            if let Some((k, vs)) = t.split_once(" notin ") {
                return get(k.trim()).is_none_or(|v| !set(vs).iter().any(|x| x == v));
            }
            if let Some((k, vs)) = t.split_once(" in ") {
                return get(k.trim()).is_some_and(|v| set(vs).iter().any(|x| x == v));
            }
            if let Some(k) = t.strip_prefix('!') {
                return get(k.trim()).is_none();
            }
            get(t).is_some()
        })
}

fn fields_match(selector: &str, obj: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|t| {
        let (k, v, eq) = match t.split_once("!=") {
            Some((k, v)) => (k, v, false),
            None => match t.split_once("==").or_else(|| t.split_once('=')) {
                Some((k, v)) => (k, v, true),
                None => return false,
            },
        };
        let actual = match k {
            "metadata.name" => store::name_of(obj).to_string(),
            "metadata.namespace" => obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            "spec.nodeName" => obj["spec"]["nodeName"].as_str().unwrap_or("").to_string(),
            // A Node's; unset is false.
            "spec.unschedulable" => obj["spec"]["unschedulable"]
                .as_bool()
                .unwrap_or(false)
                .to_string(),
            "type" => obj["type"].as_str().unwrap_or("").to_string(),
            "spec.signerName" => obj["spec"]["signerName"].as_str().unwrap_or("").to_string(),
            _ => return false,
        };
        (actual == v) == eq
    })
}

fn selected(q: &[(String, String)], obj: &Value) -> bool {
    let empty = serde_json::Map::new();
    let labels = obj["metadata"]["labels"].as_object().unwrap_or(&empty);
    param(q, "labelSelector").is_none_or(|s| labels_match(s, labels))
        && param(q, "fieldSelector").is_none_or(|s| fields_match(s, obj))
}

fn verb_of(method: &Method, target: &Target, q: &[(String, String)]) -> &'static str {
    let watching = matches!(param(q, "watch"), Some("true") | Some("1"));
    match (method, target.name.is_some()) {
        (&Method::GET, _) if watching => "watch",
        (&Method::GET, true) => "get",
        (&Method::GET, false) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => "unknown",
    }
}

/// Which user a request is from.
fn authenticate(
    state: &State,
    cert_user: Option<&User>,
    req: &Request<hyper::body::Incoming>,
) -> Result<User, ApiError> {
    // Only bearer tokens are authenticated (by the bootstrap token authenticator); other
    // schemes such as Basic are not handled by any authenticator and fall through.
    if let Some(h) = req.headers().get("authorization") {
        let h = h.to_str().map_err(|_| ApiError::unauthorized())?;
        if let Some(token) = h.strip_prefix("Bearer ") {
            return auth::from_bearer(&state.store, token.trim());
        }
    }
    Ok(cert_user.cloned().unwrap_or_else(User::anonymous))
}

fn field_manager(req: &Request<hyper::body::Incoming>, q: &[(String, String)]) -> String {
    if let Some(m) = param(q, "fieldManager") {
        return m.to_string();
    }
    req.headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

/// Serves one request.
pub async fn handle(
    state: Arc<State>,
    cert_user: Option<User>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let response = match serve(&state, cert_user.as_ref(), req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    Ok(response)
}

async fn serve(
    state: &Arc<State>,
    cert_user: Option<&User>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(state, cert_user, &req)?;
    let path = req.uri().path().to_string();
    let q = query(&req);
    let target = parse_resource_path(&path)?;
    let Some(target) = target else {
        return non_resource(state, &user, &req, &path);
    };
    let verb = verb_of(req.method(), &target, &q);
    if verb == "unknown" {
        return Err(ApiError::method_not_allowed());
    }
    let attrs = Attributes {
        verb: verb.to_string(),
        group: target.resource.group.to_string(),
        resource: Some(target.resource.plural.to_string()),
        subresource: target.subresource.clone(),
        namespace: target.namespace.clone(),
        name: target.name.clone(),
        path: path.clone(),
    };
    if !rbac::allows(&state.store, &user, &attrs) {
        return Err(ApiError::forbidden(&user.name, &attrs));
    }
    let manager = field_manager(&req, &q);
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?
        .to_bytes();
    let r = target.resource;
    let ns = target.namespace.clone().unwrap_or_default();
    // Only JSON (and YAML for apply) is spoken here; protobuf and CBOR bodies get the 415
    // a server without those encodings answers, and clients fall back to JSON.
    let json_like = matches!(
        content_type.as_str(),
        "application/json"
            | "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
            | "application/json-patch+json"
            | "application/apply-patch+yaml"
    );
    if !body.is_empty() && !json_like {
        return Err(ApiError::unsupported_media_type(&content_type));
    }
    // Evictions are only created; other subresources are not created through POST.
    match (verb, target.subresource.as_deref()) {
        ("create", Some("eviction")) => {
            let name = target.name.as_deref().unwrap_or_default();
            let ns = target.namespace.clone().unwrap_or_default();
            let body = parse_body(&body, "application/json")?;
            let dry_run = param(&q, "dryRun") == Some("All");
            let result = disruption::evict(state, &ns, name, &body, dry_run);
            state.after_change();
            return result.map(|status| {
                json_response(status["code"].as_u64().unwrap_or(201) as u16, &status)
            });
        }
        ("create", Some(_)) | (_, Some("eviction")) => return Err(ApiError::method_not_allowed()),
        _ => {}
    }
    let result = match verb {
        "get" => {
            let name = target.name.as_deref().expect("get has a name");
            let obj = state.store.get(r, &ns, name)?;
            Ok(json_response(200, &obj))
        }
        "list" => {
            let (items, rv) = state.store.list(r, target.namespace.as_deref());
            let items: Vec<Value> = items.into_iter().filter(|o| selected(&q, o)).collect();
            Ok(json_response(
                200,
                &json!({
                    "kind": r.list_kind(),
                    "apiVersion": r.api_version(),
                    "metadata": {"resourceVersion": rv.to_string()},
                    "items": items,
                }),
            ))
        }
        "watch" => return Ok(watch(state, &target, &q)),
        "create" => {
            let mut obj = parse_body(&body, "application/json")?;
            check_namespace(&obj, target.namespace.as_deref())?;
            if r.kind == "CertificateSigningRequest" {
                obj["spec"]["username"] = json!(user.name);
                obj["spec"]["groups"] = json!(user.groups);
                if let Some(o) = obj.as_object_mut() {
                    o.remove("status");
                }
            }
            match r.kind {
                // A new Pod has not started: its status is the server's, Pending until
                // its kubelet reports; a new budget's status is its controller's.
                "Pod" => obj["status"] = json!({"phase": "Pending", "qosClass": qos_class(&obj)}),
                "PodDisruptionBudget" => {
                    obj["status"] = json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0})
                }
                _ => {}
            }
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
            }
            patch::record_update(None, &mut obj, &manager, &r.api_version());
            let created = state.store.create(r, &ns, obj)?;
            Ok(json_response(201, &created))
        }
        "update" => {
            let name = target.name.as_deref().expect("update has a name");
            let new = parse_body(&body, "application/json")?;
            check_namespace(&new, target.namespace.as_deref())?;
            let old = state.store.get(r, &ns, name)?;
            let mut new = merge_subresource(&old, new, target.subresource.as_deref(), r);
            patch::record_update(Some(&old), &mut new, &manager, &r.api_version());
            let updated = state.store.update(r, &ns, name, new)?;
            Ok(json_response(200, &updated))
        }
        "patch" => {
            let name = target.name.as_deref().expect("patch has a name");
            let force = matches!(param(&q, "force"), Some("true"));
            // Apply names its manager explicitly; the user agent does not count.
            let apply_manager = if content_type == "application/apply-patch+yaml" {
                param(&q, "fieldManager").unwrap_or("").to_string()
            } else {
                manager.clone()
            };
            let patched = patch_object(
                state,
                r,
                &ns,
                name,
                &content_type,
                &body,
                &apply_manager,
                force,
            )?;
            Ok(json_response(200, &patched))
        }
        "delete" => {
            let name = target.name.as_deref().expect("delete has a name");
            let deleted = state.store.delete(r, &ns, name)?;
            if r.kind == "Pod" {
                Ok(json_response(200, &deleted))
            } else {
                let mut details =
                    json!({"name": name, "kind": r.plural, "uid": deleted["metadata"]["uid"]});
                if !r.group.is_empty() {
                    details["group"] = json!(r.group);
                }
                Ok(json_response(
                    200,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
                ))
            }
        }
        "deletecollection" => {
            let (items, _) = state.store.list(r, target.namespace.as_deref());
            let mut gone = Vec::new();
            for o in items.into_iter().filter(|o| selected(&q, o)) {
                let ns = o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                if let Ok(d) = state.store.delete(r, &ns, store::name_of(&o)) {
                    gone.push(d);
                }
            }
            Ok(json_response(
                200,
                &json!({"kind": r.list_kind(), "apiVersion": r.api_version(), "metadata": {}, "items": gone}),
            ))
        }
        _ => Err(ApiError::method_not_allowed()),
    };
    if method != Method::GET {
        state.after_change();
    }
    result
}

/// A Pod's quality-of-service class from its containers' resources: Guaranteed when
/// every container limits CPU and memory with requests equal to the limits, BestEffort
/// when none asks for or limits anything, Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|k| pod["spec"][*k].as_array())
        .flatten()
        .collect();
    let set = |v: &Value| v.as_object().is_some_and(|m| !m.is_empty());
    if containers
        .iter()
        .all(|c| !set(&c["resources"]["requests"]) && !set(&c["resources"]["limits"]))
    {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let (req, lim) = (&c["resources"]["requests"], &c["resources"]["limits"]);
        ["cpu", "memory"]
            .iter()
            .all(|k| !lim[*k].is_null() && (req[*k].is_null() || req[*k] == lim[*k]))
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn check_namespace(obj: &Value, url_ns: Option<&str>) -> Result<(), ApiError> {
    if let (Some(body_ns), Some(url_ns)) = (obj["metadata"]["namespace"].as_str(), url_ns) {
        if !body_ns.is_empty() && body_ns != url_ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

/// Kinds with a status subresource ignore status on the main resource and take only
/// status through `/status` (and CSR conditions through `/approval`).
fn merge_subresource(old: &Value, mut new: Value, sub: Option<&str>, r: &Resource) -> Value {
    let has_status = r.subresources.contains(&"status");
    match sub {
        Some("status") => {
            let mut out = old.clone();
            out["status"] = new.get("status").cloned().unwrap_or(json!({}));
            out["metadata"]["resourceVersion"] = new["metadata"]["resourceVersion"].clone();
            out
        }
        Some("approval") => {
            let mut out = old.clone();
            out["status"]["conditions"] = new["status"]["conditions"].clone();
            out["metadata"]["resourceVersion"] = new["metadata"]["resourceVersion"].clone();
            out
        }
        _ => {
            if has_status {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            new
        }
    }
}

fn parse_body(body: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if content_type == "application/apply-patch+yaml" {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
        return serde_yaml_ng::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

#[allow(clippy::too_many_arguments)]
fn patch_object(
    state: &State,
    r: &'static Resource,
    ns: &str,
    name: &str,
    content_type: &str,
    body: &[u8],
    manager: &str,
    force: bool,
) -> Result<Value, ApiError> {
    let current = state.store.get(r, ns, name);
    if content_type == "application/apply-patch+yaml" {
        let config = parse_body(body, content_type)?;
        if store::name_of(&config) != name {
            return Err(ApiError::bad_request(
                "the name of the applied object does not match the name on the URL",
            ));
        }
        if manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml requests require fieldManager to be set",
            ));
        }
        return match current {
            Ok(cur) => {
                let merged = patch::apply(Some(&cur), &config, manager, force, &r.api_version())
                    .map_err(|c| ApiError::apply_conflict(r, name, &c))?;
                let mut merged = merged;
                merged["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"].clone();
                state.store.update(r, ns, name, merged)
            }
            Err(e) if e.code == 404 => {
                let created = patch::apply(None, &config, manager, force, &r.api_version())
                    .map_err(|c| ApiError::apply_conflict(r, name, &c))?;
                state.store.create(r, ns, created)
            }
            Err(e) => Err(e),
        };
    }
    let current = current?;
    let mut doc = current.clone();
    match content_type {
        "application/merge-patch+json" => {
            let p: Value = parse_body(body, content_type)?;
            json_patch::merge(&mut doc, &p);
        }
        "application/strategic-merge-patch+json" => {
            let p: Value = parse_body(body, content_type)?;
            patch::strategic_merge(&mut doc, &p);
        }
        "application/json-patch+json" => {
            let ops: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(&mut doc, &ops).map_err(|e| ApiError {
                code: 422,
                reason: "Invalid",
                message: format!(
                    "the server rejected our request due to an error in our request: {e}"
                ),
                details: None,
            })?;
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    }
    // A patch that names a resourceVersion asks for optimistic concurrency; one that does
    // not is applied to the current object.
    if doc["metadata"]["resourceVersion"].is_null() {
        doc["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    }
    patch::record_update(Some(&current), &mut doc, manager, &r.api_version());
    state.store.update(r, ns, name, doc)
}

fn non_resource(
    state: &State,
    user: &User,
    req: &Request<hyper::body::Incoming>,
    path: &str,
) -> Result<Response<Body>, ApiError> {
    let verb = req.method().as_str().to_lowercase();
    let attrs = Attributes {
        verb: verb.clone(),
        path: path.to_string(),
        ..Default::default()
    };
    let known = matches!(
        path,
        "/healthz" | "/livez" | "/readyz" | "/version" | "/api" | "/apis"
    ) || path.starts_with("/api/")
        || path.starts_with("/apis/")
        || path.starts_with("/openapi");
    if !rbac::allows(&state.store, user, &attrs) {
        return Err(ApiError::forbidden(&user.name, &attrs));
    }
    if !known || verb != "get" {
        return Err(ApiError::no_route());
    }
    Ok(match path {
        "/healthz" | "/livez" | "/readyz" => text(200, "ok"),
        "/version" => json_response(200, &version()),
        "/api" => json_response(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": state.address}]}),
        ),
        "/api/v1" => json_response(200, &resource_list("", "v1")),
        "/apis" => {
            let groups: Vec<Value> = resources::groups().into_iter().map(group_doc).collect();
            json_response(
                200,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        p => {
            let segs: Vec<&str> = p.trim_matches('/').split('/').collect();
            match segs.as_slice() {
                ["apis", g] if resources::groups().contains(g) => {
                    let mut d = group_doc(g);
                    d["kind"] = json!("APIGroup");
                    d["apiVersion"] = json!("v1");
                    json_response(200, &d)
                }
                ["apis", g, "v1"] if resources::groups().contains(g) => {
                    json_response(200, &resource_list(g, "v1"))
                }
                ["openapi", "v3"] => json_response(200, &openapi_root()),
                ["openapi", "v3", "api", "v1"] => json_response(200, &openapi_group_version("")),
                ["openapi", "v3", "apis", g, "v1"] if resources::groups().contains(g) => {
                    json_response(200, &openapi_group_version(g))
                }
                _ => return Err(ApiError::no_route()),
            }
        }
    })
}

/// `/openapi/v3`: where each group version's document is.
fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert(
        "api/v1".into(),
        json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=1"}),
    );
    for g in resources::groups() {
        paths.insert(
            format!("apis/{g}/v1"),
            json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/v1?hash=1")}),
        );
    }
    json!({"paths": paths})
}

/// A group version's OpenAPI v3 document: the operations of each resource with their
/// group-version-kind and the query parameters the server honours (clients look for
/// `fieldValidation` there before relying on server-side validation). Object schemas are
/// not served; clients fall back to their built-in types.
fn openapi_group_version(group: &str) -> Value {
    let mut paths = serde_json::Map::new();
    let params = json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        {"name": "force", "in": "query", "schema": {"type": "boolean"}}
    ]);
    for r in resources::RESOURCES.iter().filter(|r| r.group == group) {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let prefix = if group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{group}/v1")
        };
        let collection = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{prefix}/{}", r.plural)
        };
        let op = |id: &str| json!({"operationId": id, "parameters": params, "x-kubernetes-group-version-kind": gvk, "responses": {}});
        paths.insert(
            collection.clone(),
            json!({"get": op("list"), "post": op("create")}),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"get": op("read"), "put": op("replace"), "patch": op("patch"), "delete": op("delete")}),
        );
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.37.1"}, "paths": paths, "components": {"schemas": {}}})
}

/// What `/version` reports.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "37",
        "emulationMajor": "1",
        "emulationMinor": "37",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "36",
        "gitVersion": "v1.37.1",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-08-26T00:00:00Z",
        "goVersion": "",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

fn group_doc(g: &str) -> Value {
    let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
    json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
}

fn resource_list(group: &str, version: &str) -> Value {
    let mut list = Vec::new();
    for r in resources::RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        list.push(json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": resources::VERBS,
            "shortNames": r.short_names,
        }));
        for s in r.subresources {
            let mut sub = json!({
                "name": format!("{}/{s}", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": if *s == "scale" { "Scale" } else { r.kind },
                "verbs": ["get", "patch", "update"],
            });
            // Evictions are policy/v1 objects that are only ever created.
            if *s == "eviction" {
                sub["group"] = json!("policy");
                sub["version"] = json!("v1");
                sub["kind"] = json!("Eviction");
                sub["verbs"] = json!(["create"]);
            }
            list.push(sub);
        }
    }
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": if group.is_empty() { version.to_string() } else { format!("{group}/{version}") },
        "resources": list,
    })
}

/// A streaming body fed by a channel.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|b| Ok(http_body::Frame::data(b))))
    }
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).expect("json");
    line.push(b'\n');
    Bytes::from(line)
}

fn watch(state: &Arc<State>, target: &Target, q: &[(String, String)]) -> Response<Body> {
    let (tx, rx) = mpsc::channel(256);
    let mut events = state.store.subscribe();
    let r = target.resource;
    let ns = target.namespace.clone();
    let name = target.name.clone();
    let q = q.to_vec();
    let since: Option<u64> = param(&q, "resourceVersion")
        .filter(|v| !v.is_empty() && *v != "0")
        .and_then(|v| v.parse().ok());
    let timeout = param(&q, "timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let matches = move |obj: &Value| {
        name.as_deref().is_none_or(|n| store::name_of(obj) == n) && selected(&q, obj)
    };
    // Without a starting version the watch begins with the current objects.
    let initial: Vec<Value> = if since.is_none() {
        state
            .store
            .list(r, ns.as_deref())
            .0
            .into_iter()
            .filter(|o| matches(o))
            .collect()
    } else {
        Vec::new()
    };
    tokio::spawn(async move {
        for o in initial {
            if tx.send(event_line("ADDED", &o)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(std::time::Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                ev = events.recv() => {
                    let ev = match ev {
                        Ok(ev) => ev,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return,
                    };
                    if ev.group != r.group || ev.plural != r.plural {
                        continue;
                    }
                    if ns.as_deref().is_some_and(|n| n != ev.namespace) {
                        continue;
                    }
                    if since.is_some_and(|s| ev.resource_version <= s) || !matches(&ev.object) {
                        continue;
                    }
                    if tx.send(event_line(ev.kind, &ev.object)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(ChannelBody(rx)))
        .expect("a valid response")
}

//! Storage with the real server's object semantics: `resourceVersion` from one
//! cluster-wide counter, `uid`, `creationTimestamp`, `generateName`, optimistic
//! concurrency, namespaces that must exist, and a stream of watch events. The objects are
//! held in memory; with an etcd backing ([`crate::etcd`]) they are loaded from etcd at
//! start, every change is written to etcd before it is answered, and the counter is
//! etcd's revision.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine;
use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use crate::etcd::Backing;
use crate::resources::Resource;
use crate::status::ApiError;

/// Where an object lives: group, plural, namespace ("" when cluster-scoped), name.
pub type Key = (String, String, String, String);

/// A change, as a watch sends it.
#[derive(Debug, Clone)]
pub struct Event {
    /// `ADDED`, `MODIFIED`, `DELETED`.
    pub kind: &'static str,
    /// The resource's group.
    pub group: String,
    /// The resource's plural name.
    pub plural: String,
    /// The object's namespace ("" when cluster-scoped).
    pub namespace: String,
    /// The object after the change (before it, for `DELETED`, with a new version).
    pub object: Value,
    /// The version the change made.
    pub resource_version: u64,
}

struct Inner {
    objects: BTreeMap<Key, Value>,
    version: u64,
}

/// The server's objects.
pub struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Event>,
    backing: Option<Backing>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

fn key(r: &Resource, ns: &str, name: &str) -> Key {
    (
        r.group.to_string(),
        r.plural.to_string(),
        if r.namespaced {
            ns.to_string()
        } else {
            String::new()
        },
        name.to_string(),
    )
}

/// A random lowercase id.
pub fn random_suffix(n: usize) -> String {
    // The alphabet the real server uses for generated names (no vowels, no look-alikes).
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the system's random source");
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn uuid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the system's random source");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Now, as the API writes timestamps.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("zero nanoseconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a formattable time")
}

/// Whether a name is a DNS-1123 subdomain, as most kinds require.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Whether a name is valid for the kind: RBAC objects and CSRs take any path segment
/// (`system:discovery`), the others a DNS-1123 subdomain, as the real validation does.
pub fn valid_name(r: &Resource, name: &str) -> bool {
    if r.group == "rbac.authorization.k8s.io" || r.group == "certificates.k8s.io" {
        !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains('/')
            && !name.contains('%')
    } else {
        is_dns_subdomain(name)
    }
}

fn meta(obj: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    obj.get("metadata")
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// `metadata.name`.
pub fn name_of(obj: &Value) -> &str {
    meta(obj).get("name").and_then(Value::as_str).unwrap_or("")
}

/// `metadata.resourceVersion`.
pub fn rv_of(obj: &Value) -> &str {
    meta(obj)
        .get("resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// A Secret's `stringData` folded into `data`, as the real server stores it.
fn fold_string_data(r: &Resource, obj: &mut Value) {
    if r.kind != "Secret" {
        return;
    }
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(sd)) = map.remove("stringData") {
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if !data.is_object() {
            *data = Value::Object(Map::new());
        }
        let data = data.as_object_mut().expect("an object");
        for (k, v) in sd {
            let text = v.as_str().unwrap_or_default();
            data.insert(
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
    if !map.contains_key("type") {
        map.insert("type".into(), json!("Opaque"));
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(4096);
        Store {
            inner: Mutex::new(Inner {
                objects: BTreeMap::new(),
                version: 0,
            }),
            events,
            backing: None,
        }
    }

    /// A store kept in etcd, holding the objects `backing` has.
    pub fn with_backing(backing: Backing) -> anyhow::Result<Self> {
        let (objects, version) = backing.load()?;
        let mut store = Store::new();
        let inner = store.inner.get_mut().expect("store");
        inner.objects = objects.into_iter().collect();
        inner.version = version;
        store.backing = Some(backing);
        Ok(store)
    }

    /// The version of a write of `object` at `k`: etcd's revision after writing it there,
    /// or the next of the counter.
    fn put(&self, inner: &mut Inner, k: &Key, object: &Value) -> Result<u64, ApiError> {
        let rv = match &self.backing {
            Some(b) => b.put(k, object).map_err(ApiError::internal)?,
            None => inner.version + 1,
        };
        inner.version = inner.version.max(rv);
        Ok(rv)
    }

    /// The version of the delete of `k`, as [`Store::put`].
    fn remove(&self, inner: &mut Inner, k: &Key) -> Result<u64, ApiError> {
        let rv = match &self.backing {
            Some(b) => b.delete(k).map_err(ApiError::internal)?,
            None => inner.version + 1,
        };
        inner.version = inner.version.max(rv);
        Ok(rv)
    }

    /// Follows every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The current resource version.
    pub fn version(&self) -> u64 {
        self.inner.lock().expect("store").version
    }

    fn publish(&self, kind: &'static str, r: &Resource, ns: &str, object: &Value, rv: u64) {
        let _ = self.events.send(Event {
            kind,
            group: r.group.to_string(),
            plural: r.plural.to_string(),
            namespace: if r.namespaced {
                ns.to_string()
            } else {
                String::new()
            },
            object: object.clone(),
            resource_version: rv,
        });
    }

    /// One object.
    pub fn get(&self, r: &Resource, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.inner
            .lock()
            .expect("store")
            .objects
            .get(&key(r, ns, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(r, name))
    }

    /// The objects of a resource, in one namespace or all; with the list's version.
    pub fn list(&self, r: &Resource, ns: Option<&str>) -> (Vec<Value>, u64) {
        let inner = self.inner.lock().expect("store");
        let items = inner
            .objects
            .iter()
            .filter(|((g, p, n, _), _)| {
                g == r.group && p == r.plural && ns.is_none_or(|ns| !r.namespaced || n == ns)
            })
            .map(|(_, v)| v.clone())
            .collect();
        (items, inner.version)
    }

    fn namespace_exists(inner: &Inner, ns: &str) -> bool {
        inner.objects.contains_key(&(
            "".into(),
            "namespaces".into(),
            String::new(),
            ns.to_string(),
        ))
    }

    /// Creates an object; the name comes from `metadata.name` or `generateName`.
    pub fn create(&self, r: &Resource, ns: &str, mut obj: Value) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body is not an object"));
        }
        fold_string_data(r, &mut obj);
        let mut inner = self.inner.lock().expect("store");
        if r.namespaced && !Self::namespace_exists(&inner, ns) {
            let nsr = crate::resources::find("", "v1", "namespaces").expect("namespaces");
            return Err(ApiError::not_found(nsr, ns));
        }
        let m = obj
            .as_object_mut()
            .expect("an object")
            .entry("metadata")
            .or_insert_with(|| json!({}));
        if !m.is_object() {
            *m = json!({});
        }
        let m = m.as_object_mut().expect("an object");
        let mut name = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() {
            if let Some(prefix) = m.get("generateName").and_then(Value::as_str) {
                name = format!("{prefix}{}", random_suffix(5));
            }
        }
        if name.is_empty() {
            return Err(ApiError::invalid(
                r,
                "",
                "metadata.name",
                "name or generateName is required",
            ));
        }
        if !valid_name(r, &name) {
            return Err(ApiError::invalid(
                r,
                &name,
                "metadata.name",
                if r.group == "rbac.authorization.k8s.io" || r.group == "certificates.k8s.io" {
                    "may not be '.' or '..' and may not contain '/' or '%'"
                } else {
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                },
            ));
        }
        let k = key(r, ns, &name);
        if inner.objects.contains_key(&k) {
            return Err(ApiError::already_exists(r, &name));
        }
        m.insert("name".into(), json!(name));
        if r.namespaced {
            m.insert("namespace".into(), json!(ns));
        } else {
            m.remove("namespace");
        }
        m.insert("uid".into(), json!(uuid()));
        m.remove("resourceVersion");
        m.insert("creationTimestamp".into(), json!(now()));
        let o = obj.as_object_mut().expect("an object");
        o.insert("apiVersion".into(), json!(r.api_version()));
        o.insert("kind".into(), json!(r.kind));
        if r.kind == "Namespace" {
            o.insert("status".into(), json!({"phase": "Active"}));
        }
        if tracks_generation(r) {
            m_generation(o, 1);
        }
        let rv = self.put(&mut inner, &k, &obj)?;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        inner.objects.insert(k, obj.clone());
        drop(inner);
        self.publish("ADDED", r, ns, &obj, rv);
        Ok(obj)
    }

    /// Replaces an object. A `resourceVersion` in the new object must be the stored one
    /// (409 otherwise); without one the update is unconditional, as the real server allows
    /// for these kinds. Identity fields are kept from the stored object.
    pub fn update(
        &self,
        r: &Resource,
        ns: &str,
        name: &str,
        mut obj: Value,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body is not an object"));
        }
        let body_name = name_of(&obj).to_string();
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        fold_string_data(r, &mut obj);
        let mut inner = self.inner.lock().expect("store");
        let k = key(r, ns, name);
        let Some(old) = inner.objects.get(&k) else {
            return Err(ApiError::not_found(r, name));
        };
        let given = rv_of(&obj).to_string();
        if !given.is_empty() && given != rv_of(old) {
            return Err(ApiError::conflict(r, name));
        }
        let old_meta = meta(old).clone();
        if tracks_generation(r) {
            // The generation counts changes of the spec.
            let g = old_meta
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let changed = obj.get("spec") != old.get("spec");
            m_generation(
                obj.as_object_mut().expect("an object"),
                if changed { g + 1 } else { g },
            );
        }
        if old == &merge_identity(obj.clone(), &old_meta, r) {
            // Nothing changes: no new version, as the real server answers a no-op update.
            return Ok(old.clone());
        }
        let mut obj = merge_identity(obj, &old_meta, r);
        let rv = self.put(&mut inner, &k, &obj)?;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        inner.objects.insert(k, obj.clone());
        drop(inner);
        self.publish("MODIFIED", r, ns, &obj, rv);
        Ok(obj)
    }

    /// Deletes an object and returns it.
    pub fn delete(&self, r: &Resource, ns: &str, name: &str) -> Result<Value, ApiError> {
        let mut inner = self.inner.lock().expect("store");
        let k = key(r, ns, name);
        if !inner.objects.contains_key(&k) {
            return Err(ApiError::not_found(r, name));
        }
        let rv = self.remove(&mut inner, &k)?;
        let mut obj = inner.objects.remove(&k).expect("there");
        if r.kind == "Namespace" {
            // What the namespace held goes with it (at once here; the real server's
            // namespace controller deletes it object by object).
            let held: Vec<Key> = inner
                .objects
                .keys()
                .filter(|(_, _, n, _)| n == name)
                .cloned()
                .collect();
            for k in held {
                if self.backing.is_some() {
                    self.remove(&mut inner, &k)?;
                }
                inner.objects.remove(&k);
            }
        }
        drop(inner);
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.publish("DELETED", r, ns, &obj, rv);
        Ok(obj)
    }

    /// Every object, for `--data-dump`.
    pub fn dump(&self) -> Value {
        let inner = self.inner.lock().expect("store");
        Value::Array(inner.objects.values().cloned().collect())
    }
}

/// Kinds whose `metadata.generation` the server keeps (of those stored here, the ones
/// a client of these tests reads it from).
fn tracks_generation(r: &Resource) -> bool {
    r.kind == "PodDisruptionBudget"
}

fn m_generation(o: &mut Map<String, Value>, g: i64) {
    let m = o.entry("metadata").or_insert_with(|| json!({}));
    if let Some(m) = m.as_object_mut() {
        m.insert("generation".into(), json!(g));
    }
}

/// The new object with the identity of the stored one (uid, creation time, name,
/// namespace, kind) and its `resourceVersion` cleared of the caller's value.
fn merge_identity(mut obj: Value, old_meta: &Map<String, Value>, r: &Resource) -> Value {
    let o = obj.as_object_mut().expect("an object");
    o.insert("apiVersion".into(), json!(r.api_version()));
    o.insert("kind".into(), json!(r.kind));
    let m = o.entry("metadata").or_insert_with(|| json!({}));
    if !m.is_object() {
        *m = json!({});
    }
    let m = m.as_object_mut().expect("an object");
    for f in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "resourceVersion",
    ] {
        match old_meta.get(f) {
            Some(v) => {
                m.insert(f.into(), v.clone());
            }
            None => {
                m.remove(f);
            }
        }
    }
    // generateName is set at creation and kept.
    match old_meta.get("generateName") {
        Some(orig) => {
            m.insert("generateName".into(), orig.clone());
        }
        None => {
            m.remove("generateName");
        }
    }
    obj
}

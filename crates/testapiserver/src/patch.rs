//! PATCH bodies (JSON merge, strategic merge, JSON patch) and server-side apply with field
//! ownership, for the kinds this server stores.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

/// The merge key of a list field of the built-in kinds stored here (their strategic-merge
/// metadata); lists without one are atomic.
pub fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "ownerReferences" => Some(match field {
            "ownerReferences" => "uid",
            _ => "name",
        }),
        "volumeMounts" => Some("mountPath"),
        "ports" => Some("containerPort"),
        "tolerations" => None,
        "conditions" => Some("type"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

const DIRECTIVE: &str = "$patch";

/// Applies a strategic merge patch.
pub fn strategic_merge(doc: &mut Value, patch: &Value) {
    let (Value::Object(target), Value::Object(p)) = (&mut *doc, patch) else {
        *doc = strip(patch);
        return;
    };
    if p.get(DIRECTIVE).and_then(Value::as_str) == Some("replace") {
        *doc = strip(patch);
        return;
    }
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        target.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if k.starts_with('$') {
            if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
                if let (Some(Value::Array(list)), Value::Array(gone)) = (target.get_mut(field), v) {
                    list.retain(|x| !gone.contains(x));
                }
            }
            continue;
        }
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(o) if o.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") => {
                target.remove(k);
            }
            Value::Array(items) => match (merge_key(k), target.get_mut(k)) {
                (Some(mk), Some(Value::Array(existing))) => merge_list(existing, items, mk),
                _ => {
                    target.insert(k.clone(), strip(v));
                }
            },
            Value::Object(_) => match target.get_mut(k) {
                Some(e @ Value::Object(_)) => strategic_merge(e, v),
                _ => {
                    target.insert(k.clone(), strip(v));
                }
            },
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

fn merge_list(existing: &mut Vec<Value>, items: &[Value], key: &str) {
    for item in items {
        let id = item.get(key);
        let pos = id.and_then(|id| existing.iter().position(|e| e.get(key) == Some(id)));
        let delete = item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut existing[i], item),
            (None, false) => existing.push(strip(item)),
        }
    }
}

fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        o => o.clone(),
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    /// A map field.
    Field(String),
    /// A list element identified by its merge key and value (JSON text).
    Key(String, String),
}

/// A field path.
pub type Path = Vec<Seg>;

/// `.spec.containers[name="a"].image`, as conflict messages show paths.
pub fn show(path: &Path) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Seg::Key(k, v) => s.push_str(&format!("[{k}={v}]")),
        }
    }
    s
}

/// The leaf fields of an object with their values; keyed lists are walked by key, other
/// lists are one (atomic) leaf. Identity fields are not owned by anyone.
pub fn leaves(obj: &Value) -> BTreeMap<Path, Value> {
    let mut out = BTreeMap::new();
    walk(obj, &mut Vec::new(), &mut out, None);
    out.retain(|p, _| !is_identity(p));
    out
}

fn is_identity(p: &Path) -> bool {
    let f = |i: usize| match p.get(i) {
        Some(Seg::Field(s)) => Some(s.as_str()),
        _ => None,
    };
    matches!(f(0), Some("apiVersion") | Some("kind") | Some("status"))
        || (f(0) == Some("metadata")
            && matches!(
                f(1),
                Some("name")
                    | Some("namespace")
                    | Some("uid")
                    | Some("resourceVersion")
                    | Some("creationTimestamp")
                    | Some("managedFields")
                    | Some("generation")
            ))
}

fn walk(v: &Value, path: &mut Path, out: &mut BTreeMap<Path, Value>, field: Option<&str>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(Seg::Field(k.clone()));
                walk(child, path, out, Some(k));
                path.pop();
            }
        }
        Value::Array(items) => match field.and_then(merge_key) {
            Some(key) if items.iter().all(|i| i.get(key).is_some()) => {
                for item in items {
                    let id = item.get(key).expect("checked").to_string();
                    path.push(Seg::Key(key.to_string(), id));
                    walk(item, path, out, None);
                    path.pop();
                }
            }
            _ => {
                out.insert(path.clone(), v.clone());
            }
        },
        other => {
            out.insert(path.clone(), other.clone());
        }
    }
}

/// The value at a path.
pub fn get<'a>(obj: &'a Value, path: &Path) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path {
        cur = match seg {
            Seg::Field(f) => cur.get(f)?,
            Seg::Key(k, v) => cur
                .as_array()?
                .iter()
                .find(|i| i.get(k).map(Value::to_string).as_deref() == Some(v))?,
        };
    }
    Some(cur)
}

/// Removes the value at a path (and list elements or maps left empty by it).
pub fn remove(obj: &mut Value, path: &Path) {
    fn go(cur: &mut Value, path: &[Seg]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        match first {
            Seg::Field(f) => {
                let Some(m) = cur.as_object_mut() else {
                    return;
                };
                if rest.is_empty() {
                    m.remove(f);
                } else if let Some(child) = m.get_mut(f) {
                    go(child, rest);
                    if child.as_object().is_some_and(Map::is_empty)
                        || child.as_array().is_some_and(Vec::is_empty)
                    {
                        m.remove(f);
                    }
                }
            }
            Seg::Key(k, v) => {
                let Some(items) = cur.as_array_mut() else {
                    return;
                };
                let Some(i) = items
                    .iter()
                    .position(|x| x.get(k).map(Value::to_string).as_deref() == Some(v))
                else {
                    return;
                };
                if rest.is_empty() {
                    items.remove(i);
                } else {
                    go(&mut items[i], rest);
                    // An element whose only field left is its key is gone.
                    if items[i].as_object().is_some_and(|m| m.len() <= 1) {
                        items.remove(i);
                    }
                }
            }
        }
    }
    go(obj, path);
}

/// The `fieldsV1` form of a set of paths.
pub fn fields_v1(paths: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for p in paths {
        let mut cur = &mut root;
        for seg in p {
            let k = match seg {
                Seg::Field(f) => format!("f:{f}"),
                Seg::Key(k, v) => format!("k:{{\"{k}\":{v}}}"),
            };
            cur = cur
                .entry(k)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("an object");
        }
    }
    Value::Object(root)
}

/// Reads `fieldsV1` back into paths.
pub fn paths_of(fields: &Value) -> BTreeSet<Path> {
    fn go(v: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
        let Some(m) = v.as_object() else {
            return;
        };
        if m.is_empty() && !path.is_empty() {
            out.insert(path.clone());
            return;
        }
        for (k, child) in m {
            let seg = if let Some(f) = k.strip_prefix("f:") {
                Seg::Field(f.to_string())
            } else if let Some(kv) = k.strip_prefix("k:") {
                let parsed: Value = serde_json::from_str(kv).unwrap_or(Value::Null);
                match parsed.as_object().and_then(|o| o.iter().next()) {
                    Some((key, val)) => Seg::Key(key.clone(), val.to_string()),
                    None => continue,
                }
            } else {
                continue;
            };
            path.push(seg);
            go(child, path, out);
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    go(fields, &mut Vec::new(), &mut out);
    out
}

/// The managers of an object and the paths each owns, by (manager, operation).
pub fn managers(obj: &Value) -> Vec<(String, String, BTreeSet<Path>)> {
    obj.get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e.get("manager")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        e.get("operation")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        paths_of(e.get("fieldsV1").unwrap_or(&Value::Null)),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes the managers back into `metadata.managedFields` (dropping empty ones).
pub fn set_managers(
    obj: &mut Value,
    api_version: &str,
    list: Vec<(String, String, BTreeSet<Path>)>,
) {
    let entries: Vec<Value> = list
        .into_iter()
        .filter(|(_, _, paths)| !paths.is_empty())
        .map(|(manager, op, paths)| {
            json!({
                "manager": manager,
                "operation": op,
                "apiVersion": api_version,
                "time": crate::store::now(),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(&paths),
            })
        })
        .collect();
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

/// Records that `manager` set the fields that differ between `before` and `after` (all of
/// `after`'s for a create), taking them from other managers, as an `Update` does.
pub fn record_update(before: Option<&Value>, after: &mut Value, manager: &str, api_version: &str) {
    let new = leaves(after);
    let changed: BTreeSet<Path> = match before {
        None => new.keys().cloned().collect(),
        Some(b) => {
            let old = leaves(b);
            new.iter()
                .filter(|(p, v)| old.get(*p) != Some(*v))
                .map(|(p, _)| p.clone())
                .collect()
        }
    };
    let mut list = before.map(managers).unwrap_or_default();
    // Fields that no longer exist are owned by nobody.
    for (_, _, paths) in list.iter_mut() {
        paths.retain(|p| new.contains_key(p) && !changed.contains(p));
    }
    if !changed.is_empty() {
        match list
            .iter_mut()
            .find(|(m, op, _)| m == manager && op == "Update")
        {
            Some((_, _, paths)) => paths.extend(changed),
            None => list.push((manager.to_string(), "Update".into(), changed)),
        }
    }
    set_managers(after, api_version, list);
}

/// Server-side apply of `config` by `manager` onto `current` (None to create). Returns the
/// new object, or the conflicts (manager, field) when another manager owns a field the
/// configuration sets to another value and `force` is off.
pub fn apply(
    current: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
) -> Result<Value, Vec<(String, String)>> {
    let applied = leaves(config);
    let mut list = current.map(managers).unwrap_or_default();
    let mut conflicts = Vec::new();
    if let Some(cur) = current {
        for (m, op, paths) in list.iter_mut() {
            if m == manager && op == "Apply" {
                continue;
            }
            let contested: Vec<Path> = paths
                .iter()
                .filter(|p| applied.contains_key(*p) && get(cur, p) != applied.get(*p))
                .cloned()
                .collect();
            if force {
                for p in &contested {
                    paths.remove(p);
                }
            } else {
                conflicts.extend(contested.iter().map(|p| (m.clone(), show(p))));
            }
            // Equal values become shared ownership; nothing to do.
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    let mut obj = current.cloned().unwrap_or_else(|| json!({}));
    // Fields this manager applied before and no longer applies are removed, unless
    // another manager owns them too.
    let previous: BTreeSet<Path> = list
        .iter()
        .filter(|(m, op, _)| m == manager && op == "Apply")
        .flat_map(|(_, _, p)| p.iter().cloned())
        .collect();
    for p in previous.iter().filter(|p| !applied.contains_key(*p)) {
        let owned_elsewhere = list
            .iter()
            .any(|(m, op, paths)| !(m == manager && op == "Apply") && paths.contains(p));
        if !owned_elsewhere {
            remove(&mut obj, p);
        }
    }
    let mut config = config.clone();
    if let Some(m) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    strategic_merge(&mut obj, &config);
    let now = leaves(&obj);
    for (_, _, paths) in list.iter_mut() {
        paths.retain(|p| now.contains_key(p));
    }
    list.retain(|(m, op, _)| !(m == manager && op == "Apply"));
    list.push((
        manager.to_string(),
        "Apply".into(),
        applied.keys().cloned().collect(),
    ));
    set_managers(&mut obj, api_version, list);
    Ok(obj)
}

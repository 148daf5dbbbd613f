//! Voluntary disruptions, as kube-apiserver and kube-controller-manager handle them:
//! the `pods/eviction` subresource, which deletes a Pod only when its
//! PodDisruptionBudget allows it, and the disruption controller, which keeps each
//! budget's status (`currentHealthy`, `desiredHealthy`, `expectedPods`,
//! `disruptionsAllowed`, `disruptedPods`, the `DisruptionAllowed` condition) from the
//! Pods it selects.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::resources::{self, Resource};
use crate::status::ApiError;
use crate::store::{self, Store};
use crate::State;

/// How long an eviction's entry in `disruptedPods` keeps its Pod out of the healthy
/// count while the Pod is not yet gone (the controller's DeletionTimeout).
const DELETION_TIMEOUT_SECS: i64 = 120;

/// Entries of `disruptedPods` beyond which evictions are refused: evictions the
/// controller has not caught up with yet.
const MAX_DISRUPTED_PODS: usize = 2000;

const BUDGET_VIOLATION: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn pods() -> &'static Resource {
    resources::find("", "v1", "pods").expect("pods")
}

fn budgets() -> &'static Resource {
    resources::find("policy", "v1", "poddisruptionbudgets").expect("poddisruptionbudgets")
}

/// Whether a `LabelSelector` object selects `labels` (`matchLabels` and
/// `matchExpressions` with `In`, `NotIn`, `Exists`, `DoesNotExist`); `None` when the
/// selector is not a valid one (it then selects nothing).
pub fn selector_matches(selector: &Value, labels: &Map<String, Value>) -> Option<bool> {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    let mut all = true;
    if let Some(ml) = selector.get("matchLabels") {
        for (k, v) in ml.as_object()? {
            all &= get(k) == Some(v.as_str()?);
        }
    }
    if let Some(exprs) = selector.get("matchExpressions") {
        for e in exprs.as_array()? {
            let key = e["key"].as_str()?;
            let values: Vec<&str> = match e.get("values") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => v
                    .as_array()?
                    .iter()
                    .map(Value::as_str)
                    .collect::<Option<_>>()?,
            };
            all &= match e["operator"].as_str()? {
                "In" if !values.is_empty() => get(key).is_some_and(|v| values.contains(&v)),
                "NotIn" if !values.is_empty() => get(key).is_none_or(|v| !values.contains(&v)),
                "Exists" if values.is_empty() => get(key).is_some(),
                "DoesNotExist" if values.is_empty() => get(key).is_none(),
                _ => return None,
            };
        }
    }
    Some(all)
}

/// Whether a selector has no requirement at all.
fn selector_is_empty(selector: &Value) -> bool {
    let none = |f: &str| match selector.get(f) {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    };
    none("matchLabels") && none("matchExpressions")
}

fn labels_of(obj: &Value) -> Map<String, Value> {
    obj["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// A Pod's Ready condition is True.
pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// An int-or-percent value scaled to `total` (percentages rounded up, as the controller
/// rounds them); `None` when it is neither.
fn scaled(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
            Some((pct * total + 99) / 100)
        }
        _ => None,
    }
}

/// The number of Pods the controllers of `pods` want (their owners' `spec.replicas`):
/// the budget's expected count when it is given as `maxUnavailable` or a percentage.
fn expected_scale(store: &Store, pods: &[Value]) -> Result<i64, String> {
    let mut scales: BTreeMap<String, i64> = BTreeMap::new();
    for p in pods {
        let owner = p["metadata"]["ownerReferences"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["controller"] == true));
        let found = owner.and_then(|o| {
            let (group, _) = o["apiVersion"]
                .as_str()?
                .rsplit_once('/')
                .unwrap_or(("", ""));
            let r = resources::by_kind(group, o["kind"].as_str()?)?;
            let ns = p["metadata"]["namespace"].as_str().unwrap_or("");
            let c = store.get(r, ns, o["name"].as_str()?).ok()?;
            // A DaemonSet or Job has no scale.
            let replicas = c["spec"].get("replicas")?;
            Some((store::name_of(&c).to_string(), int(replicas)))
        });
        match found {
            Some((name, replicas)) => {
                scales.insert(name, replicas);
            }
            None => {
                return Err(format!(
                    "found no controllers for pod {:?}",
                    store::name_of(p)
                ))
            }
        }
    }
    Ok(scales.values().sum())
}

/// The disruption controller, once: every budget's status from the Pods it selects.
pub fn controller(store: &Store) {
    let now = time::OffsetDateTime::now_utc();
    for pdb in store.list(budgets(), None).0 {
        let ns = pdb["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let spec = &pdb["spec"];
        // A budget without a selector selects no Pods; in policy/v1 an empty one selects
        // every Pod of its namespace.
        let selected: Vec<Value> = match spec.get("selector") {
            None | Some(Value::Null) => Vec::new(),
            Some(sel) => store
                .list(pods(), Some(&ns))
                .0
                .into_iter()
                .filter(|p| selector_matches(sel, &labels_of(p)) == Some(true))
                .collect(),
        };
        let counted = if let Some(mu) = spec.get("maxUnavailable").filter(|v| !v.is_null()) {
            expected_scale(store, &selected).and_then(|expected| {
                let mu = scaled(mu, expected).ok_or("invalid maxUnavailable")?;
                Ok((expected, (expected - mu).max(0)))
            })
        } else {
            match spec.get("minAvailable") {
                Some(Value::Number(n)) => Ok((selected.len() as i64, n.as_i64().unwrap_or(0))),
                Some(v @ Value::String(_)) => expected_scale(store, &selected)
                    .and_then(|e| Ok((e, scaled(v, e).ok_or("invalid minAvailable")?))),
                _ => Ok((selected.len() as i64, 0)),
            }
        };
        // Evictions granted within the timeout whose Pods are still there.
        let mut disrupted = Map::new();
        if let Some(d) = pdb["status"]["disruptedPods"].as_object() {
            for (name, at) in d {
                let pending = at
                    .as_str()
                    .and_then(parse_time)
                    .is_some_and(|t| (now - t).whole_seconds() < DELETION_TIMEOUT_SECS);
                let present = selected.iter().any(|p| store::name_of(p) == name);
                if pending && present {
                    disrupted.insert(name.clone(), at.clone());
                }
            }
        }
        let healthy = selected
            .iter()
            .filter(|p| p["metadata"].get("deletionTimestamp").is_none())
            .filter(|p| !disrupted.contains_key(store::name_of(p)))
            .filter(|p| pod_ready(p))
            .count() as i64;
        let generation = pdb["metadata"]["generation"].clone();
        let old = pdb["status"].clone();
        let mut status = json!({
            "observedGeneration": generation,
            "currentHealthy": healthy,
            "disruptionsAllowed": 0,
        });
        let condition = match counted {
            Ok((expected, desired)) => {
                let allowed = if expected <= 0 {
                    0
                } else {
                    (healthy - desired).max(0)
                };
                status["desiredHealthy"] = json!(desired);
                status["expectedPods"] = json!(expected);
                status["disruptionsAllowed"] = json!(allowed);
                if allowed > 0 {
                    ("True", "SufficientPods", String::new())
                } else {
                    ("False", "InsufficientPods", String::new())
                }
            }
            // As the controller's fail-safe: no disruption allowed, the reason said.
            Err(why) => {
                status["desiredHealthy"] = old.get("desiredHealthy").cloned().unwrap_or(json!(0));
                status["expectedPods"] = old.get("expectedPods").cloned().unwrap_or(json!(0));
                ("False", "SyncFailed", why)
            }
        };
        if !disrupted.is_empty() {
            status["disruptedPods"] = Value::Object(disrupted);
        }
        status["conditions"] = json!([disruption_allowed(&old, condition)]);
        if status == old {
            continue;
        }
        let mut updated = pdb.clone();
        updated["status"] = status;
        // A concurrent writer wins; the next pass computes again.
        let _ = store.update(budgets(), &ns, store::name_of(&pdb), updated);
    }
}

/// The `DisruptionAllowed` condition, its transition time kept while its status stays.
fn disruption_allowed(
    old_status: &Value,
    (status, reason, message): (&str, &str, String),
) -> Value {
    let previous = old_status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "DisruptionAllowed"));
    let since = match previous {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(store::now()),
    };
    json!({
        "type": "DisruptionAllowed",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    })
}

fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

/// `POST pods/<name>/eviction`: deletes the Pod when no PodDisruptionBudget stands in
/// the way, as the real eviction REST does. Returns the `Status` to answer with (its
/// `code` is the HTTP status).
pub fn evict(
    state: &State,
    ns: &str,
    name: &str,
    eviction: &Value,
    dry_run_query: bool,
) -> Result<Value, ApiError> {
    if !eviction.is_object() {
        return Err(ApiError::bad_request("the body is not an object"));
    }
    match eviction["apiVersion"].as_str() {
        None | Some("policy/v1") | Some("policy/v1beta1") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({other}) does not match the expected API version (policy/v1)"
            )))
        }
    }
    if eviction["kind"].as_str().is_some_and(|k| k != "Eviction") {
        return Err(ApiError::bad_request(format!(
            "not a Eviction object: {}",
            eviction["kind"]
        )));
    }
    if store::name_of(eviction) != name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let dry_run = dry_run_query
        || eviction["deleteOptions"]["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    let store = &state.store;
    let pod = store.get(pods(), ns, name)?;
    let delete = |store: &Store| -> Result<Value, ApiError> {
        if !dry_run {
            store.delete(pods(), ns, name)?;
        }
        Ok(success(201))
    };
    // A Pod that is done, not started or already going is deleted without a budget's
    // say: it disrupts nothing more.
    let phase = pod["status"]["phase"].as_str().unwrap_or("");
    if matches!(phase, "Succeeded" | "Failed" | "Pending")
        || pod["metadata"].get("deletionTimestamp").is_some()
    {
        return delete(store);
    }
    let labels = labels_of(&pod);
    let matching: Vec<Value> = store
        .list(budgets(), Some(ns))
        .0
        .into_iter()
        .filter(|b| {
            // Here a missing or empty selector selects nothing.
            let sel = &b["spec"]["selector"];
            sel.is_object()
                && !selector_is_empty(sel)
                && selector_matches(sel, &labels) == Some(true)
        })
        .collect();
    let pdb = match matching.as_slice() {
        [] => return delete(store),
        [one] => one.clone(),
        _ => {
            return Ok(json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                "code": 500,
            }))
        }
    };
    let st = &pdb["status"];
    let (healthy, desired) = (int(&st["currentHealthy"]), int(&st["desiredHealthy"]));
    // An unready Pod counts for nothing healthy: it goes while the budget is met.
    if !pod_ready(&pod) && healthy >= desired && desired > 0 {
        return delete(store);
    }
    check_and_decrement(store, &pdb, name, dry_run)?;
    delete(store)
}

/// Takes one disruption from the budget, or says why it has none to give.
fn check_and_decrement(
    store: &Store,
    pdb: &Value,
    pod: &str,
    dry_run: bool,
) -> Result<(), ApiError> {
    let pdb_name = store::name_of(pdb);
    let st = &pdb["status"];
    if int(&st["observedGeneration"]) < int(&pdb["metadata"]["generation"]) {
        return Err(ApiError::too_many_requests(
            BUDGET_VIOLATION,
            10,
            format!("The disruption budget {pdb_name} is still being processed by the server."),
        ));
    }
    let allowed = int(&st["disruptionsAllowed"]);
    if allowed < 0 {
        return Err(ApiError::forbidden_object(
            "poddisruptionbudget.policy",
            "policy",
            pdb_name,
            "pdb disruptions allowed is negative",
        ));
    }
    let disrupted = st["disruptedPods"].as_object().map_or(0, Map::len);
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(ApiError::forbidden_object(
            "poddisruptionbudget.policy",
            "policy",
            pdb_name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(ApiError::too_many_requests(
            BUDGET_VIOLATION,
            0,
            format!(
                "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                int(&st["desiredHealthy"]),
                int(&st["currentHealthy"])
            ),
        ));
    }
    if dry_run {
        return Ok(());
    }
    let mut updated = pdb.clone();
    let status = &mut updated["status"];
    status["disruptionsAllowed"] = json!(allowed - 1);
    if allowed - 1 == 0 {
        let c = disruption_allowed(status, ("False", "InsufficientPods", String::new()));
        status["conditions"] = json!([c]);
    }
    if !status["disruptedPods"].is_object() {
        status["disruptedPods"] = json!({});
    }
    status["disruptedPods"][pod] = json!(store::now());
    let ns = pdb["metadata"]["namespace"].as_str().unwrap_or("");
    store.update(budgets(), ns, pdb_name, updated).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn label_selectors_match_as_the_api_defines_them() {
        let l = labels(json!({"app": "web", "tier": "front"}));
        let sel = |v: Value| selector_matches(&v, &l);
        assert_eq!(sel(json!({"matchLabels": {"app": "web"}})), Some(true));
        assert_eq!(sel(json!({"matchLabels": {"app": "db"}})), Some(false));
        assert_eq!(
            sel(
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "x"]}]})
            ),
            Some(true)
        );
        assert_eq!(
            sel(
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]})
            ),
            Some(false)
        );
        assert_eq!(
            sel(json!({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]})),
            Some(true)
        );
        // In without values is not a valid selector.
        assert_eq!(
            sel(json!({"matchExpressions": [{"key": "tier", "operator": "In"}]})),
            None
        );
        assert!(selector_is_empty(&json!({})));
        assert!(!selector_is_empty(&json!({"matchLabels": {"a": "b"}})));
    }

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&json!("50%"), 3), Some(2));
        assert_eq!(scaled(&json!(2), 3), Some(2));
        assert_eq!(scaled(&json!("x"), 3), None);
    }
}

//! A node's maintenance through the cluster's API, as `kubectl cordon`, `drain`,
//! `uncordon` and `delete node` do it: the Node marked unschedulable, its Pods evicted
//! through the Eviction API (so PodDisruptionBudgets are respected; DaemonSet Pods and
//! mirror Pods stay, as their controllers would recreate them at once), and retried while
//! a budget refuses, until the file's `drainTimeout`.

use std::time::{Duration, Instant};

use kubeadm::client::Api;
use serde_json::{json, Value};

/// The annotation a rolling upgrade puts on the Node it cordons, holding the version it
/// upgrades to: a rerun uncordons the Nodes it left cordoned, never one its owner cordoned.
pub(super) const UPGRADE_CORDONED: &str = "kubeadm-rs.io/upgrade-cordoned";

/// How long a drain waits between rounds of evictions a budget refused.
const RETRY: Duration = Duration::from_secs(1);

/// Whether `s` can be a name of the API (a DNS subdomain), so that it is safe in a path.
fn api_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !s.starts_with(['-', '.'])
}

fn node_path(node: &str) -> String {
    format!("/api/v1/nodes/{node}")
}

/// Marks the Node unschedulable (`cordon`) or schedulable again (`uncordon`).
pub(super) fn set_unschedulable(api: &dyn Api, node: &str, on: bool) -> anyhow::Result<()> {
    api.call(
        "PATCH",
        &node_path(node),
        Some(&json!({"spec": {"unschedulable": if on { json!(true) } else { Value::Null }}})),
        "application/strategic-merge-patch+json",
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{} Node {node}: {e}",
            if on { "cordoning" } else { "uncordoning" }
        )
    })?;
    Ok(())
}

/// Cordons the Node for a rolling upgrade to `version` (`Some`), or uncordons it and
/// drops the upgrade's annotation (`None`), in one patch.
pub(super) fn set_upgrade_cordon(
    api: &dyn Api,
    node: &str,
    version: Option<&str>,
) -> anyhow::Result<()> {
    let patch = json!({
        "metadata": {"annotations": {UPGRADE_CORDONED: version}},
        "spec": {"unschedulable": if version.is_some() { json!(true) } else { Value::Null }},
    });
    api.call(
        "PATCH",
        &node_path(node),
        Some(&patch),
        "application/strategic-merge-patch+json",
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{} Node {node}: {e}",
            if version.is_some() {
                "cordoning"
            } else {
                "uncordoning"
            }
        )
    })?;
    Ok(())
}

/// Deletes the Node (gone already is fine).
pub(super) fn delete_node(api: &dyn Api, node: &str) -> anyhow::Result<()> {
    match api.call("DELETE", &node_path(node), None, "application/json") {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(anyhow::anyhow!("deleting Node {node}: {e}")),
    }
}

/// A Pod a drain has to move away: not a mirror Pod (its kubelet owns it) nor one of a
/// DaemonSet (which would put it back on the node at once).
fn to_evict(pod: &Value) -> bool {
    let mirror = pod["metadata"]["annotations"]
        .get("kubernetes.io/config.mirror")
        .is_some();
    let daemon = pod["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|o| {
            o.iter()
                .any(|o| o["controller"] == true && o["kind"] == "DaemonSet")
        });
    !mirror && !daemon
}

/// Evicts the Pods of `node` (see [`to_evict`]) through the Eviction API, retrying those
/// a PodDisruptionBudget refuses until `timeout`; `said` reports each eviction. Fails
/// naming the Pods still there and what the API said about them.
pub(super) fn drain(
    api: &dyn Api,
    node: &str,
    timeout: Duration,
    said: &dyn Fn(String),
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let list = api
            .call(
                "GET",
                &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"),
                None,
                "application/json",
            )
            .map_err(|e| anyhow::anyhow!("listing the Pods of Node {node}: {e}"))?;
        let mut refused: Vec<String> = Vec::new();
        let mut left = 0;
        for pod in list["items"].as_array().into_iter().flatten() {
            if !to_evict(pod) {
                continue;
            }
            let (ns, name) = (
                pod["metadata"]["namespace"].as_str().unwrap_or(""),
                pod["metadata"]["name"].as_str().unwrap_or(""),
            );
            if !api_name(ns) || !api_name(name) {
                anyhow::bail!(
                    "the API server listed a Pod on Node {node} whose name is not a name of the API: {:?}",
                    format!("{ns}/{name}")
                );
            }
            left += 1;
            // Already going: it is waited for, not evicted again.
            if pod["metadata"].get("deletionTimestamp").is_some() {
                refused.push(format!("{ns}/{name}: still terminating"));
                continue;
            }
            let eviction = json!({
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": name, "namespace": ns},
            });
            match api.call(
                "POST",
                &format!("/api/v1/namespaces/{ns}/pods/{name}/eviction"),
                Some(&eviction),
                "application/json",
            ) {
                Ok(_) => {
                    left -= 1;
                    said(format!("evicted Pod {ns}/{name}"));
                }
                Err(e) if e.is_not_found() => left -= 1,
                // A budget that allows no disruption now: again next round.
                Err(e) if e.code == 429 => refused.push(format!("{ns}/{name}: {e}")),
                Err(e) => anyhow::bail!("evicting Pod {ns}/{name}: {e}"),
            }
        }
        if left == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the drain did not end within drainTimeout ({}): {}; the Node stays cordoned",
                kubeadm::duration::format_duration(timeout),
                refused.join("; ")
            );
        }
        std::thread::sleep(RETRY.min(deadline.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_and_daemonset_pods_stay() {
        let plain = json!({"metadata": {"name": "web"}});
        let mirror = json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "ab"}}});
        let daemon =
            json!({"metadata": {"ownerReferences": [{"kind": "DaemonSet", "controller": true}]}});
        let replica =
            json!({"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "controller": true}]}});
        assert!(to_evict(&plain) && to_evict(&replica));
        assert!(!to_evict(&mirror) && !to_evict(&daemon));
    }

    #[test]
    fn only_api_names_reach_a_path() {
        assert!(api_name("web-1.x"));
        for bad in ["", "../x", "a/b", "A", "-a", "a?b"] {
            assert!(!api_name(bad), "{bad}");
        }
    }
}

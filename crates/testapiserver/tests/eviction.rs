//! The `pods/eviction` subresource and the disruption controller: a budget's status
//! follows the Ready Pods it selects; an eviction it allows deletes the Pod and takes a
//! disruption; one it does not allow is 429 with the budget named; Pods not running are
//! evicted without asking; two budgets over one Pod are a 500 Status.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const PODS: &str = "/api/v1/namespaces/default/pods";
const PDBS: &str = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Pod `name` labelled `app: web`, bound to `w-1`, running and Ready as its kubelet
/// would report it (through `/status`).
fn running_pod(c: &Client, name: &str, ready: bool) {
    let (code, created) = c.post(
        PODS,
        &json!({"metadata": {"name": name, "labels": {"app": "web"}},
                "spec": {"nodeName": "w-1", "containers": [{"name": "c", "image": "pause"}]},
                "status": {"phase": "Running"}}),
    );
    assert_eq!(code, 201, "{created}");
    // What a client sends as status on create is the server's to set.
    assert_eq!(created["status"]["phase"], "Pending", "{created}");
    assert_eq!(created["status"]["qosClass"], "BestEffort", "{created}");
    let mut pod = created;
    pod["status"] = json!({"phase": "Running", "conditions": [
        {"type": "Ready", "status": if ready { "True" } else { "False" }}]});
    let (code, updated) = c.put(&format!("{PODS}/{name}/status"), &pod);
    assert_eq!(code, 200, "{updated}");
}

fn evict(c: &Client, name: &str) -> (u16, Value) {
    c.post(
        &format!("{PODS}/{name}/eviction"),
        &json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}),
    )
}

fn budget(c: &Client) -> Value {
    c.get(&format!("{PDBS}/web")).1
}

#[test]
fn evictions_respect_the_budget_the_controller_keeps() {
    let cluster = Cluster::start();
    let c = cluster.admin();
    running_pod(&c, "web-1", true);
    running_pod(&c, "web-2", true);
    running_pod(&c, "web-3", false);

    // Discovery lists the subresource as policy/v1 Eviction, created only.
    let (_, core) = c.get("/api/v1");
    let sub = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/eviction")
        .expect("pods/eviction in discovery")
        .clone();
    assert_eq!(sub["kind"], "Eviction");
    assert_eq!(sub["group"], "policy");
    assert_eq!(sub["verbs"], json!(["create"]));

    let (code, pdb) = c.post(
        PDBS,
        &json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
                "status": {"disruptionsAllowed": 9}}),
    );
    assert_eq!(code, 201, "{pdb}");
    assert_eq!(pdb["metadata"]["generation"], 1);
    // Two Ready Pods of three, one must stay: one disruption allowed.
    eventually("the budget's status", || {
        budget(&c)["status"]["observedGeneration"] == 1
    });
    let st = budget(&c)["status"].clone();
    assert_eq!(st["currentHealthy"], 2, "{st}");
    assert_eq!(st["desiredHealthy"], 1, "{st}");
    assert_eq!(st["expectedPods"], 3, "{st}");
    assert_eq!(st["disruptionsAllowed"], 1, "{st}");
    assert_eq!(st["conditions"][0]["type"], "DisruptionAllowed");
    assert_eq!(st["conditions"][0]["reason"], "SufficientPods");

    // A dry run changes nothing.
    let (code, s) = c.post(
        &format!("{PODS}/web-1/eviction?dryRun=All"),
        &json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1"}}),
    );
    assert_eq!(code, 201, "{s}");
    assert_eq!(c.get(&format!("{PODS}/web-1")).0, 200);
    assert_eq!(budget(&c)["status"]["disruptionsAllowed"], 1);

    // The one allowed disruption: the Pod is gone.
    let (code, s) = evict(&c, "web-1");
    assert_eq!(code, 201, "{s}");
    assert_eq!(s["status"], "Success");
    assert_eq!(c.get(&format!("{PODS}/web-1")).0, 404);
    eventually("the budget recounted", || {
        budget(&c)["status"]["currentHealthy"] == 1
    });
    let st = budget(&c)["status"].clone();
    assert_eq!(st["disruptionsAllowed"], 0, "{st}");
    assert_eq!(st["conditions"][0]["reason"], "InsufficientPods", "{st}");

    // None left: 429, the budget named, the Pod kept.
    let (code, s) = evict(&c, "web-2");
    assert_eq!(code, 429, "{s}");
    assert_eq!(s["reason"], "TooManyRequests");
    assert_eq!(
        s["message"],
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert_eq!(s["details"]["causes"][0]["reason"], "DisruptionBudget");
    assert_eq!(
        s["details"]["causes"][0]["message"],
        "The disruption budget web needs 1 healthy pods and has 1 currently"
    );
    assert_eq!(c.get(&format!("{PODS}/web-2")).0, 200);

    // An unready Pod goes while the budget holds (it is no healthy Pod).
    let (code, s) = evict(&c, "web-3");
    assert_eq!(code, 201, "{s}");

    // A Pod that has not started is evicted without the budget's say.
    let (code, _) = c.post(
        PODS,
        &json!({"metadata": {"name": "web-4", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}),
    );
    assert_eq!(code, 201);
    let (code, s) = evict(&c, "web-4");
    assert_eq!(code, 201, "{s}");

    // A changed budget is "still being processed" until its controller has seen it; the
    // new spec lets web-2 go.
    let mut pdb = budget(&c);
    pdb["spec"]["minAvailable"] = json!(0);
    let (code, updated) = c.put(&format!("{PDBS}/web"), &pdb);
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["metadata"]["generation"], 2);
    eventually("the new generation observed", || {
        budget(&c)["status"]["observedGeneration"] == 2
    });
    assert_eq!(budget(&c)["status"]["disruptionsAllowed"], 1);
    let (code, s) = evict(&c, "web-2");
    assert_eq!(code, 201, "{s}");

    // Errors: no such Pod, a name that differs, a GET.
    let (code, s) = evict(&c, "nope");
    assert_eq!(code, 404, "{s}");
    let (code, s) = c.post(
        &format!("{PODS}/web-2/eviction"),
        &json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}}),
    );
    assert_eq!(code, 400, "{s}");
    assert_eq!(
        s["message"],
        "name in URL does not match name in Eviction object"
    );
    assert_eq!(c.get(&format!("{PODS}/web-2/eviction")).0, 405);
}

#[test]
fn two_budgets_over_one_pod_and_a_budget_that_cannot_count_its_pods() {
    let cluster = Cluster::start();
    let c = cluster.admin();
    running_pod(&c, "web-1", true);
    for name in ["a", "b"] {
        let (code, _) = c.post(
            PDBS,
            &json!({"metadata": {"name": name}, "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}}),
        );
        assert_eq!(code, 201);
    }
    let (code, s) = evict(&c, "web-1");
    assert_eq!(code, 500, "{s}");
    assert_eq!(
        s["message"],
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
    c.delete(&format!("{PDBS}/b"));
    // maxUnavailable needs the Pods' controller to count them; a Pod without one makes
    // the controller fail safe: no disruption allowed, the reason in the condition.
    eventually("the controller failed safe", || {
        budget_named(&c, "a")["status"]["conditions"][0]["reason"] == "SyncFailed"
    });
    let st = budget_named(&c, "a")["status"].clone();
    assert_eq!(st["disruptionsAllowed"], 0, "{st}");
    assert_eq!(
        st["conditions"][0]["message"],
        "found no controllers for pod \"web-1\""
    );
    let (code, s) = evict(&c, "web-1");
    assert_eq!(code, 429, "{s}");
}

fn budget_named(c: &Client, name: &str) -> Value {
    c.get(&format!("{PDBS}/{name}")).1
}

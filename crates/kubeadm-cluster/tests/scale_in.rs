//! Scale in, on one cluster of three control planes and two workers over SSH: a worker
//! whose Pod a PodDisruptionBudget protects fails its drain after `drainTimeout`, named
//! with the Pod and left cordoned; without the budget it and a control plane are taken
//! out (Nodes gone, two etcd members left, no kubeadm files on them), DaemonSet Pods
//! left in place; a host taken out of the file while still a node is reported by `plan`
//! and left alone; removing a control plane that would leave etcd without quorum, or the
//! last control plane, is refused with nothing changed.
//! Skips, saying why, where namespaces cannot be made (not root, tools missing).

mod support;

use std::time::{Duration, Instant};

use support::*;

fn assert_result(out: &str, node: &str, want: &str) {
    assert_eq!(
        result_of(out, node),
        Some(want),
        "{node} should be {want}:\n{out}"
    );
}

/// The object `plural` `ns/name` in the API server of `cp`.
fn object_of(
    cp: &TestHost,
    group: &str,
    plural: &str,
    ns: &str,
    name: &str,
) -> Option<serde_json::Value> {
    cp.sim.as_ref().unwrap().with_server(|s| {
        let r = testapiserver::resources::find(group, "v1", plural).unwrap();
        s.unwrap().state().store.get(r, ns, name).ok()
    })
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `hosts` with the hosts in `remove` marked `remove: true`, and the file's `extra`.
fn file_with(
    net: &Net,
    hosts: &[(&TestHost, &str)],
    endpoint: &str,
    remove: &[&TestHost],
    extra: &str,
) -> String {
    let path = cluster_file(net, hosts, Some(endpoint));
    let mut text = std::fs::read_to_string(&path).unwrap();
    for h in remove {
        let line = format!("  nodeName: {}\n", h.node);
        assert!(text.contains(&line));
        text = text.replace(&line, &format!("{line}  remove: true\n"));
    }
    text.push_str(extra);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn three_control_planes_and_two_workers_scale_in() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut net = Net::new().unwrap();
    let cp1 = net.host(0, "cp-1", true).unwrap();
    let cp2 = net.host(1, "cp-2", true).unwrap();
    let cp3 = net.host(2, "cp-3", true).unwrap();
    let w1 = net.host(3, "w-1", false).unwrap();
    let w2 = net.host(4, "w-2", false).unwrap();
    let endpoint = format!("{}:6443", cp1.addr);
    let all = [
        (&cp1, "control-plane"),
        (&cp2, "control-plane"),
        (&cp3, "control-plane"),
        (&w1, "worker"),
        (&w2, "worker"),
    ];
    let file = file_with(&net, &all, &endpoint, &[], "");
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(ok, "{out}");
    assert_eq!(etcd_members(&cp1).len(), 3);

    // A workload on w-1 with a budget that allows no disruption, and a DaemonSet's Pod.
    let kc = net.dir.path().join("admin.conf");
    let o = net.operator(
        env!("CARGO_BIN_EXE_kubeadm-cluster"),
        &["kubeconfig", "-f", &file],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(&kc, &o.stdout).unwrap();
    let kubectl = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kc.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = net.operator("kubectl", &all);
        assert!(
            o.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let objects = net.dir.path().join("workload.yaml");
    std::fs::write(
        &objects,
        "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec: {nodeName: w-1, containers: [{name: web, image: registry.k8s.io/pause:3.10}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: agent-w-1
  namespace: default
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: 6b0c8a36-1111-4b5e-9d4a-1c2f0e5d7a01, controller: true}]
spec: {nodeName: w-1, containers: [{name: agent, image: registry.k8s.io/pause:3.10}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: default}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
",
    )
    .unwrap();
    kubectl(&["apply", "-f", objects.to_str().unwrap()]);
    eventually("the budget counts the running Pod", || {
        object_of(&cp1, "policy", "poddisruptionbudgets", "default", "web").is_some_and(|b| {
            b["status"]["currentHealthy"] == 1 && b["status"]["observedGeneration"] == 1
        })
    });

    // The budget blocks the drain: w-1 fails after drainTimeout naming the Pod, cordoned,
    // still a node; nothing else changed.
    let file = file_with(&net, &all, &endpoint, &[&w1], "drainTimeout: 3s\n");
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(!ok, "{out}");
    assert_result(&out, "w-1", "FAILED");
    assert_result(&out, "cp-3", "unchanged");
    assert!(
        out.contains("w-1 failed: drain: the drain did not end within drainTimeout (3s): default/web: Cannot evict pod as it would violate the pod's disruption budget."),
        "{out}"
    );
    assert!(
        !out.contains("agent-w-1"),
        "a DaemonSet Pod was evicted:\n{out}"
    );
    let node = object_of(&cp1, "", "nodes", "", "w-1").expect("w-1 is still a Node");
    assert_eq!(node["spec"]["unschedulable"], true, "w-1 stays cordoned");
    assert!(w1.file("/etc/kubernetes/kubelet.conf").exists());
    assert!(object_of(&cp1, "", "pods", "default", "web").is_some());

    // Without the budget: the plan takes w-1 then cp-3 out, and apply does it.
    kubectl(&["delete", "poddisruptionbudget", "web"]);
    let file = file_with(&net, &all, &endpoint, &[&w1, &cp3], "drainTimeout: 3s\n");
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", &file]);
    assert!(ok, "{out}");
    let w1_at = out
        .find("1     w-1   worker         remove")
        .unwrap_or_else(|| panic!("{out}"));
    let cp3_at = out
        .find("2     cp-3  control-plane  remove")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(w1_at < cp3_at, "{out}");
    assert!(
        out.contains("cordon, drain (up to 3s), kubeadm reset -f, delete the Node"),
        "{out}"
    );
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(ok, "{out}");
    assert_result(&out, "w-1", "removed");
    assert_result(&out, "cp-3", "removed");
    assert_result(&out, "w-2", "unchanged");
    assert!(out.contains("[w-1] evicted Pod default/web"), "{out}");
    assert!(
        !out.contains("agent-w-1"),
        "a DaemonSet Pod was evicted:\n{out}"
    );
    assert!(
        out.find("[w-1] removed from the cluster").unwrap() < out.find("[cp-3] cordoning").unwrap(),
        "one at a time, workers first:\n{out}"
    );
    assert_eq!(nodes_of(&cp1), ["cp-1", "cp-2", "w-2"]);
    let members = etcd_members(&cp1);
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(!members.iter().any(|m| m.contains("cp-3")), "{members:?}");
    for h in [&w1, &cp3] {
        for f in [
            "/etc/kubernetes/kubelet.conf",
            "/etc/kubernetes/pki/ca.crt",
            "/etc/kubernetes/manifests/etcd.yaml",
            "/var/lib/kubelet/config.yaml",
        ] {
            assert!(!h.file(f).exists(), "{} still has {f}", h.node);
        }
    }
    // Again: nothing left to remove.
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(ok, "{out}");
    assert_result(&out, "w-1", "unchanged");
    assert!(
        out.contains("[cp-3] not a node of this cluster: nothing to remove"),
        "{out}"
    );

    // w-2 taken out of the file while still a node: plan reports it, apply leaves it.
    let kept = [(&cp1, "control-plane"), (&cp2, "control-plane")];
    let file = file_with(&net, &kept, &endpoint, &[], "");
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", &file]);
    assert!(ok, "{out}");
    assert!(
        out.contains("Nodes no host of this file is, left alone: w-2"),
        "{out}"
    );
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(ok, "{out}");
    assert_eq!(nodes_of(&cp1), ["cp-1", "cp-2", "w-2"]);

    // cp-2's etcd stopped: removing cp-1 would leave etcd without quorum, refused with
    // nothing changed on any host or in the cluster.
    let hosts = [&cp1, &cp2, &w2];
    cp2.sim.as_ref().unwrap().stop_etcd();
    let before: Vec<_> = hosts.iter().map(|h| files_of(h)).collect();
    let file = file_with(&net, &kept, &endpoint, &[&cp1], "");
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(!ok, "{out}");
    assert_result(&out, "cp-1", "FAILED");
    assert!(
        out.contains("cp-1 failed: removing cp-1 would leave etcd without quorum: of the 1 voting members left, 0 answer and 1 are needed (not answering: cp-2)"),
        "{out}"
    );
    assert!(
        out.contains("cp-2 skipped: removing a control plane was refused; nothing was changed"),
        "{out}"
    );
    // The last control plane is never removed.
    let file = file_with(&net, &kept, &endpoint, &[&cp1, &cp2], "");
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "cp-2 failed: removing cp-1, cp-2 would leave the cluster without a control plane"
        ),
        "{out}"
    );
    for (h, b) in hosts.iter().zip(&before) {
        assert_eq!(&files_of(h), b, "files of {} changed", h.node);
    }
    assert_eq!(nodes_of(&cp1), ["cp-1", "cp-2", "w-2"]);
    assert!(object_of(&cp1, "", "nodes", "", "cp-1").unwrap()["spec"]["unschedulable"].is_null());
}

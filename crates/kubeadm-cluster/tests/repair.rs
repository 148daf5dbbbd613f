//! `check` and `repair` against test hosts reached over real SSH: a cluster of three
//! control planes and a worker is applied and checked healthy; then the worker loses its
//! kubelet.conf and the third control plane its etcd data (its etcd, started again on
//! an empty data directory, cannot rejoin its cluster and stops). `check` names both
//! with the reason and exits 1; `repair --dry-run` shows the plan and changes nothing;
//! `repair` takes both out and joins them again (three voting etcd members, every Node
//! back), and `check` exits 0 again.
//! Skips, saying why, where namespaces cannot be made (not root, tools missing).

mod support;

use std::time::{Duration, Instant};

use support::*;

fn skip() -> bool {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return true;
    }
    false
}

/// Waits until nothing answers on `addr:port` in `h`'s namespace.
fn wait_closed(h: &TestHost, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = std::process::Command::new("ip")
            .args(["netns", "exec", &h.netns, "ss", "-ltn"])
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&o.stdout).contains(&format!("{}:{port}", h.addr)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "port {port} of {} stays open",
            h.node
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn host_of<'a>(report: &'a serde_json::Value, host: &str) -> &'a serde_json::Value {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host)
        .unwrap_or_else(|| panic!("{host} in {report:#}"))
}

fn failed_checks(report: &serde_json::Value, host: &str) -> Vec<String> {
    host_of(report, host)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| {
            format!(
                "{}: {}",
                c["name"].as_str().unwrap(),
                c["detail"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn check_finds_a_broken_worker_and_control_plane_and_repair_fixes_both() {
    if skip() {
        return;
    }
    let mut net = Net::new().unwrap();
    let cp1 = net.host(0, "cp-1", true).unwrap();
    let cp2 = net.host(1, "cp-2", true).unwrap();
    let cp3 = net.host(2, "cp-3", true).unwrap();
    let w1 = net.host(3, "w-1", false).unwrap();
    let endpoint = format!("{}:6443", cp1.addr);
    let file = cluster_file(
        &net,
        &[
            (&cp1, "control-plane"),
            (&cp2, "control-plane"),
            (&cp3, "control-plane"),
            (&w1, "worker"),
        ],
        Some(&endpoint),
    );
    let file = file.to_str().unwrap();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");

    // Healthy: every check passes, in text and JSON.
    let (ok, out) = net.kubeadm_cluster(&["check", "-f", file]);
    assert!(ok, "{out}");
    assert!(out.contains("3 of 3 voting members healthy"), "{out}");
    let (ok, json) = check_json(&net, file);
    assert!(ok, "{json:#}");
    for h in ["cp-1", "cp-2", "cp-3", "w-1"] {
        assert!(failed_checks(&json, h).is_empty(), "{h}: {json:#}");
    }
    let names: Vec<&str> = host_of(&json, "cp-2")["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ssh", "kubelet", "node", "files", "control-plane", "etcd"]
    );

    // The worker loses its kubelet.conf; cp-3's etcd its data.
    std::fs::remove_file(w1.file("/etc/kubernetes/kubelet.conf")).unwrap();
    let manifest = cp3.file("/etc/kubernetes/manifests/etcd.yaml");
    let aside = cp3.dir.join("etcd.yaml");
    std::fs::rename(&manifest, &aside).unwrap();
    wait_closed(&cp3, 2379);
    let data = cp3.file("/var/lib/etcd");
    for e in std::fs::read_dir(&data).unwrap() {
        std::fs::remove_dir_all(e.unwrap().path()).unwrap();
    }
    std::fs::rename(&aside, &manifest).unwrap();

    // check names both, with the reason, and exits 1.
    let deadline = Instant::now() + Duration::from_secs(60);
    let json = loop {
        let (ok, json) = check_json(&net, file);
        if !ok && !failed_checks(&json, "cp-3").is_empty() {
            break json;
        }
        assert!(
            Instant::now() < deadline,
            "cp-3's etcd still looks healthy:\n{json:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let w = failed_checks(&json, "w-1");
    assert!(
        w.iter()
            .any(|c| c == "files: /etc/kubernetes/kubelet.conf is missing"),
        "{w:?}"
    );
    let c3 = failed_checks(&json, "cp-3");
    assert!(
        c3.iter()
            .any(|c| c.starts_with("etcd: member ") && c.contains("is not healthy")),
        "{c3:?}"
    );
    assert!(failed_checks(&json, "cp-1").is_empty(), "{json:#}");
    assert!(failed_checks(&json, "cp-2").is_empty(), "{json:#}");
    assert_eq!(json["etcdQuorum"]["voting"], 3, "{json:#}");
    assert_eq!(json["etcdQuorum"]["healthy"], 2, "{json:#}");
    let (ok, out) = net.kubeadm_cluster(&["check", "-f", file]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("w-1 files FAILED: /etc/kubernetes/kubelet.conf is missing"),
        "{out}"
    );

    // repair --dry-run: the plan, and nothing changes on any host.
    let before: Vec<_> = [&cp1, &cp2, &cp3, &w1]
        .iter()
        .map(|h| files_of(h))
        .collect();
    let (ok, out) = net.kubeadm_cluster(&["repair", "--dry-run", "-f", file]);
    assert!(ok, "{out}");
    assert!(out.contains(" 1. rejoin w-1: "), "{out}");
    assert!(out.contains(" 2. rejoin cp-3: "), "{out}");
    assert!(
        out.contains("is removed through a healthy member first"),
        "{out}"
    );
    let after: Vec<_> = [&cp1, &cp2, &cp3, &w1]
        .iter()
        .map(|h| files_of(h))
        .collect();
    assert!(before == after, "repair --dry-run changed a host");
    assert_eq!(etcd_members(&cp1).len(), 3);

    // Without a terminal to confirm on, repair stops before changing anything.
    let (ok, out) = net.kubeadm_cluster(&["repair", "-f", file]);
    assert!(!ok, "{out}");
    assert!(out.contains("pass --yes"), "{out}");

    // repair: both taken out and joined again.
    let (ok, out) = net.kubeadm_cluster(&["repair", "--yes", "-f", file]);
    assert!(
        ok,
        "{out}\netcd of cp-3:\n{}",
        std::fs::read_to_string(cp3.dir.join("etcd.log")).unwrap_or_default()
    );
    assert!(out.contains("[cp-3] removing its etcd member"), "{out}");
    assert!(
        out.find("[w-1] kubeadm reset -f").unwrap() < out.find("[cp-3] kubeadm reset -f").unwrap(),
        "the worker first, then the control plane:\n{out}"
    );
    let members = etcd_members(&cp1);
    assert_eq!(members.len(), 3, "{members:?}");
    assert!(
        members
            .iter()
            .all(|m| m.contains("started") && m.contains("false")),
        "three started voting members: {members:?}"
    );
    assert!(w1.file("/etc/kubernetes/kubelet.conf").exists());
    assert_eq!(nodes_of(&cp1), ["cp-1", "cp-2", "cp-3", "w-1"]);

    // Healthy again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, json) = check_json(&net, file);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "still unhealthy:\n{json:#}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // apply --repair on a healthy cluster: nothing to repair, every host unchanged.
    let (ok, out) = net.kubeadm_cluster(&["apply", "--repair", "--yes", "-f", file]);
    assert!(ok, "{out}");
    assert!(
        out.contains("every host is healthy: nothing to repair"),
        "{out}"
    );
    for h in ["cp-1", "cp-2", "cp-3", "w-1"] {
        assert_eq!(result_of(&out, h), Some("unchanged"), "{out}");
    }
}

fn check_json(net: &Net, file: &str) -> (bool, serde_json::Value) {
    let o = net.operator(
        env!("CARGO_BIN_EXE_kubeadm-cluster"),
        &["check", "-o", "json", "-f", file],
    );
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "check -o json printed no JSON ({e}):\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.success(), v)
}

//! The rolling upgrade, on one cluster of two control planes and two workers over SSH,
//! made at v1.36.4: a downgrade and a skipped minor are refused with nothing changed; the
//! upgrade to v1.37.1 takes the first control plane (`kubeadm upgrade apply`), then the
//! other, then the workers one at a time, each cordoned, upgraded and uncordoned before
//! the next; a worker whose kubelet hook fails stops the run there, named with the step,
//! its Node cordoned and the other worker untouched; the rerun finishes the upgrade.
//! The simulated kubelet reports the version of the file its package would install
//! (`/usr/local/bin/kubelet`, which the hook rewrites) once `systemctl restart kubelet`
//! (a stand-in on each host) asks it to restart.
//! Skips, saying why, where namespaces cannot be made (not root, tools missing).

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use support::*;

const OLD: &str = "v1.36.4";
const NEW: &str = "v1.37.1";

/// The kubelet "package" of a host at `version`, and its `systemctl`: a kubelet restart
/// asks the node simulator to restart its kubelet (other requests fail, as on a machine
/// without systemd).
fn install_kubelet(h: &TestHost, version: &str) {
    let bin = h.root().join("usr/local/bin");
    std::fs::write(bin.join("kubelet"), format!("Kubernetes {version}\n")).unwrap();
    let systemctl = bin.join("systemctl");
    std::fs::write(
        &systemctl,
        format!(
            "#!/bin/sh\nif [ \"$*\" = 'restart kubelet' ]; then : > /{}; exit 0; fi\necho \"System has not been booted with systemd as init system (PID 1). Can't operate.\" >&2\nexit 1\n",
            nodesim::RESTART_REQUEST
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The file for the four hosts at `version`, with the upgrade's configuration and hook.
fn file_at(net: &Net, hosts: &[(&TestHost, &str)], endpoint: &str, version: &str) -> String {
    let path = cluster_file(net, hosts, Some(endpoint));
    let text = std::fs::read_to_string(&path).unwrap();
    let old = format!("  kubernetesVersion: {KUBELET_VERSION}\n");
    assert!(text.contains(&old));
    let mut text = text.replace(&old, &format!("  kubernetesVersion: {version}\n"));
    // The images are on the hosts already (no registry here).
    text.push_str(
        "  ---
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: UpgradeConfiguration
  apply:
    imagePullPolicy: Never
  node:
    imagePullPolicy: Never
hooks:
  kubeletUpgrade: |
    if [ -e /run/no-kubelet-package ]; then
      echo \"E: Version '${KUBERNETES_VERSION#v}-1.1' for 'kubelet' was not found\" >&2
      exit 100
    fi
    printf 'Kubernetes %s\\n' \"$KUBERNETES_VERSION\" > /usr/local/bin/kubelet
    echo \"kubelet $KUBERNETES_VERSION installed on $NODE_NAME\"
nodeReadyTimeout: 30s
",
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn object_of(cp: &TestHost, plural: &str, ns: &str, name: &str) -> serde_json::Value {
    cp.sim.as_ref().unwrap().with_server(|s| {
        let r = testapiserver::resources::find("", "v1", plural).unwrap();
        s.unwrap()
            .state()
            .store
            .get(r, ns, name)
            .unwrap_or_else(|e| panic!("{plural} {ns}/{name}: {e:?}"))
    })
}

fn kubelet_version(cp: &TestHost, node: &str) -> String {
    object_of(cp, "nodes", "", node)["status"]["nodeInfo"]["kubeletVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn cordoned(cp: &TestHost, node: &str) -> bool {
    object_of(cp, "nodes", "", node)["spec"]["unschedulable"] == true
}

/// The image of `component`'s mirror Pod on `node`.
fn mirror_image(cp: &TestHost, component: &str, node: &str) -> String {
    object_of(cp, "pods", "kube-system", &format!("{component}-{node}"))["spec"]["containers"][0]
        ["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Every file of the hosts but etcd's data (which the running etcd keeps writing) and the
/// directory kubeadm-cluster passes its configuration files through (left empty).
fn host_files(hosts: &[&TestHost]) -> Vec<(PathBuf, String)> {
    hosts
        .iter()
        .flat_map(|h| files_of(h))
        .filter(|(p, _)| {
            let p = p.to_string_lossy();
            !p.contains("/var/lib/etcd") && !p.ends_with("/run/kubeadm-cluster")
        })
        .collect()
}

/// What the job controller and a kubelet do for the Job of `kubeadm upgrade apply`'s
/// health check (a pause container run to completion; the test API server runs no job
/// controller): each Job of kube-system in `cp`'s API server is marked Complete, until
/// `stop`.
fn complete_jobs(cp: &TestHost, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        cp.sim.as_ref().unwrap().with_server(|server| {
            let Some(server) = server else { return };
            let store = &server.state().store;
            let jobs = testapiserver::resources::find("batch", "v1", "jobs").unwrap();
            for mut job in store.list(jobs, Some("kube-system")).0 {
                if job["status"]["conditions"].is_array() {
                    continue;
                }
                let name = job["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                job["status"] = serde_json::json!({
                    "succeeded": 1,
                    "conditions": [{"type": "Complete", "status": "True"}],
                });
                let _ = store.update(jobs, "kube-system", &name, job);
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Sets its flag when dropped (also when a failed assertion unwinds).
struct Stop<'a>(&'a AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The position of the first line of `out` holding `what`.
fn line_of(out: &str, what: &str) -> usize {
    out.lines()
        .position(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line {what:?} in:\n{out}"))
}

#[test]
fn a_cluster_is_upgraded_one_node_at_a_time_and_a_rerun_finishes_what_a_failure_stopped() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut net = Net::new().unwrap();
    let cp1 = net.host(0, "cp-1", true).unwrap();
    let cp2 = net.host(1, "cp-2", true).unwrap();
    let w1 = net.host(2, "w-1", false).unwrap();
    let w2 = net.host(3, "w-2", false).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| complete_jobs(&cp1, &stop));
        let _stop = Stop(&stop);
        scenario(&net, &cp1, &cp2, &w1, &w2);
    });
}

fn scenario(net: &Net, cp1: &TestHost, cp2: &TestHost, w1: &TestHost, w2: &TestHost) {
    let all = [cp1, cp2, w1, w2];
    for h in all {
        install_kubelet(h, OLD);
    }
    let endpoint = format!("{}:6443", cp1.addr);
    let hosts = [
        (cp1, "control-plane"),
        (cp2, "control-plane"),
        (w1, "worker"),
        (w2, "worker"),
    ];

    // The cluster at v1.36.4.
    let file = file_at(net, &hosts, &endpoint, OLD);
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(ok, "{out}");
    for h in all {
        assert_eq!(kubelet_version(cp1, &h.node), OLD);
    }
    assert!(mirror_image(cp1, "kube-apiserver", "cp-2").ends_with(&format!(":{OLD}")));

    // A downgrade, and a skipped minor, are refused with nothing changed.
    let before = host_files(&all);
    let file = file_at(net, &hosts, &endpoint, "v1.36.3");
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("the file's kubernetesVersion v1.36.3 is older than what the cluster runs (the API server on cp-1 runs v1.36.4"),
        "{out}"
    );
    assert!(out.contains("kubeadm-cluster does not downgrade"), "{out}");
    assert_eq!(result_of(&out, "cp-1"), Some("FAILED"), "{out}");
    assert_eq!(result_of(&out, "w-2"), Some("skipped"), "{out}");
    assert!(
        out.contains("w-2 skipped: the upgrade was refused; nothing was changed"),
        "{out}"
    );
    let file = file_at(net, &hosts, &endpoint, "v1.38.0");
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("kubeadm upgrade plan v1.38.0: kubeadm's version skew policy refuses the upgrade: Specified version to upgrade to \"v1.38.0\" is too high; kubeadm can upgrade only 1 minor version at a time"),
        "{out}"
    );
    assert!(
        out.contains("the upgrade to v1.38.0 was refused on the first control plane cp-1; nothing was changed"),
        "{out}"
    );
    assert!(!out.contains("] upgrade: "), "{out}");
    let after = host_files(&all);
    let changed: Vec<_> = after.iter().filter(|f| !before.contains(f)).collect();
    assert!(
        changed.is_empty() && after.len() == before.len(),
        "a refused upgrade changed a host: {changed:?}"
    );
    for h in all {
        assert!(!cordoned(cp1, &h.node), "{}", h.node);
    }

    // The upgrade, with w-1's package missing: the run stops at w-1's hook.
    std::fs::write(w1.root().join("run/no-kubelet-package"), "").unwrap();
    let file = file_at(net, &hosts, &endpoint, NEW);
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", &file]);
    assert!(ok, "{out}");
    for h in all {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(h.node.as_str()))
            .unwrap_or_else(|| panic!("{} in:\n{out}", h.node));
        assert!(line.contains(" upgrade "), "{line}");
    }
    assert!(
        out.contains(&format!("kubeadm upgrade apply {NEW}")),
        "{out}"
    );
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(!ok, "{out}");
    assert_eq!(result_of(&out, "cp-1"), Some("upgraded"), "{out}");
    assert_eq!(result_of(&out, "cp-2"), Some("upgraded"), "{out}");
    assert_eq!(result_of(&out, "w-1"), Some("FAILED"), "{out}");
    assert_eq!(result_of(&out, "w-2"), Some("skipped"), "{out}");
    assert!(
        out.contains(&format!(
            "[w-1] failed: upgrade to {NEW}: hooks.kubeletUpgrade failed: exited with 100:"
        )),
        "{out}"
    );
    assert!(
        out.contains("E: Version '1.37.1-1.1' for 'kubelet' was not found"),
        "{out}"
    );
    assert!(out.contains("Node w-1 stays cordoned"), "{out}");
    // The order: the check, then each node cordoned, upgraded and uncordoned before the
    // next is touched.
    let check = line_of(&out, &format!("[cp-1] kubeadm upgrade plan {NEW}"));
    let mut last = check;
    for (node, command) in [
        ("cp-1", format!("kubeadm upgrade apply {NEW} -y")),
        ("cp-2", "kubeadm upgrade node".to_string()),
    ] {
        let steps = [
            line_of(&out, &format!("[{node}] upgrade: cordoning Node {node}")),
            line_of(&out, &format!("[{node}] upgrade: draining Node {node}")),
            line_of(&out, &format!("[{node}] upgrade: {command}")),
            line_of(
                &out,
                &format!("[{node}] upgrade: running hooks.kubeletUpgrade"),
            ),
            line_of(
                &out,
                &format!("[{node}]   kubelet {NEW} installed on {node}"),
            ),
            line_of(
                &out,
                &format!("[{node}] upgrade: systemctl restart kubelet"),
            ),
            line_of(&out, &format!("[{node}] upgrade: uncordoning Node {node}")),
        ];
        for s in steps {
            assert!(s > last, "{node}'s steps out of order:\n{out}");
            last = s;
        }
    }
    assert!(
        line_of(&out, "[w-1] upgrade: cordoning Node w-1") > last,
        "{out}"
    );
    assert!(
        line_of(&out, "[w-1] upgrade: draining Node w-1")
            < line_of(&out, "[w-1] upgrade: kubeadm upgrade node"),
        "{out}"
    );
    assert!(
        line_of(&out, "[w-1] upgrade: kubeadm upgrade node")
            < line_of(&out, "[w-1] upgrade: running hooks.kubeletUpgrade"),
        "{out}"
    );
    assert!(!out.contains("[w-2] upgrade:"), "{out}");
    assert!(cordoned(cp1, "w-1") && !cordoned(cp1, "w-2"));
    assert_eq!(kubelet_version(cp1, "w-1"), OLD);
    assert_eq!(kubelet_version(cp1, "w-2"), OLD);
    assert!(!w2.file("/etc/kubernetes/tmp").exists(), "w-2 was touched");
    for cp in ["cp-1", "cp-2"] {
        assert_eq!(kubelet_version(cp1, cp), NEW);
        assert!(!cordoned(cp1, cp), "{cp}");
    }

    // The package is there again: the rerun upgrades the workers and nothing else.
    std::fs::remove_file(w1.root().join("run/no-kubelet-package")).unwrap();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", &file]);
    assert!(ok, "{out}");
    assert!(!out.contains("[cp-1] upgrade:"), "{out}");
    assert_eq!(result_of(&out, "cp-1"), Some("unchanged"), "{out}");
    assert_eq!(result_of(&out, "cp-2"), Some("unchanged"), "{out}");
    assert_eq!(result_of(&out, "w-1"), Some("upgraded"), "{out}");
    assert_eq!(result_of(&out, "w-2"), Some("upgraded"), "{out}");
    assert!(
        line_of(&out, "[w-1] upgrade: uncordoning Node w-1")
            < line_of(&out, "[w-2] upgrade: cordoning Node w-2"),
        "the workers went at once with maxUnavailable 1:\n{out}"
    );

    // All at the new version: the mirror Pods, the cluster's configuration, the Nodes.
    for cp in ["cp-1", "cp-2"] {
        for component in [
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            let image = mirror_image(cp1, component, cp);
            assert!(
                image.ends_with(&format!(":{NEW}")),
                "{component} on {cp}: {image}"
            );
        }
    }
    let config = object_of(cp1, "configmaps", "kube-system", "kubeadm-config");
    let cc = config["data"]["ClusterConfiguration"].as_str().unwrap();
    assert!(cc.contains(&format!("kubernetesVersion: {NEW}")), "{cc}");
    let kubelet_config = object_of(cp1, "configmaps", "kube-system", "kubelet-config");
    assert!(
        kubelet_config["data"]["kubelet"].is_string(),
        "{kubelet_config}"
    );
    for h in all {
        assert_eq!(kubelet_version(cp1, &h.node), NEW, "{}", h.node);
        assert!(!cordoned(cp1, &h.node), "{}", h.node);
        let node = object_of(cp1, "nodes", "", &h.node);
        assert!(
            node["metadata"]["annotations"]
                .get("kubeadm-rs.io/upgrade-cordoned")
                .is_none(),
            "{node}"
        );
        // `kubeadm upgrade` rewrote the node's kubelet configuration from the cluster's,
        // keeping the one before.
        let tmp = std::fs::read_dir(h.file("/etc/kubernetes/tmp")).unwrap();
        assert!(
            tmp.flatten().any(|e| e
                .file_name()
                .to_string_lossy()
                .starts_with("kubeadm-kubelet-config")),
            "{}",
            h.node
        );
    }
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", &file]);
    assert!(ok, "{out}");
    assert!(!out.contains(" upgrade "), "{out}");
}

//! The `corednsdeployment` and `kubeproxydaemonset` patch targets: `kubeadm init phase addon`
//! and `kubeadm upgrade apply phase addon` patch the CoreDNS Deployment and the kube-proxy
//! DaemonSet they send to the API server (test API server, a control plane made by
//! `kubeadm init`), with each patch type, and say so once per patch.

mod support;

use serde_json::Value;
use support::*;
use testapiserver::resources;

fn objects(cp: &ControlPlane) -> (Value, Value) {
    let store = &cp.server.state().store;
    let deployments = resources::find("apps", "v1", "deployments").unwrap();
    let daemon_sets = resources::find("apps", "v1", "daemonsets").unwrap();
    (
        store.get(deployments, "kube-system", "coredns").unwrap(),
        store.get(daemon_sets, "kube-system", "kube-proxy").unwrap(),
    )
}

fn write(root: &std::path::Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn applied(out: &str, target: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("[patches] Applied patch") && l.contains(target))
        .map(str::to_string)
        .collect()
}

#[test]
fn addon_patches_reach_the_cluster_in_init_and_upgrade() {
    let cp = control_plane();
    let r = cp.root.path();
    let (dns, proxy) = objects(&cp);
    assert_eq!(dns["spec"]["replicas"], 2);
    assert!(proxy["metadata"]["labels"].get("patched").is_none());

    // init: the configuration's patch directory.
    write(
        r,
        "patches/corednsdeployment+merge.yaml",
        "metadata:\n  labels:\n    patched: init\nspec:\n  replicas: 3\n",
    );
    write(
        r,
        "patches/kubeproxydaemonset.yaml",
        "spec:\n  template:\n    spec:\n      containers:\n      - name: kube-proxy\n        env:\n        - name: EXTRA\n          value: \"1\"\n",
    );
    write(
        r,
        "patches/kubeproxydaemonset1+json.json",
        r#"[{"op": "add", "path": "/metadata/labels/patched", "value": "init-json"}]"#,
    );
    let config = std::fs::read_to_string(r.join("kubeadm.yaml"))
        .unwrap()
        .replacen(
            "kind: InitConfiguration\n",
            "kind: InitConfiguration\npatches:\n  directory: /patches\n",
            1,
        );
    write(r, "kubeadm-patched.yaml", &config);
    let out = kubeadm_ok(
        r,
        &[
            "init",
            "phase",
            "addon",
            "all",
            "--config",
            "/kubeadm-patched.yaml",
        ],
    );
    assert_eq!(
        applied(&out, "\"corednsdeployment\""),
        ["[patches] Applied patch of type \"application/merge-patch+json\" to target \"corednsdeployment\""],
        "{out}"
    );
    assert_eq!(applied(&out, "\"kubeproxydaemonset\"").len(), 2, "{out}");
    let (dns, proxy) = objects(&cp);
    assert_eq!(dns["spec"]["replicas"], 3);
    assert_eq!(dns["metadata"]["labels"]["patched"], "init");
    assert_eq!(dns["metadata"]["labels"]["k8s-app"], "kube-dns");
    assert_eq!(proxy["metadata"]["labels"]["patched"], "init-json");
    let env = &proxy["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["name"], "NODE_NAME", "{env}");
    assert_eq!(env[1]["name"], "EXTRA", "{env}");

    // upgrade: `--patches`, another directory.
    write(
        r,
        "patches-upgrade/corednsdeployment+json.yaml",
        "- op: replace\n  path: /spec/replicas\n  value: 4\n",
    );
    write(
        r,
        "patches-upgrade/kubeproxydaemonset+merge.json",
        r#"{"metadata": {"labels": {"patched": "upgrade"}}}"#,
    );
    let out = kubeadm_ok(
        r,
        &[
            "upgrade",
            "apply",
            "phase",
            "addon",
            "all",
            "v1.37.1",
            "--patches",
            "/patches-upgrade",
        ],
    );
    assert_eq!(
        applied(&out, "\"corednsdeployment\""),
        ["[patches] Applied patch of type \"application/json-patch+json\" to target \"corednsdeployment\""],
        "{out}"
    );
    assert_eq!(
        applied(&out, "\"kubeproxydaemonset\""),
        ["[patches] Applied patch of type \"application/merge-patch+json\" to target \"kubeproxydaemonset\""],
        "{out}"
    );
    let (dns, proxy) = objects(&cp);
    assert_eq!(dns["spec"]["replicas"], 4);
    assert_eq!(proxy["metadata"]["labels"]["patched"], "upgrade");
    // The init patches are not in this directory: the DaemonSet is kubeadm's again.
    let env = &proxy["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env.as_array().unwrap().len(), 1, "{env}");
}

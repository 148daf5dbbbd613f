//! `kubeadm upgrade plan` on a v1.36 cluster made by `kubeadm init` on the test API
//! server, whose node reports its static Pods as mirror Pods: upstream's tables, the
//! `UpgradePlan` document, and the skew warnings for a target too far away.

mod support;

use std::net::TcpListener;

use support::*;

fn plan(cp: &ControlPlane, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["upgrade", "plan"];
    all.extend_from_slice(args);
    let o = kubeadm_in(None, cp.root.path(), &all);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn plan_on_a_v1_36_cluster_offers_the_patch_and_v1_37() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cp = control_plane_of_version("127.0.0.1", port, None, false, "v1.36.2");
    let r = cp.root.path().to_path_buf();

    // Before the kubelet has reported anything, the cluster's version cannot be read.
    let (ok, out, err) = plan(&cp, &[]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("no kube-apiserver Pod in kube-system"),
        "{err}"
    );

    report_static_pods(&cp, &r, "cp-1", "v1.36.2");
    let (ok, out, err) = plan(&cp, &[]);
    assert!(ok, "{out}{err}");
    for line in [
        "[upgrade/versions] Cluster version: v1.36.2",
        "[upgrade/versions] kubeadm version: v1.37.1",
        "[upgrade/versions] Target version: v1.37.1",
        "[upgrade/versions] Latest version in the v1.36 series: v1.36.4",
        "Upgrade to the latest version in the v1.36 series:",
        "Upgrade to the latest stable version:",
        "kubelet     cp-1      v1.36.2   v1.36.4",
        "kube-apiserver            cp-1      v1.36.2    v1.37.1",
        "etcd                      cp-1      3.6.11-0   3.7.0-0",
        "\tkubeadm upgrade apply v1.36.4",
        "\tkubeadm upgrade apply v1.37.1",
        "kubelet.config.k8s.io     v1beta1           v1beta1             no",
        "kubeproxy.config.k8s.io   v1alpha1          v1alpha1            no",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }

    // The same plan as upstream's UpgradePlan document.
    let (ok, out, err) = plan(&cp, &["-o", "json"]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["apiVersion"], "output.kubeadm.k8s.io/v1alpha3");
    assert_eq!(doc["kind"], "UpgradePlan");
    let ups = doc["availableUpgrades"].as_array().unwrap();
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[1]["description"], "stable version");
    let comps = ups[1]["components"].as_array().unwrap();
    assert!(comps.iter().any(|c| c["name"] == "kube-scheduler"
        && c["nodeName"] == "cp-1"
        && c["currentVersion"] == "v1.36.2"
        && c["newVersion"] == "v1.37.1"));
    assert!(comps
        .iter()
        .any(|c| c["name"] == "CoreDNS" && c.get("nodeName").is_none()));
    assert_eq!(doc["configVersions"].as_array().unwrap().len(), 2);
    let (ok, out, _) = plan(&cp, &["-o", "yaml"]);
    assert!(ok);
    let y: serde_json::Value = serde_yaml_ng::from_str(&out).unwrap();
    assert_eq!(y, doc);

    // --print-config shows the ClusterConfiguration the cluster holds, tab-indented.
    let (ok, out, err) = plan(&cp, &["--print-config"]);
    assert!(ok, "{out}{err}");
    let shown = out
        .split("[upgrade/config] Configuration used:\n")
        .nth(1)
        .expect("the configuration is printed");
    assert!(shown.contains("\tkind: ClusterConfiguration\n"), "{out}");
    assert!(shown.contains("\tkubernetesVersion: v1.36.2\n"), "{out}");

    // A target two minors away: what apply would refuse, said now with upstream's words.
    let (ok, out, err) = plan(&cp, &["v1.38.0"]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("Specified version to upgrade to \"v1.38.0\" is too high; kubeadm can upgrade only 1 minor version at a time"), "{err}");
    assert!(out.contains("\tkubeadm upgrade apply v1.38.0"), "{out}");

    // Once on this release, nothing to do.
    report_static_pods(&cp, &r, "cp-1", "v1.37.1");
    for f in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        let p = r.join(format!("etc/kubernetes/manifests/{f}.yaml"));
        let t = std::fs::read_to_string(&p)
            .unwrap()
            .replace("v1.36.2", "v1.37.1");
        std::fs::write(&p, t).unwrap();
    }
    report_static_pods(&cp, &r, "cp-1", "v1.37.1");
    let (ok, out, _) = plan(&cp, &[]);
    assert!(ok);
    assert!(out.contains("Awesome, you're up-to-date! Enjoy!"), "{out}");
}

#[test]
fn diff_shows_what_the_upgrade_would_change_and_writes_nothing() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cp = control_plane_of_version("127.0.0.1", port, None, false, "v1.36.2");
    let r = cp.root.path();
    let manifests = r.join("etc/kubernetes/manifests");
    let before: Vec<Vec<u8>> = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ]
    .iter()
    .map(|c| std::fs::read(manifests.join(format!("{c}.yaml"))).unwrap())
    .collect();

    // At the cluster's own version, the manifests are what kubeadm would write: no diff.
    let o = kubeadm_in(None, r, &["upgrade", "diff"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(out, "", "no change at the same version");

    let o = kubeadm_in(None, r, &["upgrade", "diff", "v1.37.1", "-c", "1"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for c in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        assert!(
            out.contains(&format!(
                "--- /etc/kubernetes/manifests/{c}.yaml\n+++ new manifest\n"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("-    image: registry.k8s.io/{c}:v1.36.2\n+    image: registry.k8s.io/{c}:v1.37.1\n")),
            "{out}"
        );
    }
    let after: Vec<Vec<u8>> = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ]
    .iter()
    .map(|c| std::fs::read(manifests.join(format!("{c}.yaml"))).unwrap())
    .collect();
    assert_eq!(before, after, "diff writes nothing");
}

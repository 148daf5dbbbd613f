//! `kubeadm upgrade plan` on a v1.36 cluster made by `kubeadm init` on the test API
//! server, whose node reports its static Pods as mirror Pods: upstream's tables, the
//! `UpgradePlan` document, and the skew warnings for a target too far away. The `stable`
//! and `stable-1.X` channels come from a local stand-in for upstream's release server.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;

use support::*;

/// A stand-in for upstream's release server answering `/<label>.txt` from `labels`
/// (404 for any other path); returns its base URL.
fn release_server(labels: &'static [(&'static str, &'static str)]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = labels
                .iter()
                .find(|(label, _)| path == format!("/{label}.txt"))
                .map_or(("404 Not Found", "not found"), |(_, v)| ("200 OK", *v));
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// The release server's answers on the day of these tests.
const LABELS: &[(&str, &str)] = &[
    ("stable", "v1.37.1\n"),
    ("stable-1.36", "v1.36.4\n"),
    ("stable-1.37", "v1.37.1\n"),
];

/// An address where no release server answers.
const UNREACHABLE: &str = "http://127.0.0.1:1/release";

fn plan_with(release_url: &str, cp: &ControlPlane, args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(cp.root.path())
        .args(["upgrade", "plan"])
        .args(args)
        .env("NO_COLOR", "1")
        .env("KUBEADM_RS_RELEASE_URL", release_url)
        .output()
        .unwrap();
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
    let releases = release_server(LABELS);
    let plan = |cp: &ControlPlane, args: &[&str]| plan_with(&releases, cp, args);

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

    // The channels are the release server's: a patch newer than this build knows of is
    // offered.
    let newer = release_server(&[("stable", "v1.37.1"), ("stable-1.36", "v1.36.9")]);
    let (ok, out, err) = plan_with(&newer, &cp, &[]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("[upgrade/versions] Latest version in the v1.36 series: v1.36.9"),
        "{out}"
    );
    assert!(out.contains("\tkubeadm upgrade apply v1.36.9"), "{out}");

    // No release server: upstream's warnings, and every channel reads as this kubeadm's
    // own version, the v1.36 series' included (as upstream's KubernetesReleaseVersion
    // falls back), so the one upgrade offered is to v1.37.1.
    let (ok, out, err) = plan_with(UNREACHABLE, &cp, &[]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        err.matches("could not fetch a Kubernetes version from the internet: ")
            .count(),
        2,
        "{err}"
    );
    assert!(
        err.contains("falling back to the local client version: v1.37.1"),
        "{err}"
    );
    for line in [
        "[upgrade/versions] Target version: v1.37.1",
        "[upgrade/versions] Latest version in the v1.36 series: v1.37.1",
        "Upgrade to the latest version in the v1.36 series:",
        "\tkubeadm upgrade apply v1.37.1",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(
        !out.contains("Upgrade to the latest stable version:"),
        "{out}"
    );

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

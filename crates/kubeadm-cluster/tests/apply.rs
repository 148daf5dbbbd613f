//! kubeadm-cluster against test hosts reached over real SSH: a cluster of one control
//! plane and two workers is applied (one worker unreachable at first), applied again,
//! and reset; a cluster of two control planes and a worker holds both etcd members and
//! lists its three Nodes through the fetched kubeconfig; `plan` shows init and joins on
//! fresh hosts and every host unchanged once applied, and changes nothing on any host;
//! the file's manifests are applied server-side after init and again, changed, on a
//! later apply.
//! Skips, saying why, where namespaces cannot be made (not root, tools missing).

mod support;

use support::*;

fn skip() -> bool {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return true;
    }
    false
}

fn assert_result(out: &str, node: &str, want: &str) {
    assert_eq!(
        result_of(out, node),
        Some(want),
        "{node} should be {want}:\n{out}"
    );
}

#[test]
fn one_control_plane_and_two_workers_apply_reapply_and_reset() {
    if skip() {
        return;
    }
    let mut net = Net::new().unwrap();
    let cp = net.host(0, "cp-1", true).unwrap();
    let w1 = net.host(1, "w-1", false).unwrap();
    let mut w2 = net.host(2, "w-2", false).unwrap();
    let file = cluster_file(
        &net,
        &[(&cp, "control-plane"), (&w1, "worker"), (&w2, "worker")],
        None,
    );
    let file = file.to_str().unwrap();

    // Without a terminal to confirm the plan on, apply shows it and stops unless --yes.
    let (ok, out) = net.kubeadm_cluster(&["apply", "-f", file]);
    assert!(!ok, "{out}");
    assert!(out.contains("STEP  HOST"), "the plan is shown:\n{out}");
    assert!(
        out.contains("there is no terminal to confirm it on: pass --yes"),
        "{out}"
    );
    assert!(
        !cp.file("/usr/local/bin/kubeadm").exists(),
        "nothing was installed"
    );

    // A host failing preflight (w-1 holds a stray bootstrap kubeconfig) stops the run
    // before anything changes.
    let stray = w1.file("/etc/kubernetes/bootstrap-kubelet.conf");
    std::fs::write(&stray, "not a kubeconfig\n").unwrap();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(!ok, "{out}");
    assert_result(&out, "w-1", "FAILED");
    assert_result(&out, "cp-1", "skipped");
    assert_result(&out, "w-2", "skipped");
    assert!(
        out.contains("bootstrap-kubelet.conf"),
        "the failing check is shown:\n{out}"
    );
    assert!(
        out.contains(
            "cp-1 skipped: the preflight checks of another host failed; nothing was changed"
        ),
        "{out}"
    );
    assert!(
        !cp.file("/etc/kubernetes/pki/ca.crt").exists(),
        "nothing was made"
    );
    std::fs::remove_file(&stray).unwrap();

    // w-2 cannot be reached: it fails, the others are built.
    w2.stop_sshd();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(!ok, "a failed host makes the run fail:\n{out}");
    assert_result(&out, "cp-1", "initialized");
    assert_result(&out, "w-1", "joined");
    assert_result(&out, "w-2", "FAILED");
    assert!(
        out.contains("w-2 failed: cannot connect over SSH to root@"),
        "{out}"
    );
    assert_eq!(nodes_of(&cp), ["cp-1", "w-1"]);

    // Every host has its files; secrets never shown.
    for f in [
        "admin.conf",
        "kubelet.conf",
        "manifests/kube-apiserver.yaml",
        "manifests/etcd.yaml",
        "pki/ca.key",
    ] {
        assert!(
            cp.file(&format!("/etc/kubernetes/{f}")).exists(),
            "cp-1 lacks {f}"
        );
    }
    assert!(w1.file("/etc/kubernetes/kubelet.conf").exists());
    assert!(w1.file("/var/lib/kubelet/config.yaml").exists());
    assert!(!w1.file("/etc/kubernetes/admin.conf").exists());
    assert_eq!(
        std::fs::read(cp.file("/etc/kubernetes/pki/ca.crt")).unwrap(),
        std::fs::read(w1.file("/etc/kubernetes/pki/ca.crt")).unwrap()
    );
    assert!(
        w1.file("/usr/local/bin/kubeadm").exists(),
        "kubeadm installed"
    );
    assert!(!w2.file("/etc/kubernetes/kubelet.conf").exists());
    // The token and certificate key in the run's configuration files reached no output,
    // and the files are gone from the hosts.
    assert!(
        !out.contains("certificateKey") && !out.contains("token:"),
        "{out}"
    );
    for h in [&cp, &w1] {
        let left: Vec<_> = std::fs::read_dir(h.file("/run/kubeadm-cluster"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "configuration files left on {}: {left:?}",
            h.node
        );
    }
    let secret = token_secret_of(&cp);
    assert!(
        !out.contains(&secret),
        "the token secret was printed:\n{out}"
    );

    // w-2 back, with what an interrupted join leaves (the cluster's CA): it joins, the
    // others are unchanged.
    std::fs::create_dir_all(w2.file("/etc/kubernetes/pki")).unwrap();
    std::fs::copy(
        cp.file("/etc/kubernetes/pki/ca.crt"),
        w2.file("/etc/kubernetes/pki/ca.crt"),
    )
    .unwrap();
    w2.start_sshd().unwrap();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");
    assert_result(&out, "cp-1", "unchanged");
    assert_result(&out, "w-1", "unchanged");
    assert_result(&out, "w-2", "joined");
    assert!(
        out.contains("[w-2] an unfinished join to this cluster: joining again"),
        "{out}"
    );
    assert_eq!(nodes_of(&cp), ["cp-1", "w-1", "w-2"]);
    assert!(!out.contains("kubeadm init"), "{out}");

    // Nothing left to do: every host unchanged, kubeadm not installed again.
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");
    for n in ["cp-1", "w-1", "w-2"] {
        assert_result(&out, n, "unchanged");
    }
    assert!(
        !out.contains("installed kubeadm") && !out.contains("kubeadm join"),
        "{out}"
    );

    // status sees the same.
    let (ok, out) = net.kubeadm_cluster(&["status", "-f", file]);
    assert!(ok, "{out}");
    assert_result(&out, "cp-1", "in-cluster");
    assert_result(&out, "w-2", "in-cluster");

    // reset: every host back to clean.
    let (ok, out) = net.kubeadm_cluster(&["reset", "-f", file]);
    assert!(
        !ok && out.contains("pass --yes"),
        "no terminal, no confirmation:\n{out}"
    );
    let (ok, out) = net.kubeadm_cluster(&["reset", "--yes", "-f", file]);
    assert!(ok, "{out}");
    let order: Vec<usize> = [
        "[w-1] kubeadm reset",
        "[w-2] kubeadm reset",
        "[cp-1] kubeadm reset",
    ]
    .iter()
    .map(|l| out.find(l).unwrap_or_else(|| panic!("{l} missing:\n{out}")))
    .collect();
    assert!(
        order[0] < order[2] && order[1] < order[2],
        "workers first:\n{out}"
    );
    for h in [&cp, &w1, &w2] {
        assert_result(&out, &h.node, "reset");
        for f in [
            "/etc/kubernetes/kubelet.conf",
            "/etc/kubernetes/pki/ca.crt",
            "/etc/kubernetes/manifests/etcd.yaml",
            "/etc/kubernetes/admin.conf",
        ] {
            assert!(!h.file(f).exists(), "{} still has {f}", h.node);
        }
        let etcd: Vec<_> = std::fs::read_dir(h.file("/var/lib/etcd"))
            .unwrap()
            .collect();
        assert!(etcd.is_empty(), "{} keeps etcd data", h.node);
    }
    let (ok, out) = net.kubeadm_cluster(&["reset", "--yes", "-f", file]);
    assert!(ok, "{out}");
    for n in ["cp-1", "w-1", "w-2"] {
        assert_result(&out, n, "unchanged");
    }
}

/// Runs `plan -o json`: whether it succeeded and the plan.
fn plan_json(net: &Net, file: &str) -> (bool, serde_json::Value) {
    let o = net.operator(
        env!("CARGO_BIN_EXE_kubeadm-cluster"),
        &["plan", "-o", "json", "-f", file],
    );
    let plan = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "plan -o json printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.success(), plan)
}

/// `(host, action, step)` of each host of a JSON plan, in the plan's order.
fn actions_of(plan: &serde_json::Value) -> Vec<(String, String, Option<u64>)> {
    plan["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host"].as_str().unwrap().to_string(),
                h["action"].as_str().unwrap().to_string(),
                h["step"].as_u64(),
            )
        })
        .collect()
}

#[test]
fn plan_shows_init_and_joins_then_all_unchanged_and_changes_nothing() {
    if skip() {
        return;
    }
    let mut net = Net::new().unwrap();
    let cp = net.host(0, "cp-1", true).unwrap();
    let w1 = net.host(1, "w-1", false).unwrap();
    let w2 = net.host(2, "w-2", false).unwrap();
    let hosts = [&cp, &w1, &w2];
    let file = cluster_file(
        &net,
        &[(&cp, "control-plane"), (&w1, "worker"), (&w2, "worker")],
        None,
    );
    let file = file.to_str().unwrap();

    // Fresh hosts: init on the first control plane, then both workers at once, kubeadm
    // installed everywhere first; nothing is changed.
    let before: Vec<_> = hosts.iter().map(|h| files_of(h)).collect();
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", file]);
    assert!(ok, "{out}");
    assert!(
        out.contains("the cluster does not exist yet: kubeadm init makes it on cp-1"),
        "{out}"
    );
    for line in [
        "1     cp-1  control-plane  init ",
        "2     w-1   worker         join ",
        "2     w-2   worker         join ",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(
        out.contains("kubeadm installed first at /usr/local/bin/kubeadm"),
        "{out}"
    );
    let (ok, plan) = plan_json(&net, file);
    assert!(ok, "{plan:#}");
    assert_eq!(plan["cluster"]["exists"], false);
    assert_eq!(
        actions_of(&plan),
        [
            ("cp-1".into(), "init".into(), Some(1)),
            ("w-1".into(), "join".into(), Some(2)),
            ("w-2".into(), "join".into(), Some(2)),
        ]
    );
    assert!(plan["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["installKubeadm"] == true));
    for (h, b) in hosts.iter().zip(&before) {
        assert_eq!(&files_of(h), b, "plan changed files of {}", h.node);
    }
    assert!(!cp.file("/usr/local/bin/kubeadm").exists());

    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");
    // apply showed the plan before acting.
    let shown = out
        .find("1     cp-1  control-plane  init ")
        .expect("the plan");
    assert!(shown < out.find("[cp-1] kubeadm init").unwrap(), "{out}");

    // Applied: every host unchanged, the Nodes and the control plane as the API shows
    // them; nothing is changed, on the hosts or in the cluster.
    let before: Vec<_> = hosts.iter().map(|h| files_of(h)).collect();
    let nodes_before = nodes_of(&cp);
    let (ok, plan) = plan_json(&net, file);
    assert!(ok, "{plan:#}");
    assert_eq!(plan["cluster"]["exists"], true);
    assert_eq!(plan["cluster"]["apiError"], serde_json::Value::Null);
    assert_eq!(
        actions_of(&plan),
        [
            ("cp-1".into(), "unchanged".into(), None),
            ("w-1".into(), "unchanged".into(), None),
            ("w-2".into(), "unchanged".into(), None),
        ]
    );
    for h in plan["hosts"].as_array().unwrap() {
        assert_eq!(h["installKubeadm"], false, "{h}");
        assert_eq!(h["node"]["kubeletVersion"], KUBELET_VERSION, "{h}");
        assert_eq!(h["node"]["ready"], true, "{h}");
    }
    assert_eq!(
        plan["cluster"]["controlPlane"],
        serde_json::json!([{"node": "cp-1", "version": KUBELET_VERSION}])
    );
    assert_eq!(
        plan["cluster"]["etcdMembers"][0]["name"], "cp-1",
        "{plan:#}"
    );
    assert_eq!(plan["otherNodes"], serde_json::json!([]));
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", file]);
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "-     w-2   worker         unchanged    Ready v1.37.1  already a node of this cluster"
        ),
        "{out}"
    );
    assert!(out.contains("    Nodes: 3, 3 Ready\n"), "{out}");
    assert!(out.contains("    etcd members: cp-1\n"), "{out}");
    for (h, b) in hosts.iter().zip(&before) {
        assert_eq!(&files_of(h), b, "plan changed files of {}", h.node);
    }
    assert_eq!(nodes_of(&cp), nodes_before);
    // Nothing to do: apply does not ask.
    let (ok, out) = net.kubeadm_cluster(&["apply", "-f", file]);
    assert!(ok, "{out}");
    for n in ["cp-1", "w-1", "w-2"] {
        assert_result(&out, n, "unchanged");
    }
}

/// The object `plural` `ns/name` in the API server of `cp` (`None` when absent).
fn object_of(cp: &TestHost, plural: &str, ns: &str, name: &str) -> Option<serde_json::Value> {
    cp.sim.as_ref().unwrap().with_server(|s| {
        let r = testapiserver::resources::find("", "v1", plural).unwrap();
        s.unwrap().state().store.get(r, ns, name).ok()
    })
}

#[test]
fn manifests_are_applied_after_init_and_updated_on_each_apply() {
    if skip() {
        return;
    }
    let mut net = Net::new().unwrap();
    let cp = net.host(0, "cp-1", true).unwrap();
    let file = cluster_file(&net, &[(&cp, "control-plane")], None);
    // The manifests: a directory beside the cluster file, named relative to it.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("manifests:\n- addons\n");
    std::fs::write(&file, text).unwrap();
    let addons = net.dir.path().join("addons");
    std::fs::create_dir(&addons).unwrap();
    std::fs::write(addons.join("README.txt"), "not a manifest\n").unwrap();
    let demo = addons.join("demo.yaml");
    let config_map = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: demo\ndata:\n{data}")
    };
    let namespace = "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n";
    std::fs::write(
        &demo,
        format!("{}{namespace}", config_map("  colour: blue\n")),
    )
    .unwrap();
    let file = file.to_str().unwrap();

    // The plan shows the manifests' step, after init: the Namespace first.
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", file]);
    assert!(ok, "{out}");
    assert!(
        out.contains("\nstep 2: the manifests, applied server-side (field manager kubeadm-cluster) through the admin.conf of cp-1; nothing is deleted:\n"),
        "{out}"
    );
    let ns_line = format!("  Namespace demo           {}:9\n", demo.display());
    let cm_line = format!("  ConfigMap demo/settings  {}:1\n", demo.display());
    assert!(out.contains(&format!("{ns_line}{cm_line}")), "{out}");
    let (ok, plan) = plan_json(&net, file);
    assert!(ok, "{plan:#}");
    assert_eq!(plan["manifests"]["step"], 2);
    assert_eq!(plan["manifests"]["objects"][1]["kind"], "ConfigMap");

    // Applied once the control plane is up.
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");
    let up = out.find("[cp-1] the cluster is initialized").expect("init");
    let applied = out
        .find("[manifests] applied ConfigMap demo/settings")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(up < applied, "{out}");
    assert!(out.contains("\nmanifests: 2 objects applied\n"), "{out}");
    assert!(object_of(&cp, "namespaces", "", "demo").is_some());
    let cm = object_of(&cp, "configmaps", "demo", "settings").expect("the ConfigMap");
    assert_eq!(cm["data"], serde_json::json!({"colour": "blue"}));
    let managers = cm["metadata"]["managedFields"].as_array().unwrap();
    assert!(
        managers
            .iter()
            .any(|m| m["manager"] == "kubeadm-cluster" && m["operation"] == "Apply"),
        "{managers:?}"
    );

    // The file changed: a second apply updates the ConfigMap, the host unchanged.
    std::fs::write(
        &demo,
        format!(
            "{}{namespace}",
            config_map("  colour: green\n  size: large\n")
        ),
    )
    .unwrap();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");
    assert_result(&out, "cp-1", "unchanged");
    let cm = object_of(&cp, "configmaps", "demo", "settings").unwrap();
    assert_eq!(
        cm["data"],
        serde_json::json!({"colour": "green", "size": "large"})
    );

    // An object taken out of the files stays in the cluster.
    std::fs::write(&demo, namespace).unwrap();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");
    assert!(out.contains("\nmanifests: 1 object applied\n"), "{out}");
    assert!(object_of(&cp, "configmaps", "demo", "settings").is_some());

    // A document that is no object stops apply before any host is reached.
    std::fs::write(
        &demo,
        format!("{namespace}---\napiVersion: v1\nmetadata: {{name: x}}\n"),
    )
    .unwrap();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "error: {}:7: an object without kind",
            demo.display()
        )),
        "{out}"
    );
    assert!(!out.contains("connected"), "{out}");
}

/// The secret of the bootstrap token apply made (read from the API server's store).
fn token_secret_of(cp: &TestHost) -> String {
    cp.sim.as_ref().unwrap().with_server(|s| {
        let secrets = testapiserver::resources::find("", "v1", "secrets").unwrap();
        let s = s.unwrap();
        let list = s.state().store.list(secrets, Some("kube-system")).0;
        let t = list
            .iter()
            .find(|s| {
                s["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("bootstrap-token-"))
                    && s["data"]["description"].is_string()
            })
            .expect("apply's token");
        use base64::Engine;
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(t["data"]["token-secret"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    })
}

#[test]
fn an_unknown_host_key_is_refused_unless_accepted() {
    if skip() {
        return;
    }
    let mut net = Net::new().unwrap();
    let cp = net.host(0, "cp-1", true).unwrap();
    let file = cluster_file(&net, &[(&cp, "control-plane")], None);
    std::fs::write(net.known_hosts(), "").unwrap();
    let (ok, out) = net.kubeadm_cluster(&["status", "-f", file.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("--accept-new-host-keys"), "{out}");
    assert!(
        out.contains("cp-1 failed: cannot connect over SSH"),
        "{out}"
    );
    let (ok, out) = net.kubeadm_cluster(&[
        "status",
        "--accept-new-host-keys",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert_result(&out, "cp-1", "not-joined");
    let kh = std::fs::read_to_string(net.known_hosts()).unwrap();
    assert!(kh.contains("ssh-ed25519"), "the key was recorded: {kh}");
    // A different key for the same host now is refused even with the flag.
    let other = std::fs::read_to_string(net.dir.path().join("ssh/operator.pub")).unwrap();
    let mut w = other.split_whitespace();
    std::fs::write(
        net.known_hosts(),
        format!("{} {} {}\n", cp.addr, w.next().unwrap(), w.next().unwrap()),
    )
    .unwrap();
    let (ok, out) = net.kubeadm_cluster(&[
        "status",
        "--accept-new-host-keys",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert!(!ok, "a changed key is refused:\n{out}");
}

#[test]
fn two_control_planes_and_a_worker_share_etcd_and_list_their_nodes() {
    if skip() {
        return;
    }
    let mut net = Net::new().unwrap();
    let cp1 = net.host(0, "cp-1", true).unwrap();
    let cp2 = net.host(1, "cp-2", true).unwrap();
    let w1 = net.host(2, "w-1", false).unwrap();
    let endpoint = format!("{}:6443", cp1.addr);
    let file = cluster_file(
        &net,
        &[
            (&cp1, "control-plane"),
            (&cp2, "control-plane"),
            (&w1, "worker"),
        ],
        Some(&endpoint),
    );
    let file = file.to_str().unwrap();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(
        ok,
        "{out}\netcd of cp-2:\n{}",
        std::fs::read_to_string(cp2.dir.join("etcd.log")).unwrap_or_default()
    );
    assert_result(&out, "cp-1", "initialized");
    assert_result(&out, "cp-2", "joined");
    assert_result(&out, "w-1", "joined");
    assert!(
        out.find("[cp-2] joined").unwrap() < out.find("[w-1] kubeadm join").unwrap(),
        "control planes before workers:\n{out}"
    );
    assert!(cp2
        .file("/etc/kubernetes/manifests/kube-apiserver.yaml")
        .exists());
    assert!(
        cp2.file("/etc/kubernetes/pki/ca.key").exists(),
        "the shared certificates were copied"
    );

    // Both etcd members, started and voting.
    let members = etcd_members(&cp1);
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(
        members
            .iter()
            .all(|m| m.contains("started") && m.contains("false")),
        "{members:?}"
    );

    // kubectl through the fetched kubeconfig lists all three Nodes.
    let kc = net.dir.path().join("admin.conf");
    let o = net.operator(
        env!("CARGO_BIN_EXE_kubeadm-cluster"),
        &["kubeconfig", "-f", file],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(&kc, &o.stdout).unwrap();
    let o = net.operator(
        "kubectl",
        &[
            "--kubeconfig",
            kc.to_str().unwrap(),
            "get",
            "nodes",
            "-o",
            "name",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "node/cp-1\nnode/cp-2\nnode/w-1\n"
    );

    // Taking cp-2 and the worker away removes cp-2's etcd member.
    let part = cluster_file(
        &net,
        &[(&cp2, "control-plane"), (&w1, "worker")],
        Some(&endpoint),
    );
    let (ok, out) = net.kubeadm_cluster(&["reset", "--yes", "-f", part.to_str().unwrap()]);
    assert!(ok, "{out}");
    let members = etcd_members(&cp1);
    assert_eq!(members.len(), 1, "{members:?}");
    assert!(members[0].contains("cp-1"), "{members:?}");

    // The whole cluster: the rest goes too.
    let (ok, out) = net.kubeadm_cluster(&["reset", "--yes", "-f", file]);
    assert!(ok, "{out}");
    assert_result(&out, "cp-1", "reset");
    for h in [&cp1, &cp2, &w1] {
        assert!(!h.file("/etc/kubernetes/pki/ca.crt").exists(), "{}", h.node);
        assert!(
            std::fs::read_dir(h.file("/var/lib/etcd"))
                .unwrap()
                .next()
                .is_none(),
            "{}",
            h.node
        );
    }
}

//! `kubeadm join --control-plane` with real etcd: the first member runs from init's
//! generated etcd manifest, the joining node's member is added by kubeadm-rs's etcd client
//! as a learner, started from the manifest join writes (as its kubelet would) and promoted;
//! `etcdctl member list` then shows two voting members.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;
use testapiserver::resources;

#[test]
fn a_control_plane_node_joins_with_its_etcd_member() {
    let port = free_port();
    let cp = control_plane_with("127.0.0.1", port, None, true);
    let r = cp.root.path();
    let o = kubeadm_in(
        None,
        r,
        &[
            "init",
            "phase",
            "upload-certs",
            "--upload-certs",
            "--config",
            "/kubeadm.yaml",
            "--kubeconfig",
            "/etc/kubernetes/super-admin.conf",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let key = out
        .lines()
        .skip_while(|l| *l != "[upload-certs] Using certificate key:")
        .nth(1)
        .unwrap()
        .to_string();

    // The first etcd member, from init's manifest, on free ports.
    let (c1, p1, m1) = (free_port(), free_port(), free_port());
    let work = tempfile::tempdir().unwrap();
    let _etcd1 = run_etcd(
        r,
        &[
            (":2379".into(), format!(":{c1}")),
            (":2380".into(), format!(":{p1}")),
            (":2381".into(), format!(":{m1}")),
        ],
        &work.path().join("etcd1.log"),
    );
    // Its mirror Pod, as the kubelet reports it, carries the client URL.
    cp.server
        .state()
        .store
        .create(
            resources::find("", "v1", "pods").unwrap(),
            "kube-system",
            json!({"metadata": {"name": "etcd-cp-1", "labels": {"component": "etcd", "tier": "control-plane"},
                "annotations": {"kubeadm.kubernetes.io/etcd.advertise-client-urls": format!("https://127.0.0.1:{c1}")}}}),
        )
        .unwrap();

    // The joining node: its kubelet bootstraps and starts etcd from the manifest join writes.
    let join_root = tempfile::tempdir().unwrap();
    let jr = join_root.path().to_path_buf();
    let kubelet = kubelet_stand_in(jr.clone(), "cp-2", None);
    let (c2, m2) = (free_port(), free_port());
    let log2 = work.path().join("etcd2.log");
    let starter = std::thread::spawn(move || {
        let manifest = jr.join("etc/kubernetes/manifests/etcd.yaml");
        let deadline = Instant::now() + Duration::from_secs(120);
        while !manifest.exists() {
            assert!(Instant::now() < deadline, "join wrote no etcd manifest");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(200));
        run_etcd(
            &jr,
            &[
                (
                    "https://127.0.0.1:2379".into(),
                    format!("https://127.0.0.1:{c2}"),
                ),
                (":2381".into(), format!(":{m2}")),
            ],
            &log2,
        )
    });
    let join_args = [
        "join",
        &cp.endpoint,
        "--token",
        "abcdef.0123456789abcdef",
        "--discovery-token-ca-cert-hash",
        &cp.pin,
        "--control-plane",
        "--certificate-key",
        &key,
        "--apiserver-advertise-address",
        "127.0.0.2",
        "--node-name",
        "cp-2",
    ];
    let mut first = join_args.to_vec();
    first.extend(["--skip-phases", "preflight,wait-control-plane", "-v", "10"]);
    let o = kubeadm_in(None, join_root.path(), &first);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr),
    );
    let etcd2 = starter.join().unwrap();
    assert!(
        o.status.success(),
        "{out}{}\netcd2 log:\n{}",
        String::from_utf8_lossy(&o.stderr),
        std::fs::read_to_string(work.path().join("etcd2.log")).unwrap_or_default()
    );
    kubelet.join().unwrap();
    no_secret_outside_upstreams_places(
        join_root.path(),
        &out,
        &String::from_utf8_lossy(&o.stderr),
        "0123456789abcdef",
        Some(&key),
    );
    assert!(
        out.contains("[etcd] Announced new etcd member joining to the existing etcd cluster"),
        "{out}"
    );
    assert!(out.contains("is a voting member"), "{out}");
    // At -v=1 and above, the CA discovery found is described.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!(
            "[discovery] CA certificate: CN=kubernetes, public key {}, expires ",
            cp.pin
        )),
        "{stderr}"
    );

    // The shared certificates came from kubeadm-certs; this node's own were made here.
    let pki = join_root.path().join("etc/kubernetes/pki");
    for f in ["ca.key", "sa.key", "front-proxy-ca.key", "etcd/ca.key"] {
        assert_eq!(
            std::fs::read(pki.join(f)).unwrap(),
            std::fs::read(r.join("etc/kubernetes/pki").join(f)).unwrap(),
            "{f}"
        );
    }
    assert_ne!(
        std::fs::read(pki.join("apiserver.crt")).unwrap(),
        std::fs::read(r.join("etc/kubernetes/pki/apiserver.crt")).unwrap()
    );
    for m in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
    ] {
        assert!(
            join_root
                .path()
                .join(format!("etc/kubernetes/manifests/{m}.yaml"))
                .exists(),
            "{m}"
        );
    }
    // The same join again (as after an interruption late in the first): preflight
    // reuses what the first run wrote, the etcd member is found already voting, and the
    // node completes.
    let mut again = join_args.to_vec();
    // (No container runtime here to pull the control-plane images with: ImagePull is
    // ignored too.)
    let ignored = format!("{},ImagePull", support::node::HOST_CHECKS);
    again.extend([
        "--skip-phases",
        "wait-control-plane",
        "--ignore-preflight-errors",
        &ignored,
    ]);
    let o = kubeadm_in(None, join_root.path(), &again);
    let rerun = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{rerun}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for line in [
        "[WARNING ImagePull]",
        "[preflight] Reusing /etc/kubernetes/manifests/kube-apiserver.yaml",
        "[preflight] Reusing /etc/kubernetes/manifests/etcd.yaml",
        "[preflight] Reusing /etc/kubernetes/kubelet.conf",
        "is already a voting member (joined by an earlier run)",
        // Only cp-1 has a mirror Pod here: cp-2, a voting member, is asked at the client
        // URL the member list gives.
        "[check-etcd] The etcd cluster is healthy: 2 of 2 voting members answer",
    ] {
        assert!(rerun.contains(line), "{line}:\n{rerun}");
    }

    let node = cp
        .server
        .state()
        .store
        .get(resources::find("", "v1", "nodes").unwrap(), "", "cp-2")
        .unwrap();
    assert_eq!(
        node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"],
        ""
    );

    // etcdctl sees two started, voting members. (It keeps a copy of the client
    // certificate: the resets below delete the nodes' own.)
    let etcd_pki = work.path().join("etcdctl-pki");
    std::fs::create_dir_all(&etcd_pki).unwrap();
    for f in ["ca.crt", "healthcheck-client.crt", "healthcheck-client.key"] {
        std::fs::copy(r.join("etc/kubernetes/pki/etcd").join(f), etcd_pki.join(f)).unwrap();
    }
    let member_list = || {
        let list = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &format!("https://127.0.0.1:{c1}")])
            .arg("--cacert")
            .arg(etcd_pki.join("ca.crt"))
            .arg("--cert")
            .arg(etcd_pki.join("healthcheck-client.crt"))
            .arg("--key")
            .arg(etcd_pki.join("healthcheck-client.key"))
            .args(["member", "list", "-w", "simple"])
            .output()
            .unwrap();
        assert!(
            list.status.success(),
            "{}",
            String::from_utf8_lossy(&list.stderr)
        );
        String::from_utf8_lossy(&list.stdout).into_owned()
    };
    let members = member_list();
    let lines: Vec<&str> = members.lines().collect();
    assert_eq!(lines.len(), 2, "{members}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains(", started, ") && l.ends_with(", false")),
        "{members}"
    );
    assert!(
        members.contains("cp-1") && members.contains("cp-2, https://127.0.0.2:2380"),
        "{members}"
    );

    // `kubeadm reset` on the second node removes its own member, through the first one,
    // and then its data.
    assert!(join_root.path().join("var/lib/etcd/member").exists());
    let out = kubeadm_ok(join_root.path(), &["reset", "-f"]);
    assert!(
        out.contains("from the etcd cluster") && out.contains("(https://127.0.0.2:2380)"),
        "{out}"
    );
    drop(etcd2);
    let members = member_list();
    assert_eq!(members.lines().count(), 1, "{members}");
    assert!(
        members.contains("cp-1") && !members.contains("cp-2"),
        "{members}"
    );
    assert!(!join_root.path().join("var/lib/etcd/member").exists());

    // On the last member, reset does not remove it (there is no cluster left to leave)
    // and says so.
    // (The first member was started on free ports: its manifest says so too, as a node's
    // manifest says how its etcd runs.)
    let manifest = r.join("etc/kubernetes/manifests/etcd.yaml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace(":2379", &format!(":{c1}"))
        .replace(":2380", &format!(":{p1}"))
        .replace(":2381", &format!(":{m1}"));
    std::fs::write(&manifest, text).unwrap();
    kubeadm_ok(r, &["reset", "-f", "--dry-run"]);
    let out = kubeadm_ok(r, &["reset", "phase", "remove-etcd-member"]);
    assert!(
        out.contains(
            "is the only member of its cluster: there is no cluster left to remove it from"
        ),
        "{out}"
    );
    let members = member_list();
    assert_eq!(members.lines().count(), 1, "{members}");
    assert!(members.contains("cp-1"), "{members}");
    kubeadm_ok(r, &["reset", "-f"]);
}

#[test]
fn control_plane_join_preflight_runs_init_checks() {
    let port = free_port();
    let cp = control_plane_with("127.0.0.1", port, None, true);
    let root = tempfile::tempdir().unwrap();
    let manifests = root.path().join("etc/kubernetes/manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(manifests.join("kube-apiserver.yaml"), "left over").unwrap();
    let key = "0".repeat(64);
    let o = kubeadm_in(
        None,
        root.path(),
        &[
            "join",
            "phase",
            "preflight",
            &cp.endpoint,
            "--token",
            "abcdef.0123456789abcdef",
            "--discovery-token-ca-cert-hash",
            &cp.pin,
            "--control-plane",
            "--certificate-key",
            &key,
            "--apiserver-advertise-address",
            "127.0.0.3",
            "--node-name",
            "cp-3",
            "--dry-run",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    // Failed checks fail the dry run too, as upstream's.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]"),
        "init's checks run for a joining control plane: {out}"
    );
    // And the control-plane images are pulled, as upstream's join preflight does.
    assert!(
        out.contains("[preflight] Would pull the required images"),
        "{out}"
    );
}

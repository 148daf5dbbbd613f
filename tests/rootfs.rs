//! `--rootfs ROOT` is a real root, as upstream's `chroot`: with a root whose directories
//! and files link out of it (absolute and relative links, `var/run -> /run` as in every
//! Debian image), init phases, kubeconfig commands and `reset -f` change nothing outside
//! the root (files compared by content, mounts by the kernel's table), reach no socket
//! outside it, run the root's own programs, and print nothing of the files outside.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Text in every file outside the root: it must never appear in kubeadm's output.
const OUTSIDE_TEXT: &str = "outside-the-root-7f3a9c";

/// Every file under `dir` (links not followed) with its content.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn go(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                go(&p, out);
            } else if t.is_symlink() {
                out.insert(
                    p.clone(),
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                );
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    go(dir, &mut out);
    out
}

fn mounted(path: &Path) -> bool {
    let want = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

/// A directory outside the root with files kubeadm must not touch: a CA pair, a
/// manifests directory, a kubelet directory with a tmpfs mounted below it.
struct Outside {
    dir: PathBuf,
}

impl Outside {
    fn new(top: &Path) -> Outside {
        let dir = top.join("outside");
        for d in ["pki", "manifests", "kubelet/pods/p1/volumes"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        for f in [
            "pki/ca.crt",
            "pki/ca.key",
            "manifests/etcd.yaml",
            "kubelet/config.yaml",
            "admin.conf",
        ] {
            std::fs::write(dir.join(f), format!("{OUTSIDE_TEXT}: {f}\n")).unwrap();
        }
        Outside { dir }
    }
}

fn kubeadm(root: &Path, args: &[&str]) -> Output {
    support::kubeadm_in(None, root, args)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const CONFIG: &str = "apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 127.0.0.1
nodeRegistration:
  name: cp-1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.1
";

/// `etc/kubernetes` linking out, absolutely and relatively: the init phases and
/// kubeconfig commands write where the link leads inside the root, as under chroot.
#[test]
fn init_phases_follow_links_inside_the_root_only() {
    for absolute in [true, false] {
        let top = tempfile::tempdir().unwrap();
        let outside = Outside::new(top.path());
        let before = snapshot(&outside.dir);
        let root = top.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("kubeadm.yaml"), CONFIG).unwrap();
        // Where the link leads when taken inside the root: created there, as a root made
        // from an image holding such a link would have it.
        let inside = if absolute {
            symlink(&outside.dir, root.join("etc/kubernetes")).unwrap();
            root.join(outside.dir.strip_prefix("/").unwrap())
        } else {
            // From `etc`, three levels up is past the root: it stops at the root's `/`.
            symlink("../../../outside", root.join("etc/kubernetes")).unwrap();
            root.join("outside")
        };
        std::fs::create_dir_all(&inside).unwrap();
        let mut output = String::new();
        for args in [
            &["init", "phase", "certs", "all", "--config", "/kubeadm.yaml"][..],
            &[
                "init",
                "phase",
                "kubeconfig",
                "all",
                "--config",
                "/kubeadm.yaml",
            ],
            &[
                "init",
                "phase",
                "control-plane",
                "all",
                "--config",
                "/kubeadm.yaml",
            ],
            &[
                "init",
                "phase",
                "etcd",
                "local",
                "--config",
                "/kubeadm.yaml",
            ],
            &[
                "kubeconfig",
                "user",
                "--client-name",
                "dev",
                "--config",
                "/kubeadm.yaml",
            ],
        ] {
            let o = kubeadm(&root, args);
            output.push_str(&text(&o));
            assert!(o.status.success(), "{args:?}: {}", text(&o));
        }
        assert_eq!(
            snapshot(&outside.dir),
            before,
            "nothing outside the root changed"
        );
        for f in [
            "pki/ca.key",
            "pki/apiserver.crt",
            "admin.conf",
            "manifests/kube-apiserver.yaml",
            "manifests/etcd.yaml",
        ] {
            assert!(inside.join(f).is_file(), "{f} written inside the root");
        }
        assert!(!output.contains(OUTSIDE_TEXT), "{output}");
    }
}

/// The CA pair linking out: kubeadm finds no CA (the links lead nowhere inside the root),
/// makes its own and signs with it; the outside CA is neither read nor changed.
#[test]
fn a_ca_linking_out_is_neither_used_nor_changed() {
    let top = tempfile::tempdir().unwrap();
    let outside = Outside::new(top.path());
    let root = top.path().join("root");
    std::fs::create_dir_all(root.join("etc/kubernetes/pki")).unwrap();
    std::fs::write(root.join("kubeadm.yaml"), CONFIG).unwrap();
    // A real CA outside, so that using it would succeed.
    let other = tempfile::tempdir().unwrap();
    let o = kubeadm(other.path(), &["init", "phase", "certs", "ca"]);
    assert!(o.status.success(), "{}", text(&o));
    for f in ["ca.crt", "ca.key"] {
        std::fs::copy(
            other.path().join("etc/kubernetes/pki").join(f),
            outside.dir.join("pki").join(f),
        )
        .unwrap();
        symlink(
            outside.dir.join("pki").join(f),
            root.join("etc/kubernetes/pki").join(f),
        )
        .unwrap();
    }
    let before = snapshot(&outside.dir);
    let o = kubeadm(
        &root,
        &["init", "phase", "certs", "all", "--config", "/kubeadm.yaml"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(snapshot(&outside.dir), before);
    let pki = root.join("etc/kubernetes/pki");
    assert!(!std::fs::symlink_metadata(pki.join("ca.crt"))
        .unwrap()
        .is_symlink());
    assert_ne!(
        std::fs::read(pki.join("ca.crt")).unwrap(),
        before[&outside.dir.join("pki/ca.crt")]
    );
    // The API server's certificate is signed by the root's CA.
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(pki.join("ca.crt"))
        .arg(pki.join("apiserver.crt"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
}

/// A kubeconfig that links to another file: the error names the file, never its text.
#[test]
fn a_kubeconfig_linking_to_another_file_is_not_quoted() {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("root");
    std::fs::create_dir_all(root.join("etc/kubernetes")).unwrap();
    std::fs::write(root.join("secret.txt"), format!("{OUTSIDE_TEXT}:x:0:0\n")).unwrap();
    symlink("/secret.txt", root.join("etc/kubernetes/admin.conf")).unwrap();
    for args in [
        &[
            "token",
            "list",
            "--kubeconfig",
            "/etc/kubernetes/admin.conf",
        ][..],
        &["certs", "check-expiration"],
    ] {
        let o = kubeadm(&root, args);
        let out = text(&o);
        assert!(!o.status.success() || args[0] == "certs", "{out}");
        assert!(!out.contains(OUTSIDE_TEXT), "{args:?}: {out}");
    }
    let o = kubeadm(
        &root,
        &[
            "token",
            "list",
            "--kubeconfig",
            "/etc/kubernetes/admin.conf",
        ],
    );
    assert!(
        text(&o).contains("/etc/kubernetes/admin.conf"),
        "{}",
        text(&o)
    );
}

/// A UNIX socket stand-in counting the connections made to it.
fn socket_stand_in(path: &Path) -> Arc<AtomicUsize> {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let listener = UnixListener::bind(path).unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            c.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    count
}

/// Removes a directory of the host's `/run` made by the test, however the test ends.
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `reset -f` on a root whose manifests, kubelet and pki directories link out (a tmpfs
/// mounted below the outside kubelet directory), whose `var/run` is `/run`, and whose
/// `systemctl` records its calls.
#[test]
fn reset_cleans_inside_the_root_only() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (mounts, changing root for programs)");
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let outside = Outside::new(top.path());
    let volume = outside.dir.join("kubelet/pods/p1/volumes");
    let mount = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&volume)
        .status()
        .unwrap();
    assert!(mount.success());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(volume.clone());
    std::fs::write(volume.join("data"), format!("{OUTSIDE_TEXT}: volume\n")).unwrap();
    let before = snapshot(&outside.dir);

    let root = top.path().join("root");
    for d in ["etc/kubernetes", "var/lib", "run", "usr/bin"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    symlink(
        outside.dir.join("manifests"),
        root.join("etc/kubernetes/manifests"),
    )
    .unwrap();
    symlink(outside.dir.join("kubelet"), root.join("var/lib/kubelet")).unwrap();
    symlink("../../../outside/pki", root.join("etc/kubernetes/pki")).unwrap();
    symlink("/run", root.join("var/run")).unwrap();
    // The relative pki link leads to the root's own /outside/pki: that one is cleaned.
    std::fs::create_dir_all(root.join("outside/pki")).unwrap();
    std::fs::write(root.join("outside/pki/ca.crt"), b"inside").unwrap();
    support::programs::install_script(
        &root,
        "/usr/bin/systemctl",
        "echo \"$@\" >> /systemctl.log\n",
        &["echo"],
    );
    // The CRI socket: one stand-in where `var/run` leads on the host, one inside.
    let name = format!("kubeadm-rs-rootfs-test-{}", std::process::id());
    let host_run = RunDir(Path::new("/run").join(&name));
    let outside_calls = socket_stand_in(&host_run.0.join("cri.sock"));
    let inside_calls = socket_stand_in(&root.join("run").join(&name).join("cri.sock"));

    let socket = format!("unix:///var/run/{name}/cri.sock");
    let o = kubeadm(&root, &["reset", "-f", "--cri-socket", &socket]);
    let out = text(&o);
    assert_eq!(
        snapshot(&outside.dir),
        before,
        "nothing outside changed: {out}"
    );
    assert!(mounted(&volume), "the outside mount is still there: {out}");
    assert_eq!(outside_calls.load(Ordering::SeqCst), 0, "{out}");
    assert!(inside_calls.load(Ordering::SeqCst) > 0, "{out}");
    let log = std::fs::read_to_string(root.join("systemctl.log")).unwrap_or_default();
    assert!(
        log.contains("kubelet"),
        "the root's systemctl ran: {log:?}\n{out}"
    );
    assert!(!root.join("outside/pki/ca.crt").exists(), "{out}");
    assert!(!out.contains(OUTSIDE_TEXT), "{out}");
}

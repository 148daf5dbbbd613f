//! Programs inside a test's `--rootfs` root: kubeadm runs them there, changed root, as
//! upstream does, so a stand-in must live (with its shell) inside the root.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Puts the static busybox at `/bin/busybox` inside `root`, with `/bin/<applet>` links
/// for `sh` and each of `applets`.
pub fn install_busybox(root: &Path, applets: &[&str]) {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    if !bin.join("busybox").exists() {
        std::fs::copy("/bin/busybox", bin.join("busybox"))
            .expect("busybox-static is installed (scripts/test installs it)");
    }
    for applet in std::iter::once(&"sh").chain(applets) {
        let link = bin.join(applet);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink("busybox", link).unwrap();
        }
    }
}

/// Writes an executable shell script at `path` inside `root` (busybox's shell and
/// `applets` installed for it).
pub fn install_script(root: &Path, path: &str, body: &str, applets: &[&str]) {
    install_busybox(root, applets);
    let target = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
}

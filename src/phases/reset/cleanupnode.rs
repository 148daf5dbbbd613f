//! `cleanup-node`: the kubelet stopped, the mounts under its directory undone, the pod
//! sandboxes removed through the container runtime, and kubeadm's directories and
//! kubeconfig files deleted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{clean_dir, ResetData};
use crate::manifests::MANIFESTS_DIR;
use crate::phases::kubeconfig::KUBERNETES_DIR;

/// `cleanup-node`: the kubelet stopped, its mounts undone, the pod sandboxes gone, and
/// kubeadm's files removed.
pub(super) fn cleanup_node(d: &mut ResetData) -> anyhow::Result<()> {
    d.cleaned_node = true;
    let host = d.host.clone();
    let dry = d.config.dry_run;

    match crate::kubelet::stop(host.as_ref()) {
        crate::kubelet::ServiceOutcome::Done => println!(
            "[reset] {} the kubelet service",
            if dry { "Would stop" } else { "Stopped" }
        ),
        crate::kubelet::ServiceOutcome::NoInitSystem => {
            eprintln!("[reset] WARNING: The kubelet service could not be stopped by kubeadm. Unable to detect a supported init system!");
            eprintln!("[reset] WARNING: Please ensure kubelet is stopped manually");
        }
        crate::kubelet::ServiceOutcome::Failed(why) => {
            eprintln!(
                "[reset] WARNING: The kubelet service could not be stopped by kubeadm: {why}"
            );
            eprintln!("[reset] WARNING: Please ensure kubelet is stopped manually");
        }
    }

    let kubelet_dir = Path::new(crate::kubelet::KUBELET_DIR);
    let mut dirs: Vec<PathBuf> = vec![PathBuf::from(MANIFESTS_DIR)];
    match unmount_kubelet_dir(d, kubelet_dir) {
        Ok(true) => dirs.push(kubelet_dir.to_path_buf()),
        Ok(false) => {}
        Err(e) => d.fail(format!(
            "unmounting the mounts under {}: {e:#}; its contents are left in place so that nothing mounted there is deleted",
            kubelet_dir.display()
        )),
    }

    remove_pod_sandboxes(d);

    if d.certificates_dir != Path::new(crate::config::DEFAULT_CERTIFICATES_DIR) {
        eprintln!(
            "[reset] WARNING: Cleaning a non-default certificates directory: {:?}",
            d.certificates_dir.display().to_string()
        );
    }
    dirs.push(d.certificates_dir.clone());
    if d.config.cleanup_tmp_dir {
        dirs.push(Path::new(KUBERNETES_DIR).join("tmp"));
    }
    let shown: Vec<String> = dirs.iter().map(|p| p.display().to_string()).collect();
    let verb = if dry { "Would delete" } else { "Deleting" };
    println!(
        "[reset] {verb} contents of directories: [{}]",
        shown.join(" ")
    );
    for dir in &dirs {
        if let Err(e) = clean_dir(host.as_ref(), dir) {
            d.fail(format!("deleting the contents of {}: {e:#}", dir.display()));
        }
    }
    let files: Vec<PathBuf> = [
        "admin.conf",
        "super-admin.conf",
        "kubelet.conf",
        "bootstrap-kubelet.conf",
        "controller-manager.conf",
        "scheduler.conf",
    ]
    .iter()
    .map(|f| Path::new(KUBERNETES_DIR).join(f))
    .collect();
    let shown: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    println!("[reset] {verb} files: [{}]", shown.join(" "));
    for f in &files {
        if let Err(e) = host.remove_file(f) {
            d.fail(format!("removing {}: {e}", f.display()));
        }
    }
    Ok(())
}

/// Unmounts what is mounted under the kubelet's directory, deepest first; true when
/// nothing is left mounted there, so its contents can go.
fn unmount_kubelet_dir(d: &mut ResetData, dir: &Path) -> anyhow::Result<bool> {
    let host = d.host.clone();
    let mut mounts = match host.mounts_under(dir) {
        Ok(m) => m,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    println!(
        "[reset] Unmounting mounted directories in {:?}",
        dir.display().to_string()
    );
    let flags = d
        .config
        .unmount_flags
        .iter()
        .filter_map(|f| unmount_flag(f))
        .fold(0, |a, b| a | b);
    // Deepest first: what is mounted on top goes before what it sits on.
    mounts.reverse();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    let mut errors = Vec::new();
    for m in &mounts {
        tracing::debug!("[reset] Unmounting {}", m.display());
        if let Err(e) = host.unmount(m, flags) {
            match &e {
                crate::host::HostError::Io { error, .. }
                    if error.raw_os_error() == Some(libc::EINVAL) =>
                {
                    eprintln!(
                        "[reset] WARNING: Ignoring EINVAL error while unmounting {:?}",
                        m.display().to_string()
                    );
                }
                _ => errors.push(e.to_string()),
            }
        }
    }
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("; "));
    }
    // A dry run unmounts nothing; a real run checks that nothing is left before the
    // directory's contents are deleted.
    if !d.config.dry_run {
        let left = host.mounts_under(dir)?;
        if !left.is_empty() {
            let shown: Vec<String> = left.iter().map(|p| p.display().to_string()).collect();
            anyhow::bail!("still mounted: {}", shown.join(", "));
        }
    }
    Ok(true)
}

/// The `umount2` value of a ResetConfiguration `unmountFlags` entry.
fn unmount_flag(name: &str) -> Option<i32> {
    match name {
        "MNT_FORCE" => Some(libc::MNT_FORCE),
        "MNT_DETACH" => Some(libc::MNT_DETACH),
        "MNT_EXPIRE" => Some(libc::MNT_EXPIRE),
        "UMOUNT_NOFOLLOW" => Some(libc::UMOUNT_NOFOLLOW),
        _ => None,
    }
}

/// Stops and removes every pod sandbox of the runtime, as upstream's
/// `RemoveContainers` (five attempts each).
fn remove_pod_sandboxes(d: &mut ResetData) {
    let endpoint = match cri_endpoint(d) {
        Ok(e) => e,
        Err(e) => {
            d.fail(format!("finding the container runtime: {e:#}"));
            return;
        }
    };
    let mut client = match crate::cri::CriClient::connect_on(
        d.host.as_ref(),
        &endpoint,
        Duration::from_secs(10),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("[reset] WARNING: Failed to remove containers: {e}");
            return;
        }
    };
    let sandboxes = match client.list_pod_sandboxes() {
        Ok(s) => s,
        Err(e) => {
            d.fail(format!("listing the pod sandboxes: {e}"));
            return;
        }
    };
    if d.config.dry_run {
        for s in &sandboxes {
            println!(
                "[reset] Would stop and remove the pod sandbox {} ({}/{})",
                s.id, s.namespace, s.name
            );
        }
        return;
    }
    println!(
        "[reset] Removing {} pod sandbox(es) through {endpoint}",
        sandboxes.len()
    );
    for s in sandboxes {
        let mut last = None;
        for _ in 0..5 {
            match client
                .stop_pod_sandbox(&s.id)
                .and_then(|_| client.remove_pod_sandbox(&s.id))
            {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            d.fail(format!(
                "removing the pod sandbox {} ({}/{}): {e}",
                s.id, s.namespace, s.name
            ));
        }
    }
}

/// The runtime to clean: the flag or the configuration, else what this node's kubelet
/// was told (`instance-config.yaml`, `kubeadm-flags.env`), else the one socket present.
fn cri_endpoint(d: &ResetData) -> anyhow::Result<String> {
    if !d.config.cri_socket.is_empty() {
        return Ok(d.config.cri_socket.clone());
    }
    let kubelet_dir = Path::new(crate::kubelet::KUBELET_DIR);
    if let Ok(text) = d
        .host
        .read_to_string(&kubelet_dir.join(crate::kubelet::INSTANCE_CONFIG_FILE))
    {
        let parsed = crate::yaml::check_nesting(&text, "instance-config.yaml")
            .and_then(|()| Ok(serde_yaml_ng::from_str::<serde_json::Value>(&text)?));
        if let Ok(v) = parsed {
            if let Some(e) = v["containerRuntimeEndpoint"]
                .as_str()
                .filter(|e| !e.is_empty())
            {
                return Ok(e.to_string());
            }
        }
    }
    if let Ok(text) = d
        .host
        .read_to_string(&kubelet_dir.join("kubeadm-flags.env"))
    {
        if let Some(e) = text
            .split(|c: char| c.is_whitespace() || c == '"')
            .find_map(|w| w.strip_prefix("--container-runtime-endpoint="))
        {
            return Ok(e.to_string());
        }
    }
    Ok(crate::cri::detect_cri_socket(d.host.as_ref())?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unmount_flags_are_upstream_names() {
        assert_eq!(super::unmount_flag("MNT_FORCE"), Some(1));
        assert_eq!(super::unmount_flag("MNT_DETACH"), Some(2));
        assert_eq!(super::unmount_flag("MNT_EXPIRE"), Some(4));
        assert_eq!(super::unmount_flag("UMOUNT_NOFOLLOW"), Some(8));
        assert_eq!(super::unmount_flag("MNT_LAZY"), None);
    }
}

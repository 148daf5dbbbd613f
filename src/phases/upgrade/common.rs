//! The phases `upgrade apply` and `upgrade node` both list: kubelet-config (this node's
//! kubelet configuration from the cluster's), addon (CoreDNS and kube-proxy at the target
//! version) and post-upgrade (the kubelet's flags).

use std::path::Path;

use super::{UpgradeCommand, UpgradeData, TMP_DIR};
use crate::config::InitConfiguration;
use crate::host::Sensitivity;
use crate::workflow::Phase;

/// `kubelet-config`: this node's `/var/lib/kubelet/config.yaml` from the cluster's
/// KubeletConfiguration, the previous one kept in a backup.
fn kubelet_config(d: &mut UpgradeData) -> anyhow::Result<()> {
    let cfg = d.config()?;
    let host = d.host.clone();
    let dir = Path::new(crate::kubelet::KUBELET_DIR);
    let path = dir.join(crate::kubelet::CONFIG_FILE);
    let new = crate::kubelet::to_yaml(&crate::kubelet::cluster_configuration(&cfg)?)?;
    let old = host.read(&path).ok();
    if old.as_deref() == Some(new.as_bytes()) {
        println!(
            "[upgrade/kubelet-config] The kubelet configuration {} is up to date",
            path.display()
        );
        return Ok(());
    }
    if let Some(old) = &old {
        let backup = Path::new(TMP_DIR)
            .join(format!("kubeadm-kubelet-config-{}", d.backup_stamp))
            .join(crate::kubelet::CONFIG_FILE);
        host.write_file(&backup, old, 0o644, Sensitivity::Public)?;
        println!(
            "[upgrade] Backing up kubelet config file to {}",
            backup.display()
        );
    }
    host.write_file(&path, new.as_bytes(), 0o644, Sensitivity::Public)?;
    println!("[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!");
    Ok(())
}

/// `kubelet-config`, as apply and node list it.
pub(super) fn kubelet_config_phase() -> Phase<UpgradeData> {
    Phase::new(
        "kubelet-config",
        "Upgrade the kubelet configuration for this node",
    )
    .inherit(&["config", "dry-run", "kubeconfig", "patches"])
    .run(kubelet_config)
}

/// Re-applies one addon at the target version, unless the configuration disables it.
fn apply_addon(
    d: &mut UpgradeData,
    phase: &str,
    name: &str,
    disabled: fn(&InitConfiguration) -> bool,
    objects: fn(&InitConfiguration) -> anyhow::Result<Vec<serde_json::Value>>,
) -> anyhow::Result<()> {
    let cfg = d.config()?;
    if disabled(&cfg) {
        println!("[addons] Skipping the addon/{phase} phase. The addon is disabled.");
        return Ok(());
    }
    let mut objects = objects(&cfg)?;
    if let Some(patches) = crate::phases::staticpods::load_patches(d.host.as_ref(), &cfg)? {
        crate::addons::apply_patches(&mut objects, &patches)?;
    }
    let api = d.writer()?;
    crate::addons::apply(api.as_ref(), &objects)?;
    println!("[addons] Applied essential addon: {name}");
    Ok(())
}

pub(super) fn addon_coredns(d: &mut UpgradeData) -> anyhow::Result<()> {
    apply_addon(
        d,
        "coredns",
        "CoreDNS",
        |c| c.versioned.cluster.dns.disabled,
        crate::addons::coredns_objects,
    )
}

pub(super) fn addon_kube_proxy(d: &mut UpgradeData) -> anyhow::Result<()> {
    apply_addon(
        d,
        "kube-proxy",
        "kube-proxy",
        |c| c.versioned.cluster.proxy.disabled,
        crate::addons::kube_proxy_objects,
    )
}

/// `addon` with its `all`, `coredns` and `kube-proxy`, running the given work.
pub(super) fn addon_phase(
    coredns: fn(&mut UpgradeData) -> anyhow::Result<()>,
    kube_proxy: fn(&mut UpgradeData) -> anyhow::Result<()>,
) -> Phase<UpgradeData> {
    // Upstream gives `--patches` to `all` and `coredns`; kube-proxy's DaemonSet takes
    // patches too since #138090, so its phase has the flag as well.
    const CFG: &[&str] = &["config", "dry-run", "kubeconfig", "patches"];
    Phase::new("addon", "Upgrade the default kubeadm addons").children(vec![
        Phase::all("Upgrade all the addons", CFG),
        Phase::new("coredns", "Upgrade the CoreDNS addon")
            .inherit(CFG)
            .run(coredns),
        Phase::new("kube-proxy", "Upgrade the kube-proxy addon")
            .inherit(CFG)
            .run(kube_proxy),
    ])
}

/// `post-upgrade`: flags kubeadm no longer wants the kubelet to have are dropped from
/// `kubeadm-flags.env`; the rest is kept as written.
fn post_upgrade(d: &mut UpgradeData) -> anyhow::Result<()> {
    let target = d.target()?;
    let path = Path::new(crate::kubelet::KUBELET_DIR).join("kubeadm-flags.env");
    let Ok(text) = d.host.read_to_string(&path) else {
        return Ok(());
    };
    // The node's CRI endpoint lives in `instance-config.yaml` (NodeLocalCRISocket, a gate
    // no more since upstream v1.37, #138645); a flag an older kubeadm wrote would override
    // it. `--pod-infra-container-image` stays since v1.36 (#135807): only v1.35 dropped it.
    let removed = ["--container-runtime-endpoint"];
    let cleaned = crate::kubelet::remove_flags(&text, &removed);
    if cleaned != text {
        d.host
            .write_file(&path, cleaned.as_bytes(), 0o644, Sensitivity::Public)?;
        println!(
            "[upgrade/post-upgrade] Removed {} from {}: the kubelet {target} reads its CRI endpoint from {}",
            removed.join(", "),
            path.display(),
            Path::new(crate::kubelet::KUBELET_DIR)
                .join(crate::kubelet::INSTANCE_CONFIG_FILE)
                .display()
        );
    }
    match d.opts.command {
        UpgradeCommand::Apply => println!("[upgrade] SUCCESS! A control plane node of your cluster was upgraded to {:?}.\n\n[upgrade] Now please proceed with upgrading the rest of the nodes by following the right order.", target.to_string()),
        UpgradeCommand::Node => println!("[upgrade] The configuration for this node was successfully upgraded!\n[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager."),
    }
    Ok(())
}

/// `post-upgrade`, as apply and node list it.
pub(super) fn post_upgrade_phase() -> Phase<UpgradeData> {
    Phase::new("post-upgrade", "Run post upgrade tasks")
        .inherit(&["config", "dry-run", "kubeconfig"])
        .run(post_upgrade)
}

//! `kubeadm upgrade node`'s own phases: its preflight, the control-plane upgrade on a
//! control-plane node only, and the addons once every API server is upgraded; and the
//! node workflow.

use super::common::{
    addon_coredns, addon_kube_proxy, addon_phase, kubelet_config_phase, post_upgrade_phase,
};
use super::controlplane::control_plane;
use super::UpgradeData;
use crate::workflow::{Phase, Workflow};

/// `upgrade node`'s `preflight`: root, and the version this node goes to.
fn node_preflight(d: &mut UpgradeData) -> anyhow::Result<()> {
    println!("[preflight] Running pre-flight checks");
    let mut notes = Vec::new();
    crate::phases::preflight::run_checks(
        d.host.as_ref(),
        &[crate::preflight::Check::IsPrivilegedUser],
        &crate::preflight::Ignored::new(&d.opts.ignore_preflight_errors)?,
        d.dry_run(),
        &mut notes,
    )?;
    let target = d.target()?;
    if d.is_control_plane_node() {
        let cfg = d.config()?;
        let policy = match d.opts.image_pull_policy.as_str() {
            "" => "IfNotPresent",
            p => p,
        };
        let ignored = crate::preflight::Ignored::new(&d.opts.ignore_preflight_errors)?;
        crate::phases::preflight::pull_images_with(
            d.host.as_ref(),
            &cfg,
            policy,
            d.opts.image_pull_serial,
            &ignored,
            d.dry_run(),
        )?;
    } else {
        println!("[preflight] Skipping prepull. Not a control plane node.");
    }
    println!(
        "[upgrade] Upgrading this node to {target}, the version in the cluster's configuration"
    );
    Ok(())
}

/// `upgrade node`'s `control-plane`: as apply's, on a control-plane node only.
fn node_control_plane(d: &mut UpgradeData) -> anyhow::Result<()> {
    if !d.is_control_plane_node() {
        println!("[upgrade] Skipping phase. Not a control plane node.");
        return Ok(());
    }
    control_plane(d)
}

/// Whether `upgrade node` re-applies an addon: on a control-plane node, once every API
/// server runs the target version (the last node upgraded does it), as upstream.
fn node_addons_ready(d: &mut UpgradeData, addon: &str) -> anyhow::Result<bool> {
    if !d.is_control_plane_node() {
        println!("[upgrade/addon] Skipping the addon/{addon} phase. Not a control plane node.");
        return Ok(false);
    }
    let target = d.target()?.to_string();
    let client = d.client()?;
    let state = crate::upgrade::plan::cluster_state(client.as_ref())?;
    let behind: Vec<String> = state
        .apiserver
        .iter()
        .filter(|(v, _)| **v != target)
        .flat_map(|(_, nodes)| nodes.clone())
        .collect();
    if !behind.is_empty() {
        println!(
            "[upgrade/addon] Skipping the addon/{addon} phase. Not all control plane instances have been upgraded ({} not yet)",
            behind.join(", ")
        );
        return Ok(false);
    }
    Ok(true)
}

fn node_addon_coredns(d: &mut UpgradeData) -> anyhow::Result<()> {
    if node_addons_ready(d, "coredns")? {
        addon_coredns(d)?;
    }
    Ok(())
}

fn node_addon_kube_proxy(d: &mut UpgradeData) -> anyhow::Result<()> {
    if node_addons_ready(d, "kube-proxy")? {
        addon_kube_proxy(d)?;
    }
    Ok(())
}

/// The `upgrade node` phases, in upstream's order.
pub fn node_workflow() -> Workflow<UpgradeData> {
    Workflow::new(
        "node",
        vec![
            Phase::new("preflight", "Run upgrade node pre-flight checks")
                .inherit(&["config", "dry-run", "ignore-preflight-errors", "kubeconfig"])
                .run(node_preflight),
            Phase::new(
                "control-plane",
                "Upgrade the control plane instance deployed on this node, if any",
            )
            .inherit(&[
                "certificate-renewal",
                "config",
                "dry-run",
                "etcd-upgrade",
                "kubeconfig",
                "patches",
            ])
            .run(node_control_plane),
            kubelet_config_phase(),
            addon_phase(node_addon_coredns, node_addon_kube_proxy),
            post_upgrade_phase(),
        ],
    )
    .under(&["upgrade"])
}

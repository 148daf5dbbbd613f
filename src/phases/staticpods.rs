//! The work of the `etcd`, `control-plane` and `kubelet-start` phases, shared by init and
//! (for control-plane nodes) join.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{Etcd, InitConfiguration};
use crate::host::Host;
use crate::kubelet;
use crate::manifests::{self, controlplane, etcd};
use crate::patches::PatchSet;

/// The patches of `patches.directory` (or `--patches`), when one is configured.
pub fn load_patches(host: &dyn Host, cfg: &InitConfiguration) -> anyhow::Result<Option<PatchSet>> {
    let dir = cfg
        .versioned
        .init
        .patches
        .as_ref()
        .map(|p| p.directory.as_str())
        .filter(|d| !d.is_empty());
    match dir {
        Some(d) => {
            let set = PatchSet::load(host, Path::new(d))?;
            // Upstream reads a directory once per run (its patch manager is cached by path),
            // so what it ignores is said once, however many phases use the patches.
            static ANNOUNCED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
            let mut announced = ANNOUNCED.lock().unwrap_or_else(|e| e.into_inner());
            if !announced.iter().any(|a| a == Path::new(d)) {
                announced.push(PathBuf::from(d));
                for ignored in &set.ignored {
                    tracing::warn!(
                        "[patches] Ignored {}: its name is not target[suffix][+patchtype].{{yaml,json}} with a known target",
                        ignored.display()
                    );
                }
            }
            Ok(Some(set))
        }
        None => Ok(None),
    }
}

/// `etcd local`: the local etcd's static Pod (nothing to do with external etcd).
pub fn write_local_etcd(
    host: &dyn Host,
    cfg: &InitConfiguration,
    manifests_dir: &Path,
    initial_cluster: &[etcd::Member],
) -> anyhow::Result<Option<PathBuf>> {
    if let Etcd::External(_) = cfg.cluster.etcd {
        println!("[etcd] External etcd mode: skipping the static Pod manifest for local etcd");
        return Ok(None);
    }
    let patches = load_patches(host, cfg)?;
    let pod = etcd::pod(cfg, initial_cluster);
    let path = manifests::write_static_pod(host, manifests_dir, pod, patches.as_ref())
        .context("[etcd] creating the static Pod manifest for local etcd")?;
    println!(
        "[etcd] Wrote the static Pod manifest for local etcd to {:?}",
        path.display().to_string()
    );
    Ok(Some(path))
}

/// `control-plane <component>`: one control-plane component's static Pod.
pub fn write_control_plane_component(
    host: &dyn Host,
    cfg: &InitConfiguration,
    component: &str,
    manifests_dir: &Path,
    kubeconfig_dir: &Path,
    proxy_env: &[(String, String)],
) -> anyhow::Result<PathBuf> {
    let patches = load_patches(host, cfg)?;
    let pod = component_pod(host, cfg, component, kubeconfig_dir, proxy_env)?;
    let path = manifests::write_static_pod(host, manifests_dir, pod, patches.as_ref())
        .with_context(|| {
            format!("[control-plane] creating the static Pod manifest for {component}")
        })?;
    println!(
        "[control-plane] Wrote the static Pod manifest for {component:?} to {:?}",
        path.display().to_string()
    );
    Ok(path)
}

/// One control-plane component's static Pod, before patches.
fn component_pod(
    host: &dyn Host,
    cfg: &InitConfiguration,
    component: &str,
    kubeconfig_dir: &Path,
    proxy_env: &[(String, String)],
) -> anyhow::Result<k8s_openapi::api::core::v1::Pod> {
    let ctx = controlplane::Context {
        host,
        proxy_env,
        kubeconfig_dir,
    };
    controlplane::component(component, cfg, &ctx)
        .with_context(|| format!("{component:?} is not a control-plane component"))
}

/// The static Pod manifests this configuration writes on a first control-plane node, as
/// (component, path, bytes): the control-plane components and, for a local etcd, etcd.
/// Preflight compares them with what is on disk to tell a rerun from a stranger's files.
pub fn rendered_manifests(
    host: &dyn Host,
    cfg: &InitConfiguration,
    manifests_dir: &Path,
    kubeconfig_dir: &Path,
    proxy_env: &[(String, String)],
) -> anyhow::Result<Vec<(&'static str, PathBuf, String)>> {
    let patches = load_patches(host, cfg)?.map(PatchSet::quiet);
    let mut out = Vec::new();
    for component in controlplane::COMPONENTS {
        let pod = component_pod(host, cfg, component, kubeconfig_dir, proxy_env)?;
        out.push((
            component,
            manifests::manifest_path(manifests_dir, component),
            manifests::render_static_pod(pod, patches.as_ref())?,
        ));
    }
    if let Etcd::Local(_) = cfg.cluster.etcd {
        out.push((
            "etcd",
            manifests::manifest_path(manifests_dir, "etcd"),
            manifests::render_static_pod(etcd::pod(cfg, &[]), patches.as_ref())?,
        ));
    }
    Ok(out)
}

/// What a node's kubelet is set up with.
pub struct KubeletSettings<'a> {
    /// The cluster's KubeletConfiguration (from the configuration, or `kubelet-config`).
    pub cluster_config: serde_json::Value,
    /// This node's name.
    pub node_name: &'a str,
    /// Its CRI endpoint.
    pub cri_socket: &'a str,
    /// `nodeRegistration.kubeletExtraArgs`.
    pub extra_args: &'a [crate::config::v1beta4::Arg],
    /// Taints to register with (join), `None` when something else sets them (init).
    pub register_taints: Option<&'a str>,
    /// The patches for `kubeletconfiguration`.
    pub patches: Option<&'a PatchSet>,
}

/// The kubelet's files for these settings.
pub fn kubelet_files(
    host: &dyn Host,
    s: KubeletSettings<'_>,
) -> anyhow::Result<kubelet::KubeletFiles> {
    let hostname = host
        .hostname()
        .map(|h| h.to_lowercase())
        .unwrap_or_default();
    let flags = kubelet::flags(&hostname, s.node_name, s.register_taints, s.extra_args);
    kubelet::files(host, s.cluster_config, s.cri_socket, &flags, s.patches)
}

/// `kubelet-start` of init and join: stop the kubelet, write its files, start it again. A
/// host without systemd, or a kubelet service that does not start, is reported, not fatal:
/// the files are what kubeadm owns; upstream warns the same way.
pub fn start_kubelet(
    host: &dyn Host,
    kubelet_dir: &Path,
    s: KubeletSettings<'_>,
    say: &mut dyn FnMut(String),
) -> anyhow::Result<()> {
    match kubelet::stop(host) {
        kubelet::ServiceOutcome::NoInitSystem => say(
            "[kubelet-start] No supported init system detected, won't make sure the kubelet is not running while its settings are written".into(),
        ),
        kubelet::ServiceOutcome::Failed(why) => say(format!(
            "[kubelet-start] WARNING: the kubelet service could not be stopped: {why}"
        )),
        kubelet::ServiceOutcome::Done => {}
    }
    let files = kubelet_files(host, s)?;
    for path in kubelet::write_files(host, kubelet_dir, &files)? {
        say(format!("[kubelet-start] Wrote {}", path.display()));
    }
    say("[kubelet-start] Starting the kubelet".into());
    match kubelet::restart(host) {
        kubelet::ServiceOutcome::Done => {}
        kubelet::ServiceOutcome::NoInitSystem => say(
            "[kubelet-start] WARNING: no systemd on this host: start the kubelet with the files above yourself".into(),
        ),
        kubelet::ServiceOutcome::Failed(why) => {
            say(format!("[kubelet-start] WARNING: unable to start the kubelet service: {why}"));
            say("[kubelet-start] Please ensure the kubelet is installed, reloaded and running (systemctl daemon-reload && systemctl restart kubelet)".into());
        }
    }
    Ok(())
}

/// init's `kubelet-start`, from the configuration.
pub fn kubelet_start(
    host: &dyn Host,
    cfg: &InitConfiguration,
    kubelet_dir: &Path,
    register_taints: Option<&str>,
    say: &mut dyn FnMut(String),
) -> anyhow::Result<()> {
    let patches = load_patches(host, cfg)?;
    start_kubelet(
        host,
        kubelet_dir,
        init_kubelet_settings(cfg, register_taints, patches.as_ref())?,
        say,
    )
}

/// The kubelet settings of an init node: from the configuration (the control plane's
/// taints are set by mark-control-plane, so `None` there).
pub fn init_kubelet_settings<'a>(
    cfg: &'a InitConfiguration,
    register_taints: Option<&'a str>,
    patches: Option<&'a PatchSet>,
) -> anyhow::Result<KubeletSettings<'a>> {
    Ok(KubeletSettings {
        cluster_config: kubelet::cluster_configuration(cfg)?,
        node_name: &cfg.node_registration.name,
        cri_socket: &cfg.node_registration.cri_socket,
        extra_args: &cfg.versioned.init.node_registration.kubelet_extra_args,
        register_taints,
        patches,
    })
}

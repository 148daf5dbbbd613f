//! Static Pod manifests: the files in `/etc/kubernetes/manifests` the kubelet starts the
//! control plane and etcd from. Each Pod is built as a typed `k8s-openapi` object and
//! written the way upstream writes it (keys in alphabetical order, as Go's JSON-to-YAML
//! conversion leaves them), so that a node's files match what upstream kubeadm produces.

pub mod args;
pub mod controlplane;
pub mod etcd;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, HTTPGetAction, HostPathVolumeSource, Pod, PodSecurityContext, PodSpec,
    PodStatus, Probe, ResourceRequirements, SeccompProfile, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::config::v1beta4;
use crate::host::{Host, Sensitivity};
use crate::patches::{PatchSet, Target};

/// Where the kubelet looks for static Pods.
pub const MANIFESTS_DIR: &str = "/etc/kubernetes/manifests";

/// The named container port every probe refers to.
pub const PROBE_PORT: &str = "probe-port";

/// The priority value of the `system-node-critical` class, set on the Pod as upstream does
/// so the kubelet can admit it before the API server (and its priority classes) exist.
const SYSTEM_NODE_CRITICAL_PRIORITY: i32 = 2_000_001_000;

/// The default health-check timeout of the control-plane components (4 minutes).
pub const DEFAULT_HEALTH_CHECK_TIMEOUT_SECS: u64 = 240;

/// The path of a component's manifest in `dir`.
pub fn manifest_path(dir: &Path, component: &str) -> PathBuf {
    dir.join(format!("{component}.yaml"))
}

/// A host-path volume of a static Pod.
pub fn host_path_volume(name: &str, path: &str, kind: Option<&str>) -> Volume {
    Volume {
        name: name.to_string(),
        host_path: Some(HostPathVolumeSource {
            path: path.to_string(),
            type_: kind.map(str::to_string),
        }),
        ..Default::default()
    }
}

/// A volume mount of a static Pod's container.
pub fn volume_mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// A CPU request (and optionally memory), the only resources upstream sets.
pub fn requests(cpu: &str, memory: Option<&str>) -> ResourceRequirements {
    let mut r = BTreeMap::new();
    r.insert("cpu".to_string(), Quantity(cpu.to_string()));
    if let Some(m) = memory {
        r.insert("memory".to_string(), Quantity(m.to_string()));
    }
    ResourceRequirements {
        requests: Some(r),
        ..Default::default()
    }
}

/// The scheme and address of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// `host`; empty means the Pod's IP (the kubelet's choice), used for unspecified
    /// bind addresses that cannot be probed.
    pub host: String,
    /// `HTTP` or `HTTPS`.
    pub scheme: &'static str,
}

fn http_probe(
    target: &ProbeTarget,
    path: &str,
    initial_delay: i32,
    timeout: i32,
    failure_threshold: i32,
    period: i32,
) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            host: (!target.host.is_empty()).then(|| target.host.clone()),
            path: Some(path.to_string()),
            port: IntOrString::String(PROBE_PORT.to_string()),
            scheme: Some(target.scheme.to_string()),
            ..Default::default()
        }),
        initial_delay_seconds: (initial_delay != 0).then_some(initial_delay),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(failure_threshold),
        period_seconds: Some(period),
        ..Default::default()
    }
}

/// Upstream's liveness probe: 10s delay, 15s timeout, 8 failures, every 10s.
pub fn liveness_probe(target: &ProbeTarget, path: &str) -> Probe {
    http_probe(target, path, 10, 15, 8, 10)
}

/// Upstream's readiness probe: 15s timeout, 3 failures, every second.
pub fn readiness_probe(target: &ProbeTarget, path: &str) -> Probe {
    http_probe(target, path, 0, 15, 3, 1)
}

/// Upstream's startup probe: as many 10-second periods as fit in the control plane's
/// health-check timeout (rounded up, at least one).
pub fn startup_probe(target: &ProbeTarget, path: &str, timeout_secs: u64) -> Probe {
    let failures = timeout_secs.div_ceil(10).max(1);
    http_probe(
        target,
        path,
        10,
        15,
        i32::try_from(failures).unwrap_or(i32::MAX),
        10,
    )
}

/// An address a probe can reach: an unspecified bind address (`0.0.0.0`, `::`) cannot be
/// probed, so it becomes empty and the kubelet probes the Pod's IP.
pub fn probe_address(addr: &str) -> String {
    if addr == "0.0.0.0" || addr == "::" {
        String::new()
    } else {
        addr.to_string()
    }
}

/// The environment of a component: the host's proxy settings (`*_proxy` variables with a
/// value, as upstream passes them) merged with the component's `extraEnvs`, which win.
/// Sorted by name, as upstream sorts them.
pub fn merge_env(proxy_env: &[(String, String)], extra: &[v1beta4::EnvVar]) -> Vec<EnvVar> {
    let mut merged: BTreeMap<String, EnvVar> = BTreeMap::new();
    for (name, value) in proxy_env {
        merged.insert(
            name.clone(),
            EnvVar {
                name: name.clone(),
                value: Some(value.clone()),
                ..Default::default()
            },
        );
    }
    for e in extra {
        let value_from = e
            .value_from
            .as_ref()
            .and_then(|v| serde_json::to_value(v).ok())
            .and_then(|v| serde_json::from_value(v).ok());
        merged.insert(
            e.name.clone(),
            EnvVar {
                name: e.name.clone(),
                value: (!e.value.is_empty()).then(|| e.value.clone()),
                value_from,
            },
        );
    }
    merged.into_values().collect()
}

/// The proxy variables of an environment (`HTTP_PROXY`, `no_proxy`, ...), non-empty only.
pub fn proxy_env_of(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<_> = vars
        .into_iter()
        .filter(|(k, v)| k.to_ascii_lowercase().ends_with("_proxy") && !v.is_empty())
        .collect();
    out.sort();
    out
}

/// A static Pod of the control plane: one container, host network, critical priority,
/// the runtime's default seccomp profile, volumes sorted by name.
pub fn component_pod(
    container: Container,
    volumes: BTreeMap<String, Volume>,
    annotations: BTreeMap<String, String>,
) -> Pod {
    let name = container.name.clone();
    let labels = BTreeMap::from([
        ("component".to_string(), name.clone()),
        ("tier".to_string(), "control-plane".to_string()),
    ]);
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some("kube-system".to_string()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![container],
            host_network: Some(true),
            priority: Some(SYSTEM_NODE_CRITICAL_PRIORITY),
            priority_class_name: Some("system-node-critical".to_string()),
            security_context: Some(PodSecurityContext {
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_string(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            volumes: Some(volumes.into_values().collect()),
            ..Default::default()
        }),
        status: Some(PodStatus::default()),
    }
}

/// A Pod as YAML, keys sorted as upstream's serializer leaves them.
pub fn to_yaml(pod: &Pod) -> anyhow::Result<String> {
    let value = serde_json::to_value(pod).context("encoding the Pod")?;
    crate::yaml::to_string(&value)
}

/// Reads a static Pod manifest.
pub fn from_yaml(path: &Path, text: &str) -> anyhow::Result<Pod> {
    crate::yaml::check_nesting(text, &path.display().to_string())?;
    serde_yaml_ng::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a valid Pod manifest: {}",
            path.display(),
            crate::yaml::error_without_values(&e)
        )
    })
}

/// Patches a static Pod with the user's patches for `target`, then writes it to
/// `dir/<name>.yaml` (mode 0600, the directory 0700) and returns the path.
pub fn write_static_pod(
    host: &dyn Host,
    dir: &Path,
    pod: Pod,
    patches: Option<&PatchSet>,
) -> anyhow::Result<PathBuf> {
    let name = pod
        .metadata
        .name
        .clone()
        .context("a static Pod needs a name")?;
    let text = render_static_pod(pod, patches)?;
    host.create_dir_all(dir, 0o700)?;
    let path = manifest_path(dir, &name);
    host.write_file(&path, text.as_bytes(), 0o600, Sensitivity::Public)
        .with_context(|| format!("writing the static Pod manifest of {name}"))?;
    Ok(path)
}

/// A static Pod's manifest as it is written: the user's patches for its target applied,
/// then YAML. Init, join and upgrade write the same bytes for the same configuration.
pub fn render_static_pod(pod: Pod, patches: Option<&PatchSet>) -> anyhow::Result<String> {
    let name = pod
        .metadata
        .name
        .clone()
        .context("a static Pod needs a name")?;
    let pod = match patches {
        Some(set) => {
            let target = Target::from_name(&name).context("a static Pod of a known component")?;
            let patched = set.apply(target, serde_json::to_value(&pod)?)?;
            serde_json::from_value(patched)
                .with_context(|| format!("the patches for {name} do not leave a valid Pod"))?
        }
        None => pod,
    };
    to_yaml(&pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_variables_only() {
        let vars = vec![
            ("HTTPS_PROXY".to_string(), "http://proxy:3128".to_string()),
            ("no_proxy".to_string(), "10.0.0.0/8".to_string()),
            ("FTP_PROXY".to_string(), String::new()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        assert_eq!(
            proxy_env_of(vars),
            vec![
                ("HTTPS_PROXY".to_string(), "http://proxy:3128".to_string()),
                ("no_proxy".to_string(), "10.0.0.0/8".to_string()),
            ]
        );
    }

    #[test]
    fn extra_envs_win_over_proxy_and_sort_by_name() {
        let proxy = vec![("HTTP_PROXY".to_string(), "http://a".to_string())];
        let extra = vec![
            v1beta4::EnvVar {
                name: "HTTP_PROXY".into(),
                value: "http://b".into(),
                value_from: None,
            },
            v1beta4::EnvVar {
                name: "A".into(),
                value: "1".into(),
                value_from: None,
            },
        ];
        let env = merge_env(&proxy, &extra);
        let pairs: Vec<_> = env
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(pairs, vec![("A", "1"), ("HTTP_PROXY", "http://b")]);
    }

    #[test]
    fn startup_probe_spans_the_timeout() {
        let t = ProbeTarget {
            host: "127.0.0.1".into(),
            scheme: "HTTPS",
        };
        assert_eq!(startup_probe(&t, "/livez", 240).failure_threshold, Some(24));
        assert_eq!(startup_probe(&t, "/livez", 5).failure_threshold, Some(1));
        assert_eq!(startup_probe(&t, "/livez", 245).failure_threshold, Some(25));
    }
}

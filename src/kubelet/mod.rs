//! The kubelet's files and service: `/var/lib/kubelet/config.yaml` (the cluster's
//! KubeletConfiguration with kubeadm's defaults), `/var/lib/kubelet/instance-config.yaml`
//! (this node's CRI endpoint), `/var/lib/kubelet/kubeadm-flags.env` (this node's flags),
//! and the stop/restart of the kubelet around writing them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Map, Value};

use crate::config::v1beta4::Arg;
use crate::config::InitConfiguration;
use crate::host::{Host, Sensitivity};
use crate::manifests::args;
use crate::patches::{strategic_merge, PatchSet, Target};

/// The kubelet's state directory.
pub const KUBELET_DIR: &str = "/var/lib/kubelet";
/// The cluster-wide kubelet configuration file in [`KUBELET_DIR`].
pub const CONFIG_FILE: &str = "config.yaml";
/// The node's own kubelet configuration, merged over [`CONFIG_FILE`].
pub const INSTANCE_CONFIG_FILE: &str = "instance-config.yaml";
/// The environment file with the node's kubelet flags.
pub const FLAGS_ENV_FILE: &str = "kubeadm-flags.env";
/// The variable the kubelet's systemd drop-in expands.
pub const FLAGS_ENV_VARIABLE: &str = "KUBELET_KUBEADM_ARGS";
/// Where the kubelet finds its resolver settings when systemd-resolved manages
/// `/etc/resolv.conf` (which then points at a stub resolver unusable inside Pods).
pub const SYSTEMD_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";

const API_VERSION: &str = "kubelet.config.k8s.io/v1beta1";

/// The KubeletConfiguration kubeadm writes before defaulting: every field the versioned
/// type always serializes, at its zero value (the kubelet reads zero as "use the
/// default"), as upstream's file has them.
fn base_document() -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {},
            "webhook": {"cacheTTL": "0s"},
            "x509": {}
        },
        "authorization": {
            "webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"}
        },
        "containerRuntimeEndpoint": "",
        "cpuManagerReconcilePeriod": "0s",
        "crashLoopBackOff": {},
        "evictionPressureTransitionPeriod": "0s",
        "fileCheckFrequency": "0s",
        "httpCheckFrequency": "0s",
        "imageMaximumGCAge": "0s",
        "imageMinimumGCAge": "0s",
        "logging": {
            "flushFrequency": 0,
            "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
            "verbosity": 0
        },
        "memorySwap": {},
        "nodeStatusReportFrequency": "0s",
        "nodeStatusUpdateFrequency": "0s",
        "runtimeRequestTimeout": "0s",
        "shutdownGracePeriod": "0s",
        "shutdownGracePeriodCriticalPods": "0s",
        "streamingConnectionIdleTimeout": "0s",
        "syncFrequency": "0s",
        "volumeStatsAggPeriod": "0s"
    })
}

fn deep_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn object_at<'a>(doc: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = doc;
    for key in path {
        let map = cur.as_object_mut().expect("an object");
        cur = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
    }
    cur.as_object_mut().expect("an object")
}

fn is_unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

fn default_field(map: &mut Map<String, Value>, key: &str, value: Value) {
    if is_unset(map.get(key)) {
        map.insert(key.to_string(), value);
    }
}

/// The cluster's KubeletConfiguration: the user's document (if any) over the base, with
/// kubeadm's defaults for what the user left unset. This is what the `kubelet-config`
/// ConfigMap holds and every node starts from.
pub fn cluster_configuration(cfg: &InitConfiguration) -> anyhow::Result<Value> {
    document(
        &cfg.cluster.networking.service_subnet,
        &cfg.cluster.networking.dns_domain,
        &cfg.cluster.certificates_dir,
        cfg.versioned.kubelet.as_ref(),
    )
}

/// The KubeletConfiguration for a cluster's service subnet, DNS domain and certificate
/// directory, over the user's document when there is one.
pub fn document(
    service_subnet: &str,
    dns_domain: &str,
    cert_dir: &Path,
    user: Option<&serde_yaml_ng::Mapping>,
) -> anyhow::Result<Value> {
    let mut doc = base_document();
    if let Some(user) = user {
        let user = serde_json::to_value(user).context("reading the KubeletConfiguration")?;
        deep_merge(&mut doc, &user);
    }
    let dns_ip = crate::pki::dns_service_ip(service_subnet)?;
    let ca = cert_dir.join("ca.crt").display().to_string();
    let root = doc
        .as_object_mut()
        .context("a KubeletConfiguration mapping")?;
    default_field(root, "clusterDNS", json!([dns_ip.to_string()]));
    default_field(root, "clusterDomain", json!(dns_domain));
    default_field(
        root,
        "staticPodPath",
        json!(crate::manifests::MANIFESTS_DIR),
    );
    default_field(root, "healthzBindAddress", json!("127.0.0.1"));
    default_field(root, "healthzPort", json!(10248));
    default_field(root, "cgroupDriver", json!("systemd"));
    // Client certificate rotation is how kubeadm's nodes renew their identity.
    root.insert("rotateCertificates".into(), json!(true));
    default_field(
        object_at(&mut doc, &["authentication", "x509"]),
        "clientCAFile",
        json!(ca),
    );
    default_field(
        object_at(&mut doc, &["authentication", "anonymous"]),
        "enabled",
        json!(false),
    );
    default_field(
        object_at(&mut doc, &["authentication", "webhook"]),
        "enabled",
        json!(true),
    );
    default_field(
        object_at(&mut doc, &["authorization"]),
        "mode",
        json!("Webhook"),
    );
    Ok(doc)
}

/// This node's part of the kubelet configuration: its CRI endpoint.
pub fn instance_configuration(cri_socket: &str) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": cri_socket,
    })
}

/// The node-specific settings applied when writing `config.yaml` on a node.
fn mutate_for_node(host: &dyn Host, doc: &mut Value) {
    let resolved = host
        .systemctl("is-active", "systemd-resolved")
        .map(|o| o.success())
        .unwrap_or(false);
    if resolved {
        if let Some(root) = doc.as_object_mut() {
            match root.get("resolvConf").and_then(Value::as_str) {
                None | Some("") => {
                    root.insert("resolvConf".into(), json!(SYSTEMD_RESOLV_CONF));
                }
                Some(other) if other != SYSTEMD_RESOLV_CONF => tracing::warn!(
                    "systemd-resolved is active but the kubelet's resolvConf is {other:?}, not {SYSTEMD_RESOLV_CONF:?}; Pods may get a stub resolver they cannot use"
                ),
                Some(_) => {}
            }
        }
    }
}

/// YAML of a JSON value, keys sorted.
pub fn to_yaml(v: &Value) -> anyhow::Result<String> {
    crate::yaml::to_string(v)
}

/// The flags for this node's kubelet (`KUBELET_KUBEADM_ARGS`): `--hostname-override` when
/// the node name is not the host name, `--register-with-taints` when asked to, merged
/// with `kubeletExtraArgs`.
pub fn flags(
    hostname: &str,
    node_name: &str,
    taints: Option<&str>,
    extra_args: &[Arg],
) -> Vec<String> {
    let mut defaults: Vec<Arg> = Vec::new();
    if let Some(t) = taints.filter(|t| !t.is_empty()) {
        defaults.push(args::arg("register-with-taints", t));
    }
    let name = args::get(extra_args, "hostname-override").unwrap_or(node_name);
    if name != hostname {
        defaults.push(args::arg("hostname-override", name));
    }
    args::to_command(&defaults, extra_args)
}

/// `KUBELET_KUBEADM_ARGS="..."` with the quoting upstream uses (Go's `%q`).
pub fn flags_env(flags: &[String]) -> String {
    format!("{FLAGS_ENV_VARIABLE}={}\n", go_quote(&flags.join(" ")))
}

/// `kubeadm-flags.env` without the named flags (`--name` or `--name=value`); any other
/// line, and the order of the remaining flags, are kept.
pub fn remove_flags(text: &str, names: &[&str]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let rest = line
            .strip_prefix(FLAGS_ENV_VARIABLE)
            .and_then(|r| r.strip_prefix('='));
        match rest {
            Some(value) => {
                let unquoted = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value)
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\");
                let kept: Vec<String> = unquoted
                    .split_whitespace()
                    .filter(|f| {
                        let name = f.split('=').next().unwrap_or(f);
                        !names.contains(&name)
                    })
                    .map(str::to_string)
                    .collect();
                out.push_str(&flags_env(&kept));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What `kubelet-start` writes.
pub struct KubeletFiles {
    /// `config.yaml`'s content.
    pub config: String,
    /// `instance-config.yaml`'s content.
    pub instance_config: String,
    /// `kubeadm-flags.env`'s content.
    pub flags_env: String,
}

/// Builds the three kubelet files of this node.
pub fn files(
    host: &dyn Host,
    cluster_config: Value,
    cri_socket: &str,
    flags: &[String],
    patches: Option<&PatchSet>,
) -> anyhow::Result<KubeletFiles> {
    let instance = instance_configuration(cri_socket);
    let mut doc = cluster_config;
    mutate_for_node(host, &mut doc);
    strategic_merge(&mut doc, &instance, false);
    if let Some(set) = patches {
        doc = set.apply(Target::KubeletConfiguration, doc)?;
    }
    Ok(KubeletFiles {
        config: to_yaml(&doc)?,
        instance_config: to_yaml(&instance)?,
        flags_env: flags_env(flags),
    })
}

/// Writes the kubelet files into `dir` (created 0700 as upstream; files 0644).
pub fn write_files(host: &dyn Host, dir: &Path, f: &KubeletFiles) -> anyhow::Result<Vec<PathBuf>> {
    host.create_dir_all(dir, 0o700)?;
    let mut written = Vec::new();
    for (name, content) in [
        (FLAGS_ENV_FILE, &f.flags_env),
        (INSTANCE_CONFIG_FILE, &f.instance_config),
        (CONFIG_FILE, &f.config),
    ] {
        let path = dir.join(name);
        host.write_file(&path, content.as_bytes(), 0o644, Sensitivity::Public)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// What happened to the kubelet service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceOutcome {
    /// systemctl did what was asked.
    Done,
    /// No systemd on this host (no `systemctl`): the kubelet must be managed by hand.
    NoInitSystem,
    /// systemctl failed; the text says why.
    Failed(String),
}

fn systemctl(host: &dyn Host, action: &str) -> ServiceOutcome {
    if host.find_executable("systemctl").is_none() {
        return ServiceOutcome::NoInitSystem;
    }
    match host.systemctl(action, "kubelet") {
        Ok(o) if o.success() => ServiceOutcome::Done,
        Ok(o) => ServiceOutcome::Failed(o.stderr.trim().to_string()),
        Err(e) => ServiceOutcome::Failed(e.to_string()),
    }
}

/// Stops the kubelet so it does not start from half-written settings.
pub fn stop(host: &dyn Host) -> ServiceOutcome {
    systemctl(host, "stop")
}

/// (Re)starts the kubelet so it reads the new settings.
pub fn restart(host: &dyn Host) -> ServiceOutcome {
    systemctl(host, "restart")
}

/// The node a kubelet kubeconfig (`kubelet.conf`) authenticates as: the `<name>` of its
/// client certificate's CN `system:node:<name>`. The certificate is embedded after init,
/// a file the kubelet rotates after a TLS bootstrap.
pub fn node_name(host: &dyn Host, path: &Path) -> anyhow::Result<String> {
    use anyhow::Context;
    let kc = crate::kubeconfig::KubeConfig::from_yaml(&host.read_to_string(path)?)
        .with_context(|| path.display().to_string())?;
    let user = kc
        .current_user()
        .with_context(|| format!("{}: no current user", path.display()))?;
    let cert = match (&user.client_certificate_data, &user.client_certificate) {
        (Some(data), _) => data.clone(),
        (None, Some(file)) => host.read(Path::new(file))?,
        (None, None) => anyhow::bail!("{}: no client certificate", path.display()),
    };
    let info = crate::pki::CertInfo::parse_pem(&String::from_utf8_lossy(&cert))?;
    info.common_name
        .strip_prefix("system:node:")
        .map(str::to_string)
        .with_context(|| {
            format!(
                "{}: the client certificate is not a node's ({})",
                path.display(),
                info.common_name
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    #[test]
    fn flags_are_removed_by_name() {
        let text = flags_env(&[
            "--container-runtime-endpoint=unix:///run/c.sock".into(),
            "--pod-infra-container-image=registry.k8s.io/pause:3.9".into(),
            "--node-ip=10.0.0.1".into(),
        ]);
        assert_eq!(
            remove_flags(&text, &["--pod-infra-container-image"]),
            flags_env(&[
                "--container-runtime-endpoint=unix:///run/c.sock".into(),
                "--node-ip=10.0.0.1".into()
            ])
        );
        assert_eq!(remove_flags(&text, &["--absent"]), text);
    }

    #[test]
    fn defaults_for_a_default_cluster() {
        let cfg = test_config();
        let doc = cluster_configuration(&cfg).unwrap();
        assert_eq!(doc["clusterDNS"], json!(["10.96.0.10"]));
        assert_eq!(doc["clusterDomain"], json!("cluster.local"));
        assert_eq!(doc["cgroupDriver"], json!("systemd"));
        assert_eq!(doc["rotateCertificates"], json!(true));
        assert_eq!(doc["staticPodPath"], json!("/etc/kubernetes/manifests"));
        assert_eq!(
            doc["authentication"]["x509"]["clientCAFile"],
            json!("/etc/kubernetes/pki/ca.crt")
        );
        assert_eq!(doc["authentication"]["anonymous"]["enabled"], json!(false));
        assert_eq!(doc["authentication"]["webhook"]["enabled"], json!(true));
        assert_eq!(doc["authorization"]["mode"], json!("Webhook"));
        assert_eq!(doc["healthzPort"], json!(10248));
    }

    #[test]
    fn user_values_win_over_defaults() {
        let mut cfg = test_config();
        let user: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\nclusterDNS: [10.0.0.53]\nmaxPods: 50\nauthentication:\n  anonymous:\n    enabled: true\n",
        )
        .unwrap();
        cfg.versioned.kubelet = Some(user);
        let doc = cluster_configuration(&cfg).unwrap();
        assert_eq!(doc["cgroupDriver"], json!("cgroupfs"));
        assert_eq!(doc["clusterDNS"], json!(["10.0.0.53"]));
        assert_eq!(doc["maxPods"], json!(50));
        assert_eq!(doc["authentication"]["anonymous"]["enabled"], json!(true));
        assert_eq!(doc["authentication"]["webhook"]["enabled"], json!(true));
        assert_eq!(doc["rotateCertificates"], json!(true));
    }

    #[test]
    fn flags_file() {
        assert_eq!(
            flags_env(&flags("node-a", "node-a", None, &[])),
            "KUBELET_KUBEADM_ARGS=\"\"\n"
        );
        let extra = vec![args::arg("node-ip", "10.0.0.5")];
        assert_eq!(
            flags_env(&flags("host", "node-a", Some("key=v:NoSchedule"), &extra)),
            // kubeadm's flags sorted, then the user's (#135400).
            "KUBELET_KUBEADM_ARGS=\"--hostname-override=node-a --register-with-taints=key=v:NoSchedule --node-ip=10.0.0.5\"\n"
        );
        let extra = vec![args::arg("hostname-override", "host")];
        assert_eq!(
            flags("host", "node-a", None, &extra),
            vec!["--hostname-override=host"]
        );
    }
}

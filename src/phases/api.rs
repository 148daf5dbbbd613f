//! The phases of `kubeadm init` that talk to the cluster: the admin binding,
//! upload-config, mark-control-plane, bootstrap-token (with cluster-info), kubelet-finalize
//! and upload-certs; and the reading of the configuration the cluster holds. Every object
//! is the one upstream creates, with its name, labels and rules.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::api::rbac::v1::Subject;
use serde_json::Value;

use crate::client::{self, Api, Put};
use crate::config::InitConfiguration;
use crate::host::{Host, Sensitivity};
use crate::objects::{self, group, user};
use crate::token::NODE_BOOTSTRAP_GROUP;

/// The group of every node.
pub const NODES_GROUP: &str = "system:nodes";
/// The group admin.conf's user is in.
pub const CLUSTER_ADMINS_GROUP: &str = "kubeadm:cluster-admins";

fn cluster_role_binding(name: &str, role: &str, subjects: Vec<Subject>) -> Value {
    objects::to_value(&objects::cluster_role_binding(name, role, subjects))
}

fn role(ns: &str, name: &str, config_maps: &[&str]) -> Value {
    objects::to_value(&objects::config_map_reader(ns, name, config_maps))
}

fn role_binding(ns: &str, name: &str, subjects: Vec<Subject>) -> Value {
    objects::to_value(&objects::role_binding(ns, name, subjects))
}

pub(super) fn timeouts(cfg: &InitConfiguration) -> crate::config::v1beta4::Timeouts {
    cfg.versioned.init.timeouts.clone().unwrap_or_default()
}

pub(super) fn secs(d: Option<&crate::duration::GoDuration>, default: u64) -> Duration {
    d.map(|d| d.0).unwrap_or(Duration::from_secs(default))
}

/// The `kubeadm:cluster-admins` ClusterRoleBinding that gives admin.conf its rights, made
/// with super-admin.conf when admin.conf is not authorized yet (as upstream), and the
/// binding that lets the API server reach the kubelets' APIs.
pub fn ensure_admin_bindings(admin: &dyn Api, super_admin: Option<&dyn Api>) -> anyhow::Result<()> {
    let crb = cluster_role_binding(
        "kubeadm:cluster-admins",
        "cluster-admin",
        vec![group(CLUSTER_ADMINS_GROUP)],
    );
    let coll = client::collection("ClusterRoleBinding", None);
    match client::retry(8, || {
        admin.call("POST", &coll, Some(&crb), "application/json")
    }) {
        Ok(_) => {}
        Err(e) if e.is_already_exists() => {}
        Err(e) if e.code == 403 => {
            let sa = super_admin.context(
                "admin.conf is not authorized yet and there is no super-admin.conf to create the kubeadm:cluster-admins binding with",
            )?;
            client::create_or_retain(sa, &crb)?;
        }
        Err(e) => return Err(e).context("creating the kubeadm:cluster-admins ClusterRoleBinding"),
    }
    client::create_or_update(
        admin,
        &cluster_role_binding(
            "kubeadm:apiserver-kubelet-client",
            "system:kubelet-api-admin",
            vec![user("kube-apiserver-kubelet-client")],
        ),
    )?;
    Ok(())
}

/// The cluster's ClusterConfiguration, as `upload-config` stored it in
/// `kube-system/kubeadm-config`.
pub fn read_kubeadm_config(api: &dyn Api) -> anyhow::Result<crate::config::documents::Documents> {
    let cm = api
        .call(
            "GET",
            &client::object_path("ConfigMap", Some("kube-system"), "kubeadm-config"),
            None,
            "application/json",
        )
        .map_err(|e| anyhow::anyhow!(e))
        .context("reading the kubeadm-config ConfigMap")?;
    kubeadm_config_documents(&cm)
}

/// As [`read_kubeadm_config`], asking again every half second on any failure until
/// `timeout`: what `join` does with its `timeouts.kubernetesAPICall` since upstream's #139667
/// (an API server behind a load balancer may fail a few requests while it settles). `reset`
/// keeps the single read.
pub fn read_kubeadm_config_within(
    api: &dyn Api,
    timeout: Duration,
) -> anyhow::Result<crate::config::documents::Documents> {
    let start = std::time::Instant::now();
    let path = client::object_path("ConfigMap", Some("kube-system"), "kubeadm-config");
    loop {
        match api.call("GET", &path, None, "application/json") {
            Ok(cm) => return kubeadm_config_documents(&cm),
            Err(e) if start.elapsed() < timeout => {
                tracing::debug!("reading the kubeadm-config ConfigMap: {e}; retrying");
                crate::interrupt::sleep(Duration::from_millis(500).min(timeout))?;
            }
            Err(e) => {
                return Err(anyhow::anyhow!(e)).with_context(|| {
                    format!(
                        "reading the kubeadm-config ConfigMap (tried for {})",
                        crate::duration::format_duration(timeout)
                    )
                })
            }
        }
    }
}

/// The configuration documents of a `kubeadm-config` ConfigMap (its ClusterConfiguration).
pub fn kubeadm_config_documents(
    cm: &serde_json::Value,
) -> anyhow::Result<crate::config::documents::Documents> {
    let text = cm["data"]["ClusterConfiguration"]
        .as_str()
        .context("the kubeadm-config ConfigMap has no ClusterConfiguration")?;
    crate::yaml::check_untrusted(text, "the kubeadm-config ConfigMap")?;
    Ok(crate::config::documents::parse(
        text,
        "kubeadm-config ConfigMap",
    )?)
}

/// The cluster's KubeletConfiguration, from a `kubelet-config` ConfigMap (key `kubelet`).
pub fn kubelet_config_of(cm: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let text = cm["data"]["kubelet"]
        .as_str()
        .context("the kubelet-config ConfigMap has no \"kubelet\" key")?;
    let value: serde_json::Value =
        crate::yaml::from_untrusted(text, "the kubelet-config ConfigMap's KubeletConfiguration")?;
    if !value.is_object() {
        anyhow::bail!("the kubelet-config ConfigMap's \"kubelet\" key is not a KubeletConfiguration (a mapping)");
    }
    Ok(value)
}

/// `upload-config kubeadm`: the ClusterConfiguration in `kube-system/kubeadm-config`,
/// readable by nodes and join tokens.
pub fn upload_kubeadm_config(api: &dyn Api, cfg: &InitConfiguration) -> anyhow::Result<()> {
    println!("[upload-config] Storing the configuration used in ConfigMap \"kubeadm-config\" in the \"kube-system\" Namespace");
    let text = crate::yaml::to_string(&cfg.versioned.cluster)?;
    let name = "kubeadm:nodes-kubeadm-config";
    client::put_all(
        api,
        &[
            Put::Apply(objects::to_value(&objects::config_map(
                "kube-system",
                "kubeadm-config",
                &[("ClusterConfiguration", &text)],
            ))),
            Put::Apply(role("kube-system", name, &["kubeadm-config"])),
            Put::Apply(role_binding(
                "kube-system",
                name,
                vec![group(NODE_BOOTSTRAP_GROUP), group(NODES_GROUP)],
            )),
        ],
    )
}

/// `upload-config kubelet`: the cluster's KubeletConfiguration in `kube-system/kubelet-config`.
pub fn upload_kubelet_config(api: &dyn Api, cfg: &InitConfiguration) -> anyhow::Result<()> {
    println!("[kubelet] Creating a ConfigMap \"kubelet-config\" in namespace kube-system with the configuration for the kubelets in the cluster");
    let kubelet = crate::kubelet::to_yaml(&crate::kubelet::cluster_configuration(cfg)?)?;
    let name = "kubeadm:kubelet-config";
    client::put_all(
        api,
        &[
            Put::Apply(objects::to_value(&objects::config_map(
                "kube-system",
                "kubelet-config",
                &[("kubelet", &kubelet)],
            ))),
            Put::Apply(role("kube-system", name, &["kubelet-config"])),
            Put::Apply(role_binding(
                "kube-system",
                name,
                vec![group(NODES_GROUP), group(NODE_BOOTSTRAP_GROUP)],
            )),
        ],
    )
}

/// The labels a control-plane node gets.
pub const CONTROL_PLANE_LABELS: [&str; 2] = [
    "node-role.kubernetes.io/control-plane",
    "node.kubernetes.io/exclude-from-external-load-balancers",
];

/// `mark-control-plane`: the labels and the taints (`nodeRegistration.taints`, by default
/// `node-role.kubernetes.io/control-plane:NoSchedule`), waiting for the Node to register.
pub fn mark_control_plane(
    api: &dyn Api,
    cfg: &InitConfiguration,
    dry_run: bool,
) -> anyhow::Result<()> {
    let node = &cfg.node_registration.name;
    let taints: Vec<Taint> = match &cfg.versioned.init.node_registration.taints {
        Some(t) => t
            .iter()
            .map(|t| Taint {
                effect: t.effect.clone(),
                key: t.key.clone(),
                value: (!t.value.is_empty()).then(|| t.value.clone()),
                time_added: None,
            })
            .collect(),
        None => vec![Taint {
            effect: "NoSchedule".into(),
            key: "node-role.kubernetes.io/control-plane".into(),
            ..Default::default()
        }],
    };
    println!(
        "[mark-control-plane] Marking the node {node} as control-plane by adding the labels: [{}]",
        CONTROL_PLANE_LABELS
            .iter()
            .map(|l| format!("{l}="))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let shown: Vec<String> = taints
        .iter()
        .map(|t| format!("{}:{}", t.key, t.effect))
        .collect();
    println!(
        "[mark-control-plane] Marking the node {node} as control-plane by adding the taints [{}]",
        shown.join(" ")
    );
    let path = client::object_path("Node", None, node);
    let mark = |n: &mut Node| {
        let labels = n.metadata.labels.get_or_insert_with(Default::default);
        for l in CONTROL_PLANE_LABELS {
            labels.insert(l.to_string(), String::new());
        }
        let list = n
            .spec
            .get_or_insert_with(Default::default)
            .taints
            .get_or_insert_with(Vec::new);
        for t in &taints {
            if !list.iter().any(|e| e.key == t.key && e.effect == t.effect) {
                list.push(t.clone());
            }
        }
    };
    if dry_run {
        let mut node = Node::default();
        mark(&mut node);
        let patch = objects::to_value(&node);
        api.call(
            "PATCH",
            &path,
            Some(&patch),
            "application/strategic-merge-patch+json",
        )?;
        return Ok(());
    }
    let timeout = secs(timeouts(cfg).kubernetes_api_call.as_ref(), 60);
    let start = std::time::Instant::now();
    let mut poll = crate::interrupt::Poll::new();
    loop {
        let result = client::retry(8, || {
            let got = api.call("GET", &path, None, "application/json")?;
            let mut node: Node = serde_json::from_value(got).map_err(|e| client::ApiError {
                code: 200,
                reason: "InvalidBody".into(),
                message: format!("the Node {node} as the API server returned it: {e}"),
            })?;
            mark(&mut node);
            api.call(
                "PUT",
                &path,
                Some(&objects::to_value(&node)),
                "application/json",
            )
        });
        // Any error is asked again until the polling ends, not only a Node that is not
        // registered yet: upstream since #135776.
        match result {
            Ok(_) => return Ok(()),
            Err(e) if start.elapsed() < timeout => {
                if !e.is_not_found() {
                    tracing::debug!("marking the node {node:?}: {e}; retrying");
                }
                poll.pause()?
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("error marking the node {node:?} as control-plane (is the kubelet running and registering the Node?)")
                })
            }
        }
    }
}

/// `bootstrap-token`: the tokens, the RBAC rules node bootstrap needs, and `cluster-info`.
pub fn bootstrap_token(
    api: &dyn Api,
    cfg: &InitConfiguration,
    admin_kubeconfig: &str,
    skip_token_print: bool,
) -> anyhow::Result<()> {
    for (i, t) in cfg.versioned.init.bootstrap_tokens.iter().enumerate() {
        let token = crate::token::BootstrapToken::parse(&t.token)
            .with_context(|| format!("InitConfiguration.bootstrapTokens[{i}].token"))?;
        if i == 0 && !skip_token_print {
            println!("[bootstrap-token] Using token: {token}");
        }
        let expires = match (&t.expires, &t.ttl) {
            (Some(e), _) => Some(
                time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339)
                    .with_context(|| {
                        format!("bootstrapTokens[{i}].expires {e:?} is not RFC 3339")
                    })?,
            ),
            (None, Some(ttl)) if !ttl.0.is_zero() => Some(
                time::OffsetDateTime::now_utc()
                    + time::Duration::try_from(ttl.0).unwrap_or(time::Duration::MAX),
            ),
            _ => None,
        };
        let spec = crate::token::TokenSpec {
            token,
            description: t.description.clone(),
            expires,
            usages: t.usages.clone(),
            groups: t.groups.clone(),
        };
        // init updates a token that already exists (a re-run), as upstream does.
        client::create_or_update(api, &spec.to_secret())?;
    }
    println!("[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles");
    bootstrap_rbac_and_cluster_info(api, admin_kubeconfig)
}

/// The RBAC rules node bootstrap needs and `cluster-info` with its anonymous access: what
/// `bootstrap-token` sets up besides the tokens (and all that `upgrade apply` re-applies).
pub fn bootstrap_rbac_and_cluster_info(
    api: &dyn Api,
    admin_kubeconfig: &str,
) -> anyhow::Result<()> {
    let name = "kubeadm:bootstrap-signer-clusterinfo";
    client::put_all(
        api,
        &[
            Put::Apply(objects::to_value(&objects::cluster_role(
                "kubeadm:get-nodes",
                vec![objects::rule(&[""], &["nodes"], &[], &["get"])],
            ))),
            Put::Apply(cluster_role_binding(
                "kubeadm:get-nodes",
                "kubeadm:get-nodes",
                vec![group(NODE_BOOTSTRAP_GROUP)],
            )),
            Put::Apply(cluster_role_binding(
                "kubeadm:kubelet-bootstrap",
                "system:node-bootstrapper",
                vec![group(NODE_BOOTSTRAP_GROUP)],
            )),
            Put::Apply(cluster_role_binding(
                "kubeadm:node-autoapprove-bootstrap",
                "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                vec![group(NODE_BOOTSTRAP_GROUP)],
            )),
            Put::Apply(cluster_role_binding(
                "kubeadm:node-autoapprove-certificate-rotation",
                "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                vec![group(NODES_GROUP)],
            )),
            // An existing cluster-info (signed by the bootstrap signer) is kept, as upstream.
            Put::Keep(objects::to_value(&objects::config_map(
                "kube-public",
                "cluster-info",
                &[("kubeconfig", admin_kubeconfig)],
            ))),
            Put::Apply(role("kube-public", name, &["cluster-info"])),
            Put::Apply(role_binding(
                "kube-public",
                name,
                vec![user("system:anonymous")],
            )),
        ],
    )?;
    for line in [
        "Configured RBAC rules to allow Node Bootstrap tokens to get nodes",
        "Configured RBAC rules to allow Node Bootstrap tokens to post CSRs in order for nodes to get long term certificate credentials",
        "Configured RBAC rules to allow the csrapprover controller automatically approve CSRs from a Node Bootstrap Token",
        "Configured RBAC rules to allow certificate rotation for all node client certificates in the cluster",
        "Creating the \"cluster-info\" ConfigMap in the \"kube-public\" namespace",
    ] {
        println!("[bootstrap-token] {line}");
    }
    Ok(())
}

/// The kubeconfig `cluster-info` holds: the cluster's server and CA only, written as
/// client-go writes a config with one unnamed cluster.
pub fn cluster_info_kubeconfig(host: &dyn Host, admin_conf: &Path) -> anyhow::Result<String> {
    let text = host
        .read_to_string(admin_conf)
        .with_context(|| format!("reading {}", admin_conf.display()))?;
    let kc = crate::kubeconfig::KubeConfig::from_yaml(&text)?;
    let cluster = kc
        .current_cluster()
        .with_context(|| format!("{}: no current cluster", admin_conf.display()))?;
    use base64::Engine;
    Ok(format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {}\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n",
        base64::engine::general_purpose::STANDARD.encode(&cluster.certificate_authority_data),
        cluster.server
    ))
}

/// `kubelet-finalize enable-client-cert-rotation`: kubelet.conf points at the rotated
/// client certificate once the kubelet has one.
pub fn kubelet_finalize(host: &dyn Host, kubeconfig_dir: &Path) -> anyhow::Result<()> {
    let pem = Path::new(crate::kubelet::KUBELET_DIR).join("pki/kubelet-client-current.pem");
    let conf = kubeconfig_dir.join("kubelet.conf");
    if !host.exists(&conf)? {
        println!(
            "[kubelet-finalize] {} does not exist: nothing to update",
            conf.display()
        );
        return Ok(());
    }
    if !host.exists(&pem)? {
        println!(
            "[kubelet-finalize] {} does not exist yet: {} keeps its embedded client certificate",
            pem.display(),
            conf.display()
        );
        return Ok(());
    }
    let mut kc = crate::kubeconfig::KubeConfig::from_yaml(&host.read_to_string(&conf)?)?;
    for u in kc.users.iter_mut() {
        u.user.client_certificate_data = None;
        u.user.client_key_data = None;
        u.user.client_certificate = Some(pem.display().to_string());
        u.user.client_key = Some(pem.display().to_string());
    }
    println!(
        "[kubelet-finalize] Updating {:?} to point to a rotatable kubelet client certificate and key",
        conf.display().to_string()
    );
    host.write_file(&conf, kc.to_yaml()?.as_bytes(), 0o600, Sensitivity::Secret)?;
    Ok(())
}

/// `upload-certs`: the shared certificates and keys, each AES-256-GCM encrypted with the
/// certificate key, in `kube-system/kubeadm-certs`, owned by a bootstrap token that expires
/// in two hours (so the Secret goes with it), readable by join tokens.
pub fn upload_certs(
    api: &dyn Api,
    host: &dyn Host,
    cfg: &InitConfiguration,
    key_hex: &str,
) -> anyhow::Result<()> {
    println!(
        "[upload-certs] Storing the certificates in Secret \"{}\" in the \"kube-system\" Namespace",
        crate::copycerts::SECRET_NAME
    );
    let key = crate::copycerts::decode_key(key_hex)?;
    let owner = crate::token::TokenSpec {
        token: crate::token::BootstrapToken::generate()?,
        description: "Proxy for managing TTL for the kubeadm-certs secret".into(),
        expires: Some(
            time::OffsetDateTime::now_utc()
                + time::Duration::seconds(crate::copycerts::CERT_TOKEN_TTL_SECS),
        ),
        usages: vec![],
        groups: vec![],
    };
    let owner_secret = client::create_or_update(api, &owner.to_secret())?;
    let owner_name = format!("bootstrap-token-{}", owner.token.id());
    let uid = match owner_secret["metadata"]["uid"].as_str() {
        Some(u) => u.to_string(),
        None => api
            .call(
                "GET",
                &client::object_path("Secret", Some("kube-system"), &owner_name),
                None,
                "application/json",
            )
            .ok()
            .and_then(|s| s["metadata"]["uid"].as_str().map(String::from))
            .unwrap_or_default(),
    };
    let mut data = std::collections::BTreeMap::new();
    for (name, path) in crate::copycerts::certs_to_transfer(cfg) {
        let sealed = match host.read(&path) {
            Ok(bytes) => crate::copycerts::encrypt(&bytes, &key)?,
            // A file this node does not have (an external CA's key) is uploaded empty.
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        data.insert(name, sealed);
    }
    client::create_or_update(
        api,
        &objects::to_value(&objects::opaque_secret(
            "kube-system",
            crate::copycerts::SECRET_NAME,
            data,
            Some(objects::secret_owner(&owner_name, &uid)),
        )),
    )?;
    let name = "kubeadm:kubeadm-certs";
    client::create_or_update(
        api,
        &objects::to_value(&objects::role(
            "kube-system",
            name,
            vec![objects::rule(
                &[""],
                &["secrets"],
                &[crate::copycerts::SECRET_NAME],
                &["get"],
            )],
        )),
    )?;
    client::create_or_update(
        api,
        &role_binding("kube-system", name, vec![group(NODE_BOOTSTRAP_GROUP)]),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// An API that answers each call with the next scripted answer (the last one repeats).
    struct Scripted(Mutex<Vec<Result<serde_json::Value, client::ApiError>>>);

    impl Api for Scripted {
        fn call(
            &self,
            _: &str,
            _: &str,
            _: Option<&serde_json::Value>,
            _: &str,
        ) -> Result<serde_json::Value, client::ApiError> {
            let mut answers = self.0.lock().unwrap();
            if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            }
        }
    }

    fn refused(code: u16, reason: &str) -> Result<serde_json::Value, client::ApiError> {
        Err(client::ApiError {
            code,
            reason: reason.into(),
            message: format!("{reason} for the test"),
        })
    }

    #[test]
    fn marking_the_control_plane_retries_unknown_errors_until_the_timeout() {
        let mut cfg = crate::config::test_config();
        let node = serde_json::json!({"metadata": {"name": cfg.node_registration.name}});
        // GET refused twice (not transient, not NotFound), then GET and PUT answer.
        let api = Scripted(Mutex::new(vec![
            refused(403, "Forbidden"),
            refused(422, "Invalid"),
            Ok(node.clone()),
            Ok(node),
        ]));
        mark_control_plane(&api, &cfg, false).unwrap();

        cfg.versioned.init.timeouts = Some(crate::config::v1beta4::Timeouts {
            kubernetes_api_call: Some(crate::duration::GoDuration(Duration::from_millis(300))),
            ..Default::default()
        });
        let api = Scripted(Mutex::new(vec![refused(403, "Forbidden")]));
        let err = format!("{:#}", mark_control_plane(&api, &cfg, false).unwrap_err());
        assert!(err.contains("Forbidden"), "{err}");
    }

    #[test]
    fn join_reads_kubeadm_config_again_until_its_timeout() {
        let cm = serde_json::json!({"data": {"ClusterConfiguration":
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\n"}});
        let api = Scripted(Mutex::new(vec![
            refused(0, "Unreachable"),
            refused(403, "Forbidden"),
            refused(404, "NotFound"),
            Ok(cm),
        ]));
        let docs = read_kubeadm_config_within(&api, Duration::from_secs(30)).unwrap();
        assert_eq!(docs.cluster.unwrap().kubernetes_version, "v1.37.1");

        let api = Scripted(Mutex::new(vec![refused(503, "ServiceUnavailable")]));
        let err = format!(
            "{:#}",
            read_kubeadm_config_within(&api, Duration::from_millis(300)).unwrap_err()
        );
        assert!(
            err.contains("tried for") && err.contains("ServiceUnavailable"),
            "{err}"
        );
    }
}

//! The cluster objects kubeadm creates, built as typed `k8s-openapi` values so that a
//! misspelt field cannot compile, and turned into JSON (with `apiVersion` and `kind`) only
//! where they go to the API. Shared by `init`, `join` and `upgrade`.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, PodSecurityContext, PodSpec, PodTemplateSpec, Secret, Toleration,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::ByteString;
use serde_json::Value;

/// The name of the Job `upgrade apply` runs to see that the cluster can run a Pod.
pub const HEALTH_CHECK_JOB: &str = "upgrade-health-check";

/// Upstream's upgrade health-check Job named `name`: one pause container, never
/// restarted, as a non-root user, allowed on control-plane nodes; it gives up after
/// `timeout_secs` (`activeDeadlineSeconds`, upstream's #127333: a Pod that never starts
/// still ends) and the TTL controller removes it 5 s after that wait (upstream's
/// #122079, v1.30: kubeadm no longer deletes it itself).
pub fn health_check_job(pause_image: &str, name: &str, timeout_secs: u32) -> Job {
    let control_plane_toleration = |key: &str| Toleration {
        key: Some(key.into()),
        effect: Some("NoSchedule".into()),
        ..Default::default()
    };
    Job {
        metadata: meta(Some("kube-system"), name),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(i64::from(timeout_secs)),
            ttl_seconds_after_finished: Some(
                i32::try_from(timeout_secs.saturating_add(5)).unwrap_or(i32::MAX),
            ),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    security_context: Some(PodSecurityContext {
                        run_as_user: Some(999),
                        run_as_group: Some(999),
                        run_as_non_root: Some(true),
                        ..Default::default()
                    }),
                    tolerations: Some(vec![control_plane_toleration(
                        "node-role.kubernetes.io/control-plane",
                    )]),
                    containers: vec![Container {
                        name: HEALTH_CHECK_JOB.into(),
                        image: Some(pause_image.into()),
                        args: Some(vec!["-v".into()]),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The API group of RBAC objects.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// A typed object as the JSON the API takes, `apiVersion` and `kind` included.
pub fn to_value<K: k8s_openapi::Resource + serde::Serialize>(object: &K) -> Value {
    // Serializing a k8s-openapi type into a JSON value cannot fail: every field is a
    // string, number, map or list with string keys.
    serde_json::to_value(object).expect("a k8s-openapi object serializes to JSON")
}

/// Metadata with a name, and a namespace for namespaced objects.
pub fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        ..Default::default()
    }
}

/// Labels (or a selector) from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A ConfigMap with string data.
pub fn config_map(namespace: &str, name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: meta(Some(namespace), name),
        data: Some(labels(data)),
        ..Default::default()
    }
}

/// An Opaque Secret of raw bytes, optionally owned by another Secret.
pub fn opaque_secret(
    namespace: &str,
    name: &str,
    data: BTreeMap<String, Vec<u8>>,
    owner: Option<OwnerReference>,
) -> Secret {
    let mut metadata = meta(Some(namespace), name);
    metadata.owner_references = owner.map(|o| vec![o]);
    Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
        ..Default::default()
    }
}

/// A controlling owner reference to a Secret, which takes the owned object with it.
pub fn secret_owner(name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Secret".into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// One RBAC rule: verbs on resources of API groups, optionally only named ones.
pub fn rule(
    api_groups: &[&str],
    resources: &[&str],
    resource_names: &[&str],
    verbs: &[&str],
) -> PolicyRule {
    PolicyRule {
        api_groups: Some(strings(api_groups)),
        resources: Some(strings(resources)),
        resource_names: (!resource_names.is_empty()).then(|| strings(resource_names)),
        verbs: strings(verbs),
        ..Default::default()
    }
}

/// A Role with its rules.
pub fn role(namespace: &str, name: &str, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: meta(Some(namespace), name),
        rules: Some(rules),
    }
}

/// A Role that may `get` the named ConfigMaps of its namespace.
pub fn config_map_reader(namespace: &str, name: &str, config_maps: &[&str]) -> Role {
    role(
        namespace,
        name,
        vec![rule(&[""], &["configmaps"], config_maps, &["get"])],
    )
}

/// A ClusterRole with its rules.
pub fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: meta(None, name),
        rules: Some(rules),
        ..Default::default()
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some(RBAC_GROUP.into()),
        kind: kind.into(),
        name: name.into(),
    }
}

/// A RoleBinding of the Role of the same name.
pub fn role_binding(namespace: &str, name: &str, subjects: Vec<Subject>) -> RoleBinding {
    RoleBinding {
        metadata: meta(Some(namespace), name),
        role_ref: role_ref("Role", name),
        subjects: Some(subjects),
    }
}

/// A ClusterRoleBinding of a ClusterRole.
pub fn cluster_role_binding(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(None, name),
        role_ref: role_ref("ClusterRole", role),
        subjects: Some(subjects),
    }
}

/// A group subject.
pub fn group(name: &str) -> Subject {
    Subject {
        api_group: Some(RBAC_GROUP.into()),
        kind: "Group".into(),
        name: name.into(),
        namespace: None,
    }
}

/// A user subject.
pub fn user(name: &str) -> Subject {
    Subject {
        api_group: Some(RBAC_GROUP.into()),
        kind: "User".into(),
        name: name.into(),
        namespace: None,
    }
}

/// A service account subject.
pub fn service_account(namespace: &str, name: &str) -> Subject {
    Subject {
        api_group: None,
        kind: "ServiceAccount".into(),
        name: name.into(),
        namespace: Some(namespace.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_objects_carry_api_version_and_kind() {
        let rb = to_value(&role_binding(
            "kube-public",
            "r",
            vec![user("system:anonymous")],
        ));
        assert_eq!(
            rb,
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "r", "namespace": "kube-public"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}],
            })
        );
        let cm = to_value(&config_map("kube-system", "c", &[("k", "v")]));
        assert_eq!(cm["apiVersion"], "v1");
        assert_eq!(cm["kind"], "ConfigMap");
        assert_eq!(cm["data"]["k"], "v");
        let r = to_value(&config_map_reader("kube-system", "r", &["c"]));
        assert_eq!(
            r["rules"],
            json!([{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["c"], "verbs": ["get"]}])
        );
        let s = to_value(&opaque_secret(
            "kube-system",
            "s",
            [("a".to_string(), b"\x00\x01".to_vec())].into(),
            Some(secret_owner("o", "u-1")),
        ));
        assert_eq!(s["data"]["a"], "AAE=");
        assert_eq!(s["type"], "Opaque");
        assert_eq!(s["metadata"]["ownerReferences"][0]["controller"], true);
        let sa = to_value(&cluster_role_binding(
            "b",
            "r",
            vec![service_account("kube-system", "coredns")],
        ));
        assert_eq!(
            sa["subjects"],
            json!([{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}])
        );
    }
}

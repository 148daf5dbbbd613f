//! RBAC authorization evaluated from the Roles, ClusterRoles and bindings in the store,
//! as the real RBAC authorizer does: ClusterRoleBindings grant everywhere, RoleBindings
//! grant in their namespace; subjects are users, groups and service accounts.

use serde_json::Value;

use crate::auth::User;
use crate::resources;
use crate::store::Store;

/// What a request asks to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: String,
    /// API group of the resource.
    pub group: String,
    /// Resource (plural), `None` for a non-resource path.
    pub resource: Option<String>,
    /// Subresource.
    pub subresource: Option<String>,
    /// Namespace, `None` for cluster scope.
    pub namespace: Option<String>,
    /// Object name.
    pub name: Option<String>,
    /// Request path (for non-resource requests).
    pub path: String,
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn subject_matches(subject: &Value, user: &User, binding_ns: Option<&str>) -> bool {
    let kind = subject.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
    match kind {
        "User" => user.name == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject
                .get("namespace")
                .and_then(Value::as_str)
                .or(binding_ns)
                .unwrap_or("");
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let verbs = strs(rule.get("verbs"));
    if !verbs.iter().any(|v| *v == "*" || *v == a.verb) {
        return false;
    }
    match &a.resource {
        None => strs(rule.get("nonResourceURLs")).iter().any(|u| {
            *u == "*" || *u == a.path || u.strip_suffix('*').is_some_and(|p| a.path.starts_with(p))
        }),
        Some(res) => {
            let groups = strs(rule.get("apiGroups"));
            if !groups.iter().any(|g| *g == "*" || *g == a.group) {
                return false;
            }
            let full = match &a.subresource {
                Some(s) => format!("{res}/{s}"),
                None => res.clone(),
            };
            let resources = strs(rule.get("resources"));
            let res_ok = resources.iter().any(|r| {
                *r == "*"
                    || *r == full
                    || (a.subresource.is_some() && r.strip_prefix("*/") == a.subresource.as_deref())
            });
            if !res_ok {
                return false;
            }
            let names = strs(rule.get("resourceNames"));
            names.is_empty() || a.name.as_deref().is_some_and(|n| names.contains(&n))
        }
    }
}

fn role_rules(store: &Store, role_ref: &Value, binding_ns: Option<&str>) -> Vec<Value> {
    let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
    let (plural, ns) = match kind {
        "ClusterRole" => ("clusterroles", ""),
        "Role" => ("roles", binding_ns.unwrap_or("")),
        _ => return vec![],
    };
    let r = resources::find("rbac.authorization.k8s.io", "v1", plural).expect("rbac kinds");
    store
        .get(r, ns, name)
        .ok()
        .and_then(|role| role.get("rules").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// The Node authorizer (kube-apiserver runs `--authorization-mode=Node,RBAC` on kubeadm
/// clusters), for what a kubelet does: certificate requests, its own Node object and
/// status, its lease, its mirror Pods. The graph-based access to Pods' Secrets and
/// ConfigMaps is not modelled: nothing kubeadm does depends on it.
fn node_allows(user: &User, a: &Attributes) -> bool {
    let Some(node) = user.name.strip_prefix("system:node:") else {
        return false;
    };
    if !user.groups.iter().any(|g| g == "system:nodes") {
        return false;
    }
    let own = a.name.as_deref().is_none_or(|n| n == node);
    match (a.group.as_str(), a.resource.as_deref()) {
        ("certificates.k8s.io", Some("certificatesigningrequests")) => {
            a.subresource.is_none()
                && matches!(a.verb.as_str(), "create" | "get" | "list" | "watch")
        }
        ("", Some("nodes")) => match a.verb.as_str() {
            "get" | "list" | "watch" => true,
            "create" | "update" | "patch" => own,
            _ => false,
        },
        // Mirror Pods of the node's static Pods: a kubelet creates, reads and deletes
        // them (the NodeRestriction admission plugin, not modelled, limits them to
        // mirror Pods bound to the node) and reports their status.
        ("", Some("pods")) => matches!(
            (a.verb.as_str(), a.subresource.as_deref()),
            ("get" | "list" | "watch" | "create" | "delete", None)
                | ("update" | "patch", Some("status"))
        ),
        ("coordination.k8s.io", Some("leases")) => {
            a.namespace.as_deref() == Some("kube-node-lease") && own
        }
        _ => false,
    }
}

/// Whether the Node authorizer or RBAC allows the request.
pub fn allows(store: &Store, user: &User, a: &Attributes) -> bool {
    node_allows(user, a) || rbac_allows(store, user, a)
}

/// Whether RBAC alone allows the request (what the CSR approver's access review asks).
pub fn rbac_allows(store: &Store, user: &User, a: &Attributes) -> bool {
    let crb = resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
        .expect("rbac kinds");
    let (bindings, _) = store.list(crb, None);
    for b in &bindings {
        if strs_objects(b.get("subjects"))
            .iter()
            .any(|s| subject_matches(s, user, None))
        {
            let rules = role_rules(store, b.get("roleRef").unwrap_or(&Value::Null), None);
            if rules.iter().any(|r| rule_allows(r, a)) {
                return true;
            }
        }
    }
    if let Some(ns) = &a.namespace {
        let rb =
            resources::find("rbac.authorization.k8s.io", "v1", "rolebindings").expect("rbac kinds");
        let (bindings, _) = store.list(rb, Some(ns));
        for b in &bindings {
            if strs_objects(b.get("subjects"))
                .iter()
                .any(|s| subject_matches(s, user, Some(ns)))
            {
                let rules = role_rules(store, b.get("roleRef").unwrap_or(&Value::Null), Some(ns));
                if rules.iter().any(|r| rule_allows(r, a)) {
                    return true;
                }
            }
        }
    }
    false
}

fn strs_objects(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

//! What a fresh kube-apiserver holds before anyone writes to it: the four namespaces and
//! the bootstrap RBAC policy kubeadm relies on.

use serde_json::{json, Value};

use crate::resources;
use crate::status::ApiError;
use crate::store::Store;

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}
        },
        "rules": rules
    })
}

fn cluster_role_binding(name: &str, role: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
        .collect();
    json!({
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects
    })
}

const CSR: &str = "certificates.k8s.io";

/// The bootstrap ClusterRoles kubeadm's flows touch.
pub fn cluster_roles() -> Vec<Value> {
    vec![
        cluster_role(
            "cluster-admin",
            json!([
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]}
            ]),
        ),
        cluster_role(
            "system:discovery",
            json!([{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        ),
        cluster_role(
            "system:public-info-viewer",
            json!([{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        ),
        cluster_role(
            "system:basic-user",
            json!([
                {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
                {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}
            ]),
        ),
        cluster_role(
            "system:node-bootstrapper",
            json!([{"apiGroups": [CSR], "resources": ["certificatesigningrequests"], "verbs": ["create", "get", "list", "watch"]}]),
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            json!([{"apiGroups": [CSR], "resources": ["certificatesigningrequests/nodeclient"], "verbs": ["create"]}]),
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            json!([{"apiGroups": [CSR], "resources": ["certificatesigningrequests/selfnodeclient"], "verbs": ["create"]}]),
        ),
        cluster_role(
            "system:kubelet-api-admin",
            json!([
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "proxy"]},
                {"apiGroups": [""], "resources": ["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"], "verbs": ["*"]}
            ]),
        ),
    ]
}

/// The bootstrap ClusterRoleBindings.
pub fn cluster_role_bindings() -> Vec<Value> {
    vec![
        cluster_role_binding("cluster-admin", "cluster-admin", &["system:masters"]),
        cluster_role_binding(
            "system:discovery",
            "system:discovery",
            &["system:authenticated"],
        ),
        cluster_role_binding(
            "system:basic-user",
            "system:basic-user",
            &["system:authenticated"],
        ),
        cluster_role_binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ]
}

/// Seeds the store with what is missing of it, as the real server's start-up makes the
/// system namespaces and reconciles the bootstrap roles: all of it in a fresh store, what
/// is not there yet in one loaded from etcd (what is there is kept as it is).
pub fn seed(store: &Store) -> Result<(), ApiError> {
    let ns = resources::find("", "v1", "namespaces").expect("namespaces");
    let cr = resources::find("rbac.authorization.k8s.io", "v1", "clusterroles").expect("rbac");
    let crb =
        resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings").expect("rbac");
    let namespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]
        .into_iter()
        .map(|name| (ns, json!({"metadata": {"name": name}})));
    let roles = cluster_roles().into_iter().map(|o| (cr, o));
    let bindings = cluster_role_bindings().into_iter().map(|o| (crb, o));
    for (r, object) in namespaces.chain(roles).chain(bindings) {
        let name = crate::store::name_of(&object).to_string();
        if store.get(r, "", &name).is_err() {
            store.create(r, "", object)?;
        }
    }
    Ok(())
}

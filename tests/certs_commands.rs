//! `kubeadm certs check-expiration|renew|generate-csr` and `kubeadm kubeconfig user`,
//! run as a user would, on a root file system made by the init phases.

use std::path::Path;
use std::process::{Command, Output};

fn kubeadm(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn ok(root: &Path, args: &[&str]) -> String {
    let o = kubeadm(root, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tool(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const ADDR: &str = "--apiserver-advertise-address=192.0.2.10";

fn control_plane() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    ok(root.path(), &["init", "phase", "certs", "all", ADDR]);
    ok(
        root.path(),
        &[
            "init",
            "phase",
            "kubeconfig",
            "all",
            ADDR,
            "--node-name",
            "node1",
        ],
    );
    root
}

#[test]
fn check_expiration_reports_every_certificate() {
    let root = control_plane();
    let out = ok(root.path(), &["certs", "check-expiration"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED"
    );
    for name in [
        "admin.conf",
        "apiserver",
        "etcd-server",
        "front-proxy-client",
        "super-admin.conf",
    ] {
        let row = lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap();
        assert!(row.contains(" 364d "), "{row}");
        assert!(row.ends_with("no      "), "{row:?}");
    }
    assert!(out.contains(
        "\nCERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED\n"
    ));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("etcd-ca ") && l.contains(" 9y ")));
    assert!(
        !out.contains("kubelet.conf"),
        "the kubelet rotates its own certificate"
    );

    // Without the CA key the certificates it signs are externally managed; a missing file shows.
    std::fs::remove_file(root.path().join("etc/kubernetes/pki/ca.key")).unwrap();
    std::fs::remove_file(root.path().join("etc/kubernetes/pki/apiserver.crt")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(
        root.path(),
        &["certs", "check-expiration", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(v["kind"], "CertificateExpirationInfo");
    assert_eq!(v["apiVersion"], "output.kubeadm.k8s.io/v1alpha3");
    let find = |list: &str, name: &str| {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(find("certificates", "apiserver")["missing"], true);
    assert_eq!(
        find("certificates", "admin.conf")["externallyManaged"],
        true
    );
    assert_eq!(
        find("certificates", "etcd-server")["externallyManaged"],
        false
    );
    assert_eq!(
        find("certificateAuthorities", "ca")["externallyManaged"],
        true
    );
    let text = ok(root.path(), &["certs", "check-expiration"]);
    assert!(text.contains("!MISSING! apiserver"));
}

#[test]
fn renew_resigns_with_the_same_names_and_a_new_key() {
    let root = control_plane();
    let pki = root.path().join("etc/kubernetes/pki");
    let text = |f: &str| {
        tool(
            "openssl",
            &[
                "x509",
                "-noout",
                "-serial",
                "-ext",
                "subjectAltName",
                "-subject",
                "-in",
                pki.join(f).to_str().unwrap(),
            ],
        )
    };
    let before = text("apiserver.crt");
    let key_before = std::fs::read(pki.join("apiserver.key")).unwrap();
    let out = ok(root.path(), &["certs", "renew", "apiserver"]);
    assert!(
        out.starts_with("certificate for serving the Kubernetes API renewed\n"),
        "{out}"
    );
    let after = text("apiserver.crt");
    assert_ne!(before.lines().next(), after.lines().next(), "a new serial");
    assert_eq!(
        before.lines().skip(1).collect::<Vec<_>>(),
        after.lines().skip(1).collect::<Vec<_>>()
    );
    assert_ne!(
        key_before,
        std::fs::read(pki.join("apiserver.key")).unwrap()
    );
    let v = tool(
        "openssl",
        &[
            "verify",
            "-CAfile",
            pki.join("ca.crt").to_str().unwrap(),
            pki.join("apiserver.crt").to_str().unwrap(),
        ],
    );
    assert!(v.trim().ends_with("OK"));

    // A kubeconfig's embedded certificate; kubectl still reads the file.
    let admin = root.path().join("etc/kubernetes/admin.conf");
    let old = std::fs::read_to_string(&admin).unwrap();
    ok(root.path(), &["certs", "renew", "admin.conf"]);
    let new = std::fs::read_to_string(&admin).unwrap();
    assert_ne!(old, new);
    let users = tool(
        "kubectl",
        &[
            "config",
            "view",
            "--kubeconfig",
            admin.to_str().unwrap(),
            "-o",
            "jsonpath={.users[0].name}",
        ],
    );
    assert_eq!(users, "kubernetes-admin");

    // With an external CA, `renew all` renews what it can and says what it cannot.
    std::fs::remove_file(pki.join("front-proxy-ca.key")).unwrap();
    let out = ok(root.path(), &["certs", "renew", "all"]);
    assert!(
        out.contains("[renew] Detected external CA mode: front-proxy-client is externally managed"),
        "{out}"
    );
    assert!(out.contains("certificate for serving etcd renewed"));
    let o = kubeadm(root.path(), &["certs", "renew", "front-proxy-client"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn generate_csr_writes_keys_and_requests_and_never_overwrites() {
    let root = tempfile::tempdir().unwrap();
    ok(root.path(), &["init", "phase", "certs", "ca"]);
    ok(root.path(), &["certs", "generate-csr"]);
    let pki = root.path().join("etc/kubernetes/pki");
    let csr = pki.join("apiserver.csr");
    let req = tool(
        "openssl",
        &[
            "req",
            "-in",
            csr.to_str().unwrap(),
            "-noout",
            "-verify",
            "-subject",
            "-text",
        ],
    );
    assert!(req.contains("subject=CN = kube-apiserver"), "{req}");
    assert!(
        req.contains("DNS:kubernetes.default.svc.cluster.local"),
        "{req}"
    );
    assert!(pki.join("etcd/peer.key").exists() && pki.join("etcd/peer.csr").exists());
    let kcsr = root.path().join("etc/kubernetes/admin.conf.csr");
    let req = tool(
        "openssl",
        &["req", "-in", kcsr.to_str().unwrap(), "-noout", "-subject"],
    );
    assert!(
        req.contains("subject=O = kubeadm:cluster-admins, CN = kubernetes-admin"),
        "{req}"
    );
    let kc = std::fs::read_to_string(root.path().join("etc/kubernetes/admin.conf")).unwrap();
    assert!(kc.contains("client-key-data") && !kc.contains("client-certificate-data"));
    // The key in the kubeconfig signed the CSR.
    let o = kubeadm(root.path(), &["certs", "generate-csr"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
}

#[test]
fn kubeconfig_user_prints_a_working_kubeconfig() {
    let root = control_plane();
    let out = ok(
        root.path(),
        &[
            "kubeconfig",
            "user",
            "--client-name",
            "alice",
            "--org",
            "devs",
            "--validity-period",
            "24h",
        ],
    );
    // The client certificate of a kubeconfig that `kubeconfig user` printed, as a file.
    let cert_of = |kubeconfig: &str, name: &str| {
        let f = root.path().join(format!("{name}.conf"));
        std::fs::write(&f, kubeconfig).unwrap();
        let cert_b64 = tool(
            "kubectl",
            &[
                "config",
                "view",
                "--raw",
                "--kubeconfig",
                f.to_str().unwrap(),
                "-o",
                "jsonpath={.users[0].user.client-certificate-data}",
            ],
        );
        use base64::Engine;
        let cert = base64::engine::general_purpose::STANDARD
            .decode(cert_b64.trim())
            .unwrap();
        let cert_file = root.path().join(format!("{name}.crt"));
        std::fs::write(&cert_file, cert).unwrap();
        cert_file
    };
    let cert_file = cert_of(&out, "alice");
    let subj = tool(
        "openssl",
        &[
            "x509",
            "-noout",
            "-subject",
            "-enddate",
            "-in",
            cert_file.to_str().unwrap(),
        ],
    );
    assert!(subj.contains("subject=O = devs, CN = alice"), "{subj}");
    // --validity-period 24h: valid in 23 hours, expired in 25.
    let checkend = |secs: &str| {
        Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-checkend",
                secs,
                "-in",
                cert_file.to_str().unwrap(),
            ])
            .status()
            .unwrap()
            .success()
    };
    assert!(checkend("82800") && !checkend("90000"));
    let ca = root.path().join("etc/kubernetes/pki/ca.crt");
    let verified = |cert: &Path| {
        tool(
            "openssl",
            &[
                "verify",
                "-CAfile",
                ca.to_str().unwrap(),
                cert.to_str().unwrap(),
            ],
        )
        .contains("OK")
    };
    assert!(verified(&cert_file));
    // A user in several groups: every organization in the subject, as upstream's (one
    // multi-valued RDN), signed by the cluster CA; the flag repeated or comma-separated.
    for (name, orgs) in [
        ("bob", &["--org", "dev", "--org", "ops"][..]),
        ("carol", &["--org", "dev,ops"][..]),
    ] {
        let mut args = vec!["kubeconfig", "user", "--client-name", name];
        args.extend_from_slice(orgs);
        let cert = cert_of(&ok(root.path(), &args), name);
        let subj = tool(
            "openssl",
            &["x509", "-noout", "-subject", "-in", cert.to_str().unwrap()],
        );
        assert_eq!(
            subj.trim(),
            format!("subject=O = dev + O = ops, CN = {name}")
        );
        assert!(
            verified(&cert),
            "{name}'s certificate verifies against the CA"
        );
        let pem = pem::parse(std::fs::read(&cert).unwrap()).unwrap();
        let groups = kubeadm::pki::CertInfo::parse(pem.contents())
            .unwrap()
            .organizations;
        assert_eq!(groups, ["dev", "ops"]);
    }

    let out = ok(
        root.path(),
        &[
            "kubeconfig",
            "user",
            "--client-name",
            "bot",
            "--token",
            "abcdef.0123456789abcdef",
        ],
    );
    assert!(out.contains("token: abcdef.0123456789abcdef"));
    assert!(!out.contains("client-key-data"));
    let o = kubeadm(root.path(), &["kubeconfig", "user"]);
    assert_eq!(o.status.code(), Some(2), "--client-name is required");
}

/// `--validity-period` is an offset from now, as upstream's: a negative one (which Go's
/// flag parser takes as the flag's value) makes a certificate that has already expired,
/// and one past Go's duration range is refused.
#[test]
fn kubeconfig_user_validity_period_is_a_signed_offset_from_now() {
    let root = tempfile::tempdir().unwrap();
    ok(root.path(), &["init", "phase", "certs", "ca"]);
    let not_after = |period: &[&str]| {
        let mut args = vec!["kubeconfig", "user", "--client-name", "alice"];
        args.extend_from_slice(period);
        let kc: serde_json::Value = serde_yaml_ng::from_str(&ok(root.path(), &args)).unwrap();
        use base64::Engine;
        let pem = base64::engine::general_purpose::STANDARD
            .decode(
                kc["users"][0]["user"]["client-certificate-data"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let cert = pem.parse_x509().unwrap();
        cert.validity().not_after.timestamp()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for period in [
        &["--validity-period", "-1h"][..],
        &["--validity-period=-1h"],
    ] {
        let t = not_after(period);
        assert!((t - (now - 3600)).abs() < 120, "{period:?}: {t} vs {now}");
    }
    let t = not_after(&["--validity-period", "2h"]);
    assert!((t - (now + 7200)).abs() < 120, "{t} vs {now}");

    let o = kubeadm(
        root.path(),
        &[
            "kubeconfig",
            "user",
            "--client-name",
            "alice",
            "--validity-period",
            "99999999999h",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "'--validity-period <duration>': invalid duration \"99999999999h\": out of range"
        ),
        "{err}"
    );
}

#[test]
fn a_config_file_drives_the_init_phases() {
    let root = tempfile::tempdir().unwrap();
    let cfg = root.path().join("kubeadm.yaml");
    std::fs::write(
        &cfg,
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.0.2.20\nnodeRegistration:\n  name: cp-a\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nencryptionAlgorithm: ECDSA-P384\ncontrolPlaneEndpoint: api.example.test\nnetworking:\n  dnsDomain: corp.example\n",
    )
    .unwrap();
    // A path inside the --rootfs root, as upstream reads it after changing root.
    let c = "/kubeadm.yaml";
    ok(
        root.path(),
        &["init", "phase", "certs", "all", "--config", c],
    );
    ok(
        root.path(),
        &["init", "phase", "kubeconfig", "admin", "--config", c],
    );
    let pki = root.path().join("etc/kubernetes/pki");
    let text = tool(
        "openssl",
        &[
            "x509",
            "-noout",
            "-text",
            "-in",
            pki.join("apiserver.crt").to_str().unwrap(),
        ],
    );
    assert!(
        text.contains("(384 bit)") && text.contains("ecdsa-with-SHA384"),
        "{text}"
    );
    assert!(
        text.contains("DNS:api.example.test")
            && text.contains("DNS:kubernetes.default.svc.corp.example")
            && text.contains("DNS:cp-a")
    );
    assert!(text.contains("IP Address:192.0.2.20"));
    let admin = std::fs::read_to_string(root.path().join("etc/kubernetes/admin.conf")).unwrap();
    assert!(admin.contains("server: https://api.example.test:6443"));

    // Flags that the file should carry are refused next to --config, as upstream.
    let o = kubeadm(
        root.path(),
        &[
            "init",
            "--config",
            c,
            "--service-cidr",
            "10.0.0.0/16",
            "--dry-run",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("can not mix '--config' with arguments [service-cidr]"));

    // A bad file is refused with its line.
    std::fs::write(&cfg, "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n  serviceSubnet: 10.96.0.0/12\n  bogus: true\n").unwrap();
    let o = kubeadm(root.path(), &["config", "validate", "--config", c]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "kubeadm.yaml:5: ClusterConfiguration: networking.bogus: unknown field `bogus`"
        ),
        "{err}"
    );
    let out = ok(root.path(), &["config", "print", "init-defaults"]);
    assert!(out.contains("kind: InitConfiguration") && out.contains("---\napiServer: {}\n"));
}

#[test]
fn certs_commands_read_the_certificate_directory_from_a_config_file() {
    let root = tempfile::tempdir().unwrap();
    let cfg = root.path().join("c.yaml");
    std::fs::write(&cfg, "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncertificatesDir: /srv/pki\n").unwrap();
    // Relative under --rootfs: from the root's `/`.
    let c = "c.yaml";
    ok(
        root.path(),
        &["init", "phase", "certs", "all", "--config", c],
    );
    assert!(root.path().join("srv/pki/apiserver.crt").exists());
    let out = ok(root.path(), &["certs", "check-expiration", "--config", c]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("apiserver ") && !l.contains("MISSING")),
        "{out}"
    );
    ok(root.path(), &["certs", "renew", "apiserver", "--config", c]);
}

/// kubespray's certificate auto-renewal asks for the certificates that expire within its
/// threshold with a kubectl JSONPath filter; every printer upstream's `-o` has works on
/// the same `CertificateExpirationInfo` object.
#[test]
fn check_expiration_prints_with_every_printer() {
    let root = control_plane();
    let r = root.path();
    let expiring = |days: u64| {
        ok(
            r,
            &[
                "certs",
                "check-expiration",
                "-o",
                &format!(
                    "jsonpath={{.certificates[?(@.residualTime<{}.0)]}}",
                    days * 86400
                ),
            ],
        )
    };
    // A year left: nothing expires within 30 days, everything within 400.
    assert_eq!(expiring(30), "");
    let soon = expiring(400);
    let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&soon)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}: {soon}"));
    assert!(objects.len() >= 10, "{soon}");
    let admin = objects.iter().find(|o| o["name"] == "admin.conf").unwrap();
    assert_eq!(admin["caName"], "ca");
    assert!(admin["residualTime"].as_i64().unwrap() > 363 * 86400);

    let names = ok(
        r,
        &[
            "certs",
            "check-expiration",
            "-o",
            "jsonpath={range .certificateAuthorities[*]}{.name}{\"\\n\"}{end}",
        ],
    );
    assert_eq!(names, "ca\netcd-ca\nfront-proxy-ca\n");
    let as_json = ok(
        r,
        &[
            "certs",
            "check-expiration",
            "-o",
            "jsonpath-as-json={.certificateAuthorities[*].name}",
        ],
    );
    assert_eq!(
        as_json,
        "[\n    \"ca\",\n    \"etcd-ca\",\n    \"front-proxy-ca\"\n]\n"
    );
    let template = r.join("t.tmpl");
    std::fs::write(
        &template,
        "{{range .certificateAuthorities}}{{.name}}={{.externallyManaged}} {{end}}",
    )
    .unwrap();
    for o in ["go-template-file=/t.tmpl", "templatefile=/t.tmpl"] {
        assert_eq!(
            ok(r, &["certs", "check-expiration", "-o", o]),
            "ca=false etcd-ca=false front-proxy-ca=false ",
            "{o}"
        );
    }
    assert_eq!(
        ok(
            r,
            &[
                "certs",
                "check-expiration",
                "-o",
                "go-template={{len .certificates}}"
            ]
        ),
        ok(
            r,
            &[
                "certs",
                "check-expiration",
                "-o",
                "template={{len .certificates}}"
            ]
        )
    );

    // JSON as upstream's printer writes it; a missing certificate is its name and
    // `missing`, with a null date.
    std::fs::remove_file(r.join("etc/kubernetes/pki/apiserver.crt")).unwrap();
    let json = ok(r, &["certs", "check-expiration", "-o", "json"]);
    assert!(
        json.starts_with(
            "{\n    \"kind\": \"CertificateExpirationInfo\",\n    \"apiVersion\": \"output.kubeadm.k8s.io/v1alpha3\",\n    \"certificates\": [\n"
        ),
        "{json}"
    );
    assert!(
        json.contains("{\n            \"name\": \"apiserver\",\n            \"expirationDate\": null,\n            \"residualTime\": 0,\n            \"externallyManaged\": false,\n            \"missing\": true\n        }"),
        "{json}"
    );
    let missing = ok(
        r,
        &[
            "certs",
            "check-expiration",
            "-o",
            "jsonpath={.certificates[?(@.missing==true)].name}",
        ],
    );
    assert_eq!(missing, "apiserver");

    // A bad -o says what is allowed; a bad template what is wrong with it.
    let o = kubeadm(r, &["certs", "check-expiration", "-o", "xml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("allowed formats are: go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,template,templatefile,text,yaml"));
    let o = kubeadm(
        r,
        &[
            "certs",
            "check-expiration",
            "-o",
            "jsonpath={.certificates[0",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("error parsing jsonpath template"));
}

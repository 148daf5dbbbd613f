//! End-to-end tests of the `kubeadm` binary's command tree, phase listings and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn kubeadm(args: &[&str]) -> Output {
    kubeadm_in(args, None)
}

fn kubeadm_in(args: &[&str], tmpdir: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubeadm"));
    cmd.args(args).env("NO_COLOR", "1");
    if let Some(t) = tmpdir {
        cmd.env("TMPDIR", t);
    }
    cmd.output().expect("run kubeadm")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The phase names of a help listing, in order, with their nesting.
fn listed_phases(help: &str) -> Vec<String> {
    let start = help.find("```\n").expect("phase listing") + 4;
    let end = start + help[start..].find("```").unwrap();
    help[start..end]
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn root_help_lists_upstream_commands() {
    let o = kubeadm(&["--help"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for c in [
        "certs",
        "completion",
        "config",
        "init",
        "join",
        "kubeconfig",
        "reset",
        "token",
        "upgrade",
        "version",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{c} "))),
            "{c} missing from:\n{out}"
        );
    }
}

#[test]
fn init_help_lists_upstream_phases_in_order() {
    let out = stdout(&kubeadm(&["init", "--help"]));
    assert!(out.contains("The \"init\" command executes the following phases:"));
    assert_eq!(
        listed_phases(&out),
        [
            "preflight",
            "certs",
            "/ca",
            "/apiserver",
            "/apiserver-kubelet-client",
            "/front-proxy-ca",
            "/front-proxy-client",
            "/etcd-ca",
            "/etcd-server",
            "/etcd-peer",
            "/etcd-healthcheck-client",
            "/apiserver-etcd-client",
            "/sa",
            "kubeconfig",
            "/admin",
            "/super-admin",
            "/kubelet",
            "/controller-manager",
            "/scheduler",
            "etcd",
            "/local",
            "control-plane",
            "/apiserver",
            "/controller-manager",
            "/scheduler",
            "kubelet-start",
            "wait-control-plane",
            "upload-config",
            "/kubeadm",
            "/kubelet",
            "upload-certs",
            "mark-control-plane",
            "bootstrap-token",
            "kubelet-finalize",
            "/enable-client-cert-rotation",
            "addon",
            "/coredns",
            "/kube-proxy",
            "show-join-command",
        ]
    );
    // Upstream's layout: names padded to the longest one ("/enable-client-cert-rotation")
    // plus two spaces, children indented by two per level.
    assert!(out.contains(&format!(
        "\npreflight{}Run pre-flight checks\n",
        " ".repeat(21)
    )));
    assert!(out.contains(
        "\n  /enable-client-cert-rotation  Enable kubelet client certificate rotation\n"
    ));
}

#[test]
fn join_help_lists_upstream_phases_in_order() {
    let out = stdout(&kubeadm(&["join", "--help"]));
    assert_eq!(
        listed_phases(&out),
        [
            "preflight",
            "control-plane-prepare",
            "/download-certs",
            "/certs",
            "/kubeconfig",
            "/control-plane",
            "kubelet-start",
            "etcd-join",
            "kubelet-wait-bootstrap",
            "control-plane-join",
            "/mark-control-plane",
            "wait-control-plane",
        ]
    );
}

#[test]
fn reset_help_lists_upstream_phases_in_order() {
    let out = stdout(&kubeadm(&["reset", "--help"]));
    assert_eq!(
        listed_phases(&out),
        ["preflight", "remove-etcd-member", "cleanup-node"]
    );
}

#[test]
fn phase_subcommands_exist_for_every_phase() {
    let out = stdout(&kubeadm(&["init", "phase", "--help"]));
    assert!(out.contains("Use this command to invoke single phase of the init workflow"));
    for p in [
        "preflight",
        "certs",
        "kubeconfig",
        "etcd",
        "control-plane",
        "kubelet-start",
        "wait-control-plane",
        "upload-config",
        "upload-certs",
        "mark-control-plane",
        "bootstrap-token",
        "kubelet-finalize",
        "addon",
        "show-join-command",
    ] {
        assert!(out.contains(&format!("  {p} ")), "{p} missing:\n{out}");
    }
    let out = stdout(&kubeadm(&[
        "join",
        "phase",
        "control-plane-prepare",
        "--help",
    ]));
    for p in [
        "all",
        "download-certs",
        "certs",
        "kubeconfig",
        "control-plane",
    ] {
        assert!(out.contains(&format!("  {p} ")), "{p} missing:\n{out}");
    }
    // A phase with children prints its help, as upstream.
    let o = kubeadm(&["init", "phase", "certs"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("etcd-healthcheck-client"));
}

#[test]
fn phase_subcommands_take_only_their_flags() {
    let o = kubeadm(&["init", "phase", "certs", "ca", "--node-name", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown flag: --node-name"));
    let help = stdout(&kubeadm(&["init", "phase", "certs", "ca", "--help"]));
    assert!(help.contains("--cert-dir"));
    assert!(!help.contains("--node-name"));
    // --kubeconfig belongs to the phase subcommands, not to init itself.
    let o = kubeadm(&["init", "--kubeconfig", "/tmp/x"]);
    assert_eq!(o.status.code(), Some(2));
    let help = stdout(&kubeadm(&[
        "init",
        "phase",
        "upload-config",
        "kubeadm",
        "--help",
    ]));
    assert!(help.contains("--kubeconfig"));
}

#[test]
fn unknown_skip_phase_is_an_error_naming_it() {
    let o = kubeadm(&["init", "--dry-run", "--skip-phases", "certs/nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid phase name: certs/nope"));
}

#[test]
fn usage_errors_exit_2() {
    let o = kubeadm(&["init", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    let o = kubeadm(&["upgrade", "node", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn version_formats() {
    let o = kubeadm(&["version", "-o", "short"]);
    assert_eq!(stdout(&o), "v1.37.1\n");
    let o = kubeadm(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["clientVersion"]["minor"], "37");
    let o = kubeadm(&["version", "-o", "xml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn token_generate_and_certificate_key() {
    let t = stdout(&kubeadm(&["token", "generate"]));
    let t = t.trim();
    assert!(kubeadm::token::BootstrapToken::parse(t).is_ok(), "{t}");
    let k = stdout(&kubeadm(&["certs", "certificate-key"]));
    assert_eq!(k.trim().len(), 64);
}

#[test]
fn completion_scripts_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let o = kubeadm(&["completion", shell]);
        assert!(o.status.success());
        assert!(stdout(&o).contains("kubeadm"));
    }
}

/// Runs `kubeadm --rootfs <empty dir> init --dry-run <extra>` with its own TMPDIR. Checks
/// that the root stays empty and that exactly one scratch directory was made, and returns
/// the output and that directory (with the temporary directories kept alive).
fn init_dry_run(extra: &[&str]) -> (Output, std::path::PathBuf, [tempfile::TempDir; 2]) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--rootfs",
        root.path().to_str().unwrap(),
        "init",
        "--dry-run",
    ];
    args.extend_from_slice(extra);
    let o = kubeadm_in(&args, Some(tmp.path()));
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "the root stays untouched"
    );
    let scratch: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(scratch.len(), 1, "one scratch directory expected");
    let scratch = scratch[0].as_ref().unwrap().path();
    assert!(scratch
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("kubeadm-init-dryrun"));
    assert!(stdout(&o).contains(&scratch.display().to_string()));
    (o, scratch, [tmp, root])
}

#[test]
fn dry_run_touches_nothing_outside_its_temporary_directory() {
    let (o, _, _dirs) = init_dry_run(&[]);
    let out = stdout(&o);
    assert!(out.contains("[preflight] running"), "{out}");
    // The root has no container runtime socket: preflight fails, the dry run says a real
    // run would stop there, and goes on.
    assert!(
        out.contains("\t[ERROR CRI]: container runtime is not running"),
        "{out}"
    );
    assert!(
        out.contains("[dryrun] A real run would have stopped at preflight: "),
        "{out}"
    );
    assert!(out.contains("[certs/ca] ... done in "), "{out}");
    assert_eq!(
        out.matches("[dryrun] A real run would have stopped at preflight: ")
            .count(),
        2,
        "the note is repeated at the end: {out}"
    );
}

#[test]
fn dry_run_writes_certificates_and_kubeconfigs_only_to_its_scratch_directory() {
    let (o, scratch, _dirs) = init_dry_run(&[
        "--skip-phases",
        "preflight",
        "--apiserver-advertise-address",
        "192.0.2.10",
    ]);
    let out = stdout(&o);
    // The dry run goes through every phase.
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("Your Kubernetes control-plane has initialized successfully!"),
        "{out}"
    );
    // All four manifests and the kubelet's files are shown with their content.
    for f in [
        "/etc/kubernetes/manifests/etcd.yaml (mode 0600, ",
        "/etc/kubernetes/manifests/kube-apiserver.yaml (mode 0600, ",
        "/etc/kubernetes/manifests/kube-controller-manager.yaml (mode 0600, ",
        "/etc/kubernetes/manifests/kube-scheduler.yaml (mode 0600, ",
        "/var/lib/kubelet/config.yaml (mode 0644, ",
        "/var/lib/kubelet/kubeadm-flags.env (mode 0644, ",
        "/var/lib/kubelet/instance-config.yaml (mode 0644, ",
    ] {
        assert!(
            out.contains(&format!("[dryrun] Would write file {f}")),
            "{f} missing:\n{out}"
        );
    }
    assert!(out.contains("\t    - --advertise-address=192.0.2.10\n"));
    assert!(out.contains("\tclusterDNS:\n\t- 10.96.0.10\n"));
    assert!(scratch
        .join("etc/kubernetes/manifests/kube-apiserver.yaml")
        .exists());
    assert!(scratch.join("etc/kubernetes/pki/ca.crt").exists());
    assert!(scratch.join("etc/kubernetes/admin.conf").exists());
    assert!(out.contains("[dryrun] Would write file /etc/kubernetes/pki/ca.key (mode 0600, "));
    assert!(out.contains("content not shown, it holds a secret"));
    assert!(out.contains("\t-----BEGIN CERTIFICATE-----\n"));
    assert!(
        !out.contains("PRIVATE KEY-----"),
        "no key content may be printed"
    );
    assert!(
        !out.contains("client-key-data"),
        "no kubeconfig content may be printed"
    );
    assert!(out.contains("[kubeconfig/scheduler] ... done in "));
}

#[test]
fn join_phases_take_the_positional_endpoint() {
    let o = kubeadm(&[
        "join",
        "phase",
        "preflight",
        "192.0.2.10:6443",
        "--token",
        "abcdef.0123456789abcdef",
        "--discovery-token-unsafe-skip-ca-verification",
        "--node-name",
        "worker-1",
        "--dry-run",
    ]);
    // The endpoint is accepted: the run reaches the phase itself.
    assert!(
        stdout(&o).contains("[preflight] Running pre-flight checks"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = kubeadm(&[
        "join",
        "phase",
        "etcd-join",
        "192.0.2.10:6443",
        "--token",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown flag: --token"));
}

#[test]
fn config_images_list_follows_the_configuration() {
    let o = kubeadm(&[
        "config",
        "images",
        "list",
        "--kubernetes-version",
        "v1.36.2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "registry.k8s.io/kube-apiserver:v1.36.2\nregistry.k8s.io/kube-controller-manager:v1.36.2\nregistry.k8s.io/kube-scheduler:v1.36.2\nregistry.k8s.io/kube-proxy:v1.36.2\nregistry.k8s.io/coredns/coredns:v1.14.6\nregistry.k8s.io/pause:3.10.2\nregistry.k8s.io/etcd:3.6.11-0\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\nimageRepository: mirror.example/k8s\nproxy:\n  disabled: true\ndns:\n  imageTag: v1.14.9\netcd:\n  external:\n    endpoints: [https://10.0.0.1:2379]\n",
    )
    .unwrap();
    let list = |output: &str| {
        kubeadm(&[
            "config",
            "images",
            "list",
            "--config",
            cfg.to_str().unwrap(),
            "-o",
            output,
        ])
    };
    let o = list("yaml");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "apiVersion: output.kubeadm.k8s.io/v1alpha3\nimages:\n- mirror.example/k8s/kube-apiserver:v1.37.1\n- mirror.example/k8s/kube-controller-manager:v1.37.1\n- mirror.example/k8s/kube-scheduler:v1.37.1\n- mirror.example/k8s/coredns:v1.14.9\n- mirror.example/k8s/pause:3.10.2\nkind: Images\n"
    );
    let o = kubeadm(&["config", "images", "list", "-o", "xml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = list("jsonpath={range .images[*]}{@}{\"\\n\"}{end}");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("mirror.example/k8s/kube-apiserver:v1.37.1\nmirror.example/k8s/kube-controller-manager:v1.37.1\n"));
    let o = list("go-template={{index .images 0}}");
    assert_eq!(stdout(&o), "mirror.example/k8s/kube-apiserver:v1.37.1");
}

#[test]
fn print_defaults_with_component_configs() {
    let o = kubeadm(&[
        "config",
        "print",
        "init-defaults",
        "--component-configs",
        "KubeletConfiguration,KubeProxyConfiguration",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let docs: Vec<&str> = out.split("---\n").collect();
    assert_eq!(docs.len(), 4, "{out}");
    assert!(
        docs[2].contains("kind: KubeletConfiguration")
            && docs[2].contains("clusterDNS:\n- 10.96.0.10")
    );
    assert!(
        docs[3].contains("kind: KubeProxyConfiguration")
            && docs[3].contains("bindAddress: 0.0.0.0")
    );
    // Every field of the versioned type, as upstream's serializer writes them.
    for line in [
        "clusterCIDR: \"\"\n",
        "  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n",
        "  tcpBeLiberal: false\n",
        "nodePortAddresses: null\n",
        "  sourceVip: \"\"\n",
        "      infoBufferSize: \"0\"\n",
    ] {
        assert!(docs[3].contains(line), "{line:?} missing:\n{}", docs[3]);
    }
    assert!(
        docs[2].contains("containerRuntimeEndpoint: \"\"\n"),
        "{}",
        docs[2]
    );
    let o = kubeadm(&[
        "config",
        "print",
        "init-defaults",
        "--component-configs",
        "Foo",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
}

/// Under `--rootfs` every path the user gives is a path inside that root, as upstream,
/// which changes root (and directory, to the root's `/`) before anything else; without
/// it a relative path starts at the working directory.
#[test]
fn user_paths_are_inside_the_rootfs() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("cfg")).unwrap();
    let good = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncertificatesDir: /srv/pki\n";
    let bad = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nbogus: 1\n";
    // The same absolute path names a good file inside the root and a bad one outside it.
    std::fs::write(root.path().join("cfg/k.yaml"), good).unwrap();
    let outside_cfg = outside.path().join("cfg");
    std::fs::create_dir(&outside_cfg).unwrap();
    std::fs::write(outside_cfg.join("k.yaml"), bad).unwrap();
    let inside = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root.path())
        .args(["config", "validate", "--config"])
        .arg(format!("{}/cfg/k.yaml", root.path().display()))
        .output()
        .unwrap();
    // The host's own path to the file does not exist inside the root.
    assert!(!inside.status.success());
    assert!(String::from_utf8_lossy(&inside.stderr).contains("unable to read config from"));
    for path in ["/cfg/k.yaml", "cfg/k.yaml", "./cfg/../cfg/k.yaml"] {
        let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
            .current_dir(outside.path())
            .arg("--rootfs")
            .arg(root.path())
            .args(["config", "validate", "--config", path])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Without --rootfs a relative path is the working directory's.
    let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .current_dir(outside.path())
        .args(["config", "validate", "--config", "cfg/k.yaml"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("bogus"));
    // The certificates directory of the file inside the root is used inside the root.
    let o = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .current_dir(outside.path())
        .arg("--rootfs")
        .arg(root.path())
        .args(["init", "phase", "certs", "ca", "--config", "/cfg/k.yaml"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(root.path().join("srv/pki/ca.crt").exists());
    assert!(!outside.path().join("srv").exists());
}

#[test]
fn vmodule_is_taken_everywhere_and_raises_the_verbosity_of_the_files_it_names() {
    // A root whose containerd socket kubeadm detects, which it logs at level 1 from
    // src/config/defaults.rs.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("run/containerd")).unwrap();
    let _socket =
        std::os::unix::net::UnixListener::bind(root.path().join("run/containerd/containerd.sock"))
            .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let detected = |extra: &[&str]| {
        let mut args = vec![
            "--rootfs",
            root.path().to_str().unwrap(),
            "init",
            "phase",
            "certs",
            "ca",
            "--dry-run",
            "--kubernetes-version",
            "v1.37.1",
        ];
        args.extend_from_slice(extra);
        let o = kubeadm_in(&args, Some(tmp.path()));
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        stderr(&o).contains("detected and using CRI socket")
    };
    assert!(!detected(&[]));
    assert!(detected(&["-v=1"]));
    assert!(detected(&["--vmodule=defaults=1"]));
    assert!(detected(&["--vmodule", "other=3,src/config/*=2"]));
    assert!(!detected(&["--vmodule=other=3,defaults=0"]));

    // Before the command's name too, and on any command; a bad value is a usage error
    // naming the flag and the entry.
    let o = kubeadm(&["--vmodule=version=2", "version", "-o", "short"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (bad, why) in [
        ("label", "is not pattern=N"),
        ("label=x", "the level is not a number"),
        ("label=-1", "negative value for vmodule level"),
    ] {
        let o = kubeadm(&["version", "--vmodule", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let err = stderr(&o);
        assert!(
            err.contains("--vmodule") && err.contains(why),
            "{bad}: {err}"
        );
    }
}

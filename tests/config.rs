//! The configuration API: a corpus of real-world files that must parse, default, validate
//! and migrate (with the migration re-reading to the same configuration), a table of bad
//! files that must each be refused naming the field, and a bounded mutation fuzz of the
//! parser.

use std::path::{Path, PathBuf};

use kubeadm::config::documents::{parse, parse_with, Documents, Strictness};
use kubeadm::config::print::{migrate, validate};
use kubeadm::config::{
    default_cluster, default_init, default_join, default_reset, default_upgrade,
    init_configuration, EncryptionAlgorithm, InitOverrides,
};
use kubeadm::host::RealHost;

mod support;
use support::rng::XorShift;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/good");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Everything a file says, with upstream's static defaults applied.
fn defaulted(d: &Documents) -> Documents {
    let mut d = d.clone();
    if d.init.is_some() || d.cluster.is_some() {
        default_init(d.init.get_or_insert_with(Default::default));
        default_cluster(d.cluster.get_or_insert_with(Default::default));
    }
    if let Some(j) = &mut d.join {
        default_join(j);
    }
    if let Some(r) = &mut d.reset {
        default_reset(r);
    }
    if let Some(u) = &mut d.upgrade {
        default_upgrade(u);
    }
    d.warnings.clear();
    d.from_v1beta3 = false;
    d
}

fn overrides() -> InitOverrides {
    InitOverrides {
        node_name: Some("node1".into()),
        advertise_address: Some("192.0.2.10".into()),
        ..InitOverrides::default()
    }
}

#[test]
fn corpus_parses_validates_and_migrates_to_the_same_configuration() {
    let files = corpus();
    assert!(files.len() >= 15);
    for f in files {
        let name = f.display().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let docs = parse(&text, &name).unwrap_or_else(|e| panic!("{e}"));
        validate(&docs).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let migrated = migrate(&docs).unwrap();
        assert!(!migrated.contains("v1beta3"), "{name}");
        let again =
            parse(&migrated, "migrated").unwrap_or_else(|e| panic!("{name}: {e}\n{migrated}"));
        assert!(again.warnings.is_empty(), "{name}: {:?}", again.warnings);
        assert!(
            again.deprecated.is_empty(),
            "{name}: {:?}",
            again.deprecated
        );
        let (a, b) = (defaulted(&docs), defaulted(&again));
        assert_eq!(a.init, b.init, "{name}");
        assert_eq!(a.cluster, b.cluster, "{name}");
        assert_eq!(a.join, b.join, "{name}");
        assert_eq!(a.reset, b.reset, "{name}");
        assert_eq!(a.upgrade, b.upgrade, "{name}");
        // Only kubeadm kinds are migrated, as upstream's MigrateOldConfig.
        assert_eq!(b.kubelet, None, "{name}");
        assert_eq!(b.kube_proxy, None, "{name}");
        // Migrating the migrated file changes nothing.
        assert_eq!(migrate(&again).unwrap(), migrated, "{name}");
        if docs.init.is_some() || docs.cluster.is_some() {
            let host = RealHost::new("/nonexistent");
            let cfg = init_configuration(&host, Some(&docs), &overrides())
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            // The component configurations stay in the old file: compare with them put back.
            let mut again = again.clone();
            again.kubelet = docs.kubelet.clone();
            again.kube_proxy = docs.kube_proxy.clone();
            let cfg2 = init_configuration(&host, Some(&again), &overrides()).unwrap();
            assert_eq!(
                cfg, cfg2,
                "{name}: the internal configuration survives migration"
            );
        }
    }
}

fn load(name: &str) -> Documents {
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs/good")
        .join(name);
    parse(&std::fs::read_to_string(f).unwrap(), name).unwrap()
}

#[test]
fn v1beta3_converts_as_upstream() {
    let d = load("06-extra-args-map-v1beta3.yaml");
    let c = d.cluster.as_ref().unwrap();
    let names: Vec<_> = c
        .api_server
        .extra_args
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["audit-log-maxage", "authorization-mode"],
        "maps become sorted lists"
    );
    assert_eq!(
        d.init
            .as_ref()
            .unwrap()
            .timeouts
            .as_ref()
            .unwrap()
            .control_plane_component_health_check
            .unwrap()
            .0
            .as_secs(),
        360,
        "timeoutForControlPlane moves to timeouts.controlPlaneComponentHealthCheck"
    );
    assert!(d.deprecated.iter().any(
        |w| w.contains("uses kubeadm.k8s.io/v1beta3, which upstream kubeadm removed in v1.37")
    ));
    let j = load("14-join-v1beta3.yaml").join.unwrap();
    assert_eq!(j.timeouts.unwrap().discovery.unwrap().0.as_secs(), 600);
    let mut j = load("15-join-control-plane-v1beta4.yaml").join.unwrap();
    default_join(&mut j);
    assert_eq!(
        j.discovery.file.unwrap().kube_config_path,
        "/etc/kubernetes/discovery.conf"
    );
    assert_eq!(j.control_plane.unwrap().local_api_endpoint.bind_port, 6443);
}

#[test]
fn file_values_reach_the_internal_configuration() {
    let host = RealHost::new("/nonexistent");
    let cfg = init_configuration(
        &host,
        Some(&load("12-ecdsa-and-validity.yaml")),
        &overrides(),
    )
    .unwrap();
    assert_eq!(
        cfg.cluster.encryption_algorithm,
        EncryptionAlgorithm::EcdsaP256
    );
    assert_eq!(
        cfg.cluster.certificate_validity_period.as_secs(),
        2160 * 3600
    );
    assert_eq!(
        cfg.cluster.ca_certificate_validity_period.as_secs(),
        43800 * 3600
    );
    assert_eq!(cfg.cluster.cluster_name, "prod-eu");
    let cfg = init_configuration(
        &host,
        Some(&load("03-ha-control-plane-endpoint.yaml")),
        &overrides(),
    )
    .unwrap();
    assert_eq!(
        cfg.control_plane_url(),
        "https://k8s-api.example.internal:6443"
    );
    assert_eq!(cfg.cluster.kubernetes_version, "v1.37.0");
    let cfg =
        init_configuration(&host, Some(&load("04-external-etcd.yaml")), &overrides()).unwrap();
    assert!(
        matches!(cfg.cluster.etcd, kubeadm::config::Etcd::External(ref e) if e.endpoints.len() == 2)
    );
    let cfg = init_configuration(&host, Some(&load("13-dual-stack.yaml")), &overrides()).unwrap();
    assert_eq!(cfg.cluster.networking.dns_domain, "k8s.example");
    // The default label, stable-1, with the release server out of reach: this release.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}/release", closed.local_addr().unwrap());
    kubeadm::releases::label::set_release_url(Some(&closed));
    let cfg = init_configuration(&host, None, &overrides()).unwrap();
    assert_eq!(
        cfg.cluster.kubernetes_version,
        kubeadm::version::KUBERNETES_VERSION,
        "stable-1 falls back to this release"
    );
}

const INIT: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n";
const CLUSTER: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n";

/// Each bad configuration and what its error must say (the field path, and the line where
/// the parser knows it).
const BAD: &[(&str, &str)] = &[
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n  podsubnet: 10.0.0.0/8\n", "f.yaml:4: ClusterConfiguration: networking.podsubnet: unknown field `podsubnet`"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  taints:\n  - key: a\n    effect: NoSchedule\n    bogus: x\n", "f.yaml:7: InitConfiguration: nodeRegistration.taints[0].bogus: unknown field `bogus`"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    audit-log-path: /x\n", "f.yaml:5: ClusterConfiguration: apiServer.extraArgs: invalid type: map, expected a sequence"),
    ("apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n  - name: a\n    value: b\n", "f.yaml:5: ClusterConfiguration: apiServer.extraArgs: invalid type: sequence, expected a map"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  bindPort: many\n", "f.yaml:4: InitConfiguration: localAPIEndpoint.bindPort: invalid type"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\ntimeouts:\n  discovery: 5 minutes\n", "f.yaml:4: InitConfiguration: timeouts.discovery: invalid duration"),
    ("apiVersion: kubeadm.k8s.io/v1beta2\nkind: InitConfiguration\n", "old or unknown API spec: \"kubeadm.k8s.io/v1beta2\""),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: MasterConfiguration\n", "unknown kind \"MasterConfiguration\""),
    ("kind: InitConfiguration\n", "f.yaml:1: a document without apiVersion and kind"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n", "f.yaml:4: a second InitConfiguration document"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking: [1\n", "f.yaml:"),
    ("apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n---\nINIT\n", "f.yaml:4: a second InitConfiguration document"),
    ("CLUSTER\nnetworking:\n  serviceSubnet: 10.96.0.0/33\n", "f.yaml:4: ClusterConfiguration.networking.serviceSubnet: Invalid value: \"10.96.0.0/33\": couldn't parse subnet"),
    ("CLUSTER\nnetworking:\n  serviceSubnet: 10.0.0.0/8\n", "ClusterConfiguration.networking.serviceSubnet: Invalid value: \"10.0.0.0/8\": the service subnet 10.0.0.0/8 is too large"),
    ("CLUSTER\nnetworking:\n  podSubnet: not-a-cidr\n", "ClusterConfiguration.networking.podSubnet: Invalid value: \"not-a-cidr\""),
    ("CLUSTER\nnetworking:\n  podSubnet: 10.244.0.0/26\n", "ClusterConfiguration.networking.podSubnet: Invalid value: \"10.244.0.0/26\": the size of pod subnet with mask 26 is smaller than the size of node subnet with mask 24"),
    ("CLUSTER\nnetworking:\n  podSubnet: 10.0.0.0/7\n", "ClusterConfiguration.networking.podSubnet: Invalid value: \"10.0.0.0/7\": pod subnet mask (7) and node-mask (24) difference is greater than 16"),
    ("CLUSTER\nnetworking:\n  podSubnet: 10.244.0.0/16\ncontrollerManager:\n  extraArgs:\n  - name: node-cidr-mask-size-ipv4\n    value: \"8\"\n", "the size of pod subnet with mask 16 is smaller than the size of node subnet with mask 8"),
    ("CLUSTER\nnetworking:\n  serviceSubnet: 10.96.0.0/30\n", "ClusterConfiguration.networking.serviceSubnet: Invalid value: \"10.96.0.0/30\": subnet with 4 address(es) is too small, the minimum is 10"),
    ("CLUSTER\nnetworking:\n  podSubnet: 10.244.0.0/16,10.245.0.0/16\n", "ClusterConfiguration.networking.podSubnet: Invalid value: \"10.244.0.0/16,10.245.0.0/16\": a dual-stack subnet needs one IPv4 and one IPv6 CIDR"),
    ("CLUSTER\nnetworking:\n  dnsDomain: Cluster_Local\n", "ClusterConfiguration.networking.dnsDomain: Invalid value: \"Cluster_Local\""),
    ("CLUSTER\nkubernetesVersion: v1.35.4\n", "ClusterConfiguration.kubernetesVersion: Invalid value: \"v1.35.4\": this version of kubeadm only supports deploying clusters with the control plane version >= 1.36.0"),
    ("CLUSTER\nkubernetesVersion: banana\n", "ClusterConfiguration.kubernetesVersion: Invalid value: \"banana\""),
    ("CLUSTER\ncontrolPlaneEndpoint: \"lb_example:6443\"\n", "ClusterConfiguration.controlPlaneEndpoint: Invalid value: \"lb_example:6443\""),
    ("CLUSTER\ncontrolPlaneEndpoint: \"lb.example:port\"\n", "ClusterConfiguration.controlPlaneEndpoint: Invalid value: \"lb.example:port\""),
    ("CLUSTER\napiServer:\n  certSANs:\n  - \"bad name!\"\n", "f.yaml:5: ClusterConfiguration.apiServer.certSANs[0]: Invalid value: \"bad name!\""),
    ("CLUSTER\netcd:\n  local:\n    dataDir: relative/etcd\n", "ClusterConfiguration.etcd.local.dataDir: Invalid value: \"relative/etcd\": must be an absolute path"),
    ("CLUSTER\netcd:\n  local: {}\n  external:\n    endpoints: [https://e:2379]\n", "ClusterConfiguration.etcd: Invalid value: \"local and external\""),
    ("CLUSTER\ncertificatesDir: pki\n", "ClusterConfiguration.certificatesDir: Invalid value: \"pki\": must be an absolute path"),
    ("CLUSTER\nencryptionAlgorithm: DSA-1024\n", "ClusterConfiguration.encryptionAlgorithm: Invalid value: \"DSA-1024\""),
    ("CLUSTER\nfeatureGates:\n  NoSuchGate: true\n", "f.yaml:3: ClusterConfiguration.featureGates: Invalid value: \"NoSuchGate\": unrecognized feature-gate key"),
    ("INIT\nbootstrapTokens:\n- token: abcdef.0123456789ABCDEF\n", "InitConfiguration.bootstrapTokens[0].token: Invalid value: \"abcdef.<hidden>\""),
    ("INIT\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\n  usages: [signing, stealing]\n", "f.yaml:5: InitConfiguration.bootstrapTokens[0].usages[1]: Invalid value: \"stealing\""),
    ("INIT\nbootstrapTokens:\n- groups: [admins]\n", "InitConfiguration.bootstrapTokens[0].groups[0]: Invalid value: \"admins\""),
    ("INIT\nlocalAPIEndpoint:\n  bindPort: 70000\n", "InitConfiguration.localAPIEndpoint.bindPort: Invalid value: \"70000\""),
    ("INIT\nnodeRegistration:\n  name: Node_1\n", "InitConfiguration.nodeRegistration.name: Invalid value: \"Node_1\""),
    ("INIT\nnodeRegistration:\n  imagePullPolicy: Sometimes\n", "InitConfiguration.nodeRegistration.imagePullPolicy: Invalid value: \"Sometimes\""),
    ("INIT\nnodeRegistration:\n  criSocket: tcp://1.2.3.4:1\n", "InitConfiguration.nodeRegistration.criSocket: Invalid value: \"tcp://1.2.3.4:1\""),
    ("INIT\ncertificateKey: 1234\n", "InitConfiguration.certificateKey: Invalid value: \"<hidden>\""),
    ("CLUSTER\netcd:\n  external:\n    endpoints: [//e:2379]\n", "ClusterConfiguration.etcd.external.endpoints[0]: Invalid value: \"//e:2379\": the URL without scheme is not allowed"),
    ("CLUSTER\netcd:\n  external:\n    endpoints: [http://e:2379]\n    caFile: /ca.crt\n", "ClusterConfiguration.etcd.external.endpoints[0]: Invalid value: \"http://e:2379\": the URL must be using the HTTPS scheme"),
    ("CLUSTER\netcd:\n  external:\n    endpoints: [https://e:2379]\n    caFile: /ca.crt\n    certFile: /c.crt\n", "either both or none of .Etcd.External.CertFile and .Etcd.External.KeyFile must be set"),
    ("CLUSTER\netcd:\n  external:\n    endpoints: [https://e:2379]\n    certFile: /c.crt\n    keyFile: /c.key\n", "setting .Etcd.External.CertFile and .Etcd.External.KeyFile requires .Etcd.External.CAFile"),
    ("CLUSTER\netcd:\n  external:\n    endpoints: [https://e:2379]\n    caFile: ca.crt\n", "ClusterConfiguration.etcd.external.caFile: Invalid value: \"ca.crt\": path is not absolute"),
    ("CLUSTER\nimageRepository: Registry.Example/K8s\n", "ClusterConfiguration.imageRepository: Invalid value: \"Registry.Example/K8s\": invalid image repository format"),
    ("CLUSTER\nimageRepository: \"mirror.example/k8s/\"\n", "ClusterConfiguration.imageRepository: Invalid value"),
    ("CLUSTER\ndns:\n  imageRepository: \"bad repo\"\n", "ClusterConfiguration.dns.imageRepository: Invalid value: \"bad repo\""),
    ("CLUSTER\netcd:\n  local:\n    imageRepository: \"x/-y\"\n", "ClusterConfiguration.etcd.local.imageRepository: Invalid value: \"x/-y\""),
    ("INIT\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\n  usages: [signing]\n  groups: [system:bootstrappers:extra]\n", "InitConfiguration.bootstrapTokens[0].groups: Invalid value: \"system:bootstrappers:extra\": token groups cannot be specified unless --usages includes \"authentication\""),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ncaCertPath: ca.pem\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: 10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n    unsafeSkipCAVerification: true\n", "JoinConfiguration.caCertPath: Invalid value: \"ca.pem\""),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: 10.0.0.1\n    token: abcdef.0123456789abcdef\n    unsafeSkipCAVerification: true\n", "JoinConfiguration.discovery.bootstrapToken.apiServerEndpoint: Invalid value: \"10.0.0.1\": missing port in address"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\nnodeRegistration:\n  imagePullPolicy: Sometimes\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: 10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n    unsafeSkipCAVerification: true\n", "JoinConfiguration.nodeRegistration.imagePullPolicy: Invalid value: \"Sometimes\""),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\nunmountFlags: [MNT_LAZY]\n", "ResetConfiguration.unmountFlags[0]: Invalid value: \"MNT_LAZY\""),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\ncertificatesDir: pki\n", "ResetConfiguration.certificatesDir: Invalid value: \"pki\""),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\napply:\n  patches:\n    directory: patches\n", "UpgradeConfiguration.apply.patches.directory: Invalid value: \"patches\": path is not absolute"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\nnode:\n  imagePullPolicy: Sometimes\n", "UpgradeConfiguration.node.imagePullPolicy: Invalid value: \"Sometimes\""),
];

/// What upstream accepts but we think worth saying: each configuration validates (exit
/// 0) and prints its one warning, naming the field.
const ACCEPTED_WITH_A_WARNING: &[(&str, &str)] = &[
    ("CLUSTER\nkubernetesVersion: v1.38.0\n", ""),
    ("CLUSTER\napiServer:\n  extraArgs:\n  - name: --audit-log-path\n    value: /x\n", "[WARNING ExtraArgs]: ClusterConfiguration.apiServer.extraArgs[0].name: \"--audit-log-path\""),
    ("CLUSTER\netcd:\n  external:\n    endpoints: []\n", "[WARNING ExternalEtcd]: ClusterConfiguration.etcd.external.endpoints"),
    ("CLUSTER\netcd:\n  external:\n    endpoints: [https://e:2379]\n    caFile: /ca.crt\n", ""),
    ("CLUSTER\netcd:\n  external:\n    endpoints: [http://e:2379, unix:///run/etcd.sock]\n", ""),
    ("CLUSTER\ncertificateValidityPeriod: 10000h\n", "[WARNING CertificateValidity]: ClusterConfiguration.certificateValidityPeriod: \"10000h0m0s\": the value is more than the recommended default"),
    ("CLUSTER\ncaCertificateValidityPeriod: 1h\n", "[WARNING CertificateValidity]: ClusterConfiguration.certificateValidityPeriod: \"8760h0m0s\": longer than caCertificateValidityPeriod"),
    ("CLUSTER\nfeatureGates:\n  EtcdLearnerMode: false\n", "[WARNING FeatureGates]: ClusterConfiguration.featureGates.EtcdLearnerMode"),
    ("CLUSTER\nclusterName: Prod_EU\n", "[WARNING ClusterName]: ClusterConfiguration.clusterName: \"Prod_EU\""),
    ("CLUSTER\nnetworking:\n  podSubnet: 10.244.0.0/26\ncontrollerManager:\n  extraArgs:\n  - name: allocate-node-cidrs\n    value: \"false\"\n", ""),
    ("CLUSTER\nnetworking:\n  serviceSubnet: fec0::/112\n", "[WARNING SiteLocalSubnet]: ClusterConfiguration.networking.serviceSubnet: \"fec0::/112\""),
    ("CLUSTER\nimageRepository: \"[::1]:5000/k8s\"\n", ""),
    ("CLUSTER\nimageRepository: Mirror.Example:5000/k8s__x/a-b.c\n", ""),
    ("INIT\nnodeRegistration:\n  taints:\n  - key: a\n    effect: NoWay\n", "[WARNING Taints]: InitConfiguration.nodeRegistration.taints[0].effect: \"NoWay\""),
    ("INIT\ntimeouts:\n  kubeletHealthCheck: \"0\"\n", "[WARNING ZeroDuration]: InitConfiguration.timeouts.kubeletHealthCheck: \"0s\""),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: lb_1.example:6443\n    token: abcdef.0123456789abcdef\n    unsafeSkipCAVerification: true\n", "[WARNING APIServerEndpoint]"),
];

#[test]
fn bad_configurations_name_the_field() {
    assert!(BAD.len() >= 50);
    for (yaml, want) in BAD {
        let yaml = yaml.replace("CLUSTER\n", CLUSTER).replace("INIT\n", INIT);
        // As `config validate` reads a file: strictly.
        let err = match parse_with(&yaml, "f.yaml", Strictness::Strict) {
            Err(e) => e.to_string(),
            Ok(docs) => format!(
                "{:#}",
                validate(&docs).expect_err(&format!("accepted:\n{yaml}"))
            ),
        };
        assert!(
            err.contains(want),
            "for\n{yaml}\nwanted {want:?}\ngot    {err:?}"
        );
        assert!(
            !err.contains("0123456789"),
            "an error must not show a token secret: {err}"
        );
    }
}

#[test]
fn mutated_files_never_panic_the_parser() {
    let seeds: Vec<Vec<u8>> = corpus().iter().map(|f| std::fs::read(f).unwrap()).collect();
    let tokens: &[&[u8]] = &[
        b": ",
        b"\n",
        b"- ",
        b"---\n",
        b"{",
        b"[",
        b"'",
        b"\"",
        b"&a ",
        b"*a",
        b"!!binary ",
        b"~",
        b"0x",
        b"  ",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..4000 {
        let mut doc = seeds[(rng.next() % seeds.len() as u64) as usize].clone();
        for _ in 0..(1 + rng.next() % 4) {
            let at = (rng.next() % (doc.len() as u64 + 1)) as usize;
            match rng.next() % 4 {
                0 => doc.truncate(at),
                1 => {
                    let t = tokens[(rng.next() % tokens.len() as u64) as usize];
                    doc.splice(at..at, t.iter().copied());
                }
                2 if at < doc.len() => doc[at] = (rng.next() & 0x7f) as u8,
                _ => {
                    let end = (at + (rng.next() % 16) as usize).min(doc.len());
                    doc.drain(at..end);
                }
            }
        }
        let text = String::from_utf8_lossy(&doc);
        if let Ok(docs) = parse(&text, "fuzz.yaml") {
            let _ = validate(&docs);
            let _ = migrate(&docs);
        }
    }
}

#[test]
fn debug_output_never_shows_secrets() {
    let host = RealHost::new("/nonexistent");
    for (file, secret) in [
        ("10-bootstrap-tokens.yaml", "c0izixklcxtmnze7"),
        ("03-ha-control-plane-endpoint.yaml", "4a6b2d3f9e8c7b1a"),
    ] {
        let cfg = init_configuration(&host, Some(&load(file)), &overrides()).unwrap();
        let text = format!("{cfg:?}");
        assert!(!text.contains(secret), "{file}: {text}");
    }
    let j = load("15-join-control-plane-v1beta4.yaml");
    let text = format!("{j:?}");
    assert!(
        !text.contains("0123456789abcdef") && !text.contains("4a6b2d3f9e8c7b1a"),
        "{text}"
    );
}

#[test]
fn init_flags_reach_the_configuration() {
    let host = RealHost::new("/nonexistent");
    let o = InitOverrides {
        token: Some("abcdef.0123456789abcdef".into()),
        token_ttl: Some(std::time::Duration::from_secs(3600)),
        certificate_key: Some(
            "4a6b2d3f9e8c7b1a0d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c".into(),
        ),
        patches: Some("/etc/kubeadm/patches".into()),
        ignore_preflight_errors: vec!["Swap".into()],
        pod_subnet: Some("10.244.0.0/16".into()),
        bind_port: Some(8443),
        ..overrides()
    };
    let cfg = init_configuration(&host, None, &o).unwrap();
    let init = &cfg.versioned.init;
    assert_eq!(init.bootstrap_tokens[0].token, "abcdef.0123456789abcdef");
    assert_eq!(init.bootstrap_tokens[0].ttl.unwrap().0.as_secs(), 3600);
    assert_eq!(
        init.bootstrap_tokens[0].usages,
        ["signing", "authentication"]
    );
    assert_eq!(init.certificate_key.len(), 64);
    assert_eq!(
        init.patches.as_ref().unwrap().directory,
        "/etc/kubeadm/patches"
    );
    assert_eq!(init.node_registration.ignore_preflight_errors, ["Swap"]);
    assert_eq!(cfg.cluster.networking.pod_subnet, "10.244.0.0/16");
    assert_eq!(cfg.local_api_endpoint.bind_port, 8443);
    let bad = InitOverrides {
        token: Some("nope".into()),
        ..overrides()
    };
    let e = format!("{:#}", init_configuration(&host, None, &bad).unwrap_err());
    assert!(
        e.contains("InitConfiguration.bootstrapTokens[0].token: Invalid value"),
        "{e}"
    );
}

/// The documentation's dual-stack example, whose IPv6 pod range contains the service
/// range, passes `kubeadm config validate` as upstream's does, with one warning.
#[test]
fn the_documented_dual_stack_example_validates_with_a_warning() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs/good/18-dual-stack-docs-example.yaml");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .args(["config", "validate", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err.matches("[WARNING PodSubnetOverlap]").count(),
        1,
        "{err}"
    );
    assert!(err.contains("2001:db8:42:1::/112"), "{err}");
}

#[test]
fn what_upstream_accepts_validates_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    for (yaml, warning) in ACCEPTED_WITH_A_WARNING {
        let yaml = yaml.replace("CLUSTER\n", CLUSTER).replace("INIT\n", INIT);
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, &yaml).unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_kubeadm"))
            .args(["config", "validate", "--config"])
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "refused:\n{yaml}\n{err}");
        assert!(
            err.contains(warning),
            "for\n{yaml}\nwanted {warning:?}\ngot {err:?}"
        );
        assert_eq!(
            err.matches("[WARNING").count(),
            usize::from(!warning.is_empty()),
            "one warning, printed once:\n{yaml}\n{err}"
        );
    }
}

/// Upstream decodes with strict=false everywhere but `config validate` and `config
/// migrate`: a field it does not know (sealos writes v1beta3's `discovery.timeout` into its
/// v1beta4 files) is a warning elsewhere, and those two refuse it, component
/// configurations included.
#[test]
fn unknown_fields_warn_except_in_validate_and_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sealos.yaml");
    std::fs::write(
        &file,
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.0.2.10\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\nimageRepository: registry.example\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  timeout: 5m0s\n  bootstrapToken:\n    apiServerEndpoint: 192.0.2.10:6443\n    token: abcdef.0123456789abcdef\n    unsafeSkipCAVerification: true\n---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\nmaxPod: 3\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kubeadm"))
            .args(args)
            .arg(&file)
            .output()
            .unwrap()
    };
    let o = run(&["config", "images", "list", "--config"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("registry.example/kube-apiserver:v1.37.1"),
        "the file was read"
    );
    for warning in [
        "Kind:\"JoinConfiguration\"}: strict decoding error: unknown field \"discovery.timeout\"",
        "Kind:\"KubeletConfiguration\"}: strict decoding error: unknown field \"maxPod\"",
    ] {
        assert_eq!(err.matches(warning).count(), 1, "{err}");
    }
    assert!(!err.contains("0123456789"), "{err}");
    for command in [
        &["config", "validate", "--config"][..],
        &["config", "migrate", "--old-config"][..],
    ] {
        let o = run(command);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{command:?}: {err}");
        assert!(
            err.contains(
                "sealos.yaml:14: JoinConfiguration: discovery.timeout: unknown field `timeout`"
            ),
            "{command:?}: {err}"
        );
    }
    // Without the kubeadm field, the kubelet's is refused in turn.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("  timeout: 5m0s\n", "");
    std::fs::write(&file, text).unwrap();
    let o = run(&["config", "validate", "--config"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("sealos.yaml:22: KubeletConfiguration: maxPod: unknown field;"),
        "{err}"
    );
}

/// `config migrate` writes only kubeadm kinds (upstream's MigrateOldConfig), without the
/// deprecated-API warning; `config validate` warns about a deprecated version unless
/// `--allow-deprecated-api` (#135148), and checks an UpgradeConfiguration; both refuse a
/// document kind no scheme knows.
#[test]
fn migrate_writes_kubeadm_kinds_and_validate_warns_about_deprecated_versions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.yaml");
    std::fs::write(
        &file,
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nclusterName: old\n---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\napply:\n  certificateRenewal: false\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_kubeadm"))
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let path = file.display().to_string();
    let (code, out, err) = run(&["config", "migrate", "--old-config", &path]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("deprecated"), "{err}");
    let kinds: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    assert_eq!(
        kinds,
        ["ClusterConfiguration", "UpgradeConfiguration"],
        "{out}"
    );
    assert!(out.contains("clusterName: old") && out.contains("certificateRenewal: false"));

    let (code, out, err) = run(&["config", "validate", "--config", &path]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "ok\n");
    assert_eq!(
        err.matches("which upstream kubeadm removed in v1.37")
            .count(),
        1,
        "{err}"
    );
    let (code, _, err) = run(&[
        "config",
        "validate",
        "--allow-deprecated-api",
        "--config",
        &path,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("deprecated"), "{err}");

    // The UpgradeConfiguration is validated.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "  certificateRenewal: false\n",
            "  imagePullPolicy: Sometimes\n",
        ),
    )
    .unwrap();
    let (code, _, err) = run(&["config", "validate", "--config", &path]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("UpgradeConfiguration.apply.imagePullPolicy: Invalid value: \"Sometimes\""),
        "{err}"
    );

    // A kind no scheme knows: refused by both, ignored with a warning elsewhere.
    std::fs::write(&file, "apiVersion: example.com/v1\nkind: Thing\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n").unwrap();
    for args in [
        &["config", "validate", "--config", &path][..],
        &["config", "migrate", "--old-config", &path][..],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(
            err.contains("old.yaml:1: unknown configuration APIs: []schema.GroupVersionKind{schema.GroupVersionKind{Group:\"example.com\", Version:\"v1\", Kind:\"Thing\"}}"),
            "{args:?}: {err}"
        );
    }
    let (code, _, err) = run(&["config", "images", "list", "--config", &path]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(
            "Ignored configuration document with GroupVersionKind example.com/v1, Kind=Thing"
        ),
        "{err}"
    );
}

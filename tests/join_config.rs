//! `kubeadm join`'s flags and JoinConfiguration: how they combine, and each refusal with
//! its field path.

use kubeadm::config::documents::parse;
use kubeadm::config::join::{join_configuration, Discovery, JoinOverrides};
use kubeadm::host::RealHost;

const PIN: &str = "sha256:7c2b29d8c5b5a3f0a5b9ad1b0f3d6e4b6d2a3e0f1c2b3a4d5e6f708192a3b4c5";
const TOKEN: &str = "abcdef.0123456789abcdef";

fn flags() -> JoinOverrides {
    JoinOverrides {
        api_server_endpoint: Some("192.0.2.10:6443".into()),
        token: Some(TOKEN.into()),
        ca_cert_hashes: vec![PIN.into()],
        node_name: Some("worker-1".into()),
        ..JoinOverrides::default()
    }
}

fn host() -> RealHost {
    RealHost::new("/nonexistent")
}

#[test]
fn the_printed_join_command_makes_token_discovery() {
    let cfg = join_configuration(&host(), None, &flags()).unwrap();
    match &cfg.discovery {
        Discovery::Token {
            api_server_endpoint,
            token,
            ca_cert_hashes,
            unsafe_skip_ca_verification,
        } => {
            assert_eq!(api_server_endpoint, "192.0.2.10:6443");
            assert_eq!(
                token.to_string(),
                TOKEN,
                "--token fills the discovery token"
            );
            assert_eq!(ca_cert_hashes, &[PIN.to_string()]);
            assert!(!unsafe_skip_ca_verification);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        cfg.tls_bootstrap_token.as_ref().unwrap().to_string(),
        TOKEN,
        "and the TLS bootstrap token"
    );
    assert!(cfg.control_plane.is_none());
    assert_eq!(
        cfg.ca_cert_path.to_str(),
        Some("/etc/kubernetes/pki/ca.crt")
    );
    assert!(
        !format!("{cfg:?}").contains("0123456789abcdef"),
        "Debug must not show the token secret"
    );
}

#[test]
fn control_plane_join_takes_its_flags() {
    let o = JoinOverrides {
        control_plane: true,
        advertise_address: Some("192.0.2.11".into()),
        certificate_key: Some(
            "4a6b2d3f9e8c7b1a0d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c".into(),
        ),
        ..flags()
    };
    let cp = join_configuration(&host(), None, &o)
        .unwrap()
        .control_plane
        .unwrap();
    assert_eq!(cp.local_api_endpoint.advertise_address, "192.0.2.11");
    assert_eq!(cp.local_api_endpoint.bind_port, 6443);
}

#[test]
fn a_join_configuration_file_is_read() {
    let text = format!(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\nnodeRegistration:\n  name: w2\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: lb.example:6443\n    token: {TOKEN}\n    caCertHashes: [{PIN}]\nskipPhases: [preflight]\n"
    );
    let docs = parse(&text, "join.yaml").unwrap();
    let cfg = join_configuration(&host(), Some(&docs), &JoinOverrides::default()).unwrap();
    assert_eq!(cfg.node_name, "w2");
    assert!(
        matches!(cfg.discovery, Discovery::Token { ref api_server_endpoint, .. } if api_server_endpoint == "lb.example:6443")
    );
    assert_eq!(cfg.versioned.skip_phases, ["preflight"]);
    let file = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  file:\n    kubeConfigPath: https://example.test/cluster-info.yaml\n";
    let cfg = join_configuration(
        &host(),
        Some(&parse(file, "f").unwrap()),
        &JoinOverrides {
            node_name: Some("w3".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(cfg.discovery, Discovery::File { ref path } if path.starts_with("https://")));
}

#[test]
fn refusals_name_the_field() {
    let cases: Vec<(JoinOverrides, &str)> = vec![
        (JoinOverrides { node_name: Some("w".into()), ..Default::default() }, "JoinConfiguration.discovery: Invalid value: \"\": bootstrapToken or file must be set"),
        (JoinOverrides { ca_cert_hashes: vec![], ..flags() }, "using token-based discovery without caCertHashes can be unsafe"),
        (JoinOverrides { ca_cert_hashes: vec!["md5:abc".into()], ..flags() }, "JoinConfiguration.discovery.bootstrapToken.caCertHashes[0]: Invalid value: \"md5:abc\""),
        (JoinOverrides { token: Some("abcdef.0123".into()), ..flags() }, "JoinConfiguration.discovery.bootstrapToken.token: Invalid value: \"<hidden>\""),
        (JoinOverrides { api_server_endpoint: Some("192.0.2.10".into()), ..flags() }, "JoinConfiguration.discovery.bootstrapToken.apiServerEndpoint: Invalid value: \"192.0.2.10\": missing port in address; expected host:port"),
        (JoinOverrides { api_server_endpoint: None, ..flags() }, "JoinConfiguration.discovery.bootstrapToken.apiServerEndpoint: Required value"),
        (JoinOverrides { discovery_file: Some("http://example.test/c.yaml".into()), ..flags() }, "JoinConfiguration.discovery: Invalid value: \"bootstrapToken and file\""),
        (JoinOverrides { discovery_file: Some("http://example.test/c.yaml".into()), token: None, api_server_endpoint: None, ca_cert_hashes: vec![], ..flags() }, "JoinConfiguration.discovery.file.kubeConfigPath: Invalid value: \"http://example.test/c.yaml\": URLs must use https"),
        (JoinOverrides { control_plane: true, advertise_address: Some("not-an-ip".into()), ..flags() }, "JoinConfiguration.controlPlane.localAPIEndpoint.advertiseAddress: Invalid value: \"not-an-ip\""),
        (JoinOverrides { control_plane: true, certificate_key: Some("abc".into()), ..flags() }, "JoinConfiguration.controlPlane.certificateKey: Invalid value: \"<hidden>\""),
        (JoinOverrides { node_name: Some("Worker_1".into()), ..flags() }, "JoinConfiguration.nodeRegistration.name: Invalid value: \"Worker_1\""),
    ];
    for (o, want) in cases {
        let e = format!("{:#}", join_configuration(&host(), None, &o).unwrap_err());
        assert!(e.contains(want), "wanted {want:?}\ngot {e:?}");
        assert!(!e.contains("0123456789abcdef"), "{e}");
    }
}

#[test]
fn ignored_preflight_errors_of_the_flag_add_to_the_files() {
    let text = format!(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\nnodeRegistration:\n  name: w2\n  ignorePreflightErrors: [Swap, CRI]\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: lb.example:6443\n    token: {TOKEN}\n    caCertHashes: [{PIN}]\n"
    );
    let docs = parse(&text, "join.yaml").unwrap();
    let cfg = join_configuration(
        &host(),
        Some(&docs),
        &JoinOverrides {
            ignore_preflight_errors: vec!["DiscoveryEndpoint".into(), "swap".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        cfg.versioned.node_registration.ignore_preflight_errors,
        ["Swap", "CRI", "DiscoveryEndpoint"]
    );
}

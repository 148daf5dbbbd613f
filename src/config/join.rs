//! The configuration of `kubeadm join`: the JoinConfiguration document (or none) with the
//! command-line flags bound onto it as upstream's `newJoinData` does, defaults, validation,
//! and a typed view of discovery.

use std::net::IpAddr;
use std::path::PathBuf;

use super::default_join;
use super::go_split_host_port;
use super::v1beta4;
use super::validation::{FieldError, ValidationErrors};
use crate::names::is_dns_subdomain;
use crate::token::BootstrapToken;

/// Values from the join command line.
#[derive(Debug, Default, Clone)]
pub struct JoinOverrides {
    /// The positional `api-server-endpoint`.
    pub api_server_endpoint: Option<String>,
    /// `--apiserver-advertise-address`.
    pub advertise_address: Option<String>,
    /// `--apiserver-bind-port`.
    pub bind_port: Option<u16>,
    /// `--certificate-key`.
    pub certificate_key: Option<String>,
    /// `--control-plane`.
    pub control_plane: bool,
    /// `--cri-socket`.
    pub cri_socket: Option<String>,
    /// `--discovery-file`.
    pub discovery_file: Option<String>,
    /// `--discovery-token`.
    pub discovery_token: Option<String>,
    /// `--discovery-token-ca-cert-hash`.
    pub ca_cert_hashes: Vec<String>,
    /// `--discovery-token-unsafe-skip-ca-verification`.
    pub unsafe_skip_ca_verification: bool,
    /// `--node-name`.
    pub node_name: Option<String>,
    /// `--tls-bootstrap-token`.
    pub tls_bootstrap_token: Option<String>,
    /// `--token`.
    pub token: Option<String>,
    /// `--patches`.
    pub patches: Option<PathBuf>,
    /// `--ignore-preflight-errors`.
    pub ignore_preflight_errors: Vec<String>,
}

/// How a joining node learns about the cluster and trusts it. (`Debug` shows only the
/// token's id: [`BootstrapToken`] masks its secret.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// Fetch `cluster-info` from an API server, verified with a bootstrap token.
    Token {
        /// `host:port` of an API server.
        api_server_endpoint: String,
        /// The token whose secret signs `cluster-info`.
        token: BootstrapToken,
        /// Accepted CA public-key pins (`sha256:<hex>`).
        ca_cert_hashes: Vec<String>,
        /// Accept any CA (no pinning).
        unsafe_skip_ca_verification: bool,
    },
    /// A kubeconfig file or HTTPS URL with the cluster's details.
    File {
        /// Path or `https://` URL.
        path: String,
    },
}

/// What `kubeadm join` works from.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinConfiguration {
    /// The node name.
    pub node_name: String,
    /// Where the cluster CA is written.
    pub ca_cert_path: PathBuf,
    /// Discovery.
    pub discovery: Discovery,
    /// The token for the kubelet's TLS bootstrap.
    pub tls_bootstrap_token: Option<BootstrapToken>,
    /// `Some` when this node joins as a control-plane node.
    pub control_plane: Option<v1beta4::JoinControlPlane>,
    /// The document, flags and defaults applied.
    pub versioned: v1beta4::JoinConfiguration,
}

/// Binds join's flags onto the document, as upstream: `--token` fills both tokens when
/// they are not given, the positional endpoint selects token discovery, `--control-plane`
/// adds the control-plane section.
pub fn apply_join_overrides(j: &mut v1beta4::JoinConfiguration, o: &JoinOverrides) {
    if let Some(n) = &o.node_name {
        j.node_registration.name = n.clone();
    }
    if let Some(s) = &o.cri_socket {
        j.node_registration.cri_socket = s.clone();
    }
    if let Some(t) = &o.tls_bootstrap_token {
        j.discovery.tls_bootstrap_token = t.clone();
    }
    if let Some(p) = &o.patches {
        j.patches = Some(v1beta4::Patches {
            directory: p.display().to_string(),
        });
    }
    // The flag adds to the configuration's list, as upstream merges the two.
    let list = &mut j.node_registration.ignore_preflight_errors;
    for name in &o.ignore_preflight_errors {
        if !list.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            list.push(name.clone());
        }
    }
    if let Some(f) = &o.discovery_file {
        j.discovery.file = Some(v1beta4::FileDiscovery {
            kube_config_path: f.clone(),
        });
    }
    let token_flag_given = o.discovery_token.is_some()
        || !o.ca_cert_hashes.is_empty()
        || o.unsafe_skip_ca_verification
        || o.api_server_endpoint.is_some()
        || (o.token.is_some() && o.discovery_file.is_none());
    if token_flag_given {
        let bt = j
            .discovery
            .bootstrap_token
            .get_or_insert_with(Default::default);
        if let Some(e) = &o.api_server_endpoint {
            bt.api_server_endpoint = e.clone();
        }
        if let Some(t) = &o.discovery_token {
            bt.token = t.clone();
        }
        if !o.ca_cert_hashes.is_empty() {
            bt.ca_cert_hashes = o.ca_cert_hashes.clone();
        }
        if o.unsafe_skip_ca_verification {
            bt.unsafe_skip_ca_verification = true;
        }
    }
    if let Some(token) = &o.token {
        if j.discovery.tls_bootstrap_token.is_empty() {
            j.discovery.tls_bootstrap_token = token.clone();
        }
        if let Some(bt) = &mut j.discovery.bootstrap_token {
            if bt.token.is_empty() {
                bt.token = token.clone();
            }
        }
    }
    let control_plane_flags =
        o.advertise_address.is_some() || o.bind_port.is_some() || o.certificate_key.is_some();
    if o.control_plane || (j.control_plane.is_some() && control_plane_flags) {
        let cp = j.control_plane.get_or_insert_with(Default::default);
        if let Some(a) = &o.advertise_address {
            cp.local_api_endpoint.advertise_address = a.clone();
        }
        if let Some(p) = o.bind_port {
            cp.local_api_endpoint.bind_port = p as i32;
        }
        if let Some(k) = &o.certificate_key {
            cp.certificate_key = k.clone();
        }
    }
}

/// A public-key pin as `--discovery-token-ca-cert-hash` takes it.
pub fn valid_pin(pin: &str) -> bool {
    pin.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Upstream's join validation, every problem at once with its field path.
pub fn validate_join(j: &v1beta4::JoinConfiguration) -> Result<(), ValidationErrors> {
    let mut errs = Vec::new();
    let mut push = |path: &str, kind: String| {
        errs.push(FieldError {
            path: path.into(),
            kind,
            location: None,
        })
    };
    let jc = "JoinConfiguration";
    let d = &j.discovery;
    match (&d.bootstrap_token, &d.file) {
        (None, None) => push(&format!("{jc}.discovery"), "Invalid value: \"\": bootstrapToken or file must be set; give an API server endpoint with --token and --discovery-token-ca-cert-hash, or --discovery-file".into()),
        (Some(_), Some(_)) => push(&format!("{jc}.discovery"), "Invalid value: \"bootstrapToken and file\": bootstrapToken and file cannot both be set".into()),
        (Some(bt), None) => {
            let p = format!("{jc}.discovery.bootstrapToken");
            if bt.token.is_empty() {
                push(&format!("{p}.token"), "Required value: the token discovery needs a token (--token or --discovery-token)".into());
            } else if BootstrapToken::parse(&bt.token).is_err() {
                push(&format!("{p}.token"), "Invalid value: \"<hidden>\": the bootstrap token is invalid; expected the form [a-z0-9]{6}.[a-z0-9]{16}".into());
            }
            if bt.api_server_endpoint.is_empty() {
                push(&format!("{p}.apiServerEndpoint"), "Required value: the address of an API server (host:port), given as the first argument of 'kubeadm join'".into());
            } else {
                // Upstream only splits host and port here (Go's net.SplitHostPort); a
                // host that is neither an address nor a DNS name is a warning.
                match go_split_host_port(&bt.api_server_endpoint) {
                    Err(why) => push(&format!("{p}.apiServerEndpoint"), format!("Invalid value: {:?}: {why}; expected host:port, for example 192.168.0.10:6443", bt.api_server_endpoint)),
                    Ok((host, _)) => {
                        if host.parse::<IpAddr>().is_err() && !is_dns_subdomain(host) {
                            eprintln!("[WARNING APIServerEndpoint]: {p}.apiServerEndpoint: {:?}: the host is neither an IP address nor a DNS name; discovery will likely not reach it", bt.api_server_endpoint);
                        }
                    }
                }
            }
            for (i, h) in bt.ca_cert_hashes.iter().enumerate() {
                if !valid_pin(h) {
                    push(&format!("{p}.caCertHashes[{i}]"), format!("Invalid value: {h:?}: expected \"sha256:\" and 64 hexadecimal digits (the SHA-256 of the CA's public key, printed by 'kubeadm init')"));
                }
            }
            if bt.ca_cert_hashes.is_empty() && !bt.unsafe_skip_ca_verification {
                push(&p, "Invalid value: \"\": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue".into());
            }
        }
        (None, Some(f)) => {
            let path = &f.kube_config_path;
            if path.is_empty() {
                push(&format!("{jc}.discovery.file.kubeConfigPath"), "Required value: a kubeconfig file or an https:// URL".into());
            } else if path.contains("://") && !path.starts_with("https://") {
                push(&format!("{jc}.discovery.file.kubeConfigPath"), format!("Invalid value: {path:?}: URLs must use https"));
            }
        }
    }
    if d.tls_bootstrap_token.is_empty() && d.file.is_none() {
        push(
            &format!("{jc}.discovery.tlsBootstrapToken"),
            "Required value: the TLS bootstrap token (--tls-bootstrap-token or --token)".into(),
        );
    } else if !d.tls_bootstrap_token.is_empty()
        && BootstrapToken::parse(&d.tls_bootstrap_token).is_err()
    {
        push(&format!("{jc}.discovery.tlsBootstrapToken"), "Invalid value: \"<hidden>\": the bootstrap token is invalid; expected the form [a-z0-9]{6}.[a-z0-9]{16}".into());
    }
    if let Some(cp) = &j.control_plane {
        let a = &cp.local_api_endpoint;
        if !a.advertise_address.is_empty() && a.advertise_address.parse::<IpAddr>().is_err() {
            push(
                &format!("{jc}.controlPlane.localAPIEndpoint.advertiseAddress"),
                format!(
                    "Invalid value: {:?}: must be a valid IP address",
                    a.advertise_address
                ),
            );
        }
        if !(1..=65535).contains(&a.bind_port) {
            push(
                &format!("{jc}.controlPlane.localAPIEndpoint.bindPort"),
                format!(
                    "Invalid value: \"{}\": must be between 1 and 65535, inclusive",
                    a.bind_port
                ),
            );
        }
        let k = &cp.certificate_key;
        if !k.is_empty() && (k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit())) {
            push(&format!("{jc}.controlPlane.certificateKey"), "Invalid value: \"<hidden>\": the certificate key must be 64 hexadecimal characters (32 bytes)".into());
        }
    }
    if !j.ca_cert_path.is_empty()
        && (!j.ca_cert_path.starts_with('/') || !j.ca_cert_path.ends_with(".crt"))
    {
        push(
            &format!("{jc}.caCertPath"),
            format!(
                "Invalid value: {:?}: the ca certificate path must be an absolute path (ending in .crt)",
                j.ca_cert_path
            ),
        );
    }
    errs.extend(super::validation::node_registration_problems(
        &format!("{jc}.nodeRegistration"),
        &j.node_registration,
    ));
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errs))
    }
}

/// Builds the configuration of `kubeadm join`.
pub fn join_configuration(
    host: &dyn crate::host::Host,
    docs: Option<&super::documents::Documents>,
    o: &JoinOverrides,
) -> anyhow::Result<JoinConfiguration> {
    let mut j = docs.and_then(|d| d.join.clone()).unwrap_or_default();
    apply_join_overrides(&mut j, o);
    default_join(&mut j);
    if j.node_registration.name.is_empty() {
        j.node_registration.name = host.hostname()?.to_lowercase();
    }
    validate_join(&j).map_err(|e| match docs {
        Some(d) => d.locate(e),
        None => e,
    })?;
    let discovery = match (&j.discovery.bootstrap_token, &j.discovery.file) {
        (Some(bt), _) => Discovery::Token {
            api_server_endpoint: bt.api_server_endpoint.clone(),
            token: BootstrapToken::parse(&bt.token)?,
            ca_cert_hashes: bt.ca_cert_hashes.clone(),
            unsafe_skip_ca_verification: bt.unsafe_skip_ca_verification,
        },
        (None, Some(f)) => Discovery::File {
            path: f.kube_config_path.clone(),
        },
        (None, None) => unreachable!("validation requires a discovery method"),
    };
    let tls = &j.discovery.tls_bootstrap_token;
    Ok(JoinConfiguration {
        node_name: j.node_registration.name.clone(),
        ca_cert_path: j.ca_cert_path.clone().into(),
        discovery,
        tls_bootstrap_token: (!tls.is_empty())
            .then(|| BootstrapToken::parse(tls))
            .transpose()?,
        control_plane: j.control_plane.clone(),
        versioned: j,
    })
}

//! Validation of the v1beta4 documents, as upstream's `apis/kubeadm/validation`: every
//! problem is reported with its field path (`ClusterConfiguration.networking.podSubnet`),
//! the value and what is wrong, all at once.

use std::net::IpAddr;

use super::{parse_host_port, v1beta4, EncryptionAlgorithm, MINIMUM_CONTROL_PLANE_MINOR};
use crate::names::{is_dns_subdomain, is_wildcard_dns_subdomain};
use crate::token::BootstrapToken;

/// Feature gates kubeadm knows in this release, and whether each is locked to true (GA).
pub const FEATURE_GATES: &[(&str, bool)] =
    &[("EtcdLearnerMode", true), ("RootlessControlPlane", false)];

/// A feature gate upstream kubeadm no longer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedFeatureGate {
    /// The gate's name.
    pub name: &'static str,
    /// The upstream release that removed it.
    pub removed_in: &'static str,
    /// The pull request that removed it (kubernetes/kubernetes).
    pub pr: u32,
    /// What happens instead.
    pub instead: &'static str,
}

/// Gates upstream removed. Upstream's validation refuses them as unknown ("... is not a
/// valid feature name") and its `upgrade` prints "Unknown feature gate flag" for one found
/// in the cluster's configuration; kubeadm-rs reads them with a warning naming the removal,
/// so that files and clusters made by older releases keep working (as v1beta3 files do).
pub const REMOVED_FEATURE_GATES: &[RemovedFeatureGate] = &[
    RemovedFeatureGate {
        name: "ControlPlaneKubeletLocalMode",
        removed_in: "v1.36",
        pr: 135773,
        instead: "the behaviour is always on (GA since v1.35)",
    },
    RemovedFeatureGate {
        name: "NodeLocalCRISocket",
        removed_in: "v1.37",
        pr: 138645,
        instead: "the behaviour is always on (GA since v1.36)",
    },
    RemovedFeatureGate {
        name: "PublicKeysECDSA",
        removed_in: "v1.37",
        pr: 136016,
        instead: "set encryptionAlgorithm (ECDSA-P256) instead; kubeadm-rs still honours the gate as v1.36 did (true: ECDSA-P256 keys, false: RSA-2048)",
    },
    RemovedFeatureGate {
        name: "WaitForAllControlPlaneComponents",
        removed_in: "v1.35",
        pr: 134781,
        instead: "the behaviour is always on (GA since v1.34)",
    },
];

/// The removed gate of that name, if it is one.
pub fn removed_feature_gate(name: &str) -> Option<&'static RemovedFeatureGate> {
    REMOVED_FEATURE_GATES.iter().find(|g| g.name == name)
}

/// Every validation problem of a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
pub struct ValidationErrors(pub Vec<FieldError>);

/// One problem: where, the value, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{path}: {kind}", .location.as_ref().map(|(f, l)| format!("{f}:{l}: ")).unwrap_or_default())]
pub struct FieldError {
    /// `Kind.field.path`.
    pub path: String,
    /// What is wrong.
    pub kind: String,
    /// The file and line the field is written on, when it came from a file.
    pub location: Option<(String, usize)>,
}

/// The problems found, and the warnings: checks upstream does not make are never errors
/// here, only warnings, so that every configuration upstream accepts is accepted.
#[derive(Default)]
struct Errors(Vec<FieldError>, Vec<String>);

impl Errors {
    fn warn(&mut self, check: &str, path: &str, value: &str, why: &str) {
        self.1
            .push(format!("[WARNING {check}]: {path}: {value:?}: {why}"));
    }
    fn invalid(&mut self, path: &str, value: &str, why: &str) {
        self.0.push(FieldError {
            path: path.into(),
            kind: format!("Invalid value: {value:?}: {why}"),
            location: None,
        });
    }
    fn required(&mut self, path: &str, why: &str) {
        self.0.push(FieldError {
            path: path.into(),
            kind: format!("Required value: {why}"),
            location: None,
        });
    }
    fn forbidden(&mut self, path: &str, why: &str) {
        self.0.push(FieldError {
            path: path.into(),
            kind: format!("Forbidden: {why}"),
            location: None,
        });
    }
}

/// A parsed CIDR: network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `10.96.0.0/12`.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, p) = s.trim().split_once('/')?;
        let addr: IpAddr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    fn range(&self) -> (u128, u128, bool) {
        let (v, bits, v4) = match self.addr {
            IpAddr::V4(a) => (u32::from(a) as u128, 32u32, true),
            IpAddr::V6(a) => (u128::from(a), 128u32, false),
        };
        let host_bits = bits - self.prefix as u32;
        let mask = if host_bits >= 128 {
            0
        } else {
            u128::MAX << host_bits
        };
        let lo = v & mask;
        let hi = lo
            | !mask
                & if bits == 32 {
                    u32::MAX as u128
                } else {
                    u128::MAX
                };
        (lo, hi, v4)
    }

    /// True when the two ranges share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let (a_lo, a_hi, a4) = self.range();
        let (b_lo, b_hi, b4) = other.range();
        a4 == b4 && a_lo <= b_hi && b_lo <= a_hi
    }
}

fn validate_subnets(e: &mut Errors, path: &str, value: &str, service: bool) -> Vec<Cidr> {
    let parts: Vec<&str> = value.split(',').collect();
    if parts.len() > 2 {
        e.invalid(
            path,
            value,
            "expected one CIDR, or two (one IPv4, one IPv6) for dual stack",
        );
        return vec![];
    }
    let mut out = Vec::new();
    // Upstream's MinimumAddressesInServiceSubnet and MinimumAddressesInPodSubnet.
    let min_addresses: u128 = if service { 10 } else { 14 };
    for p in &parts {
        match Cidr::parse(p) {
            Some(c) => {
                let host_bits = if c.addr.is_ipv4() { 32 } else { 128 } - c.prefix as u32;
                if host_bits < 8 && (1u128 << host_bits) < min_addresses {
                    e.invalid(
                        path,
                        p,
                        &format!(
                            "subnet with {} address(es) is too small, the minimum is {min_addresses}",
                            1u128 << host_bits
                        ),
                    );
                }
                // Upstream limits the service range to 2^20 addresses for either family, so
                // the API server can allocate from it.
                if service {
                    let max_bits = 20;
                    let host_bits = if c.addr.is_ipv4() { 32 } else { 128 } - c.prefix as u32;
                    if host_bits > max_bits {
                        e.invalid(path, value, &format!("the service subnet {p} is too large: at most 2^{max_bits} addresses (a /12 for IPv4, a /108 for IPv6)"));
                    }
                }
                // Upstream warns of IPv6 site-local addresses (fec0::/10, deprecated).
                let site_local = Cidr {
                    addr: "fec0::".parse().expect("an address"),
                    prefix: 10,
                };
                if c.overlaps(&site_local) {
                    e.warn(
                        "SiteLocalSubnet",
                        path,
                        p,
                        "the subnet contains IPv6 site-local addresses that belong to fec0::/10 which has been deprecated by rfc3879",
                    );
                }
                out.push(c)
            }
            None => e.invalid(
                path,
                value,
                "couldn't parse subnet; expected a CIDR such as 10.96.0.0/12",
            ),
        }
    }
    if out.len() == 2 && out[0].addr.is_ipv4() == out[1].addr.is_ipv4() {
        e.invalid(
            path,
            value,
            "a dual-stack subnet needs one IPv4 and one IPv6 CIDR",
        );
    }
    out
}

/// Upstream's `ValidatePodSubnetNodeMask`: each pod subnet must hold at least one node's
/// range (the controller-manager's `node-cidr-mask-size-ipv4`/`-ipv6`, defaults 24 and
/// 64), and not more than 2^16 of them.
fn validate_pod_subnet_node_mask(
    e: &mut Errors,
    path: &str,
    pods: &[Cidr],
    c: &v1beta4::ClusterConfiguration,
) {
    for p in pods {
        let (arg, default) = if p.addr.is_ipv4() {
            ("node-cidr-mask-size-ipv4", 24)
        } else {
            ("node-cidr-mask-size-ipv6", 64)
        };
        let value = c
            .controller_manager
            .extra_args
            .iter()
            .rev()
            .find(|a| a.name == arg)
            .map(|a| a.value.as_str());
        let node_mask: u32 = match value {
            None | Some("") => default,
            Some(v) => match v.parse() {
                Ok(m) => m,
                Err(_) => {
                    e.invalid(path, &format!("{}/{}", p.addr, p.prefix), &format!("could not parse the value of the kube-controller-manager flag {arg} ({v:?}) as an integer"));
                    continue;
                }
            },
        };
        let mask = p.prefix as u32;
        let shown = format!("{}/{}", p.addr, p.prefix);
        if mask > node_mask {
            e.invalid(path, &shown, &format!("the size of pod subnet with mask {mask} is smaller than the size of node subnet with mask {node_mask}"));
        } else if node_mask - mask > 16 {
            e.invalid(path, &shown, &format!("pod subnet mask ({mask}) and node-mask ({node_mask}) difference is greater than 16"));
        }
    }
}

/// A zero duration: upstream accepts it (and then times out at once, or issues
/// certificates that expire at once), so it is a warning here.
fn warn_zero_duration(e: &mut Errors, path: &str, d: &Option<crate::duration::GoDuration>) {
    if let Some(d) = d {
        if d.0.is_zero() {
            e.warn(
                "ZeroDuration",
                path,
                &crate::duration::format_duration(d.0),
                "a zero duration ends at once; give a positive one such as 4m0s",
            );
        }
    }
}

fn validate_san(e: &mut Errors, path: &str, san: &str) {
    if san.parse::<IpAddr>().is_err() && !is_dns_subdomain(san) && !is_wildcard_dns_subdomain(san) {
        e.invalid(
            path,
            san,
            "altname is not a valid IP address, DNS label or a DNS label with subdomain wildcards",
        );
    }
}

fn validate_args(e: &mut Errors, path: &str, args: &[v1beta4::Arg]) {
    for (i, a) in args.iter().enumerate() {
        if a.name.is_empty() {
            e.required(&format!("{path}[{i}].name"), "an argument needs a name");
        } else if a.name.starts_with('-') {
            e.warn(
                "ExtraArgs",
                &format!("{path}[{i}].name"),
                &a.name,
                "argument names are written without leading dashes; the component will see the flag with extra dashes",
            );
        }
    }
}

fn validate_node_registration(e: &mut Errors, path: &str, n: &v1beta4::NodeRegistrationOptions) {
    if !n.name.is_empty() && !is_dns_subdomain(&n.name) {
        e.invalid(&format!("{path}.name"), &n.name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
    }
    if !(n.cri_socket.is_empty()
        || n.cri_socket.starts_with("unix://")
        || n.cri_socket.starts_with('/'))
    {
        e.invalid(
            &format!("{path}.criSocket"),
            &n.cri_socket,
            "expected a path to a UNIX socket, such as unix:///var/run/containerd/containerd.sock",
        );
    }
    if !matches!(
        n.image_pull_policy.as_str(),
        "" | "Always" | "IfNotPresent" | "Never"
    ) {
        e.invalid(
            &format!("{path}.imagePullPolicy"),
            &n.image_pull_policy,
            "supported values: \"Always\", \"IfNotPresent\", \"Never\"",
        );
    }
    for (i, t) in n.taints.iter().flatten().enumerate() {
        if !matches!(
            t.effect.as_str(),
            "NoSchedule" | "PreferNoSchedule" | "NoExecute"
        ) {
            e.warn(
                "Taints",
                &format!("{path}.taints[{i}].effect"),
                &t.effect,
                "supported values: \"NoExecute\", \"NoSchedule\", \"PreferNoSchedule\"; the API server will refuse the Node's taint",
            );
        }
        if t.key.is_empty() {
            e.warn(
                "Taints",
                &format!("{path}.taints[{i}].key"),
                "",
                "a taint needs a key; the API server will refuse the Node's taint",
            );
        }
    }
    validate_args(
        e,
        &format!("{path}.kubeletExtraArgs"),
        &n.kubelet_extra_args,
    );
}

/// Upstream's ValidateNodeRegistrationOptions for a JoinConfiguration: the problems, with
/// the warnings printed.
pub(super) fn node_registration_problems(
    path: &str,
    n: &v1beta4::NodeRegistrationOptions,
) -> Vec<FieldError> {
    let mut e = Errors::default();
    validate_node_registration(&mut e, path, n);
    for w in &e.1 {
        crate::output::warn_once(w);
    }
    e.0
}

/// Upstream's ValidateResetConfiguration.
pub fn validate_reset(r: &v1beta4::ResetConfiguration) -> Result<(), ValidationErrors> {
    let mut e = Errors::default();
    let rc = "ResetConfiguration";
    // A bare path gets "unix://" prepended (with upstream's deprecation warning).
    if !(r.cri_socket.is_empty()
        || r.cri_socket.starts_with("unix://")
        || r.cri_socket.starts_with('/'))
    {
        e.invalid(
            &format!("{rc}.criSocket"),
            &r.cri_socket,
            "only URL scheme \"unix\" is supported, for example unix:///var/run/containerd/containerd.sock",
        );
    }
    if !r.certificates_dir.is_empty() && !r.certificates_dir.starts_with('/') {
        e.invalid(
            &format!("{rc}.certificatesDir"),
            &r.certificates_dir,
            "path is not absolute",
        );
    }
    for (i, f) in r.unmount_flags.iter().enumerate() {
        if !matches!(
            f.as_str(),
            "MNT_FORCE" | "MNT_DETACH" | "MNT_EXPIRE" | "UMOUNT_NOFOLLOW"
        ) {
            e.invalid(
                &format!("{rc}.unmountFlags[{i}]"),
                f,
                "unknown unmount flag; the flags are MNT_FORCE, MNT_DETACH, MNT_EXPIRE and UMOUNT_NOFOLLOW",
            );
        }
    }
    finish(e)
}

/// Upstream's ValidateUpgradeConfiguration.
pub fn validate_upgrade(u: &v1beta4::UpgradeConfiguration) -> Result<(), ValidationErrors> {
    let mut e = Errors::default();
    let uc = "UpgradeConfiguration";
    for (part, patches, policy) in [
        ("apply", &u.apply.patches, &u.apply.image_pull_policy),
        ("node", &u.node.patches, &u.node.image_pull_policy),
    ] {
        if let Some(p) = patches {
            if !p.directory.starts_with('/') {
                e.invalid(
                    &format!("{uc}.{part}.patches.directory"),
                    &p.directory,
                    "path is not absolute",
                );
            }
        }
        if !matches!(policy.as_str(), "" | "Always" | "IfNotPresent" | "Never") {
            e.invalid(
                &format!("{uc}.{part}.imagePullPolicy"),
                policy,
                "supported values: \"Always\", \"IfNotPresent\", \"Never\"",
            );
        }
    }
    finish(e)
}

fn finish(e: Errors) -> Result<(), ValidationErrors> {
    for w in &e.1 {
        crate::output::warn_once(w);
    }
    if e.0.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(e.0))
    }
}

/// Checks an `InitConfiguration` and its `ClusterConfiguration` after defaulting.
pub fn validate_init(
    init: &v1beta4::InitConfiguration,
    cluster: &v1beta4::ClusterConfiguration,
) -> Result<(), ValidationErrors> {
    let mut e = Errors::default();
    let ic = "InitConfiguration";

    for (i, t) in init.bootstrap_tokens.iter().enumerate() {
        if !t.token.is_empty() && BootstrapToken::parse(&t.token).is_err() {
            let id = t.token.split('.').next().unwrap_or_default();
            e.invalid(
                &format!("{ic}.bootstrapTokens[{i}].token"),
                &format!("{id}.<hidden>"),
                "the bootstrap token is invalid; expected the form [a-z0-9]{6}.[a-z0-9]{16}",
            );
        }
        for (j, u) in t.usages.iter().enumerate() {
            if !matches!(u.as_str(), "signing" | "authentication") {
                e.invalid(
                    &format!("{ic}.bootstrapTokens[{i}].usages[{j}]"),
                    u,
                    "valid usages are signing and authentication",
                );
            }
        }
        for (j, g) in t.groups.iter().enumerate() {
            let ok = g.strip_prefix("system:bootstrappers:").is_some_and(|rest| {
                !rest.is_empty()
                    && rest.len() <= 256
                    && rest.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-'
                    })
                    && !rest.ends_with([':', '-'])
            });
            if !ok {
                e.invalid(&format!("{ic}.bootstrapTokens[{i}].groups[{j}]"), g, "bootstrap group must match \"\\\\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\\\\z\"");
            }
        }
        let authenticates = t.usages.is_empty() || t.usages.iter().any(|u| u == "authentication");
        if !t.groups.is_empty() && !authenticates {
            e.invalid(
                &format!("{ic}.bootstrapTokens[{i}].groups"),
                &t.groups.join(","),
                "token groups cannot be specified unless --usages includes \"authentication\"",
            );
        }
        if t.ttl.is_some() && t.expires.is_some() {
            e.forbidden(
                &format!("{ic}.bootstrapTokens[{i}]"),
                "ttl and expires exclude each other",
            );
        }
    }
    let a = &init.local_api_endpoint;
    if !a.advertise_address.is_empty() && a.advertise_address.parse::<IpAddr>().is_err() {
        e.invalid(
            &format!("{ic}.localAPIEndpoint.advertiseAddress"),
            &a.advertise_address,
            "must be a valid IP address",
        );
    }
    if !(1..=65535).contains(&a.bind_port) {
        e.invalid(
            &format!("{ic}.localAPIEndpoint.bindPort"),
            &a.bind_port.to_string(),
            "must be between 1 and 65535, inclusive",
        );
    }
    validate_node_registration(
        &mut e,
        &format!("{ic}.nodeRegistration"),
        &init.node_registration,
    );
    if !init.certificate_key.is_empty()
        && (init.certificate_key.len() != 64
            || !init.certificate_key.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        e.invalid(&format!("{ic}.certificateKey"), "<hidden>", "the certificate key must be 64 hexadecimal characters (32 bytes); make one with 'kubeadm certs certificate-key'");
    }
    if let Some(t) = &init.timeouts {
        let p = format!("{ic}.timeouts");
        warn_zero_duration(
            &mut e,
            &format!("{p}.controlPlaneComponentHealthCheck"),
            &t.control_plane_component_health_check,
        );
        warn_zero_duration(
            &mut e,
            &format!("{p}.kubeletHealthCheck"),
            &t.kubelet_health_check,
        );
        warn_zero_duration(
            &mut e,
            &format!("{p}.kubernetesAPICall"),
            &t.kubernetes_api_call,
        );
        warn_zero_duration(&mut e, &format!("{p}.etcdAPICall"), &t.etcd_api_call);
        warn_zero_duration(&mut e, &format!("{p}.tlsBootstrap"), &t.tls_bootstrap);
        warn_zero_duration(&mut e, &format!("{p}.discovery"), &t.discovery);
        warn_zero_duration(
            &mut e,
            &format!("{p}.upgradeManifests"),
            &t.upgrade_manifests,
        );
    }

    validate_cluster_into(&mut e, cluster);
    finish(e)
}

fn validate_cluster_into(e: &mut Errors, c: &v1beta4::ClusterConfiguration) {
    let cc = "ClusterConfiguration";
    let n = &c.networking;
    if !is_dns_subdomain(&n.dns_domain) {
        e.invalid(&format!("{cc}.networking.dnsDomain"), &n.dns_domain, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'");
    }
    let services = validate_subnets(
        e,
        &format!("{cc}.networking.serviceSubnet"),
        &n.service_subnet,
        true,
    );
    if !n.pod_subnet.is_empty() {
        let pods = validate_subnets(
            e,
            &format!("{cc}.networking.podSubnet"),
            &n.pod_subnet,
            false,
        );
        // Upstream does not check this (its documented dual-stack example has overlapping
        // IPv6 ranges): a warning only.
        for s in &services {
            for p in &pods {
                if s.overlaps(p) {
                    e.warn(
                        "PodSubnetOverlap",
                        &format!("{cc}.networking.podSubnet"),
                        &n.pod_subnet,
                        &format!("the pod subnet overlaps the service subnet {}; Pods and Services may get the same addresses", n.service_subnet),
                    );
                }
            }
        }
        let allocates = c
            .controller_manager
            .extra_args
            .iter()
            .rev()
            .find(|a| a.name == "allocate-node-cidrs")
            .is_none_or(|a| a.value != "false");
        if allocates {
            validate_pod_subnet_node_mask(e, &format!("{cc}.networking.podSubnet"), &pods, c);
        }
    }
    if !c.control_plane_endpoint.is_empty() {
        if let Err(why) = parse_host_port(&c.control_plane_endpoint) {
            e.invalid(
                &format!("{cc}.controlPlaneEndpoint"),
                &c.control_plane_endpoint,
                &why,
            );
        }
    }
    for (i, s) in c.api_server.cert_sans.iter().enumerate() {
        validate_san(e, &format!("{cc}.apiServer.certSANs[{i}]"), s);
    }
    validate_args(
        e,
        &format!("{cc}.apiServer.extraArgs"),
        &c.api_server.extra_args,
    );
    validate_args(
        e,
        &format!("{cc}.controllerManager.extraArgs"),
        &c.controller_manager.extra_args,
    );
    validate_args(
        e,
        &format!("{cc}.scheduler.extraArgs"),
        &c.scheduler.extra_args,
    );
    match (&c.etcd.local, &c.etcd.external) {
        (Some(_), Some(_)) => e.invalid(
            &format!("{cc}.etcd"),
            "local and external",
            "either .Etcd.Local or .Etcd.External is required, not both",
        ),
        (None, Some(x)) => {
            let p = format!("{cc}.etcd.external");
            if x.endpoints.is_empty() {
                e.warn(
                    "ExternalEtcd",
                    &format!("{p}.endpoints"),
                    "",
                    "no endpoint: the API server will have no etcd to talk to",
                );
            }
            // Upstream: plain http only when no TLS file is given; a URL needs a scheme.
            let require_https = [&x.ca_file, &x.cert_file, &x.key_file]
                .iter()
                .any(|f| !f.is_empty());
            for (i, ep) in x.endpoints.iter().enumerate() {
                let scheme = ep
                    .split_once(':')
                    .map(|(s, _)| s)
                    .filter(|s| is_url_scheme(s));
                match scheme {
                    None => e.invalid(
                        &format!("{p}.endpoints[{i}]"),
                        ep,
                        "the URL without scheme is not allowed",
                    ),
                    Some(s) if require_https && s != "https" => e.invalid(
                        &format!("{p}.endpoints[{i}]"),
                        ep,
                        "the URL must be using the HTTPS scheme",
                    ),
                    Some(_) => {}
                }
            }
            // `httpEndpoints` take the rules of `endpoints`, as warnings: whether upstream
            // refuses them was not read, and the preflight check that uses them reports an
            // unreachable one anyway.
            for (i, ep) in x.http_endpoints.iter().enumerate() {
                let scheme = ep
                    .split_once(':')
                    .map(|(s, _)| s)
                    .filter(|s| is_url_scheme(s));
                let why = match scheme {
                    None => "the URL without scheme is not allowed; write http:// or https://",
                    Some(s) if require_https && s != "https" => {
                        "the URL must be using the HTTPS scheme when TLS files are given"
                    }
                    Some(_) => continue,
                };
                e.warn("ExternalEtcd", &format!("{p}.httpEndpoints[{i}]"), ep, why);
            }
            if x.cert_file.is_empty() != x.key_file.is_empty() {
                e.invalid(
                    &p,
                    "",
                    "either both or none of .Etcd.External.CertFile and .Etcd.External.KeyFile must be set",
                );
            } else if !x.cert_file.is_empty() && x.ca_file.is_empty() {
                e.invalid(
                    &p,
                    "",
                    "setting .Etcd.External.CertFile and .Etcd.External.KeyFile requires .Etcd.External.CAFile",
                );
            }
            for (field, file) in [
                ("caFile", &x.ca_file),
                ("certFile", &x.cert_file),
                ("keyFile", &x.key_file),
            ] {
                if !file.is_empty() && !file.starts_with('/') {
                    e.invalid(&format!("{p}.{field}"), file, "path is not absolute");
                }
            }
        }
        (Some(l), None) => {
            if !l.data_dir.starts_with('/') {
                e.invalid(
                    &format!("{cc}.etcd.local.dataDir"),
                    &l.data_dir,
                    "must be an absolute path",
                );
            }
            for (i, s) in l.server_cert_sans.iter().enumerate() {
                validate_san(e, &format!("{cc}.etcd.local.serverCertSANs[{i}]"), s);
            }
            for (i, s) in l.peer_cert_sans.iter().enumerate() {
                validate_san(e, &format!("{cc}.etcd.local.peerCertSANs[{i}]"), s);
            }
            validate_args(e, &format!("{cc}.etcd.local.extraArgs"), &l.extra_args);
            if !l.image_repository.is_empty() {
                validate_image_repository(
                    e,
                    &format!("{cc}.etcd.local.imageRepository"),
                    &l.image_repository,
                );
            }
        }
        (None, None) => {}
    }
    if !c.certificates_dir.starts_with('/') {
        e.invalid(
            &format!("{cc}.certificatesDir"),
            &c.certificates_dir,
            "must be an absolute path",
        );
    }
    if EncryptionAlgorithm::parse(&c.encryption_algorithm).is_none() {
        e.invalid(&format!("{cc}.encryptionAlgorithm"), &c.encryption_algorithm, "supported values: \"ECDSA-P256\", \"ECDSA-P384\", \"RSA-2048\", \"RSA-3072\", \"RSA-4096\"");
    }
    warn_zero_duration(
        e,
        &format!("{cc}.certificateValidityPeriod"),
        &c.certificate_validity_period,
    );
    warn_zero_duration(
        e,
        &format!("{cc}.caCertificateValidityPeriod"),
        &c.ca_certificate_validity_period,
    );
    // Upstream's ValidateCertValidity: longer than the defaults is a warning.
    for (field, value, limit) in [
        (
            "certificateValidityPeriod",
            c.certificate_validity_period,
            super::DEFAULT_CERTIFICATE_VALIDITY,
        ),
        (
            "caCertificateValidityPeriod",
            c.ca_certificate_validity_period,
            super::DEFAULT_CA_CERTIFICATE_VALIDITY,
        ),
    ] {
        if let Some(v) = value.filter(|v| v.0 > limit) {
            e.warn(
                "CertificateValidity",
                &format!("{cc}.{field}"),
                &crate::duration::format_duration(v.0),
                &format!(
                    "the value is more than the recommended default for certificate expiration: {}",
                    crate::duration::format_duration(limit)
                ),
            );
        }
    }
    if let (Some(leaf), Some(ca)) = (
        c.certificate_validity_period,
        c.ca_certificate_validity_period,
    ) {
        if leaf.0 > ca.0 {
            e.warn(
                "CertificateValidity",
                &format!("{cc}.certificateValidityPeriod"),
                &crate::duration::format_duration(leaf.0),
                &format!(
                    "longer than caCertificateValidityPeriod ({}): the certificates outlive their CA",
                    crate::duration::format_duration(ca.0)
                ),
            );
        }
    }
    for (name, value) in &c.feature_gates {
        if let Some(g) = removed_feature_gate(name) {
            e.warn(
                "FeatureGates",
                &format!("{cc}.featureGates.{name}"),
                &value.to_string(),
                &format!(
                    "the feature gate was removed from kubeadm in {} (kubernetes/kubernetes#{}): {}; upstream kubeadm {} and later refuse a configuration that sets it ({name} is not a valid feature name), so delete it",
                    g.removed_in, g.pr, g.instead, g.removed_in
                ),
            );
            continue;
        }
        match FEATURE_GATES.iter().find(|(n, _)| n == name) {
            None => e.invalid(
                &format!("{cc}.featureGates"),
                name,
                &format!(
                    "unrecognized feature-gate key; known: {}",
                    FEATURE_GATES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some((_, true)) if !value => e.warn(
                "FeatureGates",
                &format!("{cc}.featureGates.{name}"),
                "false",
                "the feature is GA and always on; the setting has no effect",
            ),
            _ => {}
        }
    }
    if !c.cluster_name.is_empty() && !is_dns_subdomain(&c.cluster_name) {
        e.warn(
            "ClusterName",
            &format!("{cc}.clusterName"),
            &c.cluster_name,
            "not a lowercase RFC 1123 subdomain; kubeconfig files and tools that use the name as an identifier may not accept it",
        );
    }
    // Upstream refuses an older control plane than it supports; a newer one is its
    // preflight warning KubernetesVersion, not a validation error.
    if let Some((major, minor)) = version_minor(&c.kubernetes_version) {
        if major < 1 || (major == 1 && minor < MINIMUM_CONTROL_PLANE_MINOR) {
            e.invalid(
                &format!("{cc}.kubernetesVersion"),
                &c.kubernetes_version,
                &format!("this version of kubeadm only supports deploying clusters with the control plane version >= 1.{MINIMUM_CONTROL_PLANE_MINOR}.0"),
            );
        }
    }
    validate_image_repository(e, &format!("{cc}.imageRepository"), &c.image_repository);
    if !c.dns.image_repository.is_empty() {
        validate_image_repository(
            e,
            &format!("{cc}.dns.imageRepository"),
            &c.dns.image_repository,
        );
    }
}

/// A URL scheme as Go's `url.Parse` reads one: a letter, then letters, digits, `+`, `-`
/// or `.`.
fn is_url_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// One path component of an image reference: lowercase letters and digits, joined by
/// `.`, `_`, `__` or runs of `-`.
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_lowercase() && !b[0].is_ascii_digit() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        // A separator must be followed by an alphanumeric character.
        if i == start
            || !b
                .get(i)
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return false;
        }
    }
    true
}

/// A registry host as an image reference allows it: DNS-like labels (any case) or a
/// bracketed IPv6 address, with an optional port.
fn is_registry_domain(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) => {
                if ip.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                match tail {
                    "" => return true,
                    t => ("", t.strip_prefix(':').map(Some).unwrap_or(Some(""))),
                }
            }
            None => return false,
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    let label = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    port_ok && (host.is_empty() && s.starts_with('[') || host.split('.').all(label))
}

/// Upstream's ValidateImageRepository: `<repository>/name:tag` must be a valid image
/// reference.
fn validate_image_repository(e: &mut Errors, path: &str, repo: &str) {
    let mut parts = repo.split('/');
    let first = parts.next().unwrap_or_default();
    let ok =
        (is_registry_domain(first) || is_path_component(first)) && parts.all(is_path_component);
    if !ok {
        e.invalid(
            path,
            repo,
            "invalid image repository format; expected a registry and path such as registry.k8s.io or mirror.example:5000/k8s",
        );
    }
}

fn version_minor(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_overlap() {
        let a = Cidr::parse("10.96.0.0/12").unwrap();
        assert!(a.overlaps(&Cidr::parse("10.100.0.0/16").unwrap()));
        assert!(!a.overlaps(&Cidr::parse("10.244.0.0/16").unwrap()));
        assert!(!a.overlaps(&Cidr::parse("fd00::/64").unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
    }

    #[test]
    fn image_repositories_as_image_references() {
        let ok = |r: &str| {
            let mut e = Errors::default();
            validate_image_repository(&mut e, "f", r);
            e.0.is_empty()
        };
        for good in [
            "registry.k8s.io",
            "localhost:5000",
            "Mirror.Example:5000/k8s",
            "[::1]:5000/a/b",
            "gcr.io/google_containers",
            "a/b__c/d-e.f/g---h",
            "k8s",
        ] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "",
            "a/B",
            "a/b/",
            "a//b",
            "a/_b",
            "a/b_",
            "a/b___c",
            "host:port/a",
            "a b",
            "[zz]:1/a",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }
}

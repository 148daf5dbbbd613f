//! The kubeadm configuration files each host is given: the shared documents of the
//! cluster file with this host's part filled in (Node name, advertise address, kubelet
//! flags) and, where a step needs them, the bootstrap token, the CA pins and the
//! certificate key. They travel to the host over SSH only, into a 0600 file that is
//! removed once kubeadm has read it.

use kubeadm::config::v1beta4;

use crate::spec::{Cluster, Host};

const V1BETA4: &str = "kubeadm.k8s.io/v1beta4";
const DEFAULT_BIND_PORT: i32 = 6443;
/// How long the tokens apply creates live: long enough for the joins of one run.
pub const TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// What joining nodes need from the first control plane; never printed.
#[derive(Clone)]
pub struct Secrets {
    /// A bootstrap token, `id.secret`.
    pub token: String,
    /// The key the control-plane certificates are sealed with in `kubeadm-certs`.
    pub certificate_key: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<hidden>)")
    }
}

impl Secrets {
    /// A new random token and certificate key.
    pub fn generate() -> anyhow::Result<Secrets> {
        let t = kubeadm::token::BootstrapToken::generate()?;
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key)
            .map_err(|_| anyhow::anyhow!("no random numbers for a certificate key"))?;
        Ok(Secrets {
            token: format!("{}.{}", t.id(), t.secret()),
            certificate_key: key.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// The address the host's API server advertises: its own field, else its SSH address
/// when that is an IP address (otherwise kubeadm finds one itself).
pub fn advertise_address(h: &Host) -> Option<String> {
    h.advertise_address.clone().or_else(|| {
        h.address
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|_| h.address.clone())
    })
}

/// The API server port of the control planes.
pub fn bind_port(c: &Cluster) -> i32 {
    c.kubeadm
        .init
        .as_ref()
        .map(|i| i.local_api_endpoint.bind_port)
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_BIND_PORT)
}

/// Where joining nodes find the API server: the control-plane endpoint, else the first
/// control plane's address.
pub fn join_endpoint(c: &Cluster, primary: &Host) -> String {
    match &c.control_plane_endpoint {
        Some(ep) => {
            let (h, p) = kubeadm::config::split_host_port(ep);
            kubeadm::config::join_host_port(&h, p.unwrap_or(bind_port(c) as u16))
        }
        None => kubeadm::config::join_host_port(
            &advertise_address(primary).unwrap_or_else(|| primary.address.clone()),
            bind_port(c) as u16,
        ),
    }
}

fn registration(
    mut r: v1beta4::NodeRegistrationOptions,
    h: &Host,
) -> v1beta4::NodeRegistrationOptions {
    if let Some(n) = &h.node_name {
        r.name = n.clone();
    }
    for a in &h.kubelet_extra_args {
        r.kubelet_extra_args.push(v1beta4::Arg {
            name: a.name.clone(),
            value: a.value.clone(),
        });
    }
    r
}

fn yaml<T: serde::Serialize>(out: &mut String, doc: &T) -> anyhow::Result<()> {
    if !out.is_empty() {
        out.push_str("---\n");
    }
    out.push_str(&serde_yaml_ng::to_string(doc)?);
    Ok(())
}

/// The InitConfiguration this host would be initialised with.
fn init_configuration(c: &Cluster, h: &Host) -> v1beta4::InitConfiguration {
    let mut init = c.kubeadm.init.clone().unwrap_or_default();
    init.api_version = V1BETA4.into();
    init.kind = "InitConfiguration".into();
    init.node_registration = registration(init.node_registration, h);
    if let Some(a) = advertise_address(h) {
        init.local_api_endpoint.advertise_address = a;
    }
    init
}

/// `kubeadm init --config` (and `init phase preflight`) for control plane `h`, with the
/// token and the certificate key when given.
pub fn init(c: &Cluster, h: &Host, secrets: Option<&Secrets>) -> anyhow::Result<String> {
    let mut init = init_configuration(c, h);
    if let Some(s) = secrets {
        init.bootstrap_tokens.push(token_entry(&s.token));
        init.certificate_key = s.certificate_key.clone();
    }
    let mut out = String::new();
    yaml(&mut out, &init)?;
    shared(c, &mut out)?;
    Ok(out)
}

fn token_entry(token: &str) -> v1beta4::BootstrapToken {
    v1beta4::BootstrapToken {
        token: token.to_string(),
        ttl: Some(kubeadm::duration::GoDuration(TOKEN_TTL)),
        description: "made by kubeadm-cluster apply to join this cluster's nodes".into(),
        ..Default::default()
    }
}

/// The documents every control plane shares: ClusterConfiguration (with the endpoint),
/// KubeletConfiguration and KubeProxyConfiguration.
fn shared(c: &Cluster, out: &mut String) -> anyhow::Result<()> {
    let mut cluster = c.kubeadm.cluster.clone().unwrap_or_default();
    cluster.api_version = V1BETA4.into();
    cluster.kind = "ClusterConfiguration".into();
    if let Some(ep) = &c.control_plane_endpoint {
        cluster.control_plane_endpoint = ep.clone();
    }
    yaml(out, &cluster)?;
    if let Some(k) = &c.kubeadm.kubelet {
        yaml(out, k)?;
    }
    if let Some(k) = &c.kubeadm.kube_proxy {
        yaml(out, k)?;
    }
    Ok(())
}

/// `kubeadm token create --config`: the token to create.
pub fn token(c: &Cluster, primary: &Host, token: &str) -> anyhow::Result<String> {
    let mut init = init_configuration(c, primary);
    init.bootstrap_tokens = vec![token_entry(token)];
    let mut out = String::new();
    yaml(&mut out, &init)?;
    shared(c, &mut out)?;
    Ok(out)
}

/// `kubeadm init phase upload-certs --upload-certs --config`: the certificate key.
pub fn upload_certs(c: &Cluster, primary: &Host, key: &str) -> anyhow::Result<String> {
    let mut init = init_configuration(c, primary);
    init.certificate_key = key.to_string();
    let mut out = String::new();
    yaml(&mut out, &init)?;
    shared(c, &mut out)?;
    Ok(out)
}

/// How a joining node checks the cluster it finds.
pub enum Trust<'a> {
    /// The CA public-key pins of the cluster.
    Pins(&'a [String]),
    /// No check: only for a preflight run before the cluster exists, which makes no
    /// connection to it.
    PreflightOnly,
}

/// `kubeadm join --config` (and `join phase preflight`) for host `h`.
pub fn join(
    c: &Cluster,
    h: &Host,
    endpoint: &str,
    token: &str,
    trust: Trust<'_>,
    certificate_key: Option<&str>,
) -> anyhow::Result<String> {
    let mut join = c.kubeadm.join.clone().unwrap_or_default();
    join.api_version = V1BETA4.into();
    join.kind = "JoinConfiguration".into();
    join.node_registration = registration(join.node_registration, h);
    let (pins, skip) = match trust {
        Trust::Pins(p) => (p.to_vec(), false),
        Trust::PreflightOnly => (Vec::new(), true),
    };
    join.discovery.file = None;
    join.discovery.bootstrap_token = Some(v1beta4::BootstrapTokenDiscovery {
        api_server_endpoint: endpoint.to_string(),
        ca_cert_hashes: pins,
        token: token.to_string(),
        unsafe_skip_ca_verification: skip,
    });
    join.discovery.tls_bootstrap_token = String::new();
    join.control_plane = match (h.role, certificate_key) {
        (crate::spec::Role::ControlPlane, Some(key)) => {
            let mut cp = join.control_plane.unwrap_or_default();
            cp.certificate_key = key.to_string();
            if let Some(a) = advertise_address(h) {
                cp.local_api_endpoint.advertise_address = a;
            }
            if cp.local_api_endpoint.bind_port == 0 {
                cp.local_api_endpoint.bind_port = bind_port(c);
            }
            Some(cp)
        }
        _ => None,
    };
    let mut out = String::new();
    yaml(&mut out, &join)?;
    Ok(out)
}

/// `kubeadm reset --config`, when the cluster file has a ResetConfiguration.
pub fn reset(c: &Cluster) -> anyhow::Result<Option<String>> {
    let Some(mut r) = c.kubeadm.reset.clone() else {
        return Ok(None);
    };
    r.api_version = V1BETA4.into();
    r.kind = "ResetConfiguration".into();
    let mut out = String::new();
    yaml(&mut out, &r)?;
    Ok(Some(out))
}

/// `kubeadm upgrade apply|node --config`: the file's UpgradeConfiguration, when it gives
/// one (upgrade reads the cluster's own configuration from the cluster).
pub fn upgrade(c: &Cluster) -> anyhow::Result<Option<String>> {
    let Some(mut u) = c.kubeadm.upgrade.clone() else {
        return Ok(None);
    };
    u.api_version = V1BETA4.into();
    u.kind = "UpgradeConfiguration".into();
    let mut out = String::new();
    yaml(&mut out, &u)?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubeadm::config::documents;

    fn cluster() -> Cluster {
        Cluster::parse(
            "apiVersion: kubeadm-rs.io/v1alpha1
kind: Cluster
hosts:
- {address: 10.0.0.10, role: control-plane, nodeName: cp-1, kubeletExtraArgs: [{name: node-labels, value: a=b}]}
- {address: 10.0.0.11, role: control-plane, nodeName: cp-2}
- {address: w1.example, role: worker, nodeName: w-1}
controlPlaneEndpoint: lb.example
kubeadm: |
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: InitConfiguration
  nodeRegistration:
    ignorePreflightErrors: [Swap]
  ---
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: ClusterConfiguration
  kubernetesVersion: v1.37.1
  ---
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: JoinConfiguration
  nodeRegistration:
    criSocket: unix:///run/crio/crio.sock
",
            "cluster.yaml",
        )
        .unwrap()
    }

    #[test]
    fn init_documents_carry_the_host_and_the_secrets_and_parse_back() {
        let c = cluster();
        let s = Secrets::generate().unwrap();
        let text = init(&c, &c.hosts[0], Some(&s)).unwrap();
        let d = documents::parse(&text, "init.yaml").unwrap();
        let i = d.init.unwrap();
        assert_eq!(i.node_registration.name, "cp-1");
        assert_eq!(i.node_registration.ignore_preflight_errors, ["Swap"]);
        assert_eq!(i.node_registration.kubelet_extra_args[0].value, "a=b");
        assert_eq!(i.local_api_endpoint.advertise_address, "10.0.0.10");
        assert_eq!(i.bootstrap_tokens[0].token, s.token);
        assert_eq!(i.certificate_key, s.certificate_key);
        assert_eq!(s.certificate_key.len(), 64);
        assert_eq!(d.cluster.unwrap().control_plane_endpoint, "lb.example");
        assert!(!format!("{s:?}").contains(&s.token));
    }

    #[test]
    fn join_documents_for_workers_and_control_planes() {
        let c = cluster();
        let ep = join_endpoint(&c, &c.hosts[0]);
        assert_eq!(ep, "lb.example:6443");
        let pins = vec!["sha256:".to_string() + &"a".repeat(64)];
        let w = join(
            &c,
            &c.hosts[2],
            &ep,
            "abcdef.0123456789abcdef",
            Trust::Pins(&pins),
            Some("k"),
        )
        .unwrap();
        let j = documents::parse(&w, "join.yaml").unwrap().join.unwrap();
        assert!(j.control_plane.is_none());
        assert_eq!(j.node_registration.name, "w-1");
        assert_eq!(j.node_registration.cri_socket, "unix:///run/crio/crio.sock");
        let bt = j.discovery.bootstrap_token.unwrap();
        assert_eq!(bt.ca_cert_hashes, pins);
        assert!(!bt.unsafe_skip_ca_verification);
        let cp = join(
            &c,
            &c.hosts[1],
            &ep,
            "abcdef.0123456789abcdef",
            Trust::Pins(&pins),
            Some("k"),
        )
        .unwrap();
        let j = documents::parse(&cp, "join.yaml").unwrap().join.unwrap();
        let cp = j.control_plane.unwrap();
        assert_eq!(cp.certificate_key, "k");
        assert_eq!(cp.local_api_endpoint.advertise_address, "10.0.0.11");
        assert_eq!(cp.local_api_endpoint.bind_port, 6443);
        let pre = join(
            &c,
            &c.hosts[2],
            &ep,
            "abcdef.0123456789abcdef",
            Trust::PreflightOnly,
            None,
        )
        .unwrap();
        let j = documents::parse(&pre, "join.yaml").unwrap().join.unwrap();
        assert!(
            j.discovery
                .bootstrap_token
                .unwrap()
                .unsafe_skip_ca_verification
        );
    }
}

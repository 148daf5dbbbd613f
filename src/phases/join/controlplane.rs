//! The control-plane part of `kubeadm join --control-plane`: the shared certificates from
//! `kubeadm-certs`, this node's own certificates, kubeconfigs and static Pods, the etcd
//! member (added as a learner and promoted), and the control-plane marks.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use super::JoinData;
use crate::client::{Api, KubeClient};
use crate::config::{Etcd, InitConfiguration, InitOverrides};

impl JoinData {
    /// bootstrap-kubelet.conf: the cluster discovery found, the TLS bootstrap token.
    pub fn bootstrap_kubeconfig(&mut self) -> anyhow::Result<crate::kubeconfig::KubeConfig> {
        let cluster = self.cluster()?;
        let token = self
            .cfg
            .tls_bootstrap_token
            .clone()
            .context("no TLS bootstrap token: give --token or --tls-bootstrap-token")?;
        Ok(crate::kubeconfig::KubeConfig::new(
            "kubernetes",
            &cluster.server,
            &cluster.ca_pem,
            "tls-bootstrap-token-user",
            crate::kubeconfig::AuthInfo {
                token: Some(token.to_string()),
                ..Default::default()
            },
        ))
    }

    /// A client authenticated with the TLS bootstrap token.
    pub fn bootstrap_client(&mut self) -> anyhow::Result<KubeClient> {
        KubeClient::from_kubeconfig_text(&self.bootstrap_kubeconfig()?.to_yaml()?)
    }

    /// This node's control-plane configuration: the cluster's ClusterConfiguration (from
    /// `kubeadm-config`) with this node's endpoint, name and CRI socket.
    pub fn control_plane_config(&mut self) -> anyhow::Result<InitConfiguration> {
        if let Some(c) = &self.cp_config {
            return Ok(c.clone());
        }
        let client = self.bootstrap_client()?;
        let timeout = self
            .cfg
            .versioned
            .timeouts
            .as_ref()
            .and_then(|t| t.kubernetes_api_call.as_ref())
            .map(|t| t.0)
            .unwrap_or(std::time::Duration::from_secs(60));
        let docs = crate::phases::api::read_kubeadm_config_within(&client, timeout)?;
        let cp = self.cfg.control_plane.clone().unwrap_or_default();
        let ep = &cp.local_api_endpoint;
        let overrides = InitOverrides {
            advertise_address: Some(ep.advertise_address.clone()).filter(|a| !a.is_empty()),
            bind_port: u16::try_from(ep.bind_port).ok().filter(|p| *p != 0),
            node_name: Some(self.cfg.node_name.clone()),
            cri_socket: Some(self.cfg.versioned.node_registration.cri_socket.clone()),
            ..Default::default()
        };
        let cfg = crate::config::init_configuration(self.host.as_ref(), Some(&docs), &overrides)?;
        if cfg.cluster.control_plane_endpoint.is_empty() {
            anyhow::bail!(
                "unable to add a new control plane instance to a cluster that doesn't have a stable controlPlaneEndpoint address\n\nPlease ensure that:\n* The cluster has a stable controlPlaneEndpoint address.\n* The certificates that must be shared among control plane instances are provided."
            );
        }
        self.cp_config = Some(cfg.clone());
        Ok(cfg)
    }

    fn certificate_key(&self) -> anyhow::Result<String> {
        self.cfg
            .control_plane
            .as_ref()
            .map(|c| c.certificate_key.clone())
            .filter(|k| !k.is_empty())
            .context("joining a control-plane node needs --certificate-key (printed by 'kubeadm init --upload-certs' or 'kubeadm init phase upload-certs --upload-certs')")
    }
}

/// `control-plane-prepare download-certs`.
pub fn download_certs(d: &mut JoinData) -> anyhow::Result<()> {
    let key = crate::copycerts::decode_key(&d.certificate_key()?)?;
    let cfg = d.control_plane_config()?;
    let client = d.bootstrap_client()?;
    println!(
        "[download-certs] Downloading the certificates in Secret \"{}\" in the \"kube-system\" Namespace",
        crate::copycerts::SECRET_NAME
    );
    let secret = client
        .call(
            "GET",
            &crate::client::object_path("Secret", Some("kube-system"), crate::copycerts::SECRET_NAME),
            None,
            "application/json",
        )
        .map_err(|e| anyhow::anyhow!(e))
        .context("reading the kubeadm-certs Secret (it lives two hours after 'kubeadm init --upload-certs'; upload them again with 'kubeadm init phase upload-certs --upload-certs')")?;
    let files =
        crate::copycerts::open_secret(&secret, &key, &crate::copycerts::certs_to_transfer(&cfg))?;
    for file in files {
        if let Some(w) = &file.warning {
            eprintln!("{w}");
        }
        d.host.write_file(
            &file.path,
            &file.content,
            if file.secret { 0o600 } else { 0o644 },
            if file.secret {
                crate::host::Sensitivity::Secret
            } else {
                crate::host::Sensitivity::Public
            },
        )?;
    }
    println!(
        "[download-certs] Saving the certificates to the folder: {:?}",
        cfg.cluster.certificates_dir.display().to_string()
    );
    Ok(())
}

/// The kubeconfigs a joining control-plane node writes (not super-admin.conf nor the
/// kubelet's, which its TLS bootstrap makes).
const JOIN_KUBECONFIG_SKIP: [&str; 2] = ["kubeconfig/super-admin", "kubeconfig/kubelet"];

/// The names of the keys a control-plane join will make: this node's own certificates and
/// kubeconfigs that are not there yet (the CAs and the service-account key come from
/// `kubeadm-certs`).
pub fn keys_needed(
    host: &dyn crate::host::Host,
    cfg: &InitConfiguration,
) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = crate::phases::certs::needed(host, cfg, &[])?
        .into_iter()
        .filter(|n| {
            crate::pki::certlist::CERTS
                .iter()
                .any(|spec| spec.name == n && !spec.is_ca())
        })
        .collect();
    let skip: Vec<String> = JOIN_KUBECONFIG_SKIP.map(String::from).to_vec();
    names.extend(crate::phases::kubeconfig::needed(
        host,
        std::path::Path::new(crate::phases::kubeconfig::KUBERNETES_DIR),
        &skip,
    )?);
    Ok(names)
}

/// `control-plane-prepare certs`: this node's certificates, signed by the downloaded CAs.
pub fn certs(d: &mut JoinData) -> anyhow::Result<()> {
    let cfg = d.control_plane_config()?;
    let host = d.host.clone();
    // The keys started in preflight are taken as they are made.
    let ready = std::mem::take(&mut d.keys);
    let mut keys = crate::phases::certs::prepare(host.as_ref(), &cfg, &[], ready)?;
    for spec in crate::pki::certlist::CERTS {
        if spec.is_etcd() && matches!(cfg.cluster.etcd, Etcd::External(_)) {
            continue;
        }
        crate::phases::certs::run_cert(host.as_ref(), &cfg, &mut keys, spec)?;
    }
    crate::phases::certs::run_sa(host.as_ref(), &cfg, &mut keys)?;
    d.keys = keys;
    Ok(())
}

/// `control-plane-prepare kubeconfig`: admin.conf, controller-manager.conf, scheduler.conf.
pub fn kubeconfigs(d: &mut JoinData) -> anyhow::Result<()> {
    let cfg = d.control_plane_config()?;
    let host = d.host.clone();
    let dir = PathBuf::from(crate::phases::kubeconfig::KUBERNETES_DIR);
    let skip: Vec<String> = JOIN_KUBECONFIG_SKIP.map(String::from).to_vec();
    let ready = std::mem::take(&mut d.keys);
    let mut keys = crate::phases::kubeconfig::prepare(host.as_ref(), &cfg, &dir, &skip, ready)?;
    for name in ["admin", "controller-manager", "scheduler"] {
        let spec = crate::kubeconfig::spec(name).expect("in the table");
        crate::phases::kubeconfig::run_kubeconfig(host.as_ref(), &cfg, &dir, &mut keys, spec)?;
    }
    Ok(())
}

/// `control-plane-prepare control-plane`: the three static Pods.
pub fn manifests(d: &mut JoinData) -> anyhow::Result<()> {
    let cfg = d.control_plane_config()?;
    let host = d.host.clone();
    let proxy_env = crate::manifests::proxy_env_of(std::env::vars());
    for c in crate::manifests::controlplane::COMPONENTS {
        crate::phases::staticpods::write_control_plane_component(
            host.as_ref(),
            &cfg,
            c,
            std::path::Path::new(crate::manifests::MANIFESTS_DIR),
            std::path::Path::new(crate::phases::kubeconfig::KUBERNETES_DIR),
            &proxy_env,
        )?;
    }
    Ok(())
}

/// The admin client of the new node (admin.conf, written by the kubeconfig phase).
fn admin_client(d: &JoinData) -> anyhow::Result<Arc<dyn Api>> {
    if d.opts.dry_run {
        return Ok(Arc::new(crate::client::DryRunClient::new()));
    }
    let path = PathBuf::from(crate::phases::kubeconfig::KUBERNETES_DIR).join("admin.conf");
    Ok(Arc::new(KubeClient::from_kubeconfig(
        d.host.as_ref(),
        &path,
    )?))
}

fn etcd_client(d: &JoinData, cfg: &InitConfiguration) -> anyhow::Result<crate::etcd::EtcdClient> {
    let api = admin_client(d)?;
    let endpoints = crate::etcd::cluster_endpoints(api.as_ref())?;
    let pki = &cfg.cluster.certificates_dir;
    crate::etcd::EtcdClient::connect(
        d.host.as_ref(),
        &endpoints,
        &pki.join("etcd/ca.crt"),
        &pki.join("etcd/healthcheck-client.crt"),
        &pki.join("etcd/healthcheck-client.key"),
    )
}

/// `check-etcd`: the existing etcd cluster is healthy (local etcd only): a quorum of its
/// voting members answers, as upstream judges it since #138403.
pub fn check_etcd(d: &mut JoinData) -> anyhow::Result<()> {
    let cfg = d.control_plane_config()?;
    if matches!(cfg.cluster.etcd, Etcd::External(_)) || d.opts.dry_run {
        return Ok(());
    }
    let api = admin_client(d)?;
    let endpoints = crate::etcd::cluster_endpoints(api.as_ref())?;
    let pki = &cfg.cluster.certificates_dir;
    let read = |name: &str| {
        let p = pki.join(name);
        d.host
            .read(&p)
            .with_context(|| format!("reading {}", p.display()))
    };
    let (ca, cert, key) = (
        read("etcd/ca.crt")?,
        read("etcd/healthcheck-client.crt")?,
        read("etcd/healthcheck-client.key")?,
    );
    let health = crate::etcd::check_cluster_health(&endpoints, &ca, &cert, &key, etcd_api_call(d))?;
    for e in &health.unhealthy {
        eprintln!(
            "[check-etcd] WARNING: etcd member not healthy, the cluster keeps its quorum: {e}"
        );
    }
    println!(
        "[check-etcd] The etcd cluster is healthy: {} of {} voting members answer",
        health.healthy_voting, health.voting
    );
    Ok(())
}

/// `timeouts.etcdAPICall` of the join configuration (upstream's default: 2 minutes).
fn etcd_api_call(d: &JoinData) -> std::time::Duration {
    d.cfg
        .versioned
        .timeouts
        .as_ref()
        .and_then(|t| t.etcd_api_call.as_ref())
        .map(|t| t.0)
        .unwrap_or(std::time::Duration::from_secs(120))
}

/// `etcd-join`: this node's member added as a learner, its static Pod written with the
/// existing members, then promoted once it has caught up.
pub fn etcd_join(d: &mut JoinData) -> anyhow::Result<()> {
    let cfg = d.control_plane_config()?;
    if matches!(cfg.cluster.etcd, Etcd::External(_)) {
        println!("[etcd] External etcd mode: nothing to join");
        return Ok(());
    }
    let peer_url = crate::manifests::etcd::peer_url(&cfg.local_api_endpoint.advertise_address);
    let manifests_dir = PathBuf::from(crate::manifests::MANIFESTS_DIR);
    if d.opts.dry_run {
        println!("[dryrun] Would add {peer_url} to the etcd cluster as a learner and promote it");
        crate::phases::staticpods::write_local_etcd(d.host.as_ref(), &cfg, &manifests_dir, &[])?;
        return Ok(());
    }
    let mut client = etcd_client(d, &cfg)?;
    let id = client.add_learner(&peer_url)?;
    println!("[etcd] Announced new etcd member joining to the existing etcd cluster");
    let members = client.member_list()?;
    let initial = crate::etcd::initial_cluster(&members, &cfg.node_registration.name, &peer_url);
    crate::phases::staticpods::write_local_etcd(d.host.as_ref(), &cfg, &manifests_dir, &initial)?;
    if members.iter().any(|m| m.id == id && !m.is_learner) {
        println!(
            "[etcd] The etcd member {id:x} is already a voting member (joined by an earlier run)"
        );
        return Ok(());
    }
    let timeout = etcd_api_call(d);
    println!(
        "[etcd] Waiting for the new etcd member to join the cluster. This can take up to {}",
        crate::duration::format_duration(timeout)
    );
    client.wait_started(id, timeout)?;
    client.promote(id, timeout)?;
    println!("[etcd] The new etcd member {id:x} is a voting member");
    Ok(())
}

/// `control-plane-join mark-control-plane`.
pub fn mark(d: &mut JoinData) -> anyhow::Result<()> {
    let cfg = d.control_plane_config()?;
    let api = admin_client(d)?;
    crate::phases::api::mark_control_plane(api.as_ref(), &cfg, d.opts.dry_run)
}

/// `wait-control-plane` of a joining control-plane node.
pub fn wait(d: &mut JoinData) -> anyhow::Result<()> {
    let cfg = d.control_plane_config()?;
    crate::phases::waitcontrolplane::wait_control_plane(d.host.as_ref(), &cfg, d.opts.dry_run)
}

//! The `kubeconfig` phases: admin.conf, super-admin.conf, kubelet.conf,
//! controller-manager.conf and scheduler.conf, each with a client certificate signed by the
//! cluster CA, made or reused.

use std::path::Path;

use anyhow::Context;

use super::certs::KeyCache;
use crate::config::InitConfiguration;
use crate::host::Host;
use crate::kubeconfig::{AuthInfo, KubeConfig, KubeConfigSpec, KUBECONFIGS};
use crate::pki::{
    self, cert_and_key_paths, cert_pem, load_cert, load_key, CertInfo, CertRequest, PrivateKey,
    Usage,
};
use crate::workflow::is_skipped;

/// The default kubeconfig directory.
pub const KUBERNETES_DIR: &str = "/etc/kubernetes";

fn key_name(spec: &KubeConfigSpec) -> String {
    format!("kubeconfig/{}", spec.name)
}

/// The parent `kubeconfig` phase: reports the directory and generates, in parallel, the
/// client keys of every file that does not exist yet.
pub fn prepare(
    host: &dyn Host,
    cfg: &InitConfiguration,
    dir: &Path,
    skip: &[String],
    mut ready: KeyCache,
) -> anyhow::Result<KeyCache> {
    println!(
        "[kubeconfig] Using kubeconfig folder {:?}",
        dir.display().to_string()
    );
    ready.fill(&needed(host, dir, skip)?, cfg.cluster.encryption_algorithm)?;
    Ok(ready)
}

/// The names of the client keys of the kubeconfig files that do not exist yet.
pub fn needed(host: &dyn Host, dir: &Path, skip: &[String]) -> anyhow::Result<Vec<String>> {
    let skipped = |name: &str| is_skipped(skip, &format!("kubeconfig/{name}"));
    let mut needed = Vec::new();
    for spec in KUBECONFIGS {
        if !skipped(spec.name) && !host.exists(&dir.join(spec.file_name))? {
            needed.push(key_name(spec));
        }
    }
    Ok(needed)
}

/// Makes or checks one kubeconfig file.
pub fn run_kubeconfig(
    host: &dyn Host,
    cfg: &InitConfiguration,
    dir: &Path,
    keys: &mut KeyCache,
    spec: &KubeConfigSpec,
) -> anyhow::Result<()> {
    let (ca_crt_path, ca_key_path) = cert_and_key_paths(&cfg.cluster.certificates_dir, "ca");
    let ca_der = load_cert(host, &ca_crt_path)?.ok_or_else(|| {
        anyhow::anyhow!(
            "the cluster CA certificate {} is missing; make it first with 'kubeadm init phase certs ca'",
            ca_crt_path.display()
        )
    })?;
    let ca_info = CertInfo::parse(&ca_der).with_context(|| ca_crt_path.display().to_string())?;
    let path = dir.join(spec.file_name);
    let server = spec.server_url(cfg);

    match host.read_to_string(&path) {
        Ok(text) => {
            check_existing(&path, &text, &ca_der, &ca_info, &server)?;
            println!(
                "[kubeconfig] Using existing kubeconfig file: {:?}",
                path.display().to_string()
            );
            return Ok(());
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }

    let ca_key = load_key(host, &ca_key_path)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{} does not exist and the cluster CA has no key ({}): with an external CA, every kubeconfig file must be provided",
            path.display(),
            ca_key_path.display()
        )
    })?;
    println!("[kubeconfig] Writing {:?} kubeconfig file", spec.file_name);
    let client = spec.client_name_for(&cfg.node_registration.name);
    let key = keys.take(&key_name(spec), cfg.cluster.encryption_algorithm)?;
    let req = CertRequest::new(
        client.clone(),
        spec.organizations.iter().map(|s| s.to_string()).collect(),
        vec![],
        vec![],
        vec![Usage::ClientAuth],
    );
    let cert = pki::new_signed_cert(
        &req,
        &key,
        &ca_der,
        &ca_key,
        cfg.cluster.certificate_validity_period,
    )?;
    let kc = client_cert_kubeconfig(
        &cfg.cluster.cluster_name,
        &server,
        &ca_der,
        &client,
        &cert,
        &key,
    );
    kc.write(host, &path)
}

/// A kubeconfig authenticating with a client certificate.
pub fn client_cert_kubeconfig(
    cluster_name: &str,
    server: &str,
    ca_der: &[u8],
    user: &str,
    cert_der: &[u8],
    key: &PrivateKey,
) -> KubeConfig {
    KubeConfig::new(
        cluster_name,
        server,
        cert_pem(ca_der).as_bytes(),
        user,
        AuthInfo {
            client_certificate_data: Some(cert_pem(cert_der).into_bytes()),
            client_key_data: Some(key.to_pem().into_bytes()),
            token: None,
            ..Default::default()
        },
    )
}

/// Upstream's rules for an existing file: it must parse, carry this cluster's CA, and its
/// client certificate must be signed by that CA, match its key and be within its validity;
/// a different server address is only warned about.
fn check_existing(
    path: &Path,
    text: &str,
    ca_der: &[u8],
    ca_info: &CertInfo,
    server: &str,
) -> anyhow::Result<()> {
    let p = path.display();
    let kc = KubeConfig::from_yaml(text)
        .map_err(|e| anyhow::anyhow!("{p}: not a valid kubeconfig file: {e}"))?;
    let cluster = kc
        .current_cluster()
        .ok_or_else(|| anyhow::anyhow!("{p}: the current context names no cluster of the file"))?;
    let file_ca = pem::parse(&cluster.certificate_authority_data)
        .map(|b| b.into_contents())
        .map_err(|_| anyhow::anyhow!("{p}: certificate-authority-data is not a PEM certificate"))?;
    if file_ca != ca_der {
        anyhow::bail!(
            "a kubeconfig file {p:?} exists already but has got the wrong CA cert; remove it to have it made anew for this cluster's CA"
        );
    }
    if cluster.server != server {
        eprintln!(
            "[kubeconfig] WARNING: a kubeconfig file {p:?} exists already but has an unexpected API Server URL: expected: {server}, got: {}",
            cluster.server
        );
    }
    let user = kc
        .current_user()
        .ok_or_else(|| anyhow::anyhow!("{p}: the current context names no user of the file"))?;
    if let Some(der) = user
        .client_certificate_der()
        .with_context(|| p.to_string())?
    {
        let info = CertInfo::parse(&der).with_context(|| p.to_string())?;
        let key = match &user.client_key_data {
            Some(k) => Some(
                PrivateKey::from_pem(&String::from_utf8_lossy(k))
                    .map_err(|e| anyhow::anyhow!("{p}: client-key-data: {e}"))?,
            ),
            None => None,
        };
        pki::check_existing(path, &info, key.as_ref(), None, Some(ca_info))?;
    }
    Ok(())
}

//! `kubeadm certs generate-csr`: keys and certificate signing requests for every certificate
//! and kubeconfig file of a control-plane node, for signing by an external CA. The signed
//! certificates go next to the keys as `.crt`; for kubeconfig files, into
//! `client-certificate-data`.

use std::path::Path;

use rcgen::CertificateParams;

use super::{cert_and_key_paths, encode_pem, CertRequest, PrivateKey, CERTS, CERT_MODE};
use crate::config::InitConfiguration;
use crate::host::{Host, Sensitivity};
use crate::kubeconfig::{AuthInfo, KubeConfig, KUBECONFIGS};

/// A PEM CSR for the request, signed by `key`.
pub fn csr_pem(req: &CertRequest, key: &PrivateKey) -> anyhow::Result<String> {
    let mut p = CertificateParams::default();
    p.distinguished_name = super::subject(req)?;
    p.subject_alt_names = super::san_list(req)?;
    let csr = p.serialize_request(key.pair())?;
    Ok(encode_pem("CERTIFICATE REQUEST", csr.der()))
}

fn refuse_existing(host: &dyn Host, paths: &[&Path]) -> anyhow::Result<()> {
    for p in paths {
        if host.exists(p)? {
            anyhow::bail!(
                "{} already exists; generate-csr never replaces files: move it away first",
                p.display()
            );
        }
    }
    Ok(())
}

/// Writes `<name>.key` and `<name>.csr` for every non-CA certificate, and for every
/// kubeconfig file the file itself (with the client key, without a certificate) and
/// `<file>.csr`.
pub fn generate_all(
    host: &dyn Host,
    cfg: &InitConfiguration,
    kubeconfig_dir: &Path,
) -> anyhow::Result<()> {
    let dir = &cfg.cluster.certificates_dir;
    let alg = cfg.cluster.encryption_algorithm;
    for spec in CERTS.iter().filter(|c| !c.is_ca()) {
        let (_, key_path) = cert_and_key_paths(dir, spec.base_name);
        let csr_path = dir.join(format!("{}.csr", spec.base_name));
        refuse_existing(host, &[&key_path, &csr_path])?;
        let key = PrivateKey::generate(alg)?;
        let csr = csr_pem(&CertRequest::for_spec(spec, cfg)?, &key)?;
        super::write_key(host, &key_path, &key)?;
        host.write_file(&csr_path, csr.as_bytes(), CERT_MODE, Sensitivity::Public)?;
        println!(
            "[certs] Generated {} key and CSR in {}",
            spec.base_name,
            dir.display()
        );
    }
    let ca_pem = host
        .read(&dir.join("ca.crt"))
        .map_err(|e| anyhow::anyhow!("kubeconfig files embed the cluster CA certificate: {e}"))?;
    for spec in KUBECONFIGS {
        let path = kubeconfig_dir.join(spec.file_name);
        let csr_path = kubeconfig_dir.join(format!("{}.csr", spec.file_name));
        refuse_existing(host, &[&path, &csr_path])?;
        let client = spec.client_name_for(&cfg.node_registration.name);
        let req = CertRequest::new(
            client.clone(),
            spec.organizations.iter().map(|s| s.to_string()).collect(),
            vec![],
            vec![],
            vec![super::Usage::ClientAuth],
        );
        let key = PrivateKey::generate(alg)?;
        let server = spec.server_url(cfg);
        let kc = KubeConfig::new(
            &cfg.cluster.cluster_name,
            &server,
            &ca_pem,
            &client,
            AuthInfo {
                client_certificate_data: None,
                client_key_data: Some(key.to_pem().into_bytes()),
                token: None,
                ..Default::default()
            },
        );
        kc.write(host, &path)?;
        host.write_file(
            &csr_path,
            csr_pem(&req, &key)?.as_bytes(),
            CERT_MODE,
            Sensitivity::Public,
        )?;
        println!(
            "[certs] Generated {} key and CSR in {}",
            spec.file_name,
            kubeconfig_dir.display()
        );
    }
    Ok(())
}

/// The subject common name of a CertificateSigningRequest's `spec.request` (base64 of a
/// PEM `CERTIFICATE REQUEST`), when it parses.
pub fn subject_common_name(request_b64: &str) -> Option<String> {
    use base64::Engine;
    use x509_parser::prelude::FromDer;
    let pem_bytes = base64::engine::general_purpose::STANDARD
        .decode(request_b64)
        .ok()?;
    let block = ::pem::parse(pem_bytes).ok()?;
    let (_, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(block.contents())
            .ok()?;
    let cn = csr
        .certification_request_info
        .subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(cn)
}

//! The `certs` phases: each certificate of the table, made or reused, and the
//! service-account key pair. Keys for every certificate still to be made are generated in
//! parallel up front, and each is used once.

use std::path::Path;

use anyhow::Context;

use crate::config::{Etcd, InitConfiguration};
use crate::host::{Host, Sensitivity};
use crate::pki::{
    self, cert_and_key_paths, certlist, check_existing, load_cert, load_key, CertInfo, CertRequest,
    CertSpec, PrivateKey, Usage, CERTS, KEY_MODE, SERVICE_ACCOUNT_KEY_BASE_NAME,
};
use crate::workflow::is_skipped;

pub use crate::pki::KeyCache;

fn skipped_by_external_etcd(spec: &CertSpec, cfg: &InitConfiguration) -> bool {
    spec.is_etcd() && matches!(cfg.cluster.etcd, Etcd::External(_))
}

/// The parent `certs` phase: reports the directory and generates, in parallel, the keys of
/// every certificate (and the service-account key) that does not exist yet.
pub fn prepare(
    host: &dyn Host,
    cfg: &InitConfiguration,
    skip: &[String],
    mut ready: KeyCache,
) -> anyhow::Result<KeyCache> {
    println!(
        "[certs] Using certificateDir folder {:?}",
        cfg.cluster.certificates_dir.display().to_string()
    );
    ready.fill(&needed(host, cfg, skip)?, cfg.cluster.encryption_algorithm)?;
    Ok(ready)
}

/// The names of the keys the certificates (and the service-account key) that do not exist
/// yet will need.
pub fn needed(
    host: &dyn Host,
    cfg: &InitConfiguration,
    skip: &[String],
) -> anyhow::Result<Vec<String>> {
    let dir = &cfg.cluster.certificates_dir;
    let skipped = |name: &str| is_skipped(skip, &format!("certs/{name}"));
    let mut needed = Vec::new();
    for spec in CERTS {
        if skipped(spec.name) || skipped_by_external_etcd(spec, cfg) {
            continue;
        }
        let (crt, key) = cert_and_key_paths(dir, spec.base_name);
        if !host.exists(&crt)? && !host.exists(&key)? {
            needed.push(spec.name.to_string());
        }
    }
    if !skipped("sa") && !host.exists(&dir.join("sa.key"))? {
        needed.push(SERVICE_ACCOUNT_KEY_BASE_NAME.to_string());
    }
    Ok(needed)
}

/// Formats a list as Go prints a slice: `[a b c]`.
fn go_list<T: ToString>(items: &[T]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Makes or checks one certificate of the table.
pub fn run_cert(
    host: &dyn Host,
    cfg: &InitConfiguration,
    keys: &mut KeyCache,
    spec: &CertSpec,
) -> anyhow::Result<()> {
    if skipped_by_external_etcd(spec, cfg) {
        println!(
            "[certs] External etcd mode: Skipping {} certificate generation",
            spec.base_name
        );
        return Ok(());
    }
    let dir = &cfg.cluster.certificates_dir;
    let (crt_path, key_path) = cert_and_key_paths(dir, spec.base_name);
    let existing_cert = load_cert(host, &crt_path)?;
    let existing_key = load_key(host, &key_path)?;
    let alg = cfg.cluster.encryption_algorithm;
    // A key without its certificate: what a run stopped between the two writes (the key
    // goes first) leaves. Upstream makes a new pair whenever the certificate is missing,
    // and so do we, saying so.
    if existing_cert.is_none() && existing_key.is_some() {
        println!(
            "[certs] {} has no certificate {} (an interrupted run?): replacing it",
            key_path.display(),
            crt_path.display()
        );
    }

    if spec.is_ca() {
        return match (existing_cert, existing_key) {
            (Some(der), key) => {
                let info = CertInfo::parse(&der).with_context(|| crt_path.display().to_string())?;
                if !info.is_ca {
                    anyhow::bail!(
                        "{}: the certificate is not a CA (its basic constraints say CA:FALSE); the {} CA must be a CA certificate",
                        crt_path.display(),
                        spec.name
                    );
                }
                check_existing(&crt_path, &info, key.as_ref(), None, None)?;
                if key.is_some() {
                    println!(
                        "[certs] Using existing {} certificate authority",
                        spec.base_name
                    );
                } else {
                    println!(
                        "[certs] Using existing {} keyless certificate authority",
                        spec.base_name
                    );
                }
                Ok(())
            }
            (None, _) => {
                println!(
                    "[certs] Generating {:?} certificate and key",
                    spec.base_name
                );
                let key = keys.take(spec.name, alg)?;
                let cn = spec.common_name_for(&cfg.node_registration.name);
                let der = pki::new_ca_cert(&cn, &key, cfg.cluster.ca_certificate_validity_period)?;
                pki::write_cert_and_key(host, dir, spec.base_name, &der, &key)?;
                Ok(())
            }
        };
    }

    let ca_spec = certlist::spec(spec.ca.expect("leaf has a CA")).expect("CA in the table");
    let (ca_crt_path, ca_key_path) = cert_and_key_paths(dir, ca_spec.base_name);
    let ca_der = load_cert(host, &ca_crt_path)?.ok_or_else(|| {
        anyhow::anyhow!(
            "the {} CA certificate {} is missing; make it first with 'kubeadm init phase certs {}'",
            ca_spec.name,
            ca_crt_path.display(),
            ca_spec.name
        )
    })?;
    let ca_info = CertInfo::parse(&ca_der).with_context(|| ca_crt_path.display().to_string())?;
    let req = CertRequest::for_spec(spec, cfg)?;

    match (existing_cert, existing_key) {
        (Some(der), Some(key)) => {
            let info = CertInfo::parse(&der).with_context(|| crt_path.display().to_string())?;
            let want = spec.usages.contains(&Usage::ServerAuth).then_some(&req);
            check_existing(&crt_path, &info, Some(&key), want, Some(&ca_info))?;
            println!(
                "[certs] Using existing {} certificate and key on disk",
                spec.base_name
            );
            Ok(())
        }
        (Some(_), None) => anyhow::bail!(
            "only one of {} and {} exists; restore the other, or remove it to have a new pair made",
            crt_path.display(),
            key_path.display()
        ),
        (None, _) => {
            let ca_key = load_key(host, &ca_key_path)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "{} does not exist and the {} CA has no key ({}): with an external CA, every certificate it signs must be provided",
                    crt_path.display(),
                    ca_spec.name,
                    ca_key_path.display()
                )
            })?;
            println!(
                "[certs] Generating {:?} certificate and key",
                spec.base_name
            );
            if !req.dns_names.is_empty() || !req.ips.is_empty() {
                println!(
                    "[certs] {} serving cert is signed for DNS names {} and IPs {}",
                    spec.base_name,
                    go_list(&req.dns_names),
                    go_list(&req.ips)
                );
            }
            let key = keys.take(spec.name, alg)?;
            let der = pki::new_signed_cert(
                &req,
                &key,
                &ca_der,
                &ca_key,
                cfg.cluster.certificate_validity_period,
            )?;
            pki::write_cert_and_key(host, dir, spec.base_name, &der, &key)?;
            Ok(())
        }
    }
}

/// Makes or checks the service-account signing key pair (`sa.key`, `sa.pub`).
pub fn run_sa(host: &dyn Host, cfg: &InitConfiguration, keys: &mut KeyCache) -> anyhow::Result<()> {
    let dir = &cfg.cluster.certificates_dir;
    let key_path = dir.join("sa.key");
    let pub_path = dir.join("sa.pub");
    if let Some(key) = load_key(host, &key_path)? {
        if let Ok(existing) = host.read_to_string(&pub_path) {
            if existing.trim() != key.public_key_pem().trim() {
                anyhow::bail!(
                    "{} does not hold the public key of {}; restore the matching pair or remove both",
                    pub_path.display(),
                    key_path.display()
                );
            }
        } else {
            write_public(host, &pub_path, &key)?;
        }
        println!("[certs] Using the existing \"sa\" key");
        return Ok(());
    }
    if host.exists(&pub_path)? {
        anyhow::bail!(
            "{} exists but {} does not; restore the private key, or remove the public key to have a new pair made",
            pub_path.display(),
            key_path.display()
        );
    }
    println!("[certs] Generating \"sa\" key and public key");
    let key = keys.take(
        SERVICE_ACCOUNT_KEY_BASE_NAME,
        cfg.cluster.encryption_algorithm,
    )?;
    pki::write_key(host, &key_path, &key)?;
    write_public(host, &pub_path, &key)
}

fn write_public(host: &dyn Host, path: &Path, key: &PrivateKey) -> anyhow::Result<()> {
    // Upstream writes sa.pub with the key-file mode.
    host.write_file(
        path,
        key.public_key_pem().as_bytes(),
        KEY_MODE,
        Sensitivity::Public,
    )?;
    Ok(())
}

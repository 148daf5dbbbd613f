//! What `kubeadm certs check-expiration` reports and `kubeadm certs renew` re-signs: every
//! certificate signed by a cluster CA, on disk or embedded in a kubeconfig file.

use crate::output::tabwrite;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use serde::Serialize;

use super::{
    cert_and_key_paths, load_cert, load_key, CertInfo, CertRequest, CertSpec, PrivateKey, CERTS,
};
use crate::host::Host;
use crate::kubeconfig::{KubeConfig, KubeConfigSpec, KUBECONFIGS};

/// Something renewable: a certificate file or a kubeconfig's client certificate.
#[derive(Debug, Clone, Copy)]
pub enum Renewable {
    /// A certificate and key under the certificate directory.
    Cert(&'static CertSpec),
    /// A kubeconfig file's embedded client certificate (always signed by `ca`).
    KubeConfig(&'static KubeConfigSpec),
}

impl Renewable {
    /// The name `check-expiration` shows and `renew` takes.
    pub fn name(&self) -> &'static str {
        match self {
            Renewable::Cert(s) => s.name,
            Renewable::KubeConfig(k) => k.file_name,
        }
    }

    /// The name of the CA that signs it.
    pub fn ca_name(&self) -> &'static str {
        match self {
            Renewable::Cert(s) => s.ca.unwrap_or("ca"),
            Renewable::KubeConfig(_) => "ca",
        }
    }

    /// What `renew` says it renewed, as upstream words it.
    pub fn description(&self) -> String {
        match self {
            Renewable::Cert(s) => match s.name {
                "apiserver" => "certificate for serving the Kubernetes API".into(),
                "apiserver-kubelet-client" => "certificate for the API server to connect to kubelet".into(),
                "front-proxy-client" => "certificate for the front proxy client".into(),
                "etcd-server" => "certificate for serving etcd".into(),
                "etcd-peer" => "certificate for etcd nodes to communicate with each other".into(),
                "etcd-healthcheck-client" => "certificate for liveness probes to healthcheck etcd".into(),
                "apiserver-etcd-client" => "certificate the apiserver uses to access etcd".into(),
                other => format!("certificate {other}"),
            },
            Renewable::KubeConfig(k) => match k.name {
                "admin" => "certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself".into(),
                "super-admin" => "certificate embedded in the kubeconfig file for the super-admin".into(),
                "controller-manager" => "certificate embedded in the kubeconfig file for the controller manager to use".into(),
                "scheduler" => "certificate embedded in the kubeconfig file for the scheduler manager to use".into(),
                other => format!("certificate embedded in {other}"),
            },
        }
    }
}

/// Everything renewable, sorted by name as upstream lists them. kubelet.conf is left out:
/// the kubelet rotates its own client certificate.
pub fn renewables() -> Vec<Renewable> {
    let mut all: Vec<Renewable> = CERTS
        .iter()
        .filter(|c| !c.is_ca())
        .map(Renewable::Cert)
        .chain(
            KUBECONFIGS
                .iter()
                .filter(|k| k.name != "kubelet")
                .map(Renewable::KubeConfig),
        )
        .collect();
    all.sort_by_key(|r| r.name());
    all
}

/// The CAs, as `check-expiration` names them.
pub fn certificate_authorities() -> Vec<&'static CertSpec> {
    let mut cas: Vec<_> = CERTS.iter().filter(|c| c.is_ca()).collect();
    cas.sort_by_key(|c| c.name);
    cas
}

/// One row of the expiration report (upstream's `output.kubeadm.k8s.io/v1alpha3`
/// `Certificate`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationEntry {
    /// Certificate name.
    pub name: String,
    /// RFC 3339 expiry; `null` when missing, as upstream's zero `metav1.Time`.
    pub expiration_date: Option<String>,
    /// Seconds left.
    #[serde(rename = "residualTime")]
    pub residual_time_seconds: i64,
    /// True when kubeadm cannot renew it (its CA's key is not here).
    pub externally_managed: bool,
    /// The signing CA; empty for CAs and for a missing certificate (as upstream).
    #[serde(rename = "caName", skip_serializing_if = "String::is_empty")]
    pub ca_name: String,
    /// True when the file does not exist.
    pub missing: bool,
    #[serde(skip)]
    not_after: Option<SystemTime>,
}

/// The whole report (`CertificateExpirationInfo`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationInfo {
    /// `CertificateExpirationInfo` (first, as upstream's `TypeMeta` prints it).
    pub kind: &'static str,
    /// `output.kubeadm.k8s.io/v1alpha3`.
    pub api_version: &'static str,
    /// Leaf certificates.
    pub certificates: Vec<ExpirationEntry>,
    /// Certificate authorities.
    pub certificate_authorities: Vec<ExpirationEntry>,
}

fn entry(
    name: &str,
    ca_name: &str,
    cert: Option<Vec<u8>>,
    externally_managed: bool,
) -> anyhow::Result<ExpirationEntry> {
    let info = cert.map(|der| CertInfo::parse(&der)).transpose()?;
    let now = SystemTime::now();
    Ok(ExpirationEntry {
        name: name.into(),
        expiration_date: info.as_ref().map(|i| super::x509::rfc3339(i.not_after)),
        residual_time_seconds: info
            .as_ref()
            .map(|i| match i.not_after.duration_since(now) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs() as i64),
            })
            .unwrap_or(0),
        // Upstream reports a missing file by its name alone.
        externally_managed: externally_managed && info.is_some(),
        ca_name: if info.is_some() {
            ca_name.into()
        } else {
            String::new()
        },
        missing: info.is_none(),
        not_after: info.map(|i| i.not_after),
    })
}

/// Reads the client certificate embedded in a kubeconfig file.
fn kubeconfig_cert(host: &dyn Host, path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let text = match host.read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let kc = KubeConfig::from_yaml(&text).with_context(|| path.display().to_string())?;
    let user = kc.current_user().ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the current context names no user of the file",
            path.display()
        )
    })?;
    let der = user
        .client_certificate_der()
        .with_context(|| path.display().to_string())?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: the current user has no client certificate",
                path.display()
            )
        })?;
    Ok(Some(der))
}

/// Where the files are.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// The certificate directory (`/etc/kubernetes/pki`).
    pub cert_dir: PathBuf,
    /// The kubeconfig directory (`/etc/kubernetes`).
    pub kubeconfig_dir: PathBuf,
}

fn ca_has_key(host: &dyn Host, dirs: &Dirs, ca_name: &str) -> anyhow::Result<bool> {
    let spec = super::certlist::spec(ca_name).expect("CA in the table");
    let (_, key) = cert_and_key_paths(&dirs.cert_dir, spec.base_name);
    Ok(host.exists(&key)?)
}

/// Builds the expiration report.
pub fn check_expiration(host: &dyn Host, dirs: &Dirs) -> anyhow::Result<ExpirationInfo> {
    let mut certificates = Vec::new();
    for r in renewables() {
        let cert = match r {
            Renewable::Cert(s) => {
                load_cert(host, &cert_and_key_paths(&dirs.cert_dir, s.base_name).0)?
            }
            Renewable::KubeConfig(k) => {
                let cert = kubeconfig_cert(host, &dirs.kubeconfig_dir.join(k.file_name))?;
                // Only the first control-plane node has super-admin.conf.
                if cert.is_none() && k.name == "super-admin" {
                    continue;
                }
                cert
            }
        };
        let external = !ca_has_key(host, dirs, r.ca_name())?;
        certificates.push(entry(r.name(), r.ca_name(), cert, external)?);
    }
    let mut cas = Vec::new();
    for ca in certificate_authorities() {
        let (crt, key) = cert_and_key_paths(&dirs.cert_dir, ca.base_name);
        let cert = load_cert(host, &crt)?;
        let external = cert.is_some() && !host.exists(&key)?;
        cas.push(entry(ca.name, "", cert, external)?);
    }
    Ok(ExpirationInfo {
        api_version: "output.kubeadm.k8s.io/v1alpha3",
        kind: "CertificateExpirationInfo",
        certificates,
        certificate_authorities: cas,
    })
}

/// Go's `duration.ShortHumanDuration`.
pub fn short_human_duration(seconds: i64) -> String {
    if seconds < -1 {
        "<invalid>".into()
    } else if seconds < 0 {
        "0s".into()
    } else if seconds < 60 {
        format!("{seconds}s")
    } else if seconds < 3600 {
        format!("{}m", seconds / 60)
    } else if seconds < 24 * 3600 {
        format!("{}h", seconds / 3600)
    } else if seconds < 365 * 24 * 3600 {
        format!("{}d", seconds / (24 * 3600))
    } else {
        format!("{}y", seconds / (365 * 24 * 3600))
    }
}

/// The text table `check-expiration` prints.
pub fn expiration_text(info: &ExpirationInfo) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let date = |e: &ExpirationEntry| {
        e.not_after
            .map(|t| {
                let dt = ::time::OffsetDateTime::from(t);
                let f = ::time::macros::format_description!(
                    "[month repr:short] [day], [year] [hour]:[minute] UTC"
                );
                dt.format(&f).unwrap_or_default()
            })
            .unwrap_or_default()
    };
    let mut first = vec![
        "CERTIFICATE\tEXPIRES\tRESIDUAL TIME\tCERTIFICATE AUTHORITY\tEXTERNALLY MANAGED"
            .to_string(),
    ];
    for e in &info.certificates {
        first.push(if e.missing {
            format!("!MISSING! {}\t\t\t\t", e.name)
        } else {
            format!(
                "{}\t{}\t{}\t{}\t{:<8}",
                e.name,
                date(e),
                short_human_duration(e.residual_time_seconds),
                e.ca_name,
                yes_no(e.externally_managed)
            )
        });
    }
    let mut second =
        vec!["CERTIFICATE AUTHORITY\tEXPIRES\tRESIDUAL TIME\tEXTERNALLY MANAGED".to_string()];
    for e in &info.certificate_authorities {
        second.push(if e.missing {
            format!("!MISSING! {}\t\t\t", e.name)
        } else {
            format!(
                "{}\t{}\t{}\t{:<8}",
                e.name,
                date(e),
                short_human_duration(e.residual_time_seconds),
                yes_no(e.externally_managed)
            )
        });
    }
    format!("{}\n{}", tabwrite(&first), tabwrite(&second))
}

/// Why a certificate was not renewed.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    /// Its CA's key is not on this machine.
    #[error("{name} is externally managed: the {ca} CA key {} is not on this machine; renew it with your CA", key.display())]
    ExternallyManaged {
        /// The certificate.
        name: &'static str,
        /// Its CA.
        ca: &'static str,
        /// The missing CA key.
        key: PathBuf,
    },
    /// The certificate does not exist.
    #[error("{name} does not exist, so there is nothing to renew; make it with 'kubeadm init phase certs' or 'kubeadm init phase kubeconfig'")]
    Missing {
        /// The certificate.
        name: &'static str,
    },
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Re-signs one certificate with its CA: same subject, SANs and usages as the existing
/// certificate, a new key of the same algorithm, a new validity period from now. Refuses
/// when the CA's key is not here (external CA).
pub fn renew(
    host: &dyn Host,
    dirs: &Dirs,
    r: Renewable,
    validity: std::time::Duration,
) -> Result<(), RenewError> {
    let ca_spec = super::certlist::spec(r.ca_name()).expect("CA in the table");
    let (ca_crt, ca_key_path) = cert_and_key_paths(&dirs.cert_dir, ca_spec.base_name);
    let ca_der = load_cert(host, &ca_crt)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the {} CA certificate is missing",
            ca_crt.display(),
            ca_spec.name
        )
    })?;
    let ca_key = load_key(host, &ca_key_path)?.ok_or_else(|| RenewError::ExternallyManaged {
        name: r.name(),
        ca: ca_spec.name,
        key: ca_key_path.clone(),
    })?;
    let existing = match r {
        Renewable::Cert(s) => load_cert(host, &cert_and_key_paths(&dirs.cert_dir, s.base_name).0)?,
        Renewable::KubeConfig(k) => kubeconfig_cert(host, &dirs.kubeconfig_dir.join(k.file_name))?,
    }
    .ok_or(RenewError::Missing { name: r.name() })?;
    let old = CertInfo::parse(&existing)?;
    let req = CertRequest::new(
        old.common_name.clone(),
        old.organizations.clone(),
        old.dns_names.clone(),
        old.ips.clone(),
        old.usages.clone(),
    );
    let key = PrivateKey::generate(old.key_algorithm().unwrap_or_default())
        .map_err(anyhow::Error::from)?;
    let der = super::new_signed_cert(&req, &key, &ca_der, &ca_key, validity)?;
    match r {
        Renewable::Cert(s) => {
            super::write_cert_and_key(host, &dirs.cert_dir, s.base_name, &der, &key)
                .map_err(anyhow::Error::from)?
        }
        Renewable::KubeConfig(k) => {
            let path = dirs.kubeconfig_dir.join(k.file_name);
            let mut kc =
                KubeConfig::from_yaml(&host.read_to_string(&path).map_err(anyhow::Error::from)?)?;
            let user = kc.current_user_mut().ok_or_else(|| {
                anyhow::anyhow!("{}: the current user is not in the file", path.display())
            })?;
            user.client_certificate_data = Some(super::cert_pem(&der).into_bytes());
            user.client_key_data = Some(key.to_pem().into_bytes());
            kc.write(host, &path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_and_order() {
        let names: Vec<_> = renewables().iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            [
                "admin.conf",
                "apiserver",
                "apiserver-etcd-client",
                "apiserver-kubelet-client",
                "controller-manager.conf",
                "etcd-healthcheck-client",
                "etcd-peer",
                "etcd-server",
                "front-proxy-client",
                "scheduler.conf",
                "super-admin.conf"
            ]
        );
        let cas: Vec<_> = certificate_authorities().iter().map(|c| c.name).collect();
        assert_eq!(cas, ["ca", "etcd-ca", "front-proxy-ca"]);
    }

    #[test]
    fn short_durations_like_go() {
        assert_eq!(short_human_duration(-5), "<invalid>");
        assert_eq!(short_human_duration(-1), "0s");
        assert_eq!(short_human_duration(59), "59s");
        assert_eq!(short_human_duration(3599), "59m");
        assert_eq!(short_human_duration(86399), "23h");
        assert_eq!(short_human_duration(364 * 86400 + 5), "364d");
        assert_eq!(short_human_duration(10 * 365 * 86400 - 300), "9y");
    }

    #[test]
    fn tabwriter_layout() {
        let rows = vec!["A\tBB\tlast".to_string(), "CCCCCCCCCCCC\tD\tx".to_string()];
        // Width = widest cell + 3 padding, at least 10 (padding included).
        assert_eq!(
            tabwrite(&rows),
            "A              BB        last\nCCCCCCCCCCCC   D         x\n"
        );
    }
}

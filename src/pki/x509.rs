//! Reading certificates: what kubeadm checks in an existing file.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::prelude::*;

use super::Usage;

/// The facts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject CN.
    pub common_name: String,
    /// Subject O values.
    pub organizations: Vec<String>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP SANs.
    pub ips: Vec<IpAddr>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Basic constraints CA flag.
    pub is_ca: bool,
    /// Extended key usages kubeadm uses.
    pub usages: Vec<Usage>,
    /// DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// The subject public key bits (for signature checks against this certificate).
    subject_key: Vec<u8>,
    key_is_rsa: bool,
    key_curve_p384: bool,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    signature_oid: String,
    issuer_der: Vec<u8>,
    subject_der: Vec<u8>,
}

fn system_time(t: ASN1Time) -> SystemTime {
    let secs = t.timestamp();
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// A time as RFC 3339 UTC text.
pub fn rfc3339(t: SystemTime) -> String {
    let dt = ::time::OffsetDateTime::from(t);
    dt.format(&::time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format!("{dt}"))
}

impl CertInfo {
    /// Parses a DER certificate.
    pub fn parse(der: &[u8]) -> anyhow::Result<Self> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| anyhow::anyhow!("not a valid X.509 certificate: {e}"))?;
        let subject = cert.subject();
        let common_name = subject
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_string();
        let organizations = subject
            .iter_organization()
            .filter_map(|a| a.as_str().ok().map(str::to_string))
            .collect();
        let mut dns_names = Vec::new();
        let mut ips = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                match n {
                    GeneralName::DNSName(d) => dns_names.push(d.to_string()),
                    GeneralName::IPAddress(b) => match b.len() {
                        4 => ips.push(IpAddr::from(<[u8; 4]>::try_from(*b).unwrap())),
                        16 => ips.push(IpAddr::from(<[u8; 16]>::try_from(*b).unwrap())),
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        let mut usages = Vec::new();
        if let Ok(Some(eku)) = cert.extended_key_usage() {
            if eku.value.server_auth {
                usages.push(Usage::ServerAuth);
            }
            if eku.value.client_auth {
                usages.push(Usage::ClientAuth);
            }
        }
        let is_ca = cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|b| b.value.ca);
        let spki = cert.public_key();
        let alg_oid = spki.algorithm.algorithm.to_id_string();
        let key_curve_p384 = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .is_some_and(|o| o.to_id_string() == "1.3.132.0.34");
        Ok(CertInfo {
            common_name,
            organizations,
            dns_names,
            ips,
            not_before: system_time(cert.validity().not_before),
            not_after: system_time(cert.validity().not_after),
            is_ca,
            usages,
            public_key_der: spki.raw.to_vec(),
            subject_key: spki.subject_public_key.data.to_vec(),
            key_is_rsa: alg_oid == "1.2.840.113549.1.1.1",
            key_curve_p384,
            tbs: cert.tbs_certificate.as_ref().to_vec(),
            signature: cert.signature_value.data.to_vec(),
            signature_oid: cert.signature_algorithm.algorithm.to_id_string(),
            issuer_der: cert.issuer().as_raw().to_vec(),
            subject_der: subject.as_raw().to_vec(),
        })
    }

    /// The key algorithm of the certificate's public key, as `encryptionAlgorithm` names it.
    pub fn key_algorithm(&self) -> Option<crate::config::EncryptionAlgorithm> {
        use crate::config::EncryptionAlgorithm as A;
        if !self.key_is_rsa {
            return Some(if self.key_curve_p384 {
                A::EcdsaP384
            } else {
                A::EcdsaP256
            });
        }
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        let (_, body, _) = super::keys::der_tlv(&self.subject_key)?;
        let (_, modulus, _) = super::keys::der_tlv(body)?;
        let bits = modulus.iter().skip_while(|b| **b == 0).count() * 8;
        Some(match bits {
            0..=2048 => A::Rsa2048,
            2049..=3072 => A::Rsa3072,
            _ => A::Rsa4096,
        })
    }

    /// Parses a PEM certificate.
    pub fn parse_pem(text: &str) -> anyhow::Result<Self> {
        let block =
            ::pem::parse(text).map_err(|e| anyhow::anyhow!("not a PEM certificate: {e}"))?;
        Self::parse(block.contents())
    }

    /// True when `ca` issued this certificate: the issuer name matches `ca`'s subject and
    /// the signature verifies with `ca`'s public key.
    pub fn is_signed_by(&self, ca: &CertInfo) -> bool {
        if self.issuer_der != ca.subject_der {
            return false;
        }
        let alg: &'static dyn VerificationAlgorithm =
            match (self.signature_oid.as_str(), ca.key_is_rsa) {
                ("1.2.840.113549.1.1.11", true) => &signature::RSA_PKCS1_2048_8192_SHA256,
                ("1.2.840.113549.1.1.12", true) => &signature::RSA_PKCS1_2048_8192_SHA384,
                ("1.2.840.113549.1.1.13", true) => &signature::RSA_PKCS1_2048_8192_SHA512,
                ("1.2.840.10045.4.3.2", false) if !ca.key_curve_p384 => {
                    &signature::ECDSA_P256_SHA256_ASN1
                }
                ("1.2.840.10045.4.3.2", false) => &signature::ECDSA_P384_SHA256_ASN1,
                ("1.2.840.10045.4.3.3", false) if ca.key_curve_p384 => {
                    &signature::ECDSA_P384_SHA384_ASN1
                }
                ("1.2.840.10045.4.3.3", false) => &signature::ECDSA_P256_SHA384_ASN1,
                _ => return false,
            };
        UnparsedPublicKey::new(alg, &ca.subject_key)
            .verify(&self.tbs, &self.signature)
            .is_ok()
    }
}

/// The CA public-key pin `kubeadm join` checks: `sha256:` and the hex SHA-256 of the
/// certificate's DER SubjectPublicKeyInfo.
pub fn public_key_pin(cert_der: &[u8]) -> anyhow::Result<String> {
    let (_, cert) = X509Certificate::from_der(cert_der)
        .map_err(|e| anyhow::anyhow!("not a valid X.509 certificate: {e}"))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.public_key().raw);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

/// The pin of the first certificate in a PEM bundle.
pub fn public_key_pin_pem(pem_text: &[u8]) -> anyhow::Result<String> {
    let block =
        ::pem::parse(pem_text).map_err(|e| anyhow::anyhow!("not a PEM certificate: {e}"))?;
    public_key_pin(block.contents())
}

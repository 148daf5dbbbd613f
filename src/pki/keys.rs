//! Private keys in the algorithms `encryptionAlgorithm` allows, written as upstream writes
//! them: RSA as PKCS#1 (`RSA PRIVATE KEY`), ECDSA as SEC1 (`EC PRIVATE KEY`), public keys as
//! PKIX (`PUBLIC KEY`).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
};
use rcgen::{KeyPair, PublicKeyData};

use crate::config::EncryptionAlgorithm;

/// A private key kubeadm generated or loaded.
pub struct PrivateKey {
    pair: KeyPair,
    /// The key as upstream stores it (PKCS#1 or SEC1 DER).
    stored_der: Vec<u8>,
    pem_tag: &'static str,
}

/// A key that could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The random source or the crypto library failed.
    #[error("generating a {0} key failed")]
    Generate(&'static str),
    /// The file is not a PEM private key kubeadm can use.
    #[error("not an RSA or ECDSA private key in PEM form ({0})")]
    Parse(String),
}

impl PrivateKey {
    /// Generates a new key.
    pub fn generate(alg: EncryptionAlgorithm) -> Result<Self, KeyError> {
        let fail = || KeyError::Generate(alg.as_str());
        match alg {
            EncryptionAlgorithm::Rsa2048
            | EncryptionAlgorithm::Rsa3072
            | EncryptionAlgorithm::Rsa4096 => {
                let size = match alg {
                    EncryptionAlgorithm::Rsa2048 => KeySize::Rsa2048,
                    EncryptionAlgorithm::Rsa3072 => KeySize::Rsa3072,
                    _ => KeySize::Rsa4096,
                };
                let key = aws_lc_rs::rsa::KeyPair::generate(size).map_err(|_| fail())?;
                let pkcs8 =
                    AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key).map_err(|_| fail())?;
                let pkcs1 = pkcs1_from_pkcs8(pkcs8.as_ref()).ok_or_else(fail)?;
                Self::from_der(&pkcs1, "RSA PRIVATE KEY").map_err(|_| fail())
            }
            EncryptionAlgorithm::EcdsaP256 | EncryptionAlgorithm::EcdsaP384 => {
                let curve = if alg == EncryptionAlgorithm::EcdsaP256 {
                    &ECDSA_P256_SHA256_ASN1_SIGNING
                } else {
                    &ECDSA_P384_SHA384_ASN1_SIGNING
                };
                let key = EcdsaKeyPair::generate(curve).map_err(|_| fail())?;
                let sec1 = AsDer::<aws_lc_rs::encoding::EcPrivateKeyRfc5915Der>::as_der(
                    &key.private_key(),
                )
                .map_err(|_| fail())?;
                let _ = key.public_key();
                Self::from_der(sec1.as_ref(), "EC PRIVATE KEY").map_err(|_| fail())
            }
        }
    }

    fn from_der(der: &[u8], pem_tag: &'static str) -> Result<Self, KeyError> {
        let pair = KeyPair::try_from(der).map_err(|e| KeyError::Parse(e.to_string()))?;
        Ok(PrivateKey {
            pair,
            stored_der: der.to_vec(),
            pem_tag,
        })
    }

    /// Reads a PEM private key (PKCS#1, SEC1 or PKCS#8).
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let block = pem::parse(text).map_err(|e| KeyError::Parse(e.to_string()))?;
        let tag = match block.tag() {
            "RSA PRIVATE KEY" => "RSA PRIVATE KEY",
            "EC PRIVATE KEY" => "EC PRIVATE KEY",
            "PRIVATE KEY" => "PRIVATE KEY",
            other => return Err(KeyError::Parse(format!("unexpected PEM block {other:?}"))),
        };
        Self::from_der(block.contents(), tag)
    }

    /// The key in PEM, as upstream writes it.
    pub fn to_pem(&self) -> String {
        super::encode_pem(self.pem_tag, &self.stored_der)
    }

    /// The public key as a PKIX `PUBLIC KEY` PEM block (`sa.pub`).
    pub fn public_key_pem(&self) -> String {
        super::encode_pem("PUBLIC KEY", &self.public_key_der())
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// The key for signing with rcgen.
    pub fn pair(&self) -> &KeyPair {
        &self.pair
    }
}

/// Reads one DER TLV at the start of `data`: (tag, content, rest).
pub(crate) fn der_tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *data.first()?;
    let first = *data.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *data.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let content = data.get(hdr..hdr + len)?;
    Some((tag, content, &data[hdr + len..]))
}

/// Takes the PKCS#1 RSAPrivateKey out of a PKCS#8 PrivateKeyInfo.
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Option<Vec<u8>> {
    let (0x30, body, _) = der_tlv(pkcs8)? else {
        return None;
    };
    let (0x02, _, rest) = der_tlv(body)? else {
        return None;
    };
    let (0x30, _, rest) = der_tlv(rest)? else {
        return None;
    };
    let (0x04, key, _) = der_tlv(rest)? else {
        return None;
    };
    Some(key.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_use_upstream_pem_types_and_round_trip() {
        for (alg, tag) in [
            (EncryptionAlgorithm::Rsa2048, "RSA PRIVATE KEY"),
            (EncryptionAlgorithm::EcdsaP256, "EC PRIVATE KEY"),
            (EncryptionAlgorithm::EcdsaP384, "EC PRIVATE KEY"),
        ] {
            let k = PrivateKey::generate(alg).unwrap();
            let pem_text = k.to_pem();
            assert!(
                pem_text.starts_with(&format!("-----BEGIN {tag}-----")),
                "{alg:?}"
            );
            let back = PrivateKey::from_pem(&pem_text).unwrap();
            assert_eq!(back.public_key_der(), k.public_key_der());
            assert!(k.public_key_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert!(PrivateKey::from_pem("not a key").is_err());
        let cert_block = pem::encode(&pem::Pem::new("CERTIFICATE", vec![1, 2, 3]));
        assert!(PrivateKey::from_pem(&cert_block).is_err());
    }
}

//! The certificate key that protects the control-plane certificates uploaded to the
//! `kubeadm-certs` Secret (`init --upload-certs`, `join --control-plane --certificate-key`).

/// Bytes in a certificate key: an AES-256 key.
pub const CERTIFICATE_KEY_BYTES: usize = 32;

/// Makes a new certificate key: 32 random bytes, hex encoded, as upstream prints it.
pub fn create_certificate_key() -> anyhow::Result<String> {
    let mut key = [0u8; CERTIFICATE_KEY_BYTES];
    getrandom::fill(&mut key)
        .map_err(|e| anyhow::anyhow!("reading random bytes for the certificate key: {e}"))?;
    Ok(key.iter().map(|b| format!("{b:02x}")).collect())
}

/// The Secret the certificates are uploaded to.
pub const SECRET_NAME: &str = "kubeadm-certs";
/// How long the uploaded certificates live (the owner token's TTL).
pub const CERT_TOKEN_TTL_SECS: i64 = 2 * 3600;

/// Decodes a certificate key (64 hex digits); the key itself never appears in the error.
pub fn decode_key(hex: &str) -> anyhow::Result<[u8; CERTIFICATE_KEY_BYTES]> {
    let bytes = hex.as_bytes();
    if bytes.len() != CERTIFICATE_KEY_BYTES * 2 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        anyhow::bail!(
            "the certificate key must be {} hexadecimal characters (32 bytes); create one with 'kubeadm certs certificate-key'",
            CERTIFICATE_KEY_BYTES * 2
        );
    }
    let mut key = [0u8; CERTIFICATE_KEY_BYTES];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).expect("checked hex");
    }
    Ok(key)
}

/// AES-256-GCM as upstream's `cryptoutil.EncryptBytes`: a random 12-byte nonce followed by
/// the sealed data and its tag.
pub fn encrypt(data: &[u8], key: &[u8; CERTIFICATE_KEY_BYTES]) -> anyhow::Result<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
    let k = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| anyhow::anyhow!("an AES-256 key"))?,
    );
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)
        .map_err(|e| anyhow::anyhow!("reading random bytes for a nonce: {e}"))?;
    let mut sealed = data.to_vec();
    k.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::empty(),
        &mut sealed,
    )
    .map_err(|_| anyhow::anyhow!("encrypting a certificate"))?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    Ok(out)
}

/// The inverse of [`encrypt`]; a wrong key is an error that says so.
pub fn decrypt(data: &[u8], key: &[u8; CERTIFICATE_KEY_BYTES]) -> anyhow::Result<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
    if data.len() < NONCE_LEN {
        anyhow::bail!("the encrypted data is too short");
    }
    let k = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| anyhow::anyhow!("an AES-256 key"))?,
    );
    let (nonce, sealed) = data.split_at(NONCE_LEN);
    let mut buf = sealed.to_vec();
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("a nonce"))?;
    let plain = k
        .open_in_place(nonce, Aad::empty(), &mut buf)
        .map_err(|_| anyhow::anyhow!("the certificates cannot be decrypted with this certificate key (wrong or expired key?)"))?;
    Ok(plain.to_vec())
}

/// One file taken from the `kubeadm-certs` Secret.
pub struct DownloadedFile {
    /// Where it goes on this node.
    pub path: std::path::PathBuf,
    /// Its content, decrypted.
    pub content: Vec<u8>,
    /// A private key by its name (written 0600).
    pub secret: bool,
    /// What is wrong with the content, when it is not the PEM its name says.
    pub warning: Option<String>,
}

/// The most one file of the Secret may hold: a certificate bundle or a key is a few KiB.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Opens the `kubeadm-certs` Secret: each of `wanted` (data key, path) that the Secret
/// holds is base64-decoded, decrypted with the certificate key, and checked to be a PEM
/// certificate, private key or public key as its name says (a warning when not, as
/// upstream does not check). Absent or empty entries are skipped (an external CA keeps its
/// key); an entry that is not a string, not base64, larger than a key or certificate can
/// be, or does not decrypt is an error naming it.
pub fn open_secret(
    secret: &serde_json::Value,
    key: &[u8; CERTIFICATE_KEY_BYTES],
    wanted: &[(String, std::path::PathBuf)],
) -> anyhow::Result<Vec<DownloadedFile>> {
    use anyhow::Context;
    use base64::Engine;
    let data = secret["data"]
        .as_object()
        .with_context(|| format!("the {SECRET_NAME} Secret has no data"))?;
    let mut out = Vec::new();
    for (name, path) in wanted {
        let Some(value) = data.get(name) else {
            continue;
        };
        let b64 = value
            .as_str()
            .with_context(|| format!("{SECRET_NAME} Secret: {name} is not a string"))?;
        if b64.len() > MAX_FILE_BYTES * 2 {
            anyhow::bail!(
                "{SECRET_NAME} Secret: {name} is larger than a certificate or key can be"
            );
        }
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .with_context(|| format!("{SECRET_NAME} Secret: {name} is not base64"))?;
        if sealed.is_empty() {
            continue;
        }
        let content = decrypt(&sealed, key).with_context(|| format!("decrypting {name}"))?;
        let expected = if name.ends_with(".crt") {
            "CERTIFICATE"
        } else if name.ends_with(".pub") {
            "PUBLIC KEY"
        } else {
            "PRIVATE KEY"
        };
        // Upstream writes whatever decrypts; what is not the PEM its name says is written
        // too, with a warning naming it (the certificate key's holder made it).
        let blocks = ::pem::parse_many(&content)
            .ok()
            .filter(|b| !b.is_empty() && b.iter().all(|b| b.tag().ends_with(expected)));
        let warning = match &blocks {
            None => Some(format!(
                "[WARNING {SECRET_NAME}]: {name} decrypts to something that is not a PEM {expected}; it is written as upstream writes it, and what reads it will fail"
            )),
            Some(blocks)
                if expected == "CERTIFICATE"
                    && blocks
                        .iter()
                        .any(|b| crate::pki::public_key_pin(b.contents()).is_err()) =>
            {
                Some(format!(
                    "[WARNING {SECRET_NAME}]: {name} holds a certificate that does not parse; it is written as upstream writes it, and what reads it will fail"
                ))
            }
            Some(_) => None,
        };
        out.push(DownloadedFile {
            path: path.clone(),
            content,
            secret: expected == "PRIVATE KEY",
            warning,
        });
    }
    Ok(out)
}

/// The files a joining control-plane node downloads: (secret key, path on this node).
pub fn certs_to_transfer(
    cfg: &crate::config::InitConfiguration,
) -> Vec<(String, std::path::PathBuf)> {
    let dir = &cfg.cluster.certificates_dir;
    let mut out: Vec<(String, std::path::PathBuf)> = [
        "ca.crt",
        "ca.key",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "sa.key",
        "sa.pub",
    ]
    .iter()
    .map(|n| (n.to_string(), dir.join(n)))
    .collect();
    match &cfg.cluster.etcd {
        crate::config::Etcd::Local(_) => {
            for n in ["etcd/ca.crt", "etcd/ca.key"] {
                out.push((n.replace('/', "-"), dir.join(n)));
            }
        }
        crate::config::Etcd::External(e) => {
            for (name, p) in [
                ("external-etcd-ca.crt", &e.ca_file),
                ("external-etcd.crt", &e.cert_file),
                ("external-etcd.key", &e.key_file),
            ] {
                if !p.as_os_str().is_empty() {
                    out.push((name.to_string(), p.clone()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trip_and_wrong_key() {
        let key = decode_key(&create_certificate_key().unwrap()).unwrap();
        let sealed = encrypt(b"secret pem", &key).unwrap();
        assert_eq!(sealed.len(), 12 + 10 + 16);
        assert_eq!(decrypt(&sealed, &key).unwrap(), b"secret pem");
        let other = decode_key(&create_certificate_key().unwrap()).unwrap();
        assert!(decrypt(&sealed, &other)
            .unwrap_err()
            .to_string()
            .contains("cannot be decrypted"));
        assert!(decode_key("abc").is_err());
    }

    #[test]
    fn certificate_key_is_64_hex_digits_and_random() {
        let a = create_certificate_key().unwrap();
        let b = create_certificate_key().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}

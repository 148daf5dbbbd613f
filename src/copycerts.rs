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

#[cfg(test)]
mod tests {
    use super::*;

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

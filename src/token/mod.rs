//! Bootstrap tokens: `[a-z0-9]{6}.[a-z0-9]{16}`, an id and a secret, as in
//! `k8s.io/cluster-bootstrap`.

use std::fmt;

/// Characters a bootstrap token is made of.
const TOKEN_CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// Length of the public id part.
pub const TOKEN_ID_LEN: usize = 6;
/// Length of the secret part.
pub const TOKEN_SECRET_LEN: usize = 16;

/// A bootstrap token. Its `Display` shows the whole token, so only show it where upstream
/// prints it (the join command, `token create`); [`BootstrapToken::id`] is safe to log.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    id: String,
    secret: String,
}

/// A token string that does not have the bootstrap token format.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the bootstrap token {shown:?} was not of the form \"[a-z0-9]{{6}}.[a-z0-9]{{16}}\"")]
pub struct BadTokenFormat {
    // Only the id-like prefix: the rest may be a secret.
    shown: String,
}

impl BootstrapToken {
    /// Parses `abcdef.0123456789abcdef`.
    ///
    /// ```
    /// use kubeadm::token::BootstrapToken;
    /// let t = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
    /// assert_eq!(t.id(), "abcdef");
    /// assert!(BootstrapToken::parse("ABCDEF.0123456789abcdef").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, BadTokenFormat> {
        let ok_part = |s: &str, n: usize| {
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        };
        match text.split_once('.') {
            Some((id, secret))
                if ok_part(id, TOKEN_ID_LEN) && ok_part(secret, TOKEN_SECRET_LEN) =>
            {
                Ok(BootstrapToken {
                    id: id.to_string(),
                    secret: secret.to_string(),
                })
            }
            _ => Err(BadTokenFormat {
                shown: match text.split_once('.') {
                    Some((id, _)) => format!("{id}.<hidden>"),
                    None => "<hidden>".to_string(),
                },
            }),
        }
    }

    /// A new random token.
    pub fn generate() -> anyhow::Result<Self> {
        Ok(BootstrapToken {
            id: random_chars(TOKEN_ID_LEN)?,
            secret: random_chars(TOKEN_SECRET_LEN)?,
        })
    }

    /// The public id (`abcdef`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret part.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Display for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.id, self.secret)
    }
}

impl fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BootstrapToken({}.<secret>)", self.id)
    }
}

/// Uniformly random characters from [`TOKEN_CHARS`] (rejection sampling, no modulo bias).
fn random_chars(n: usize) -> anyhow::Result<String> {
    let limit = 256 - (256 % TOKEN_CHARS.len());
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 32];
    while out.len() < n {
        getrandom::fill(&mut buf)
            .map_err(|e| anyhow::anyhow!("reading random bytes for a token: {e}"))?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < n {
                out.push(TOKEN_CHARS[b as usize % TOKEN_CHARS.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = BootstrapToken::generate().unwrap();
        let b = BootstrapToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(BootstrapToken::parse(&a.to_string()).unwrap(), a);
        assert_eq!(a.id().len(), 6);
        assert_eq!(a.secret().len(), 16);
    }

    #[test]
    fn bad_formats_are_refused_without_echoing_the_secret() {
        for bad in [
            "abcdef.0123456789abcde",
            "abcdef0123456789abcdef",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdefg",
            "abcdef.0123456789abcdef.x",
            "",
        ] {
            let e = BootstrapToken::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("0123456789"), "{e}");
        }
        let e = BootstrapToken::parse("abcdef.0123456789abcdeX").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the bootstrap token \"abcdef.<hidden>\" was not of the form \"[a-z0-9]{6}.[a-z0-9]{16}\""
        );
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let t = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        assert_eq!(format!("{t:?}"), "BootstrapToken(abcdef.<secret>)");
    }
}

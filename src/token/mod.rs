//! Bootstrap tokens: `[a-z0-9]{6}.[a-z0-9]{16}`, an id and a secret, as in
//! `k8s.io/cluster-bootstrap`.

use std::fmt;

/// Characters a bootstrap token is made of.
const TOKEN_CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// Length of the public id part.
pub const TOKEN_ID_LEN: usize = 6;
/// Length of the secret part.
pub const TOKEN_SECRET_LEN: usize = 16;
/// The group kubeadm's bootstrap tokens authenticate as unless their `groups` say
/// otherwise (upstream's `NodeBootstrapTokenAuthGroup`); the RBAC rules that let a node
/// join (reading kubeadm-config, kubelet-config and kube-proxy, posting its CSR) name it.
pub const NODE_BOOTSTRAP_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";

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
    fn ttl_flags_read_as_upstream_uses_them() {
        use std::time::Duration;
        assert_eq!(parse_ttl_flag("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl_flag("0"), Ok(Duration::ZERO));
        // Never expires, as a TTL of 0 does.
        assert_eq!(parse_ttl_flag("-5s"), Ok(Duration::ZERO));
        let e = parse_ttl_flag("99999999999h").unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        assert!(parse_ttl_flag("5").is_err());
    }

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

/// The groups a token authenticates as by default (kubeadm's join token).
pub const DEFAULT_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
/// The usages a token gets by default.
pub const DEFAULT_USAGES: [&str; 2] = ["signing", "authentication"];
/// The Secret type of bootstrap tokens.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";

/// Reads a token TTL flag (`init --token-ttl`, `token create --ttl`) as upstream's flag
/// parser does: any Go duration, a negative one included. A TTL of zero or less makes a
/// token that never expires (upstream writes an expiration into the token's Secret only
/// for a positive TTL), so it reads as zero, the TTL that says so.
pub fn parse_ttl_flag(text: &str) -> Result<std::time::Duration, String> {
    let ttl = crate::duration::parse_go_duration(text)?;
    Ok(if ttl.is_positive() {
        ttl.unsigned_abs()
    } else {
        std::time::Duration::ZERO
    })
}

/// A bootstrap token with the settings its Secret carries.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    /// The token.
    pub token: BootstrapToken,
    /// `description`.
    pub description: String,
    /// When it expires; `None` never.
    pub expires: Option<time::OffsetDateTime>,
    /// `usages` (`signing`, `authentication`).
    pub usages: Vec<String>,
    /// `auth-extra-groups`.
    pub groups: Vec<String>,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .expect("zero nanoseconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a formattable time")
}

impl TokenSpec {
    /// Checks usages and groups as upstream validates them.
    pub fn validate(&self) -> anyhow::Result<()> {
        for u in &self.usages {
            if !DEFAULT_USAGES.contains(&u.as_str()) {
                anyhow::bail!(
                    "invalid bootstrap token usage string: {u}, valid usage options: authentication, signing"
                );
            }
        }
        for g in &self.groups {
            let rest = g.strip_prefix("system:bootstrappers:").unwrap_or("");
            let ok = !rest.is_empty()
                && rest.len() <= 256
                && rest.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-'
                })
                && !rest.ends_with([':', '-']);
            if !ok {
                anyhow::bail!(
                    "bootstrap group {g:?} is invalid (must match \\Asystem:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]\\z)"
                );
            }
        }
        Ok(())
    }

    /// The `kube-system/bootstrap-token-<id>` Secret, as upstream writes it.
    pub fn to_secret(&self) -> serde_json::Value {
        let mut data: std::collections::BTreeMap<String, Vec<u8>> = [
            ("token-id".to_string(), self.token.id().as_bytes().to_vec()),
            (
                "token-secret".to_string(),
                self.token.secret().as_bytes().to_vec(),
            ),
        ]
        .into();
        if !self.description.is_empty() {
            data.insert("description".into(), self.description.clone().into_bytes());
        }
        if let Some(e) = self.expires {
            data.insert("expiration".into(), rfc3339(e).into_bytes());
        }
        for u in &self.usages {
            data.insert(format!("usage-bootstrap-{u}"), b"true".to_vec());
        }
        if !self.groups.is_empty() {
            data.insert(
                "auth-extra-groups".into(),
                self.groups.join(",").into_bytes(),
            );
        }
        let mut secret = crate::objects::opaque_secret(
            "kube-system",
            &format!("bootstrap-token-{}", self.token.id()),
            data,
            None,
        );
        secret.type_ = Some(SECRET_TYPE.into());
        crate::objects::to_value(&secret)
    }

    /// Reads a token Secret back; `None` when it is not a well-formed bootstrap token.
    pub fn from_secret(secret: &serde_json::Value) -> Option<TokenSpec> {
        use base64::Engine;
        if secret["type"].as_str() != Some(SECRET_TYPE) {
            return None;
        }
        let get = |k: &str| -> Option<String> {
            let b = secret["data"][k].as_str()?;
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).ok()?).ok()
        };
        let token =
            BootstrapToken::parse(&format!("{}.{}", get("token-id")?, get("token-secret")?))
                .ok()?;
        let expires = get("expiration").and_then(|e| {
            time::OffsetDateTime::parse(&e, &time::format_description::well_known::Rfc3339).ok()
        });
        let mut usages: Vec<String> = secret["data"]
            .as_object()?
            .keys()
            .filter_map(|k| k.strip_prefix("usage-bootstrap-"))
            .filter(|u| get(&format!("usage-bootstrap-{u}")).as_deref() == Some("true"))
            .map(str::to_string)
            .collect();
        usages.sort();
        Some(TokenSpec {
            token,
            description: get("description").unwrap_or_default(),
            expires,
            usages,
            groups: get("auth-extra-groups")
                .map(|g| g.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
        })
    }

    /// The `kubeadm token list` row: token, TTL, expiry, usages, description, groups.
    pub fn list_row(&self, now: time::OffsetDateTime) -> String {
        let (ttl, expires) = match self.expires {
            Some(e) => (short_human_duration(e - now), rfc3339(e)),
            None => ("<forever>".to_string(), "<never>".to_string()),
        };
        let description = if self.description.is_empty() {
            "<none>"
        } else {
            &self.description
        };
        let groups = if self.groups.is_empty() {
            "<none>".to_string()
        } else {
            self.groups.join(",")
        };
        format!(
            "{}\t{ttl}\t{expires}\t{}\t{description}\t{groups}",
            self.token,
            self.usages.join(",")
        )
    }
}

/// Go's `duration.ShortHumanDuration`.
pub fn short_human_duration(d: time::Duration) -> String {
    let s = d.whole_seconds();
    if s < -1 {
        "<invalid>".into()
    } else if s < 0 {
        "0s".into()
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 24 * 3600 {
        format!("{}h", s / 3600)
    } else if s < 365 * 24 * 3600 {
        format!("{}d", s / (24 * 3600))
    } else {
        format!("{}y", s / (365 * 24 * 3600))
    }
}

#[cfg(test)]
mod spec_tests {
    use super::*;

    #[test]
    fn secret_round_trip() {
        let spec = TokenSpec {
            token: BootstrapToken::parse("abcdef.0123456789abcdef").unwrap(),
            description: "d".into(),
            expires: Some(time::macros::datetime!(2030-01-02 03:04:05 UTC)),
            usages: vec!["authentication".into(), "signing".into()],
            groups: vec![DEFAULT_GROUP.into()],
        };
        let s = spec.to_secret();
        assert_eq!(s["metadata"]["name"], "bootstrap-token-abcdef");
        assert_eq!(s["data"]["expiration"], "MjAzMC0wMS0wMlQwMzowNDowNVo=");
        let back = TokenSpec::from_secret(&s).unwrap();
        assert_eq!(back.token, spec.token);
        assert_eq!(back.usages, spec.usages);
        assert_eq!(back.groups, spec.groups);
        let now = time::macros::datetime!(2030-01-01 03:04:10 UTC);
        assert_eq!(
            back.list_row(now),
            "abcdef.0123456789abcdef\t23h\t2030-01-02T03:04:05Z\tauthentication,signing\td\tsystem:bootstrappers:kubeadm:default-node-token"
        );
    }

    #[test]
    fn bad_usages_and_groups() {
        let mut spec = TokenSpec {
            token: BootstrapToken::parse("abcdef.0123456789abcdef").unwrap(),
            description: String::new(),
            expires: None,
            usages: vec!["fly".into()],
            groups: vec![],
        };
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("invalid bootstrap token usage string: fly"));
        spec.usages = vec![];
        spec.groups = vec!["system:masters".into()];
        assert!(spec.validate().is_err());
    }
}

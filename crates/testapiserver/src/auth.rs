//! Authentication as kube-apiserver does it with client certificates, bootstrap tokens and
//! anonymous access enabled: a verified client certificate names the user (CN) and groups
//! (O); a bearer token must be a valid bootstrap token or the request is refused (401);
//! a request with neither is `system:anonymous`.

use base64::Engine;
use serde_json::Value;

use crate::resources;
use crate::status::ApiError;
use crate::store::Store;

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User name.
    pub name: String,
    /// Groups, `system:authenticated` or `system:unauthenticated` included.
    pub groups: Vec<String>,
}

impl User {
    /// The anonymous user.
    pub fn anonymous() -> Self {
        User {
            name: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
        }
    }
}

/// The user of a verified client certificate (DER).
pub fn from_certificate(der: &[u8]) -> Option<User> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())?
        .to_string();
    let mut groups: Vec<String> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    groups.push("system:authenticated".into());
    Some(User { name, groups })
}

fn is_token(t: &str) -> Option<(&str, &str)> {
    let (id, secret) = t.split_once('.')?;
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (ok(id, 6) && ok(secret, 16)).then_some((id, secret))
}

/// A Secret's `data` value, decoded.
pub fn secret_value(secret: &Value, key: &str) -> Option<String> {
    let b64 = secret.get("data")?.get(key)?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// Whether a bootstrap token Secret has expired (`expiration`, RFC 3339).
pub fn expired(secret: &Value) -> bool {
    match secret_value(secret, "expiration") {
        None => false,
        Some(t) => {
            match time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339) {
                Ok(when) => when <= time::OffsetDateTime::now_utc(),
                // An expiration that cannot be read is treated as expired, as upstream does.
                Err(_) => true,
            }
        }
    }
}

/// The bootstrap token Secret of `id`, when it is one.
pub fn token_secret(store: &Store, id: &str) -> Option<Value> {
    let secrets = resources::find("", "v1", "secrets")?;
    let s = store
        .get(secrets, "kube-system", &format!("bootstrap-token-{id}"))
        .ok()?;
    (s.get("type").and_then(Value::as_str) == Some("bootstrap.kubernetes.io/token")).then_some(s)
}

/// The user of a bearer token, or 401.
pub fn from_bearer(store: &Store, token: &str) -> Result<User, ApiError> {
    let (id, secret) = is_token(token).ok_or_else(ApiError::unauthorized)?;
    let s = token_secret(store, id).ok_or_else(ApiError::unauthorized)?;
    if secret_value(&s, "token-id").as_deref() != Some(id)
        || secret_value(&s, "token-secret").as_deref() != Some(secret)
        || secret_value(&s, "usage-bootstrap-authentication").as_deref() != Some("true")
        || expired(&s)
    {
        return Err(ApiError::unauthorized());
    }
    let mut groups = vec!["system:bootstrappers".to_string()];
    if let Some(extra) = secret_value(&s, "auth-extra-groups") {
        for g in extra.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            // Only bootstrapper groups may be added, as the real authenticator insists.
            if !g.starts_with("system:bootstrappers:") {
                return Err(ApiError::unauthorized());
            }
            groups.push(g.to_string());
        }
    }
    groups.push("system:authenticated".into());
    Ok(User {
        name: format!("system:bootstrap:{id}"),
        groups,
    })
}

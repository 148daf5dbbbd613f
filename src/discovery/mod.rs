//! How a joining node learns about the cluster and comes to trust it, as upstream does it.
//!
//! Token discovery: fetch `kube-public/cluster-info` without trusting TLS; require the
//! `jws-kubeconfig-<token id>` signature and check it against the token (so only someone
//! holding the token could have produced that content); require the CA in it to match one
//! of the pinned public keys; fetch again over TLS verified by that CA and require the same
//! content. File discovery: a kubeconfig file (or HTTPS URL) with the cluster's details.

use std::time::{Duration, Instant};

use base64::Engine;

use crate::client::health::{fetch, Trust};
use crate::host::Host;
use crate::token::BootstrapToken;

const CLUSTER_INFO_PATH: &str = "/api/v1/namespaces/kube-public/configmaps/cluster-info";

/// What discovery yields: the cluster's API server and CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `https://host:port`.
    pub server: String,
    /// The cluster CA (PEM).
    pub ca_pem: Vec<u8>,
}

/// Why discovery refused to trust what it found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiscoveryError {
    /// No pin and no explicit opt-out.
    #[error("using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue")]
    NoPins,
    /// A pin in the wrong format.
    #[error("invalid discovery token CA certificate hash {0:?}: expected \"sha256:\" followed by 64 hexadecimal digits")]
    BadPin(String),
    /// Ctrl-C or SIGTERM while waiting for cluster-info.
    #[error("interrupted by {0} while waiting for cluster-info")]
    Interrupted(&'static str),
    /// cluster-info could not be fetched in time.
    #[error("couldn't fetch cluster-info from {endpoint} within {timeout}: {last}")]
    Unreachable {
        /// The API server.
        endpoint: String,
        /// The discovery timeout.
        timeout: String,
        /// The last failure.
        last: String,
    },
    /// No signature for this token: an unknown or expired token.
    #[error("token id {0:?} is invalid for this cluster or it has expired. Use \"kubeadm token create\" on the control-plane node to create a new valid token")]
    UnknownToken(String),
    /// The signature does not match: the content was not signed with this token.
    #[error("failed to verify JWS signature of received cluster info object, can't trust this API Server")]
    BadSignature,
    /// The CA matches no pin.
    #[error("cluster CA found in cluster-info ConfigMap is invalid: none of the public keys {0:?} are pinned")]
    PinMismatch(String),
    /// The verified connection answered differently.
    #[error("the cluster-info fetched over a verified connection differs from the one first fetched: can't trust this API Server")]
    Changed,
    /// The second, verified fetch failed (the server's certificate is not from the CA).
    #[error("couldn't fetch cluster-info over a connection verified with the cluster CA: {0}")]
    SecureFetch(String),
    /// cluster-info is not what it should be.
    #[error("the cluster-info ConfigMap is malformed: {0}")]
    Malformed(String),
}

/// Upstream's detached JWS: HS256 over the content with the token secret, `kid` the token
/// id, payload left out: `<header>..<signature>`.
pub fn detached_signature(content: &str, token_id: &str, token_secret: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(format!("{{\"alg\":\"HS256\",\"kid\":\"{token_id}\"}}"));
    let input = format!("{header}.{}", b64.encode(content));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, token_secret.as_bytes());
    let sig = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{header}..{}", b64.encode(sig.as_ref()))
}

/// Whether a detached JWS is the one the token gives for the content.
pub fn signature_is_valid(jws: &str, content: &str, token: &BootstrapToken) -> bool {
    let expected = detached_signature(content, token.id(), token.secret());
    // Constant-time comparison: the signature is derived from the token secret.
    expected.len() == jws.len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), jws.as_bytes())
            .is_ok()
}

/// The server and CA of the current (or first) cluster in a kubeconfig text. Read
/// loosely: cluster-info's kubeconfig has `contexts: null` and `users: null`.
pub fn cluster_of_kubeconfig(text: &str) -> Result<ClusterInfo, DiscoveryError> {
    let doc: serde_yaml_ng::Value = crate::yaml::from_untrusted(text, "its kubeconfig")
        .map_err(|e| DiscoveryError::Malformed(format!("{e:#}")))?;
    let clusters = doc["clusters"]
        .as_sequence()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| DiscoveryError::Malformed("its kubeconfig has no cluster".into()))?;
    let current = doc["current-context"].as_str().unwrap_or("");
    let context = doc["contexts"]
        .as_sequence()
        .and_then(|cs| cs.iter().find(|c| c["name"].as_str() == Some(current)));
    // A kubeconfig with credentials is the TLS bootstrap kubeconfig as it stands, and its
    // current context must exist: upstream's join refuses it since #138853 (it used to
    // crash). One without credentials (cluster-info's) only lends its cluster.
    let has_credentials = doc["users"].as_sequence().is_some_and(|users| {
        users
            .iter()
            .any(|u| u["user"].as_mapping().is_some_and(|m| !m.is_empty()))
    });
    if has_credentials && context.is_none() {
        return Err(DiscoveryError::Malformed(
            "its kubeconfig has credentials but its current-context is not among its contexts: set current-context to the name of one of its contexts".into(),
        ));
    }
    let wanted = context.and_then(|c| c["context"]["cluster"].as_str());
    let cluster = wanted
        .and_then(|w| clusters.iter().find(|c| c["name"].as_str() == Some(w)))
        .unwrap_or(&clusters[0]);
    let server = cluster["cluster"]["server"].as_str().ok_or_else(|| {
        DiscoveryError::Malformed("its kubeconfig's cluster has no server".into())
    })?;
    let ca = cluster["cluster"]["certificate-authority-data"]
        .as_str()
        .ok_or_else(|| {
            DiscoveryError::Malformed("its kubeconfig has no certificate-authority-data".into())
        })?;
    let ca_pem = base64::engine::general_purpose::STANDARD
        .decode(ca.trim())
        .map_err(|e| {
            DiscoveryError::Malformed(format!("its certificate-authority-data is not base64: {e}"))
        })?;
    Ok(ClusterInfo {
        server: server.to_string(),
        ca_pem,
    })
}

/// One line per CA certificate discovery found: its subject CN, public-key pin and expiry
/// with the time left, what `join` prints at `-v=1` and above as upstream does since #137102
/// (so the CA the node is about to trust can be checked by eye). A certificate that cannot
/// be read is said to be so.
pub fn ca_summary(ca_pem: &[u8], now: std::time::SystemTime) -> Vec<String> {
    let blocks = match ::pem::parse_many(ca_pem) {
        Ok(b) => b,
        Err(e) => return vec![format!("the discovered CA is not PEM: {e}")],
    };
    if !blocks.iter().any(|b| b.tag() == "CERTIFICATE") {
        return vec!["the discovered CA holds no PEM certificate".into()];
    }
    blocks
        .iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| {
            let info = match crate::pki::CertInfo::parse(b.contents()) {
                Ok(i) => i,
                Err(e) => return format!("a discovered CA certificate is not readable: {e}"),
            };
            let pin = crate::pki::public_key_pin(b.contents()).unwrap_or_default();
            let left = match info.not_after.duration_since(now) {
                Ok(d) => format!(
                    "{} left",
                    crate::pki::renewal::short_human_duration(d.as_secs() as i64)
                ),
                Err(_) => "expired".to_string(),
            };
            format!(
                "CA certificate: CN={}, public key {pin}, expires {} ({left})",
                info.common_name,
                time::OffsetDateTime::from(info.not_after)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// How far apart this machine's clock and the API server's may be before the join warns.
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

/// The warning for an API server whose `Date` is more than a minute from this machine's
/// clock: certificates issued to the node would be "not yet valid" or expired to it.
pub fn clock_skew_warning(server_date: &str) -> Option<String> {
    let server = crate::client::health::parse_http_date(server_date)?;
    let local = time::OffsetDateTime::now_utc().unix_timestamp();
    let skew = (local - server).abs();
    (skew > MAX_CLOCK_SKEW_SECS).then(|| {
        format!(
            "[WARNING ClockSkew]: this machine's clock is {} {} the API server's (the server says {server_date}): certificates may look not yet valid or expired to one side, and the TLS bootstrap can fail. Synchronize the clocks (for example with chrony or systemd-timesyncd) before joining",
            crate::duration::format_duration(Duration::from_secs(skew as u64)),
            if local > server { "ahead of" } else { "behind" }
        )
    })
}

fn get_cluster_info(endpoint: &str, trust: Trust<'_>) -> Result<serde_json::Value, String> {
    let url = format!("https://{endpoint}{CLUSTER_INFO_PATH}");
    let answer = crate::client::health::fetch_answer(&url, trust, Duration::from_secs(10))?;
    if let Some(w) = answer.date.as_deref().and_then(clock_skew_warning) {
        crate::output::warn_once_as("ClockSkew", &w);
    }
    let (code, body) = (answer.code, answer.body);
    if code != 200 {
        let msg = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| body.trim().to_string());
        return Err(format!("HTTP {code}: {msg}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("not JSON: {e}"))
}

/// The pins of a CA bundle's certificates.
fn bundle_pins(ca_pem: &[u8]) -> Result<Vec<String>, DiscoveryError> {
    let blocks = ::pem::parse_many(ca_pem)
        .map_err(|e| DiscoveryError::Malformed(format!("its CA is not PEM: {e}")))?;
    blocks
        .iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| {
            crate::pki::public_key_pin(b.contents()).map_err(|e| {
                DiscoveryError::Malformed(format!("its CA certificate does not parse: {e}"))
            })
        })
        .collect()
}

/// The kubeconfig a `cluster-info` ConfigMap holds and the token's signature of it, when
/// the signer has made one yet.
pub fn cluster_info_contents(
    cm: &serde_json::Value,
    token_id: &str,
) -> Result<(String, Option<String>), String> {
    let content = cm["data"]["kubeconfig"]
        .as_str()
        .ok_or_else(|| "cluster-info has no kubeconfig".to_string())?
        .to_string();
    let key = format!("jws-kubeconfig-{token_id}");
    Ok((content, cm["data"][&key].as_str().map(str::to_string)))
}

/// What token discovery trusts of an unverified `cluster-info`: the kubeconfig signed
/// with the token (JWS), then its CA pinned by one of `pins` (unless verification is
/// skipped).
pub fn verify_cluster_info(
    content: &str,
    jws: &str,
    token: &BootstrapToken,
    pins: &[String],
    unsafe_skip_ca_verification: bool,
) -> Result<ClusterInfo, DiscoveryError> {
    if !signature_is_valid(jws, content, token) {
        return Err(DiscoveryError::BadSignature);
    }
    let info = cluster_of_kubeconfig(content)?;
    if !unsafe_skip_ca_verification {
        let found = bundle_pins(&info.ca_pem)?;
        if !found.iter().any(|f| pins.contains(f)) {
            return Err(DiscoveryError::PinMismatch(found.join(", ")));
        }
    }
    Ok(info)
}

/// Token discovery against `endpoint` (`host:port`).
pub fn token_discovery(
    endpoint: &str,
    token: &BootstrapToken,
    pins: &[String],
    unsafe_skip_ca_verification: bool,
    timeout: Duration,
    say: &mut dyn FnMut(String),
) -> Result<ClusterInfo, DiscoveryError> {
    if pins.is_empty() && !unsafe_skip_ca_verification {
        return Err(DiscoveryError::NoPins);
    }
    for p in pins {
        if !crate::config::join::valid_pin(p) {
            return Err(DiscoveryError::BadPin(p.clone()));
        }
    }
    let start = Instant::now();
    say(format!(
        "[discovery] Trying to connect to API Server \"{endpoint}\""
    ));
    let mut reported = false;
    // The signer may not have signed a fresh token yet, and the server may be starting:
    // both are retried until the discovery timeout.
    let (content, jws) = loop {
        let outcome = get_cluster_info(endpoint, Trust::Any)
            .and_then(|cm| cluster_info_contents(&cm, token.id()));
        match outcome {
            Ok((content, Some(jws))) => break (content, jws),
            Ok((_, None)) if start.elapsed() >= timeout => {
                return Err(DiscoveryError::UnknownToken(token.id().to_string()))
            }
            Err(last) if start.elapsed() >= timeout => {
                return Err(DiscoveryError::Unreachable {
                    endpoint: endpoint.to_string(),
                    timeout: crate::duration::format_duration(timeout),
                    last,
                })
            }
            Ok((_, None)) => {
                if !reported {
                    say(format!(
                        "[discovery] cluster-info has no signature for token id {:?} yet, will try again",
                        token.id()
                    ));
                    reported = true;
                }
            }
            Err(e) => {
                if !reported {
                    say(format!(
                        "[discovery] Failed to request cluster-info, will try again: {e}"
                    ));
                    reported = true;
                }
            }
        }
        crate::interrupt::sleep(Duration::from_millis(500))
            .map_err(|e| DiscoveryError::Interrupted(e.0))?;
    };
    let info = verify_cluster_info(&content, &jws, token, pins, unsafe_skip_ca_verification)?;
    say(format!(
        "[discovery] Cluster info signature and contents are valid and {}, will use API Server \"{endpoint}\"",
        if unsafe_skip_ca_verification { "no TLS pinning was specified" } else { "TLS certificate validates against pinned roots" }
    ));
    let secure =
        get_cluster_info(endpoint, Trust::Ca(&info.ca_pem)).map_err(DiscoveryError::SecureFetch)?;
    if secure["data"]["kubeconfig"].as_str() != Some(content.as_str()) {
        return Err(DiscoveryError::Changed);
    }
    Ok(info)
}

/// File discovery: a kubeconfig on the host (or at an `https://` URL) with the cluster's
/// server and CA.
pub fn file_discovery(host: &dyn Host, path: &str) -> anyhow::Result<ClusterInfo> {
    let text = if path.starts_with("https://") {
        let (code, body) = fetch(path, Trust::Any, Duration::from_secs(10))
            .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        if code != 200 {
            anyhow::bail!("{path}: HTTP {code}");
        }
        body
    } else {
        host.read_to_string(std::path::Path::new(path))
            .map_err(|e| anyhow::anyhow!("discovery file {path}: {e}"))?
    };
    cluster_of_kubeconfig(&text).map_err(|e| anyhow::anyhow!("discovery file {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors of the upstream bootstrap signer (kubernetes/cluster-bootstrap).
    const CONTENT: &str = "Hello from the other side. I must have called a thousand times.";

    #[test]
    fn a_discovery_kubeconfig_with_credentials_needs_its_current_context() {
        let ca = base64::engine::general_purpose::STANDARD.encode("CA");
        let file = |current: &str| {
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    server: https://192.0.2.1:6443\n    certificate-authority-data: {ca}\ncontexts:\n- name: boot\n  context:\n    cluster: k\n    user: u\ncurrent-context: {current}\nusers:\n- name: u\n  user:\n    token: abcdef.0123456789abcdef\n"
            )
        };
        assert_eq!(
            cluster_of_kubeconfig(&file("boot")).unwrap().server,
            "https://192.0.2.1:6443"
        );
        let err = cluster_of_kubeconfig(&file("gone"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("current-context is not among its contexts") && !err.contains("gone"),
            "{err}"
        );
        assert!(!err.contains("0123456789abcdef"), "{err}");
        // cluster-info's form (no contexts, no users) lends its cluster as before.
        let info = format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://192.0.2.1:6443\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n"
        );
        assert!(cluster_of_kubeconfig(&info).is_ok());
    }

    #[test]
    fn the_discovered_ca_is_summarized() {
        let key = crate::pki::PrivateKey::generate(crate::config::EncryptionAlgorithm::EcdsaP256)
            .unwrap();
        let der = crate::pki::new_ca_cert(
            "kubernetes",
            &key,
            std::time::Duration::from_secs(86400 * 3650),
        )
        .unwrap();
        let ca_pem = crate::pki::cert_pem(&der);
        let now = std::time::SystemTime::now();
        let lines = ca_summary(ca_pem.as_bytes(), now);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let pin = crate::pki::public_key_pin_pem(ca_pem.as_bytes()).unwrap();
        assert!(
            lines[0].starts_with(&format!(
                "CA certificate: CN=kubernetes, public key {pin}, expires 20"
            )),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with("left)"), "{}", lines[0]);
        let later = now + std::time::Duration::from_secs(200 * 365 * 86400);
        assert!(ca_summary(ca_pem.as_bytes(), later)[0].ends_with("(expired)"));
        assert!(ca_summary(b"not pem", now)[0].contains("no PEM certificate"));
    }

    #[test]
    fn a_skewed_server_clock_is_warned_of() {
        use crate::client::health::parse_http_date;
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("yesterday"), None);
        let now = time::OffsetDateTime::now_utc();
        let http = |t: time::OffsetDateTime| {
            let f = time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            );
            t.format(&f).unwrap()
        };
        assert_eq!(clock_skew_warning(&http(now)), None);
        assert_eq!(
            clock_skew_warning(&http(now - time::Duration::seconds(30))),
            None
        );
        let w = clock_skew_warning(&http(now - time::Duration::hours(2))).unwrap();
        assert!(
            w.starts_with("[WARNING ClockSkew]: this machine's clock is 2h0m"),
            "{w}"
        );
        assert!(w.contains("ahead of the API server's"), "{w}");
        let w = clock_skew_warning(&http(now + time::Duration::minutes(5))).unwrap();
        assert!(w.contains("behind the API server's"), "{w}");
    }

    #[test]
    fn upstream_signatures() {
        assert_eq!(
            detached_signature(CONTENT, "joshua", "my voice is my passcode"),
            "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8"
        );
        assert_eq!(
            detached_signature("", "joshua", "my voice is my passcode"),
            "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk"
        );
        assert_eq!(
            detached_signature(CONTENT, "joshua", ""),
            "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8"
        );
    }

    #[test]
    fn signature_check() {
        let t = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let good = detached_signature("x", "abcdef", "0123456789abcdef");
        assert!(signature_is_valid(&good, "x", &t));
        assert!(!signature_is_valid(&good, "y", &t));
        assert!(!signature_is_valid(&format!("{good}foo"), "x", &t));
    }

    #[test]
    fn pins_are_required_and_checked_for_format() {
        let t = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let mut say = |_: String| {};
        assert_eq!(
            token_discovery("127.0.0.1:1", &t, &[], false, Duration::ZERO, &mut say),
            Err(DiscoveryError::NoPins)
        );
        assert_eq!(
            token_discovery(
                "127.0.0.1:1",
                &t,
                &["sha256:zz".into()],
                false,
                Duration::ZERO,
                &mut say
            ),
            Err(DiscoveryError::BadPin("sha256:zz".into()))
        );
    }
}

//! Release labels (`stable`, `stable-1`, `stable-1.37`, `latest`, `latest-1.38`) resolved
//! as upstream's `KubernetesReleaseVersion` does: the label's file is fetched from the
//! release bucket (`https://dl.k8s.io/release/<label>.txt`) within 10 seconds; when it
//! cannot be fetched, this kubeadm's own version is used after two warnings, so an
//! air-gapped machine still gets a version. A fetched version of a newer minor than this
//! kubeadm's is replaced by the newest patch of this kubeadm's minor (`stable-1.37`).
//!
//! Test seam: the bucket's base can be replaced, in-process with [`set_release_url`] (as
//! upstream's tests replace its `kubeReleaseBucketURL` variable) and for a whole process
//! with the `KUBEADM_RS_RELEASE_URL` environment variable. Both exist for tests that stand
//! in for the release server; neither is an upstream option.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::client::health::{fetch_answer, Trust};

/// Where upstream publishes its release labels.
pub const RELEASE_URL: &str = "https://dl.k8s.io/release";

/// The environment variable that replaces [`RELEASE_URL`] (test seam, see the module).
pub const RELEASE_URL_ENV: &str = "KUBEADM_RS_RELEASE_URL";

/// How long a label's file may take to arrive, redirects included (upstream's
/// `getReleaseVersionTimeout`).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Redirects followed before giving up (Go's HTTP client follows ten).
const MAX_REDIRECTS: usize = 10;

/// How many times one resolution may meet a label: the label itself, and `stable-X.Y`
/// when the answer was of a newer minor. A server answering a newer minor again is an
/// error rather than a loop.
const MAX_LABEL_HOPS: usize = 3;

static RELEASE_URL_OVERRIDE: Mutex<Option<String>> = Mutex::new(None);

/// Versions already resolved in this process, by label: a command that loads its
/// configuration twice asks the server (and warns) once.
static RESOLVED: Mutex<BTreeMap<(String, String), String>> = Mutex::new(BTreeMap::new());

/// The root whose CA store the release bucket's certificate is checked against (set
/// under `--rootfs`); the machine's own store otherwise.
static TRUST_ROOT: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

/// Where Go's `crypto/x509` looks for a Linux machine's CA bundle, in its order (after
/// `SSL_CERT_FILE`).
const CA_BUNDLE_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Under `--rootfs`: the release bucket's certificate is checked against the root's CA
/// store, as upstream, which has changed root before it fetches a label.
pub fn set_trust_root(root: &std::path::Path) {
    *TRUST_ROOT.lock().unwrap_or_else(|p| p.into_inner()) = Some(root.to_path_buf());
}

/// The CA bundle of the `--rootfs` root, read inside it, when one is set.
fn root_ca_bundle() -> Option<Result<Vec<u8>, String>> {
    use crate::host::Host;
    let root = TRUST_ROOT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()?;
    let host = crate::host::RealHost::new(&root);
    let env = std::env::var("SSL_CERT_FILE").ok();
    let found = env
        .iter()
        .map(String::as_str)
        .chain(CA_BUNDLE_FILES.iter().copied())
        .find_map(|f| host.read(std::path::Path::new(f)).ok());
    Some(found.ok_or_else(|| {
        format!(
            "no CA store inside the root {} (looked for {})",
            root.display(),
            CA_BUNDLE_FILES.join(", ")
        )
    }))
}

/// Replaces the release bucket's base URL for this process (test seam; `None` restores
/// the environment's or upstream's).
pub fn set_release_url(url: Option<&str>) {
    *RELEASE_URL_OVERRIDE
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = url.map(str::to_string);
    RESOLVED.lock().unwrap_or_else(|p| p.into_inner()).clear();
}

/// The release bucket's base URL in use: [`set_release_url`]'s, else the environment's,
/// else upstream's.
pub fn release_url() -> String {
    if let Some(u) = RELEASE_URL_OVERRIDE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
    {
        return u;
    }
    std::env::var(RELEASE_URL_ENV)
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| RELEASE_URL.to_string())
}

/// `v1.37.1`-style versions as upstream's `kubeReleaseRegex` accepts them (no leading
/// zeros; a suffix of letters, digits, `-`, `_`, `.` and `+`), with the `v` added.
pub fn normalized_version(s: &str) -> Option<String> {
    let bare = s.strip_prefix('v').unwrap_or(s);
    let mut rest = bare;
    for i in 0..3 {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number = &rest[..end];
        if number.is_empty() || (number.len() > 1 && number.starts_with('0')) {
            return None;
        }
        rest = &rest[end..];
        if i < 2 {
            rest = rest.strip_prefix('.')?;
        }
    }
    if !rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
    {
        return None;
    }
    Some(format!("v{bare}"))
}

/// Whether `s` is a release label as upstream's `kubeReleaseLabelRegex` reads them:
/// `stable` or `latest`, then optionally `-<major>` and `.<minor>` (major 1-9, minor 1-99).
pub fn is_label(s: &str) -> bool {
    let mut rest = s;
    let mut words = 0;
    while let Some(r) = rest
        .strip_prefix("latest")
        .or_else(|| rest.strip_prefix("stable"))
    {
        rest = r;
        words += 1;
    }
    if words == 0 {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    let Some(r) = rest.strip_prefix('-') else {
        return false;
    };
    let mut chars = r.chars();
    if !matches!(chars.next(), Some('1'..='9')) {
        return false;
    }
    let minor = chars.as_str();
    if minor.is_empty() {
        return true;
    }
    let Some(m) = minor.strip_prefix('.') else {
        return false;
    };
    let b = m.as_bytes();
    matches!(b.len(), 1 | 2)
        && (b'1'..=b'9').contains(&b[0])
        && b[1..].iter().all(u8::is_ascii_digit)
}

/// Splits upstream's optional bucket prefix (`release/`, `ci/`, `ci-cross/`) from a
/// version or label.
fn split_bucket(s: &str) -> Option<(&str, &str)> {
    let (bucket, rest) = match s.split_once('/') {
        Some((b @ ("release" | "ci" | "ci-cross"), rest)) => (b, rest),
        Some(_) => return None,
        None => ("release", s),
    };
    let ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c));
    ok.then_some((bucket, rest))
}

/// Resolves a `kubernetesVersion` value: a version is normalised (`1.37.1` -> `v1.37.1`),
/// a release label is fetched from the release bucket in use ([`release_url`]), falling
/// back to this kubeadm's version when the bucket cannot be reached. `Ok(None)` means the
/// value is neither a version nor a label.
pub fn resolve(value: &str) -> anyhow::Result<Option<String>> {
    let base = release_url();
    let key = (base.clone(), value.to_string());
    if let Some(v) = RESOLVED.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(Some(v.clone()));
    }
    let resolved = resolve_with(value, &base, crate::version::KUBERNETES_VERSION, &|url| {
        fetch_label(url, FETCH_TIMEOUT)
    })?;
    if let Some(v) = &resolved {
        RESOLVED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, v.clone());
    }
    Ok(resolved)
}

/// [`resolve`] with the bucket, this kubeadm's version and the fetcher given (upstream's
/// `kubernetesReleaseVersion`, whose tests pass their own fetcher).
pub fn resolve_with(
    value: &str,
    base: &str,
    client_version: &str,
    fetch: &dyn Fn(&str) -> Result<String, String>,
) -> anyhow::Result<Option<String>> {
    let mut value = value.to_string();
    for _ in 0..MAX_LABEL_HOPS {
        if let Some(v) = normalized_version(&value) {
            return Ok(Some(v));
        }
        let Some((bucket, label)) = split_bucket(&value) else {
            return Ok(None);
        };
        if let Some(v) = normalized_version(label) {
            return Ok(Some(v));
        }
        if !is_label(label) {
            return Ok(None);
        }
        if bucket != "release" {
            bail!(
                "kubernetesVersion {value:?}: continuous-integration builds ({bucket}/...) are not supported by kubeadm-rs; give a released version or a release label (stable-1)"
            );
        }
        let url = format!("{}/{label}.txt", base.trim_end_matches('/'));
        let body = match fetch(&url) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!("could not fetch a Kubernetes version from the internet: {e}");
                tracing::warn!("falling back to the local client version: {client_version}");
                return Ok(normalized_version(client_version));
            }
        };
        value = stable_version(&body, client_version).with_context(|| url.clone())?;
    }
    bail!("{value:?}: the release server keeps answering a newer minor than this kubeadm's")
}

/// Upstream's `validateStableVersion`: a remote version of a newer minor (or major) than
/// this kubeadm's gives way to `stable-<major>.<minor>` of this kubeadm.
fn stable_version(remote: &str, client: &str) -> anyhow::Result<String> {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.trim().trim_start_matches('v').split(['.', '-', '+']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    let shown: String = remote.chars().take(100).collect();
    let r = parse(remote)
        .with_context(|| format!("remote version error: {shown:?} is not a version"))?;
    let c = parse(client).with_context(|| format!("client version error: {client:?}"))?;
    if c < r {
        let estimated = format!("stable-{}.{}", c.0, c.1);
        // Upstream's klog.Infof, which its default verbosity shows.
        eprintln!("remote version is much newer: {shown}; falling back to: {estimated}");
        return Ok(estimated);
    }
    Ok(remote.trim().to_string())
}

/// GETs a label's file: its trimmed body when the answer is 200, else an error naming the
/// URL and the status, as upstream's `fetchFromURL`. Redirects are followed (upstream's
/// bucket answers from a CDN); name resolution, connection and redirects together get
/// `timeout`.
pub fn fetch_label(url: &str, timeout: Duration) -> Result<String, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let start = url.to_string();
    let deadline = Instant::now() + timeout;
    // A thread of its own, so that a name lookup that hangs is bounded too.
    std::thread::spawn(move || {
        let _ = tx.send(follow(&start, deadline));
    });
    rx.recv_timeout(timeout).unwrap_or_else(|_| {
        Err(format!(
            "unable to get URL {url:?}: no answer within {}s",
            timeout.as_secs()
        ))
    })
}

fn follow(first: &str, deadline: Instant) -> Result<String, String> {
    let mut url = first.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let bundle = match url.starts_with("https://").then(root_ca_bundle).flatten() {
            Some(Err(why)) => return Err(format!("unable to get URL {url:?}: {why}")),
            Some(Ok(b)) => Some(b),
            None => None,
        };
        let trust = match &bundle {
            Some(b) => Trust::Bundle(b),
            None if url.starts_with("https://") => Trust::System,
            None => Trust::Any,
        };
        // fetch_answer allows twice its timeout for the whole answer.
        let answer = fetch_answer(&url, trust, left / 2)
            .map_err(|e| format!("unable to get URL {url:?}: {e}"))?;
        if matches!(answer.code, 301 | 302 | 303 | 307 | 308) {
            let Some(to) = answer.location else {
                return Err(format!(
                    "unable to get URL {url:?}: redirect {} without a Location",
                    answer.code
                ));
            };
            url = redirect_target(&url, &to);
            continue;
        }
        let body = answer.body.trim().to_string();
        if answer.code != 200 {
            let reason = http::StatusCode::from_u16(answer.code)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("");
            return Err(format!(
                "unable to fetch file. URL: {url:?}, status: {} {reason}",
                answer.code
            ));
        }
        return Ok(body);
    }
    Err(format!(
        "unable to get URL {first:?}: no answer within the time or redirects allowed"
    ))
}

/// Where a `Location` points, relative ones taken against the URL that answered.
fn redirect_target(from: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme_end = from.find("://").map(|i| i + 3).unwrap_or(0);
    let origin_end = from[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(from.len());
    if location.starts_with('/') {
        format!("{}{location}", &from[..origin_end])
    } else {
        let dir_end = from
            .rfind('/')
            .filter(|&i| i >= origin_end)
            .unwrap_or(origin_end);
        format!("{}/{location}", &from[..dir_end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn labels_as_upstream_matches_them() {
        for l in [
            "stable",
            "latest",
            "stable-1",
            "latest-1",
            "stable-1.37",
            "latest-1.9",
            "stablestable",
        ] {
            assert!(is_label(l), "{l}");
        }
        for l in [
            "stable-",
            "stable-0",
            "stable-1.0",
            "stable-1.100",
            "stable-10",
            "stable-1.",
            "unstable",
            "stable-1.37 ",
            "",
        ] {
            assert!(!is_label(l), "{l}");
        }
    }

    #[test]
    fn versions_as_upstream_matches_them() {
        assert_eq!(normalized_version("1.37.1").as_deref(), Some("v1.37.1"));
        assert_eq!(
            normalized_version("v1.38.0-alpha.1.23+abc").as_deref(),
            Some("v1.38.0-alpha.1.23+abc")
        );
        for v in [
            "1.37", "v1.037.1", "v1.37.1 ", "v1.37.x", "vv1.37.1", "1.37.1/x",
        ] {
            assert_eq!(normalized_version(v), None, "{v}");
        }
    }

    /// A fetcher that answers from a table and remembers the URLs asked.
    fn fetcher<'a>(
        answers: &'a [(&'a str, Result<&'a str, &'a str>)],
        asked: &'a RefCell<Vec<String>>,
    ) -> impl Fn(&str) -> Result<String, String> + 'a {
        move |url: &str| {
            asked.borrow_mut().push(url.to_string());
            answers
                .iter()
                .find(|(u, _)| *u == url)
                .map(|(_, a)| a.map(str::to_string).map_err(str::to_string))
                .unwrap_or_else(|| Err(format!("no stand-in for {url}")))
        }
    }

    #[test]
    fn a_label_resolves_to_the_servers_answer() {
        let asked = RefCell::new(vec![]);
        let f = fetcher(
            &[("http://b/release/stable-1.36.txt", Ok("v1.36.9"))],
            &asked,
        );
        let v = resolve_with("stable-1.36", "http://b/release", "v1.37.1", &f).unwrap();
        assert_eq!(v.as_deref(), Some("v1.36.9"));
        let v = resolve_with("release/stable-1.36", "http://b/release/", "v1.37.1", &f);
        assert_eq!(v.unwrap().as_deref(), Some("v1.36.9"));
        assert_eq!(asked.borrow().len(), 2);
        // Versions are not fetched.
        let v = resolve_with("release/1.36.2", "http://b/release", "v1.37.1", &f).unwrap();
        assert_eq!(v.as_deref(), Some("v1.36.2"));
        assert_eq!(asked.borrow().len(), 2);
    }

    #[test]
    fn a_newer_minor_falls_back_to_this_minors_stable_label() {
        let asked = RefCell::new(vec![]);
        let f = fetcher(
            &[
                ("http://b/stable.txt", Ok("v1.38.2")),
                ("http://b/stable-1.37.txt", Ok("v1.37.4")),
            ],
            &asked,
        );
        let v = resolve_with("stable", "http://b", "v1.37.1", &f).unwrap();
        assert_eq!(v.as_deref(), Some("v1.37.4"));
        assert_eq!(
            *asked.borrow(),
            ["http://b/stable.txt", "http://b/stable-1.37.txt"]
        );
        // A newer major too; an older minor is taken as it is.
        assert_eq!(stable_version("v2.0.0", "v1.37.1").unwrap(), "stable-1.37");
        assert_eq!(stable_version("v1.36.9\n", "v1.37.1").unwrap(), "v1.36.9");
    }

    #[test]
    fn an_unreachable_server_gives_this_kubeadms_version() {
        let asked = RefCell::new(vec![]);
        let f = fetcher(&[], &asked);
        let v = resolve_with("latest-1.36", "http://b", "v1.37.1", &f).unwrap();
        assert_eq!(v.as_deref(), Some("v1.37.1"));
        assert_eq!(*asked.borrow(), ["http://b/latest-1.36.txt"]);
    }

    #[test]
    fn bad_answers_and_values() {
        let asked = RefCell::new(vec![]);
        let f = fetcher(
            &[
                ("http://b/stable.txt", Ok("<html>portal</html>")),
                ("http://b/latest.txt", Ok("v1.40.0")),
                ("http://b/stable-1.37.txt", Ok("v1.40.0")),
            ],
            &asked,
        );
        let e = resolve_with("stable", "http://b", "v1.37.1", &f).unwrap_err();
        assert!(format!("{e:#}").contains("is not a version"), "{e:#}");
        let e = resolve_with("latest", "http://b", "v1.37.1", &f).unwrap_err();
        assert!(format!("{e:#}").contains("newer minor"), "{e:#}");
        assert_eq!(
            resolve_with("v1.x", "http://b", "v1.37.1", &f).unwrap(),
            None
        );
        assert_eq!(
            resolve_with("foo/stable", "http://b", "v1.37.1", &f).unwrap(),
            None
        );
        let e = resolve_with("ci/latest", "http://b", "v1.37.1", &f).unwrap_err();
        assert!(format!("{e}").contains("not supported"), "{e}");
    }

    #[test]
    fn redirects_are_taken_against_the_answering_url() {
        let from = "https://dl.k8s.io/release/stable.txt";
        assert_eq!(
            redirect_target(from, "https://cdn.dl.k8s.io/release/stable.txt"),
            "https://cdn.dl.k8s.io/release/stable.txt"
        );
        assert_eq!(
            redirect_target(from, "/other/stable.txt"),
            "https://dl.k8s.io/other/stable.txt"
        );
        assert_eq!(
            redirect_target(from, "stable-1.txt"),
            "https://dl.k8s.io/release/stable-1.txt"
        );
    }
}

//! Kubernetes version numbers (`v1.37.1`, `v1.38.0-rc.1`, `v1.37.1+build`) compared as
//! upstream's `version.ParseSemantic` does: a pre-release sorts before its release, and
//! build metadata is ignored.

use std::cmp::Ordering;
use std::fmt;

/// A parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
    /// Pre-release (`rc.1`), empty for a release.
    pub pre: String,
    text: String,
}

impl KubeVersion {
    /// Parses `v1.37.1`, `1.37.1`, `v1.38.0-alpha.2`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let text = s.trim();
        let body = text.strip_prefix('v').unwrap_or(text);
        let body = body.split('+').next()?;
        let (core, pre) = match body.split_once('-') {
            Some((c, p)) if !p.is_empty() => (c, p.to_string()),
            Some(_) => return None,
            None => (body, String::new()),
        };
        let mut parts = core.split('.');
        let mut num = || -> Option<u32> {
            let p = parts.next()?;
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok())?
        };
        let (major, minor, patch) = (num()?, num()?, num()?);
        if parts.next().is_some() {
            return None;
        }
        Some(KubeVersion {
            major,
            minor,
            patch,
            pre,
            text: format!("v{}", text.trim_start_matches('v')),
        })
    }

    /// True for a pre-release (alpha, beta, rc).
    pub fn is_pre_release(&self) -> bool {
        !self.pre.is_empty()
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    _ => p.cmp(q),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

impl Ord for KubeVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| cmp_pre(&self.pre, &other.pre))
    }
}

impl PartialOrd for KubeVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::KubeVersion as V;

    #[test]
    fn order_as_semantic_versions() {
        let p = |s| V::parse(s).unwrap();
        assert!(p("v1.36.4") < p("v1.37.0"));
        assert!(p("v1.37.0-rc.1") < p("v1.37.0"));
        assert!(p("v1.37.0-alpha.2") < p("v1.37.0-beta.0"));
        assert!(p("v1.37.0-rc.2") < p("v1.37.0-rc.10"));
        assert_eq!(p("1.37.1").to_string(), "v1.37.1");
        assert_eq!(
            p("v1.37.1+abc").cmp(&p("v1.37.1")),
            std::cmp::Ordering::Equal
        );
        assert!(p("v1.38.0-rc.1").is_pre_release());
        for bad in ["", "v1.37", "v1.37.x", "v1.37.1-", "banana", "v1.37.1.2"] {
            assert!(V::parse(bad).is_none(), "{bad}");
        }
    }
}

//! Names as Kubernetes validates them (`k8s.io/apimachinery/pkg/util/validation`): the
//! RFC 1123 subdomains that node names, cluster names, DNS domains, endpoints and
//! certificate SANs must be. The configuration's validation, the certificates and the
//! preflight checks all ask the same question, so the answer lives below them all.

/// RFC 1123 subdomain (upstream's `IsDNS1123Subdomain`): lower-case labels of
/// `[a-z0-9-]`, none starting or ending with `-`, each at most 63 characters, at most 253
/// in all. Upper case, underscores, empty labels and a trailing dot are all refused.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// `*.` followed by an RFC 1123 subdomain, the wildcard form a certificate SAN may take
/// (`*.example.com`); a bare `*` or a wildcard further in (`a.*.example.com`) is refused.
pub fn is_wildcard_dns_subdomain(s: &str) -> bool {
    s.strip_prefix("*.").is_some_and(is_dns_subdomain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains() {
        assert!(is_dns_subdomain("node-1.example.com"));
        assert!(!is_dns_subdomain("Node1"));
        assert!(!is_dns_subdomain("-a"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(!is_dns_subdomain(&"a".repeat(64)));
        assert!(is_wildcard_dns_subdomain("*.example.com"));
        assert!(!is_wildcard_dns_subdomain("*"));
        assert!(!is_wildcard_dns_subdomain("a.*.example.com"));
    }
}

//! What a host's `address` and `user` may be. The `openssh` crate puts the destination
//! last on ssh's command line without a `--` before it, so a destination beginning with
//! `-` would be read as an option (`-V` makes ssh exit 0, `-oProxyCommand=...` runs a
//! command here): these checks are the guard, made when the file is read, before any
//! ssh starts. An address is a DNS name, an IPv4 address or an IPv6 address (bracketed
//! or not); `ssh://` and `user@host` forms are refused, so the user that logs in is
//! always the file's `user`, the one the decision to use `sudo` reads.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The longest DNS name.
const MAX_NAME: usize = 253;
/// The longest label of a DNS name.
const MAX_LABEL: usize = 63;
/// The longest user name taken.
const MAX_USER: usize = 256;

/// What SSH is given for `text` (an IPv6 address loses its brackets, since ssh would
/// look `[fd00::1]` up as a name), or what is wrong with it and what would be right.
pub fn host(text: &str) -> Result<String, String> {
    let right = "give the host's DNS name, IPv4 address or IPv6 address (for example node-1.example.com, 10.0.0.1, fd00::1 or [fd00::1])";
    if text.is_empty() {
        return Err(format!("empty; {right}"));
    }
    if text.starts_with('-') {
        return Err(format!(
            "begins with '-', which ssh would read as an option; {right}"
        ));
    }
    if text.contains("://") {
        return Err(format!(
            "a URL is not an address; {right}, with the user in user: and the port in port:"
        ));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("holds whitespace or a control character; {right}"));
    }
    if text.contains('@') {
        return Err(format!(
            "holds '@'; give the user in user: (root by default) and {right}"
        ));
    }
    if let Some(inner) = text.strip_prefix('[') {
        return match inner.split_once(']') {
            Some((ip, "")) if ip.parse::<Ipv6Addr>().is_ok() => Ok(ip.to_string()),
            Some((ip, port)) if ip.parse::<Ipv6Addr>().is_ok() && port.starts_with(':') => {
                Err(format!(
                    "holds a port; give the port in port: and the address alone ({ip} or [{ip}])"
                ))
            }
            _ => Err(format!("is not a bracketed IPv6 address; {right}")),
        };
    }
    if text.contains(':') {
        if text.parse::<Ipv6Addr>().is_ok() {
            return Ok(text.to_string());
        }
        return match text.rsplit_once(':') {
            Some((h, p))
                if !h.contains(':') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Err(format!(
                    "holds a port; give the port in port: and the address alone ({h})"
                ))
            }
            _ => Err(format!("is not an IPv6 address; {right}")),
        };
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return match text.parse::<Ipv4Addr>() {
            Ok(_) => Ok(text.to_string()),
            Err(_) => Err(format!(
                "is not an IPv4 address (four numbers 0-255 joined by '.'); {right}"
            )),
        };
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    let labels_ok = name.len() <= MAX_NAME
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= MAX_LABEL
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if !labels_ok {
        return Err(format!(
            "is not a DNS name (labels of letters, digits, '-' and '_' joined by '.', each at most {MAX_LABEL} characters and neither beginning nor ending with '-', at most {MAX_NAME} in all); {right}"
        ));
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "ends in a label of digits only, which is neither a DNS name nor an IPv4 address; {right}"
        ));
    }
    Ok(text.to_string())
}

/// What is wrong with the login user `text`, if anything.
pub fn user(text: &str) -> Result<(), String> {
    let right = "give the user SSH logs in as: letters, digits, '.', '_', '-', '@' and '$', not beginning with '-' (root by default)";
    if text.is_empty() {
        return Err(format!("empty; {right}"));
    }
    if text.starts_with('-') {
        return Err(format!(
            "begins with '-', which ssh would read as an option; {right}"
        ));
    }
    if text.len() > MAX_USER
        || !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@$".contains(&b))
    {
        return Err(format!("is not a user name; {right}"));
    }
    Ok(())
}

/// The same host written two ways (`fd00::1` and `[FD00:0::1]`, `Node-1` and `node-1.`)
/// compares equal under this key.
pub fn identity(host: &str) -> String {
    match host.parse::<Ipv6Addr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => host.trim_end_matches('.').to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_of_every_kind_pass() {
        for (given, to_ssh) in [
            ("10.0.0.1", "10.0.0.1"),
            ("node-1.example.com", "node-1.example.com"),
            ("node1", "node1"),
            ("Node_1.Example.com.", "Node_1.Example.com."),
            ("::1", "::1"),
            ("[fd00::1]", "fd00::1"),
            ("fd00::10:1", "fd00::10:1"),
        ] {
            assert_eq!(host(given).as_deref(), Ok(to_ssh), "{given}");
        }
    }

    #[test]
    fn options_urls_ports_and_odd_characters_are_refused() {
        for (given, says) in [
            ("-V", "begins with '-'"),
            ("-oProxyCommand=touch /tmp/x", "begins with '-'"),
            ("node\tx", "whitespace"),
            ("-oProxyCommand=true", "begins with '-'"),
            ("node\x1b[31m", "control character"),
            ("node 1", "whitespace"),
            ("node\n", "whitespace"),
            ("", "empty"),
            ("ssh://root@node:22", "user in user: and the port in port:"),
            ("admin@node", "give the user in user:"),
            ("node:2222", "give the port in port:"),
            ("10.0.0.1:22", "give the port in port:"),
            ("[fd00::1]:22", "give the port in port:"),
            ("[fd00::1", "not a bracketed IPv6"),
            ("[node]", "not a bracketed IPv6"),
            ("fd00:::1", "not an IPv6"),
            ("10.0.0.256", "not an IPv4"),
            ("1.2.3", "not an IPv4"),
            ("node.123", "digits only"),
            ("node-.example", "not a DNS name"),
            ("a..b", "not a DNS name"),
            ("$(reboot)", "not a DNS name"),
            ("node;reboot", "not a DNS name"),
        ] {
            let e = host(given).expect_err(given);
            assert!(e.contains(says), "{given:?}: {e}");
        }
        let long = vec!["a".repeat(63); 5].join(".");
        assert!(host(&long).unwrap_err().contains("not a DNS name"));
        assert!(host(&"a".repeat(64))
            .unwrap_err()
            .contains("not a DNS name"));
    }

    #[test]
    fn users_are_names_not_options() {
        for u in [
            "root",
            "ubuntu",
            "ci-bot",
            "jane.doe",
            "jane@corp.example",
            "svc$",
        ] {
            assert_eq!(user(u), Ok(()), "{u}");
        }
        for (u, says) in [
            ("-oProxyCommand=x", "begins with '-'"),
            ("", "empty"),
            ("ro ot", "not a user name"),
            ("root\x1b", "not a user name"),
            ("ssh://root", "not a user name"),
        ] {
            let e = user(u).expect_err(u);
            assert!(e.contains(says), "{u:?}: {e}");
        }
    }

    #[test]
    fn one_host_written_two_ways_is_one_identity() {
        assert_eq!(identity("fd00::1"), identity("fd00:0::1"));
        assert_eq!(identity("Node-1.example."), identity("node-1.example"));
        assert_ne!(identity("10.0.0.1"), identity("10.0.0.2"));
    }
}

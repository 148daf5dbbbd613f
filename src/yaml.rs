//! YAML as upstream's serializer writes it: the documents kubeadm writes and prints are
//! compared byte for byte by users and tools, and Go's emitter double-quotes the scalars
//! that need quoting (`""`, `"0"`) where the YAML library here single-quotes them. The
//! values are the same; this makes the bytes the same too.

/// The most flow-collection openers (`[`, `{`) kubeadm accepts in YAML it did not write:
/// the YAML parser here takes time quadratic in the nesting of flow collections (100,000
/// nested `[` take minutes), and the nesting is at most the number of openers. Real
/// configurations hold a few dozen.
pub const MAX_UNTRUSTED_FLOW_OPENERS: usize = 4096;

/// Checks YAML read from the cluster (or another source kubeadm does not control) before
/// parsing it: an error naming `what` when it holds more flow-collection openers than any
/// configuration needs.
pub fn check_untrusted(text: &str, what: &str) -> anyhow::Result<()> {
    let openers = text.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    if openers > MAX_UNTRUSTED_FLOW_OPENERS {
        anyhow::bail!(
            "{what}: {openers} '[' or '{{' characters, more than the {MAX_UNTRUSTED_FLOW_OPENERS} a configuration can need; refusing to parse it (was it written by kubeadm?)"
        );
    }
    Ok(())
}

/// Parses YAML read from the cluster after [`check_untrusted`].
pub fn from_untrusted<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> anyhow::Result<T> {
    use anyhow::Context;
    check_untrusted(text, what)?;
    serde_yaml_ng::from_str(text).with_context(|| format!("{what} is not a valid YAML document"))
}

/// Serializes to YAML with Go's quoting of simple scalars.
pub fn to_string<T: serde::Serialize + ?Sized>(v: &T) -> anyhow::Result<String> {
    Ok(go_quotes(&serde_yaml_ng::to_string(v)?))
}

/// Rewrites single-quoted scalar values (`key: ''`, `- '0'`) as double-quoted ones when
/// that needs no escaping; everything else is left as written.
pub fn go_quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        out.push_str(&rewrite_line(body));
        out.push_str(nl);
    }
    out
}

fn rewrite_line(line: &str) -> String {
    // The value starts after the first `: ` outside quotes, or after a list marker.
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    let (prefix, value) = if let Some(rest) = trimmed.strip_prefix("- ") {
        if rest.starts_with('\'') {
            (format!("{indent}- "), rest)
        } else {
            return rewrite_mapping(line);
        }
    } else {
        return rewrite_mapping(line);
    };
    match convert(value) {
        Some(v) => format!("{prefix}{v}"),
        None => line.to_string(),
    }
}

fn rewrite_mapping(line: &str) -> String {
    // Keys written here are plain (no quotes, no `: ` inside), so the first `: ` splits.
    let Some(i) = line.find(": ") else {
        return line.to_string();
    };
    let (key, value) = (&line[..i + 2], &line[i + 2..]);
    if key.contains('\'') || key.contains('"') {
        return line.to_string();
    }
    match convert(value) {
        Some(v) => format!("{key}{v}"),
        None => line.to_string(),
    }
}

/// `'text'` as `"text"` when the text needs no escaping in double quotes.
fn convert(value: &str) -> Option<String> {
    let inner = value.strip_prefix('\'')?.strip_suffix('\'')?;
    let text = inner.replace("''", "'");
    if text.contains('"') || text.contains('\\') || text.chars().any(char::is_control) {
        return None;
    }
    // A lone quote left inside means the value was not one scalar.
    if inner.replace("''", "").contains('\'') {
        return None;
    }
    Some(format!("\"{text}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_quoted_scalars_become_double_quoted() {
        let text = "a: ''\nb:\n  c: '0'\nd:\n- 'true'\ne: plain\nf: 'it''s'\ng: 'say \"x\"'\n";
        assert_eq!(
            go_quotes(text),
            "a: \"\"\nb:\n  c: \"0\"\nd:\n- \"true\"\ne: plain\nf: \"it's\"\ng: 'say \"x\"'\n"
        );
    }

    #[test]
    fn values_round_trip() {
        let v: serde_json::Value =
            serde_json::json!({"a": "", "b": "0", "c": ["true", "x: y"], "d": "it's"});
        let text = to_string(&v).unwrap();
        let back: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}

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

/// The deepest nesting of flow collections (`[`, `{`) accepted in YAML kubeadm reads
/// from a local file (configuration, patches, kubeconfigs, manifests, kubeadm-cluster's
/// file): the parser here takes time quadratic in that nesting (100,000 nested `{a: `
/// take minutes), and real files nest a few levels. Block nesting (indentation, `- - -`)
/// costs linear time and is bounded by the file size.
pub const MAX_FLOW_DEPTH: usize = 256;

/// The line (1-based) where YAML text nests flow collections deeper than
/// [`MAX_FLOW_DEPTH`], if it does. Brackets inside quoted scalars and comments do not
/// count; an unbalanced bracket in a plain scalar (`a[0`) counts, which only makes the
/// bound a little stricter than the YAML's real nesting.
pub fn flow_depth_exceeded(text: &str) -> Option<usize> {
    #[derive(PartialEq)]
    enum In {
        Plain,
        Double,
        Single,
        Comment,
    }
    let (mut state, mut depth, mut line) = (In::Plain, 0usize, 1usize);
    let mut prev = b'\n';
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'\n' {
            line += 1;
            if state == In::Comment {
                state = In::Plain;
            }
        }
        match state {
            In::Plain => match b {
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(line);
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b'"' => state = In::Double,
                b'\'' => state = In::Single,
                b'#' if prev.is_ascii_whitespace() => state = In::Comment,
                _ => {}
            },
            In::Double => match b {
                // An escaped character, a line break among them, ends nothing.
                b'\\' if bytes.next() == Some(b'\n') => line += 1,
                b'"' => state = In::Plain,
                _ => {}
            },
            // A doubled quote inside leaves and re-enters at once.
            In::Single if b == b'\'' => state = In::Plain,
            In::Single | In::Comment => {}
        }
        prev = b;
    }
    None
}

/// What is wrong with YAML nested past [`MAX_FLOW_DEPTH`], for errors that give the file
/// and line themselves.
pub fn too_deep() -> String {
    format!(
        "more than {MAX_FLOW_DEPTH} nested '[' or '{{'; no configuration needs that many, refusing to parse it (is it the right file?)"
    )
}

/// Checks YAML from a local file before parsing it: an error naming `what` and the line
/// when it nests flow collections deeper than [`MAX_FLOW_DEPTH`].
pub fn check_nesting(text: &str, what: &str) -> anyhow::Result<()> {
    match flow_depth_exceeded(text) {
        Some(line) => anyhow::bail!("{what}:{line}: {}", too_deep()),
        None => Ok(()),
    }
}

/// A YAML decoding error said without any of the text it was decoding: where (line and
/// column) and what kind of problem, with quoted values and the names of unknown fields
/// left out. For files whose content is not ours to show (a kubeconfig that may be a link
/// to any file, a key).
pub fn error_without_values(e: &serde_yaml_ng::Error) -> String {
    let message = e.to_string();
    // The library appends the position itself; it is given once, below.
    let message = match message.find(" at line ") {
        Some(i) => &message[..i],
        None => &message,
    };
    let message = redact_quoted(message);
    match e.location() {
        Some(l) => format!("line {} column {}: {message}", l.line(), l.column()),
        None => message,
    }
}

/// Leaves out what a decoding message quotes from its input: every `"..."` value, and
/// the `` `name` `` after "unknown field", "unknown variant" and "duplicate field" (the
/// lists of expected names after them are the program's own and stay).
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[i];
        let Some(len) = rest[i + 1..].find(quote as char) else {
            break;
        };
        let before = &rest[..i];
        let is_input = quote == b'"'
            || ["unknown field ", "unknown variant ", "duplicate field "]
                .iter()
                .any(|p| before.ends_with(p));
        out.push_str(before);
        if is_input {
            out.push_str("(value not shown)");
        } else {
            out.push_str(&rest[i..i + len + 2]);
        }
        rest = &rest[i + len + 2..];
    }
    out.push_str(rest);
    out
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
    fn flow_nesting_is_bounded_outside_quotes_and_comments() {
        let deep = "{a: ".repeat(MAX_FLOW_DEPTH + 1);
        assert_eq!(flow_depth_exceeded(&deep), Some(1));
        let deep = format!("a: 1\nb:\n{}", "[".repeat(100_000));
        assert_eq!(flow_depth_exceeded(&deep), Some(3));
        let ok = format!(
            "a: {}{}\n",
            "[".repeat(MAX_FLOW_DEPTH),
            "]".repeat(MAX_FLOW_DEPTH)
        );
        assert_eq!(flow_depth_exceeded(&ok), None);
        // Many collections side by side are no nesting.
        assert_eq!(flow_depth_exceeded(&"- [a, {b: c}]\n".repeat(10_000)), None);
        let brackets = "[".repeat(MAX_FLOW_DEPTH + 1);
        for quiet in [
            format!("a: \"{brackets}\"\n"),
            format!("a: '{brackets}'\n"),
            format!("a: 'it''s {brackets}'\n"),
            format!("a: \"\\\" {brackets}\"\n"),
            format!("a: 1 # {brackets}\n"),
            format!("# {brackets}\n"),
        ] {
            assert_eq!(flow_depth_exceeded(&quiet), None, "{quiet}");
        }
        let e = check_nesting(&format!("x: 1\n{brackets}"), "f.yaml").unwrap_err();
        assert!(
            e.to_string().starts_with("f.yaml:2: more than 256 nested"),
            "{e}"
        );
    }

    #[test]
    fn decoding_errors_can_be_said_without_the_text() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Config {
            name: String,
        }
        let e = serde_yaml_ng::from_str::<Config>("root:x:0:0:secret\n").unwrap_err();
        let said = error_without_values(&e);
        assert!(!said.contains("secret"), "{said}");
        assert!(
            said.starts_with("line 1 column 1: invalid type: string (value not shown), expected"),
            "{said}"
        );
        let e = serde_yaml_ng::from_str::<Config>("name: a\nhunter2: b\n").unwrap_err();
        let said = error_without_values(&e);
        assert!(!said.contains("hunter2"), "{said}");
        assert!(
            said.contains("unknown field (value not shown), expected `name`"),
            "{said}"
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

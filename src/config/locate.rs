//! Finds where a field path (`networking.podSubnet`, `bootstrapTokens[0].usages[1]`) is
//! written in a YAML document, so that validation errors can give the line. Block-style
//! YAML only; for anything else the nearest enclosing field found is used.

struct Line<'a> {
    /// Column of the key (after a `- ` list marker, when there is one).
    indent: usize,
    /// Column of the `- ` marker, for list items.
    dash: Option<usize>,
    text: &'a str,
    number: usize,
}

fn lines(doc: &str) -> Vec<Line<'_>> {
    doc.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                return None;
            }
            let indent = raw.len() - trimmed.len();
            match trimmed.strip_prefix("- ") {
                Some(rest) => {
                    let rest_trimmed = rest.trim_start();
                    Some(Line {
                        indent: indent + 2 + (rest.len() - rest_trimmed.len()),
                        dash: Some(indent),
                        text: rest_trimmed,
                        number: i + 1,
                    })
                }
                None => Some(Line {
                    indent,
                    dash: None,
                    text: trimmed,
                    number: i + 1,
                }),
            }
        })
        .collect()
}

fn split_segment(seg: &str) -> (&str, Vec<usize>) {
    let mut parts = seg.split('[');
    let key = parts.next().unwrap_or_default();
    let idx = parts
        .filter_map(|p| p.trim_end_matches(']').parse().ok())
        .collect();
    (key, idx)
}

fn is_key(text: &str, key: &str) -> bool {
    text.strip_prefix(key).is_some_and(|r| r.starts_with(':'))
        || text
            .strip_prefix('"')
            .and_then(|t| t.strip_prefix(key))
            .is_some_and(|r| r.starts_with("\":"))
}

/// The 1-based line of `path` in `doc`, or of its nearest enclosing field that is written
/// there; `None` when not even the first segment is.
pub fn line_of(doc: &str, path: &str) -> Option<usize> {
    let ls = lines(doc);
    let mut from = 0usize;
    // Keys of the current mapping sit at this column.
    let mut level: Option<usize> = None;
    let mut parent_col: isize = -1;
    let mut found = None;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let (key, indices) = split_segment(seg);
        let pos = (from..ls.len())
            .take_while(|&i| {
                i == from
                    || ls[i].indent as isize > parent_col
                    || ls[i].dash.is_some_and(|d| d as isize > parent_col)
            })
            .find(|&i| level.is_none_or(|l| ls[i].indent == l) && is_key(ls[i].text, key));
        let Some(mut pos) = pos else { break };
        found = Some(ls[pos].number);
        let key_col = ls[pos].indent;
        for idx in indices {
            // The idx-th list item below the key (items may sit at the key's own column).
            let items: Vec<usize> = (pos + 1..ls.len())
                .take_while(|&i| ls[i].indent > key_col || ls[i].dash.is_some_and(|d| d >= key_col))
                .filter(|&i| ls[i].dash.is_some_and(|d| d >= key_col))
                .collect();
            let first_dash = items.first().and_then(|&i| ls[i].dash);
            let item = items
                .into_iter()
                .filter(|&i| ls[i].dash == first_dash)
                .nth(idx);
            match item {
                Some(i) => {
                    pos = i;
                    found = Some(ls[i].number);
                }
                None => return found,
            }
        }
        parent_col = match ls[pos].dash {
            Some(d) => d as isize,
            None => ls[pos].indent as isize,
        };
        level = ls.get(pos + 1).and_then(|next| {
            (next.indent as isize > parent_col
                && next
                    .dash
                    .is_none_or(|d| d as isize > parent_col || ls[pos].dash.is_some()))
            .then_some(if ls[pos].dash.is_some() {
                ls[pos].indent
            } else {
                next.indent
            })
        });
        // A list item's first key shares the item's line.
        from = if ls[pos].dash.is_some() { pos } else { pos + 1 };
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
# a comment
bootstrapTokens:
- token: abcdef.0123456789abcdef
  usages:
  - signing
  - stealing
- token: 012345.0123456789abcdef
  groups: [a]
localAPIEndpoint:
  advertiseAddress: 10.0.0.1
  bindPort: 70000
nodeRegistration:
  taints:
    - key: a
      effect: NoWay
";

    #[test]
    fn finds_fields_and_list_items() {
        assert_eq!(line_of(DOC, "localAPIEndpoint.bindPort"), Some(13));
        assert_eq!(line_of(DOC, "bootstrapTokens[0].token"), Some(5));
        assert_eq!(line_of(DOC, "bootstrapTokens[0].usages[1]"), Some(8));
        assert_eq!(line_of(DOC, "bootstrapTokens[1].groups[0]"), Some(10));
        assert_eq!(line_of(DOC, "nodeRegistration.taints[0].effect"), Some(17));
        // Not written: the nearest enclosing field.
        assert_eq!(line_of(DOC, "localAPIEndpoint.certSANs[0]"), Some(11));
        assert_eq!(line_of(DOC, "networking.podSubnet"), None);
    }
}

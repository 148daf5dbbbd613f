//! Text that came from a host or from the cluster file, made safe to print: every control
//! character (and every character that reorders what follows it on screen) is written as
//! its Rust escape (`\u{1b}`, `\r`, `\u{202e}`), so what a host prints or a file holds
//! cannot move the cursor, recolour or rewrite the terminal, or pass for another line
//! of the run. Line breaks and tabs stay, for the lines of kubeadm's output passed on.

use std::borrow::Cow;

/// Whether `c` is written escaped.
fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        // The bidirectional embeddings, overrides and isolates: they reorder the text
        // that follows them.
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with its control characters escaped (line breaks and tabs kept).
pub fn controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_lines_kept() {
        assert_eq!(controls("10.0.0.1"), "10.0.0.1");
        assert!(matches!(controls("plain\ttext\n"), Cow::Borrowed(_)));
        assert_eq!(controls("\x1b[2Jcleared"), r"\u{1b}[2Jcleared");
        assert_eq!(controls("done\r[w-1] joined\n"), "done\\r[w-1] joined\n");
        assert_eq!(controls("a\u{7}b\u{7f}c\u{9b}d"), r"a\u{7}b\u{7f}c\u{9b}d");
        assert_eq!(controls("x\u{202e}y"), r"x\u{202e}y");
        assert_eq!(controls("é ü ☃"), "é ü ☃");
    }
}

//! `--vmodule`, klog's per-file verbosity that upstream kubeadm keeps (with `-v`) since
//! v1.34 (#131647): a comma-separated list of `pattern=N`. Upstream matches a pattern
//! against the Go source file a log line comes from (its base name without `.go`, or the
//! whole path when the pattern has a `/`); here it is matched the same way against the
//! Rust source file of the log line (without `.rs`; a `mod.rs` file goes by its
//! directory's name), and the file's lines are then shown as `-v=N` would show them.

/// One `pattern=N` entry whose level is above zero (klog drops `=0` entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulePattern {
    /// A file name, or a path when it holds a `/`; `*`, `?` and `[...]` as in a shell.
    pub pattern: String,
    /// The verbosity for matching files.
    pub level: u32,
}

/// The entries of a `--vmodule` value, as klog's parser reads them: empty entries (a
/// trailing comma) are skipped, each other one must be `pattern=N` with a non-empty
/// pattern and N a 32-bit integer of at least 0.
pub fn parse(value: &str) -> Result<Vec<ModulePattern>, String> {
    const RIGHT: &str = "give a comma-separated list of pattern=N, such as label=4,upgrade*=2";
    let mut out = Vec::new();
    for entry in value.split(',').filter(|e| !e.is_empty()) {
        let parts: Vec<&str> = entry.split('=').collect();
        let [pattern, level] = parts[..] else {
            return Err(format!("{entry:?} is not pattern=N: {RIGHT}"));
        };
        if pattern.is_empty() || level.is_empty() {
            return Err(format!("{entry:?} is not pattern=N: {RIGHT}"));
        }
        let level: i64 = level
            .parse()
            .ok()
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| format!("{entry:?}: the level is not a number: {RIGHT}"))?;
        if level < 0 {
            return Err(format!(
                "{entry:?}: negative value for vmodule level: give 0 or more"
            ));
        }
        if level > 0 {
            out.push(ModulePattern {
                pattern: pattern.to_string(),
                level: level as u32,
            });
        }
    }
    Ok(out)
}

/// The level `patterns` give a log line from the source file `file` (as `file!()` names
/// it), the first matching pattern winning as in klog; `None` when none matches.
pub fn level_for(patterns: &[ModulePattern], file: &str) -> Option<u32> {
    let path = file.strip_suffix(".rs").unwrap_or(file);
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    let name = if base == "mod" {
        dir.rsplit('/').next().unwrap_or(base)
    } else {
        base
    };
    patterns
        .iter()
        .find(|p| {
            if p.pattern.contains('/') {
                glob_match(p.pattern.as_bytes(), path.as_bytes())
            } else {
                glob_match(p.pattern.as_bytes(), name.as_bytes())
            }
        })
        .map(|p| p.level)
}

/// Shell-style matching as Go's `filepath.Match`: `*` any run of characters but `/`, `?`
/// one character but `/`, `[...]` a class (ranges, `^` to negate), `\` quotes.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some(b'*') => {
            let rest = &pattern[1..];
            (0..=text.len())
                .take_while(|&i| i == 0 || text[i - 1] != b'/')
                .any(|i| glob_match(rest, &text[i..]))
        }
        Some(b'?') => {
            matches!(text.first(), Some(c) if *c != b'/') && glob_match(&pattern[1..], &text[1..])
        }
        Some(b'[') => {
            let Some((&c, rest_text)) = text.split_first() else {
                return false;
            };
            let mut i = 1;
            let negate = pattern.get(i) == Some(&b'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            let mut first = true;
            while i < pattern.len() && (first || pattern[i] != b']') {
                first = false;
                let lo = pattern[i];
                if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
                    matched |= (lo..=pattern[i + 2]).contains(&c);
                    i += 3;
                } else {
                    matched |= lo == c;
                    i += 1;
                }
            }
            // An unclosed class matches nothing (Go reports a bad pattern).
            i < pattern.len() && matched != negate && glob_match(&pattern[i + 1..], rest_text)
        }
        Some(b'\\') if pattern.len() > 1 => {
            text.first() == Some(&pattern[1]) && glob_match(&pattern[2..], &text[1..])
        }
        Some(&p) => text.first() == Some(&p) && glob_match(&pattern[1..], &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pattern: &str, level: u32) -> ModulePattern {
        ModulePattern {
            pattern: pattern.into(),
            level,
        }
    }

    #[test]
    fn values_are_read_as_klog_reads_them() {
        assert_eq!(parse("").unwrap(), []);
        assert_eq!(
            parse("label=4,upgrade*=2,").unwrap(),
            [p("label", 4), p("upgrade*", 2)]
        );
        // Zero levels are dropped; a sign is taken as Go's Atoi takes it.
        assert_eq!(parse("label=0,plan=+3").unwrap(), [p("plan", 3)]);
        for bad in [
            "label",
            "=3",
            "label=",
            "a=b=c",
            "label=x",
            "label=3000000000",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("pattern=N"), "{bad}: {e}");
        }
        assert!(parse("label=-1")
            .unwrap_err()
            .contains("negative value for vmodule level"));
    }

    #[test]
    fn patterns_match_source_files_as_klog_matches_go_files() {
        let ps = [p("label", 5), p("upgrade/*", 3), p("a[dx]dons", 2)];
        assert_eq!(level_for(&ps, "src/releases/label.rs"), Some(5));
        assert_eq!(level_for(&ps, "src/phases/upgrade/apply.rs"), None);
        assert_eq!(level_for(&ps, "src/addons/mod.rs"), Some(2));
        assert_eq!(level_for(&ps, "src/releases.rs"), None);
        let ps = [p("src/phases/upgrade/*", 3), p("app?y", 1)];
        assert_eq!(level_for(&ps, "src/phases/upgrade/apply.rs"), Some(3));
        assert_eq!(
            level_for(&[p("app?y", 1)], "src/phases/upgrade/apply.rs"),
            Some(1)
        );
        assert_eq!(level_for(&[p("*", 1)], "src/a/b.rs"), Some(1));
        assert!(!glob_match(b"a*", b"a/b"));
        assert!(glob_match(b"[^x]", b"y"));
        assert!(!glob_match(b"[ab", b"a"));
    }
}

//! Go templates (`-o go-template=...`), as kubectl's printer runs them: Go's
//! `text/template` (the `gotmpl` crate), the object as JSON data with every number a
//! float64, kubectl's extra functions `exists` and `base64decode`, and
//! `--allow-missing-template-keys` as `missingkey=default` or `missingkey=error`.
//!
//! One difference remains: a number is printed as Rust prints an f64 (`31535999`) where
//! Go's `{{.n}}` would print `3.1535999e+07`; `printf` formats as Go does.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use gotmpl::{MissingKey, Template, TemplateError, Value};

/// A parsed Go template.
pub struct GoTemplate {
    source: String,
}

impl GoTemplate {
    /// Parses a template; the error says what is wrong where.
    pub fn parse(source: &str) -> Result<Self, String> {
        build(source, MissingKey::Invalid).map_err(|e| e.to_string())?;
        Ok(GoTemplate {
            source: source.to_string(),
        })
    }

    /// Runs the template on `data`.
    pub fn render(
        &self,
        data: &serde_json::Value,
        allow_missing_keys: bool,
    ) -> anyhow::Result<String> {
        let missing = if allow_missing_keys {
            MissingKey::Invalid
        } else {
            MissingKey::Error
        };
        let t = build(&self.source, missing)?;
        t.execute_to_string(&go_value(data))
            .map_err(|e| anyhow::anyhow!("error executing template {:?}: {e}", self.source))
    }
}

fn build(source: &str, missing: MissingKey) -> Result<Template, TemplateError> {
    Template::new("output")
        .missing_key(missing)
        .func("exists", exists)
        .func("base64decode", base64decode)
        .parse(source)
}

/// JSON as Go's `json.Unmarshal` into `interface{}` gives it: numbers are float64.
fn go_value(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(Arc::from(s.as_str())),
        J::Array(items) => Value::List(items.iter().map(go_value).collect()),
        J::Object(map) => Value::Map(Arc::new(
            map.iter()
                .map(|(k, v)| (Arc::from(k.as_str()), go_value(v)))
                .collect::<BTreeMap<_, _>>(),
        )),
    }
}

/// kubectl's `exists ITEM INDEX...`: true when `index ITEM INDEX...` would find a
/// non-nil value.
fn exists(args: &[Value]) -> gotmpl::Result<Value> {
    let Some((item, indices)) = args.split_first() else {
        return Err(TemplateError::Exec("exists: needs an item".into()));
    };
    let mut cur = item.clone();
    for index in indices {
        let next = match (&cur, index) {
            (Value::List(items), Value::Int(i)) => {
                usize::try_from(*i).ok().and_then(|i| items.get(i)).cloned()
            }
            (Value::List(items), Value::Uint(i)) => {
                usize::try_from(*i).ok().and_then(|i| items.get(i)).cloned()
            }
            (Value::Map(map), Value::String(k)) => map.get(k).cloned(),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return Ok(Value::Bool(false)),
        }
    }
    Ok(Value::Bool(!matches!(cur, Value::Nil)))
}

/// kubectl's `base64decode STRING`.
fn base64decode(args: &[Value]) -> gotmpl::Result<Value> {
    let [Value::String(s)] = args else {
        return Err(TemplateError::Exec("base64decode: needs one string".into()));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map_err(|e| TemplateError::Exec(format!("base64 decode failed: {e}")))?;
    Ok(Value::String(Arc::from(
        String::from_utf8_lossy(&bytes).as_ref(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, allow: bool) -> anyhow::Result<String> {
        let data = json!({
            "kind": "BootstrapToken",
            "token": "abcdef.0123456789abcdef",
            "usages": ["signing", "authentication"],
            "certificates": [{"name": "ca", "residualTime": 86399}],
            "secret": "aGVsbG8=",
        });
        GoTemplate::parse(t)
            .map_err(anyhow::Error::msg)?
            .render(&data, allow)
    }

    #[test]
    fn kubectls_go_templates() {
        let cases = [
            ("{{.kind}}", "BootstrapToken"),
            ("{{range .usages}}{{.}};{{end}}", "signing;authentication;"),
            ("{{index .usages 1}}", "authentication"),
            ("{{len .usages}}", "2"),
            (
                "{{range .certificates}}{{.name}} {{printf \"%.0f\" .residualTime}}{{end}}",
                "ca 86399",
            ),
            (
                "{{if lt (index .certificates 0).residualTime 86400.0}}soon{{end}}",
                "soon",
            ),
            (
                "{{exists . \"usages\" 1}} {{exists . \"usages\" 5}} {{exists . \"nope\"}}",
                "true false false",
            ),
            ("{{base64decode .secret}}", "hello"),
            ("{{.missing}}", "<no value>"),
        ];
        for (t, want) in cases {
            assert_eq!(render(t, true).unwrap(), want, "{t}");
        }
    }

    #[test]
    fn missing_keys_fail_when_not_allowed() {
        let e = render("{{.missing}}", false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("error executing template \"{{.missing}}\": "),
            "{e}"
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(GoTemplate::parse("{{.a").is_err());
        // Go refuses an unknown function when parsing; here it fails when run.
        assert!(render("{{nosuchfunc .kind}}", true).is_err());
    }
}

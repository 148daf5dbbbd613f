//! kubectl's JSONPath templates (`-o jsonpath=...`), evaluated with an RFC 9535 JSONPath
//! library.
//!
//! kubectl's dialect is a template, not a single query: text outside braces is printed as
//! it stands, each `{...}` is an expression whose results are printed separated by
//! spaces, `{range EXPR}...{end}` repeats its body for each result of EXPR, and `{"\n"}`
//! prints a quoted string. Inside an expression the root (`$`) is optional, field names
//! run to the next `.`, `[`, `]`, `,`, space or brace (so `.metadata.labels.app/name`
//! works; `\.` keeps a dot in a name), `['a.b']` is the path `.a.b`, a union `[a,b]` may
//! hold paths, and a filter is `[?(LEFT OP RIGHT)]` or `[?(PATH)]` with one comparison.
//! Each step is turned into an RFC 9535 query and evaluated in turn, and the results are
//! printed as kubectl prints them (maps and lists as compact JSON with sorted keys, numbers
//! as Go prints a float64, null as `<nil>`).
//!
//! Not supported (refused with a parse error, or evaluated by RFC 9535's rules): filters
//! with `&&`/`||` or functions (kubectl has neither either), double-quoted keys in
//! brackets (`["a"]`, an error in kubectl too); an array index out of bounds or a negative
//! step yields nothing where kubectl fails.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A parsed kubectl JSONPath template.
pub struct JsonPathTemplate {
    nodes: Vec<Node>,
}

enum Node {
    Text(String),
    Expr(Vec<Stage>),
    Range { expr: Vec<Stage>, body: Vec<Node> },
}

/// One step of an expression.
enum Stage {
    /// An RFC 9535 query run on each current value; `field` names the field it reads,
    /// for the "not found" error of `--allow-missing-template-keys=false`.
    Query {
        path: Box<JsonPath>,
        segment: String,
        field: Option<String>,
    },
    /// `[a,b]`: each alternative run on all current values, results in that order.
    Union(Vec<Vec<Stage>>),
}

/// The pieces of a template before ranges are nested.
enum Token {
    Text(String),
    Expr(Vec<Stage>),
    Range(Vec<Stage>),
    End,
}

impl JsonPathTemplate {
    /// Parses a template; the error says what is wrong where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let Some(open) = rest.find('{') else {
                tokens.push(Token::Text(rest.to_string()));
                break;
            };
            if open > 0 {
                tokens.push(Token::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = action_end(after).ok_or_else(|| {
                format!(
                    "unclosed action: no '}}' closes the '{{' at {:?}",
                    excerpt(&rest[open..])
                )
            })?;
            tokens.push(action(after[..close].trim())?);
            rest = &after[close + 1..];
        }
        let mut iter = tokens.into_iter();
        let nodes = nest(&mut iter, false)?;
        Ok(JsonPathTemplate { nodes })
    }

    /// Prints the template for `data`: as kubectl's `jsonpath` printer, or with `as_json`
    /// each expression's results as an indented JSON array (`jsonpath-as-json`).
    pub fn render(
        &self,
        data: &Value,
        allow_missing_keys: bool,
        as_json: bool,
    ) -> anyhow::Result<String> {
        let mut groups = Vec::new();
        run(&self.nodes, data, allow_missing_keys, &mut groups)?;
        let mut out = String::new();
        for group in groups {
            if as_json {
                out.push_str(&go_json(&Value::Array(group), true));
                out.push('\n');
                continue;
            }
            let texts: Vec<String> = group.iter().map(text_of).collect();
            out.push_str(&texts.join(" "));
        }
        Ok(out)
    }
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The characters of `s` outside quoted strings (`'...'` or `"..."`, `\` escaping), each
/// with its position and the depth of parentheses around it.
fn unquoted(s: &str) -> impl Iterator<Item = (usize, char, usize)> + '_ {
    let mut quote = None;
    let mut escaped = false;
    let mut depth = 0usize;
    s.char_indices().filter_map(move |(i, c)| {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            return None;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                return None;
            }
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        Some((i, c, depth))
    })
}

/// Where the action starting after a `{` ends: the first `}` outside quotes.
fn action_end(s: &str) -> Option<usize> {
    unquoted(s).find(|&(_, c, _)| c == '}').map(|(i, _, _)| i)
}

/// One `{...}`.
fn action(inner: &str) -> Result<Token, String> {
    if inner == "end" {
        return Ok(Token::End);
    }
    if let Some(expr) = inner.strip_prefix("range") {
        if expr.is_empty() || expr.starts_with([' ', '\t']) {
            return Ok(Token::Range(path(expr.trim())?));
        }
    }
    if inner.len() >= 2
        && (inner.starts_with('"') && inner.ends_with('"')
            || inner.starts_with('\'') && inner.ends_with('\''))
    {
        return Ok(Token::Text(unquote(inner)?));
    }
    Ok(Token::Expr(path(inner)?))
}

/// Nests `range ... end`; `in_range` says an `end` closes the current body.
fn nest(tokens: &mut impl Iterator<Item = Token>, in_range: bool) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    while let Some(t) = tokens.next() {
        match t {
            Token::Text(s) => nodes.push(Node::Text(s)),
            Token::Expr(e) => nodes.push(Node::Expr(e)),
            Token::Range(expr) => {
                let body = nest(tokens, true)?;
                nodes.push(Node::Range { expr, body });
            }
            Token::End if in_range => return Ok(nodes),
            Token::End => {
                return Err("{end} without a {range}: not in range, nothing to end".into())
            }
        }
    }
    Ok(nodes)
}

/// A quoted string as kubectl reads it (Go's escapes, single or double quotes).
fn unquote(quoted: &str) -> Result<String, String> {
    let inner = &quoted[1..quoted.len() - 1];
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(c @ ('\\' | '\'' | '"')) => out.push(c),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let c = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("invalid \\u escape in {quoted}"))?;
                out.push(c);
            }
            other => {
                return Err(format!(
                    "invalid escape \\{} in {quoted}",
                    other.map(String::from).unwrap_or_default()
                ))
            }
        }
    }
    Ok(out)
}

/// kubectl's field-name terminators.
fn is_terminator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}'
    )
}

/// A name up to the next terminator (a `\` keeps the next character), and the rest.
fn field_name(s: &str) -> (String, &str) {
    let mut name = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            if let Some((_, n)) = chars.next() {
                name.push(n);
            }
            continue;
        }
        if is_terminator(c) {
            return (name, &s[i..]);
        }
        name.push(c);
    }
    (name, "")
}

/// A JSON string literal for a name, as RFC 9535 takes it in brackets.
fn quoted_name(name: &str) -> String {
    Value::String(name.to_string()).to_string()
}

fn query(segment: &str, field: Option<String>) -> Result<Stage, String> {
    let text = format!("${segment}");
    let path = JsonPath::parse(&text).map_err(|e| format!("{segment}: {e}"))?;
    Ok(Stage::Query {
        path: Box::new(path),
        segment: segment.to_string(),
        field,
    })
}

/// An expression (`.items[*].metadata.name`) as stages.
fn path(expr: &str) -> Result<Vec<Stage>, String> {
    let mut stages = Vec::new();
    let mut rest = expr;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("..") {
            let after = &rest[2..];
            if let Some(inner) = after.strip_prefix('[') {
                let (content, tail) = bracket(inner)?;
                stages.push(query(&format!("..[{}]", selector(content)?), None)?);
                rest = tail;
            } else if let Some(tail) = after.strip_prefix('*') {
                stages.push(query("..[*]", None)?);
                rest = tail;
            } else {
                let (name, tail) = field_name(after);
                stages.push(query(&format!("..[{}]", quoted_name(&name)), None)?);
                rest = tail;
            }
            continue;
        }
        match c {
            ' ' | '\t' | '$' | '@' => rest = &rest[1..],
            '.' => {
                let (name, tail) = field_name(&rest[1..]);
                rest = tail;
                match name.as_str() {
                    "" => {}
                    "*" => stages.push(query("[*]", None)?),
                    _ => stages.push(query(&format!("[{}]", quoted_name(&name)), Some(name))?),
                }
            }
            '[' => {
                let (content, tail) = bracket(&rest[1..])?;
                rest = tail;
                stages.extend(bracket_stages(content)?);
            }
            _ => {
                return Err(format!(
                    "unrecognized character {c:?} in {expr:?}: a path starts with '.' or '[' (as in {{.metadata.name}})"
                ))
            }
        }
    }
    Ok(stages)
}

/// The content of `[...]` (after the `[`) and what follows the `]`; quote-aware, and a
/// filter `[?(...)]` ends at the `)]` outside quotes.
fn bracket(s: &str) -> Result<(&str, &str), String> {
    unquoted(s)
        .find(|&(_, c, depth)| c == ']' && depth == 0)
        .map(|(i, _, _)| (&s[..i], &s[i + 1..]))
        .ok_or_else(|| format!("unterminated array: no ']' closes [{}", excerpt(s)))
}

/// Splits at commas outside quotes and parentheses.
fn split_union(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, _, _) in unquoted(s).filter(|&(_, c, depth)| c == ',' && depth == 0) {
        parts.push(&s[start..i]);
        start = i + 1;
    }
    parts.push(&s[start..]);
    parts
}

/// The stages of `[content]`.
fn bracket_stages(content: &str) -> Result<Vec<Stage>, String> {
    let content = content.trim();
    if let Some(filter) = content.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        return Ok(vec![query(&format!("[?{}]", filter_expr(filter)?), None)?]);
    }
    let parts = split_union(content);
    if parts.len() > 1 {
        let alternatives = parts
            .into_iter()
            .map(|p| bracket_stages(p.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(vec![Stage::Union(alternatives)]);
    }
    // `['a.b']` is the path `.a.b`, as in kubectl.
    if let Some(key) = content
        .strip_prefix('\'')
        .and_then(|k| k.strip_suffix('\''))
        .filter(|k| !k.contains('\''))
    {
        return path(&format!(".{key}"));
    }
    Ok(vec![query(&format!("[{}]", selector(content)?), None)?])
}

/// An index, a slice or `*` as an RFC 9535 selector.
fn selector(content: &str) -> Result<String, String> {
    let content = content.trim();
    if content == "*" {
        return Ok("*".into());
    }
    if let Some(key) = content
        .strip_prefix('\'')
        .and_then(|k| k.strip_suffix('\''))
    {
        return Ok(quoted_name(key));
    }
    let parts: Vec<&str> = content.split(':').collect();
    let numeric = |p: &str| {
        let digits = p.strip_prefix('-').unwrap_or(p);
        digits.chars().all(|c| c.is_ascii_digit())
    };
    if content.is_empty() || parts.len() > 3 || !parts.iter().all(|p| numeric(p)) {
        return Err(format!(
            "invalid array index [{content}]: expected an index, a slice (start:end:step), *, 'key' or a filter ?(...)"
        ));
    }
    Ok(content.to_string())
}

/// kubectl's filter (`@.a.b < 3`, `@.name == "x"`, `@.a`) as an RFC 9535 logical
/// expression.
fn filter_expr(filter: &str) -> Result<String, String> {
    let op_start = filter.find(['!', '<', '>', '=']);
    let Some(start) = op_start else {
        return operand(filter);
    };
    let op_len = filter[start..]
        .find(|c: char| !matches!(c, '!' | '<' | '>' | '='))
        .unwrap_or(filter.len() - start);
    let op = &filter[start..start + op_len];
    if !matches!(op, "==" | "!=" | "<" | "<=" | ">" | ">=") {
        return Err(format!(
            "unrecognized filter operator {op:?} in [?({filter})]: use ==, !=, <, <=, > or >="
        ));
    }
    Ok(format!(
        "{} {op} {}",
        operand(&filter[..start])?,
        operand(&filter[start + op_len..])?
    ))
}

/// One side of a filter comparison.
fn operand(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.starts_with('@') || s.starts_with('$') || s.starts_with('.') || s.starts_with('[') {
        let mut rfc = String::from("@");
        for stage in path(s)? {
            match stage {
                Stage::Query { segment, .. } => rfc.push_str(&segment),
                Stage::Union(_) => {
                    return Err(format!("a filter compares one value: {s:?} is a union"))
                }
            }
        }
        return Ok(rfc);
    }
    if s.len() >= 2 && (s.starts_with('"') || s.starts_with('\'')) {
        return Ok(Value::String(unquote(s)?).to_string());
    }
    if s == "true" || s == "false" {
        return Ok(s.to_string());
    }
    let number = s.strip_prefix('+').unwrap_or(s);
    if number.parse::<f64>().is_ok() && !number.is_empty() {
        return Ok(number.to_string());
    }
    Err(format!(
        "invalid filter operand {s:?}: expected a path (@.field), a quoted string, a number, true or false"
    ))
}

fn eval(stages: &[Stage], input: Vec<Value>, allow_missing: bool) -> anyhow::Result<Vec<Value>> {
    let mut cur = input;
    for stage in stages {
        cur = match stage {
            Stage::Query { path, field, .. } => {
                let out: Vec<Value> = cur
                    .iter()
                    .flat_map(|v| path.query(v).all().into_iter().cloned())
                    .collect();
                if let Some(name) = field {
                    if out.is_empty() && !cur.is_empty() && !allow_missing {
                        anyhow::bail!("{name} is not found (--allow-missing-template-keys=false)");
                    }
                }
                out
            }
            Stage::Union(alternatives) => {
                let mut out = Vec::new();
                for a in alternatives {
                    out.extend(eval(a, cur.clone(), allow_missing)?);
                }
                out
            }
        };
    }
    Ok(cur)
}

/// Runs nodes with `current` as the data; each text and expression adds one group.
fn run(
    nodes: &[Node],
    current: &Value,
    allow_missing: bool,
    groups: &mut Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    for node in nodes {
        match node {
            Node::Text(t) => groups.push(vec![Value::String(t.clone())]),
            Node::Expr(stages) => groups.push(eval(stages, vec![current.clone()], allow_missing)?),
            Node::Range { expr, body } => {
                for item in eval(expr, vec![current.clone()], allow_missing)? {
                    run(body, &item, allow_missing, groups)?;
                }
            }
        }
    }
    Ok(())
}

/// One result as kubectl prints it.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => go_float(n.as_f64().unwrap_or(0.0)),
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".into(),
        Value::Array(_) | Value::Object(_) => go_json(v, false),
    }
}

/// JSON as Go's `encoding/json` writes it: `<`, `>` and `&` escaped; indented by four
/// spaces when `indent`.
fn go_json(v: &Value, indent: bool) -> String {
    let text = if indent {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        serde::Serialize::serialize(v, &mut ser).expect("a JSON value serializes");
        String::from_utf8(buf).expect("JSON is UTF-8")
    } else {
        v.to_string()
    };
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A float64 as Go's `fmt.Print` writes it (`%v`): the shortest digits, in exponent form
/// when the exponent is below -4 or at least 6 (`3.1535999e+07`).
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is a number");
    if (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, data: &Value) -> String {
        JsonPathTemplate::parse(template)
            .unwrap_or_else(|e| panic!("{template}: {e}"))
            .render(data, true, false)
            .unwrap()
    }

    fn expiration() -> Value {
        json!({
            "kind": "CertificateExpirationInfo",
            "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
            "certificates": [
                {"name": "admin.conf", "expirationDate": "2027-01-01T00:00:00Z", "residualTime": 31535999, "externallyManaged": false, "caName": "ca", "missing": false},
                {"name": "apiserver", "expirationDate": "2026-01-02T00:00:00Z", "residualTime": 86399, "externallyManaged": false, "caName": "ca", "missing": false},
                {"name": "front-proxy-client", "expirationDate": null, "residualTime": 0, "externallyManaged": false, "missing": true}
            ],
            "certificateAuthorities": [
                {"name": "ca", "expirationDate": "2035-01-01T00:00:00Z", "residualTime": 315359999, "externallyManaged": false, "missing": false}
            ]
        })
    }

    #[test]
    fn kubesprays_renewal_filter() {
        // Certificates with less than 30 days left, as kubespray's renewal script asks.
        assert_eq!(
            render(
                "{.certificates[?(@.residualTime<2592000.0)]}",
                &expiration()
            ),
            r#"{"caName":"ca","expirationDate":"2026-01-02T00:00:00Z","externallyManaged":false,"missing":false,"name":"apiserver","residualTime":86399} {"expirationDate":null,"externallyManaged":false,"missing":true,"name":"front-proxy-client","residualTime":0}"#
        );
        assert_eq!(
            render("{.certificates[?(@.residualTime<0.0)]}", &expiration()),
            ""
        );
        // An integer bound works as well (kubectl compares numbers as float64).
        assert_eq!(
            render(
                "{.certificates[?(@.residualTime < 100000)].name}",
                &expiration()
            ),
            "apiserver front-proxy-client"
        );
    }

    #[test]
    fn kubectls_forms() {
        let d = expiration();
        let cases = [
            ("{.kind}", "CertificateExpirationInfo"),
            ("kind is {.kind}", "kind is CertificateExpirationInfo"),
            ("{$.kind}", "CertificateExpirationInfo"),
            ("{['kind']}", "CertificateExpirationInfo"),
            (
                "{.certificates[*].name}",
                "admin.conf apiserver front-proxy-client",
            ),
            ("{.certificates[0].name}", "admin.conf"),
            ("{.certificates[-1].name}", "front-proxy-client"),
            ("{.certificates[1:].name}", "apiserver front-proxy-client"),
            (
                "{.certificates[0:3:2].name}",
                "admin.conf front-proxy-client",
            ),
            ("{.certificates[?(@.name==\"apiserver\")].caName}", "ca"),
            ("{.certificates[?(@.name=='apiserver')].caName}", "ca"),
            (
                "{.certificates[?(@.missing==true)].name}",
                "front-proxy-client",
            ),
            ("{.certificates[?(@.caName)].name}", "admin.conf apiserver"),
            ("{.certificates[0]['name','caName']}", "admin.conf ca"),
            (
                "{.certificateAuthorities[*]['name', 'residualTime']}",
                "ca 3.15359999e+08",
            ),
            ("{..caName}", "ca ca"),
            (
                "{range .certificates[*]}{.name}{\"\\t\"}{.residualTime}{\"\\n\"}{end}",
                "admin.conf\t3.1535999e+07\napiserver\t86399\nfront-proxy-client\t0\n",
            ),
            (
                "{range .certificates[?(@.missing==false)]}[{.name}]{end} done",
                "[admin.conf][apiserver] done",
            ),
            ("{.certificates[2].expirationDate}", "<nil>"),
            ("{.certificates[2].missing}", "true"),
            ("{.nothing}", ""),
            (
                "{.certificateAuthorities[0]}",
                r#"{"expirationDate":"2035-01-01T00:00:00Z","externallyManaged":false,"missing":false,"name":"ca","residualTime":315359999}"#,
            ),
        ];
        for (template, want) in cases {
            assert_eq!(render(template, &d), want, "{template}");
        }
        // Names run to the next terminator; a backslash keeps a dot.
        let labels = json!({"metadata": {"labels": {"app.kubernetes.io/name": "x", "a-b": "y"}}});
        assert_eq!(
            render("{.metadata.labels.app\\.kubernetes\\.io/name}", &labels),
            "x"
        );
        assert_eq!(render("{.metadata.labels.a-b}", &labels), "y");
        assert_eq!(render("{.metadata['labels']['a-b']}", &labels), "y");
    }

    #[test]
    fn as_json_prints_each_expression_as_an_array() {
        let t = JsonPathTemplate::parse("{.certificates[?(@.residualTime<100000)].name}").unwrap();
        assert_eq!(
            t.render(&expiration(), true, true).unwrap(),
            "[\n    \"apiserver\",\n    \"front-proxy-client\"\n]\n"
        );
    }

    #[test]
    fn missing_keys_fail_when_not_allowed() {
        let t = JsonPathTemplate::parse("{.nothing}").unwrap();
        assert_eq!(t.render(&expiration(), true, false).unwrap(), "");
        let e = t.render(&expiration(), false, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nothing is not found (--allow-missing-template-keys=false)"
        );
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        for (template, error) in [
            ("{.a", "unclosed action"),
            ("{.a[0}", "unterminated array"),
            ("{end}", "{end} without a {range}"),
            ("{.a[x]}", "invalid array index [x]"),
            ("{.a[?(@.b=~1)]}", "unrecognized filter operator"),
            ("{kind}", "unrecognized character 'k'"),
        ] {
            let e = JsonPathTemplate::parse(template).err().unwrap();
            assert!(e.contains(error), "{template}: {e}");
        }
    }

    #[test]
    fn numbers_print_as_go_prints_a_float64() {
        for (f, want) in [
            (31535999.0, "3.1535999e+07"),
            (86399.0, "86399"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-1.5, "-1.5"),
            (1e100, "1e+100"),
            (0.0, "0"),
        ] {
            assert_eq!(go_float(f), want, "{f}");
        }
    }
}

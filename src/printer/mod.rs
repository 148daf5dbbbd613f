//! `-o`/`--output` as upstream's kubeadm reads it (its `output.PrintFlags`, on `certs
//! check-expiration`, `token list`, `config images list` and `upgrade plan`): `text` (the
//! command's own table or list), `json` and `yaml` (the `output.kubeadm.k8s.io/v1alpha3`
//! object), kubectl's JSONPath templates (`jsonpath=`, `jsonpath-as-json=`,
//! `jsonpath-file=`) and Go templates (`go-template=`, `template=`, `go-template-file=`,
//! `templatefile=`), with `--allow-missing-template-keys`.

mod gotemplate;
mod jsonpath;

use std::cell::Cell;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::host::Host;

pub use jsonpath::JsonPathTemplate;

/// Every `-o` value upstream's printers take, sorted as its error lists them.
const ALLOWED: &[&str] = &[
    "go-template",
    "go-template-file",
    "json",
    "jsonpath",
    "jsonpath-as-json",
    "jsonpath-file",
    "template",
    "templatefile",
    "text",
    "yaml",
];

/// An `-o` value that names no printer, or a template that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    /// No printer has this name.
    #[error("unable to match a printer suitable for the output format {given:?}, allowed formats are: {}", ALLOWED.join(","))]
    Unknown {
        /// The `-o` value.
        given: String,
    },
    /// A template format without a template.
    #[error("template format specified but no template given: write it after '=', as in -o {format}=<template>")]
    NoTemplate {
        /// `jsonpath`, `go-template`, ...
        format: String,
    },
    /// The template file of a `-file` format could not be read.
    #[error("reading the template file {path} of -o {format}: {cause}")]
    ReadTemplate {
        /// The file.
        path: String,
        /// `jsonpath-file`, ...
        format: String,
        /// Why.
        cause: String,
    },
    /// The template does not parse.
    #[error("error parsing {kind} template {template:?}: {cause}")]
    Parse {
        /// `jsonpath` or `go`.
        kind: &'static str,
        /// The template text.
        template: String,
        /// Where and what.
        cause: String,
    },
}

/// How to print.
enum Format {
    Text,
    Json,
    Yaml,
    JsonPath {
        template: JsonPathTemplate,
        as_json: bool,
    },
    GoTemplate(gotemplate::GoTemplate),
}

/// The printer `-o` chose.
pub struct Printer {
    format: Format,
    allow_missing_keys: bool,
    /// Objects printed so far (YAML separates them with `---`).
    printed: Cell<usize>,
}

impl Printer {
    /// The printer for `-o <output>` with `--allow-missing-template-keys`; template files
    /// (`jsonpath-file=`, `go-template-file=`, `templatefile=`) are read through `host`.
    pub fn new(
        output: &str,
        allow_missing_keys: bool,
        host: &dyn Host,
    ) -> Result<Self, PrinterError> {
        let format = match output.to_lowercase().as_str() {
            "json" => Some(Format::Json),
            "yaml" => Some(Format::Yaml),
            _ if output == "text" => Some(Format::Text),
            _ => None,
        };
        let format = match format {
            Some(f) => f,
            None => template_format(output, host)?,
        };
        Ok(Printer {
            format,
            allow_missing_keys,
            printed: Cell::new(0),
        })
    }

    /// True for `-o text`: the command prints its own text, and its progress lines.
    pub fn is_text(&self) -> bool {
        matches!(self.format, Format::Text)
    }

    /// Prints one object (`-o text` prints nothing here; the command prints its text).
    /// JSON as upstream's printer writes it (the object's fields in order, four-space
    /// indent); YAML with sorted keys, `---` before every object but the first; templates
    /// with the object as JSON data.
    pub fn print(&self, obj: &impl Serialize, out: &mut dyn Write) -> anyhow::Result<()> {
        let n = self.printed.get();
        self.printed.set(n + 1);
        match &self.format {
            Format::Text => Ok(()),
            Format::Json => {
                let mut buf = Vec::new();
                let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
                obj.serialize(&mut serde_json::Serializer::with_formatter(&mut buf, fmt))?;
                buf.push(b'\n');
                out.write_all(&buf)?;
                Ok(())
            }
            Format::Yaml => {
                if n > 0 {
                    out.write_all(b"---\n")?;
                }
                let sorted = serde_json::to_value(obj)?;
                out.write_all(crate::yaml::to_string(&sorted)?.as_bytes())?;
                Ok(())
            }
            Format::JsonPath { template, as_json } => {
                let data = serde_json::to_value(obj)?;
                let text = template.render(&data, self.allow_missing_keys, *as_json)?;
                out.write_all(text.as_bytes())?;
                Ok(())
            }
            Format::GoTemplate(t) => {
                let data = serde_json::to_value(obj)?;
                let text = t.render(&data, self.allow_missing_keys)?;
                out.write_all(text.as_bytes())?;
                Ok(())
            }
        }
    }
}

/// `jsonpath=...`, `go-template-file=...` and the others that carry a template.
fn template_format(output: &str, host: &dyn Host) -> Result<Format, PrinterError> {
    let (name, value) = output.split_once('=').unwrap_or((output, ""));
    let known = [
        "jsonpath",
        "jsonpath-as-json",
        "jsonpath-file",
        "go-template",
        "go-template-file",
        "template",
        "templatefile",
    ];
    if !known.contains(&name) {
        return Err(PrinterError::Unknown {
            given: output.to_string(),
        });
    }
    if value.is_empty() {
        return Err(PrinterError::NoTemplate {
            format: name.to_string(),
        });
    }
    let text = if name.ends_with("-file") || name == "templatefile" {
        host.read_to_string(Path::new(value))
            .map_err(|e| PrinterError::ReadTemplate {
                path: value.to_string(),
                format: name.to_string(),
                cause: e.to_string(),
            })?
    } else {
        value.to_string()
    };
    if name.starts_with("jsonpath") {
        let template = JsonPathTemplate::parse(&text).map_err(|cause| PrinterError::Parse {
            kind: "jsonpath",
            template: text.clone(),
            cause,
        })?;
        Ok(Format::JsonPath {
            template,
            as_json: name == "jsonpath-as-json",
        })
    } else {
        let t = gotemplate::GoTemplate::parse(&text).map_err(|cause| PrinterError::Parse {
            kind: "go",
            template: text.clone(),
            cause,
        })?;
        Ok(Format::GoTemplate(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::RealHost;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Doc {
        kind: &'static str,
        api_version: &'static str,
        items: Vec<u32>,
    }

    fn doc() -> Doc {
        Doc {
            kind: "Images",
            api_version: "output.kubeadm.k8s.io/v1alpha3",
            items: vec![1, 2],
        }
    }

    fn print(output: &str, docs: usize) -> Result<String, String> {
        let root = tempfile::tempdir().unwrap();
        let host = RealHost::new(root.path().to_path_buf());
        let p = Printer::new(output, true, &host).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for _ in 0..docs {
            p.print(&doc(), &mut out).map_err(|e| format!("{e:#}"))?;
        }
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn json_is_upstreams_four_space_indent_in_field_order() {
        assert_eq!(
            print("json", 1).unwrap(),
            "{\n    \"kind\": \"Images\",\n    \"apiVersion\": \"output.kubeadm.k8s.io/v1alpha3\",\n    \"items\": [\n        1,\n        2\n    ]\n}\n"
        );
        // Upstream lower-cases json and yaml.
        assert!(print("JSON", 1).is_ok());
    }

    #[test]
    fn yaml_sorts_keys_and_separates_documents() {
        assert_eq!(
            print("yaml", 2).unwrap(),
            "apiVersion: output.kubeadm.k8s.io/v1alpha3\nitems:\n- 1\n- 2\nkind: Images\n---\napiVersion: output.kubeadm.k8s.io/v1alpha3\nitems:\n- 1\n- 2\nkind: Images\n"
        );
    }

    #[test]
    fn templates_of_every_kind() {
        assert_eq!(print("jsonpath={.kind}", 1).unwrap(), "Images");
        assert_eq!(
            print("jsonpath-as-json={.items[*]}", 1).unwrap(),
            "[\n    1,\n    2\n]\n"
        );
        assert_eq!(print("go-template={{.kind}}", 1).unwrap(), "Images");
        assert_eq!(print("template={{len .items}}", 1).unwrap(), "2");
        assert_eq!(print("text", 1).unwrap(), "");
    }

    #[test]
    fn template_files_are_read_through_the_host() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("t")).unwrap();
        std::fs::write(root.path().join("t/jp"), "{.apiVersion}").unwrap();
        std::fs::write(root.path().join("t/go"), "{{.kind}}!").unwrap();
        let host = RealHost::new(root.path().to_path_buf());
        for (o, want) in [
            ("jsonpath-file=/t/jp", "output.kubeadm.k8s.io/v1alpha3"),
            ("go-template-file=/t/go", "Images!"),
            ("templatefile=/t/go", "Images!"),
        ] {
            let p = Printer::new(o, true, &host).unwrap();
            let mut out = Vec::new();
            p.print(&doc(), &mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{o}");
        }
        let e = Printer::new("jsonpath-file=/t/none", true, &host)
            .err()
            .unwrap();
        assert!(e
            .to_string()
            .starts_with("reading the template file /t/none of -o jsonpath-file: "));
    }

    #[test]
    fn bad_formats_say_what_is_allowed() {
        assert_eq!(
            print("xml", 1).unwrap_err(),
            "unable to match a printer suitable for the output format \"xml\", allowed formats are: go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,template,templatefile,text,yaml"
        );
        assert_eq!(
            print("jsonpath", 1).unwrap_err(),
            "template format specified but no template given: write it after '=', as in -o jsonpath=<template>"
        );
        assert!(print("jsonpath={.a", 1)
            .unwrap_err()
            .starts_with("error parsing jsonpath template \"{.a\": "));
        assert!(print("go-template={{.a", 1)
            .unwrap_err()
            .starts_with("error parsing go template \"{{.a\": "));
    }
}

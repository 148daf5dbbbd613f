//! Reading a kubeadm configuration file: YAML documents separated by `---`, each
//! dispatched on its `apiVersion` and `kind`, decoded strictly. Errors name the file, the
//! line and column, the document's kind and the field path.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{v1beta3, v1beta4};

/// The kubelet's component config group.
pub const KUBELET_API_VERSION: &str = "kubelet.config.k8s.io/v1beta1";
/// kube-proxy's component config group.
pub const KUBE_PROXY_API_VERSION: &str = "kubeproxy.config.k8s.io/v1alpha1";

/// The documents of one configuration file, in v1beta4 form.
#[derive(Debug, Clone, Default)]
pub struct Documents {
    /// `InitConfiguration`.
    pub init: Option<v1beta4::InitConfiguration>,
    /// `ClusterConfiguration`.
    pub cluster: Option<v1beta4::ClusterConfiguration>,
    /// `JoinConfiguration`.
    pub join: Option<v1beta4::JoinConfiguration>,
    /// `ResetConfiguration`.
    pub reset: Option<v1beta4::ResetConfiguration>,
    /// `UpgradeConfiguration`.
    pub upgrade: Option<v1beta4::UpgradeConfiguration>,
    /// `KubeletConfiguration`, kept whole.
    pub kubelet: Option<serde_yaml_ng::Mapping>,
    /// `KubeProxyConfiguration`, kept whole.
    pub kube_proxy: Option<serde_yaml_ng::Mapping>,
    /// Things worth telling the user (deprecated versions, ignored documents).
    pub warnings: Vec<String>,
    /// True when a document used v1beta3.
    pub from_v1beta3: bool,
    /// Where each document came from, to point validation errors at their lines.
    pub sources: Vec<Source>,
}

/// One document's place in its file.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// The file as the user named it.
    pub file: String,
    /// The document's kind.
    pub kind: String,
    /// The line the document starts on.
    pub first_line: usize,
    /// The document's text.
    pub text: String,
}

impl std::fmt::Debug for Source {
    // The text may hold tokens and keys: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("file", &self.file)
            .field("kind", &self.kind)
            .field("first_line", &self.first_line)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .finish()
    }
}

impl Documents {
    /// Adds the file and line to each validation error whose field is written in a
    /// document of this file.
    pub fn locate(
        &self,
        mut errors: super::validation::ValidationErrors,
    ) -> super::validation::ValidationErrors {
        for e in &mut errors.0 {
            let (kind, path) = e.path.split_once('.').unwrap_or((e.path.as_str(), ""));
            if let Some(src) = self.sources.iter().find(|s| s.kind == kind) {
                let line = super::locate::line_of(&src.text, path)
                    .map(|l| src.first_line + l - 1)
                    .unwrap_or(src.first_line);
                e.location = Some((src.file.clone(), line));
            }
        }
        errors
    }
}

/// A configuration file kubeadm cannot use, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    /// The file, as the user named it.
    pub file: String,
    /// The line (1-based) of the problem, or of the document's start.
    pub line: usize,
    /// What is wrong and what would be right.
    pub message: String,
}

struct Chunk<'a> {
    text: &'a str,
    first_line: usize,
}

/// Splits a YAML stream at `---` lines, remembering where each document starts. A byte
/// order mark at the start of a document is dropped: upstream splits the file into
/// documents first and its YAML reader skips a mark at the start of each.
fn split(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut first_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line,
            });
            start = offset + line.len();
            first_line = i + 2;
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        text: &text[start..],
        first_line,
    });
    chunks
        .into_iter()
        .map(|c| Chunk {
            text: c.text.strip_prefix('\u{feff}').unwrap_or(c.text),
            first_line: c.first_line,
        })
        .filter(|c| {
            c.text
                .lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

/// Turns a decoding error into `line: Kind: path: message`, with the line in the file and
/// the full field path (`timeouts.discovery`).
fn decode_error(
    file: &str,
    chunk: &Chunk<'_>,
    kind: &str,
    path: &str,
    e: &serde_yaml_ng::Error,
) -> ConfigError {
    let text = e.to_string();
    let (mut message, line) = match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            let msg = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
            (
                format!("{msg} (column {})", loc.column()),
                chunk.first_line + loc.line() - 1,
            )
        }
        None => (text, chunk.first_line),
    };
    // The YAML library prefixes what it knows of the path; the full path replaces it.
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.contains(' ') && path.starts_with(prefix) {
            message = rest.to_string();
        }
    }
    let path = if path.is_empty() || path == "." {
        String::new()
    } else {
        format!("{path}: ")
    };
    ConfigError {
        file: file.into(),
        line,
        message: format!("{kind}: {path}{message}"),
    }
}

fn decode<T: DeserializeOwned>(
    file: &str,
    chunk: &Chunk<'_>,
    kind: &str,
) -> Result<T, ConfigError> {
    let de = serde_yaml_ng::Deserializer::from_str(chunk.text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        decode_error(file, chunk, kind, &path, e.inner())
    })
}

#[derive(Deserialize)]
struct TypeMeta {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    kind: Option<serde_yaml_ng::Value>,
}

fn as_text(v: &Option<serde_yaml_ng::Value>) -> Option<String> {
    v.as_ref().and_then(|v| v.as_str()).map(str::to_string)
}

/// Reads a configuration file's text.
pub fn parse(text: &str, file: &str) -> Result<Documents, ConfigError> {
    if let Some(line) = crate::yaml::flow_depth_exceeded(text) {
        return Err(ConfigError {
            file: file.into(),
            line,
            message: format!(
                "more than {} nested '[' or '{{'; no configuration needs that many, refusing to parse it (is it the right file?)",
                crate::yaml::MAX_FLOW_DEPTH
            ),
        });
    }
    let mut docs = Documents::default();
    let mut v1beta3_cluster_timeout = None;
    let mut v1beta3_init: Option<v1beta3::InitConfiguration> = None;
    for chunk in split(text) {
        let err = |message: String| ConfigError {
            file: file.into(),
            line: chunk.first_line,
            message,
        };
        let meta: TypeMeta = serde_yaml_ng::from_str(chunk.text)
            .map_err(|e| decode_error(file, &chunk, "document", "", &e))?;
        let (Some(api_version), Some(kind)) = (as_text(&meta.api_version), as_text(&meta.kind))
        else {
            return Err(err(
                "a document without apiVersion and kind; every document needs both, for example \"apiVersion: kubeadm.k8s.io/v1beta4\" and \"kind: InitConfiguration\"".into(),
            ));
        };
        // Each kind may appear once.
        let twice = || ConfigError {
            file: file.into(),
            line: chunk.first_line,
            message: format!("a second {kind} document; a file may hold each kind once"),
        };
        fn put<T: DeserializeOwned>(
            slot: &mut Option<T>,
            file: &str,
            chunk: &Chunk<'_>,
            kind: &str,
            twice: impl Fn() -> ConfigError,
        ) -> Result<(), ConfigError> {
            if slot.is_some() {
                return Err(twice());
            }
            *slot = Some(decode(file, chunk, kind)?);
            Ok(())
        }
        docs.sources.push(Source {
            file: file.into(),
            kind: kind.clone(),
            first_line: chunk.first_line,
            text: chunk.text.to_string(),
        });
        match (api_version.as_str(), kind.as_str()) {
            (v1beta4::API_VERSION, "InitConfiguration") => {
                if v1beta3_init.is_some() {
                    return Err(twice());
                }
                put(&mut docs.init, file, &chunk, &kind, twice)?
            }
            (v1beta4::API_VERSION, "ClusterConfiguration") => {
                put(&mut docs.cluster, file, &chunk, &kind, twice)?
            }
            (v1beta4::API_VERSION, "JoinConfiguration") => put(&mut docs.join, file, &chunk, &kind, twice)?,
            (v1beta4::API_VERSION, "ResetConfiguration") => {
                put(&mut docs.reset, file, &chunk, &kind, twice)?
            }
            (v1beta4::API_VERSION, "UpgradeConfiguration") => {
                put(&mut docs.upgrade, file, &chunk, &kind, twice)?
            }
            (v1beta3::API_VERSION, "InitConfiguration") => {
                docs.from_v1beta3 = true;
                if docs.init.is_some() {
                    return Err(twice());
                }
                put(&mut v1beta3_init, file, &chunk, &kind, twice)?;
            }
            (v1beta3::API_VERSION, "ClusterConfiguration") => {
                docs.from_v1beta3 = true;
                if docs.cluster.is_some() {
                    return Err(twice());
                }
                let c: v1beta3::ClusterConfiguration = decode(file, &chunk, &kind)?;
                v1beta3_cluster_timeout = c.api_server.timeout_for_control_plane;
                docs.cluster = Some(c.into_v1beta4());
            }
            (v1beta3::API_VERSION, "JoinConfiguration") => {
                docs.from_v1beta3 = true;
                if docs.join.is_some() {
                    return Err(twice());
                }
                let j: v1beta3::JoinConfiguration = decode(file, &chunk, &kind)?;
                docs.join = Some(j.into_v1beta4());
            }
            (KUBELET_API_VERSION, "KubeletConfiguration") => {
                put(&mut docs.kubelet, file, &chunk, &kind, twice)?
            }
            (KUBE_PROXY_API_VERSION, "KubeProxyConfiguration") => {
                put(&mut docs.kube_proxy, file, &chunk, &kind, twice)?
            }
            (v, k) if v == v1beta4::API_VERSION || v == v1beta3::API_VERSION => {
                return Err(err(format!(
                    "unknown kind {k:?} for {v}; the kinds are InitConfiguration, ClusterConfiguration, JoinConfiguration, ResetConfiguration and UpgradeConfiguration (the last two in v1beta4 only)"
                )));
            }
            (v, k) if v.starts_with("kubeadm.k8s.io/") => {
                return Err(err(format!(
                    "your configuration file uses an old or unknown API spec: {v:?} (kind: {k:?}); kubeadm-rs reads kubeadm.k8s.io/v1beta4 and kubeadm.k8s.io/v1beta3. Convert older files with the kubeadm release that still reads them ('kubeadm config migrate')"
                )));
            }
            (v, k) => docs.warnings.push(format!(
                "[config] WARNING: Ignored configuration document with GroupVersionKind {v}, Kind={k} ({file}:{})",
                chunk.first_line
            )),
        }
    }
    if let Some(init) = v1beta3_init {
        docs.init = Some(init.into_v1beta4(v1beta3_cluster_timeout));
    } else if let Some(t) = v1beta3_cluster_timeout {
        // v1beta4 keeps this timeout in the InitConfiguration: make one to hold it rather
        // than drop the user's value.
        docs.init
            .get_or_insert_with(Default::default)
            .timeouts
            .get_or_insert_with(Default::default)
            .control_plane_component_health_check = Some(t);
    }
    if docs.from_v1beta3 {
        docs.warnings.push(v1beta3_warning(file));
    }
    Ok(docs)
}

/// The warning a file written in `kubeadm.k8s.io/v1beta3` gets from every command but
/// `config migrate`: upstream removed that API in v1.37 (kubernetes/kubernetes#136016) and
/// refuses such files from then on; kubeadm-rs still reads them, and says how to convert.
pub fn v1beta3_warning(file: &str) -> String {
    format!(
        "[config] WARNING: {file} uses kubeadm.k8s.io/v1beta3, which upstream kubeadm removed in v1.37: upstream kubeadm v1.37 and later refuse this file. kubeadm-rs still reads it; convert it to kubeadm.k8s.io/v1beta4 with:\n\tkubeadm config migrate --old-config {file} --new-config new.yaml"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_starts_a_document() {
        let bom = "\u{feff}apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nclusterName: a\n---\n\u{feff}apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  bogus: 1\n";
        let e = parse(bom, "k.yaml").unwrap_err();
        // The mark moves no line: the error is where the field is.
        assert!(
            e.to_string()
                .starts_with("k.yaml:8: InitConfiguration: localAPIEndpoint.bogus: unknown field"),
            "{e}"
        );
        let docs = parse(&bom.replace("  bogus: 1\n", "  bindPort: 6443\n"), "k.yaml").unwrap();
        assert_eq!(docs.cluster.unwrap().cluster_name, "a");
        assert_eq!(docs.init.unwrap().local_api_endpoint.bind_port, 6443);
        // A file that is only a mark holds no document.
        assert!(parse("\u{feff}", "k.yaml").unwrap().sources.is_empty());
    }

    #[test]
    fn errors_carry_file_line_kind_and_field() {
        let text = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n---\n# node\napiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  bindPort: 6443\n  bogus: 1\n";
        let e = parse(text, "kubeadm.yaml").unwrap_err();
        assert_eq!(e.line, 9);
        assert_eq!(
            e.to_string(),
            "kubeadm.yaml:9: InitConfiguration: localAPIEndpoint.bogus: unknown field `bogus`, expected `advertiseAddress` or `bindPort` (column 3)"
        );
    }

    #[test]
    fn kinds_and_versions() {
        let e = parse(
            "apiVersion: kubeadm.k8s.io/v1beta2\nkind: InitConfiguration\n",
            "f",
        )
        .unwrap_err();
        assert!(e.message.contains("\"kubeadm.k8s.io/v1beta2\""), "{e}");
        let e = parse(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: NodeConfiguration\n",
            "f",
        )
        .unwrap_err();
        assert!(
            e.message.contains("unknown kind \"NodeConfiguration\""),
            "{e}"
        );
        let e = parse("foo: bar\n", "f").unwrap_err();
        assert!(e.message.contains("without apiVersion and kind"), "{e}");
        let d = parse("apiVersion: example.com/v1\nkind: Thing\n", "f").unwrap();
        assert!(d.warnings[0].contains(
            "Ignored configuration document with GroupVersionKind example.com/v1, Kind=Thing"
        ));
    }
}

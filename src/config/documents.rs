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
    /// Things worth telling the user (ignored documents and fields).
    pub warnings: Vec<String>,
    /// Warnings that the file uses a deprecated API version; kept apart because `config
    /// migrate`, and `config validate --allow-deprecated-api`, do not print them.
    pub deprecated: Vec<String>,
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
    /// The document's apiVersion.
    pub api_version: String,
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
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("first_line", &self.first_line)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .finish()
    }
}

/// Which command reads a file, for the documents it ignores: upstream's loaders each warn
/// about the kinds they skip, in their own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// `init`, its phases, and every command built on an InitConfiguration (`config
    /// images`, `certs`, `kubeconfig`, `token`): kinds other than Init/ClusterConfiguration,
    /// except component configurations.
    Init,
    /// `join`: other kinds are skipped silently.
    Join,
    /// `reset`: every kind other than ResetConfiguration.
    Reset,
    /// `upgrade`: every kind other than UpgradeConfiguration.
    Upgrade,
    /// `config validate` and `config migrate`: each kind present is read by its own loader
    /// (Init/Cluster, Join, Reset, Upgrade, in that order), each warning in its way.
    ValidateOrMigrate,
}

impl Documents {
    /// Upstream's warning for each document `reader` ignores, in upstream's words, with the
    /// document's place in the file.
    pub fn ignored_by(&self, reader: Reader) -> Vec<String> {
        let has = |kind: &str| self.sources.iter().any(|s| s.kind == kind);
        let passes: Vec<Reader> = match reader {
            Reader::ValidateOrMigrate => [
                (
                    has("InitConfiguration") || has("ClusterConfiguration"),
                    Reader::Init,
                ),
                (has("ResetConfiguration"), Reader::Reset),
                (has("UpgradeConfiguration"), Reader::Upgrade),
            ]
            .into_iter()
            .filter_map(|(present, r)| present.then_some(r))
            .collect(),
            other => vec![other],
        };
        let mut out = Vec::new();
        for pass in passes {
            for s in &self.sources {
                let component = [KUBELET_API_VERSION, KUBE_PROXY_API_VERSION]
                    .iter()
                    .any(|v| v.split('/').next() == s.api_version.split('/').next());
                let ignored = match pass {
                    Reader::Init => {
                        !matches!(
                            s.kind.as_str(),
                            "InitConfiguration" | "ClusterConfiguration"
                        ) && !component
                    }
                    Reader::Join | Reader::ValidateOrMigrate => false,
                    Reader::Reset => s.kind != "ResetConfiguration",
                    Reader::Upgrade => s.kind != "UpgradeConfiguration",
                };
                if ignored {
                    out.push(format!(
                        "[config] WARNING: Ignored configuration document with GroupVersionKind {}, Kind={} ({}:{})",
                        s.api_version, s.kind, s.file, s.first_line
                    ));
                }
            }
        }
        out
    }

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

/// One document of a YAML stream.
pub struct Chunk<'a> {
    /// Its text.
    pub text: &'a str,
    /// The line of the stream it starts on.
    pub first_line: usize,
}

/// Splits a YAML stream at `---` lines, remembering where each document starts. A byte
/// order mark at the start of a document is dropped: upstream splits the file into
/// documents first and its YAML reader skips a mark at the start of each. Documents of
/// nothing but blank lines and comments are left out.
pub fn split(text: &str) -> Vec<Chunk<'_>> {
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

/// How a file's documents are decoded. Upstream decodes with strict=false everywhere except
/// `config validate` and `config migrate`: an unknown field is then dropped and reported in
/// a warning (its strict decoding error) rather than refusing the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Unknown fields are errors (`config validate`, `config migrate`).
    Strict,
    /// Unknown fields are dropped with a warning (every other command).
    Lenient,
}

/// Whether a decoding error is serde's "unknown field" error.
fn is_unknown_field(e: &serde_yaml_ng::Error) -> bool {
    // The YAML library may put the path it knows before the message.
    let text = e.to_string();
    text.starts_with("unknown field `") || text.contains(": unknown field `")
}

/// Removes the key a path ends in from a YAML value; false when the path leads nowhere.
fn remove_path(value: &mut serde_yaml_ng::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((Segment::Map { key }, parents)) = segments.split_last() else {
        return false;
    };
    let mut at = value;
    for segment in parents {
        let next = match (segment, at) {
            (Segment::Map { key }, serde_yaml_ng::Value::Mapping(m)) => m.get_mut(key.as_str()),
            (Segment::Seq { index }, serde_yaml_ng::Value::Sequence(s)) => s.get_mut(*index),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    match at {
        serde_yaml_ng::Value::Mapping(m) => m.remove(key.as_str()).is_some(),
        _ => false,
    }
}

/// `schema.GroupVersionKind{...}` as Go's `%#v` prints it in upstream's messages.
fn go_gvk(api_version: &str, kind: &str) -> String {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    format!("schema.GroupVersionKind{{Group:{group:?}, Version:{version:?}, Kind:{kind:?}}}")
}

fn decode<T: DeserializeOwned>(
    file: &str,
    chunk: &Chunk<'_>,
    kind: &str,
    mode: &mut Decoding,
) -> Result<T, ConfigError> {
    let de = serde_yaml_ng::Deserializer::from_str(chunk.text);
    let first = match serde_path_to_error::deserialize(de) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    if mode.strictness == Strictness::Strict || !is_unknown_field(first.inner()) {
        let path = first.path().to_string();
        return Err(decode_error(file, chunk, kind, &path, first.inner()));
    }
    // Lenient: drop each unknown field in turn and decode what remains; an error of another
    // kind is still an error, pointed at its line.
    let line = decode_error(file, chunk, kind, "", first.inner()).line;
    let mut value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(chunk.text).map_err(|e| decode_error(file, chunk, kind, "", &e))?;
    let mut unknown = vec![first.path().to_string()];
    let mut path = first.path().clone();
    loop {
        if !remove_path(&mut value, &path) {
            return Err(decode_error(
                file,
                chunk,
                kind,
                &path.to_string(),
                first.inner(),
            ));
        }
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(v) => {
                let fields: Vec<String> = unknown
                    .iter()
                    .map(|p| format!("unknown field {p:?}"))
                    .collect();
                mode.warnings.push(format!(
                    "[config] WARNING: error unmarshaling configuration {}: strict decoding error: {} ({file}:{line}); {} ignored",
                    go_gvk(&mode.api_version, kind),
                    fields.join(", "),
                    if fields.len() == 1 { "the field is" } else { "the fields are" },
                ));
                return Ok(v);
            }
            Err(e) if is_unknown_field(e.inner()) => {
                unknown.push(e.path().to_string());
                path = e.path().clone();
            }
            Err(e) => {
                let path = e.path().to_string();
                let at = super::locate::line_of(chunk.text, &path)
                    .map(|l| chunk.first_line + l - 1)
                    .unwrap_or(chunk.first_line);
                let message = e.inner().to_string();
                let path = if path.is_empty() || path == "." {
                    String::new()
                } else {
                    format!("{path}: ")
                };
                return Err(ConfigError {
                    file: file.into(),
                    line: at,
                    message: format!("{kind}: {path}{message}"),
                });
            }
        }
    }
}

/// Upstream's strict check of a component configuration: its unknown fields are an error
/// in strict mode and a warning otherwise. The document itself is kept whole either way.
fn check_component(
    file: &str,
    chunk: &Chunk<'_>,
    kind: &str,
    shape: &super::componentfields::Shape,
    mode: &mut Decoding,
) -> Result<(), ConfigError> {
    let value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(chunk.text).map_err(|e| decode_error(file, chunk, kind, "", &e))?;
    let unknown = super::componentfields::unknown_fields(&value, shape);
    let Some(first) = unknown.first() else {
        return Ok(());
    };
    let line = super::locate::line_of(chunk.text, first)
        .map(|l| chunk.first_line + l - 1)
        .unwrap_or(chunk.first_line);
    let fields: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field {p:?}"))
        .collect();
    let detail = format!(
        "error unmarshaling configuration {}: strict decoding error: {}",
        go_gvk(&mode.api_version, kind),
        fields.join(", ")
    );
    match mode.strictness {
        Strictness::Strict => Err(ConfigError {
            file: file.into(),
            line,
            message: format!(
                "{kind}: {first}: unknown field; {} {kind} has no such field ({detail})",
                mode.api_version
            ),
        }),
        Strictness::Lenient => {
            mode.warnings
                .push(format!("[config] WARNING: {detail} ({file}:{line})"));
            Ok(())
        }
    }
}

/// The decoding mode of one file and the warnings it gave.
struct Decoding {
    strictness: Strictness,
    api_version: String,
    warnings: Vec<String>,
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

/// Reads a configuration file's text as every command but `config validate` and `config
/// migrate` does: unknown fields are warnings.
pub fn parse(text: &str, file: &str) -> Result<Documents, ConfigError> {
    parse_with(text, file, Strictness::Lenient)
}

/// Reads a configuration file's text, unknown fields being errors or warnings.
pub fn parse_with(
    text: &str,
    file: &str,
    strictness: Strictness,
) -> Result<Documents, ConfigError> {
    if let Some(line) = crate::yaml::flow_depth_exceeded(text) {
        return Err(ConfigError {
            file: file.into(),
            line,
            message: crate::yaml::too_deep(),
        });
    }
    let mut docs = Documents::default();
    let mut mode = Decoding {
        strictness,
        api_version: String::new(),
        warnings: Vec::new(),
    };
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
            mode: &mut Decoding,
        ) -> Result<(), ConfigError> {
            if slot.is_some() {
                return Err(twice());
            }
            *slot = Some(decode(file, chunk, kind, mode)?);
            Ok(())
        }
        mode.api_version = api_version.clone();
        let m = &mut mode;
        docs.sources.push(Source {
            file: file.into(),
            api_version: api_version.clone(),
            kind: kind.clone(),
            first_line: chunk.first_line,
            text: chunk.text.to_string(),
        });
        match (api_version.as_str(), kind.as_str()) {
            (v1beta4::API_VERSION, "InitConfiguration") => {
                if v1beta3_init.is_some() {
                    return Err(twice());
                }
                put(&mut docs.init, file, &chunk, &kind, twice, m)?
            }
            (v1beta4::API_VERSION, "ClusterConfiguration") => {
                put(&mut docs.cluster, file, &chunk, &kind, twice, m)?
            }
            (v1beta4::API_VERSION, "JoinConfiguration") => {
                put(&mut docs.join, file, &chunk, &kind, twice, m)?
            }
            (v1beta4::API_VERSION, "ResetConfiguration") => {
                put(&mut docs.reset, file, &chunk, &kind, twice, m)?
            }
            (v1beta4::API_VERSION, "UpgradeConfiguration") => {
                put(&mut docs.upgrade, file, &chunk, &kind, twice, m)?
            }
            (v1beta3::API_VERSION, "InitConfiguration") => {
                docs.from_v1beta3 = true;
                if docs.init.is_some() {
                    return Err(twice());
                }
                put(&mut v1beta3_init, file, &chunk, &kind, twice, m)?;
            }
            (v1beta3::API_VERSION, "ClusterConfiguration") => {
                docs.from_v1beta3 = true;
                if docs.cluster.is_some() {
                    return Err(twice());
                }
                let c: v1beta3::ClusterConfiguration = decode(file, &chunk, &kind, m)?;
                v1beta3_cluster_timeout = c.api_server.timeout_for_control_plane;
                docs.cluster = Some(c.into_v1beta4());
            }
            (v1beta3::API_VERSION, "JoinConfiguration") => {
                docs.from_v1beta3 = true;
                if docs.join.is_some() {
                    return Err(twice());
                }
                let j: v1beta3::JoinConfiguration = decode(file, &chunk, &kind, m)?;
                docs.join = Some(j.into_v1beta4());
            }
            (KUBELET_API_VERSION, "KubeletConfiguration") => {
                put(&mut docs.kubelet, file, &chunk, &kind, twice, m)?;
                check_component(file, &chunk, &kind, &super::componentfields::KUBELET, m)?;
            }
            (KUBE_PROXY_API_VERSION, "KubeProxyConfiguration") => {
                put(&mut docs.kube_proxy, file, &chunk, &kind, twice, m)?;
                check_component(file, &chunk, &kind, &super::componentfields::KUBE_PROXY, m)?;
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
            // `config validate` and `config migrate` refuse a kind no scheme knows, as
            // upstream's validateKnownGVKs.
            (v, k) if mode.strictness == Strictness::Strict => {
                return Err(err(format!(
                    "unknown configuration APIs: []schema.GroupVersionKind{{{}}}",
                    go_gvk(v, k)
                )))
            }
            // Ignored; which command warns about it, and how, is `Documents::ignored_by`.
            _ => {}
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
    docs.warnings.extend(mode.warnings);
    if docs.from_v1beta3 {
        docs.deprecated.push(v1beta3_warning(file));
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
        let e = parse_with(bom, "k.yaml", Strictness::Strict).unwrap_err();
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
        let e = parse_with(text, "kubeadm.yaml", Strictness::Strict).unwrap_err();
        assert_eq!(e.line, 9);
        assert_eq!(
            e.to_string(),
            "kubeadm.yaml:9: InitConfiguration: localAPIEndpoint.bogus: unknown field `bogus`, expected `advertiseAddress` or `bindPort` (column 3)"
        );
    }

    #[test]
    fn unknown_fields_are_warnings_unless_strict() {
        // sealos writes discovery.timeout (a v1beta3 field) into v1beta4 files.
        let text = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  timeout: 5m0s\n  bootstrapToken:\n    apiServerEndpoint: 10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n    unsafeSkipCAVerification: true\nnodeRegistration:\n  taints:\n  - key: a\n    effect: NoSchedule\n    bogus: x\n";
        let docs = parse(text, "join.yaml").unwrap();
        let join = docs.join.unwrap();
        assert_eq!(
            join.discovery.bootstrap_token.unwrap().api_server_endpoint,
            "10.0.0.1:6443"
        );
        assert_eq!(join.node_registration.taints.unwrap()[0].key, "a");
        assert_eq!(
            docs.warnings,
            ["[config] WARNING: error unmarshaling configuration schema.GroupVersionKind{Group:\"kubeadm.k8s.io\", Version:\"v1beta4\", Kind:\"JoinConfiguration\"}: strict decoding error: unknown field \"discovery.timeout\", unknown field \"nodeRegistration.taints[0].bogus\" (join.yaml:4); the fields are ignored"]
        );
        let e = parse_with(text, "join.yaml", Strictness::Strict).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(
            e.message
                .contains("discovery.timeout: unknown field `timeout`"),
            "{e}"
        );
        // Another error after an unknown field is still an error, at its line.
        let bad = text.replace(
            "    unsafeSkipCAVerification: true\n",
            "    unsafeSkipCAVerification: maybe\n",
        );
        let e = parse(&bad, "join.yaml").unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        assert!(
            e.message
                .contains("discovery.bootstrapToken.unsafeSkipCAVerification: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn component_configurations_are_checked_field_by_field() {
        let text = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\nmaxPod: 3\n---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  sheduler: rr\n";
        let docs = parse(text, "k.yaml").unwrap();
        assert_eq!(
            docs.warnings,
            [
                "[config] WARNING: error unmarshaling configuration schema.GroupVersionKind{Group:\"kubelet.config.k8s.io\", Version:\"v1beta1\", Kind:\"KubeletConfiguration\"}: strict decoding error: unknown field \"maxPod\" (k.yaml:4)",
                "[config] WARNING: error unmarshaling configuration schema.GroupVersionKind{Group:\"kubeproxy.config.k8s.io\", Version:\"v1alpha1\", Kind:\"KubeProxyConfiguration\"}: strict decoding error: unknown field \"ipvs.sheduler\" (k.yaml:10)",
            ]
        );
        // Kept whole: kubeadm passes the document on as written.
        assert!(docs.kubelet.unwrap().contains_key("maxPod"));
        let e = parse_with(text, "k.yaml", Strictness::Strict).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(
            e.message
                .starts_with("KubeletConfiguration: maxPod: unknown field;"),
            "{e}"
        );
        let e = parse_with(
            &text.replace("maxPod: 3\n", ""),
            "k.yaml",
            Strictness::Strict,
        )
        .unwrap_err();
        assert_eq!(e.line, 9);
        assert!(e.message.contains("unknown field \"ipvs.sheduler\""), "{e}");
    }

    #[test]
    fn each_reader_warns_about_what_it_ignores_as_upstream() {
        let text = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  file:\n    kubeConfigPath: /x\n---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\n";
        let d = parse(text, "k.yaml").unwrap();
        let gvk = |v: &str, k: &str, line: usize| {
            format!("[config] WARNING: Ignored configuration document with GroupVersionKind {v}, Kind={k} (k.yaml:{line})")
        };
        let join = gvk("kubeadm.k8s.io/v1beta4", "JoinConfiguration", 4);
        let reset = gvk("kubeadm.k8s.io/v1beta4", "ResetConfiguration", 13);
        let cluster = gvk("kubeadm.k8s.io/v1beta4", "ClusterConfiguration", 1);
        let kubelet = gvk("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration", 10);
        assert_eq!(d.ignored_by(Reader::Init), [join.clone(), reset.clone()]);
        assert!(d.ignored_by(Reader::Join).is_empty());
        assert_eq!(
            d.ignored_by(Reader::Reset),
            [cluster.clone(), join.clone(), kubelet.clone()]
        );
        assert_eq!(
            d.ignored_by(Reader::Upgrade),
            [
                cluster.clone(),
                join.clone(),
                kubelet.clone(),
                reset.clone()
            ]
        );
        assert_eq!(
            d.ignored_by(Reader::ValidateOrMigrate),
            [join.clone(), reset, cluster, join, kubelet]
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
        assert!(d.ignored_by(Reader::Init)[0].contains(
            "Ignored configuration document with GroupVersionKind example.com/v1, Kind=Thing (f:1)"
        ));
    }
}

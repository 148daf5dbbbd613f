//! The add-on manifests of a cluster file (`manifests:`): YAML or JSON files, or
//! directories of them, read on this machine as kubeadm reads its own files, and applied
//! with server-side apply (field manager `kubeadm-cluster`) through the cluster's admin
//! kubeconfig. Applying again updates what the files changed; nothing is ever deleted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kubeadm::client::{Api, ApiError};
use serde::Serialize;
use serde_json::Value;

use crate::spec::{Cluster, Manifest};

/// The field manager of every object applied.
pub const FIELD_MANAGER: &str = "kubeadm-cluster";

/// The file names a directory entry is read for.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// One object of the manifests.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    /// The file it is in.
    pub file: String,
    /// The line its document starts on.
    pub line: usize,
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its `kind`.
    pub kind: String,
    /// Its `metadata.namespace`, when given.
    pub namespace: Option<String>,
    /// Its `metadata.name`.
    pub name: String,
    /// The object as applied.
    #[serde(skip)]
    pub body: Value,
}

impl Object {
    /// `ConfigMap demo/settings`, `Namespace demo`.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// `file:line`.
    pub fn place(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// Reads every object of the cluster file's manifests, in the order they are applied:
/// Namespaces, then CustomResourceDefinitions, then the rest, each in the order of the
/// files (a directory's files by name).
pub fn read(c: &Cluster) -> anyhow::Result<Vec<Object>> {
    let mut objects = Vec::new();
    for (i, m) in c.manifests.iter().enumerate() {
        let at = |why: String| {
            let line = m.line.map(|l| format!(":{l}")).unwrap_or_default();
            anyhow::anyhow!("{}{line}: manifests[{i}]: {why}", c.file)
        };
        for file in files(m).map_err(at)? {
            let shown = file.display().to_string();
            objects.extend(read_file(&file, &shown)?);
        }
    }
    objects.sort_by_key(|o| rank(&o.kind));
    Ok(objects)
}

/// The files of a `manifests:` entry: the file itself, or a directory's YAML and JSON
/// files (not its subdirectories) by name.
fn files(m: &Manifest) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(&m.path).map_err(|e| {
        format!(
            "{}: {e}; give a YAML file or a directory of them",
            m.path.display()
        )
    })?;
    if !meta.is_dir() {
        return Ok(vec![m.path.clone()]);
    }
    let entries = std::fs::read_dir(&m.path).map_err(|e| format!("{}: {e}", m.path.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e))
                && !p.is_dir()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Namespaces first, then the definitions of custom kinds, then the rest.
fn rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        _ => 2,
    }
}

/// Reads the objects of one file, bounded as kubeadm reads its own files.
fn read_file(path: &Path, shown: &str) -> anyhow::Result<Vec<Object>> {
    use kubeadm::host::Host;
    let text = kubeadm::host::RealHost::new("/")
        .read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{shown}: cannot read the manifest: {}", e.cause_text()))?;
    kubeadm::yaml::check_nesting(&text, shown)?;
    parse(&text, shown)
}

/// The objects of a manifest's text; `file` names it in errors, which give the line and
/// never a value of the file (a manifest may hold Secrets).
pub fn parse(text: &str, file: &str) -> anyhow::Result<Vec<Object>> {
    let mut out = Vec::new();
    for doc in kubeadm::config::documents::split(text) {
        let value: Option<Value> = serde_yaml_ng::from_str(doc.text).map_err(|e| {
            let (line, why) = match e.location() {
                Some(l) => {
                    let msg = kubeadm::yaml::error_without_values(&e);
                    let why = msg
                        .split_once(": ")
                        .map_or(msg.clone(), |(_, w)| w.to_string());
                    (doc.first_line + l.line() - 1, why)
                }
                None => (doc.first_line, kubeadm::yaml::error_without_values(&e)),
            };
            anyhow::anyhow!("{file}:{line}: not a YAML or JSON object: {why}")
        })?;
        let Some(value) = value else { continue };
        // `kind: List` (and any list kind) holds its objects in `items`, as kubectl reads it.
        let is_list = value["kind"].as_str().is_some_and(|k| k.ends_with("List"))
            && value["items"].is_array();
        let values = if is_list {
            value["items"].as_array().cloned().unwrap_or_default()
        } else {
            vec![value]
        };
        for v in values {
            out.push(object(v, file, doc.first_line)?);
        }
    }
    Ok(out)
}

/// Checks one object: apiVersion, kind and a name that can be a path segment.
fn object(v: Value, file: &str, line: usize) -> anyhow::Result<Object> {
    let at = |why: &str| anyhow::anyhow!("{file}:{line}: {why}");
    if !v.is_object() {
        return Err(at("a document that is not an object; each document is one Kubernetes object (apiVersion, kind, metadata.name)"));
    }
    let text = |path: &[&str]| -> Option<String> {
        let mut cur = &v;
        for p in path {
            cur = cur.get(p)?;
        }
        cur.as_str().map(str::to_string)
    };
    let api_version = text(&["apiVersion"])
        .filter(|s| !s.is_empty())
        .ok_or_else(|| at("an object without apiVersion; give it (for example apiVersion: v1)"))?;
    let kind = text(&["kind"])
        .filter(|s| !s.is_empty())
        .ok_or_else(|| at("an object without kind; give it (for example kind: ConfigMap)"))?;
    let name = text(&["metadata", "name"]).filter(|s| !s.is_empty()).ok_or_else(|| {
        at(&format!(
            "{kind} without metadata.name; every object applied needs a name (generateName is not applied)"
        ))
    })?;
    let namespace = text(&["metadata", "namespace"]).filter(|s| !s.is_empty());
    for (what, s) in [
        ("metadata.name", Some(&name)),
        ("metadata.namespace", namespace.as_ref()),
    ] {
        if let Some(s) = s {
            if s == "." || s == ".." || s.contains(['/', '%']) || s.contains(char::is_control) {
                return Err(at(&format!(
                    "{kind}: {what} {:?} cannot be a name: give a DNS name (lower-case letters, digits, '-' and '.')",
                    s.chars().take(64).collect::<String>()
                )));
            }
        }
    }
    if api_version.split('/').count() > 2 || api_version.contains(char::is_whitespace) {
        return Err(at(&format!(
            "{kind}: apiVersion {:?} is not version or group/version",
            api_version.chars().take(64).collect::<String>()
        )));
    }
    Ok(Object {
        file: file.to_string(),
        line,
        api_version,
        kind,
        namespace,
        name,
        body: v,
    })
}

/// How one kind is served: its plural and whether it lives in a namespace.
#[derive(Debug, Clone)]
struct Served {
    plural: String,
    namespaced: bool,
}

/// The kinds of each group version the API server serves, read from its discovery
/// documents as they are needed.
#[derive(Default)]
struct Discovery {
    kinds: HashMap<String, HashMap<String, Served>>,
}

impl Discovery {
    fn read(&mut self, api: &dyn Api, api_version: &str) -> Result<(), ApiError> {
        let path = if api_version.contains('/') {
            format!("/apis/{api_version}")
        } else {
            format!("/api/{api_version}")
        };
        let list =
            match kubeadm::client::retry(8, || api.call("GET", &path, None, "application/json")) {
                Ok(l) => l,
                Err(e) if e.is_not_found() => Value::Null,
                Err(e) => return Err(e),
            };
        let kinds = list["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let plural = r["name"].as_str()?;
                // Subresources (`pods/status`) are not where objects are applied.
                if plural.contains('/') {
                    return None;
                }
                Some((
                    r["kind"].as_str()?.to_string(),
                    Served {
                        plural: plural.to_string(),
                        namespaced: r["namespaced"].as_bool().unwrap_or(false),
                    },
                ))
            })
            .collect();
        self.kinds.insert(api_version.to_string(), kinds);
        Ok(())
    }

    /// How `kind` of `api_version` is served; `refresh` reads discovery again (a custom
    /// kind whose definition was just applied appears once it is established).
    fn served(
        &mut self,
        api: &dyn Api,
        api_version: &str,
        kind: &str,
        refresh: bool,
    ) -> Result<Option<Served>, ApiError> {
        if refresh || !self.kinds.contains_key(api_version) {
            self.read(api, api_version)?;
        }
        Ok(self.kinds[api_version].get(kind).cloned())
    }
}

/// How long a custom kind is waited for after its definition was applied.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// A path segment as a URL carries it.
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Applies `objects` in their order with server-side apply, taking over fields other
/// managers set (the file is what the object should be); `applied` is told of each.
/// Stops at the first failure, naming the object and its place.
pub fn apply(
    api: &dyn Api,
    objects: &[Object],
    mut applied: impl FnMut(&Object),
) -> anyhow::Result<()> {
    let mut discovery = Discovery::default();
    let mut definitions_applied = false;
    for o in objects {
        let fail = |why: String| anyhow::anyhow!("{}: {}: {why}", o.place(), o.describe());
        let mut served = discovery
            .served(api, &o.api_version, &o.kind, false)
            .map_err(|e| fail(format!("reading the API's kinds: {e}")))?;
        let deadline = Instant::now() + ESTABLISH_TIMEOUT;
        while served.is_none() && definitions_applied && Instant::now() < deadline {
            std::thread::sleep(Duration::from_secs(1));
            served = discovery
                .served(api, &o.api_version, &o.kind, true)
                .map_err(|e| fail(format!("reading the API's kinds: {e}")))?;
        }
        let Some(served) = served else {
            return Err(fail(format!(
                "the cluster serves no kind {} in {}; is the apiVersion right, or its CustomResourceDefinition applied?",
                o.kind, o.api_version
            )));
        };
        let mut body = o.body.clone();
        let prefix = if o.api_version.contains('/') {
            format!("/apis/{}", o.api_version)
        } else {
            format!("/api/{}", o.api_version)
        };
        let path = if served.namespaced {
            // As kubectl: a namespaced object without a namespace goes to "default".
            let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
            body["metadata"]["namespace"] = Value::String(ns.clone());
            format!(
                "{prefix}/namespaces/{}/{}/{}",
                segment(&ns),
                served.plural,
                segment(&o.name)
            )
        } else {
            if let Some(m) = body["metadata"].as_object_mut() {
                m.remove("namespace");
            }
            format!("{prefix}/{}/{}", served.plural, segment(&o.name))
        };
        let path = format!("{path}?fieldManager={FIELD_MANAGER}&force=true");
        kubeadm::client::retry(8, || {
            api.call("PATCH", &path, Some(&body), "application/apply-patch+yaml")
        })
        .map_err(|e| fail(e.to_string()))?;
        applied(o);
        definitions_applied |= o.kind == "CustomResourceDefinition";
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const DEMO: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
data:
  colour: blue
---
# the namespace, after what lives in it
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
";

    #[test]
    fn documents_become_objects_with_their_lines() {
        let objs = parse(DEMO, "addons.yaml").unwrap();
        assert_eq!(objs.len(), 2, "the empty last document is no object");
        assert_eq!(objs[0].describe(), "ConfigMap demo/settings");
        assert_eq!(objs[0].place(), "addons.yaml:1");
        assert_eq!(objs[1].describe(), "Namespace demo");
        assert_eq!(objs[1].place(), "addons.yaml:9");
        assert_eq!(objs[0].body["data"]["colour"], "blue");
        let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n";
        let objs = parse(list, "list.yaml").unwrap();
        assert_eq!(
            objs.iter().map(Object::describe).collect::<Vec<_>>(),
            ["ConfigMap a", "Secret b"]
        );
    }

    #[test]
    fn bad_documents_name_their_line_and_never_a_value() {
        for (text, says) in [
            ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\nkind: ConfigMap\nmetadata: {name: x}\n", "f.yaml:5: an object without apiVersion"),
            ("---\napiVersion: v1\nmetadata: {name: x}\n", "f.yaml:2: an object without kind"),
            ("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n", "f.yaml:1: ConfigMap without metadata.name"),
            ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../x}\n", "f.yaml:1: ConfigMap: metadata.name \"../x\" cannot be a name"),
            ("- just\n- a list\n", "f.yaml:1: a document that is not an object"),
            ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\nstringData:\n  password: \"hunter2\n", "f.yaml:7: not a YAML or JSON object"),
        ] {
            let e = parse(text, "f.yaml").unwrap_err().to_string();
            assert!(e.starts_with(says), "{e}");
            assert!(!e.contains("hunter"), "a value was shown: {e}");
        }
    }

    /// Records every call and answers as a server serving ConfigMaps and Namespaces.
    struct Recorder(Mutex<Vec<String>>);

    impl Api for Recorder {
        fn call(
            &self,
            method: &str,
            path: &str,
            body: Option<&Value>,
            content_type: &str,
        ) -> Result<Value, ApiError> {
            self.0.lock().unwrap().push(format!(
                "{method} {path} {content_type} {}",
                body.map(|b| b["metadata"]["namespace"].to_string())
                    .unwrap_or_default()
            ));
            match path {
                "/api/v1" => Ok(serde_json::json!({"resources": [
                    {"name": "configmaps", "kind": "ConfigMap", "namespaced": true},
                    {"name": "namespaces", "kind": "Namespace", "namespaced": false},
                    {"name": "namespaces/status", "kind": "Namespace", "namespaced": false},
                ]})),
                p if p.starts_with("/apis/") => Err(ApiError {
                    code: 404,
                    reason: "NotFound".into(),
                    message: "the server could not find the requested resource".into(),
                }),
                _ => Ok(body.cloned().unwrap_or_default()),
            }
        }
    }

    #[test]
    fn objects_are_applied_server_side_namespaces_first_at_their_paths() {
        let mut objs = parse(
            &format!("{DEMO}apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: \"a:b\", namespace: other}}\n"),
            "addons.yaml",
        )
        .unwrap();
        objs.push(
            parse(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n",
                "b.yaml",
            )
            .unwrap()
            .remove(0),
        );
        objs.sort_by_key(|o| rank(&o.kind));
        let api = Recorder(Mutex::new(Vec::new()));
        let mut seen = Vec::new();
        apply(&api, &objs, |o| seen.push(o.describe())).unwrap();
        assert_eq!(
            seen,
            [
                "Namespace demo",
                "ConfigMap demo/settings",
                "ConfigMap other/a:b",
                "ConfigMap plain"
            ]
        );
        let calls = api.0.lock().unwrap().clone();
        const SSA: &str = "?fieldManager=kubeadm-cluster&force=true application/apply-patch+yaml";
        assert_eq!(
            calls,
            [
                "GET /api/v1 application/json ".to_string(),
                format!("PATCH /api/v1/namespaces/demo{SSA} null"),
                format!("PATCH /api/v1/namespaces/demo/configmaps/settings{SSA} \"demo\""),
                format!("PATCH /api/v1/namespaces/other/configmaps/a:b{SSA} \"other\""),
                format!("PATCH /api/v1/namespaces/default/configmaps/plain{SSA} \"default\""),
            ]
        );
        // A kind the cluster does not serve stops the run, naming the object.
        let crd = parse(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
            "w.yaml",
        )
        .unwrap();
        let e = apply(&api, &crd, |_| {}).unwrap_err().to_string();
        assert_eq!(e, "w.yaml:1: Widget w: the cluster serves no kind Widget in example.com/v1; is the apiVersion right, or its CustomResourceDefinition applied?");
    }
}

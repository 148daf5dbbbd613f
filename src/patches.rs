//! `--patches DIR`: user patches applied to what kubeadm generates, as upstream applies
//! them. A file is named `target[suffix][+patchtype].extension`: the target is one of
//! [`Target`], the patch type `strategic` (the default), `merge` or `json`, the extension
//! `json` or `yaml`; the suffix only orders the files, which apply in the alphabetical
//! order of their names. A file may hold several YAML documents, each one a patch.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use crate::host::Host;

/// What a patch can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The kube-apiserver static Pod.
    KubeApiserver,
    /// The kube-controller-manager static Pod.
    KubeControllerManager,
    /// The kube-scheduler static Pod.
    KubeScheduler,
    /// The etcd static Pod.
    Etcd,
    /// `/var/lib/kubelet/config.yaml`.
    KubeletConfiguration,
    /// The CoreDNS Deployment.
    CorednsDeployment,
    /// The kube-proxy DaemonSet (upstream since #138090).
    KubeProxyDaemonset,
}

impl Target {
    /// Every target, as upstream lists them.
    pub const ALL: [Target; 7] = [
        Target::KubeApiserver,
        Target::KubeControllerManager,
        Target::KubeScheduler,
        Target::Etcd,
        Target::KubeletConfiguration,
        Target::CorednsDeployment,
        Target::KubeProxyDaemonset,
    ];

    /// The name a patch file starts with.
    pub fn name(self) -> &'static str {
        match self {
            Target::KubeApiserver => "kube-apiserver",
            Target::KubeControllerManager => "kube-controller-manager",
            Target::KubeScheduler => "kube-scheduler",
            Target::Etcd => "etcd",
            Target::KubeletConfiguration => "kubeletconfiguration",
            Target::CorednsDeployment => "corednsdeployment",
            Target::KubeProxyDaemonset => "kubeproxydaemonset",
        }
    }

    /// The target of a name.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the target is a Kubernetes object whose lists merge by key in a strategic
    /// patch (a Pod, Deployment or DaemonSet); a plain configuration's lists are replaced.
    fn has_merge_keys(self) -> bool {
        !matches!(self, Target::KubeletConfiguration)
    }
}

/// How a patch applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// Kubernetes strategic merge patch.
    Strategic,
    /// RFC 7386 JSON merge patch.
    Merge,
    /// RFC 6902 JSON patch.
    Json,
}

impl PatchType {
    fn media_type(self) -> &'static str {
        match self {
            PatchType::Strategic => "application/strategic-merge-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Json => "application/json-patch+json",
        }
    }
}

/// One patch document from a file.
#[derive(Debug, Clone)]
struct Patch {
    file: PathBuf,
    target: Target,
    kind: PatchType,
    body: Value,
}

/// The patches of a directory, in the order they apply.
#[derive(Debug, Clone, Default)]
pub struct PatchSet {
    patches: Vec<Patch>,
    /// Files whose names name no target or have another extension; upstream ignores them.
    pub ignored: Vec<PathBuf>,
    /// Whether applying says nothing: for a look at what would be written (preflight's
    /// comparison with the files on disk), so that "[patches] Applied patch" is printed
    /// once per patch, when the patched object is written.
    quiet: bool,
}

/// Splits a file name into target, patch type and extension; `Ok(None)` for a file that
/// is not a patch (unknown target or extension).
fn parse_name(file_name: &str) -> anyhow::Result<Option<(Target, PatchType)>> {
    let Some((stem, ext)) = file_name.rsplit_once('.') else {
        return Ok(None);
    };
    if ext != "yaml" && ext != "json" {
        return Ok(None);
    }
    let (head, kind) = match stem.split_once('+') {
        Some((head, kind)) => {
            let kind = match kind {
                "strategic" => PatchType::Strategic,
                "merge" => PatchType::Merge,
                "json" => PatchType::Json,
                other => bail!(
                    "unknown patch type {other:?}: expected one of \"strategic\", \"merge\" or \"json\""
                ),
            };
            (head, kind)
        }
        None => (stem, PatchType::Strategic),
    };
    // Longest name first: "kube-apiserver" must not be read as a suffix of another name.
    let mut targets = Target::ALL;
    targets.sort_by_key(|t| std::cmp::Reverse(t.name().len()));
    Ok(targets
        .into_iter()
        .find(|t| head.starts_with(t.name()))
        .map(|t| (t, kind)))
}

impl PatchSet {
    /// Reads every patch in `dir`. A file that cannot be read or parsed, or names an
    /// unknown patch type, is an error naming the file.
    pub fn load(host: &dyn Host, dir: &Path) -> anyhow::Result<PatchSet> {
        let mut names = host
            .read_dir(dir)
            .with_context(|| format!("reading the patches directory {}", dir.display()))?;
        names.sort();
        let mut set = PatchSet::default();
        for name in names {
            let path = dir.join(&name);
            if host.metadata(&path)?.is_some_and(|m| m.is_dir) {
                continue;
            }
            let parsed =
                parse_name(&name).with_context(|| format!("patch file {}", path.display()))?;
            let Some((target, kind)) = parsed else {
                set.ignored.push(path);
                continue;
            };
            let text = host.read_to_string(&path)?;
            crate::yaml::check_nesting(&text, &format!("patch file {}", path.display()))?;
            for (i, doc) in split_documents(&text).into_iter().enumerate() {
                let body: Value = serde_yaml_ng::from_str(doc).with_context(|| {
                    format!(
                        "patch file {} (document {}): not valid YAML or JSON",
                        path.display(),
                        i + 1
                    )
                })?;
                if body.is_null() {
                    continue;
                }
                match (kind, &body) {
                    (PatchType::Json, Value::Array(_)) => {
                        serde_json::from_value::<json_patch::Patch>(body.clone()).with_context(|| {
                            format!("patch file {}: not a valid JSON patch (a list of operations with op, path and value)", path.display())
                        })?;
                    }
                    (PatchType::Json, _) => bail!(
                        "patch file {}: a JSON patch must be a list of operations",
                        path.display()
                    ),
                    (_, Value::Object(_)) => {}
                    _ => bail!(
                        "patch file {}: a {} patch must be a mapping",
                        path.display(),
                        if kind == PatchType::Merge {
                            "merge"
                        } else {
                            "strategic merge"
                        }
                    ),
                }
                set.patches.push(Patch {
                    file: path.clone(),
                    target,
                    kind,
                    body,
                });
            }
        }
        Ok(set)
    }

    /// The same patches, applied without a word.
    pub fn quiet(mut self) -> PatchSet {
        self.quiet = true;
        self
    }

    /// Whether any patch applies to `target`.
    pub fn has(&self, target: Target) -> bool {
        self.patches.iter().any(|p| p.target == target)
    }

    /// Applies every patch for `target` to `doc`, in order.
    pub fn apply(&self, target: Target, mut doc: Value) -> anyhow::Result<Value> {
        for p in self.patches.iter().filter(|p| p.target == target) {
            match p.kind {
                PatchType::Json => {
                    let ops: json_patch::Patch = serde_json::from_value(p.body.clone())?;
                    json_patch::patch(&mut doc, &ops).with_context(|| {
                        format!(
                            "patch file {}: the JSON patch does not apply to {}",
                            p.file.display(),
                            target.name()
                        )
                    })?;
                }
                PatchType::Merge => json_patch::merge(&mut doc, &p.body),
                PatchType::Strategic => strategic_merge(&mut doc, &p.body, target.has_merge_keys()),
            }
            if !self.quiet {
                println!(
                    "[patches] Applied patch of type {:?} to target {:?}",
                    p.kind.media_type(),
                    target.name()
                );
            }
        }
        Ok(doc)
    }
}

/// The documents of a multi-document YAML text.
fn split_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            docs.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    docs.push(&text[start..]);
    docs.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

/// The key that identifies an element of a list field in the objects kubeadm patches
/// (Pod and Deployment specs), as their strategic-merge metadata declares it.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => Some("containerPort"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

const DIRECTIVE: &str = "$patch";

/// Applies a strategic merge patch: maps merge recursively, `null` deletes a key, lists
/// with a merge key merge element by element (`$patch: delete` removes one, `replace`
/// replaces), other lists are replaced; `$retainKeys` and `$deleteFromPrimitiveList/`
/// are honoured, `$setElementOrder/` is accepted.
pub fn strategic_merge(doc: &mut Value, patch: &Value, keyed: bool) {
    let (Value::Object(target), Value::Object(p)) = (&mut *doc, patch) else {
        *doc = strip_directives(patch);
        return;
    };
    if p.get(DIRECTIVE).and_then(Value::as_str) == Some("replace") {
        *doc = strip_directives(patch);
        return;
    }
    if let Some(Value::Array(retain)) = p.get("$retainKeys") {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        target.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in p {
        if key == DIRECTIVE || key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(gone)) = (target.get_mut(field), value) {
                list.retain(|v| !gone.contains(v));
            }
            continue;
        }
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(inner)
                if inner.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") =>
            {
                target.remove(key);
            }
            Value::Array(items) => {
                let mk = if keyed { merge_key(key) } else { None };
                match (mk, target.get_mut(key)) {
                    (Some(mk), Some(Value::Array(existing))) => {
                        merge_list(existing, items, mk, keyed)
                    }
                    _ => {
                        target.insert(key.clone(), strip_directives(value));
                    }
                }
            }
            Value::Object(_) => match target.get_mut(key) {
                Some(existing @ Value::Object(_)) => strategic_merge(existing, value, keyed),
                _ => {
                    target.insert(key.clone(), strip_directives(value));
                }
            },
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

fn merge_list(existing: &mut Vec<Value>, items: &[Value], key: &str, keyed: bool) {
    let replace = items.iter().any(|i| {
        i.get(DIRECTIVE).and_then(Value::as_str) == Some("replace") && i.get(key).is_none()
    });
    if replace {
        *existing = items
            .iter()
            .filter(|i| i.get(key).is_some())
            .map(strip_directives)
            .collect();
        return;
    }
    for item in items {
        let id = item.get(key);
        let pos = id.and_then(|id| existing.iter().position(|e| e.get(key) == Some(id)));
        let delete = item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut existing[i], item, keyed),
            (None, false) => existing.push(strip_directives(item)),
        }
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn file_names() {
        assert_eq!(
            parse_name("kube-apiserver0+merge.yaml").unwrap(),
            Some((Target::KubeApiserver, PatchType::Merge))
        );
        assert_eq!(
            parse_name("etcd.json").unwrap(),
            Some((Target::Etcd, PatchType::Strategic))
        );
        assert_eq!(
            parse_name("kubeletconfiguration+json.yaml").unwrap(),
            Some((Target::KubeletConfiguration, PatchType::Json))
        );
        assert_eq!(
            parse_name("kubeproxydaemonset0+json.json").unwrap(),
            Some((Target::KubeProxyDaemonset, PatchType::Json))
        );
        assert_eq!(
            parse_name("corednsdeployment.yaml").unwrap(),
            Some((Target::CorednsDeployment, PatchType::Strategic))
        );
        assert_eq!(parse_name("README.md").unwrap(), None);
        assert_eq!(parse_name("kube-proxy.yaml").unwrap(), None);
        let err = parse_name("etcd+bogus.yaml").unwrap_err().to_string();
        assert!(err.contains("unknown patch type \"bogus\""), "{err}");
    }

    #[test]
    fn strategic_merges_containers_by_name_and_mounts_by_path() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/m"}],
             "env": [{"name": "E", "value": "1"}]},
            {"name": "b", "image": "y"}
        ], "volumes": [{"name": "v"}, {"name": "w"}]}});
        let patch = json!({"spec": {"containers": [
            {"name": "a", "image": "z", "volumeMounts": [{"name": "n", "mountPath": "/n"}],
             "env": [{"name": "E", "value": "2"}, {"name": "F", "value": "3"}]}
        ], "volumes": [{"name": "w", "$patch": "delete"}]}});
        strategic_merge(&mut pod, &patch, true);
        assert_eq!(
            pod,
            json!({"spec": {"containers": [
                {"name": "a", "image": "z",
                 "volumeMounts": [{"name": "v", "mountPath": "/m"}, {"name": "n", "mountPath": "/n"}],
                 "env": [{"name": "E", "value": "2"}, {"name": "F", "value": "3"}]},
                {"name": "b", "image": "y"}
            ], "volumes": [{"name": "v"}]}})
        );
    }

    #[test]
    fn strategic_null_deletes_and_plain_lists_replace() {
        let mut doc = json!({"a": 1, "b": {"c": 2}, "l": [1, 2]});
        strategic_merge(
            &mut doc,
            &json!({"a": null, "b": {"d": 3}, "l": [3]}),
            false,
        );
        assert_eq!(doc, json!({"b": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn documents_split_on_separators() {
        assert_eq!(
            split_documents("a: 1\n---\nb: 2\n"),
            vec!["a: 1\n", "b: 2\n"]
        );
        assert_eq!(split_documents("---\na: 1\n"), vec!["a: 1\n"]);
    }
}

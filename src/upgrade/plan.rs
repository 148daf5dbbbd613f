//! `kubeadm upgrade plan`: the versions running in the cluster, the upgrades this kubeadm
//! can make, and upstream's tables (or its `UpgradePlan` document with `-o json|yaml`).

use std::collections::BTreeMap;

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use super::semver::KubeVersion;
use crate::client::Api;

/// Versions mapped to the nodes that run them.
pub type VersionNodes = BTreeMap<String, Vec<String>>;

/// What runs in the cluster (or, for a target, what an upgrade brings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterState {
    /// The newest API server's version (the target's version for a target).
    pub kube_version: String,
    /// The CoreDNS version.
    pub dns_version: String,
    /// kubeadm's version.
    pub kubeadm_version: String,
    /// The etcd version of a target; empty with external etcd.
    pub etcd_version: String,
    /// kube-apiserver versions per node.
    pub apiserver: VersionNodes,
    /// kube-controller-manager versions per node.
    pub controller_manager: VersionNodes,
    /// kube-scheduler versions per node.
    pub scheduler: VersionNodes,
    /// etcd versions per node (empty with external etcd).
    pub etcd: VersionNodes,
    /// kubelet versions per node.
    pub kubelet: VersionNodes,
}

/// One possible upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// `version in the v1.36 series`, `stable version`.
    pub description: String,
    /// The cluster now.
    pub before: ClusterState,
    /// The cluster after.
    pub after: ClusterState,
}

impl Upgrade {
    /// Upstream's `CanUpgradeKubelets`.
    pub fn can_upgrade_kubelets(&self) -> bool {
        match self.before.kubelet.len() {
            0 => false,
            1 => !self.before.kubelet.contains_key(&self.after.kube_version),
            _ => true,
        }
    }
}

/// The image tag of a Pod's first container (`registry.k8s.io/etcd:3.6.11-0` -> `3.6.11-0`).
fn image_tag(pod: &Value) -> Option<String> {
    let image = pod["spec"]["containers"][0]["image"].as_str()?;
    let name = image.rsplit('/').next()?;
    let tag = name.split_once(':')?.1;
    Some(tag.split('@').next().unwrap_or(tag).replace('_', "+"))
}

/// The versions of a control-plane component per node, from its mirror Pods.
fn component_versions(api: &dyn Api, component: &str) -> anyhow::Result<VersionNodes> {
    let pods = api
        .call(
            "GET",
            &format!("/api/v1/namespaces/kube-system/pods?labelSelector=component%3D{component}%2Ctier%3Dcontrol-plane"),
            None,
            "application/json",
        )
        .map_err(|e| anyhow::anyhow!(e))
        .with_context(|| format!("listing the {component} Pods"))?;
    let mut out = VersionNodes::new();
    for p in pods["items"].as_array().into_iter().flatten() {
        let name = p["metadata"]["name"].as_str().unwrap_or_default();
        let tag = image_tag(p)
            .with_context(|| format!("the Pod kube-system/{name} has no image with a tag"))?;
        let node = p["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        out.entry(tag).or_default().push(node);
    }
    Ok(out)
}

/// The kubelets' versions per node.
fn kubelet_versions(api: &dyn Api) -> anyhow::Result<VersionNodes> {
    let nodes = api
        .call("GET", "/api/v1/nodes", None, "application/json")
        .map_err(|e| anyhow::anyhow!(e))
        .context("listing the Nodes")?;
    let mut out = VersionNodes::new();
    for n in nodes["items"].as_array().into_iter().flatten() {
        if let Some(v) = n["status"]["nodeInfo"]["kubeletVersion"].as_str() {
            let name = n["metadata"]["name"].as_str().unwrap_or_default();
            out.entry(v.to_string()).or_default().push(name.to_string());
        }
    }
    Ok(out)
}

/// The CoreDNS version deployed, or empty when there is none.
fn dns_version(api: &dyn Api) -> anyhow::Result<String> {
    let deployments = api
        .call(
            "GET",
            "/apis/apps/v1/namespaces/kube-system/deployments?labelSelector=k8s-app%3Dkube-dns",
            None,
            "application/json",
        )
        .map_err(|e| anyhow::anyhow!(e))
        .context("listing the DNS Deployments")?;
    Ok(deployments["items"]
        .as_array()
        .and_then(|items| items.first())
        .and_then(|d| image_tag(&d["spec"]["template"]))
        .unwrap_or_default())
}

/// Reads what runs in the cluster.
pub fn cluster_state(api: &dyn Api) -> anyhow::Result<ClusterState> {
    let apiserver = component_versions(api, "kube-apiserver")?;
    let newest = apiserver
        .keys()
        .map(|v| {
            KubeVersion::parse(v)
                .with_context(|| format!("couldn't parse kube-apiserver version {v}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .max()
        .context("no kube-apiserver Pod in kube-system: the cluster's version cannot be read (is the kubelet running the control plane's static Pods?)")?;
    if apiserver.len() > 1 {
        let shown: Vec<String> = apiserver
            .iter()
            .map(|(v, n)| format!("{v} on nodes [{}]", n.join(" ")))
            .collect();
        eprintln!("[upgrade/versions] WARNING: Different API server versions in the cluster were discovered: {}. Please upgrade your control plane nodes to the same version of Kubernetes", shown.join(", "));
    }
    Ok(ClusterState {
        kube_version: newest.to_string(),
        dns_version: dns_version(api)?,
        kubeadm_version: crate::version::KUBERNETES_VERSION.to_string(),
        etcd_version: String::new(),
        controller_manager: component_versions(api, "kube-controller-manager")?,
        scheduler: component_versions(api, "kube-scheduler")?,
        etcd: component_versions(api, "etcd")?,
        kubelet: kubelet_versions(api)?,
        apiserver,
    })
}

fn target(before: &ClusterState, version: &str, kubeadm_version: &str) -> ClusterState {
    let minor = crate::images::minor_of(version);
    ClusterState {
        kube_version: version.to_string(),
        dns_version: crate::images::coredns_version().to_string(),
        kubeadm_version: kubeadm_version.to_string(),
        etcd_version: if before.etcd.is_empty() {
            String::new()
        } else {
            minor
                .and_then(crate::releases::of_minor)
                .map(|r| r.etcd.to_string())
                .unwrap_or_else(|| "N/A".into())
        },
        ..Default::default()
    }
}

/// A release channel (`stable`, `stable-1.36`) as upstream's
/// `KubeVersionGetter.VersionFromCILabel` resolves it: fetched from the release server,
/// with [`crate::releases::label::resolve`]'s fallback to this kubeadm's own version (and
/// upstream's two warnings) when the server cannot be reached.
pub fn release_channel(label: &str) -> anyhow::Result<String> {
    crate::releases::label::resolve(label)?
        .ok_or_else(|| anyhow::anyhow!("{label:?} is not a release label"))
}

/// Upstream's `GetAvailableUpgrades`: the `stable` channel is the target, `stable-1.X`
/// (1.X the cluster's minor) its newest patch, each resolved by `channel` (upstream's
/// version getter; [`release_channel`] in a real run); with a `version` given, every
/// channel reads as that version, as upstream's offline version getter does. Returns the
/// lines it prints, and the upgrades.
pub fn available_upgrades(
    before: &ClusterState,
    version: Option<&KubeVersion>,
    channel: &dyn Fn(&str) -> anyhow::Result<String>,
) -> anyhow::Result<(Vec<String>, Vec<Upgrade>)> {
    let mut lines = vec!["[upgrade] Fetching available versions to upgrade to".to_string()];
    let cluster = KubeVersion::parse(&before.kube_version)
        .with_context(|| format!("couldn't parse the cluster version {}", before.kube_version))?;
    let kubeadm = KubeVersion::parse(&before.kubeadm_version).context("kubeadm's version")?;
    lines.push(format!("[upgrade/versions] Cluster version: {cluster}"));
    lines.push(format!("[upgrade/versions] kubeadm version: {kubeadm}"));
    let resolve = |label: &str, description: &str| -> Result<KubeVersion, String> {
        if let Some(v) = version {
            return Ok(v.clone());
        }
        let v = channel(label)
            .map_err(|e| format!("Couldn't fetch latest {description} from the internet: {e:#}"))?;
        KubeVersion::parse(&v).ok_or_else(|| format!("Couldn't parse latest {description}: {v:?}"))
    };
    let stable = match resolve("stable", "stable version") {
        Ok(v) => {
            lines.push(format!("[upgrade/versions] Target version: {v}"));
            v
        }
        Err(e) => {
            lines.push(format!("[upgrade/versions] WARNING: {e}"));
            lines.push("[upgrade/versions] WARNING: Falling back to current kubeadm version as latest stable version".into());
            kubeadm.clone()
        }
    };
    let mut upgrades = Vec::new();
    let mut can_do_minor = cluster < stable;
    if stable >= cluster {
        let branch = format!("{}.{}", cluster.major, cluster.minor);
        let description = format!("version in the v{branch} series");
        match resolve(&format!("stable-{branch}"), &description) {
            Err(e) => lines.push(format!("[upgrade/versions] WARNING: {e}")),
            Ok(patch) => {
                lines.push(format!("[upgrade/versions] Latest {description}: {patch}"));
                can_do_minor = patch < stable;
                if cluster < patch {
                    let kubeadm_after = if kubeadm >= patch {
                        kubeadm.to_string()
                    } else {
                        patch.to_string()
                    };
                    upgrades.push(Upgrade {
                        description,
                        before: before.clone(),
                        after: target(before, &patch.to_string(), &kubeadm_after),
                    });
                }
            }
        }
    }
    if can_do_minor {
        upgrades.push(Upgrade {
            description: "stable version".into(),
            before: before.clone(),
            after: target(before, &stable.to_string(), &stable.to_string()),
        });
    }
    Ok((lines, upgrades))
}

/// One component's line of the plan (`ComponentUpgradePlan`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentUpgradePlan {
    /// `kube-apiserver`, `kubelet`, ...
    pub name: String,
    /// What runs now.
    pub current_version: String,
    /// What the upgrade brings.
    pub new_version: String,
    /// The node, for per-node components.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_name: String,
}

/// `AvailableUpgrade`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailableUpgrade {
    /// What kind of upgrade.
    pub description: String,
    /// Its components.
    pub components: Vec<ComponentUpgradePlan>,
}

/// `ComponentConfigVersionState`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentConfigVersionState {
    /// The API group.
    pub group: String,
    /// The version in the cluster; empty when it has none.
    pub current_version: String,
    /// The version this kubeadm writes.
    pub preferred_version: String,
    /// True when the version in the cluster must be upgraded by hand first.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub manual_upgrade_required: bool,
}

/// The `output.kubeadm.k8s.io/v1alpha3` `UpgradePlan` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradePlan {
    /// `UpgradePlan` (first, as upstream's `TypeMeta` prints it).
    pub kind: String,
    /// `output.kubeadm.k8s.io/v1alpha3`.
    pub api_version: String,
    /// The upgrades.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub available_upgrades: Vec<AvailableUpgrade>,
    /// The component configs' versions.
    pub config_versions: Vec<ComponentConfigVersionState>,
}

fn per_node(out: &mut Vec<ComponentUpgradePlan>, name: &str, versions: &VersionNodes, new: &str) {
    for (version, nodes) in versions {
        for node in nodes {
            out.push(ComponentUpgradePlan {
                name: name.into(),
                current_version: version.clone(),
                new_version: new.into(),
                node_name: node.clone(),
            });
        }
    }
}

/// Upstream's `genAvailableUpgrade`.
pub fn plan_of(u: &Upgrade) -> AvailableUpgrade {
    let mut c = Vec::new();
    let new = &u.after.kube_version;
    if u.can_upgrade_kubelets() {
        per_node(&mut c, "kubelet", &u.before.kubelet, new);
    }
    per_node(&mut c, "kube-apiserver", &u.before.apiserver, new);
    per_node(
        &mut c,
        "kube-controller-manager",
        &u.before.controller_manager,
        new,
    );
    per_node(&mut c, "kube-scheduler", &u.before.scheduler, new);
    let whole = |name: &str, current: &str, new: &str| ComponentUpgradePlan {
        name: name.into(),
        current_version: current.into(),
        new_version: new.into(),
        node_name: String::new(),
    };
    c.push(whole("kube-proxy", &u.before.kube_version, new));
    if !u.before.dns_version.is_empty() || !u.after.dns_version.is_empty() {
        c.push(whole(
            "CoreDNS",
            &u.before.dns_version,
            &u.after.dns_version,
        ));
    }
    c.push(whole(
        "kubeadm",
        &u.before.kubeadm_version,
        &u.after.kubeadm_version,
    ));
    per_node(&mut c, "etcd", &u.before.etcd, &u.after.etcd_version);
    AvailableUpgrade {
        description: u.description.clone(),
        components: c,
    }
}

/// The component configs kubeadm manages and the version it writes, as the cluster's
/// ConfigMaps hold them.
pub fn config_versions(api: &dyn Api) -> Vec<ComponentConfigVersionState> {
    [
        (
            "kubeproxy.config.k8s.io",
            "v1alpha1",
            "kube-proxy",
            "config.conf",
        ),
        (
            "kubelet.config.k8s.io",
            "v1beta1",
            "kubelet-config",
            "kubelet",
        ),
    ]
    .iter()
    .map(|(group, preferred, cm, key)| {
        let current = api
            .call(
                "GET",
                &crate::client::object_path("ConfigMap", Some("kube-system"), cm),
                None,
                "application/json",
            )
            .ok()
            .and_then(|c| c["data"][*key].as_str().map(str::to_string))
            .and_then(|text| crate::yaml::from_untrusted::<Value>(&text, cm).ok())
            .and_then(|doc| doc["apiVersion"].as_str().map(str::to_string))
            .and_then(|av| av.split_once('/').map(|(_, v)| v.to_string()))
            .unwrap_or_default();
        ComponentConfigVersionState {
            group: group.to_string(),
            manual_upgrade_required: !current.is_empty() && current != *preferred,
            current_version: current,
            preferred_version: preferred.to_string(),
        }
    })
    .collect()
}

fn table(rows: &[Vec<String>]) -> String {
    let lines: Vec<String> = rows.iter().map(|r| r.join("\t")).collect();
    crate::output::tabwrite(&lines)
}

const SEPARATOR: &str = "_____________________________________________________________________\n\n";

/// The plan as upstream's text printer writes it.
pub fn text(plan: &UpgradePlan) -> String {
    let mut out = String::new();
    let header = || {
        vec!["COMPONENT", "NODE", "CURRENT", "TARGET"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    for au in &plan.available_upgrades {
        let kube_version = au
            .components
            .iter()
            .find(|c| c.name == "kube-apiserver")
            .map(|c| c.new_version.clone())
            .unwrap_or_default();
        let kubeadm = au.components.iter().find(|c| c.name == "kubeadm");
        let flag = match KubeVersion::parse(&kube_version) {
            Some(v) if v.pre.starts_with("rc") => " --allow-release-candidate-upgrades",
            Some(v) if v.is_pre_release() => " --allow-experimental-upgrades",
            _ => "",
        };
        let row = |c: &ComponentUpgradePlan| {
            vec![
                c.name.clone(),
                c.node_name.clone(),
                c.current_version.clone(),
                c.new_version.clone(),
            ]
        };
        out.push_str("Components that must be upgraded manually after you have upgraded the control plane with 'kubeadm upgrade apply':\n");
        let mut rows = vec![header()];
        rows.extend(
            au.components
                .iter()
                .filter(|c| c.name == "kubelet")
                .map(row),
        );
        out.push_str(&table(&rows));
        out.push('\n');
        out.push_str(&format!("Upgrade to the latest {}:\n\n", au.description));
        let mut rows = vec![header()];
        rows.extend(
            au.components
                .iter()
                .filter(|c| c.name != "kubelet" && c.name != "kubeadm")
                .map(row),
        );
        out.push_str(&table(&rows));
        out.push_str("\nYou can now apply the upgrade by executing the following command:\n\n");
        out.push_str(&format!("\tkubeadm upgrade apply {kube_version}{flag}\n\n"));
        if let Some(k) = kubeadm.filter(|k| k.current_version != k.new_version) {
            out.push_str(&format!(
                "Note: Before you can perform this upgrade, you have to update kubeadm to {}.\n\n",
                k.new_version
            ));
        }
        out.push_str(SEPARATOR);
    }
    if plan.config_versions.is_empty() {
        out.push_str("No information available on component configs.\n");
        return out;
    }
    out.push_str("\nThe table below shows the current state of component configs as understood by this version of kubeadm.\nConfigs that have a \"yes\" mark in the \"MANUAL UPGRADE REQUIRED\" column require manual config upgrade or\nresetting to kubeadm defaults before a successful upgrade can be performed. The version to manually\nupgrade to is denoted in the \"PREFERRED VERSION\" column.\n\n");
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    let mut rows = vec![vec![
        "API GROUP".to_string(),
        "CURRENT VERSION".into(),
        "PREFERRED VERSION".into(),
        "MANUAL UPGRADE REQUIRED".into(),
    ]];
    for s in &plan.config_versions {
        rows.push(vec![
            s.group.clone(),
            dash(&s.current_version),
            dash(&s.preferred_version),
            if s.manual_upgrade_required {
                "yes"
            } else {
                "no"
            }
            .to_string(),
        ]);
    }
    out.push_str(&table(&rows));
    out.push_str(SEPARATOR);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: &str) -> ClusterState {
        let nodes = |v: &str| VersionNodes::from([(v.to_string(), vec!["cp-1".to_string()])]);
        ClusterState {
            kube_version: version.into(),
            dns_version: "v1.14.2".into(),
            kubeadm_version: "v1.37.1".into(),
            etcd_version: String::new(),
            apiserver: nodes(version),
            controller_manager: nodes(version),
            scheduler: nodes(version),
            etcd: nodes("3.6.11-0"),
            kubelet: nodes(version),
        }
    }

    /// The release server's answers: `stable` is v1.37.1, `stable-1.36` v1.36.4.
    fn channels(label: &str) -> anyhow::Result<String> {
        match label {
            "stable" => Ok("v1.37.1".into()),
            "stable-1.36" => Ok("v1.36.4".into()),
            other => anyhow::bail!("no answer for {other}"),
        }
    }

    #[test]
    fn a_patch_behind_offers_the_patch_and_the_next_minor() {
        let (lines, ups) = available_upgrades(&state("v1.36.2"), None, &channels).unwrap();
        assert_eq!(
            lines[1..],
            [
                "[upgrade/versions] Cluster version: v1.36.2",
                "[upgrade/versions] kubeadm version: v1.37.1",
                "[upgrade/versions] Target version: v1.37.1",
                "[upgrade/versions] Latest version in the v1.36 series: v1.36.4",
            ]
        );
        let d: Vec<(&str, &str)> = ups
            .iter()
            .map(|u| (u.description.as_str(), u.after.kube_version.as_str()))
            .collect();
        assert_eq!(
            d,
            [
                ("version in the v1.36 series", "v1.36.4"),
                ("stable version", "v1.37.1")
            ]
        );
        assert_eq!(
            ups[0].after.kubeadm_version, "v1.37.1",
            "kubeadm is new enough"
        );
        assert_eq!(ups[0].after.etcd_version, "3.6.11-0");
        assert_eq!(ups[1].after.etcd_version, "3.7.0-0");
        // On the newest patch, only the minor upgrade; on this release, none.
        assert_eq!(
            available_upgrades(&state("v1.36.4"), None, &channels)
                .unwrap()
                .1
                .len(),
            1
        );
        assert!(available_upgrades(&state("v1.37.1"), None, &channels)
            .unwrap()
            .1
            .is_empty());
    }

    #[test]
    fn the_channels_are_what_the_release_server_says() {
        // A patch the table in this build does not know yet is offered.
        let newer = |label: &str| -> anyhow::Result<String> {
            Ok(match label {
                "stable" => "v1.37.3",
                _ => "v1.36.9",
            }
            .into())
        };
        let (lines, ups) = available_upgrades(&state("v1.36.2"), None, &newer).unwrap();
        assert!(lines.contains(&"[upgrade/versions] Target version: v1.37.3".to_string()));
        let d: Vec<(&str, &str, &str)> = ups
            .iter()
            .map(|u| {
                (
                    u.description.as_str(),
                    u.after.kube_version.as_str(),
                    u.after.kubeadm_version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            d,
            [
                ("version in the v1.36 series", "v1.36.9", "v1.37.1"),
                ("stable version", "v1.37.3", "v1.37.3")
            ]
        );
        // A version given on the command line stands for every channel, unasked.
        let given = KubeVersion::parse("v1.37.0").unwrap();
        let never = |label: &str| -> anyhow::Result<String> { panic!("asked for {label}") };
        let (_, ups) = available_upgrades(&state("v1.36.2"), Some(&given), &never).unwrap();
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].after.kube_version, "v1.37.0");
    }

    #[test]
    fn a_channel_that_cannot_be_read_is_warned_about() {
        // Upstream: `stable` falls back to this kubeadm's version; a failing patch
        // channel leaves out the patch upgrade.
        let failing = |label: &str| -> anyhow::Result<String> {
            match label {
                "stable" => Ok("not-a-version".into()),
                other => anyhow::bail!("remote version error for {other}"),
            }
        };
        let (lines, ups) = available_upgrades(&state("v1.36.2"), None, &failing).unwrap();
        assert_eq!(
            lines[3..],
            [
                "[upgrade/versions] WARNING: Couldn't parse latest stable version: \"not-a-version\"",
                "[upgrade/versions] WARNING: Falling back to current kubeadm version as latest stable version",
                "[upgrade/versions] WARNING: Couldn't fetch latest version in the v1.36 series from the internet: remote version error for stable-1.36",
            ]
        );
        let d: Vec<(&str, &str)> = ups
            .iter()
            .map(|u| (u.description.as_str(), u.after.kube_version.as_str()))
            .collect();
        assert_eq!(d, [("stable version", "v1.37.1")]);
    }

    #[test]
    fn the_text_has_upstreams_tables() {
        let (_, ups) = available_upgrades(&state("v1.36.4"), None, &channels).unwrap();
        let plan = UpgradePlan {
            api_version: "output.kubeadm.k8s.io/v1alpha3".into(),
            kind: "UpgradePlan".into(),
            available_upgrades: ups.iter().map(plan_of).collect(),
            config_versions: vec![ComponentConfigVersionState {
                group: "kubelet.config.k8s.io".into(),
                current_version: "v1beta1".into(),
                preferred_version: "v1beta1".into(),
                manual_upgrade_required: false,
            }],
        };
        let t = text(&plan);
        let want = "\
Components that must be upgraded manually after you have upgraded the control plane with 'kubeadm upgrade apply':
COMPONENT   NODE      CURRENT   TARGET
kubelet     cp-1      v1.36.4   v1.37.1

Upgrade to the latest stable version:

COMPONENT                 NODE      CURRENT    TARGET
kube-apiserver            cp-1      v1.36.4    v1.37.1
kube-controller-manager   cp-1      v1.36.4    v1.37.1
kube-scheduler            cp-1      v1.36.4    v1.37.1
kube-proxy                          v1.36.4    v1.37.1
CoreDNS                             v1.14.2    v1.14.6
etcd                      cp-1      3.6.11-0   3.7.0-0

You can now apply the upgrade by executing the following command:

\tkubeadm upgrade apply v1.37.1

_____________________________________________________________________
";
        assert!(t.starts_with(want), "{t}");
        assert!(t.contains("API GROUP               CURRENT VERSION   PREFERRED VERSION   MANUAL UPGRADE REQUIRED\nkubelet.config.k8s.io   v1beta1           v1beta1             no\n"), "{t}");
    }
}

//! The cluster as its API server and etcd show it, read from this machine through the
//! first control plane's admin.conf (fetched over SSH, kept in memory): its Nodes with
//! their kubelet versions and readiness, the control plane's version from the API
//! servers' mirror Pods, and the etcd members when etcd answers from here.

use std::sync::Arc;

use kubeadm::client::{Api, KubeClient};
use serde::Serialize;
use serde_json::Value;

use crate::ssh::Remote;

/// A Node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeState {
    /// Its name.
    pub name: String,
    /// The kubelet version it reports (none before its kubelet reported a status).
    pub kubelet_version: Option<String>,
    /// Its Ready condition: `None` when it has none yet.
    pub ready: Option<bool>,
    /// When its Ready condition last changed (RFC 3339), when the kubelet said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_since: Option<String>,
    /// It carries the control-plane role label.
    pub control_plane: bool,
    /// It is cordoned (`spec.unschedulable`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unschedulable: bool,
    /// The version a rolling upgrade of kubeadm-cluster cordoned it for, when one did
    /// and has not uncordoned it yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_cordoned: Option<String>,
}

impl NodeState {
    /// `Ready v1.37.1`, `NotReady`, `unknown`: for the plan's table.
    pub fn summary(&self) -> String {
        let ready = match self.ready {
            Some(true) => "Ready",
            Some(false) => "NotReady",
            None => "unknown",
        };
        match &self.kubelet_version {
            Some(v) => format!("{ready} {v}"),
            None => ready.to_string(),
        }
    }
}

/// The version an API server runs, from its mirror Pod's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneVersion {
    /// The Node the API server runs on.
    pub node: String,
    /// The tag of its image (`v1.37.1`), or the whole image when it has no tag.
    pub version: String,
}

/// An etcd member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EtcdMemberState {
    /// Its name (empty until it has started).
    pub name: String,
    /// Its id, in hex as etcdctl prints it.
    pub id: String,
    /// A learner (not voting yet).
    pub learner: bool,
    /// Its peer URLs (a member that has not started is known by them alone).
    pub peer_urls: Vec<String>,
    /// Its client URLs (none until it has started).
    pub client_urls: Vec<String>,
    /// It answered on its own client URL when the cluster was read.
    pub healthy: bool,
}

/// What the API server (and etcd) said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterState {
    /// The API server it was read from (admin.conf's server).
    pub server: String,
    /// The Nodes, by name.
    pub nodes: Vec<NodeState>,
    /// The API servers' versions, by Node.
    pub control_plane: Vec<ControlPlaneVersion>,
    /// The etcd members, when etcd answered.
    pub etcd_members: Option<Vec<EtcdMemberState>>,
    /// Why the etcd members are not known, when they are not.
    pub etcd_error: Option<String>,
}

impl ClusterState {
    /// The Node named `name`.
    pub fn node(&self, name: &str) -> Option<&NodeState> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// The cluster's state as far as it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// No cluster exists yet: there is nothing to ask.
    NoCluster,
    /// The cluster exists but its API could not be read from here, for this reason.
    Unreadable(String),
    /// What its API server said.
    Read(ClusterState),
}

impl Observed {
    /// The state, when read.
    pub fn state(&self) -> Option<&ClusterState> {
        match self {
            Observed::Read(s) => Some(s),
            _ => None,
        }
    }
}

/// The files of the first control plane this reads: its admin kubeconfig, and the
/// client certificate etcd's health check uses (as kubeadm itself uses it).
pub(super) const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
const ETCD_CA: &str = "/etc/kubernetes/pki/etcd/ca.crt";
const ETCD_CERT: &str = "/etc/kubernetes/pki/etcd/healthcheck-client.crt";
const ETCD_KEY: &str = "/etc/kubernetes/pki/etcd/healthcheck-client.key";

/// The contents of `path` on the host behind `r`.
pub(super) async fn read_file(r: &Remote, path: &str) -> anyhow::Result<Vec<u8>> {
    let out = r.run(&format!("cat {path}"), None).await?;
    if !out.success() {
        anyhow::bail!("{}: cannot read {path}: {}", r.name, out.tail(2));
    }
    Ok(out.stdout)
}

/// The etcd CA and the client certificate and key of etcd's health check, as kubeadm
/// itself uses them, read from the control plane behind `r` (kept in memory).
pub(super) async fn etcd_client_files(r: &Remote) -> anyhow::Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    Ok((
        read_file(r, ETCD_CA).await?,
        read_file(r, ETCD_CERT).await?,
        read_file(r, ETCD_KEY).await?,
    ))
}

/// Reads the cluster's state through the first control plane behind `primary`;
/// `external_etcd` when the cluster's etcd is not kubeadm's (its members are not read).
pub(super) async fn observe(primary: Arc<Remote>, external_etcd: bool) -> Observed {
    let admin = match read_file(&primary, ADMIN_CONF).await {
        Ok(a) => a,
        Err(e) => return Observed::Unreadable(format!("{e:#}")),
    };
    let etcd_files = if external_etcd {
        Err("the cluster's etcd is external: its members are not read".to_string())
    } else {
        etcd_client_files(&primary)
            .await
            .map_err(|e| format!("{e:#}"))
    };
    // The clients run their own runtimes and block: on a thread of their own.
    let read = tokio::task::spawn_blocking(move || read_api(&admin, etcd_files)).await;
    match read {
        Ok(Ok(state)) => Observed::Read(state),
        Ok(Err(e)) => Observed::Unreadable(format!("{e:#}")),
        Err(e) => Observed::Unreadable(format!("reading the cluster's API: {e}")),
    }
}

/// A client of the cluster from admin.conf's text, and the server it talks to.
pub(super) fn admin_client(admin: &[u8]) -> anyhow::Result<(KubeClient, String)> {
    let text = std::str::from_utf8(admin)
        .map_err(|_| anyhow::anyhow!("the first control plane's {ADMIN_CONF} is not UTF-8 text"))?;
    // Refusals reach the caller at once: a drain retries evictions on its own clock.
    let client = KubeClient::from_kubeconfig_text_without_retries(text)
        .map_err(|e| anyhow::anyhow!("the first control plane's {ADMIN_CONF}: {e:#}"))?;
    let server = kubeadm::kubeconfig::KubeConfig::from_yaml(text)
        .ok()
        .and_then(|k| k.current_cluster().map(|c| c.server.clone()))
        .unwrap_or_default();
    Ok((client, server))
}

type EtcdFiles = Result<(Vec<u8>, Vec<u8>, Vec<u8>), String>;

fn read_api(admin: &[u8], etcd_files: EtcdFiles) -> anyhow::Result<ClusterState> {
    let (client, server) = admin_client(admin)?;
    let get = |path: &str| {
        client
            .call("GET", path, None, "application/json")
            .map_err(|e| anyhow::anyhow!("GET {path} from {server}: {e}"))
    };
    let nodes = get("/api/v1/nodes")?;
    let pods =
        get("/api/v1/namespaces/kube-system/pods?labelSelector=component%3Dkube-apiserver%2Ctier%3Dcontrol-plane")?;
    let mut state = ClusterState {
        server: server.clone(),
        nodes: nodes_of(&nodes),
        control_plane: control_plane_of(&pods),
        ..ClusterState::default()
    };
    let members = etcd_files.and_then(|(ca, cert, key)| {
        let endpoints = kubeadm::etcd::cluster_endpoints(&client).map_err(|e| format!("{e:#}"))?;
        let mut etcd = kubeadm::etcd::EtcdClient::connect_pem(&endpoints, &ca, &cert, &key)
            .map_err(|why| format!("etcd does not answer from here: {why}"))?;
        // Read from the member that answered, not through the leader: with quorum lost
        // the members that still answer are what the plan has to count.
        let members = etcd.member_list_local().map_err(|e| format!("{e:#}"))?;
        // Each member asked on its own: one that does not answer counts for no quorum.
        Ok(members
            .into_iter()
            .map(|m| {
                let healthy = m.client_urls.first().is_some_and(|url| {
                    kubeadm::etcd::EtcdClient::connect_pem(
                        std::slice::from_ref(url),
                        &ca,
                        &cert,
                        &key,
                    )
                    .is_ok_and(|mut c| c.member_list_local().is_ok())
                });
                (m, healthy)
            })
            .collect::<Vec<_>>())
    });
    match members {
        Ok(m) => {
            state.etcd_members = Some(
                m.into_iter()
                    .map(|(m, healthy)| EtcdMemberState {
                        name: m.name,
                        id: format!("{:x}", m.id),
                        learner: m.is_learner,
                        peer_urls: m.peer_urls,
                        client_urls: m.client_urls,
                        healthy,
                    })
                    .collect(),
            )
        }
        Err(why) => state.etcd_error = Some(why),
    }
    Ok(state)
}

/// The Nodes of a NodeList, by name.
fn nodes_of(list: &Value) -> Vec<NodeState> {
    let mut nodes: Vec<NodeState> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let condition = n["status"]["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
            let ready = condition.map(|c| c["status"] == "True");
            let ready_since = condition
                .and_then(|c| c["lastTransitionTime"].as_str())
                .map(str::to_string);
            Some(NodeState {
                name: n["metadata"]["name"].as_str()?.to_string(),
                kubelet_version: n["status"]["nodeInfo"]["kubeletVersion"]
                    .as_str()
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
                ready,
                ready_since,
                control_plane: n["metadata"]["labels"]
                    .get("node-role.kubernetes.io/control-plane")
                    .is_some(),
                unschedulable: n["spec"]["unschedulable"] == true,
                upgrade_cordoned: n["metadata"]["annotations"][super::drain::UPGRADE_CORDONED]
                    .as_str()
                    .map(str::to_string),
            })
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// The API servers' versions, from the images of their mirror Pods.
fn control_plane_of(pods: &Value) -> Vec<ControlPlaneVersion> {
    let mut out: Vec<ControlPlaneVersion> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let image = p["spec"]["containers"]
                .as_array()?
                .iter()
                .find(|c| c["name"] == "kube-apiserver")?["image"]
                .as_str()?;
            Some(ControlPlaneVersion {
                node: p["spec"]["nodeName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                version: image_tag(image).to_string(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.node.cmp(&b.node));
    out
}

/// The tag of `image` (`registry.k8s.io/kube-apiserver:v1.37.1` -> `v1.37.1`), or the
/// image itself without one (a registry's port is not a tag).
fn image_tag(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => tag,
        None => image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_report_their_kubelet_version_and_readiness() {
        let list = json!({"items": [
            {"metadata": {"name": "w-1"}},
            {"metadata": {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
             "status": {"nodeInfo": {"kubeletVersion": "v1.37.1"},
                        "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "w-2"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}},
        ]});
        let nodes = nodes_of(&list);
        assert_eq!(
            nodes.iter().map(NodeState::summary).collect::<Vec<_>>(),
            ["Ready v1.37.1", "unknown", "NotReady"]
        );
        assert_eq!(nodes[0].name, "cp-1");
        assert!(nodes[0].control_plane && !nodes[1].control_plane);
    }

    #[test]
    fn the_control_planes_version_is_its_images_tag() {
        assert_eq!(
            image_tag("registry.k8s.io/kube-apiserver:v1.37.1"),
            "v1.37.1"
        );
        assert_eq!(
            image_tag("reg.example:5000/kube-apiserver:v1.36.2"),
            "v1.36.2"
        );
        assert_eq!(
            image_tag("reg.example:5000/kube-apiserver"),
            "reg.example:5000/kube-apiserver"
        );
        assert_eq!(image_tag("k/kube-apiserver:v1.37.0@sha256:ab"), "v1.37.0");
        let pods = json!({"items": [
            {"spec": {"nodeName": "cp-2", "containers": [{"name": "kube-apiserver", "image": "r/kube-apiserver:v1.37.1"}]}},
            {"spec": {"nodeName": "cp-1", "containers": [{"name": "kube-apiserver", "image": "r/kube-apiserver:v1.36.9"}]}},
        ]});
        assert_eq!(
            control_plane_of(&pods),
            [
                ControlPlaneVersion {
                    node: "cp-1".into(),
                    version: "v1.36.9".into()
                },
                ControlPlaneVersion {
                    node: "cp-2".into(),
                    version: "v1.37.1".into()
                },
            ]
        );
    }
}

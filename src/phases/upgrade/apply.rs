//! `kubeadm upgrade apply`'s own phases: preflight with the cluster's health checks and
//! the version skew policy, upload-config and bootstrap-token; and the apply workflow.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use super::common::{
    addon_coredns, addon_kube_proxy, addon_phase, kubelet_config_phase, post_upgrade_phase,
};
use super::controlplane::control_plane;
use super::{print_configuration, UpgradeData};
use crate::client::Api;
use crate::manifests::MANIFESTS_DIR;
use crate::phases::kubeconfig::KUBERNETES_DIR;
use crate::workflow::{Phase, Workflow};

/// `preflight`: root, the versions, the skew policy, and the user's go-ahead.
fn preflight(d: &mut UpgradeData) -> anyhow::Result<()> {
    println!("[preflight] Running pre-flight checks.");
    let ignored = crate::preflight::Ignored::new(&d.opts.ignore_preflight_errors)?;
    let mut notes = Vec::new();
    crate::phases::preflight::run_checks(
        d.host.as_ref(),
        &[crate::preflight::Check::IsPrivilegedUser],
        &ignored,
        d.dry_run(),
        &mut notes,
    )?;
    println!("[upgrade/config] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...");
    let target = d.target()?;
    let client = d.client()?;
    cluster_health(d, client.as_ref(), &ignored)?;
    let state = crate::upgrade::plan::cluster_state(client.as_ref())?;
    println!("[upgrade/versions] Cluster version: {}", state.kube_version);
    println!(
        "[upgrade/versions] kubeadm version: {}",
        crate::version::KUBERNETES_VERSION
    );
    let force = d.opts.force;
    let skew =
        crate::upgrade::policy::check(&state, &target, d.opts.allow_experimental, d.opts.allow_rc)?;
    if !skew.mandatory.is_empty() {
        anyhow::bail!(
            "the upgrade to {target} is not supported:\n  - {}",
            skew.mandatory.join("\n  - ")
        );
    }
    if !skew.skippable.is_empty() {
        if !force {
            anyhow::bail!(
                "the upgrade to {target} is not supported without --force:\n  - {}\nPass --force to upgrade anyway",
                skew.skippable.join("\n  - ")
            );
        }
        for m in &skew.skippable {
            eprintln!("[upgrade/version] Found {} potential version compatibility errors but skipping since the --force flag is set: {m}", skew.skippable.len());
        }
    }
    // The configuration at the target version, validated as init validates it.
    let cfg = d.config()?;
    if d.opts.print_config {
        print_configuration(&cfg.versioned.cluster)?;
    }
    let yes = d.opts.yes || force || d.dry_run();
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("won't proceed: the upgrade asks for confirmation and standard input is not a terminal; pass --yes (-y) to upgrade without asking");
        }
        use std::io::Write;
        print!("[upgrade] Are you sure you want to proceed? [y/N]: ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !line.trim().eq_ignore_ascii_case("y") {
            anyhow::bail!("won't proceed; the user didn't answer (Y|n) in order to continue");
        }
    }
    let policy = match d.opts.image_pull_policy.as_str() {
        "" => "IfNotPresent",
        p => p,
    };
    crate::phases::preflight::pull_images_with(
        d.host.as_ref(),
        &cfg,
        policy,
        d.opts.image_pull_serial,
        &ignored,
        d.dry_run(),
    )
}

/// Upstream's cluster health checks before an upgrade: a Job can run (`CreateJob`), every
/// control-plane Node is Ready (`ControlPlaneNodesReady`), and this node has the static
/// Pod manifests (`StaticPodManifest`); each may be ignored by name.
fn cluster_health(
    d: &mut UpgradeData,
    client: &dyn Api,
    ignored: &crate::preflight::Ignored,
) -> anyhow::Result<()> {
    use crate::preflight::Finding;
    println!("[upgrade] Running cluster health checks");
    let job = if d.dry_run() {
        println!(
            "[upgrade/health] Would create the Job with the prefix {:?} in namespace \"kube-system\" and wait until it completes",
            crate::objects::HEALTH_CHECK_JOB
        );
        Vec::new()
    } else {
        let docs = crate::phases::api::read_kubeadm_config(client)?;
        let repo = docs
            .cluster
            .map(|c| c.image_repository)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| crate::config::DEFAULT_IMAGE_REPOSITORY.to_string());
        let pause = format!("{repo}/pause:{}", crate::images::pause_version());
        health_check_job(client, &pause).err().into_iter().collect()
    };
    let nodes = not_ready_control_planes(client)
        .map(|names| {
            (!names.is_empty()).then(|| {
                format!(
                    "there are NotReady control-planes in the cluster: [{}]",
                    names.join(" ")
                )
            })
        })
        .unwrap_or_else(|e| Some(e.to_string()));
    let missing: Vec<String> = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
    ]
    .iter()
    .map(|c| Path::new(MANIFESTS_DIR).join(format!("{c}.yaml")))
    .filter(|p| !matches!(d.host.exists(p), Ok(true)))
    .map(|p| p.display().to_string())
    .collect();
    let manifests = (!missing.is_empty()).then(|| format!("The control plane seems to be Static Pod-hosted, but some of the manifests don't seem to exist on disk. This probably means you're running 'kubeadm upgrade' on a remote machine, which is not supported for a Static Pod-hosted cluster. Manifest files not found: [{}]", missing.join(" ")));
    crate::preflight::report(&[
        Finding::of("CreateJob", job, ignored),
        Finding::of(
            "ControlPlaneNodesReady",
            nodes.into_iter().collect(),
            ignored,
        ),
        Finding::of(
            "StaticPodManifest",
            manifests.into_iter().collect(),
            ignored,
        ),
    ])
}

/// How long the `CreateJob` check waits to create its Job and then for it to complete:
/// a minute since upstream's #136273 (v1.36; 15 s before), time for a slow node to pull
/// the pause image.
const CREATE_JOB_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs upstream's health-check Job and waits ([`CREATE_JOB_TIMEOUT`]) for it to
/// complete, as upstream does since v1.30: skipped (a warning) when no Node can take a
/// Pod; the Job's name is unique (`upgrade-health-check-<Unix time in ms>`, the form
/// upstream's Jobs carry in its users' logs) and it is left to the TTL controller, not
/// deleted here.
fn health_check_job(api: &dyn Api, pause_image: &str) -> Result<(), String> {
    use crate::objects::HEALTH_CHECK_JOB as PREFIX;
    const TIMEOUT: Duration = CREATE_JOB_TIMEOUT;
    const SCHEDULABLE: &str = "/api/v1/nodes?fieldSelector=spec.unschedulable%3Dfalse&limit=1";
    let start = Instant::now();
    let mut poll = crate::interrupt::Poll::new();
    let schedulable = loop {
        match api.call("GET", SCHEDULABLE, None, "application/json") {
            Ok(list) => break list["items"].as_array().is_some_and(|i| !i.is_empty()),
            Err(e) if start.elapsed() < TIMEOUT => {
                tracing::debug!("could not list the schedulable Nodes, retrying: {e}");
            }
            Err(e) => {
                return Err(format!(
                "could not check if there is at least one Node that can schedule a test Pod: {e}"
            ))
            }
        }
        poll.pause()?;
    };
    if !schedulable {
        tracing::warn!("The preflight check \"CreateJob\" was skipped because there are no schedulable Nodes in the cluster.");
        return Ok(());
    }
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let name = format!("{PREFIX}-{millis}");
    let job = crate::objects::to_value(&crate::objects::health_check_job(
        pause_image,
        &name,
        TIMEOUT.as_secs() as u32,
    ));
    let path = crate::client::object_path("Job", Some("kube-system"), &name);
    let collection = crate::client::collection("Job", Some("kube-system"));
    let start = Instant::now();
    let mut poll = crate::interrupt::Poll::new();
    loop {
        match api.call("POST", &collection, Some(&job), "application/json") {
            Ok(_) => break,
            Err(e) if start.elapsed() < TIMEOUT => {
                tracing::debug!("could not create Job {name:?}, retrying: {e}");
            }
            Err(e) => {
                return Err(format!(
                    "could not create a Job with the prefix {PREFIX:?} in the namespace \"kube-system\": {e}"
                ))
            }
        }
        poll.pause()?;
    }
    let start = Instant::now();
    let mut poll = crate::interrupt::Poll::new();
    loop {
        let last = match api.call("GET", &path, None, "application/json") {
            Ok(j) => {
                let complete = j["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Complete" && c["status"] == "True")
                });
                if complete {
                    return Ok(());
                }
                "no condition of type Complete".to_string()
            }
            Err(e) => e.to_string(),
        };
        if start.elapsed() >= TIMEOUT {
            return Err(format!(
                "Job {name:?} in the namespace \"kube-system\" did not complete in {}: {last}",
                crate::duration::format_duration(TIMEOUT)
            ));
        }
        poll.pause()?;
    }
}

/// The control-plane Nodes whose Ready condition is not True.
fn not_ready_control_planes(api: &dyn Api) -> anyhow::Result<Vec<String>> {
    let list = api
        .call(
            "GET",
            "/api/v1/nodes?labelSelector=node-role.kubernetes.io%2Fcontrol-plane%3D",
            None,
            "application/json",
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "could not list nodes labeled with \"node-role.kubernetes.io/control-plane\": {e}"
            )
        })?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| {
            n["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] != "True")
        })
        .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
        .collect())
}

/// `upload-config`: kubeadm-config and kubelet-config at the new version.
fn upload_kubeadm(d: &mut UpgradeData) -> anyhow::Result<()> {
    let cfg = d.config()?;
    let api = d.writer()?;
    crate::phases::api::upload_kubeadm_config(api.as_ref(), &cfg)
}

fn upload_kubelet(d: &mut UpgradeData) -> anyhow::Result<()> {
    let cfg = d.config()?;
    let api = d.writer()?;
    crate::phases::api::upload_kubelet_config(api.as_ref(), &cfg)
}

/// `bootstrap-token`: the RBAC rules node bootstrap needs, and cluster-info.
fn bootstrap_token(d: &mut UpgradeData) -> anyhow::Result<()> {
    let api = d.writer()?;
    let admin = Path::new(KUBERNETES_DIR).join("admin.conf");
    let info = crate::phases::api::cluster_info_kubeconfig(d.host.as_ref(), &admin)?;
    println!("[bootstrap-token] Configuring bootstrap token and cluster-info RBAC rules");
    crate::phases::api::bootstrap_rbac_and_cluster_info(api.as_ref(), &info)
}

/// The `upgrade apply` phases, in upstream's order.
pub fn workflow() -> Workflow<UpgradeData> {
    const CFG: &[&str] = &["config", "dry-run", "kubeconfig"];
    Workflow::new(
        "apply",
        vec![
            Phase::new("preflight", "Run preflight checks before upgrade")
                .inherit(&[
                    "config",
                    "dry-run",
                    "force",
                    "ignore-preflight-errors",
                    "kubeconfig",
                    "yes",
                    "allow-experimental-upgrades",
                    "allow-release-candidate-upgrades",
                ])
                .run(preflight),
            Phase::new("control-plane", "Upgrade the control plane")
                .inherit(&[
                    "certificate-renewal",
                    "config",
                    "dry-run",
                    "etcd-upgrade",
                    "kubeconfig",
                    "patches",
                ])
                .run(control_plane),
            Phase::new(
                "upload-config",
                "Upload the kubeadm and kubelet configurations to ConfigMaps",
            )
            .children(vec![
                Phase::all("Upload all the configurations to ConfigMaps", CFG),
                Phase::new(
                    "kubeadm",
                    "Upload the kubeadm ClusterConfiguration to a ConfigMap",
                )
                .inherit(CFG)
                .run(upload_kubeadm),
                Phase::new("kubelet", "Upload the kubelet configuration to a ConfigMap")
                    .inherit(CFG)
                    .run(upload_kubelet),
            ]),
            kubelet_config_phase(),
            Phase::new(
                "bootstrap-token",
                "Configures bootstrap token and cluster-info RBAC rules",
            )
            .inherit(CFG)
            .run(bootstrap_token),
            addon_phase(addon_coredns, addon_kube_proxy),
            post_upgrade_phase(),
        ],
    )
    .under(&["upgrade"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ApiError;
    use std::sync::Mutex;

    /// An API server whose health-check Job completes `after` its creation.
    struct SlowJob {
        after: Duration,
        created: Mutex<Option<Instant>>,
        /// The schedulable Nodes.
        nodes: Vec<serde_json::Value>,
    }

    impl Api for SlowJob {
        fn call(
            &self,
            method: &str,
            path: &str,
            _body: Option<&serde_json::Value>,
            _content_type: &str,
        ) -> Result<serde_json::Value, ApiError> {
            if path.starts_with("/api/v1/nodes") {
                return Ok(serde_json::json!({"items": self.nodes.clone()}));
            }
            let mut created = self.created.lock().unwrap();
            match (method, *created) {
                ("POST", _) => {
                    *created = Some(Instant::now());
                    Ok(serde_json::json!({}))
                }
                ("GET", Some(at)) if at.elapsed() >= self.after => Ok(serde_json::json!({
                    "status": {"conditions": [{"type": "Complete", "status": "True"}]}
                })),
                ("GET", Some(_)) => Ok(serde_json::json!({"status": {}})),
                ("DELETE", _) => Ok(serde_json::json!({})),
                _ => Err(ApiError {
                    code: 404,
                    reason: "NotFound".into(),
                    message: "jobs.batch \"upgrade-health-check\" not found".into(),
                }),
            }
        }
    }

    #[test]
    fn the_create_job_check_waits_past_the_old_fifteen_seconds() {
        // A Job that needs 17 s (a node pulling the pause image) passes, as upstream's
        // since #136273; it failed with the 15 s wait before.
        let api = SlowJob {
            after: Duration::from_secs(17),
            created: Mutex::new(None),
            nodes: vec![serde_json::json!({"metadata": {"name": "cp-1"}})],
        };
        health_check_job(&api, "registry.k8s.io/pause:3.10.2").unwrap();
        assert!(api.created.lock().unwrap().is_some());
    }

    #[test]
    fn the_create_job_check_is_skipped_without_a_schedulable_node() {
        // As upstream: no Node can take the Pod (all cordoned), so no Job is made.
        let api = SlowJob {
            after: Duration::ZERO,
            created: Mutex::new(None),
            nodes: vec![],
        };
        health_check_job(&api, "registry.k8s.io/pause:3.10.2").unwrap();
        assert!(api.created.lock().unwrap().is_none());
    }
}

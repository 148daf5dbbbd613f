//! `kubeadm upgrade`: plan, apply, node and diff.

use std::path::PathBuf;

use anyhow::Context;

use super::token::OutputArgs;
use crate::phases::upgrade::UpgradeOptions;

/// `kubeadm upgrade` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UpgradeCommand {
    /// Upgrade your Kubernetes cluster to the specified version
    Apply(ApplyArgs),
    /// Show what differences would be applied to existing static pod manifests. See also: kubeadm upgrade apply --dry-run
    Diff(DiffArgs),
    /// Upgrade commands for a node in the cluster
    Node(NodeArgs),
    /// Check which versions are available to upgrade to and validate whether your current cluster is upgradeable.
    Plan(PlanArgs),
}

/// Flags shared by the upgrade commands.
#[derive(Debug, Clone, clap::Args)]
pub struct UpgradeCommonArgs {
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// A list of checks whose errors will be shown as warnings. Example: 'IsPrivilegedUser,Swap'. Value 'all' ignores errors from all checks.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
    /// The kubeconfig file to use when talking to the cluster. If the flag is not set, a set of standard locations can be searched for an existing kubeconfig file. [default: /etc/kubernetes/admin.conf]
    #[arg(long, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// Perform the upgrade of etcd. [default: true]
    #[arg(long, value_name = "bool", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = super::argv::parse_go_bool, default_value_t = true)]
    pub etcd_upgrade: bool,
    /// Show unstable versions of Kubernetes as an upgrade alternative and allow upgrading to an alpha/beta/release candidate versions of Kubernetes.
    #[arg(long)]
    pub allow_experimental_upgrades: bool,
    /// Show release candidate versions of Kubernetes as an upgrade alternative and allow upgrading to a release candidate versions of Kubernetes.
    #[arg(long)]
    pub allow_release_candidate_upgrades: bool,
    /// Specify whether the configuration file that will be used in the upgrade should be printed or not.
    #[arg(long)]
    pub print_config: bool,
}

/// Flags of `kubeadm upgrade apply` (and of `kubeadm upgrade apply phase ...`).
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// The version to upgrade to.
    #[arg(value_name = "version")]
    pub version: Option<String>,
    /// Shared flags.
    #[command(flatten)]
    pub common: UpgradeCommonArgs,
    /// Perform the renewal of certificates used by component changed during upgrades. [default: true]
    #[arg(long, value_name = "bool", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = super::argv::parse_go_bool, default_value_t = true)]
    pub certificate_renewal: bool,
    /// Do not change any state, just output what actions would be performed.
    #[arg(long)]
    pub dry_run: bool,
    /// Force upgrading although some requirements might not be met. This also implies non-interactive mode.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Path to a directory that contains files named "target[suffix][+patchtype].extension".
    #[arg(long, value_name = "string")]
    pub patches: Option<PathBuf>,
    /// List of phases to be skipped
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub skip_phases: Vec<String>,
    /// Perform the upgrade and do not prompt for confirmation (non-interactive mode).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// Flags of `kubeadm upgrade plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The version to plan for.
    #[arg(value_name = "version")]
    pub version: Option<String>,
    /// Shared flags.
    #[command(flatten)]
    pub common: UpgradeCommonArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags of `kubeadm upgrade node` (and of `kubeadm upgrade node phase ...`).
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Perform the renewal of certificates used by component changed during upgrades. [default: true]
    #[arg(long, value_name = "bool", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = super::argv::parse_go_bool, default_value_t = true)]
    pub certificate_renewal: bool,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// Do not change any state, just output the actions that would be performed.
    #[arg(long)]
    pub dry_run: bool,
    /// Perform the upgrade of etcd. [default: true]
    #[arg(long, value_name = "bool", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = super::argv::parse_go_bool, default_value_t = true)]
    pub etcd_upgrade: bool,
    /// A list of checks whose errors will be shown as warnings. Example: 'IsPrivilegedUser,Swap'. Value 'all' ignores errors from all checks.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
    /// The kubeconfig file to use when talking to the cluster. [default: /etc/kubernetes/admin.conf]
    #[arg(long, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// Path to a directory that contains files named "target[suffix][+patchtype].extension".
    #[arg(long, value_name = "string")]
    pub patches: Option<PathBuf>,
    /// List of phases to be skipped
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub skip_phases: Vec<String>,
}

/// Flags of `kubeadm upgrade diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The version to compare against.
    #[arg(value_name = "version")]
    pub version: Option<String>,
    /// path to API server manifest [default: /etc/kubernetes/manifests/kube-apiserver.yaml]
    #[arg(long, value_name = "string")]
    pub api_server_manifest: Option<PathBuf>,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// How many lines of context in the diff
    #[arg(short = 'c', long, value_name = "int", default_value_t = 3)]
    pub context_lines: u32,
    /// path to controller manifest [default: /etc/kubernetes/manifests/kube-controller-manager.yaml]
    #[arg(long, value_name = "string")]
    pub controller_manager_manifest: Option<PathBuf>,
    /// The kubeconfig file to use when talking to the cluster. [default: /etc/kubernetes/admin.conf]
    #[arg(long, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// path to scheduler manifest [default: /etc/kubernetes/manifests/kube-scheduler.yaml]
    #[arg(long, value_name = "string")]
    pub scheduler_manifest: Option<PathBuf>,
}

impl super::WorkflowArgs for ApplyArgs {
    /// `--dry-run`, or `apply.dryRun: true` in the UpgradeConfiguration: either makes the
    /// whole run a dry run, host included.
    fn dry_run(&self, host: &dyn crate::host::Host) -> bool {
        self.dry_run
            || crate::config::peek_file(host, self.common.config.as_deref())
                .and_then(|d| d.upgrade)
                .and_then(|u| u.apply.dry_run)
                .unwrap_or(false)
    }
}

impl super::WorkflowArgs for NodeArgs {
    /// `--dry-run`, or `node.dryRun: true` in the UpgradeConfiguration.
    fn dry_run(&self, host: &dyn crate::host::Host) -> bool {
        self.dry_run
            || crate::config::peek_file(host, self.config.as_deref())
                .and_then(|d| d.upgrade)
                .and_then(|u| u.node.dry_run)
                .unwrap_or(false)
    }
}

impl From<ApplyArgs> for UpgradeOptions {
    fn from(a: ApplyArgs) -> Self {
        UpgradeOptions {
            command: crate::phases::upgrade::UpgradeCommand::Apply,
            version: a.version,
            config: a.common.config,
            kubeconfig: a.common.kubeconfig,
            dry_run: a.dry_run,
            force: a.force,
            yes: a.yes,
            etcd_upgrade: a.common.etcd_upgrade,
            certificate_renewal: a.certificate_renewal,
            patches: a.patches,
            skip_phases: a.skip_phases,
            ignore_preflight_errors: a.common.ignore_preflight_errors,
            allow_experimental: a.common.allow_experimental_upgrades,
            allow_rc: a.common.allow_release_candidate_upgrades,
            image_pull_policy: String::new(),
            image_pull_serial: true,
            print_config: a.common.print_config,
        }
    }
}

impl From<NodeArgs> for UpgradeOptions {
    fn from(a: NodeArgs) -> Self {
        UpgradeOptions {
            command: crate::phases::upgrade::UpgradeCommand::Node,
            version: None,
            config: a.config,
            kubeconfig: a.kubeconfig,
            dry_run: a.dry_run,
            force: false,
            yes: true,
            etcd_upgrade: a.etcd_upgrade,
            certificate_renewal: a.certificate_renewal,
            patches: a.patches,
            skip_phases: a.skip_phases,
            ignore_preflight_errors: a.ignore_preflight_errors,
            allow_experimental: false,
            allow_rc: false,
            image_pull_policy: String::new(),
            image_pull_serial: true,
            print_config: false,
        }
    }
}

/// Runs `kubeadm upgrade apply` or `kubeadm upgrade apply phase ...`.
pub fn run_apply(global: &super::GlobalArgs, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    use crate::phases::upgrade::{workflow, UpgradeData};
    super::run_workflow(
        &workflow(),
        global,
        matches,
        &[],
        |args: ApplyArgs, host| UpgradeData::new(args.into(), host),
    )
}

/// Runs `kubeadm upgrade node` or `kubeadm upgrade node phase ...`.
pub fn run_node(global: &super::GlobalArgs, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    use crate::phases::upgrade::{node_workflow, UpgradeData};
    super::run_workflow(
        &node_workflow(),
        global,
        matches,
        &[],
        |args: NodeArgs, host| UpgradeData::new(args.into(), host),
    )
}

/// Runs a `kubeadm upgrade` subcommand.
pub fn run(global: &super::GlobalArgs, cmd: UpgradeCommand) -> anyhow::Result<()> {
    match cmd {
        UpgradeCommand::Apply(_) => unreachable!("upgrade apply runs through run_apply"),
        UpgradeCommand::Diff(a) => diff(global, a),
        UpgradeCommand::Node(_) => unreachable!("upgrade node runs through run_node"),
        UpgradeCommand::Plan(a) => plan(global, a),
    }
}

/// `kubeadm upgrade plan [version]`.
fn plan(global: &super::GlobalArgs, a: PlanArgs) -> anyhow::Result<()> {
    use crate::upgrade::plan as p;
    use crate::upgrade::semver::KubeVersion;

    let printer = a.output.printer(super::real_host(global).as_ref())?;
    let text = printer.is_text();
    let say = |line: &str| {
        if text {
            println!("{line}");
        }
    };
    let docs = crate::config::load_optional_file_for(
        super::real_host(global).as_ref(),
        a.common.config.as_deref(),
        crate::config::documents::Reader::Upgrade,
    )?;
    let plan_cfg = docs
        .as_ref()
        .and_then(|d| d.upgrade.as_ref())
        .map(|u| u.plan.clone())
        .unwrap_or_default();
    let version_arg = a
        .version
        .clone()
        .or_else(|| Some(plan_cfg.kubernetes_version.clone()).filter(|v| !v.is_empty()));
    let version = match &version_arg {
        None => None,
        Some(v) => {
            let resolved = crate::config::resolve_kubernetes_version(v)?;
            Some(KubeVersion::parse(&resolved).ok_or_else(|| {
                anyhow::anyhow!("{v:?} is not a Kubernetes version; expected one such as v1.37.1")
            })?)
        }
    };
    let host = super::real_host(global);
    let mut ignored = a.common.ignore_preflight_errors.clone();
    ignored.extend(plan_cfg.ignore_preflight_errors.iter().cloned());
    say("[preflight] Running pre-flight checks.");
    let mut notes = Vec::new();
    crate::phases::preflight::run_checks(
        host.as_ref(),
        &[crate::preflight::Check::IsPrivilegedUser],
        &crate::preflight::Ignored::new(&ignored)?,
        false,
        &mut notes,
    )?;
    let kubeconfig = a
        .common
        .kubeconfig
        .clone()
        .unwrap_or_else(|| PathBuf::from("/etc/kubernetes/admin.conf"));
    let client = crate::client::KubeClient::from_kubeconfig(host.as_ref(), &kubeconfig)?;
    say("[upgrade/config] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...");
    say("[upgrade/config] Use 'kubeadm init phase upload-config --config your-config-file' to re-upload it.");
    let cluster_docs = crate::phases::api::read_kubeadm_config(&client)?;
    if a.common.print_config || plan_cfg.print_config.unwrap_or(false) {
        if let Some(c) = &cluster_docs.cluster {
            crate::phases::upgrade::print_configuration(c)?;
        }
    }
    let before = p::cluster_state(&client)?;
    let (lines, upgrades) = p::available_upgrades(&before, version.as_ref(), &p::release_channel)?;
    for l in &lines {
        say(l);
    }
    say("");
    // What `upgrade apply` would refuse for each target, said here already.
    for u in &upgrades {
        let Some(target) = KubeVersion::parse(&u.after.kube_version) else {
            continue;
        };
        let skew = crate::upgrade::policy::check(
            &before,
            &target,
            a.common.allow_experimental_upgrades
                || plan_cfg.allow_experimental_upgrades.unwrap_or(false),
            a.common.allow_release_candidate_upgrades
                || plan_cfg.allow_rc_upgrades.unwrap_or(false),
        )?;
        for m in &skew.mandatory {
            eprintln!("[upgrade/versions] WARNING: {m}");
        }
        for m in &skew.skippable {
            eprintln!("[upgrade/versions] WARNING: {m} (upgrade apply needs --force for this)");
        }
    }
    let plan = p::UpgradePlan {
        api_version: "output.kubeadm.k8s.io/v1alpha3".into(),
        kind: "UpgradePlan".into(),
        available_upgrades: upgrades.iter().map(p::plan_of).collect(),
        config_versions: p::config_versions(&client),
    };
    if !text {
        printer.print(&plan, &mut std::io::stdout().lock())?;
    } else if upgrades.is_empty() {
        println!("Awesome, you're up-to-date! Enjoy!");
    } else {
        print!("{}", p::text(&plan));
    }
    Ok(())
}

/// `kubeadm upgrade diff [version]`: the static Pods of the control plane at the target
/// version, compared with the manifests on disk, as unified diffs.
fn diff(global: &super::GlobalArgs, a: DiffArgs) -> anyhow::Result<()> {
    use crate::manifests::controlplane;
    use crate::upgrade::semver::KubeVersion;

    let host = super::real_host(global);
    let upgrade_cfg = crate::config::load_optional_file_for(
        host.as_ref(),
        a.config.as_deref(),
        crate::config::documents::Reader::Upgrade,
    )?
    .and_then(|d| d.upgrade)
    .map(|u| u.diff)
    .unwrap_or_default();
    let kubeconfig = a
        .kubeconfig
        .clone()
        .unwrap_or_else(|| PathBuf::from("/etc/kubernetes/admin.conf"));
    let client = crate::client::KubeClient::from_kubeconfig(host.as_ref(), &kubeconfig)?;
    let mut docs = crate::phases::api::read_kubeadm_config(&client)?;
    // The version: the cluster's, then the configuration's, then the argument, as upstream.
    let mut version = docs
        .cluster
        .as_ref()
        .map(|c| c.kubernetes_version.clone())
        .unwrap_or_default();
    if !upgrade_cfg.kubernetes_version.is_empty() {
        version = upgrade_cfg.kubernetes_version.clone();
    }
    if let Some(v) = &a.version {
        version = v.clone();
    }
    if version.is_empty() {
        return Err(super::usage_error(
            "missing one or more required arguments. Required arguments: [version]",
        ));
    }
    let version = crate::config::resolve_kubernetes_version(&version)?;
    KubeVersion::parse(&version).ok_or_else(|| {
        anyhow::anyhow!("{version:?} is not a Kubernetes version; expected one such as v1.37.1")
    })?;
    let manifests = std::path::Path::new(crate::manifests::MANIFESTS_DIR);
    let paths = [
        a.api_server_manifest
            .clone()
            .unwrap_or_else(|| manifests.join("kube-apiserver.yaml")),
        a.controller_manager_manifest
            .clone()
            .unwrap_or_else(|| manifests.join("kube-controller-manager.yaml")),
        a.scheduler_manifest
            .clone()
            .unwrap_or_else(|| manifests.join("kube-scheduler.yaml")),
    ];
    // This node's API endpoint, from its API server's manifest, as upstream reads it from
    // the API server Pod.
    let apiserver_text = host.read_to_string(&paths[0]).with_context(|| {
        format!(
            "the manifest file {:?} does not exist",
            paths[0].display().to_string()
        )
    })?;
    let apiserver = crate::manifests::from_yaml(&paths[0], &apiserver_text)?;
    let endpoint = apiserver
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(controlplane::ADVERTISE_ADDRESS_ANNOTATION))
        .cloned()
        .with_context(|| {
            format!(
                "{}: no {:?} annotation: is this a control-plane node set up by kubeadm?",
                paths[0].display(),
                controlplane::ADVERTISE_ADDRESS_ANNOTATION
            )
        })?;
    let (address, port) = crate::config::split_host_port(&endpoint);
    if let Some(c) = docs.cluster.as_mut() {
        c.kubernetes_version = version.clone();
    }
    let overrides = crate::config::InitOverrides {
        advertise_address: Some(address),
        bind_port: port,
        ..Default::default()
    };
    let cfg = crate::config::init_configuration(host.as_ref(), Some(&docs), &overrides)?;
    let proxy_env = crate::manifests::proxy_env_of(std::env::vars());
    let ctx = controlplane::Context {
        host: host.as_ref(),
        proxy_env: &proxy_env,
        kubeconfig_dir: std::path::Path::new(crate::phases::kubeconfig::KUBERNETES_DIR),
    };
    let context = if upgrade_cfg.context_lines > 0 && a.context_lines == 3 {
        upgrade_cfg.context_lines as usize
    } else {
        a.context_lines as usize
    };
    for (component, path) in controlplane::COMPONENTS.iter().zip(&paths) {
        let pod = controlplane::component(component, &cfg, &ctx)
            .with_context(|| format!("{component} is not a control-plane component"))?;
        let new = crate::manifests::to_yaml(&pod)?;
        let old = host
            .read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?;
        let text = similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(context)
            .header(&path.display().to_string(), "new manifest")
            .to_string();
        print!("{text}");
    }
    Ok(())
}

//! `kubeadm join`: flags and the hand-off to the join workflow.

use std::path::PathBuf;

use clap::ArgMatches;

use super::{run_workflow, GlobalArgs, WorkflowArgs};
use crate::phases::join::{workflow, JoinData, JoinOptions};

/// Flags of `kubeadm join` (and, where a phase inherits them, of `kubeadm join phase ...`).
#[derive(Debug, Clone, clap::Args)]
pub struct JoinArgs {
    /// The control-plane endpoint (host:port) to discover the cluster from.
    #[arg(value_name = "api-server-endpoint")]
    pub api_server_endpoint: Option<String>,
    /// If the node should host a new control plane instance, the IP address the API Server will advertise it's listening on. If not set the default network interface will be used.
    #[arg(long, value_name = "string")]
    pub apiserver_advertise_address: Option<String>,
    /// If the node should host a new control plane instance, the port for the API Server to bind to. [default: 6443]
    #[arg(long, value_name = "int32")]
    pub apiserver_bind_port: Option<u16>,
    /// Use this key to decrypt the certificate secrets uploaded by init. The certificate key is a hex encoded string that is an AES key of size 32 bytes.
    #[arg(long, value_name = "string")]
    pub certificate_key: Option<String>,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// Create a new control plane instance on this node
    #[arg(long)]
    pub control_plane: bool,
    /// Path to the CRI socket to connect. If empty kubeadm will try to auto-detect this value; use this option only if you have more than one CRI installed or if you have non-standard CRI socket.
    #[arg(long, value_name = "string")]
    pub cri_socket: Option<String>,
    /// For file-based discovery, a file or URL from which to load cluster information.
    #[arg(long, value_name = "string")]
    pub discovery_file: Option<String>,
    /// For token-based discovery, the token used to validate cluster information fetched from the API server.
    #[arg(long, value_name = "string")]
    pub discovery_token: Option<String>,
    /// For token-based discovery, validate that the root CA public key matches this hash (format: "<type>:<value>").
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub discovery_token_ca_cert_hash: Vec<String>,
    /// For token-based discovery, allow joining without --discovery-token-ca-cert-hash pinning.
    #[arg(long)]
    pub discovery_token_unsafe_skip_ca_verification: bool,
    /// Don't apply any changes; just output what would be done.
    #[arg(long)]
    pub dry_run: bool,
    /// A list of checks whose errors will be shown as warnings. Example: 'IsPrivilegedUser,Swap'. Value 'all' ignores errors from all checks.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
    /// Specify the node name.
    #[arg(long, value_name = "string")]
    pub node_name: Option<String>,
    /// Path to a directory that contains files named "target[suffix][+patchtype].extension". "target" can be one of "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kubeletconfiguration". "patchtype" can be one of "strategic", "merge" or "json". "extension" must be either "json" or "yaml".
    #[arg(long, value_name = "string")]
    pub patches: Option<PathBuf>,
    /// List of phases to be skipped
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub skip_phases: Vec<String>,
    /// Specify the token used to temporarily authenticate with the Kubernetes Control Plane while joining the node.
    #[arg(long, value_name = "string")]
    pub tls_bootstrap_token: Option<String>,
    /// Use this token for both discovery-token and tls-bootstrap-token when those values are not provided.
    #[arg(long, value_name = "string")]
    pub token: Option<String>,
}

options_from_args!(JoinArgs => JoinOptions {
    api_server_endpoint,
    apiserver_advertise_address,
    apiserver_bind_port,
    certificate_key,
    config,
    control_plane,
    cri_socket,
    discovery_file,
    discovery_token,
    discovery_token_ca_cert_hash,
    discovery_token_unsafe_skip_ca_verification,
    dry_run,
    ignore_preflight_errors,
    node_name,
    patches,
    skip_phases,
    tls_bootstrap_token,
    token,
});

impl WorkflowArgs for JoinArgs {
    fn dry_run(&self, _host: &dyn crate::host::Host) -> bool {
        self.dry_run
    }
}

/// Runs `kubeadm join` or `kubeadm join phase ...`.
pub fn run(global: &GlobalArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    run_workflow(&workflow(), global, matches, &[], |args: JoinArgs, host| {
        JoinData::new(args.into(), host)
    })
}

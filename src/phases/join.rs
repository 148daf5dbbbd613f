//! The `kubeadm join` workflow.

use std::sync::Arc;

use super::pending;
use crate::cli::join::JoinArgs;
use crate::config::join::{join_configuration, JoinConfiguration, JoinOverrides};
use crate::host::Host;
use crate::workflow::{Phase, Workflow};

impl crate::workflow::WorkflowData for JoinData {
    fn skip_phases(&self) -> Vec<String> {
        if self.args.skip_phases.is_empty() {
            self.cfg.versioned.skip_phases.clone()
        } else {
            self.args.skip_phases.clone()
        }
    }
}

/// What the join phases share.
pub struct JoinData {
    /// The command-line flags.
    pub args: JoinArgs,
    /// The configuration every phase reads.
    pub cfg: JoinConfiguration,
    /// The machine (or the dry-run recorder).
    pub host: Arc<dyn Host>,
}

impl JoinData {
    /// Builds the data from the flags and `--config`.
    pub fn new(args: JoinArgs, host: Arc<dyn Host>) -> anyhow::Result<Self> {
        let docs = match &args.config {
            Some(path) => {
                crate::config::check_mixed_flags(&args.given_flags())?;
                Some(crate::config::load_file(path)?)
            }
            None => None,
        };
        let overrides = JoinOverrides {
            api_server_endpoint: args.api_server_endpoint.clone(),
            advertise_address: args.apiserver_advertise_address.clone(),
            bind_port: args.apiserver_bind_port,
            certificate_key: args.certificate_key.clone(),
            control_plane: args.control_plane,
            cri_socket: args.cri_socket.clone(),
            discovery_file: args.discovery_file.clone(),
            discovery_token: args.discovery_token.clone(),
            ca_cert_hashes: args.discovery_token_ca_cert_hash.clone(),
            unsafe_skip_ca_verification: args.discovery_token_unsafe_skip_ca_verification,
            node_name: args.node_name.clone(),
            tls_bootstrap_token: args.tls_bootstrap_token.clone(),
            token: args.token.clone(),
            patches: args.patches.clone(),
            ignore_preflight_errors: args.ignore_preflight_errors.clone(),
        };
        let cfg = join_configuration(host.as_ref(), docs.as_ref(), &overrides)?;
        Ok(JoinData { args, cfg, host })
    }

    fn control_plane(&self) -> bool {
        self.cfg.control_plane.is_some()
    }
}

const DISCOVERY_FLAGS: &[&str] = &[
    "config",
    "discovery-file",
    "discovery-token",
    "discovery-token-ca-cert-hash",
    "discovery-token-unsafe-skip-ca-verification",
    "dry-run",
    "tls-bootstrap-token",
    "token",
];
const CONTROL_PLANE_PREPARE_FLAGS: &[&str] = &[
    "apiserver-advertise-address",
    "apiserver-bind-port",
    "certificate-key",
    "config",
    "control-plane",
    "discovery-file",
    "discovery-token",
    "discovery-token-ca-cert-hash",
    "discovery-token-unsafe-skip-ca-verification",
    "dry-run",
    "node-name",
    "patches",
    "tls-bootstrap-token",
    "token",
];
const CONTROL_PLANE_JOIN_FLAGS: &[&str] = &[
    "apiserver-advertise-address",
    "config",
    "control-plane",
    "dry-run",
    "node-name",
    "patches",
];

fn prepare(name: &'static str, short: &'static str) -> Phase<JoinData> {
    Phase::new(name, short)
        .inherit(CONTROL_PLANE_PREPARE_FLAGS)
        .run(pending)
        .run_if(JoinData::control_plane)
}

/// The join phases, in upstream's order.
pub fn workflow() -> Workflow<JoinData> {
    Workflow::new(
        "join",
        vec![
            Phase::new("preflight", "Run join pre-flight checks")
                .long("Run pre-flight checks for kubeadm join.")
                .inherit(&[
                    "apiserver-advertise-address",
                    "apiserver-bind-port",
                    "certificate-key",
                    "config",
                    "control-plane",
                    "cri-socket",
                    "discovery-file",
                    "discovery-token",
                    "discovery-token-ca-cert-hash",
                    "discovery-token-unsafe-skip-ca-verification",
                    "dry-run",
                    "ignore-preflight-errors",
                    "node-name",
                    "tls-bootstrap-token",
                    "token",
                ])
                .run(pending),
            Phase::new("control-plane-prepare", "Prepare the machine for serving a control plane")
                .children(vec![
                    Phase::all("Prepare the machine for serving a control plane", CONTROL_PLANE_PREPARE_FLAGS),
                    prepare("download-certs", "Download certificates shared among control-plane nodes from the kubeadm-certs Secret"),
                    prepare("certs", "Generate the certificates for the new control plane components"),
                    prepare("kubeconfig", "Generate the kubeconfig for the new control plane components"),
                    prepare("control-plane", "Generate the manifests for the new control plane components"),
                ]),
            Phase::new("check-etcd", "Check that the etcd cluster is healthy")
                .hidden()
                .inherit(DISCOVERY_FLAGS)
                .run(pending)
                .run_if(JoinData::control_plane),
            Phase::new("kubelet-start", "Write kubelet settings, certificates and (re)start the kubelet")
                .inherit(&[
                    "config",
                    "cri-socket",
                    "discovery-file",
                    "discovery-token",
                    "discovery-token-ca-cert-hash",
                    "discovery-token-unsafe-skip-ca-verification",
                    "dry-run",
                    "node-name",
                    "patches",
                    "tls-bootstrap-token",
                    "token",
                ])
                .run(pending),
            Phase::new("etcd-join", "Join etcd for control plane nodes")
                .inherit(CONTROL_PLANE_JOIN_FLAGS)
                .run(pending)
                .run_if(JoinData::control_plane),
            Phase::new("kubelet-wait-bootstrap", "Wait for the kubelet to bootstrap itself")
                .inherit(DISCOVERY_FLAGS)
                .run(pending),
            Phase::new("control-plane-join", "Join a machine as a control plane instance")
                .children(vec![
                    Phase::all("Join a machine as a control plane instance", CONTROL_PLANE_JOIN_FLAGS),
                    Phase::new("mark-control-plane", "Mark a node as a control-plane")
                        .inherit(CONTROL_PLANE_JOIN_FLAGS)
                        .run(pending)
                        .run_if(JoinData::control_plane),
                ]),
            Phase::new("wait-control-plane", "Wait for the control plane to start")
                .inherit(DISCOVERY_FLAGS)
                .run(pending)
                .run_if(JoinData::control_plane),
        ],
    )
}

//! `kubeadm kubeconfig`: kubeconfig file utilities.

use std::path::PathBuf;

use super::{real_host, GlobalArgs};
use crate::config::{init_configuration, load_optional_file, InitOverrides};
use crate::duration::parse_go_duration;
use crate::kubeconfig::{AuthInfo, KubeConfig};
use crate::phases::kubeconfig::client_cert_kubeconfig;
use crate::pki::{self, cert_and_key_paths, load_cert, load_key, CertRequest, PrivateKey, Usage};

/// `kubeadm kubeconfig` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KubeconfigCommand {
    /// Output a kubeconfig file for an additional user
    User(UserArgs),
}

/// Flags of `kubeadm kubeconfig user`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// The name of user. It will be used as the CN if client certificates are created
    #[arg(long, value_name = "string", required = true)]
    pub client_name: String,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// The organizations of the client certificate. It will be used as the O if client certificates are created
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub org: Vec<String>,
    /// The token that should be used as the authentication mechanism for this kubeconfig, instead of client certificates
    #[arg(long, value_name = "string")]
    pub token: Option<String>,
    /// The validity period of the client certificate. It is an offset from the current time. [default: 8760h0m0s]
    #[arg(long, value_name = "duration", value_parser = parse_go_duration, allow_hyphen_values = true)]
    pub validity_period: Option<time::Duration>,
}

/// Default `--validity-period`: one year.
const DEFAULT_USER_VALIDITY: time::Duration = time::Duration::hours(8760);

/// Runs a `kubeadm kubeconfig` subcommand.
pub fn run(global: &GlobalArgs, cmd: KubeconfigCommand) -> anyhow::Result<()> {
    let KubeconfigCommand::User(a) = cmd;
    let host = real_host(global);
    let docs = load_optional_file(host.as_ref(), a.config.as_deref())?;
    let cfg = init_configuration(host.as_ref(), docs.as_ref(), &InitOverrides::default())?;
    let (ca_crt, ca_key_path) = cert_and_key_paths(&cfg.cluster.certificates_dir, "ca");
    let ca_der = load_cert(host.as_ref(), &ca_crt)?.ok_or_else(|| {
        anyhow::anyhow!("the cluster CA certificate {} is missing", ca_crt.display())
    })?;
    let server = cfg.control_plane_url();
    let kc = match &a.token {
        Some(token) => KubeConfig::new(
            &cfg.cluster.cluster_name,
            &server,
            pki::cert_pem(&ca_der).as_bytes(),
            &a.client_name,
            AuthInfo {
                token: Some(token.clone()),
                ..AuthInfo::default()
            },
        ),
        None => {
            let ca_key = load_key(host.as_ref(), &ca_key_path)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "the cluster CA key {} is not on this machine, so no client certificate can be signed; use --token, or run this where the CA key is",
                    ca_key_path.display()
                )
            })?;
            let key = PrivateKey::generate(cfg.cluster.encryption_algorithm)?;
            let req = CertRequest::new(
                a.client_name.clone(),
                a.org.clone(),
                vec![],
                vec![],
                vec![Usage::ClientAuth],
            );
            // An offset from now, as upstream takes it: a negative one makes a
            // certificate that has already expired.
            let validity = a.validity_period.unwrap_or(DEFAULT_USER_VALIDITY);
            let now = std::time::SystemTime::now();
            let not_after = if validity.is_negative() {
                now - validity.unsigned_abs()
            } else {
                now + validity.unsigned_abs()
            };
            let cert = pki::new_signed_cert_until(&req, &key, &ca_der, &ca_key, not_after)?;
            client_cert_kubeconfig(
                &cfg.cluster.cluster_name,
                &server,
                &ca_der,
                &a.client_name,
                &cert,
                &key,
            )
        }
    };
    print!("{}", kc.to_yaml()?);
    Ok(())
}

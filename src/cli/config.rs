//! `kubeadm config`: print, migrate and validate configuration files, list and pull images.

use std::path::PathBuf;

use super::token::OutputArgs;

/// `kubeadm config` and its shared flag.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The kubeconfig file to use when talking to the cluster. If the flag is not set, a set of standard locations can be searched for an existing kubeconfig file. [default: /etc/kubernetes/admin.conf]
    #[arg(long, global = true, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// The config operation.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// `kubeadm config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Interact with container images used by kubeadm
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Read an older version of the kubeadm configuration API types from a file, and output the similar config object for the newer version
    Migrate(MigrateArgs),
    /// Print configuration
    #[command(subcommand)]
    Print(PrintCommand),
    /// Read a file containing the kubeadm configuration API and report any validation problems
    Validate(ValidateArgs),
}

/// `kubeadm config print` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PrintCommand {
    /// Print default init configuration, that can be used for 'kubeadm init'
    InitDefaults(ComponentConfigsArgs),
    /// Print default join configuration, that can be used for 'kubeadm join'
    JoinDefaults(ComponentConfigsArgs),
    /// Print default reset configuration, that can be used for 'kubeadm reset'
    ResetDefaults(ComponentConfigsArgs),
    /// Print default upgrade configuration, that can be used for 'kubeadm upgrade'
    UpgradeDefaults(ComponentConfigsArgs),
}

/// The `--component-configs` flag.
#[derive(Debug, clap::Args)]
pub struct ComponentConfigsArgs {
    /// A comma-separated list for component config API objects to print the default values for. Available values: [KubeProxyConfiguration KubeletConfiguration]. If this flag is not set, no component configs will be printed.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub component_configs: Vec<String>,
}

/// Flags of `kubeadm config migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Allow migration to experimental, unreleased APIs.
    #[arg(long)]
    pub allow_experimental_api: bool,
    /// Path to the resulting equivalent kubeadm config file using the new API version. Optional, if not specified output will be sent to STDOUT.
    #[arg(long, value_name = "string")]
    pub new_config: Option<PathBuf>,
    /// Path to the kubeadm config file that is using an old API version and should be converted. This flag is mandatory.
    #[arg(long, value_name = "string")]
    pub old_config: Option<PathBuf>,
}

/// Flags of `kubeadm config validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Allow validation of deprecated APIs.
    #[arg(long)]
    pub allow_deprecated_api: bool,
    /// Allow validation of experimental, unreleased APIs.
    #[arg(long)]
    pub allow_experimental_api: bool,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
}

/// `kubeadm config images` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ImagesCommand {
    /// Print a list of images kubeadm will use. The configuration file is used in case any images or image repositories are customized
    List(ImagesListArgs),
    /// Pull images used by kubeadm
    Pull(ImagesPullArgs),
}

/// Flags choosing the images.
#[derive(Debug, clap::Args)]
pub struct ImageSelectionArgs {
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// A set of key=value pairs that describe feature gates for various features.
    #[arg(long, value_name = "string")]
    pub feature_gates: Option<String>,
    /// Choose a container registry to pull control plane images from [default: registry.k8s.io]
    #[arg(long, value_name = "string")]
    pub image_repository: Option<String>,
    /// Choose a specific Kubernetes version for the control plane. [default: stable-1]
    #[arg(long, value_name = "string")]
    pub kubernetes_version: Option<String>,
}

/// Flags of `kubeadm config images list`.
#[derive(Debug, clap::Args)]
pub struct ImagesListArgs {
    /// Which images.
    #[command(flatten)]
    pub images: ImageSelectionArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags of `kubeadm config images pull`.
#[derive(Debug, clap::Args)]
pub struct ImagesPullArgs {
    /// Which images.
    #[command(flatten)]
    pub images: ImageSelectionArgs,
    /// Path to the CRI socket to connect. If empty kubeadm will try to auto-detect this value; use this option only if you have more than one CRI installed or if you have non-standard CRI socket.
    #[arg(long, value_name = "string")]
    pub cri_socket: Option<String>,
}

/// Runs a `kubeadm config` subcommand.
pub fn run(global: &super::GlobalArgs, args: ConfigArgs) -> anyhow::Result<()> {
    use crate::config::documents::{Reader, Strictness};
    use crate::config::{load_file_with, print};
    match args.command {
        ConfigCommand::Images(ImagesCommand::List(a)) => {
            let printer = a.output.printer(super::real_host(global).as_ref())?;
            let cfg = images_configuration(global, &a.images, None)?;
            let images = crate::images::control_plane_images(&cfg);
            if printer.is_text() {
                for i in &images {
                    println!("{i}");
                }
            } else {
                printer.print(&ImagesList::new(images), &mut std::io::stdout().lock())?;
            }
            Ok(())
        }
        ConfigCommand::Images(ImagesCommand::Pull(a)) => {
            let cfg = images_configuration(global, &a.images, a.cri_socket.clone())?;
            let host = super::real_host(global);
            let images = crate::images::control_plane_images(&cfg);
            let failures = crate::phases::preflight::pull(
                host.as_ref(),
                &cfg.node_registration.cri_socket,
                &images,
                false,
                // Upstream's `config images pull` pulls one image after another.
                true,
                "[config/images]",
            );
            match failures.as_slice() {
                [] => Ok(()),
                [one] => anyhow::bail!("{one}"),
                many => anyhow::bail!(
                    "{} images could not be pulled:\n\t{}",
                    many.len(),
                    many.join("\n\t")
                ),
            }
        }
        ConfigCommand::Print(p) => {
            let (text, component_configs) = match p {
                PrintCommand::InitDefaults(a) => (print::init_defaults()?, a.component_configs),
                PrintCommand::JoinDefaults(a) => (print::join_defaults()?, a.component_configs),
                PrintCommand::ResetDefaults(a) => (print::reset_defaults()?, a.component_configs),
                PrintCommand::UpgradeDefaults(a) => {
                    (print::upgrade_defaults()?, a.component_configs)
                }
            };
            let kinds: Vec<&str> = component_configs
                .iter()
                .flat_map(|c| c.split(','))
                .map(str::trim)
                .collect();
            if let Some(bad) = kinds
                .iter()
                .find(|k| !matches!(**k, "KubeletConfiguration" | "KubeProxyConfiguration"))
            {
                return Err(super::usage_error(format!(
                    "unknown component config kind {bad:?}: expected KubeletConfiguration or KubeProxyConfiguration"
                )));
            }
            print!("{text}");
            for kind in kinds {
                // The defaults kubeadm applies for the default cluster (service subnet
                // 10.96.0.0/12, cluster.local, /etc/kubernetes/pki, IPv4, no pod subnet).
                let doc = match kind {
                    "KubeletConfiguration" => crate::kubelet::document(
                        "10.96.0.0/12",
                        "cluster.local",
                        std::path::Path::new("/etc/kubernetes/pki"),
                        None,
                    )?,
                    "KubeProxyConfiguration" => crate::addons::kube_proxy_document(false, "", None)?,
                    other => {
                        return Err(super::usage_error(format!(
                            "unknown component config kind {other:?}: expected KubeletConfiguration or KubeProxyConfiguration"
                        )))
                    }
                };
                print!("---\n{}", crate::yaml::to_string(&doc)?);
            }
            Ok(())
        }
        ConfigCommand::Migrate(m) => {
            let old = m.old_config.ok_or_else(|| {
                super::usage_error("the --old-config flag is mandatory: the file to convert")
            })?;
            let host = super::real_host(global);
            // Upstream's MigrateOldConfig reads deprecated versions without a warning.
            let docs = load_file_with(
                host.as_ref(),
                &old,
                Strictness::Strict,
                false,
                Reader::ValidateOrMigrate,
            )?;
            let text = print::migrate(&docs)?;
            match m.new_config {
                Some(path) => host
                    .write_file(
                        &path,
                        text.as_bytes(),
                        0o600,
                        crate::host::Sensitivity::Secret,
                    )
                    .map_err(anyhow::Error::from)?,
                None => print!("{text}"),
            }
            Ok(())
        }
        ConfigCommand::Validate(v) => {
            let path = v.config.ok_or_else(|| {
                super::usage_error("the --config flag is mandatory: the file to validate")
            })?;
            print::validate(&load_file_with(
                super::real_host(global).as_ref(),
                &path,
                Strictness::Strict,
                !v.allow_deprecated_api,
                Reader::ValidateOrMigrate,
            )?)?;
            println!("ok");
            Ok(())
        }
    }
}

/// `output.kubeadm.k8s.io/v1alpha3` `Images`, what `config images list -o json|yaml` prints.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ImagesList {
    kind: &'static str,
    api_version: &'static str,
    images: Vec<String>,
}

impl ImagesList {
    fn new(images: Vec<String>) -> Self {
        ImagesList {
            kind: "Images",
            api_version: "output.kubeadm.k8s.io/v1alpha3",
            images,
        }
    }
}

/// The configuration `config images` works from: `--config`, or the defaults with
/// `--kubernetes-version` and `--image-repository`.
fn images_configuration(
    global: &super::GlobalArgs,
    a: &ImageSelectionArgs,
    cri_socket: Option<String>,
) -> anyhow::Result<crate::config::InitConfiguration> {
    let host = super::real_host(global);
    let docs = crate::config::load_optional_file(host.as_ref(), a.config.as_deref())?;
    let feature_gates = match &a.feature_gates {
        Some(text) => crate::config::parse_feature_gates(text)?,
        None => Default::default(),
    };
    let overrides = crate::config::InitOverrides {
        image_repository: a.image_repository.clone(),
        kubernetes_version: a.kubernetes_version.clone(),
        cri_socket,
        feature_gates,
        ..Default::default()
    };
    crate::config::init_configuration(host.as_ref(), docs.as_ref(), &overrides)
}

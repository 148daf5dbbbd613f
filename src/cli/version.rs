//! `kubeadm version`.

use crate::version::{Info, VersionDoc};

/// Flags of `kubeadm version`.
#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Output format; available options are 'yaml', 'json' and 'short'
    #[arg(short = 'o', long, value_name = "string", default_value = "")]
    pub output: String,
}

/// Prints the version in the requested format.
pub fn run(args: VersionArgs) -> anyhow::Result<()> {
    let info = Info::current();
    match args.output.as_str() {
        "" => println!("kubeadm version: {}", info.text()),
        "short" => println!("{}", info.git_version),
        "json" => println!(
            "{}",
            serde_json::to_string_pretty(&VersionDoc {
                client_version: info
            })?
        ),
        "yaml" => print!(
            "{}",
            crate::yaml::to_string(&VersionDoc {
                client_version: info
            })?
        ),
        other => {
            return Err(super::usage_error(format!(
                "invalid output format: {other} (one of: yaml, json, short)"
            )))
        }
    }
    Ok(())
}

//! `kubeadm completion`.

use clap_complete::Shell;

/// Flags of `kubeadm completion`.
#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh or fish.
    #[arg(value_name = "SHELL", value_parser = ["bash", "zsh", "fish"])]
    pub shell: String,
}

/// Prints the completion script for the shell.
pub fn run(args: CompletionArgs) -> anyhow::Result<()> {
    let shell = match args.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    let mut cmd = super::command();
    clap_complete::generate(shell, &mut cmd, "kubeadm", &mut std::io::stdout());
    Ok(())
}

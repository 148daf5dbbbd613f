//! The `preflight` phase: the checks, then (for control-plane nodes) the images.

use std::path::Path;
use std::time::Duration;

use crate::config::InitConfiguration;
use crate::host::Host;
use crate::preflight::{self, Check, Ignored};

/// Runs checks, printing warnings; errors stop the command, except in a dry run, where
/// they are printed and remembered in `notes` for the summary.
pub fn run_checks(
    host: &dyn Host,
    checks: &[Check],
    ignored: &Ignored,
    dry_run: bool,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let findings = preflight::run(host, checks, ignored);
    for line in preflight::warning_lines(&findings) {
        println!("{line}");
    }
    if let Some(report) = preflight::error_report(&findings) {
        if !dry_run {
            anyhow::bail!("{report}");
        }
        println!("{report}");
        let failed: Vec<&str> = findings
            .iter()
            .filter(|f| !f.errors.is_empty())
            .map(|f| f.name.as_str())
            .collect();
        let note = format!(
            "[dryrun] A real run would have stopped at preflight: {} check(s) failed ({})",
            failed.len(),
            failed.join(", ")
        );
        println!("{note}");
        notes.push(note);
    }
    Ok(())
}

/// Init's checks: root first (on its own, failing fast), then the rest.
pub fn init(
    host: &dyn Host,
    cfg: &InitConfiguration,
    manifests_dir: &Path,
    dry_run: bool,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let ignored = Ignored::new(&cfg.versioned.init.node_registration.ignore_preflight_errors)?;
    println!("[preflight] Running pre-flight checks");
    run_checks(host, &[Check::IsPrivilegedUser], &ignored, dry_run, notes)?;
    run_checks(
        host,
        &preflight::init_checks(cfg, manifests_dir),
        &ignored,
        dry_run,
        notes,
    )?;
    pull_images(host, cfg, &ignored, dry_run)
}

/// Pulls the images a control-plane node needs through the CRI, as
/// `nodeRegistration.imagePullPolicy` says (`IfNotPresent`, `Always` or `Never`).
pub fn pull_images(
    host: &dyn Host,
    cfg: &InitConfiguration,
    ignored: &Ignored,
    dry_run: bool,
) -> anyhow::Result<()> {
    pull_images_with(
        host,
        cfg,
        &cfg.versioned.init.node_registration.image_pull_policy,
        ignored,
        dry_run,
    )
}

/// [`pull_images`] with another pull policy (`upgrade`'s `imagePullPolicy`).
pub fn pull_images_with(
    host: &dyn Host,
    cfg: &InitConfiguration,
    policy: &str,
    ignored: &Ignored,
    dry_run: bool,
) -> anyhow::Result<()> {
    if dry_run {
        println!("[preflight] Would pull the required images (like 'kubeadm config images pull')");
        return Ok(());
    }
    if policy == "Never" {
        println!(
            "[preflight] imagePullPolicy is Never: the images must already be on this machine"
        );
        return Ok(());
    }
    println!("[preflight] Pulling images required for setting up a Kubernetes cluster");
    println!("[preflight] This might take a minute or two, depending on the speed of your internet connection");
    println!("[preflight] You can also perform this action beforehand using 'kubeadm config images pull'");
    let images = crate::images::control_plane_images(cfg);
    let errors = pull(
        host,
        &cfg.node_registration.cri_socket,
        &images,
        policy == "Always",
        "[preflight]",
    );
    preflight::report(&[preflight::Finding::of("ImagePull", errors, ignored)])
}

/// Pulls each image that is missing (or every one with `always`), printing a line per
/// image under `prefix` (`[preflight]`, `[config/images]`); returns the failures.
pub fn pull(
    host: &dyn Host,
    endpoint: &str,
    images: &[String],
    always: bool,
    prefix: &str,
) -> Vec<String> {
    let mut client =
        match crate::cri::CriClient::connect_on(host, endpoint, Duration::from_secs(10)) {
            Ok(c) => c,
            Err(e) => return vec![e.to_string()],
        };
    let mut errors = Vec::new();
    for image in images {
        if !always && matches!(client.image_exists(image), Ok(true)) {
            println!("{prefix} Image {image} is already present");
            continue;
        }
        let started = std::time::Instant::now();
        match client.pull_image(image) {
            Ok(_) => println!(
                "{prefix} Pulled {image} in {}",
                crate::output::human_duration(started.elapsed())
            ),
            Err(e) => {
                println!("{prefix} Failed to pull {image}");
                errors.push(format!("failed to pull image {image}: {e}"));
            }
        }
    }
    errors
}

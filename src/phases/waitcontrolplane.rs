//! `wait-control-plane`: the kubelet's health, then each control-plane component's at the
//! address it listens on, each within its timeout; while waiting, the kubelet's journal and
//! the container runtime are asked whether something keeps failing, so that a known cause
//! ends the wait at once with its fix instead of at the timeout.

use std::path::Path;
use std::time::Duration;

use super::api::{secs, timeouts};
use crate::client::health;
use crate::config::InitConfiguration;
use crate::host::Host;

/// Where each control-plane component answers for its health, as upstream's
/// `getControlPlaneComponentAddressAndURL`: the API server at its advertise address and
/// port, the controller-manager and scheduler at their `bind-address` and `secure-port`,
/// each overridable through the component's `extraArgs` (the last value of a repeated
/// argument wins, as on a command line).
pub fn component_health_urls(cfg: &InitConfiguration) -> Vec<(&'static str, String)> {
    let arg = |args: &[crate::config::v1beta4::Arg], name: &str| {
        args.iter()
            .rev()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
            .filter(|v| !v.is_empty())
    };
    let url = |addr: String, port: String, path: &str| {
        let port = port.parse::<u16>().unwrap_or_default();
        format!(
            "https://{}/{path}",
            crate::config::join_host_port(&addr, port)
        )
    };
    let c = &cfg.versioned.cluster;
    let ep = &cfg.local_api_endpoint;
    vec![
        (
            "kube-apiserver",
            url(
                arg(&c.api_server.extra_args, "advertise-address")
                    .unwrap_or_else(|| ep.advertise_address.to_string()),
                arg(&c.api_server.extra_args, "secure-port")
                    .unwrap_or_else(|| ep.bind_port.to_string()),
                "livez",
            ),
        ),
        (
            "kube-controller-manager",
            url(
                arg(&c.controller_manager.extra_args, "bind-address")
                    .unwrap_or_else(|| "127.0.0.1".into()),
                arg(&c.controller_manager.extra_args, "secure-port")
                    .unwrap_or_else(|| "10257".into()),
                "healthz",
            ),
        ),
        (
            "kube-scheduler",
            url(
                arg(&c.scheduler.extra_args, "bind-address").unwrap_or_else(|| "127.0.0.1".into()),
                arg(&c.scheduler.extra_args, "secure-port").unwrap_or_else(|| "10259".into()),
                "livez",
            ),
        ),
    ]
}

/// Asks the container runtime, every second while components are still waited for,
/// whether one of `components` keeps exiting; the first found is put in `diagnosis`
/// (which ends the waits). A runtime that cannot be reached is simply not asked.
fn watch_for_crash_loops(
    host: &dyn Host,
    node: &str,
    cri_socket: &str,
    components: &[(&str, String)],
    waiting: &std::sync::atomic::AtomicUsize,
    diagnosis: &std::sync::Mutex<Option<String>>,
) {
    let started = std::time::Instant::now();
    let still_waiting = || waiting.load(std::sync::atomic::Ordering::SeqCst) > 0;
    let mut client =
        match crate::cri::CriClient::connect_on(host, cri_socket, Duration::from_secs(2)) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("not watching the control plane's containers: {e}");
                return;
            }
        };
    while still_waiting() {
        for (c, image) in components {
            let found = crate::diagnose::crash_loop(&mut client, host, c)
                .map(|crash| crash.to_string())
                .or_else(|| {
                    (started.elapsed() >= crate::diagnose::IMAGE_GRACE)
                        .then(|| crate::diagnose::stuck(&mut client, c, image, node))
                        .flatten()
                });
            if let Some(found) = found {
                if let Ok(mut d) = diagnosis.lock() {
                    *d = Some(found);
                }
                return;
            }
        }
        // Short steps, so the watcher ends soon after the waits do.
        for _ in 0..10 {
            if !still_waiting() || crate::interrupt::sleep(Duration::from_millis(100)).is_err() {
                return;
            }
        }
    }
}

/// Where the kubelet package puts the kubelet and its service unit.
const KUBELET_PLACES: &[&str] = &[
    "/usr/bin/kubelet",
    "/usr/local/bin/kubelet",
    "/bin/kubelet",
    "/usr/lib/systemd/system/kubelet.service",
    "/lib/systemd/system/kubelet.service",
    "/etc/systemd/system/kubelet.service",
];

/// Whether the node has a kubelet: a `kubelet` on the system path or a kubelet service
/// unit.
fn kubelet_installed(host: &dyn Host) -> bool {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| d.is_absolute())
                .any(|d| matches!(host.exists(&d.join("kubelet")), Ok(true)))
        })
        .unwrap_or(false);
    on_path
        || KUBELET_PLACES
            .iter()
            .any(|p| matches!(host.exists(Path::new(p)), Ok(true)))
}

/// `wait-control-plane`: the kubelet's health, then each component's, each within its
/// timeout; a failure says what to check. Without a kubelet on the node it stops at once.
pub fn wait_control_plane(
    host: &dyn Host,
    cfg: &InitConfiguration,
    dry_run: bool,
) -> anyhow::Result<()> {
    let t = timeouts(cfg);
    let kubelet_url = "http://127.0.0.1:10248/healthz";
    let components = component_health_urls(cfg);
    if dry_run {
        println!("[dryrun] Would wait for the kubelet at {kubelet_url} and for the control plane components:");
        for (name, url) in &components {
            println!("[dryrun]   {name} at {url}");
        }
        return Ok(());
    }
    println!(
        "[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory \"{}\"",
        crate::manifests::MANIFESTS_DIR
    );
    let kubelet_timeout = secs(t.kubelet_health_check.as_ref(), 240);
    // No kubelet on the node and none answering: it cannot become healthy, so there is
    // nothing to wait for.
    if !kubelet_installed(host)
        && health::get_status(kubelet_url, Duration::from_secs(1)) != Ok(200)
    {
        anyhow::bail!(
            "no kubelet is installed on this node: there is no 'kubelet' on the system path and no kubelet.service unit ({}), and nothing answers at {kubelet_url}. The kubelet runs the control plane's static Pods; install it (the kubelet package of your distribution, or the binary and its kubeadm drop-in), then run 'kubeadm init phase wait-control-plane' (or the whole command) again",
            KUBELET_PLACES[3..].join(", ")
        );
    }
    println!(
        "[kubelet-check] Waiting for a healthy kubelet at {kubelet_url}. This can take up to {}",
        crate::duration::format_duration(kubelet_timeout)
    );
    let report = |what: &'static str, url: String| {
        move |took: Duration, last: &str| {
            println!(
                "[{what}] Still waiting for {url} after {} (last answer: {last})",
                crate::output::human_duration(took)
            )
        }
    };
    // While waiting, the kubelet's journal is read every second: a known fatal
    // line ends the wait at once with its fix.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let last_look = std::sync::Mutex::new(std::time::Instant::now());
    let fatal = || {
        let mut last = last_look.lock().ok()?;
        if last.elapsed() < Duration::from_secs(1) {
            return None;
        }
        *last = std::time::Instant::now();
        let lines = crate::diagnose::kubelet_journal(host, 30, since)?;
        crate::diagnose::kubelet_fatal(&lines)
            .map(|(line, fix)| format!("the kubelet keeps failing: {line}\nFix: {fix}"))
    };
    match health::wait_healthy_until(
        kubelet_url,
        kubelet_timeout,
        &report("kubelet-check", kubelet_url.to_string()),
        &fatal,
    ) {
        Ok(took) => println!(
            "[kubelet-check] The kubelet is healthy after {}",
            crate::output::human_duration(took)
        ),
        Err(last) if last.starts_with("the kubelet keeps failing") => anyhow::bail!("{last}"),
        Err(last) => {
            let mut found = String::new();
            if let Some((enabled, active)) = crate::diagnose::kubelet_service_state(host) {
                found.push_str(&format!(
                    "\n\nThe kubelet service is {enabled} and {active}."
                ));
            }
            if let Some(lines) =
                crate::diagnose::kubelet_journal(host, 30, since).filter(|l| !l.is_empty())
            {
                found.push_str("\nIts last log lines:");
                for l in &lines {
                    found.push_str(&format!("\n\t{l}"));
                }
            }
            anyhow::bail!(
                "the kubelet is not healthy after {} (last: {last}){found}\n\nUnfortunately, an error has occurred, likely caused by:\n\t- The kubelet is not running\n\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)\n\nIf you are on a systemd-powered system, you can try to troubleshoot the error with the following commands:\n\t- 'systemctl status kubelet'\n\t- 'journalctl -xeu kubelet'",
                crate::duration::format_duration(kubelet_timeout)
            )
        }
    }
    let cp_timeout = secs(t.control_plane_component_health_check.as_ref(), 240);
    println!(
        "[control-plane-check] Waiting for healthy control plane components. This can take up to {}",
        crate::duration::format_duration(cp_timeout)
    );
    for (name, url) in &components {
        println!("[control-plane-check] Checking {name} at {url}");
    }
    // The components come up independently: wait for them in parallel, while the
    // container runtime is asked whether one of them (or etcd) keeps exiting.
    let diagnosis: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let waiting = std::sync::atomic::AtomicUsize::new(components.len());
    let stop = || diagnosis.lock().ok().and_then(|d| d.clone());
    let mut watched: Vec<(&str, String)> = components
        .iter()
        .map(|(n, _)| (*n, crate::images::kubernetes_image(n, cfg)))
        .collect();
    if matches!(cfg.cluster.etcd, crate::config::Etcd::Local(_)) {
        watched.push(("etcd", crate::images::etcd_image(cfg)));
    }
    let results: Vec<(String, Result<Duration, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = components
            .iter()
            .map(|(name, url)| {
                let progress = report("control-plane-check", format!("{name} at {url}"));
                let (stop, waiting) = (&stop, &waiting);
                s.spawn(move || {
                    let r = health::wait_healthy_until(url, cp_timeout, &progress, stop);
                    waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    (name.to_string(), r)
                })
            })
            .collect();
        s.spawn(|| {
            watch_for_crash_loops(
                host,
                &cfg.node_registration.name,
                &cfg.node_registration.cri_socket,
                &watched,
                &waiting,
                &diagnosis,
            )
        });
        handles
            .into_iter()
            .map(|h| h.join().expect("a health check"))
            .collect()
    });
    if let Some(d) = stop() {
        anyhow::bail!(
            "{d}

The control plane cannot come up while it does; fix what its log says (often a flag in 'extraArgs' or a certificate), then run 'kubeadm init phase wait-control-plane' again (or reset and init)"
        );
    }
    let mut failed = Vec::new();
    for (name, r) in results {
        match r {
            Ok(took) => println!(
                "[control-plane-check] {name} is healthy after {}",
                crate::output::human_duration(took)
            ),
            Err(last) => failed.push(format!(
                "{name} is not healthy after {}: {last}",
                crate::duration::format_duration(cp_timeout)
            )),
        }
    }
    if !failed.is_empty() {
        let sock = &cfg.node_registration.cri_socket;
        anyhow::bail!(
            "{}\n\nA control plane component may have crashed or exited when started by the container runtime.\nTo troubleshoot, list all containers using your preferred container runtimes CLI.\nHere is one example how you may list all running Kubernetes containers by using crictl:\n\t- 'crictl --runtime-endpoint {sock} ps -a | grep kube | grep -v pause'\n\tOnce you have found the failing container, you can inspect its logs with:\n\t- 'crictl --runtime-endpoint {sock} logs CONTAINERID'",
            failed.join("\n")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::v1beta4::Arg;

    fn arg(name: &str, value: &str) -> Arg {
        Arg {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn components_are_checked_where_they_listen() {
        let mut cfg = crate::config::test_config();
        assert_eq!(
            super::component_health_urls(&cfg),
            vec![
                (
                    "kube-apiserver",
                    "https://192.0.2.10:6443/livez".to_string()
                ),
                (
                    "kube-controller-manager",
                    "https://127.0.0.1:10257/healthz".to_string()
                ),
                (
                    "kube-scheduler",
                    "https://127.0.0.1:10259/livez".to_string()
                ),
            ]
        );
        let c = &mut cfg.versioned.cluster;
        c.api_server.extra_args = vec![arg("secure-port", "8443")];
        c.controller_manager.extra_args = vec![
            arg("secure-port", "10000"),
            arg("bind-address", "::1"),
            arg("secure-port", "10001"),
        ];
        c.scheduler.extra_args = vec![arg("bind-address", "192.0.2.10")];
        let urls = super::component_health_urls(&cfg);
        assert_eq!(urls[0].1, "https://192.0.2.10:8443/livez");
        assert_eq!(urls[1].1, "https://[::1]:10001/healthz");
        assert_eq!(urls[2].1, "https://192.0.2.10:10259/livez");
    }
}

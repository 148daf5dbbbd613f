//! Why a control-plane component does not come up, asked of the container runtime while
//! `wait-control-plane` waits: the kubelet labels each container with its Pod's namespace
//! and its container name, and counts restarts in the container's `attempt`. A component
//! whose container keeps exiting is reported at once, with its exit code, reason and the
//! last lines of its log, instead of after the whole timeout.

use std::path::Path;

use crate::cri::api::ContainerState;
use crate::cri::CriClient;
use crate::host::Host;

/// How many times a container may have been restarted before its exits count as a crash
/// loop (the kubelet backs off after a few quick failures).
pub const RESTARTS_BEFORE_REPORT: u32 = 2;

/// How many lines of the container's log are shown.
pub const LOG_LINES: usize = 20;

/// A component whose container keeps exiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashLoop {
    /// The component (`kube-apiserver`, `etcd`, ...).
    pub component: String,
    /// How many times the kubelet restarted it.
    pub restarts: u32,
    /// The last run's exit code.
    pub exit_code: i32,
    /// The runtime's reason (`Error`, `OOMKilled`, ...).
    pub reason: String,
    /// The runtime's message, if any.
    pub message: String,
    /// The log file it came from.
    pub log_path: String,
    /// The last lines of the log (messages only, CRI log framing removed).
    pub log_tail: Vec<String>,
}

impl std::fmt::Display for CrashLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} keeps exiting: restarted {} times, last exit code {}",
            self.component, self.restarts, self.exit_code
        )?;
        if !self.reason.is_empty() {
            write!(f, " ({})", self.reason)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if !self.log_tail.is_empty() {
            write!(f, "\nThe last lines of its log ({}):", self.log_path)?;
            for l in &self.log_tail {
                write!(f, "\n\t{l}")?;
            }
        }
        Ok(())
    }
}

/// The message of one line of a CRI log file (`<time> <stream> <P|F> <message>`); a line
/// in another format is kept whole.
pub fn cri_log_message(line: &str) -> &str {
    let mut parts = line.splitn(4, ' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_time), Some("stdout" | "stderr"), Some(tag), Some(msg))
            if tag.starts_with('P') || tag.starts_with('F') =>
        {
            msg
        }
        (Some(_time), Some("stdout" | "stderr"), Some(tag), None)
            if tag.starts_with('P') || tag.starts_with('F') =>
        {
            ""
        }
        _ => line,
    }
}

/// The last `n` messages of a CRI log file on the host.
pub fn log_tail(host: &dyn Host, path: &str, n: usize) -> Vec<String> {
    let Ok(bytes) = host.read(Path::new(path)) else {
        return Vec::new();
    };
    // Only the end matters; a huge log is not read line by line from its start.
    let start = bytes.len().saturating_sub(64 * 1024);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| cri_log_message(l).to_string())
        .collect()
}

/// The component's crash loop, when its newest container has exited after
/// [`RESTARTS_BEFORE_REPORT`] restarts or more.
pub fn crash_loop(client: &mut CriClient, host: &dyn Host, component: &str) -> Option<CrashLoop> {
    let containers = client
        .containers_labeled(&[
            ("io.kubernetes.pod.namespace", "kube-system"),
            ("io.kubernetes.container.name", component),
        ])
        .ok()?;
    let newest = containers
        .iter()
        .max_by_key(|c| c.metadata.as_ref().map(|m| m.attempt).unwrap_or(0))?;
    let restarts = newest.metadata.as_ref().map(|m| m.attempt).unwrap_or(0);
    if newest.state != ContainerState::ContainerExited as i32 || restarts < RESTARTS_BEFORE_REPORT {
        return None;
    }
    let status = client.container_status(&newest.id).ok()?;
    Some(CrashLoop {
        component: component.to_string(),
        restarts,
        exit_code: status.exit_code,
        reason: status.reason,
        message: status.message,
        log_tail: log_tail(host, &status.log_path, LOG_LINES),
        log_path: status.log_path,
    })
}

/// How long a component may have no container before a missing image is reported (the
/// kubelet pulls it meanwhile).
pub const IMAGE_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// A component stuck before its first start (no container): its Pod's sandbox (named
/// `<component>-<node>`, as the kubelet names static Pods) exists but is not ready, or its
/// image is not on the node (the kubelet cannot pull it).
pub fn stuck(client: &mut CriClient, component: &str, image: &str, node: &str) -> Option<String> {
    let none = client
        .containers_labeled(&[
            ("io.kubernetes.pod.namespace", "kube-system"),
            ("io.kubernetes.container.name", component),
        ])
        .ok()?
        .is_empty();
    if !none {
        return None;
    }
    let pod = format!("{component}-{node}");
    let sandboxes = client.list_pod_sandboxes().unwrap_or_default();
    let ours: Vec<_> = sandboxes
        .iter()
        .filter(|s| s.namespace == "kube-system" && s.name == pod)
        .collect();
    if !ours.is_empty() && ours.iter().all(|s| !s.ready) {
        return Some(format!(
            "{component} has not started: the sandbox of its Pod {pod} is not ready, so no container can run in it. Check the container runtime's log (for example 'journalctl -u containerd') and its sandbox (pause) image"
        ));
    }
    matches!(client.image_exists(image), Ok(false)).then(|| {
        format!(
            "{component} has not started: its image {image} is not on this node and no container was created, so the kubelet cannot pull it. Check that the node reaches the registry (or give imageRepository a mirror), or load the image ('kubeadm config images pull' shows what is missing)"
        )
    })
}

/// Fatal kubelet log lines, and what fixes each.
pub const KUBELET_FATAL: &[(&str, &str)] = &[
    (
        "misconfiguration: kubelet cgroup driver",
        "the kubelet's cgroup driver differs from the container runtime's: make them the same (containerd: SystemdCgroup = true in /etc/containerd/config.toml and restart containerd, or cgroupDriver in the KubeletConfiguration), then restart the kubelet",
    ),
    (
        "running with swap on is not supported",
        "swap is on: turn it off ('swapoff -a', and remove it from /etc/fstab), or set failSwapOn: false in the KubeletConfiguration",
    ),
    (
        "failed to load kubelet config file",
        "the kubelet's configuration file is missing or unreadable: write it with 'kubeadm init phase kubelet-start' (or 'kubeadm join phase kubelet-start')",
    ),
    (
        "unable to load client CA file",
        "the cluster CA certificate the kubelet trusts is missing: create it with 'kubeadm init phase certs ca' (on a joining node, the join writes it)",
    ),
    (
        "unable to load bootstrap kubeconfig",
        "the kubelet has neither kubelet.conf nor bootstrap-kubelet.conf: run 'kubeadm init phase kubeconfig kubelet' (or rerun the join)",
    ),
    (
        "validate service connection",
        "the kubelet cannot reach the container runtime: check that it runs ('systemctl status containerd') and that --cri-socket names its socket",
    ),
];

/// The kubelet's journal lines at or after `since` (seconds since the epoch), newest last:
/// `journalctl -u kubelet -n <n> --no-pager -o short-unix`, when systemd is there.
pub fn kubelet_journal(host: &dyn Host, n: usize, since: f64) -> Option<Vec<String>> {
    let count = n.to_string();
    let out = host
        .run(&crate::host::HostCommand::read_only(
            "journalctl",
            &[
                "-u",
                "kubelet",
                "-n",
                &count,
                "--no-pager",
                "-o",
                "short-unix",
            ],
        ))
        .ok()
        .filter(|o| o.code == 0)?;
    Some(
        out.stdout
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .and_then(|t| t.parse::<f64>().ok())
                    .is_some_and(|t| t >= since)
            })
            .map(String::from)
            .collect(),
    )
}

/// The first known fatal line among `lines`, with its fix.
pub fn kubelet_fatal(lines: &[String]) -> Option<(String, &'static str)> {
    lines.iter().find_map(|l| {
        KUBELET_FATAL
            .iter()
            .find(|(needle, _)| l.contains(needle))
            .map(|(_, fix)| (l.clone(), *fix))
    })
}

/// What systemd says of the kubelet service (`enabled`/`disabled`, `active`/`failed`...),
/// when systemd is there.
pub fn kubelet_service_state(host: &dyn Host) -> Option<(String, String)> {
    let enabled = host.systemctl("is-enabled", "kubelet").ok()?;
    let active = host.systemctl("is-active", "kubelet").ok()?;
    Some((
        enabled.stdout.trim().to_string(),
        active.stdout.trim().to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_kubelet_failures_come_with_their_fix() {
        let lines = vec![
            "1764464000.1 n kubelet[1]: I1130 starting".to_string(),
            "1764464000.2 n kubelet[1]: E1130 run.go:72] \"command failed\" err=\"failed to run Kubelet: running with swap on is not supported, please disable swap\"".to_string(),
        ];
        let (line, fix) = kubelet_fatal(&lines).unwrap();
        assert!(line.contains("swap on is not supported"));
        assert!(fix.contains("swapoff -a"));
        assert!(kubelet_fatal(&lines[..1]).is_none());
    }

    #[test]
    fn cri_log_lines_lose_their_framing() {
        assert_eq!(
            cri_log_message("2026-11-30T01:02:03.456789012Z stderr F Error: unknown flag: --bogus"),
            "Error: unknown flag: --bogus"
        );
        assert_eq!(
            cri_log_message("2026-11-30T01:02:03Z stdout P partial"),
            "partial"
        );
        assert_eq!(cri_log_message("2026-11-30T01:02:03Z stdout F"), "");
        assert_eq!(cri_log_message("plain text line"), "plain text line");
    }
}

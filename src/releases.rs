//! The Kubernetes releases this kubeadm knows: for each minor version it can deploy or
//! upgrade to, the patch versions published, and the etcd, CoreDNS and pause versions
//! that go with it. One table, read by image naming, `upgrade plan` and `upgrade apply`.
//! [`label`] resolves release labels (`stable-1`) as upstream does.

pub mod label;

/// What goes with one Kubernetes minor release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// The minor version (`37` for v1.37).
    pub minor: u32,
    /// The published patch versions, oldest first (`v1.37.0`, `v1.37.1`).
    pub patches: &'static [&'static str],
    /// The etcd image tag this kubeadm deploys for a control plane of this minor: upstream's
    /// `SupportedEtcdVersion` entry for it (for this kubeadm's own minor, also its
    /// `DefaultEtcdVersion`).
    pub etcd: &'static str,
    /// The CoreDNS image tag of that release's kubeadm. Upstream deploys its own
    /// `CoreDNSVersion` whatever the target minor, so only this kubeadm's row is used.
    pub coredns: &'static str,
    /// The pause image tag of that release's kubeadm (`PauseVersion`); as with CoreDNS,
    /// only this kubeadm's row is used.
    pub pause: &'static str,
}

/// The releases, oldest first; the last one is this kubeadm's own. Where each value was
/// read is in `docs/upstream.md`, "Release table and images".
pub const RELEASES: &[Release] = &[
    Release {
        minor: 36,
        patches: &["v1.36.0", "v1.36.1", "v1.36.2", "v1.36.3", "v1.36.4"],
        etcd: "3.6.11-0",
        coredns: "v1.14.2",
        pause: "3.10.2",
    },
    Release {
        minor: 37,
        patches: &["v1.37.0", "v1.37.1"],
        etcd: "3.7.0-0",
        coredns: "v1.14.6",
        pause: "3.10.2",
    },
];

/// This kubeadm's own release.
pub fn current() -> &'static Release {
    RELEASES.last().expect("the table is not empty")
}

/// The release of a minor version, when this kubeadm knows it.
pub fn of_minor(minor: u32) -> Option<&'static Release> {
    RELEASES.iter().find(|r| r.minor == minor)
}

/// The newest patch of a minor version (what `stable-1.X` resolves to here).
pub fn latest_patch(minor: u32) -> Option<&'static str> {
    of_minor(minor).and_then(|r| r.patches.last().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_ordered_and_ends_with_this_release() {
        assert_eq!(
            current().patches.last(),
            Some(&crate::version::KUBERNETES_VERSION)
        );
        for pair in RELEASES.windows(2) {
            assert_eq!(pair[1].minor, pair[0].minor + 1);
        }
        for r in RELEASES {
            for p in r.patches {
                assert!(p.starts_with(&format!("v1.{}.", r.minor)), "{p}");
            }
        }
        assert_eq!(latest_patch(36), Some("v1.36.4"));
        assert_eq!(latest_patch(35), None);
    }
}

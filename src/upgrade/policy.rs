//! Upstream's version skew policy for upgrades (`phases/upgrade/policy.go`): which target
//! versions kubeadm refuses outright (mandatory) and which only with `--force`
//! (skippable), with upstream's messages.

use super::semver::KubeVersion;

/// How many minor versions one upgrade may go up.
pub const MAX_MINOR_UPGRADE_SKEW: u32 = 1;
/// How many minor versions one downgrade may go down.
pub const MAX_MINOR_DOWNGRADE_SKEW: u32 = 1;
/// How many minor versions kubelets may be behind the control plane.
pub const MAX_MINOR_KUBELET_SKEW: u32 = 3;

/// The problems with a target version.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SkewErrors {
    /// Refused whatever the flags.
    pub mandatory: Vec<String>,
    /// Refused unless `--force`.
    pub skippable: Vec<String>,
}

impl SkewErrors {
    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.mandatory.is_empty() && self.skippable.is_empty()
    }
}

/// What the policy looks at.
pub struct SkewInput<'a> {
    /// The cluster's (newest API server's) version.
    pub cluster: &'a KubeVersion,
    /// This kubeadm's version.
    pub kubeadm: &'a KubeVersion,
    /// The kubelets' versions, when they could be read.
    pub kubelets: Option<&'a [String]>,
    /// The oldest control-plane version this kubeadm supports.
    pub minimum: &'a KubeVersion,
    /// `--allow-experimental-upgrades`.
    pub allow_experimental: bool,
    /// `--allow-release-candidate-upgrades`.
    pub allow_rc: bool,
}

/// The policy for `new` against what runs in the cluster, this kubeadm's version and the
/// oldest control plane it supports.
pub fn check(
    state: &super::plan::ClusterState,
    new: &KubeVersion,
    allow_experimental: bool,
    allow_rc: bool,
) -> anyhow::Result<SkewErrors> {
    use anyhow::Context;
    let cluster = KubeVersion::parse(&state.kube_version)
        .with_context(|| format!("couldn't parse the cluster version {}", state.kube_version))?;
    let kubeadm =
        KubeVersion::parse(crate::version::KUBERNETES_VERSION).context("kubeadm's own version")?;
    let minimum = KubeVersion::parse(&format!(
        "v1.{}.0",
        crate::config::MINIMUM_CONTROL_PLANE_MINOR
    ))
    .context("the minimum control-plane version")?;
    let kubelets: Vec<String> = state.kubelet.keys().cloned().collect();
    Ok(enforce(
        &SkewInput {
            cluster: &cluster,
            kubeadm: &kubeadm,
            kubelets: Some(&kubelets),
            minimum: &minimum,
            allow_experimental,
            allow_rc,
        },
        new,
    ))
}

/// Upstream's `EnforceVersionPolicies` for the target `new`.
pub fn enforce(i: &SkewInput, new: &KubeVersion) -> SkewErrors {
    let mut e = SkewErrors::default();
    let stable = !new.is_pre_release();
    if new < i.minimum {
        e.mandatory.push(format!("Specified version to upgrade to {:?} is equal to or lower than the minimum supported version {:?}. Please specify a higher version to upgrade to", new.to_string(), i.minimum.to_string()));
    }
    if new.minor > i.cluster.minor + MAX_MINOR_UPGRADE_SKEW {
        let m = format!("Specified version to upgrade to {:?} is too high; kubeadm can upgrade only {MAX_MINOR_UPGRADE_SKEW} minor version at a time", new.to_string());
        if stable {
            e.mandatory.push(m)
        } else {
            e.skippable.push(m)
        }
    }
    if new.minor + MAX_MINOR_DOWNGRADE_SKEW < i.cluster.minor {
        let m = format!("Specified version to downgrade to {:?} is too low; kubeadm can downgrade only {MAX_MINOR_DOWNGRADE_SKEW} minor version at a time", new.to_string());
        if stable {
            e.mandatory.push(m)
        } else {
            e.skippable.push(m)
        }
    }
    if i.kubeadm < new {
        if new.minor > i.kubeadm.minor {
            let m = format!("Specified version to upgrade to {:?} is at least one minor release higher than the kubeadm minor release ({} > {}). Such an upgrade is not supported", new.to_string(), new.minor, i.kubeadm.minor);
            if stable {
                e.mandatory.push(m)
            } else {
                e.skippable.push(m)
            }
        } else {
            e.skippable.push(format!("Specified version to upgrade to {:?} is higher than the kubeadm version {:?}. Upgrade kubeadm first using the tool you used to install kubeadm", new.to_string(), i.kubeadm.to_string()));
        }
    }
    if i.kubeadm.major > new.major || i.kubeadm.minor > new.minor {
        e.skippable.push(format!(
            "Kubeadm version {} can only be used to upgrade to Kubernetes version {}.{}",
            i.kubeadm, i.kubeadm.major, i.kubeadm.minor
        ));
    }
    if new.is_pre_release() && !i.allow_experimental && !(new.pre.starts_with("rc") && i.allow_rc) {
        e.skippable.push(format!("Specified version to upgrade to {:?} is an unstable version and such upgrades weren't allowed via setting the --allow-*-upgrades flags", new.to_string()));
    }
    if let Some(kubelets) = i.kubelets {
        let mut too_old: Vec<&str> = kubelets
            .iter()
            .filter(|v| {
                KubeVersion::parse(v).is_some_and(|k| new.minor > k.minor + MAX_MINOR_KUBELET_SKEW)
            })
            .map(String::as_str)
            .collect();
        too_old.sort();
        too_old.dedup();
        if !too_old.is_empty() {
            e.skippable.push(format!(
                "There are kubelets in this cluster that are too old that have these versions [{}]",
                too_old.join(" ")
            ));
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        KubeVersion::parse(s).unwrap()
    }

    fn check(cluster: &str, kubelets: &[&str], new: &str) -> SkewErrors {
        let kubelets: Vec<String> = kubelets.iter().map(|s| s.to_string()).collect();
        let (c, k, m) = (v(cluster), v("v1.37.1"), v("v1.36.0"));
        enforce(
            &SkewInput {
                cluster: &c,
                kubeadm: &k,
                kubelets: Some(&kubelets),
                minimum: &m,
                allow_experimental: false,
                allow_rc: false,
            },
            &v(new),
        )
    }

    #[test]
    fn one_minor_at_a_time_and_never_past_kubeadm() {
        assert!(check("v1.36.2", &["v1.36.2"], "v1.37.1").is_empty());
        assert!(check("v1.36.2", &["v1.36.2"], "v1.36.4").skippable
            == vec!["Kubeadm version v1.37.1 can only be used to upgrade to Kubernetes version 1.37".to_string()]);
        let e = check("v1.36.2", &[], "v1.38.0");
        assert_eq!(
            e.mandatory,
            vec![
                "Specified version to upgrade to \"v1.38.0\" is too high; kubeadm can upgrade only 1 minor version at a time".to_string(),
                "Specified version to upgrade to \"v1.38.0\" is at least one minor release higher than the kubeadm minor release (38 > 37). Such an upgrade is not supported".to_string(),
            ]
        );
        let e = check("v1.37.0", &[], "v1.37.2");
        assert!(e.mandatory.is_empty());
        assert_eq!(e.skippable, vec!["Specified version to upgrade to \"v1.37.2\" is higher than the kubeadm version \"v1.37.1\". Upgrade kubeadm first using the tool you used to install kubeadm".to_string()]);
        let e = check("v1.36.0", &[], "v1.35.9");
        assert!(e.mandatory[0]
            .contains("is equal to or lower than the minimum supported version \"v1.36.0\""));
    }

    #[test]
    fn unstable_targets_and_old_kubelets_need_force() {
        let e = check("v1.37.0", &[], "v1.37.1-rc.1");
        assert!(e.mandatory.is_empty());
        assert!(e.skippable[0].contains("is an unstable version"), "{e:?}");
        let e = check("v1.37.0", &["v1.33.5", "v1.34.0", "v1.33.5"], "v1.37.1");
        assert_eq!(
            e.skippable,
            vec!["There are kubelets in this cluster that are too old that have these versions [v1.33.5]".to_string()]
        );
    }
}

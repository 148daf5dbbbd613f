//! What `kubeadm version` reports. kubeadm-rs speaks for the Kubernetes release whose
//! kubeadm it replaces, so scripts that match kubelet and kubeadm versions keep working.

use serde::Serialize;

/// The Kubernetes release this build of kubeadm-rs implements.
pub const KUBERNETES_VERSION: &str = "v1.37.1";

/// The build's version information, with upstream's field names.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    /// Major version (`1`).
    pub major: String,
    /// Minor version (`37`).
    pub minor: String,
    /// The full version (`v1.37.1`).
    pub git_version: String,
    /// The commit of kubeadm-rs this binary was built from.
    pub git_commit: String,
    /// `clean` or `dirty`.
    pub git_tree_state: String,
    /// When the commit was made, RFC 3339.
    pub build_date: String,
    /// Kept for tools that read the field; kubeadm-rs is not built with Go.
    pub go_version: String,
    /// The compiler.
    pub compiler: String,
    /// `os/arch`.
    pub platform: String,
}

impl Info {
    /// This build's information.
    pub fn current() -> Self {
        let v = KUBERNETES_VERSION.trim_start_matches('v');
        let mut parts = v.split('.');
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Info {
            major: parts.next().unwrap_or_default().to_string(),
            minor: parts.next().unwrap_or_default().to_string(),
            git_version: KUBERNETES_VERSION.to_string(),
            git_commit: env!("KUBEADM_GIT_COMMIT").to_string(),
            git_tree_state: env!("KUBEADM_GIT_TREE_STATE").to_string(),
            build_date: env!("KUBEADM_BUILD_DATE").to_string(),
            go_version: String::new(),
            compiler: "rustc".to_string(),
            platform: format!("{}/{arch}", std::env::consts::OS),
        }
    }

    /// Upstream's default text form: `&version.Info{Major:"1", ...}`.
    pub fn text(&self) -> String {
        format!(
            "&version.Info{{Major:{:?}, Minor:{:?}, GitVersion:{:?}, GitCommit:{:?}, GitTreeState:{:?}, BuildDate:{:?}, GoVersion:{:?}, Compiler:{:?}, Platform:{:?}}}",
            self.major,
            self.minor,
            self.git_version,
            self.git_commit,
            self.git_tree_state,
            self.build_date,
            self.go_version,
            self.compiler,
            self.platform
        )
    }
}

/// The document `-o json|yaml` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionDoc {
    /// kubeadm's own version.
    pub client_version: Info,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parts_agree() {
        let i = Info::current();
        assert_eq!(format!("v{}.{}.1", i.major, i.minor), i.git_version);
        assert!(i
            .text()
            .starts_with("&version.Info{Major:\"1\", Minor:\"37\", GitVersion:\"v1.37.1\""));
        let json = serde_json::to_value(VersionDoc { client_version: i }).unwrap();
        assert_eq!(json["clientVersion"]["gitVersion"], "v1.37.1");
    }
}

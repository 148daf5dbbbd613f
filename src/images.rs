//! The container images a cluster runs, named the way upstream kubeadm names them: the
//! control-plane components and kube-proxy carry the Kubernetes version, etcd, CoreDNS and
//! pause carry the versions upstream pins for each Kubernetes minor release.

use crate::config::{Etcd, InitConfiguration};

/// The registry upstream publishes its images to, and the default `imageRepository`.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "registry.k8s.io";

/// The etcd image tag for a Kubernetes version the release table does not list: this
/// release's, as upstream falls back to its own.
pub fn default_etcd_version() -> &'static str {
    crate::releases::current().etcd
}

/// The CoreDNS image tag this release deploys.
pub fn coredns_version() -> &'static str {
    crate::releases::current().coredns
}

/// The pause (pod sandbox) image tag this release uses.
pub fn pause_version() -> &'static str {
    crate::releases::current().pause
}

/// `<repository>/<name>:<tag>`.
fn image(repository: &str, name: &str, tag: &str) -> String {
    format!("{repository}/{name}:{tag}")
}

/// The image tag for a Kubernetes version: `+` is not allowed in tags, upstream writes `_`.
pub fn kubernetes_image_tag(version: &str) -> String {
    version.replace('+', "_")
}

/// The minor number of a `v1.X.Y` version.
pub fn minor_of(version: &str) -> Option<u32> {
    version
        .trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
}

/// The image of a control-plane component or kube-proxy (`kube-apiserver`, ...).
pub fn kubernetes_image(component: &str, cfg: &InitConfiguration) -> String {
    image(
        &cfg.cluster.image_repository,
        component,
        &kubernetes_image_tag(&cfg.cluster.kubernetes_version),
    )
}

/// The etcd image: `etcd.local.imageRepository`/`imageTag` win over the cluster-wide
/// repository and the pinned tag.
pub fn etcd_image(cfg: &InitConfiguration) -> String {
    let local = cfg.versioned.cluster.etcd.local.as_ref();
    let repository = local
        .map(|l| l.image_repository.as_str())
        .filter(|r| !r.is_empty())
        .unwrap_or(&cfg.cluster.image_repository);
    let tag = local
        .map(|l| l.image_tag.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| etcd_version_for(&cfg.cluster.kubernetes_version).to_string());
    image(repository, "etcd", &tag)
}

/// The etcd tag upstream pins for a Kubernetes version.
pub fn etcd_version_for(kubernetes_version: &str) -> &'static str {
    minor_of(kubernetes_version)
        .and_then(crate::releases::of_minor)
        .map(|r| r.etcd)
        .unwrap_or_else(default_etcd_version)
}

/// The CoreDNS image. Upstream publishes it under `coredns/` in its own registry, so the
/// sub-path is added only when the repository is upstream's.
pub fn coredns_image(cfg: &InitConfiguration) -> String {
    let dns = &cfg.versioned.cluster.dns;
    let repository = if !dns.image_repository.is_empty() {
        dns.image_repository.clone()
    } else if cfg.cluster.image_repository == DEFAULT_IMAGE_REPOSITORY {
        format!("{DEFAULT_IMAGE_REPOSITORY}/coredns")
    } else {
        cfg.cluster.image_repository.clone()
    };
    let tag = if dns.image_tag.is_empty() {
        coredns_version()
    } else {
        &dns.image_tag
    };
    image(&repository, "coredns", tag)
}

/// The pause image.
pub fn pause_image(cfg: &InitConfiguration) -> String {
    image(&cfg.cluster.image_repository, "pause", pause_version())
}

/// Every image a control-plane node of this configuration needs, in upstream's order
/// (what `kubeadm config images list` prints).
pub fn control_plane_images(cfg: &InitConfiguration) -> Vec<String> {
    let mut images: Vec<String> = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ]
    .iter()
    .map(|c| kubernetes_image(c, cfg))
    .collect();
    if !cfg.versioned.cluster.proxy.disabled {
        images.push(kubernetes_image("kube-proxy", cfg));
    }
    if !cfg.versioned.cluster.dns.disabled {
        images.push(coredns_image(cfg));
    }
    images.push(pause_image(cfg));
    if matches!(cfg.cluster.etcd, Etcd::Local(_)) {
        images.push(etcd_image(cfg));
    }
    images
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    #[test]
    fn default_images() {
        let cfg = test_config();
        let v = kubernetes_image_tag(&cfg.cluster.kubernetes_version);
        assert_eq!(
            control_plane_images(&cfg),
            vec![
                format!("registry.k8s.io/kube-apiserver:{v}"),
                format!("registry.k8s.io/kube-controller-manager:{v}"),
                format!("registry.k8s.io/kube-scheduler:{v}"),
                format!("registry.k8s.io/kube-proxy:{v}"),
                "registry.k8s.io/coredns/coredns:v1.14.6".to_string(),
                "registry.k8s.io/pause:3.10.2".to_string(),
                "registry.k8s.io/etcd:3.7.0-0".to_string(),
            ]
        );
    }

    #[test]
    fn custom_repository_and_overrides() {
        let mut cfg = test_config();
        cfg.cluster.image_repository = "mirror.example/k8s".into();
        cfg.cluster.kubernetes_version = "v1.37.1+build.1".into();
        assert_eq!(
            kubernetes_image("kube-scheduler", &cfg),
            "mirror.example/k8s/kube-scheduler:v1.37.1_build.1"
        );
        assert_eq!(coredns_image(&cfg), "mirror.example/k8s/coredns:v1.14.6");
        cfg.versioned.cluster.dns.image_tag = "v1.99.0".into();
        cfg.versioned.cluster.dns.image_repository = "dns.example".into();
        assert_eq!(coredns_image(&cfg), "dns.example/coredns:v1.99.0");
        let local = cfg
            .versioned
            .cluster
            .etcd
            .local
            .get_or_insert_with(Default::default);
        local.image_tag = "3.5.21-0".into();
        assert_eq!(etcd_image(&cfg), "mirror.example/k8s/etcd:3.5.21-0");
    }

    #[test]
    fn etcd_tag_by_minor() {
        assert_eq!(etcd_version_for("v1.36.3"), "3.6.11-0");
        assert_eq!(etcd_version_for("v1.37.0"), "3.7.0-0");
        assert_eq!(etcd_version_for("v1.99.0"), default_etcd_version());
    }
}

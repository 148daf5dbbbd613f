//! The addons `kubeadm init` installs: CoreDNS and kube-proxy, every object upstream
//! creates, with its names, labels and fields.

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, Deployment, DeploymentSpec,
    DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, HostPathVolumeSource, KeyToPath, ObjectFieldSelector, PodAffinityTerm,
    PodAntiAffinity, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SecurityContext,
    Service, ServiceAccount, ServicePort, ServiceSpec, Toleration, Volume, VolumeMount,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{json, Value};

use crate::client::{self, Api};
use crate::config::InitConfiguration;
use crate::objects;
use crate::patches::{PatchSet, Target};

/// The CoreDNS configuration, as upstream writes it for the cluster's DNS domain.
pub fn corefile(dns_domain: &str) -> String {
    format!(
        ".:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {dns_domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success {dns_domain}
       disable denial {dns_domain}
    }}
    loop
    reload
    loadbalance
}}
"
    )
}

/// The names of the CoreDNS container ports its liveness and readiness probes use.
const LIVENESS_PORT: &str = "liveness-probe";
const READINESS_PORT: &str = "readiness-probe";

/// CoreDNS's objects, in the order upstream creates them.
pub fn coredns_objects(cfg: &InitConfiguration) -> anyhow::Result<Vec<Value>> {
    let domain = &cfg.cluster.networking.dns_domain;
    let dns_ip = crate::pki::dns_service_ip(&cfg.cluster.networking.service_subnet)?;
    let ns = "kube-system";
    let app = objects::labels(&[("k8s-app", "kube-dns")]);
    let config_map = objects::config_map(ns, "coredns", &[("Corefile", &corefile(domain))]);
    let cluster_role = objects::cluster_role(
        "system:coredns",
        vec![
            objects::rule(
                &[""],
                &["endpoints", "services", "pods", "namespaces"],
                &[],
                &["list", "watch"],
            ),
            objects::rule(
                &["discovery.k8s.io"],
                &["endpointslices"],
                &[],
                &["list", "watch"],
            ),
        ],
    );
    let binding = objects::cluster_role_binding(
        "system:coredns",
        "system:coredns",
        vec![objects::service_account(ns, "coredns")],
    );
    let account = ServiceAccount {
        metadata: objects::meta(Some(ns), "coredns"),
        ..Default::default()
    };
    let http_probe = |path: &str, port: &str| HTTPGetAction {
        path: Some(path.into()),
        port: IntOrString::String(port.into()),
        scheme: Some("HTTP".into()),
        ..Default::default()
    };
    let port = |name: &str, number: i32, protocol: &str| ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some(protocol.into()),
        ..Default::default()
    };
    let container = Container {
        name: "coredns".into(),
        image: Some(crate::images::coredns_image(cfg)),
        image_pull_policy: Some("IfNotPresent".into()),
        resources: Some(ResourceRequirements {
            limits: Some([("memory".to_string(), Quantity("170Mi".into()))].into()),
            requests: Some(
                [
                    ("cpu".to_string(), Quantity("100m".into())),
                    ("memory".to_string(), Quantity("70Mi".into())),
                ]
                .into(),
            ),
            ..Default::default()
        }),
        args: Some(vec!["-conf".into(), "/etc/coredns/Corefile".into()]),
        volume_mounts: Some(vec![VolumeMount {
            name: "config-volume".into(),
            mount_path: "/etc/coredns".into(),
            read_only: Some(true),
            ..Default::default()
        }]),
        // The probes name their ports, as upstream's since #131587 (v1.34).
        ports: Some(vec![
            port("dns", 53, "UDP"),
            port("dns-tcp", 53, "TCP"),
            port("metrics", 9153, "TCP"),
            port(LIVENESS_PORT, 8080, "TCP"),
            port(READINESS_PORT, 8181, "TCP"),
        ]),
        liveness_probe: Some(Probe {
            http_get: Some(http_probe("/health", LIVENESS_PORT)),
            initial_delay_seconds: Some(60),
            timeout_seconds: Some(5),
            success_threshold: Some(1),
            failure_threshold: Some(5),
            ..Default::default()
        }),
        readiness_probe: Some(Probe {
            http_get: Some(http_probe("/ready", READINESS_PORT)),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                add: Some(vec!["NET_BIND_SERVICE".into()]),
                drop: Some(vec!["ALL".into()]),
            }),
            read_only_root_filesystem: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pod = PodSpec {
        priority_class_name: Some("system-cluster-critical".into()),
        service_account_name: Some("coredns".into()),
        affinity: Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    WeightedPodAffinityTerm {
                        weight: 100,
                        pod_affinity_term: PodAffinityTerm {
                            label_selector: Some(LabelSelector {
                                match_expressions: Some(vec![LabelSelectorRequirement {
                                    key: "k8s-app".into(),
                                    operator: "In".into(),
                                    values: Some(vec!["kube-dns".into()]),
                                }]),
                                ..Default::default()
                            }),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..Default::default()
                        },
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        tolerations: Some(vec![
            Toleration {
                key: Some("CriticalAddonsOnly".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            },
            Toleration {
                key: Some("node-role.kubernetes.io/control-plane".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            },
        ]),
        node_selector: Some(objects::labels(&[("kubernetes.io/os", "linux")])),
        containers: vec![container],
        dns_policy: Some("Default".into()),
        volumes: Some(vec![Volume {
            name: "config-volume".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: "coredns".into(),
                items: Some(vec![KeyToPath {
                    key: "Corefile".into(),
                    path: "Corefile".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let deployment = Deployment {
        metadata: ObjectMeta {
            labels: Some(app.clone()),
            ..objects::meta(Some(ns), "coredns")
        },
        spec: DeploymentSpec {
            replicas: Some(2),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(1)),
                    ..Default::default()
                }),
            }),
            selector: LabelSelector {
                match_labels: Some(app.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(app.clone()),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let service_port = |name: &str, number: i32, protocol: &str| ServicePort {
        name: Some(name.into()),
        port: number,
        protocol: Some(protocol.into()),
        target_port: Some(IntOrString::Int(number)),
        ..Default::default()
    };
    let service = Service {
        metadata: ObjectMeta {
            labels: Some(objects::labels(&[
                ("k8s-app", "kube-dns"),
                ("kubernetes.io/cluster-service", "true"),
                ("kubernetes.io/name", "CoreDNS"),
            ])),
            annotations: Some(objects::labels(&[
                ("prometheus.io/port", "9153"),
                ("prometheus.io/scrape", "true"),
            ])),
            ..objects::meta(Some(ns), "kube-dns")
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some(dns_ip.to_string()),
            ports: Some(vec![
                service_port("dns", 53, "UDP"),
                service_port("dns-tcp", 53, "TCP"),
                service_port("metrics", 9153, "TCP"),
            ]),
            selector: Some(app),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(vec![
        objects::to_value(&config_map),
        objects::to_value(&cluster_role),
        objects::to_value(&binding),
        objects::to_value(&account),
        objects::to_value(&deployment),
        objects::to_value(&service),
    ])
}

/// The KubeProxyConfiguration kube-proxy runs with: the user's document, with kubeadm's
/// settings for what it leaves unset (bind address of the advertise address's family, the
/// pod subnet, the in-cluster kubeconfig).
pub fn kube_proxy_configuration(cfg: &InitConfiguration) -> anyhow::Result<Value> {
    kube_proxy_document(
        cfg.local_api_endpoint.advertise_address.is_ipv6(),
        &cfg.cluster.networking.pod_subnet,
        cfg.versioned.kube_proxy.as_ref(),
    )
}

/// Every field the versioned KubeProxyConfiguration type always serializes, at its zero
/// value, as upstream's file has them (kube-proxy reads zero as "use the default").
fn kube_proxy_base_document() -> Value {
    json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": "",
        "bindAddressHardFail": false,
        "clientConnection": {"acceptContentTypes": "", "burst": 0, "contentType": "", "kubeconfig": "", "qps": 0},
        "clusterCIDR": "",
        "configSyncPeriod": "0s",
        "conntrack": {
            "maxPerCore": null, "min": null, "tcpBeLiberal": false, "tcpCloseWaitTimeout": null,
            "tcpEstablishedTimeout": null, "udpStreamTimeout": "0s", "udpTimeout": "0s"
        },
        "detectLocal": {"bridgeInterface": "", "interfaceNamePrefix": ""},
        "detectLocalMode": "",
        "enableProfiling": false,
        "healthzBindAddress": "",
        "hostnameOverride": "",
        "iptables": {"localhostNodePorts": null, "masqueradeAll": false, "masqueradeBit": null, "minSyncPeriod": "0s", "syncPeriod": "0s"},
        "ipvs": {
            "excludeCIDRs": null, "minSyncPeriod": "0s", "scheduler": "", "strictARP": false,
            "syncPeriod": "0s", "tcpFinTimeout": "0s", "tcpTimeout": "0s", "udpTimeout": "0s"
        },
        "logging": {"flushFrequency": 0, "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}}, "verbosity": 0},
        "metricsBindAddress": "",
        "mode": "",
        "nftables": {"masqueradeAll": false, "masqueradeBit": null, "minSyncPeriod": "0s", "syncPeriod": "0s"},
        "nodePortAddresses": null,
        "oomScoreAdj": null,
        "portRange": "",
        "showHiddenMetricsForVersion": "",
        "winkernel": {"enableDSR": false, "forwardHealthCheckVip": false, "networkName": "", "rootHnsEndpointName": "", "sourceVip": ""}
    })
}

/// The KubeProxyConfiguration for an address family and pod subnet, over the user's
/// document when there is one. What upstream warns about while filling it in (a bind
/// address, pod CIDR or kubeconfig other than kubeadm's, the deprecated `ipvs` mode) is
/// logged as a warning.
pub fn kube_proxy_document(
    ipv6: bool,
    pod_subnet: &str,
    user: Option<&serde_yaml_ng::Mapping>,
) -> anyhow::Result<Value> {
    let (doc, warnings) = kube_proxy_defaults(ipv6, pod_subnet, user)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(doc)
}

/// The path of the kubeconfig kube-proxy's Pods mount from their ConfigMap.
const KUBE_PROXY_KUBECONFIG: &str = "/var/lib/kube-proxy/kubeconfig.conf";

/// The wildcard address kube-proxy binds for an address family.
fn wildcard(ipv6: bool) -> &'static str {
    if ipv6 {
        "::"
    } else {
        "0.0.0.0"
    }
}

/// Upstream's warning for a component config field set to something other than what
/// kubeadm recommends.
fn not_recommended(field: &str, recommended: &str, given: &str) -> String {
    format!(
        "The recommended value for {field:?} in \"KubeProxyConfiguration\" is: {recommended}; the provided value is: {given}"
    )
}

/// [`kube_proxy_document`]'s document and its warnings, as upstream's defaulting of the
/// KubeProxyConfiguration (cmd/kubeadm/app/componentconfigs/kubeproxy.go) makes them.
fn kube_proxy_defaults(
    ipv6: bool,
    pod_subnet: &str,
    user: Option<&serde_yaml_ng::Mapping>,
) -> anyhow::Result<(Value, Vec<String>)> {
    let mut doc = kube_proxy_base_document();
    if let Some(user) = user {
        json_patch::merge(&mut doc, &serde_json::to_value(user)?);
    }
    let mut warnings = Vec::new();
    let root = doc.as_object_mut().expect("an object");
    let given = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // #139989: any wildcard is fine; another address gets the wildcard of its own family
    // recommended, and text that is no address is said to be one.
    match given(root.get("bindAddress")) {
        None => {
            root.insert("bindAddress".into(), json!(wildcard(ipv6)));
        }
        Some(a) if a == wildcard(false) || a == wildcard(true) => {}
        Some(a) => match a.parse::<std::net::IpAddr>() {
            Ok(ip) => warnings.push(not_recommended("bindAddress", wildcard(ip.is_ipv6()), &a)),
            Err(_) => warnings.push(format!(
                "The bindAddress {a:?} in \"KubeProxyConfiguration\" is not a valid IP address"
            )),
        },
    }
    match given(root.get("clusterCIDR")) {
        None if !pod_subnet.is_empty() => {
            root.insert("clusterCIDR".into(), json!(pod_subnet));
        }
        Some(cidr) if !pod_subnet.is_empty() && cidr != pod_subnet => {
            warnings.push(not_recommended("clusterCIDR", pod_subnet, &cidr));
        }
        _ => {}
    }
    let conn = root.entry("clientConnection").or_insert_with(|| json!({}));
    match given(conn.get("kubeconfig")) {
        None => conn["kubeconfig"] = json!(KUBE_PROXY_KUBECONFIG),
        Some(path) if path != KUBE_PROXY_KUBECONFIG => warnings.push(not_recommended(
            "clientConnection.kubeconfig",
            KUBE_PROXY_KUBECONFIG,
            &path,
        )),
        Some(_) => {}
    }
    match given(root.get("mode")).as_deref() {
        // #139067 (v1.37): kube-proxy deprecated `ipvs` in v1.35.
        Some("ipvs") => warnings.push(
            "KubeProxyConfiguration sets \"mode\" to \"ipvs\", deprecated in kube-proxy since v1.35: \
             use \"nftables\" (GA since v1.33) on recent Linux kernels, or \"iptables\" (still the \
             default) on older ones"
                .into(),
        ),
        // #139777 (v1.37): kube-proxy warns about an unset mode, so kubeadm writes its
        // default out.
        None => {
            root.insert("mode".into(), json!("iptables"));
        }
        Some(_) => {}
    }
    Ok((doc, warnings))
}

/// kube-proxy's objects, in the order upstream creates them.
pub fn kube_proxy_objects(cfg: &InitConfiguration) -> anyhow::Result<Vec<Value>> {
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: {}\n  name: default\ncontexts:\n- context:\n    cluster: default\n    namespace: default\n    user: default\n  name: default\ncurrent-context: default\nusers:\n- name: default\n  user:\n    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n",
        cfg.control_plane_url()
    );
    let config = crate::yaml::to_string(&kube_proxy_configuration(cfg)?)?;
    let ns = "kube-system";
    let app = objects::labels(&[("k8s-app", "kube-proxy")]);
    let account = ServiceAccount {
        metadata: objects::meta(Some(ns), "kube-proxy"),
        ..Default::default()
    };
    let binding = objects::cluster_role_binding(
        "kubeadm:node-proxier",
        "system:node-proxier",
        vec![objects::service_account(ns, "kube-proxy")],
    );
    let role = objects::config_map_reader(ns, "kube-proxy", &["kube-proxy"]);
    let role_binding = objects::role_binding(
        ns,
        "kube-proxy",
        vec![objects::group(crate::token::NODE_BOOTSTRAP_GROUP)],
    );
    let mut config_map = objects::config_map(
        ns,
        "kube-proxy",
        &[("config.conf", &config), ("kubeconfig.conf", &kubeconfig)],
    );
    config_map.metadata.labels = Some(objects::labels(&[("app", "kube-proxy")]));
    let mount = |name: &str, path: &str, read_only: Option<bool>| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only,
        ..Default::default()
    };
    let host_path = |name: &str, path: &str, kind: Option<&str>| Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.into(),
            type_: kind.map(Into::into),
        }),
        ..Default::default()
    };
    let container = Container {
        name: "kube-proxy".into(),
        image: Some(crate::images::kubernetes_image("kube-proxy", cfg)),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![
            "/usr/local/bin/kube-proxy".into(),
            "--config=/var/lib/kube-proxy/config.conf".into(),
            "--hostname-override=$(NODE_NAME)".into(),
        ]),
        security_context: Some(SecurityContext {
            privileged: Some(true),
            ..Default::default()
        }),
        volume_mounts: Some(vec![
            mount("kube-proxy", "/var/lib/kube-proxy", None),
            mount("xtables-lock", "/run/xtables.lock", Some(false)),
            mount("lib-modules", "/lib/modules", Some(true)),
        ]),
        env: Some(vec![EnvVar {
            name: "NODE_NAME".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "spec.nodeName".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let pod = PodSpec {
        priority_class_name: Some("system-node-critical".into()),
        containers: vec![container],
        host_network: Some(true),
        service_account_name: Some("kube-proxy".into()),
        volumes: Some(vec![
            Volume {
                name: "kube-proxy".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: "kube-proxy".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            host_path("xtables-lock", "/run/xtables.lock", Some("FileOrCreate")),
            host_path("lib-modules", "/lib/modules", None),
        ]),
        tolerations: Some(vec![Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        }]),
        node_selector: Some(objects::labels(&[("kubernetes.io/os", "linux")])),
        ..Default::default()
    };
    let daemon_set = DaemonSet {
        metadata: ObjectMeta {
            labels: Some(app.clone()),
            ..objects::meta(Some(ns), "kube-proxy")
        },
        spec: DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(app.clone()),
                ..Default::default()
            },
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                ..Default::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(app),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        },
        ..Default::default()
    };
    Ok(vec![
        objects::to_value(&account),
        objects::to_value(&binding),
        objects::to_value(&role),
        objects::to_value(&role_binding),
        objects::to_value(&config_map),
        objects::to_value(&daemon_set),
    ])
}

/// Applies the user's `corednsdeployment` and `kubeproxydaemonset` patches to the CoreDNS
/// Deployment and the kube-proxy DaemonSet among `objects`, as upstream patches them before
/// creating them (in `init` and in `upgrade`); the other objects are left as they are.
pub fn apply_patches(objects: &mut [Value], patches: &PatchSet) -> anyhow::Result<()> {
    for object in objects.iter_mut() {
        let target = match (object["kind"].as_str(), object["metadata"]["name"].as_str()) {
            (Some("Deployment"), Some("coredns")) => Target::CorednsDeployment,
            (Some("DaemonSet"), Some("kube-proxy")) => Target::KubeProxyDaemonset,
            _ => continue,
        };
        if patches.has(target) {
            *object = patches.apply(target, object.take())?;
        }
    }
    Ok(())
}

/// The order upstream prints CoreDNS's objects in (`init phase addon coredns
/// --print-manifest`), by kind.
pub const COREDNS_PRINT_ORDER: &[&str] = &[
    "Deployment",
    "ConfigMap",
    "Service",
    "ClusterRole",
    "ClusterRoleBinding",
    "ServiceAccount",
];

/// The order upstream prints kube-proxy's objects in, by kind.
pub const KUBE_PROXY_PRINT_ORDER: &[&str] = &[
    "ServiceAccount",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "DaemonSet",
];

/// An addon's objects as `--print-manifest` prints them: a YAML stream, each object after a
/// `---` line, in `order` (by kind; kinds not listed come last, in their own order).
pub fn manifest_stream(objects: &[Value], order: &[&str]) -> anyhow::Result<String> {
    let rank = |o: &Value| {
        order
            .iter()
            .position(|k| o["kind"] == *k)
            .unwrap_or(order.len())
    };
    let mut sorted: Vec<&Value> = objects.iter().collect();
    sorted.sort_by_key(|o| rank(o));
    let mut out = String::new();
    for o in sorted {
        out.push_str("---\n");
        out.push_str(&crate::yaml::to_string(o)?);
    }
    Ok(out)
}

/// Applies an addon's objects: the CoreDNS ConfigMap is kept when it exists (a user's
/// Corefile survives), everything else is created or updated.
pub fn apply(api: &dyn Api, objects: &[Value]) -> anyhow::Result<()> {
    let puts: Vec<client::Put> = objects
        .iter()
        .map(|o| {
            if o["kind"] == "ConfigMap" && o["metadata"]["name"] == "coredns" {
                client::Put::Keep(o.clone())
            } else {
                client::Put::Apply(o.clone())
            }
        })
        .collect();
    client::put_all(api, &puts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    #[test]
    fn coredns_service_at_the_tenth_address_and_corefile_domain() {
        let objs = coredns_objects(&test_config()).unwrap();
        let svc = objs.iter().find(|o| o["kind"] == "Service").unwrap();
        assert_eq!(svc["spec"]["clusterIP"], "10.96.0.10");
        let cm = &objs[0];
        assert!(cm["data"]["Corefile"]
            .as_str()
            .unwrap()
            .contains("kubernetes cluster.local in-addr.arpa ip6.arpa {"));
        let d = objs.iter().find(|o| o["kind"] == "Deployment").unwrap();
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.k8s.io/coredns/coredns:v1.14.6"
        );
    }

    #[test]
    fn patches_reach_the_coredns_deployment_and_the_kube_proxy_daemon_set_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("corednsdeployment+merge.yaml"),
            "spec:\n  replicas: 5\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("kubeproxydaemonset.yaml"),
            "spec:\n  template:\n    spec:\n      containers:\n      - name: kube-proxy\n        env:\n        - name: EXTRA\n          value: \"1\"\n",
        )
        .unwrap();
        let host = crate::host::RealHost::new("/");
        let set = PatchSet::load(&host, dir.path()).unwrap();
        let cfg = test_config();
        let mut dns = coredns_objects(&cfg).unwrap();
        let before = dns.clone();
        apply_patches(&mut dns, &set).unwrap();
        let changed: Vec<_> = dns
            .iter()
            .zip(&before)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a["kind"].as_str().unwrap())
            .collect();
        assert_eq!(changed, ["Deployment"]);
        assert_eq!(dns[4]["spec"]["replicas"], 5);
        let mut proxy = kube_proxy_objects(&cfg).unwrap();
        apply_patches(&mut proxy, &set).unwrap();
        let ds = proxy.iter().find(|o| o["kind"] == "DaemonSet").unwrap();
        let env = &ds["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(
            env[0]["name"], "NODE_NAME",
            "a strategic patch merges by name"
        );
        assert_eq!(env[1], json!({"name": "EXTRA", "value": "1"}));
    }

    #[test]
    fn coredns_probes_use_named_ports() {
        let objs = coredns_objects(&test_config()).unwrap();
        let d = objs.iter().find(|o| o["kind"] == "Deployment").unwrap();
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        let ports: Vec<_> = c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap(),
                    p["containerPort"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            ports,
            [
                ("dns", 53),
                ("dns-tcp", 53),
                ("metrics", 9153),
                ("liveness-probe", 8080),
                ("readiness-probe", 8181)
            ]
        );
        assert_eq!(c["livenessProbe"]["httpGet"]["port"], "liveness-probe");
        assert_eq!(c["readinessProbe"]["httpGet"]["port"], "readiness-probe");
    }

    fn user(yaml: &str) -> serde_yaml_ng::Mapping {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn an_unset_kube_proxy_mode_is_written_as_iptables() {
        let (doc, warnings) = kube_proxy_defaults(false, "", None).unwrap();
        assert_eq!(doc["mode"], "iptables");
        assert!(warnings.is_empty(), "{warnings:?}");
        let (doc, _) = kube_proxy_defaults(false, "", Some(&user("mode: \"\"\n"))).unwrap();
        assert_eq!(doc["mode"], "iptables");
        let (doc, warnings) =
            kube_proxy_defaults(false, "", Some(&user("mode: nftables\n"))).unwrap();
        assert_eq!(doc["mode"], "nftables");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn the_ipvs_mode_is_kept_with_a_deprecation_warning() {
        let (doc, warnings) = kube_proxy_defaults(false, "", Some(&user("mode: ipvs\n"))).unwrap();
        assert_eq!(doc["mode"], "ipvs");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        for word in [
            "\"ipvs\"",
            "deprecated",
            "v1.35",
            "\"nftables\"",
            "\"iptables\"",
        ] {
            assert!(warnings[0].contains(word), "{word}: {}", warnings[0]);
        }
    }

    #[test]
    fn bind_addresses_other_than_a_wildcard_are_warned_about() {
        let warn = |ipv6: bool, address: &str| {
            let given = user(&format!("bindAddress: {address:?}\n"));
            let (doc, warnings) = kube_proxy_defaults(ipv6, "", Some(&given)).unwrap();
            assert_eq!(doc["bindAddress"], address, "kept as given");
            warnings
        };
        // Either wildcard is fine whatever the advertise address's family.
        assert!(warn(false, "::").is_empty());
        assert!(warn(true, "0.0.0.0").is_empty());
        assert_eq!(
            warn(true, "10.0.0.5"),
            [
                r#"The recommended value for "bindAddress" in "KubeProxyConfiguration" is: 0.0.0.0; the provided value is: 10.0.0.5"#
            ]
        );
        assert_eq!(
            warn(false, "fd00::5"),
            [
                r#"The recommended value for "bindAddress" in "KubeProxyConfiguration" is: ::; the provided value is: fd00::5"#
            ]
        );
        assert_eq!(
            warn(false, "proxy.local"),
            [
                r#"The bindAddress "proxy.local" in "KubeProxyConfiguration" is not a valid IP address"#
            ]
        );
        let (doc, _) = kube_proxy_defaults(true, "", None).unwrap();
        assert_eq!(doc["bindAddress"], "::");
    }

    #[test]
    fn a_cluster_cidr_or_kubeconfig_of_the_users_own_is_kept_with_a_warning() {
        let given =
            user("clusterCIDR: 10.0.0.0/8\nclientConnection:\n  kubeconfig: /etc/kp.conf\n");
        let (doc, warnings) = kube_proxy_defaults(false, "10.244.0.0/16", Some(&given)).unwrap();
        assert_eq!(doc["clusterCIDR"], "10.0.0.0/8");
        assert_eq!(doc["clientConnection"]["kubeconfig"], "/etc/kp.conf");
        assert_eq!(
            warnings,
            [
                r#"The recommended value for "clusterCIDR" in "KubeProxyConfiguration" is: 10.244.0.0/16; the provided value is: 10.0.0.0/8"#,
                r#"The recommended value for "clientConnection.kubeconfig" in "KubeProxyConfiguration" is: /var/lib/kube-proxy/kubeconfig.conf; the provided value is: /etc/kp.conf"#,
            ]
        );
        // Without a pod subnet there is nothing to compare the CIDR with.
        let (_, warnings) =
            kube_proxy_defaults(false, "", Some(&user("clusterCIDR: 10.0.0.0/8\n"))).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn kube_proxy_configuration_defaults() {
        let mut cfg = test_config();
        cfg.cluster.networking.pod_subnet = "10.244.0.0/16".into();
        let doc = kube_proxy_configuration(&cfg).unwrap();
        assert_eq!(doc["bindAddress"], "0.0.0.0");
        assert_eq!(doc["mode"], "iptables");
        assert_eq!(doc["clusterCIDR"], "10.244.0.0/16");
        assert_eq!(
            doc["clientConnection"]["kubeconfig"],
            "/var/lib/kube-proxy/kubeconfig.conf"
        );
        let objs = kube_proxy_objects(&cfg).unwrap();
        let cm = objs.iter().find(|o| o["kind"] == "ConfigMap").unwrap();
        assert!(cm["data"]["kubeconfig.conf"]
            .as_str()
            .unwrap()
            .contains("server: https://192.0.2.10:6443"));
    }
}

//! The addons `kubeadm init` installs: CoreDNS and kube-proxy, every object upstream
//! creates, with its names, labels and fields.

use serde_json::{json, Value};

use crate::client::{self, Api};
use crate::config::InitConfiguration;

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

/// CoreDNS's objects, in the order upstream creates them.
pub fn coredns_objects(cfg: &InitConfiguration) -> anyhow::Result<Vec<Value>> {
    let domain = &cfg.cluster.networking.dns_domain;
    let dns_ip = crate::pki::dns_service_ip(&cfg.cluster.networking.service_subnet)?;
    let labels = json!({"k8s-app": "kube-dns"});
    Ok(vec![
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": corefile(domain)},
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}],
        }),
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "priorityClassName": "system-cluster-critical",
                        "serviceAccountName": "coredns",
                        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                            "weight": 100,
                            "podAffinityTerm": {
                                "labelSelector": {"matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]},
                                "topologyKey": "kubernetes.io/hostname"
                            }
                        }]}},
                        "tolerations": [
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
                        ],
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "containers": [{
                            "name": "coredns",
                            "image": crate::images::coredns_image(cfg),
                            "imagePullPolicy": "IfNotPresent",
                            "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
                            "args": ["-conf", "/etc/coredns/Corefile"],
                            "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": true}],
                            "ports": [
                                {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                                {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                                {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}
                            ],
                            "livenessProbe": {
                                "httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                                "initialDelaySeconds": 60, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5
                            },
                            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
                            "securityContext": {
                                "allowPrivilegeEscalation": false,
                                "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                                "readOnlyRootFilesystem": true
                            }
                        }],
                        "dnsPolicy": "Default",
                        "volumes": [{"name": "config-volume", "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}]
                    }
                }
            }
        }),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {
                "name": "kube-dns", "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}
            },
            "spec": {
                "clusterIP": dns_ip.to_string(),
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}
                ],
                "selector": {"k8s-app": "kube-dns"}
            }
        }),
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
/// document when there is one.
pub fn kube_proxy_document(
    ipv6: bool,
    pod_subnet: &str,
    user: Option<&serde_yaml_ng::Mapping>,
) -> anyhow::Result<Value> {
    let mut doc = kube_proxy_base_document();
    if let Some(user) = user {
        json_patch::merge(&mut doc, &serde_json::to_value(user)?);
    }
    let root = doc.as_object_mut().expect("an object");
    let unset = |v: Option<&Value>| v.is_none_or(|v| v.is_null() || v.as_str() == Some(""));
    if unset(root.get("bindAddress")) {
        root.insert(
            "bindAddress".into(),
            json!(if ipv6 { "::" } else { "0.0.0.0" }),
        );
    }
    if unset(root.get("clusterCIDR")) && !pod_subnet.is_empty() {
        root.insert("clusterCIDR".into(), json!(pod_subnet));
    }
    let conn = root.entry("clientConnection").or_insert_with(|| json!({}));
    if unset(conn.get("kubeconfig")) {
        conn["kubeconfig"] = json!("/var/lib/kube-proxy/kubeconfig.conf");
    }
    Ok(doc)
}

/// kube-proxy's objects, in the order upstream creates them.
pub fn kube_proxy_objects(cfg: &InitConfiguration) -> anyhow::Result<Vec<Value>> {
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: {}\n  name: default\ncontexts:\n- context:\n    cluster: default\n    namespace: default\n    user: default\n  name: default\ncurrent-context: default\nusers:\n- name: default\n  user:\n    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n",
        cfg.control_plane_url()
    );
    let config = crate::yaml::to_string(&kube_proxy_configuration(cfg)?)?;
    let labels = json!({"k8s-app": "kube-proxy"});
    Ok(vec![
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "kubeadm:node-proxier"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node-proxier"},
            "subjects": [{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kube-proxy"], "verbs": ["get"]}],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kube-proxy"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": crate::phases::api::NODE_BOOTSTRAP_GROUP}],
        }),
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"app": "kube-proxy"}},
            "data": {"config.conf": config, "kubeconfig.conf": kubeconfig},
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "updateStrategy": {"type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "priorityClassName": "system-node-critical",
                        "containers": [{
                            "name": "kube-proxy",
                            "image": crate::images::kubernetes_image("kube-proxy", cfg),
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"],
                            "securityContext": {"privileged": true},
                            "volumeMounts": [
                                {"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"},
                                {"mountPath": "/run/xtables.lock", "name": "xtables-lock", "readOnly": false},
                                {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": true}
                            ],
                            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
                        }],
                        "hostNetwork": true,
                        "serviceAccountName": "kube-proxy",
                        "volumes": [
                            {"name": "kube-proxy", "configMap": {"name": "kube-proxy"}},
                            {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                            {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}
                        ],
                        "tolerations": [{"operator": "Exists"}],
                        "nodeSelector": {"kubernetes.io/os": "linux"}
                    }
                }
            }
        }),
    ])
}

/// Applies an addon's objects: the CoreDNS ConfigMap is kept when it exists (a user's
/// Corefile survives), everything else is created or updated.
pub fn apply(api: &dyn Api, objects: &[Value]) -> anyhow::Result<()> {
    for o in objects {
        let keep = o["kind"] == "ConfigMap" && o["metadata"]["name"] == "coredns";
        if keep {
            client::create_or_retain(api, o)?;
        } else {
            client::create_or_update(api, o)?;
        }
    }
    Ok(())
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
            "registry.k8s.io/coredns/coredns:v1.14.2"
        );
    }

    #[test]
    fn kube_proxy_configuration_defaults() {
        let mut cfg = test_config();
        cfg.cluster.networking.pod_subnet = "10.244.0.0/16".into();
        let doc = kube_proxy_configuration(&cfg).unwrap();
        assert_eq!(doc["bindAddress"], "0.0.0.0");
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

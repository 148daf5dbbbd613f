//! The fields of the component configurations kubeadm carries (`KubeletConfiguration`
//! kubelet.config.k8s.io/v1beta1, `KubeProxyConfiguration` kubeproxy.config.k8s.io/v1alpha1),
//! as their versioned types name them. kubeadm keeps these documents whole; the field lists
//! only serve the strict check upstream makes: `config validate` and `config migrate` refuse
//! an unknown field, every other command warns about it.

use serde_yaml_ng::Value;

/// What a field holds.
#[derive(Debug)]
pub enum Shape {
    /// A scalar, or a value whose inside is not checked (a list of strings, a duration).
    Any,
    /// A map with keys of the user's choosing (`featureGates`, `evictionHard`).
    Map,
    /// An object with these fields and no others.
    Struct(&'static [(&'static str, Shape)]),
    /// A list of objects of one shape.
    List(&'static Shape),
}

use Shape::{Any, List, Map, Struct};

const VMODULE_ITEM: Shape = Struct(&[("filePattern", Any), ("verbosity", Any)]);
const OUTPUT_ROUTING: Shape = Struct(&[("splitStream", Any), ("infoBufferSize", Any)]);
/// component-base's `LoggingConfiguration`.
const LOGGING: Shape = Struct(&[
    ("format", Any),
    ("flushFrequency", Any),
    ("verbosity", Any),
    ("vmodule", List(&VMODULE_ITEM)),
    (
        "options",
        Struct(&[("text", OUTPUT_ROUTING), ("json", OUTPUT_ROUTING)]),
    ),
]);

const KUBELET_FIELDS: &[(&str, Shape)] = &[
    ("apiVersion", Any),
    ("kind", Any),
    ("enableServer", Any),
    ("staticPodPath", Any),
    ("podLogsDir", Any),
    ("syncFrequency", Any),
    ("fileCheckFrequency", Any),
    ("httpCheckFrequency", Any),
    ("staticPodURL", Any),
    ("staticPodURLHeader", Map),
    ("address", Any),
    ("port", Any),
    ("readOnlyPort", Any),
    ("tlsCertFile", Any),
    ("tlsPrivateKeyFile", Any),
    ("tlsCipherSuites", Any),
    ("tlsCurvePreferences", Any),
    ("tlsMinVersion", Any),
    ("rotateCertificates", Any),
    ("serverTLSBootstrap", Any),
    (
        "authentication",
        Struct(&[
            ("x509", Struct(&[("clientCAFile", Any)])),
            ("webhook", Struct(&[("enabled", Any), ("cacheTTL", Any)])),
            ("anonymous", Struct(&[("enabled", Any)])),
        ]),
    ),
    (
        "authorization",
        Struct(&[
            ("mode", Any),
            (
                "webhook",
                Struct(&[("cacheAuthorizedTTL", Any), ("cacheUnauthorizedTTL", Any)]),
            ),
        ]),
    ),
    ("registryPullQPS", Any),
    ("registryBurst", Any),
    ("imagePullCredentialsVerificationPolicy", Any),
    ("preloadedImagesVerificationAllowlist", Any),
    ("eventRecordQPS", Any),
    ("eventBurst", Any),
    ("enableDebuggingHandlers", Any),
    ("enableContentionProfiling", Any),
    ("healthzPort", Any),
    ("healthzBindAddress", Any),
    ("oomScoreAdj", Any),
    ("clusterDomain", Any),
    ("clusterDNS", Any),
    ("streamingConnectionIdleTimeout", Any),
    ("nodeStatusUpdateFrequency", Any),
    ("nodeStatusReportFrequency", Any),
    ("nodeLeaseDurationSeconds", Any),
    ("imageMinimumGCAge", Any),
    ("imageMaximumGCAge", Any),
    ("imageGCHighThresholdPercent", Any),
    ("imageGCLowThresholdPercent", Any),
    ("volumeStatsAggPeriod", Any),
    ("kubeletCgroups", Any),
    ("systemCgroups", Any),
    ("cgroupRoot", Any),
    ("cgroupsPerQOS", Any),
    ("cgroupDriver", Any),
    ("cpuManagerPolicy", Any),
    ("singleProcessOOMKill", Any),
    ("cpuManagerPolicyOptions", Map),
    ("cpuManagerReconcilePeriod", Any),
    ("draManagerReconcilePeriod", Any),
    ("memoryManagerPolicy", Any),
    ("topologyManagerPolicy", Any),
    ("topologyManagerScope", Any),
    ("topologyManagerPolicyOptions", Map),
    ("qosReserved", Map),
    ("runtimeRequestTimeout", Any),
    ("hairpinMode", Any),
    ("maxPods", Any),
    ("podCIDR", Any),
    ("podPidsLimit", Any),
    ("resolvConf", Any),
    ("runOnce", Any),
    ("cpuCFSQuota", Any),
    ("cpuCFSQuotaPeriod", Any),
    ("nodeStatusMaxImages", Any),
    ("maxOpenFiles", Any),
    ("contentType", Any),
    ("kubeAPIQPS", Any),
    ("kubeAPIBurst", Any),
    ("serializeImagePulls", Any),
    ("maxParallelImagePulls", Any),
    ("evictionHard", Map),
    ("evictionSoft", Map),
    ("evictionSoftGracePeriod", Map),
    ("evictionPressureTransitionPeriod", Any),
    ("evictionMaxPodGracePeriod", Any),
    ("evictionMinimumReclaim", Map),
    ("mergeDefaultEvictionSettings", Any),
    ("podsPerCore", Any),
    ("enableControllerAttachDetach", Any),
    ("protectKernelDefaults", Any),
    ("makeIPTablesUtilChains", Any),
    ("iptablesMasqueradeBit", Any),
    ("iptablesDropBit", Any),
    ("featureGates", Map),
    ("failSwapOn", Any),
    ("memorySwap", Struct(&[("swapBehavior", Any)])),
    ("containerLogMaxSize", Any),
    ("containerLogMaxFiles", Any),
    ("containerLogMaxWorkers", Any),
    ("containerLogMonitorInterval", Any),
    ("configMapAndSecretChangeDetectionStrategy", Any),
    ("systemReserved", Map),
    ("kubeReserved", Map),
    ("reservedSystemCPUs", Any),
    ("showHiddenMetricsForVersion", Any),
    ("systemReservedCgroup", Any),
    ("kubeReservedCgroup", Any),
    ("enforceNodeAllocatable", Any),
    ("allowedUnsafeSysctls", Any),
    ("volumePluginDir", Any),
    ("providerID", Any),
    ("kernelMemcgNotification", Any),
    ("logging", LOGGING),
    ("enableSystemLogHandler", Any),
    ("enableSystemLogQuery", Any),
    ("shutdownGracePeriod", Any),
    ("shutdownGracePeriodCriticalPods", Any),
    (
        "shutdownGracePeriodByPodPriority",
        List(&Struct(&[
            ("priority", Any),
            ("shutdownGracePeriodSeconds", Any),
        ])),
    ),
    (
        "crashLoopBackOff",
        Struct(&[("maxContainerRestartPeriod", Any)]),
    ),
    (
        "reservedMemory",
        List(&Struct(&[("numaNode", Any), ("limits", Map)])),
    ),
    ("enableProfilingHandler", Any),
    ("enableDebugFlagsHandler", Any),
    ("seccompDefault", Any),
    ("memoryThrottlingFactor", Any),
    ("memoryReservationPolicy", Any),
    (
        "registerWithTaints",
        List(&Struct(&[
            ("key", Any),
            ("value", Any),
            ("effect", Any),
            ("timeAdded", Any),
        ])),
    ),
    ("registerNode", Any),
    (
        "tracing",
        Struct(&[("endpoint", Any), ("samplingRatePerMillion", Any)]),
    ),
    ("localStorageCapacityIsolation", Any),
    ("containerRuntimeEndpoint", Any),
    ("imageServiceEndpoint", Any),
    ("failCgroupV1", Any),
    ("userNamespaces", Struct(&[("idsPerPod", Any)])),
];

const KUBE_PROXY_FIELDS: &[(&str, Shape)] = &[
    ("apiVersion", Any),
    ("kind", Any),
    ("featureGates", Map),
    (
        "clientConnection",
        Struct(&[
            ("kubeconfig", Any),
            ("acceptContentTypes", Any),
            ("contentType", Any),
            ("qps", Any),
            ("burst", Any),
        ]),
    ),
    ("logging", LOGGING),
    ("hostnameOverride", Any),
    ("bindAddress", Any),
    ("healthzBindAddress", Any),
    ("metricsBindAddress", Any),
    ("bindAddressHardFail", Any),
    ("enableProfiling", Any),
    ("showHiddenMetricsForVersion", Any),
    ("mode", Any),
    (
        "iptables",
        Struct(&[
            ("masqueradeBit", Any),
            ("masqueradeAll", Any),
            ("localhostNodePorts", Any),
            ("snatNodeInternalIP", Any),
            ("syncPeriod", Any),
            ("minSyncPeriod", Any),
        ]),
    ),
    (
        "ipvs",
        Struct(&[
            ("syncPeriod", Any),
            ("minSyncPeriod", Any),
            ("scheduler", Any),
            ("excludeCIDRs", Any),
            ("strictARP", Any),
            ("tcpTimeout", Any),
            ("tcpFinTimeout", Any),
            ("udpTimeout", Any),
        ]),
    ),
    (
        "nftables",
        Struct(&[
            ("masqueradeBit", Any),
            ("masqueradeAll", Any),
            ("syncPeriod", Any),
            ("minSyncPeriod", Any),
        ]),
    ),
    (
        "winkernel",
        Struct(&[
            ("networkName", Any),
            ("sourceVip", Any),
            ("enableDSR", Any),
            ("rootHnsEndpointName", Any),
            ("forwardHealthCheckVip", Any),
        ]),
    ),
    ("detectLocalMode", Any),
    (
        "detectLocal",
        Struct(&[("bridgeInterface", Any), ("interfaceNamePrefix", Any)]),
    ),
    ("clusterCIDR", Any),
    ("nodePortAddresses", Any),
    ("oomScoreAdj", Any),
    (
        "conntrack",
        Struct(&[
            ("maxPerCore", Any),
            ("min", Any),
            ("tcpEstablishedTimeout", Any),
            ("tcpCloseWaitTimeout", Any),
            ("tcpBeLiberal", Any),
            ("udpTimeout", Any),
            ("udpStreamTimeout", Any),
        ]),
    ),
    ("configSyncPeriod", Any),
    ("portRange", Any),
    ("windowsRunAsService", Any),
];

/// `KubeletConfiguration`'s fields.
pub const KUBELET: Shape = Struct(KUBELET_FIELDS);
/// `KubeProxyConfiguration`'s fields.
pub const KUBE_PROXY: Shape = Struct(KUBE_PROXY_FIELDS);

/// The paths (`a.b`, `list[0].c`) of the fields of `value` that `shape` does not have, in
/// document order.
pub fn unknown_fields(value: &Value, shape: &Shape) -> Vec<String> {
    let mut out = Vec::new();
    walk(value, shape, "", &mut out);
    out
}

fn walk(value: &Value, shape: &Shape, path: &str, out: &mut Vec<String>) {
    match (shape, value) {
        (Struct(fields), Value::Mapping(m)) => {
            for (key, inner) in m {
                let name = match key {
                    Value::String(s) => s.clone(),
                    other => crate::yaml::to_string(other)
                        .map(|s| s.trim_end().to_string())
                        .unwrap_or_default(),
                };
                let here = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                match fields.iter().find(|(n, _)| *n == name) {
                    Some((_, shape)) => walk(inner, shape, &here, out),
                    None => out.push(here),
                }
            }
        }
        (List(item), Value::Sequence(items)) => {
            for (i, inner) in items.iter().enumerate() {
                walk(inner, item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(text: &str, shape: &Shape) -> Vec<String> {
        unknown_fields(&serde_yaml_ng::from_str(text).unwrap(), shape)
    }

    #[test]
    fn kubelet_fields_nested_lists_and_free_maps() {
        let text = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\nevictionHard:\n  anything.at.all: 1%\nauthentication:\n  webhook:\n    enabled: true\n    bogus: 1\nregisterWithTaints:\n- key: a\n  effect: NoSchedule\n  oops: x\nmaxPod: 3\nlogging:\n  options:\n    json:\n      infoBufferSize: 0\n";
        assert_eq!(
            unknown(text, &KUBELET),
            [
                "authentication.webhook.bogus",
                "registerWithTaints[0].oops",
                "maxPod"
            ]
        );
    }

    #[test]
    fn kube_proxy_fields() {
        let known = crate::addons::kube_proxy_document(false, "10.244.0.0/16", None).unwrap();
        let known: Value = serde_yaml_ng::to_value(known).unwrap();
        assert!(unknown_fields(&known, &KUBE_PROXY).is_empty());
        let text = "mode: ipvs\nipvs:\n  strictARP: true\n  scheduler: rr\n  sheduler: rr\nconntrack:\n  maxPerCore: 0\n";
        assert_eq!(unknown(text, &KUBE_PROXY), ["ipvs.sheduler"]);
    }
}

//! Fifty workers join one control plane at once (each from its own root, with a kubelet
//! stand-in doing the TLS bootstrap against the test API server's CSR signer): every join
//! succeeds, each node with its own Node object and its own client certificate. The joins
//! per second are measured by `bench/joins.sh`, not asserted here.

mod support;

use std::collections::BTreeSet;

use support::*;
use testapiserver::resources;

#[test]
fn fifty_workers_join_at_once() {
    let cp = control_plane();
    kubelet_health(None);
    let (nodes, elapsed) = concurrent_joins(&cp, 50, true);
    let store = &cp.server.state().store;
    let node_kind = resources::find("", "v1", "nodes").unwrap();
    let mut serials = BTreeSet::new();
    for n in &nodes {
        let obj = store.get(node_kind, "", &n.name).unwrap();
        assert_eq!(obj["metadata"]["name"], n.name.as_str());
        let text =
            std::fs::read_to_string(n.root.path().join("etc/kubernetes/kubelet.conf")).unwrap();
        let kc = kubeadm::kubeconfig::KubeConfig::from_yaml(&text).unwrap();
        let cert = kc.users[0]
            .user
            .client_certificate_data
            .clone()
            .expect("a client certificate");
        let der = ::pem::parse(&cert).unwrap().into_contents();
        let (_, x509) = x509_parser::parse_x509_certificate(&der).unwrap();
        let cn = x509
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(cn, format!("system:node:{}", n.name));
        serials.insert(x509.raw_serial().to_vec());
    }
    assert_eq!(serials.len(), 50, "each node has a certificate of its own");
    let csrs = resources::find("certificates.k8s.io", "v1", "certificatesigningrequests").unwrap();
    let signed = store
        .list(csrs, None)
        .0
        .iter()
        .filter(|c| c["status"]["certificate"].is_string())
        .count();
    assert_eq!(signed, 50);
    eprintln!(
        "50 joins in {:.1} s ({:.1} joins/s)",
        elapsed.as_secs_f64(),
        50.0 / elapsed.as_secs_f64()
    );
}

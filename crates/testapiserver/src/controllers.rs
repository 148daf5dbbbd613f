//! The controllers of kube-controller-manager kubeadm relies on: the bootstrap signer
//! (`jws-kubeconfig-<id>` entries in `kube-public/cluster-info`), the token cleaner
//! (expired bootstrap token Secrets), the kubelet client CSR approver and signer, and
//! the disruption controller ([`crate::disruption`]).
//! They run after every change and on a one-second tick (for expirations).

use base64::Engine;
use serde_json::{json, Value};
use x509_parser::prelude::FromDer;

use crate::auth::{self, User};
use crate::rbac::{self, Attributes};
use crate::resources;
use crate::store::Store;

/// The CA the CSR signer signs with.
pub struct SigningCa {
    /// The CA certificate (PEM).
    pub cert_pem: String,
    /// Its key.
    pub key: rcgen::KeyPair,
}

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The detached JWS upstream's bootstrap signer puts in `cluster-info`: HS256 over the
/// kubeconfig with the token secret as key, the token id as `kid`, payload left out.
pub fn detached_jws(content: &str, token_id: &str, token_secret: &str) -> String {
    let header = B64URL.encode(format!("{{\"alg\":\"HS256\",\"kid\":\"{token_id}\"}}"));
    let payload = B64URL.encode(content);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, token_secret.as_bytes());
    let sig = aws_lc_rs::hmac::sign(&key, format!("{header}.{payload}").as_bytes());
    format!("{header}..{}", B64URL.encode(sig.as_ref()))
}

fn bootstrap_tokens(store: &Store) -> Vec<Value> {
    let secrets = resources::find("", "v1", "secrets").expect("secrets");
    store
        .list(secrets, Some("kube-system"))
        .0
        .into_iter()
        .filter(|s| s.get("type").and_then(Value::as_str) == Some("bootstrap.kubernetes.io/token"))
        .collect()
}

/// Deletes expired bootstrap token Secrets.
pub fn token_cleaner(store: &Store) {
    let secrets = resources::find("", "v1", "secrets").expect("secrets");
    for s in bootstrap_tokens(store) {
        if auth::expired(&s) {
            let _ = store.delete(secrets, "kube-system", crate::store::name_of(&s));
        }
    }
}

/// Keeps one `jws-kubeconfig-<id>` entry in `kube-public/cluster-info` for every valid
/// signing token, and none for others.
pub fn bootstrap_signer(store: &Store) {
    let cms = resources::find("", "v1", "configmaps").expect("configmaps");
    let Ok(mut cm) = store.get(cms, "kube-public", "cluster-info") else {
        return;
    };
    let content = cm
        .get("data")
        .and_then(|d| d.get("kubeconfig"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut wanted = serde_json::Map::new();
    if !content.is_empty() {
        for s in bootstrap_tokens(store) {
            let (Some(id), Some(secret)) = (
                auth::secret_value(&s, "token-id"),
                auth::secret_value(&s, "token-secret"),
            ) else {
                continue;
            };
            if auth::secret_value(&s, "usage-bootstrap-signing").as_deref() != Some("true")
                || auth::expired(&s)
                || crate::store::name_of(&s) != format!("bootstrap-token-{id}")
            {
                continue;
            }
            wanted.insert(
                format!("jws-kubeconfig-{id}"),
                json!(detached_jws(&content, &id, &secret)),
            );
        }
    }
    let data = cm
        .as_object_mut()
        .expect("an object")
        .entry("data")
        .or_insert_with(|| json!({}));
    let Some(data) = data.as_object_mut() else {
        return;
    };
    let current: serde_json::Map<String, Value> = data
        .iter()
        .filter(|(k, _)| k.starts_with("jws-kubeconfig-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if current == wanted {
        return;
    }
    data.retain(|k, _| !k.starts_with("jws-kubeconfig-"));
    data.extend(wanted);
    // A concurrent writer wins; the next pass signs again.
    let _ = store.update(cms, "kube-public", "cluster-info", cm);
}

fn has_condition(csr: &Value, kind: &str) -> bool {
    csr.get("status")
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        })
}

/// What a kubelet client CSR asks for.
struct NodeClientRequest {
    common_name: String,
}

/// The request when it is a kubelet client certificate request as upstream's approver
/// recognizes it: subject `O=system:nodes` only, `CN=system:node:<name>`, no SANs, client
/// auth usage (digital signature and key encipherment allowed).
fn node_client_request(csr: &Value) -> Option<NodeClientRequest> {
    let spec = csr.get("spec")?;
    let pem_b64 = spec.get("request")?.as_str()?;
    let pem_bytes = base64::engine::general_purpose::STANDARD
        .decode(pem_b64)
        .ok()?;
    let block = pem::parse(pem_bytes).ok()?;
    if block.tag() != "CERTIFICATE REQUEST" {
        return None;
    }
    let (_, req) =
        x509_parser::certification_request::X509CertificationRequest::from_der(block.contents())
            .ok()?;
    let subject = &req.certification_request_info.subject;
    let orgs: Vec<&str> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .collect();
    let cn = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    if orgs != ["system:nodes"] || !cn.starts_with("system:node:") || cn.len() <= 12 {
        return None;
    }
    if let Some(exts) = req.requested_extensions() {
        for e in exts {
            if matches!(
                e,
                x509_parser::extensions::ParsedExtension::SubjectAlternativeName(_)
            ) {
                return None;
            }
        }
    }
    let usages: Vec<&str> = spec
        .get("usages")
        .and_then(Value::as_array)
        .map(|u| u.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let allowed = ["digital signature", "key encipherment", "client auth"];
    if !usages.contains(&"client auth") || usages.iter().any(|u| !allowed.contains(u)) {
        return None;
    }
    Some(NodeClientRequest { common_name: cn })
}

fn requester(csr: &Value) -> User {
    let spec = csr.get("spec").cloned().unwrap_or(Value::Null);
    User {
        name: spec
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        groups: spec
            .get("groups")
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Approves kubelet client CSRs the requester may have (a subject access review on
/// `certificatesigningrequests/nodeclient`, or `selfnodeclient` when the requester is the
/// node itself), then signs approved ones.
pub fn csr_approver_and_signer(store: &Store, ca: Option<&SigningCa>) {
    let csrs =
        resources::find("certificates.k8s.io", "v1", "certificatesigningrequests").expect("csrs");
    for mut csr in store.list(csrs, None).0 {
        let name = crate::store::name_of(&csr).to_string();
        let signer = csr
            .get("spec")
            .and_then(|s| s.get("signerName"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if signer != "kubernetes.io/kube-apiserver-client-kubelet" {
            continue;
        }
        let approved = has_condition(&csr, "Approved");
        if !approved && !has_condition(&csr, "Denied") {
            let Some(req) = node_client_request(&csr) else {
                continue;
            };
            let user = requester(&csr);
            let sub = if user.name == req.common_name {
                "selfnodeclient"
            } else {
                "nodeclient"
            };
            let attrs = Attributes {
                verb: "create".into(),
                group: "certificates.k8s.io".into(),
                resource: Some("certificatesigningrequests".into()),
                subresource: Some(sub.into()),
                ..Default::default()
            };
            if !rbac::allows(store, &user, &attrs) {
                continue;
            }
            let status = csr
                .as_object_mut()
                .expect("an object")
                .entry("status")
                .or_insert_with(|| json!({}));
            let conds = status
                .as_object_mut()
                .expect("an object")
                .entry("conditions")
                .or_insert_with(|| json!([]));
            if let Some(list) = conds.as_array_mut() {
                list.push(json!({
                    "type": "Approved",
                    "status": "True",
                    "reason": "AutoApproved",
                    "message": "Auto approving kubelet client certificate after SubjectAccessReview.",
                    "lastUpdateTime": crate::store::now(),
                    "lastTransitionTime": crate::store::now(),
                }));
            }
            match store.update(csrs, "", &name, csr) {
                Ok(updated) => csr = updated,
                Err(_) => continue,
            }
        }
        let signed = csr
            .get("status")
            .and_then(|s| s.get("certificate"))
            .is_some();
        if has_condition(&csr, "Approved") && !signed {
            if let Some(ca) = ca {
                if let Some(pem) = sign(&csr, ca) {
                    csr["status"]["certificate"] =
                        json!(base64::engine::general_purpose::STANDARD.encode(pem));
                    let _ = store.update(csrs, "", &name, csr);
                }
            }
        }
    }
}

fn sign(csr: &Value, ca: &SigningCa) -> Option<String> {
    let spec = csr.get("spec")?;
    let pem_bytes = base64::engine::general_purpose::STANDARD
        .decode(spec.get("request")?.as_str()?)
        .ok()?;
    let mut req =
        rcgen::CertificateSigningRequestParams::from_pem(std::str::from_utf8(&pem_bytes).ok()?)
            .ok()?;
    let now = time::OffsetDateTime::now_utc();
    let secs = spec
        .get("expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(365 * 24 * 3600)
        .clamp(600, 365 * 24 * 3600);
    req.params.not_before = now - time::Duration::minutes(5);
    req.params.not_after = now + time::Duration::seconds(secs);
    req.params.is_ca = rcgen::IsCa::ExplicitNoCa;
    req.params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    req.params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).ok()?;
    serial[0] &= 0x7f;
    req.params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca.cert_pem, &ca.key).ok()?;
    Some(req.signed_by(&issuer).ok()?.pem())
}

/// Every controller, once.
pub fn reconcile(store: &Store, ca: Option<&SigningCa>) {
    token_cleaner(store);
    bootstrap_signer(store);
    csr_approver_and_signer(store, ca);
    crate::disruption::controller(store);
}

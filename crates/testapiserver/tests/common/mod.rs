//! A CA, certificates, a running server and an HTTPS client for the tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client as HyperClient};
use hyper_util::rt::TokioExecutor;
use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use serde_json::Value;
use testapiserver::{Config, TestApiServer};

/// A CA with its key.
pub struct Ca {
    pub cert_pem: String,
    pub key: KeyPair,
    params: CertificateParams,
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.clone().self_signed(&key).unwrap();
        Ca {
            cert_pem: cert.pem(),
            key,
            params,
        }
    }

    /// A leaf certificate and key (PEM): a client certificate for `cn`/`orgs`, or a
    /// serving certificate for 127.0.0.1.
    pub fn leaf(&self, cn: &str, orgs: &[&str], server: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = if server {
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap()
        } else {
            CertificateParams::default()
        };
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        for o in orgs {
            dn.push(DnType::OrganizationName, *o);
        }
        params.distinguished_name = dn;
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let issuer = rcgen::Issuer::new(self.params.clone(), &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A running server with its PKI on disk.
pub struct Cluster {
    pub server: TestApiServer,
    pub ca: Ca,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("kubernetes");
        let (cert, key) = ca.leaf("kube-apiserver", &[], true);
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("ca.crt"), &ca.cert_pem).unwrap();
        std::fs::write(p("ca.key"), ca.key.serialize_pem()).unwrap();
        std::fs::write(p("apiserver.crt"), cert).unwrap();
        std::fs::write(p("apiserver.key"), key).unwrap();
        let server = TestApiServer::start(Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls_cert_file: p("apiserver.crt"),
            tls_private_key_file: p("apiserver.key"),
            client_ca_file: p("ca.crt"),
            signing_cert_file: Some(p("ca.crt")),
            signing_key_file: Some(p("ca.key")),
            data_dump: Some(p("dump.json")),
            run_controllers: true,
            etcd: None,
        })
        .unwrap();
        Cluster { server, ca, dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client authenticated by a certificate for `cn`/`orgs`.
    pub fn client_cert(&self, cn: &str, orgs: &[&str]) -> Client {
        let (c, k) = self.ca.leaf(cn, orgs, false);
        Client::new(
            &self.server.url(),
            &self.ca.cert_pem,
            Some((c, k)),
            None,
            false,
        )
    }

    /// The cluster admin (`system:masters`).
    pub fn admin(&self) -> Client {
        self.client_cert("kubernetes-super-admin", &["system:masters"])
    }

    /// An anonymous client.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.server.url(), &self.ca.cert_pem, None, None, false)
    }

    /// A client with a bearer token.
    pub fn token(&self, token: &str) -> Client {
        Client::new(
            &self.server.url(),
            &self.ca.cert_pem,
            None,
            Some(token.to_string()),
            false,
        )
    }
}

/// An HTTPS client.
pub struct Client {
    rt: tokio::runtime::Runtime,
    client: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    token: Option<String>,
}

fn pem_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    pem::parse_many(pem)
        .unwrap()
        .into_iter()
        .map(|b| rustls::pki_types::CertificateDer::from(b.into_contents()))
        .collect()
}

impl Client {
    pub fn new(
        base: &str,
        ca_pem: &str,
        client_cert: Option<(String, String)>,
        token: Option<String>,
        http2_only: bool,
    ) -> Client {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in pem_certs(ca_pem) {
            roots.add(c).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let tls = match client_cert {
            Some((c, k)) => {
                let key = pem::parse(k).unwrap();
                let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.into_contents().into());
                builder.with_client_auth_cert(pem_certs(&c), key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        let b = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only();
        let connector = if http2_only {
            b.enable_http2().build()
        } else {
            b.enable_http1().build()
        };
        let mut cb = HyperClient::builder(TokioExecutor::new());
        if http2_only {
            cb.http2_only(true);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = {
            let _guard = rt.enter();
            cb.build(connector)
        };
        Client {
            rt,
            client,
            base: base.to_string(),
            token,
        }
    }

    /// Sends a request; returns the status code and the JSON (or text as a string) body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let bytes = match body {
            Some(b) if content_type == "application/apply-patch+yaml" => {
                serde_yaml_ng::to_string(b).unwrap().into_bytes()
            }
            Some(b) => serde_json::to_vec(b).unwrap(),
            None => Vec::new(),
        };
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .header("user-agent", "apitest/v1");
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(Full::new(Bytes::from(bytes))).unwrap();
        self.rt.block_on(async {
            let resp = self.client.request(req).await.unwrap();
            let code = resp.status().as_u16();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let v = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            (code, v)
        })
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, "application/json", None)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, "application/json", Some(body))
    }

    pub fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("PUT", path, "application/json", Some(body))
    }

    pub fn patch(&self, path: &str, content_type: &str, body: &Value) -> (u16, Value) {
        self.call("PATCH", path, content_type, Some(body))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, "application/json", None)
    }

    /// Opens a watch and collects `n` events (with a deadline).
    pub fn watch(&self, path: &str, n: usize, after: impl FnOnce()) -> Vec<Value> {
        let mut req = http::Request::builder()
            .method("GET")
            .uri(format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(Full::new(Bytes::new())).unwrap();
        let resp = self.rt.block_on(self.client.request(req)).unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        after();
        self.rt.block_on(async {
            let mut body = resp.into_body();
            let mut buf = Vec::new();
            let mut events = Vec::new();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            while events.len() < n {
                let frame = tokio::time::timeout_at(deadline, body.frame())
                    .await
                    .expect("events in time")
                    .expect("an open stream")
                    .unwrap();
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                    while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=i).collect();
                        events.push(serde_json::from_slice(&line).unwrap());
                    }
                }
            }
            events
        })
    }
}

/// A bootstrap token Secret as kubeadm writes it.
pub fn token_secret(
    id: &str,
    secret: &str,
    usages: &[&str],
    expiration: Option<&str>,
    extra_groups: Option<&str>,
) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("token-id".into(), id.into());
    data.insert("token-secret".into(), secret.into());
    for u in usages {
        data.insert(format!("usage-bootstrap-{u}"), "true".into());
    }
    if let Some(e) = expiration {
        data.insert("expiration".into(), e.into());
    }
    if let Some(g) = extra_groups {
        data.insert("auth-extra-groups".into(), g.into());
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": format!("bootstrap-token-{id}"), "namespace": "kube-system"},
        "type": "bootstrap.kubernetes.io/token",
        "stringData": data,
    })
}

/// A ClusterRoleBinding of `role` to a group.
pub fn bind_group(name: &str, role: &str, group: &str) -> Value {
    serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    })
}

pub const CRB: &str = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
pub const SECRETS: &str = "/api/v1/namespaces/kube-system/secrets";

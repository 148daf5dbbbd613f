//! A stand-in for kube-apiserver, for kubeadm-rs's tests: HTTPS with client-certificate,
//! bootstrap-token and anonymous authentication, RBAC from stored roles plus the bootstrap
//! policy, storage with the real object semantics (in memory, or kept in etcd as
//! kube-apiserver keeps it), patches, server-side apply,
//! watches, discovery, and the bootstrap signer and kubelet CSR approver/signer
//! controllers. It behaves like the real server on everything kubeadm touches; it is not
//! linked into the `kubeadm` binary.

pub mod auth;
pub mod controllers;
pub mod disruption;
pub mod etcd;
pub mod http;
pub mod patch;
pub mod policy;
pub mod rbac;
pub mod resources;
pub mod status;
pub mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use store::Store;

/// How to start the server (flag names as kube-apiserver's).
#[derive(Debug, Clone)]
pub struct Config {
    /// `--listen`: address and port (port 0 picks a free one).
    pub listen: SocketAddr,
    /// `--tls-cert-file`: the serving certificate (PEM, chain allowed).
    pub tls_cert_file: PathBuf,
    /// `--tls-private-key-file`: its key.
    pub tls_private_key_file: PathBuf,
    /// `--client-ca-file`: the CA client certificates must chain to.
    pub client_ca_file: PathBuf,
    /// `--signing-cert-file`: the CA the CSR signer signs with.
    pub signing_cert_file: Option<PathBuf>,
    /// `--signing-key-file`: its key.
    pub signing_key_file: Option<PathBuf>,
    /// `--data-dump`: a file the store is written to (JSON) after every change.
    pub data_dump: Option<PathBuf>,
    /// Whether the controllers run (`--disable-controllers` turns them off, as a cluster
    /// whose controller-manager is down).
    pub run_controllers: bool,
    /// Keep the objects in etcd (`--etcd-servers` and the other `--etcd-*` flags): loaded
    /// from there at start, every change written there before it is answered. `None`:
    /// in memory only, gone when the server stops.
    pub etcd: Option<etcd::EtcdConfig>,
}

/// What the request handlers share.
pub struct State {
    /// The objects.
    pub store: Store,
    /// The CSR signer's CA.
    pub signing_ca: Option<controllers::SigningCa>,
    /// `host:port` for discovery.
    pub address: String,
    data_dump: Option<PathBuf>,
    run_controllers: bool,
}

impl State {
    /// Runs the controllers and writes the dump after a change.
    pub fn after_change(&self) {
        if self.run_controllers {
            controllers::reconcile(&self.store, self.signing_ca.as_ref());
        }
        if let Some(path) = &self.data_dump {
            let text = serde_json::to_string_pretty(&self.store.dump()).expect("json");
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let blocks =
        pem::parse_many(read(path)?).with_context(|| format!("{}: not PEM", path.display()))?;
    Ok(blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.into_contents()))
        .collect())
}

fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let block = pem::parse(read(path)?).with_context(|| format!("{}: not PEM", path.display()))?;
    Ok(match block.tag() {
        "RSA PRIVATE KEY" => PrivateKeyDer::Pkcs1(block.into_contents().into()),
        "EC PRIVATE KEY" => PrivateKeyDer::Sec1(block.into_contents().into()),
        "PRIVATE KEY" => PrivateKeyDer::Pkcs8(block.into_contents().into()),
        other => anyhow::bail!("{}: unexpected PEM block {other:?}", path.display()),
    })
}

fn tls_config(cfg: &Config) -> anyhow::Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(&cfg.client_ca_file)? {
        roots.add(c).context("adding the client CA")?;
    }
    // Client certificates are optional: without one a request is anonymous or uses a token.
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .context("building the client certificate verifier")?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(&cfg.tls_cert_file)?,
            private_key(&cfg.tls_private_key_file)?,
        )
        .context("the serving certificate and key")?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

fn signing_ca(cfg: &Config) -> anyhow::Result<Option<controllers::SigningCa>> {
    match (&cfg.signing_cert_file, &cfg.signing_key_file) {
        (Some(c), Some(k)) => {
            let cert_pem =
                String::from_utf8(read(c)?).context("the signing certificate is not text")?;
            let block =
                pem::parse(read(k)?).with_context(|| format!("{}: not PEM", k.display()))?;
            let key = rcgen::KeyPair::try_from(block.contents())
                .with_context(|| format!("{}: not a usable private key", k.display()))?;
            Ok(Some(controllers::SigningCa { cert_pem, key }))
        }
        (None, None) => Ok(None),
        _ => anyhow::bail!("--signing-cert-file and --signing-key-file go together"),
    }
}

/// A running server.
pub struct TestApiServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApiServer {
    /// Starts the server on its own threads and returns once it listens.
    pub fn start(cfg: Config) -> anyhow::Result<Self> {
        let tls = Arc::new(tls_config(&cfg)?);
        let ca = signing_ca(&cfg)?;
        let store = match &cfg.etcd {
            Some(e) => Store::with_backing(etcd::Backing::connect(e)?)?,
            None => Store::new(),
        };
        let std_listener = std::net::TcpListener::bind(cfg.listen)
            .with_context(|| format!("listening on {}", cfg.listen))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let state = Arc::new(State {
            store,
            signing_ca: ca,
            address: addr.to_string(),
            data_dump: cfg.data_dump.clone(),
            run_controllers: cfg.run_controllers,
        });
        policy::seed(&state.store).map_err(|e| {
            anyhow::anyhow!(
                "storing the system namespaces and the bootstrap roles: {}",
                e.message
            )
        })?;
        state.after_change();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("testapiserver".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                rt.block_on(serve(std_listener, tls, st, rx));
            })?;
        Ok(TestApiServer {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://<addr>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The shared state (the store, for tests that look behind the API).
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Blocks until the server stops (for the binary).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    // Expirations (tokens) need the controllers to run without a change, too.
    let ticker_state = state.clone();
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            let s = ticker_state.clone();
            if !s.run_controllers {
                continue;
            }
            let _ = tokio::task::spawn_blocking(move || {
                controllers::reconcile(&s.store, s.signing_ca.as_ref())
            })
            .await;
        }
    });
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let user = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| auth::from_certificate(c));
            let svc = hyper::service::service_fn(move |req| {
                http::handle(state.clone(), user.clone(), req)
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
    ticker.abort();
}

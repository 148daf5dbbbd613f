//! The container runtime, over the CRI (`runtime.v1` gRPC on a UNIX socket): version and
//! status for preflight, images for `config images`, pod sandboxes and containers for
//! `reset`; and the detection of the runtime's socket among the known ones.

use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::host::Host;

/// containerd's socket.
pub const CONTAINERD_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";
/// CRI-O's socket.
pub const CRIO_SOCKET: &str = "unix:///var/run/crio/crio.sock";
/// cri-dockerd's socket.
pub const CRI_DOCKERD_SOCKET: &str = "unix:///var/run/cri-dockerd.sock";
/// The sockets kubeadm looks for, in upstream's order.
pub const KNOWN_SOCKETS: [&str; 3] = [CONTAINERD_SOCKET, CRIO_SOCKET, CRI_DOCKERD_SOCKET];

/// The socket path of an endpoint (`unix:///run/x.sock` or `/run/x.sock`).
pub fn socket_path(endpoint: &str) -> Result<PathBuf, CriError> {
    if let Some(p) = endpoint.strip_prefix("unix://") {
        return Ok(PathBuf::from(p));
    }
    if endpoint.starts_with('/') {
        return Ok(PathBuf::from(endpoint));
    }
    Err(CriError::Endpoint(endpoint.to_string()))
}

/// Finds the runtime's socket as upstream does: the one known socket that exists; the
/// containerd default when none does (so that a later step can say what is missing); an
/// error naming them all when several do.
pub fn detect_cri_socket(host: &dyn Host) -> Result<String, CriError> {
    let mut found = Vec::new();
    for s in KNOWN_SOCKETS {
        let path = socket_path(s)?;
        if matches!(host.metadata(&path), Ok(Some(m)) if m.is_socket) {
            found.push(s);
        }
    }
    match found.as_slice() {
        [] => Ok(CONTAINERD_SOCKET.to_string()),
        [one] => Ok(one.to_string()),
        many => Err(CriError::Multiple(many.join(", "))),
    }
}

/// A CRI failure, naming the endpoint and what to check.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// Not a UNIX socket endpoint.
    #[error("{0:?} is not a CRI endpoint; expected unix:///path/to/socket")]
    Endpoint(String),
    /// Several runtimes.
    #[error("found multiple CRI endpoints on the host. Please define which one do you wish to use by setting the 'criSocket' field in the kubeadm configuration file: {0}")]
    Multiple(String),
    /// The socket could not be reached.
    #[error("container runtime is not running: cannot connect to {endpoint}: {reason}; check that the runtime (for example 'systemctl status containerd') is running and that its CRI plugin is enabled")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// A call failed.
    #[error("{call} on {endpoint} failed: {status}")]
    Call {
        /// The CRI method.
        call: &'static str,
        /// The endpoint.
        endpoint: String,
        /// The gRPC status.
        status: String,
    },
    /// The async runtime could not start.
    #[error("starting the CRI client: {0}")]
    Io(#[from] std::io::Error),
}

/// What `Version` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeVersion {
    /// `containerd`, `cri-o`, ...
    pub runtime_name: String,
    /// The runtime's own version.
    pub runtime_version: String,
    /// The CRI version it speaks (`v1`).
    pub runtime_api_version: String,
}

/// One runtime condition from `Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `RuntimeReady`, `NetworkReady`, ...
    pub kind: String,
    /// Whether it holds.
    pub status: bool,
    /// Why not, when it does not.
    pub reason: String,
    /// Details.
    pub message: String,
}

/// A pod sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// Its id.
    pub id: String,
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// True while ready.
    pub ready: bool,
}

/// A blocking client of one runtime.
pub struct CriClient {
    rt: tokio::runtime::Runtime,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
    endpoint: String,
    timeout: Duration,
}

impl CriClient {
    /// Connects to `endpoint`, failing after `timeout`.
    pub fn connect(endpoint: &str, timeout: Duration) -> Result<Self, CriError> {
        let path = socket_path(endpoint)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let connect_err = |reason: String| CriError::Connect {
            endpoint: endpoint.to_string(),
            reason,
        };
        let channel = rt.block_on(async {
            let path = path.clone();
            let ep = Endpoint::try_from("http://[::]:50051")
                .map_err(|e| connect_err(e.to_string()))?
                .connect_timeout(timeout)
                .timeout(timeout);
            tokio::time::timeout(
                timeout,
                ep.connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(
                            tokio::net::UnixStream::connect(path).await?,
                        ))
                    }
                })),
            )
            .await
            .map_err(|_| connect_err(format!("no answer within {timeout:?}")))?
            .map_err(|e| connect_err(source_chain(&e)))
        })?;
        Ok(CriClient {
            rt,
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
            endpoint: endpoint.to_string(),
            timeout,
        })
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn block<T>(
        &self,
        name: &'static str,
        fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, CriError> {
        let timeout = self.timeout;
        let err = |status: String| CriError::Call {
            call: name,
            endpoint: self.endpoint.clone(),
            status,
        };
        self.rt
            .block_on(async { tokio::time::timeout(timeout, fut).await })
            .map_err(|_| err(format!("no answer within {timeout:?}")))?
            .map(tonic::Response::into_inner)
            .map_err(|s| err(format!("{:?}: {}", s.code(), s.message())))
    }

    /// `Version`.
    pub fn version(&mut self) -> Result<RuntimeVersion, CriError> {
        let mut r = self.runtime.clone();
        let v = self.block("Version", async move {
            r.version(cri::VersionRequest {
                version: "v1".into(),
            })
            .await
        })?;
        Ok(RuntimeVersion {
            runtime_name: v.runtime_name,
            runtime_version: v.runtime_version,
            runtime_api_version: v.runtime_api_version,
        })
    }

    /// `Status`: the runtime's conditions.
    pub fn status(&mut self) -> Result<Vec<Condition>, CriError> {
        let mut r = self.runtime.clone();
        let s = self.block("Status", async move {
            r.status(cri::StatusRequest { verbose: false }).await
        })?;
        Ok(s.status
            .map(|st| {
                st.conditions
                    .into_iter()
                    .map(|c| Condition {
                        kind: c.r#type,
                        status: c.status,
                        reason: c.reason,
                        message: c.message,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `ListImages`: every tag the runtime has.
    pub fn list_images(&mut self) -> Result<Vec<String>, CriError> {
        let mut i = self.images.clone();
        let l = self.block("ListImages", async move {
            i.list_images(cri::ListImagesRequest { filter: None }).await
        })?;
        Ok(l.images.into_iter().flat_map(|i| i.repo_tags).collect())
    }

    /// `ImageStatus`: true when the runtime has the image.
    pub fn image_exists(&mut self, image: &str) -> Result<bool, CriError> {
        let mut i = self.images.clone();
        let image = image.to_string();
        let s = self.block("ImageStatus", async move {
            i.image_status(cri::ImageStatusRequest {
                image: Some(cri::ImageSpec {
                    image,
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
        })?;
        Ok(s.image.is_some())
    }

    /// `PullImage`: returns the image reference.
    pub fn pull_image(&mut self, image: &str) -> Result<String, CriError> {
        let mut i = self.images.clone();
        let image = image.to_string();
        let r = self.block("PullImage", async move {
            i.pull_image(cri::PullImageRequest {
                image: Some(cri::ImageSpec {
                    image,
                    ..Default::default()
                }),
                auth: None,
                sandbox_config: None,
            })
            .await
        })?;
        Ok(r.image_ref)
    }

    /// `ListPodSandbox`.
    pub fn list_pod_sandboxes(&mut self) -> Result<Vec<Sandbox>, CriError> {
        let mut r = self.runtime.clone();
        let l = self.block("ListPodSandbox", async move {
            r.list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })
                .await
        })?;
        Ok(l.items
            .into_iter()
            .map(|s| {
                let meta = s.metadata.unwrap_or_default();
                Sandbox {
                    id: s.id,
                    name: meta.name,
                    namespace: meta.namespace,
                    ready: s.state == cri::PodSandboxState::SandboxReady as i32,
                }
            })
            .collect())
    }

    /// `RunPodSandbox` of a host-network sandbox (as static Pods of the control plane run):
    /// returns its id.
    pub fn run_pod_sandbox(
        &mut self,
        name: &str,
        namespace: &str,
        uid: &str,
    ) -> Result<String, CriError> {
        let mut r = self.runtime.clone();
        let config = cri::PodSandboxConfig {
            metadata: Some(cri::PodSandboxMetadata {
                name: name.to_string(),
                uid: uid.to_string(),
                namespace: namespace.to_string(),
                attempt: 0,
            }),
            hostname: String::new(),
            log_directory: String::new(),
            linux: Some(cri::LinuxPodSandboxConfig {
                security_context: Some(cri::LinuxSandboxSecurityContext {
                    namespace_options: Some(cri::NamespaceOption {
                        network: cri::NamespaceMode::Node as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let resp = self.block("RunPodSandbox", async move {
            r.run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            })
            .await
        })?;
        Ok(resp.pod_sandbox_id)
    }

    /// `StopPodSandbox`.
    pub fn stop_pod_sandbox(&mut self, id: &str) -> Result<(), CriError> {
        let mut r = self.runtime.clone();
        let pod_sandbox_id = id.to_string();
        self.block("StopPodSandbox", async move {
            r.stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id })
                .await
        })
        .map(|_| ())
    }

    /// `RemovePodSandbox`.
    pub fn remove_pod_sandbox(&mut self, id: &str) -> Result<(), CriError> {
        let mut r = self.runtime.clone();
        let pod_sandbox_id = id.to_string();
        self.block("RemovePodSandbox", async move {
            r.remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id })
                .await
        })
        .map(|_| ())
    }

    /// `ListContainers`: ids.
    pub fn list_containers(&mut self) -> Result<Vec<String>, CriError> {
        let mut r = self.runtime.clone();
        let l = self.block("ListContainers", async move {
            r.list_containers(cri::ListContainersRequest { filter: None })
                .await
        })?;
        Ok(l.containers.into_iter().map(|c| c.id).collect())
    }
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::RealHost;
    use std::path::Path;

    #[test]
    fn endpoints() {
        assert_eq!(
            socket_path("unix:///run/c.sock").unwrap(),
            Path::new("/run/c.sock")
        );
        assert_eq!(
            socket_path("/run/c.sock").unwrap(),
            Path::new("/run/c.sock")
        );
        assert!(socket_path("tcp://1.2.3.4:1").is_err());
    }

    #[test]
    fn detection_follows_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let host = RealHost::new(dir.path());
        assert_eq!(
            detect_cri_socket(&host).unwrap(),
            CONTAINERD_SOCKET,
            "none: the default"
        );
        let bind = |p: &str| {
            let path = dir.path().join(p.trim_start_matches("unix:///"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::os::unix::net::UnixListener::bind(path).unwrap()
        };
        let _crio = bind(CRIO_SOCKET);
        assert_eq!(detect_cri_socket(&host).unwrap(), CRIO_SOCKET);
        // A plain file is not a socket.
        std::fs::create_dir_all(dir.path().join("var/run/containerd")).unwrap();
        std::fs::write(dir.path().join("var/run/containerd/containerd.sock"), b"").unwrap();
        assert_eq!(detect_cri_socket(&host).unwrap(), CRIO_SOCKET);
        std::fs::remove_file(dir.path().join("var/run/containerd/containerd.sock")).unwrap();
        let _containerd = bind(CONTAINERD_SOCKET);
        let e = detect_cri_socket(&host).unwrap_err().to_string();
        assert_eq!(
            e,
            "found multiple CRI endpoints on the host. Please define which one do you wish to use by setting the 'criSocket' field in the kubeadm configuration file: unix:///var/run/containerd/containerd.sock, unix:///var/run/crio/crio.sock"
        );
    }

    #[test]
    fn a_dead_socket_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("dead.sock");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        let endpoint = format!("unix://{}", sock.display());
        let e = CriClient::connect(&endpoint, Duration::from_secs(2))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "container runtime is not running: cannot connect to {endpoint}"
            )),
            "{e}"
        );
        assert!(e.contains("systemctl status containerd"), "{e}");
    }
}

//! The container runtime, over the CRI (`runtime.v1` gRPC on a UNIX socket): version and
//! status for preflight, images for `config images`, pod sandboxes and containers for
//! `reset`; and the detection of the runtime's socket among the known ones.

use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::grpc;
use crate::host::Host;

pub mod api;

/// What the runtime says of the settings the kubelet must agree with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// `systemd` or `cgroupfs`, when known.
    pub cgroup_driver: Option<String>,
    /// The sandbox (pause) image it runs Pods with, when known.
    pub sandbox_image: Option<String>,
}
use api as cri;
use api::{image_service, runtime_service};

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

/// The configuration of a host-network pod sandbox, as the kubelet runs the control
/// plane's static Pods.
pub fn host_network_sandbox(
    name: &str,
    namespace: &str,
    uid: &str,
    labels: &[(&str, &str)],
) -> cri::PodSandboxConfig {
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: name.to_string(),
            uid: uid.to_string(),
            namespace: namespace.to_string(),
            attempt: 0,
        }),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: String::new(),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: cri::NamespaceMode::Node as i32,
                    ..Default::default()
                }),
            }),
        }),
        ..Default::default()
    }
}

/// A blocking client of one runtime.
pub struct CriClient {
    rt: tokio::runtime::Runtime,
    channel: Channel,
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
            .map_err(|e| connect_err(grpc::error_chain(&e)))
        })?;
        Ok(CriClient {
            rt,
            channel,
            endpoint: endpoint.to_string(),
            timeout,
        })
    }

    /// Connects to `endpoint` as the host sees it (under `--rootfs`, the socket inside the
    /// root); errors, then and later, name the endpoint as given.
    pub fn connect_on(
        host: &dyn Host,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<Self, CriError> {
        let local = host
            .socket_path(&socket_path(endpoint)?)
            .map_err(|e| CriError::Connect {
                endpoint: endpoint.to_string(),
                reason: e.cause_text(),
            })?;
        let local = format!("unix://{}", local.display());
        let mut client = Self::connect(&local, timeout).map_err(|e| match e {
            CriError::Connect { reason, .. } => CriError::Connect {
                endpoint: endpoint.to_string(),
                reason,
            },
            other => other,
        })?;
        client.endpoint = endpoint.to_string();
        Ok(client)
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// One call of `path`, bounded by the client's timeout.
    fn call<Req, Resp>(
        &self,
        name: &'static str,
        path: &'static str,
        req: Req,
    ) -> Result<Resp, CriError>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        self.call_status(name, path, req)?
            .map_err(|s| self.call_error(name, format!("{:?}: {}", s.code(), s.message())))
    }

    /// One call of `path`, bounded by the client's timeout, with the runtime's gRPC status
    /// when it refuses (the outer error is no answer in time).
    fn call_status<Req, Resp>(
        &self,
        name: &'static str,
        path: &'static str,
        req: Req,
    ) -> Result<Result<Resp, tonic::Status>, CriError>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let timeout = self.timeout;
        self.rt
            .block_on(async {
                tokio::time::timeout(timeout, grpc::unary(&self.channel, path, req)).await
            })
            .map_err(|_| self.call_error(name, format!("no answer within {timeout:?}")))
    }

    fn call_error(&self, call: &'static str, status: String) -> CriError {
        CriError::Call {
            call,
            endpoint: self.endpoint.clone(),
            status,
        }
    }

    /// Whether the runtime implements the `RuntimeConfig` call, through which the kubelet
    /// learns the cgroup driver (containerd 2.0 and later do; containerd 1.x answers
    /// `Unimplemented`).
    pub fn implements_runtime_config(&mut self) -> Result<bool, CriError> {
        match self.call_status::<_, cri::RuntimeConfigResponse>(
            "RuntimeConfig",
            runtime_service::RUNTIME_CONFIG,
            cri::Empty {},
        )? {
            Ok(_) => Ok(true),
            Err(s) if s.code() == tonic::Code::Unimplemented => Ok(false),
            Err(s) => {
                Err(self.call_error("RuntimeConfig", format!("{:?}: {}", s.code(), s.message())))
            }
        }
    }

    /// `Version`.
    pub fn version(&mut self) -> Result<RuntimeVersion, CriError> {
        let v: cri::VersionResponse = self.call(
            "Version",
            runtime_service::VERSION,
            cri::VersionRequest {
                version: "v1".into(),
            },
        )?;
        Ok(RuntimeVersion {
            runtime_name: v.runtime_name,
            runtime_version: v.runtime_version,
            runtime_api_version: v.runtime_api_version,
        })
    }

    /// `Status`: the runtime's conditions.
    pub fn status(&mut self) -> Result<Vec<Condition>, CriError> {
        let s: cri::StatusResponse = self.call(
            "Status",
            runtime_service::STATUS,
            cri::StatusRequest { verbose: false },
        )?;
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

    /// The runtime's cgroup driver (`systemd` or `cgroupfs`) and sandbox (pause) image, as
    /// far as it tells: the cgroup driver from `RuntimeConfig` where the runtime
    /// implements it, else (containerd) from its configuration in the verbose `Status`
    /// (`SystemdCgroup` of the default runtime); the sandbox image from that configuration.
    pub fn runtime_settings(&mut self) -> RuntimeSettings {
        let mut out = RuntimeSettings::default();
        if let Ok(r) = self.call::<_, cri::RuntimeConfigResponse>(
            "RuntimeConfig",
            runtime_service::RUNTIME_CONFIG,
            cri::Empty {},
        ) {
            out.cgroup_driver = r.linux.map(|l| {
                if l.cgroup_driver == 1 {
                    "cgroupfs"
                } else {
                    "systemd"
                }
                .to_string()
            });
        }
        let Ok(s) = self.call::<_, cri::StatusResponse>(
            "Status",
            runtime_service::STATUS,
            cri::StatusRequest { verbose: true },
        ) else {
            return out;
        };
        let Some(config) = s
            .info
            .get("config")
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        else {
            return out;
        };
        out.sandbox_image = config["sandboxImage"].as_str().map(String::from);
        if out.cgroup_driver.is_none() {
            let c = &config["containerd"];
            let default = c["defaultRuntimeName"].as_str().unwrap_or("runc");
            let runtime = &c["runtimes"][default];
            if runtime.is_object() {
                let systemd = runtime["options"]["SystemdCgroup"]
                    .as_bool()
                    .unwrap_or(false);
                out.cgroup_driver = Some(if systemd { "systemd" } else { "cgroupfs" }.into());
            }
        }
        out
    }

    /// `ListImages`: every tag the runtime has.
    pub fn list_images(&mut self) -> Result<Vec<String>, CriError> {
        let l: cri::ListImagesResponse = self.call(
            "ListImages",
            image_service::LIST_IMAGES,
            cri::ListImagesRequest { filter: None },
        )?;
        Ok(l.images.into_iter().flat_map(|i| i.repo_tags).collect())
    }

    /// `ImageStatus`: true when the runtime has the image.
    pub fn image_exists(&mut self, image: &str) -> Result<bool, CriError> {
        let s: cri::ImageStatusResponse = self.call(
            "ImageStatus",
            image_service::IMAGE_STATUS,
            cri::ImageStatusRequest {
                image: Some(cri::ImageSpec {
                    image: image.to_string(),
                }),
                verbose: false,
            },
        )?;
        Ok(s.image.is_some())
    }

    /// `PullImage`: returns the image reference.
    pub fn pull_image(&mut self, image: &str) -> Result<String, CriError> {
        let r: cri::PullImageResponse = self.call(
            "PullImage",
            image_service::PULL_IMAGE,
            cri::PullImageRequest {
                image: Some(cri::ImageSpec {
                    image: image.to_string(),
                }),
            },
        )?;
        Ok(r.image_ref)
    }

    /// `ListPodSandbox`: every sandbox the runtime has.
    pub fn list_pod_sandboxes(&mut self) -> Result<Vec<Sandbox>, CriError> {
        let l: cri::ListPodSandboxResponse = self.call(
            "ListPodSandbox",
            runtime_service::LIST_POD_SANDBOX,
            cri::ListPodSandboxRequest { filter: None },
        )?;
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

    /// `RunPodSandbox` of a host-network sandbox (as static Pods of the control plane run),
    /// with the labels given: returns its id.
    pub fn run_pod_sandbox(
        &mut self,
        name: &str,
        namespace: &str,
        uid: &str,
        labels: &[(&str, &str)],
    ) -> Result<String, CriError> {
        self.run_sandbox(host_network_sandbox(name, namespace, uid, labels))
    }

    /// `StopPodSandbox`.
    pub fn stop_pod_sandbox(&mut self, id: &str) -> Result<(), CriError> {
        self.call::<_, cri::Empty>(
            "StopPodSandbox",
            runtime_service::STOP_POD_SANDBOX,
            cri::PodSandboxIdRequest {
                pod_sandbox_id: id.to_string(),
            },
        )
        .map(|_| ())
    }

    /// `RemovePodSandbox`.
    pub fn remove_pod_sandbox(&mut self, id: &str) -> Result<(), CriError> {
        self.call::<_, cri::Empty>(
            "RemovePodSandbox",
            runtime_service::REMOVE_POD_SANDBOX,
            cri::PodSandboxIdRequest {
                pod_sandbox_id: id.to_string(),
            },
        )
        .map(|_| ())
    }

    /// `ListContainers` with these labels.
    pub fn containers_labeled(
        &mut self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<cri::Container>, CriError> {
        let l: cri::ListContainersResponse = self.call(
            "ListContainers",
            runtime_service::LIST_CONTAINERS,
            cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    label_selector: labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Default::default()
                }),
            },
        )?;
        Ok(l.containers)
    }

    /// `ContainerStatus`.
    pub fn container_status(&mut self, id: &str) -> Result<cri::ContainerStatus, CriError> {
        let r: cri::ContainerStatusResponse = self.call(
            "ContainerStatus",
            runtime_service::CONTAINER_STATUS,
            cri::ContainerIdRequest {
                container_id: id.to_string(),
            },
        )?;
        Ok(r.status.unwrap_or_default())
    }

    /// `CreateContainer` then `StartContainer`: returns the container's id.
    pub fn create_and_start(
        &mut self,
        sandbox_id: &str,
        sandbox: cri::PodSandboxConfig,
        config: cri::ContainerConfig,
    ) -> Result<String, CriError> {
        let r: cri::CreateContainerResponse = self.call(
            "CreateContainer",
            runtime_service::CREATE_CONTAINER,
            cri::CreateContainerRequest {
                pod_sandbox_id: sandbox_id.to_string(),
                config: Some(config),
                sandbox_config: Some(sandbox),
            },
        )?;
        self.call::<_, cri::Empty>(
            "StartContainer",
            runtime_service::START_CONTAINER,
            cri::ContainerIdRequest {
                container_id: r.container_id.clone(),
            },
        )?;
        Ok(r.container_id)
    }

    /// `RunPodSandbox` of a configuration made by the caller.
    pub fn run_sandbox(&mut self, config: cri::PodSandboxConfig) -> Result<String, CriError> {
        let resp: cri::RunPodSandboxResponse = self.call(
            "RunPodSandbox",
            runtime_service::RUN_POD_SANDBOX,
            cri::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            },
        )?;
        Ok(resp.pod_sandbox_id)
    }

    /// `ListContainers`: ids.
    pub fn list_containers(&mut self) -> Result<Vec<String>, CriError> {
        let l: cri::ListContainersResponse = self.call(
            "ListContainers",
            runtime_service::LIST_CONTAINERS,
            cri::ListContainersRequest { filter: None },
        )?;
        Ok(l.containers.into_iter().map(|c| c.id).collect())
    }
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

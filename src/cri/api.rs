//! The messages of the CRI `runtime.v1` API that kubeadm sends and reads, with the field
//! numbers of the CRI specification. Fields kubeadm does not use are left out: protobuf
//! decoding skips them, and leaving them out of a request means their default.

use std::collections::HashMap;

/// `runtime.v1.RuntimeService` method paths.
pub mod runtime_service {
    /// `Version`.
    pub const VERSION: &str = "/runtime.v1.RuntimeService/Version";
    /// `Status`.
    pub const STATUS: &str = "/runtime.v1.RuntimeService/Status";
    /// `RunPodSandbox`.
    pub const RUN_POD_SANDBOX: &str = "/runtime.v1.RuntimeService/RunPodSandbox";
    /// `StopPodSandbox`.
    pub const STOP_POD_SANDBOX: &str = "/runtime.v1.RuntimeService/StopPodSandbox";
    /// `RemovePodSandbox`.
    pub const REMOVE_POD_SANDBOX: &str = "/runtime.v1.RuntimeService/RemovePodSandbox";
    /// `ListPodSandbox`.
    pub const LIST_POD_SANDBOX: &str = "/runtime.v1.RuntimeService/ListPodSandbox";
    /// `ListContainers`.
    pub const LIST_CONTAINERS: &str = "/runtime.v1.RuntimeService/ListContainers";
    /// `RuntimeConfig`.
    pub const RUNTIME_CONFIG: &str = "/runtime.v1.RuntimeService/RuntimeConfig";
    /// `ContainerStatus`.
    pub const CONTAINER_STATUS: &str = "/runtime.v1.RuntimeService/ContainerStatus";
    /// `CreateContainer`.
    pub const CREATE_CONTAINER: &str = "/runtime.v1.RuntimeService/CreateContainer";
    /// `StartContainer`.
    pub const START_CONTAINER: &str = "/runtime.v1.RuntimeService/StartContainer";
}

/// `runtime.v1.ImageService` method paths.
pub mod image_service {
    /// `ListImages`.
    pub const LIST_IMAGES: &str = "/runtime.v1.ImageService/ListImages";
    /// `ImageStatus`.
    pub const IMAGE_STATUS: &str = "/runtime.v1.ImageService/ImageStatus";
    /// `PullImage`.
    pub const PULL_IMAGE: &str = "/runtime.v1.ImageService/PullImage";
}

/// `VersionRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VersionRequest {
    /// The CRI version the client speaks.
    #[prost(string, tag = "1")]
    pub version: String,
}

/// `VersionResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VersionResponse {
    /// The kubelet API version.
    #[prost(string, tag = "1")]
    pub version: String,
    /// `containerd`, `cri-o`, ...
    #[prost(string, tag = "2")]
    pub runtime_name: String,
    /// The runtime's own version.
    #[prost(string, tag = "3")]
    pub runtime_version: String,
    /// The CRI version the runtime speaks.
    #[prost(string, tag = "4")]
    pub runtime_api_version: String,
}

/// `StatusRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusRequest {
    /// Ask for extra information.
    #[prost(bool, tag = "1")]
    pub verbose: bool,
}

/// `StatusResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusResponse {
    /// The runtime's conditions.
    #[prost(message, optional, tag = "1")]
    pub status: Option<RuntimeStatus>,
    /// With `verbose`: the runtime's own information (containerd: its `config` as JSON).
    #[prost(map = "string, string", tag = "2")]
    pub info: HashMap<String, String>,
}

/// `RuntimeConfigResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RuntimeConfigResponse {
    /// Linux settings.
    #[prost(message, optional, tag = "1")]
    pub linux: Option<LinuxRuntimeConfiguration>,
}

/// `LinuxRuntimeConfiguration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxRuntimeConfiguration {
    /// `SYSTEMD` (0) or `CGROUPFS` (1).
    #[prost(int32, tag = "1")]
    pub cgroup_driver: i32,
}

/// `RuntimeStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RuntimeStatus {
    /// `RuntimeReady`, `NetworkReady`, ...
    #[prost(message, repeated, tag = "1")]
    pub conditions: Vec<RuntimeCondition>,
}

/// `RuntimeCondition`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RuntimeCondition {
    /// The condition's type.
    #[prost(string, tag = "1")]
    pub r#type: String,
    /// Whether it holds.
    #[prost(bool, tag = "2")]
    pub status: bool,
    /// Why not.
    #[prost(string, tag = "3")]
    pub reason: String,
    /// Details.
    #[prost(string, tag = "4")]
    pub message: String,
}

/// `ImageSpec`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageSpec {
    /// The image reference.
    #[prost(string, tag = "1")]
    pub image: String,
}

/// `ImageFilter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageFilter {
    /// Only this image.
    #[prost(message, optional, tag = "1")]
    pub image: Option<ImageSpec>,
}

/// `Image`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    /// Its id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Its tags.
    #[prost(string, repeated, tag = "2")]
    pub repo_tags: Vec<String>,
    /// Its digests.
    #[prost(string, repeated, tag = "3")]
    pub repo_digests: Vec<String>,
}

/// `ListImagesRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListImagesRequest {
    /// Which images.
    #[prost(message, optional, tag = "1")]
    pub filter: Option<ImageFilter>,
}

/// `ListImagesResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListImagesResponse {
    /// The images.
    #[prost(message, repeated, tag = "1")]
    pub images: Vec<Image>,
}

/// `ImageStatusRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageStatusRequest {
    /// The image.
    #[prost(message, optional, tag = "1")]
    pub image: Option<ImageSpec>,
    /// Ask for extra information.
    #[prost(bool, tag = "2")]
    pub verbose: bool,
}

/// `ImageStatusResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageStatusResponse {
    /// The image; absent when the runtime does not have it.
    #[prost(message, optional, tag = "1")]
    pub image: Option<Image>,
}

/// `PullImageRequest` (no registry credentials, no sandbox: as kubeadm pulls).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PullImageRequest {
    /// The image.
    #[prost(message, optional, tag = "1")]
    pub image: Option<ImageSpec>,
}

/// `PullImageResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PullImageResponse {
    /// The reference of the pulled image.
    #[prost(string, tag = "1")]
    pub image_ref: String,
}

/// `PodSandboxState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum PodSandboxState {
    /// `SANDBOX_READY`.
    SandboxReady = 0,
    /// `SANDBOX_NOTREADY`.
    SandboxNotready = 1,
}

/// `NamespaceMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum NamespaceMode {
    /// `POD`: the pod's own namespace.
    Pod = 0,
    /// `CONTAINER`.
    Container = 1,
    /// `NODE`: the host's namespace.
    Node = 2,
    /// `TARGET`.
    Target = 3,
}

/// `ContainerState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ContainerState {
    /// `CONTAINER_CREATED`.
    ContainerCreated = 0,
    /// `CONTAINER_RUNNING`.
    ContainerRunning = 1,
    /// `CONTAINER_EXITED`.
    ContainerExited = 2,
    /// `CONTAINER_UNKNOWN`.
    ContainerUnknown = 3,
}

/// `PodSandboxMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxMetadata {
    /// Pod name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Pod UID.
    #[prost(string, tag = "2")]
    pub uid: String,
    /// Pod namespace.
    #[prost(string, tag = "3")]
    pub namespace: String,
    /// Attempt number.
    #[prost(uint32, tag = "4")]
    pub attempt: u32,
}

/// `PodSandbox`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandbox {
    /// Its id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Its pod.
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<PodSandboxMetadata>,
    /// Ready or not.
    #[prost(enumeration = "PodSandboxState", tag = "3")]
    pub state: i32,
    /// Creation time, in nanoseconds.
    #[prost(int64, tag = "4")]
    pub created_at: i64,
    /// Labels (the kubelet's `io.kubernetes.pod.*`).
    #[prost(map = "string, string", tag = "5")]
    pub labels: HashMap<String, String>,
}

/// `PodSandboxStateValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxStateValue {
    /// The state.
    #[prost(enumeration = "PodSandboxState", tag = "1")]
    pub state: i32,
}

/// `PodSandboxFilter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxFilter {
    /// Only this id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Only this state.
    #[prost(message, optional, tag = "2")]
    pub state: Option<PodSandboxStateValue>,
    /// Only these labels.
    #[prost(map = "string, string", tag = "3")]
    pub label_selector: HashMap<String, String>,
}

/// `ListPodSandboxRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListPodSandboxRequest {
    /// Which sandboxes.
    #[prost(message, optional, tag = "1")]
    pub filter: Option<PodSandboxFilter>,
}

/// `ListPodSandboxResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListPodSandboxResponse {
    /// The sandboxes.
    #[prost(message, repeated, tag = "1")]
    pub items: Vec<PodSandbox>,
}

/// `NamespaceOption`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceOption {
    /// Network namespace.
    #[prost(enumeration = "NamespaceMode", tag = "1")]
    pub network: i32,
    /// PID namespace.
    #[prost(enumeration = "NamespaceMode", tag = "2")]
    pub pid: i32,
    /// IPC namespace.
    #[prost(enumeration = "NamespaceMode", tag = "3")]
    pub ipc: i32,
}

/// `LinuxSandboxSecurityContext`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxSandboxSecurityContext {
    /// Namespaces.
    #[prost(message, optional, tag = "1")]
    pub namespace_options: Option<NamespaceOption>,
}

/// `LinuxPodSandboxConfig`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxPodSandboxConfig {
    /// The cgroup parent.
    #[prost(string, tag = "1")]
    pub cgroup_parent: String,
    /// Security context.
    #[prost(message, optional, tag = "2")]
    pub security_context: Option<LinuxSandboxSecurityContext>,
}

/// `PodSandboxConfig`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxConfig {
    /// Its pod.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<PodSandboxMetadata>,
    /// Host name.
    #[prost(string, tag = "2")]
    pub hostname: String,
    /// Log directory.
    #[prost(string, tag = "3")]
    pub log_directory: String,
    /// Labels.
    #[prost(map = "string, string", tag = "6")]
    pub labels: HashMap<String, String>,
    /// Annotations.
    #[prost(map = "string, string", tag = "7")]
    pub annotations: HashMap<String, String>,
    /// Linux settings.
    #[prost(message, optional, tag = "8")]
    pub linux: Option<LinuxPodSandboxConfig>,
}

/// `RunPodSandboxRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RunPodSandboxRequest {
    /// The sandbox.
    #[prost(message, optional, tag = "1")]
    pub config: Option<PodSandboxConfig>,
    /// The runtime handler; empty for the default.
    #[prost(string, tag = "2")]
    pub runtime_handler: String,
}

/// `RunPodSandboxResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RunPodSandboxResponse {
    /// The new sandbox's id.
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
}

/// `StopPodSandboxRequest` and `RemovePodSandboxRequest`, which have the same one field.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxIdRequest {
    /// The sandbox.
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
}

/// An answer with no field kubeadm reads (`StopPodSandboxResponse`, ...).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

/// `ContainerMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerMetadata {
    /// The container's name in its pod.
    #[prost(string, tag = "1")]
    pub name: String,
    /// How many times it has been restarted.
    #[prost(uint32, tag = "2")]
    pub attempt: u32,
}

/// `Container`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Container {
    /// Its id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Its pod sandbox.
    #[prost(string, tag = "2")]
    pub pod_sandbox_id: String,
    /// Name and attempt.
    #[prost(message, optional, tag = "3")]
    pub metadata: Option<ContainerMetadata>,
    /// Its image.
    #[prost(message, optional, tag = "4")]
    pub image: Option<ImageSpec>,
    /// Created, running, exited.
    #[prost(enumeration = "ContainerState", tag = "6")]
    pub state: i32,
    /// Labels (the kubelet's `io.kubernetes.*`).
    #[prost(map = "string, string", tag = "8")]
    pub labels: HashMap<String, String>,
}

/// `ContainerFilter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerFilter {
    /// Only this id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Only this sandbox's containers.
    #[prost(string, tag = "3")]
    pub pod_sandbox_id: String,
    /// Only these labels.
    #[prost(map = "string, string", tag = "4")]
    pub label_selector: HashMap<String, String>,
}

/// `ListContainersRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListContainersRequest {
    /// Which containers.
    #[prost(message, optional, tag = "1")]
    pub filter: Option<ContainerFilter>,
}

/// `ListContainersResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListContainersResponse {
    /// The containers.
    #[prost(message, repeated, tag = "1")]
    pub containers: Vec<Container>,
}

/// `ContainerConfig` (what kubeadm's tests start containers with).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerConfig {
    /// Name and attempt.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ContainerMetadata>,
    /// Image.
    #[prost(message, optional, tag = "2")]
    pub image: Option<ImageSpec>,
    /// Command.
    #[prost(string, repeated, tag = "3")]
    pub command: Vec<String>,
    /// Arguments.
    #[prost(string, repeated, tag = "4")]
    pub args: Vec<String>,
    /// Labels.
    #[prost(map = "string, string", tag = "9")]
    pub labels: HashMap<String, String>,
    /// Log file, relative to the sandbox's log directory.
    #[prost(string, tag = "11")]
    pub log_path: String,
}

/// `CreateContainerRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateContainerRequest {
    /// The sandbox.
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
    /// The container.
    #[prost(message, optional, tag = "2")]
    pub config: Option<ContainerConfig>,
    /// The sandbox's configuration.
    #[prost(message, optional, tag = "3")]
    pub sandbox_config: Option<PodSandboxConfig>,
}

/// `CreateContainerResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateContainerResponse {
    /// Its id.
    #[prost(string, tag = "1")]
    pub container_id: String,
}

/// `StartContainerRequest`, `ContainerStatusRequest` (without `verbose`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerIdRequest {
    /// The container.
    #[prost(string, tag = "1")]
    pub container_id: String,
}

/// `ContainerStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerStatus {
    /// Its id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Name and attempt.
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<ContainerMetadata>,
    /// Created, running, exited.
    #[prost(enumeration = "ContainerState", tag = "3")]
    pub state: i32,
    /// When it ended (nanoseconds since the epoch).
    #[prost(int64, tag = "6")]
    pub finished_at: i64,
    /// Its exit code.
    #[prost(int32, tag = "7")]
    pub exit_code: i32,
    /// Why it is in its state (`Error`, `OOMKilled`, ...).
    #[prost(string, tag = "10")]
    pub reason: String,
    /// A message about it.
    #[prost(string, tag = "11")]
    pub message: String,
    /// Its log file on the host.
    #[prost(string, tag = "15")]
    pub log_path: String,
}

/// `ContainerStatusResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerStatusResponse {
    /// The status.
    #[prost(message, optional, tag = "1")]
    pub status: Option<ContainerStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The wire bytes of a request, checked by hand against the CRI field numbers: a
    /// wrong tag here would be a silent protocol error against a real runtime.
    #[test]
    fn run_pod_sandbox_encodes_with_the_spec_field_numbers() {
        let req = RunPodSandboxRequest {
            config: Some(PodSandboxConfig {
                metadata: Some(PodSandboxMetadata {
                    name: "a".into(),
                    uid: "u".into(),
                    namespace: "n".into(),
                    attempt: 1,
                }),
                linux: Some(LinuxPodSandboxConfig {
                    cgroup_parent: String::new(),
                    security_context: Some(LinuxSandboxSecurityContext {
                        namespace_options: Some(NamespaceOption {
                            network: NamespaceMode::Node as i32,
                            ..Default::default()
                        }),
                    }),
                }),
                ..Default::default()
            }),
            runtime_handler: "h".into(),
        };
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x0a, 21,                 // 1: config
              0x0a, 11,               //   1: metadata
                0x0a, 1, b'a',        //     1: name
                0x12, 1, b'u',        //     2: uid
                0x1a, 1, b'n',        //     3: namespace
                0x20, 1,              //     4: attempt
              0x42, 6,                //   8: linux
                0x12, 4,              //     2: security_context
                  0x0a, 2,            //       1: namespace_options
                    0x08, 2,          //         1: network = NODE
            0x12, 1, b'h',            // 2: runtime_handler
        ];
        assert_eq!(req.encode_to_vec(), want);
        assert_eq!(RunPodSandboxRequest::decode(want).unwrap(), req);
    }

    #[test]
    fn unknown_fields_of_an_answer_are_skipped() {
        // A PodSandbox with a field kubeadm does not model (7: runtime_handler) between
        // the ones it does.
        #[rustfmt::skip]
        let wire: &[u8] = &[
            0x0a, 2, b'i', b'd',      // 1: id
            0x18, 1,                  // 3: state = NOTREADY
            0x3a, 2, b'r', b'c',      // 7: runtime_handler (unknown here)
            0x2a, 6,                  // 5: labels entry
              0x0a, 1, b'k', 0x12, 1, b'v',
        ];
        let s = PodSandbox::decode(wire).unwrap();
        assert_eq!(s.id, "id");
        assert_eq!(s.state, PodSandboxState::SandboxNotready as i32);
        assert_eq!(s.labels.get("k").map(String::as_str), Some("v"));
    }
}

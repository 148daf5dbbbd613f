//! Every side effect kubeadm has on the machine goes through the [`Host`] trait.
//!
//! Phases speak in host paths (`/etc/kubernetes/pki/ca.crt`); a host maps them under its root.
//! [`RealHost`] acts on the machine (rooted at `/` or at `--rootfs`), [`DryRunHost`] records
//! every change and writes files under a scratch directory instead, so neither dry runs nor
//! tests need special cases in the phases.
//!
//! Every file a host reads is bounded: only regular files are read (a FIFO, device or
//! directory is an error naming the path, and opening one never blocks), and at most
//! [`MAX_FILE_SIZE`] bytes of it.

mod atomic;
mod dryrun;
mod real;

pub use atomic::{write_atomic, write_atomic_with};
pub use dryrun::DryRunHost;
pub use real::RealHost;

use std::fs;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Component, Path, PathBuf};

/// The most bytes kubeadm reads from one file: thousands of times the largest file it
/// has a use for (configurations, patches, kubeconfigs, certificates and keys are a few
/// kilobytes; an object in the cluster is at most 1.5 MiB), so that `--config /dev/zero`
/// or a mistaken multi-gigabyte file is refused at once instead of filling the memory.
pub const MAX_FILE_SIZE: u64 = 8 << 20;

/// A failure of one host operation, always naming the path or command involved.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A file system operation failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The host path (as the phase named it, not the rooted one).
        path: PathBuf,
        /// What the operating system said.
        error: io::Error,
    },
    /// A path that is not a regular file, or one larger than [`MAX_FILE_SIZE`], where
    /// kubeadm reads a file.
    #[error("{}: {reason}", path.display())]
    Unreadable {
        /// The host path.
        path: PathBuf,
        /// What is wrong with it, and what kubeadm wants instead.
        reason: String,
    },
    /// A command could not be started.
    #[error("running {command}: {error}")]
    Spawn {
        /// The command line.
        command: String,
        /// What the operating system said.
        error: io::Error,
    },
}

impl HostError {
    fn io(path: &Path, error: io::Error) -> Self {
        HostError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    /// What went wrong, without the path (for messages that name the path themselves).
    pub fn cause_text(&self) -> String {
        match self {
            HostError::Io { error, .. } | HostError::Spawn { error, .. } => error.to_string(),
            HostError::Unreadable { reason, .. } => reason.clone(),
        }
    }

    /// True when the error is a missing file or directory.
    pub fn is_not_found(&self) -> bool {
        matches!(self, HostError::Io { error, .. } if error.kind() == io::ErrorKind::NotFound)
    }
}

/// Holds the node's kubeadm lock while alive.
#[derive(Debug)]
pub struct LockGuard(#[allow(dead_code)] Option<fs::File>);

/// The outcome of [`Host::try_lock`].
#[derive(Debug)]
pub enum Lock {
    /// This process holds the lock.
    Acquired(LockGuard),
    /// Another process holds it; its PID when it wrote one.
    HeldBy(Option<u32>),
}

/// Whether a file's content may be shown (in dry-run reports, diffs, logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    /// Certificates, manifests, configuration: shown in full.
    Public,
    /// Private keys, kubeconfigs with embedded keys, token files: never shown.
    Secret,
}

/// What a file or directory on the host looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Permission bits (`0o600`, ...).
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// True for a directory.
    pub is_dir: bool,
    /// True for a UNIX socket.
    pub is_socket: bool,
}

/// A command to run on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCommand {
    /// Program name or path.
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
    /// True when running it changes the machine (restarting a service); a dry run records
    /// such commands instead of running them, and runs read-only ones (`kubelet --version`).
    pub mutates: bool,
}

impl HostCommand {
    /// A command that only reads the state of the machine.
    pub fn read_only(program: &str, args: &[&str]) -> Self {
        Self::new(program, args, false)
    }

    /// A command that changes the machine.
    pub fn mutating(program: &str, args: &[&str]) -> Self {
        Self::new(program, args, true)
    }

    fn new(program: &str, args: &[&str], mutates: bool) -> Self {
        HostCommand {
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            mutates,
        }
    }
}

impl std::fmt::Display for HostCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.program)?;
        for a in &self.args {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// What a finished command returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code; -1 when killed by a signal.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CommandOutput {
    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

/// One change a host made (or, in a dry run, would make).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAction {
    /// A file written atomically.
    WriteFile {
        /// Host path.
        path: PathBuf,
        /// Permission bits.
        mode: u32,
        /// Content length.
        size: u64,
        /// Whether the content may be shown.
        sensitivity: Sensitivity,
    },
    /// A directory created (with its parents).
    CreateDir {
        /// Host path.
        path: PathBuf,
        /// Permission bits.
        mode: u32,
    },
    /// A file removed.
    RemoveFile {
        /// Host path.
        path: PathBuf,
    },
    /// A directory removed with its content.
    RemoveDir {
        /// Host path.
        path: PathBuf,
    },
    /// A command that changes the machine.
    Run {
        /// The command.
        command: HostCommand,
    },
    /// A file system unmounted.
    Unmount {
        /// Host path of the mount point.
        path: PathBuf,
        /// `umount2` flags.
        flags: i32,
    },
}

/// The machine kubeadm works on. All paths are host paths, absolute.
pub trait Host: Send + Sync {
    /// Reads a whole file.
    fn read(&self, path: &Path) -> Result<Vec<u8>, HostError>;
    /// Describes a path, or `None` when nothing is there.
    fn metadata(&self, path: &Path) -> Result<Option<FileMeta>, HostError>;
    /// Names of the entries of a directory, sorted.
    fn read_dir(&self, path: &Path) -> Result<Vec<String>, HostError>;
    /// Writes a file atomically with the given mode, creating missing parent directories
    /// (mode 0755 as upstream's `os.MkdirAll` callers do for `/etc/kubernetes`).
    fn write_file(
        &self,
        path: &Path,
        contents: &[u8],
        mode: u32,
        sensitivity: Sensitivity,
    ) -> Result<(), HostError>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path, mode: u32) -> Result<(), HostError>;
    /// Removes a file; a missing file is not an error.
    fn remove_file(&self, path: &Path) -> Result<(), HostError>;
    /// Removes a directory and everything in it; a missing directory is not an error.
    fn remove_dir_all(&self, path: &Path) -> Result<(), HostError>;
    /// Runs a command to completion.
    fn run(&self, command: &HostCommand) -> Result<CommandOutput, HostError>;
    /// True when something already listens on (or holds) the address.
    fn port_in_use(&self, addr: SocketAddr) -> bool;
    /// Why a TCP listener cannot be opened at the address, if it cannot: the port taken
    /// (`AddrInUse`) or the address not one of this machine's (`AddrNotAvailable`). By
    /// default, what [`Host::port_in_use`] says.
    fn listen_error(&self, addr: SocketAddr) -> Option<io::Error> {
        self.port_in_use(addr)
            .then(|| io::ErrorKind::AddrInUse.into())
    }
    /// The machine's host name as the kernel reports it.
    fn hostname(&self) -> Result<String, HostError>;
    /// True when running with an effective user id of 0.
    fn is_privileged(&self) -> bool;
    /// The addresses of the machine's network interfaces, as (interface name, address).
    fn interface_addresses(&self) -> Vec<(String, IpAddr)>;
    /// The mount points strictly under a directory (symbolic links in its path followed,
    /// as upstream evaluates the kubelet directory), as host paths under `dir`, in the
    /// order the kernel lists them (a parent before what is mounted on top of it).
    fn mounts_under(&self, dir: &Path) -> Result<Vec<PathBuf>, HostError>;
    /// Unmounts the file system mounted at a host path, with `umount2` flags.
    fn unmount(&self, path: &Path, flags: i32) -> Result<(), HostError>;
    /// A path this process can connect to for the UNIX socket at a host path (a CRI
    /// socket): under `--rootfs`, the socket as found inside the root, never outside it.
    fn socket_path(&self, path: &Path) -> Result<PathBuf, HostError> {
        Ok(path.to_path_buf())
    }

    /// True when the path itself (not what it points to) is a symbolic link.
    fn is_symlink(&self, path: &Path) -> Result<bool, HostError>;

    /// The addresses a host name resolves to (system resolver).
    fn lookup_host(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        use std::net::ToSocketAddrs;
        Ok((name, 0u16).to_socket_addrs()?.map(|a| a.ip()).collect())
    }

    /// The changes made so far, in order (empty for a host that does not record).
    fn actions(&self) -> Vec<HostAction> {
        Vec::new()
    }

    /// Takes the node's exclusive kubeadm lock at `path` without waiting: held until the
    /// returned guard is dropped (or the process ends, however it ends). A host that does
    /// not change the machine (a dry run, a test host) has nothing to guard.
    fn try_lock(&self, _path: &Path) -> Result<Lock, HostError> {
        Ok(Lock::Acquired(LockGuard(None)))
    }

    /// Reads a whole file as UTF-8.
    fn read_to_string(&self, path: &Path) -> Result<String, HostError> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|e| {
            HostError::io(
                path,
                io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
            )
        })
    }

    /// True when something exists at the path.
    fn exists(&self, path: &Path) -> Result<bool, HostError> {
        Ok(self.metadata(path)?.is_some())
    }

    /// Reads a kernel parameter such as `net.ipv4.ip_forward` from `/proc/sys`.
    fn sysctl(&self, key: &str) -> Result<String, HostError> {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        Ok(self.read_to_string(&path)?.trim().to_string())
    }

    /// Runs `systemctl <action> <unit>`; actions that change state are recorded in dry runs.
    fn systemctl(&self, action: &str, unit: &str) -> Result<CommandOutput, HostError> {
        let read_only = matches!(action, "is-active" | "is-enabled" | "status" | "show");
        let cmd = HostCommand::new("systemctl", &[action, unit], !read_only);
        self.run(&cmd)
    }

    /// Finds an executable on `PATH` (under the host's root).
    fn find_executable(&self, name: &str) -> Option<PathBuf> {
        let path_var = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
        path_var
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(name))
            .find(|p| matches!(self.metadata(p), Ok(Some(m)) if !m.is_dir && m.mode & 0o111 != 0))
    }
}

/// Joins a host path under a root directory, refusing to escape it with `..`.
pub fn rooted(root: &Path, path: &Path) -> PathBuf {
    let mut out = root.to_path_buf();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                if out != root {
                    out.pop();
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Reads an open file as [`Host::read`] promises: only a regular file, and at most
/// [`MAX_FILE_SIZE`] bytes; `path` names it in errors.
pub(crate) fn read_bounded(mut file: fs::File, path: &Path) -> Result<Vec<u8>, HostError> {
    let meta = file.metadata().map_err(|e| HostError::io(path, e))?;
    if !meta.is_file() {
        return Err(HostError::Unreadable {
            path: path.to_path_buf(),
            reason: format!(
                "is {}, not a regular file; kubeadm reads only regular files",
                file_kind(&meta.file_type())
            ),
        });
    }
    let too_big = || HostError::Unreadable {
        path: path.to_path_buf(),
        reason: format!(
            "larger than {} MiB, the most kubeadm reads from one file; is it the right file?",
            MAX_FILE_SIZE >> 20
        ),
    };
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_big());
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    // The size can change while reading, and files of /proc report none: read one byte
    // past the limit to know.
    (&mut file)
        .take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut out)
        .map_err(|e| HostError::io(path, e))?;
    if out.len() as u64 > MAX_FILE_SIZE {
        return Err(too_big());
    }
    Ok(out)
}

/// A file type in words, for errors.
fn file_kind(t: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

//! Every side effect kubeadm has on the machine goes through the [`Host`] trait.
//!
//! Phases speak in host paths (`/etc/kubernetes/pki/ca.crt`); a host maps them under its root.
//! [`RealHost`] acts on the machine (rooted at `/` or at `--rootfs`), [`DryRunHost`] records
//! every change and writes files under a scratch directory instead, so neither dry runs nor
//! tests need special cases in the phases.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Where a host path is on the machine this process runs on (under `--rootfs`, for
    /// example), for the few things that must be opened directly, such as a CRI socket.
    fn local_path(&self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }

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

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `path` so that readers see either the old file or the whole new one, never a part:
/// the content goes to a temporary file in the same directory, is flushed to disk, gets its
/// mode, and is renamed over the target; the directory is then synced so the rename survives
/// a crash. `fill` writes the content; if it fails, the temporary file is removed and the
/// target is untouched.
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    remove_stale_temporaries(dir, &prefix);
    let tmp = dir.join(format!(
        "{prefix}{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have cleared bits of `mode`; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        fill(&mut file)?;
        file.flush()?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes the temporary files a killed kubeadm left beside `dir/<name>` (named
/// `.<name>.tmp-<pid>-<n>`, whose process no longer exists), so an interrupted run
/// leaves nothing behind once the file is written again.
fn remove_stale_temporaries(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let gone = pid != std::process::id() as i32
            && unsafe { libc::kill(pid, 0) } != 0
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// [`write_atomic_with`] for content already in memory.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    write_atomic_with(path, mode, |f| f.write_all(contents))
}

fn create_dirs(path: &Path, mode: u32) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
}

fn meta_of(path: &Path) -> io::Result<Option<FileMeta>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(FileMeta {
            mode: m.permissions().mode() & 0o7777,
            size: m.len(),
            is_dir: m.is_dir(),
            is_socket: std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()),
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// The machine itself, with files under `root` (`/`, or upstream's `--rootfs`).
#[derive(Debug, Clone)]
pub struct RealHost {
    root: PathBuf,
    kernel_rooted: bool,
}

impl RealHost {
    /// A host whose files live under `root`; `/proc` and `/sys` stay the running kernel's.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RealHost {
            root: root.into(),
            kernel_rooted: false,
        }
    }

    /// A host whose every path, `/proc` and `/sys` included, lives under `root`: a machine
    /// made of files, for tests.
    pub fn fully_rooted(root: impl Into<PathBuf>) -> Self {
        RealHost {
            root: root.into(),
            kernel_rooted: true,
        }
    }

    /// Where a host path lives on this machine. A relative path (one the user gave, such
    /// as `--config k.yaml`) starts at the working directory, or under `--rootfs` at the
    /// root's `/`, as upstream, which changes root and then directory to `/` first.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_relative() && self.root == Path::new("/") {
            return path.to_path_buf();
        }
        if !self.kernel_rooted && (path.starts_with("/proc") || path.starts_with("/sys")) {
            return path.to_path_buf();
        }
        rooted(&self.root, path)
    }
}

impl Host for RealHost {
    fn read(&self, path: &Path) -> Result<Vec<u8>, HostError> {
        fs::read(self.resolve(path)).map_err(|e| HostError::io(path, e))
    }

    fn metadata(&self, path: &Path) -> Result<Option<FileMeta>, HostError> {
        meta_of(&self.resolve(path)).map_err(|e| HostError::io(path, e))
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<String>, HostError> {
        let mut names = fs::read_dir(self.resolve(path))
            .and_then(|it| {
                it.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect::<io::Result<Vec<_>>>()
            })
            .map_err(|e| HostError::io(path, e))?;
        names.sort();
        Ok(names)
    }

    fn write_file(
        &self,
        path: &Path,
        contents: &[u8],
        mode: u32,
        _sensitivity: Sensitivity,
    ) -> Result<(), HostError> {
        let target = self.resolve(path);
        if let Some(parent) = target.parent() {
            create_dirs(parent, 0o755).map_err(|e| HostError::io(path, e))?;
        }
        write_atomic(&target, contents, mode).map_err(|e| HostError::io(path, e))
    }

    fn create_dir_all(&self, path: &Path, mode: u32) -> Result<(), HostError> {
        create_dirs(&self.resolve(path), mode).map_err(|e| HostError::io(path, e))
    }

    fn remove_file(&self, path: &Path) -> Result<(), HostError> {
        ignore_missing(fs::remove_file(self.resolve(path))).map_err(|e| HostError::io(path, e))
    }

    fn remove_dir_all(&self, path: &Path) -> Result<(), HostError> {
        ignore_missing(fs::remove_dir_all(self.resolve(path))).map_err(|e| HostError::io(path, e))
    }

    fn run(&self, command: &HostCommand) -> Result<CommandOutput, HostError> {
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        let program = look_path(&command.program, &path_var).ok_or_else(|| HostError::Spawn {
            command: command.to_string(),
            error: io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} not found in PATH", command.program),
            ),
        })?;
        let out = Command::new(program)
            .args(&command.args)
            .output()
            .map_err(|error| HostError::Spawn {
                command: command.to_string(),
                error,
            })?;
        Ok(CommandOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn port_in_use(&self, addr: SocketAddr) -> bool {
        TcpListener::bind(addr).is_err()
    }

    fn hostname(&self) -> Result<String, HostError> {
        let path = Path::new("/proc/sys/kernel/hostname");
        fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| HostError::io(path, e))
    }

    fn is_privileged(&self) -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    fn interface_addresses(&self) -> Vec<(String, IpAddr)> {
        interface_addresses()
    }

    fn mounts_under(&self, dir: &Path) -> Result<Vec<PathBuf>, HostError> {
        let local = fs::canonicalize(self.resolve(dir)).map_err(|e| HostError::io(dir, e))?;
        let table = Path::new("/proc/self/mountinfo");
        let text = fs::read_to_string(table).map_err(|e| HostError::io(table, e))?;
        Ok(mount_points(&text)
            .into_iter()
            .filter_map(|m| {
                let rel = m.strip_prefix(&local).ok()?;
                (!rel.as_os_str().is_empty()).then(|| dir.join(rel))
            })
            .collect())
    }

    fn unmount(&self, path: &Path, flags: i32) -> Result<(), HostError> {
        use std::os::unix::ffi::OsStrExt;
        let target = self.resolve(path);
        let c = std::ffi::CString::new(target.as_os_str().as_bytes())
            .map_err(|e| HostError::io(path, io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        // SAFETY: umount2 reads a NUL-terminated path that lives across the call.
        if unsafe { libc::umount2(c.as_ptr(), flags) } != 0 {
            return Err(HostError::io(path, io::Error::last_os_error()));
        }
        Ok(())
    }

    fn local_path(&self, path: &Path) -> PathBuf {
        self.resolve(path)
    }

    fn try_lock(&self, path: &Path) -> Result<Lock, HostError> {
        use std::io::{Read, Seek, Write};
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let local = self.resolve(path);
        if let Some(dir) = local.parent() {
            fs::create_dir_all(dir).map_err(|e| HostError::io(path, e))?;
        }
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC)
            .open(&local)
            .map_err(|e| HostError::io(path, e))?;
        // flock: released by the kernel when the descriptor closes, so a killed kubeadm
        // never leaves the node locked.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Ok(Lock::HeldBy(text.trim().parse().ok()));
            }
            return Err(HostError::io(path, e));
        }
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(format!("{pid}\n").as_bytes()))
            .map_err(|e| HostError::io(path, e))?;
        Ok(Lock::Acquired(LockGuard(Some(file))))
    }
}

/// Where a program named without a slash is found on `path_var`, as Go's `exec.LookPath`:
/// the first regular file with an execute bit, skipping entries that cannot be read, so
/// that an unreadable directory early in `PATH` reads as "not found", not as the
/// permission error the operating system's own search would report.
fn look_path(program: &str, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::split_paths(path_var)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(program))
        .find(|p| {
            fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// The mount points of a `/proc/self/mountinfo` table (its fifth field, with the kernel's
/// octal escapes of space, tab, newline and backslash decoded), in table order.
fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| {
            let b = field.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                let octal = b
                    .get(i + 1..i + 4)
                    .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
                match (b[i], octal) {
                    (b'\\', Some(d)) => {
                        out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                        i += 4;
                    }
                    (c, _) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            PathBuf::from(std::ffi::OsString::from_vec(out))
        })
        .collect()
}

/// Lists the machine's interface addresses with `getifaddrs`.
fn interface_addresses() -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with freeifaddrs; every
    // pointer is checked for null before use and the sockaddr is read per its family.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let ifa = &*cur;
            if !ifa.ifa_addr.is_null() && !ifa.ifa_name.is_null() {
                let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                    .to_string_lossy()
                    .into_owned();
                match (*ifa.ifa_addr).sa_family as i32 {
                    libc::AF_INET => {
                        let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                        let ip = Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
                        out.push((name, IpAddr::V4(ip)));
                    }
                    libc::AF_INET6 => {
                        let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                        out.push((name, IpAddr::V6(Ipv6Addr::from(sa.sin6_addr.s6_addr))));
                    }
                    _ => {}
                }
            }
            cur = ifa.ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// A host for `--dry-run`: reads come from the machine (or from what the dry run itself
/// wrote), every change is recorded, files are written under a scratch directory, and
/// commands that change the machine are recorded but not run.
pub struct DryRunHost {
    base: Arc<dyn Host>,
    scratch: RealHost,
    scratch_dir: PathBuf,
    state: Mutex<DryRunState>,
}

#[derive(Default)]
struct DryRunState {
    actions: Vec<HostAction>,
    removed: BTreeSet<PathBuf>,
}

impl DryRunHost {
    /// A dry-run view of `base` that writes files under `scratch_dir`.
    pub fn new(base: Arc<dyn Host>, scratch_dir: impl Into<PathBuf>) -> Self {
        let scratch_dir = scratch_dir.into();
        DryRunHost {
            base,
            scratch: RealHost::new(&scratch_dir),
            scratch_dir,
            state: Mutex::new(DryRunState::default()),
        }
    }

    /// The directory holding the files the dry run wrote.
    pub fn scratch_dir(&self) -> &Path {
        &self.scratch_dir
    }

    fn record(&self, action: HostAction) {
        self.state
            .lock()
            .expect("dry-run state")
            .actions
            .push(action);
    }

    fn removed(&self, path: &Path) -> bool {
        let state = self.state.lock().expect("dry-run state");
        path.ancestors().any(|p| state.removed.contains(p))
    }

    fn unremove(&self, path: &Path) {
        let mut state = self.state.lock().expect("dry-run state");
        for p in path.ancestors() {
            state.removed.remove(p);
        }
    }

    fn in_scratch(&self, path: &Path) -> bool {
        matches!(self.scratch.metadata(path), Ok(Some(_)))
    }
}

impl Host for DryRunHost {
    fn read(&self, path: &Path) -> Result<Vec<u8>, HostError> {
        if self.in_scratch(path) {
            return self.scratch.read(path);
        }
        if self.removed(path) {
            return Err(HostError::io(path, io::ErrorKind::NotFound.into()));
        }
        self.base.read(path)
    }

    fn metadata(&self, path: &Path) -> Result<Option<FileMeta>, HostError> {
        if let Some(m) = self.scratch.metadata(path)? {
            return Ok(Some(m));
        }
        if self.removed(path) {
            return Ok(None);
        }
        self.base.metadata(path)
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<String>, HostError> {
        let mut names = BTreeSet::new();
        let mut found = false;
        if !self.removed(path) {
            match self.base.read_dir(path) {
                Ok(n) => {
                    found = true;
                    names.extend(n.into_iter().filter(|n| !self.removed(&path.join(n))));
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        match self.scratch.read_dir(path) {
            Ok(n) => {
                found = true;
                names.extend(n);
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        if !found {
            return Err(HostError::io(path, io::ErrorKind::NotFound.into()));
        }
        Ok(names.into_iter().collect())
    }

    fn write_file(
        &self,
        path: &Path,
        contents: &[u8],
        mode: u32,
        sensitivity: Sensitivity,
    ) -> Result<(), HostError> {
        self.scratch.write_file(path, contents, mode, sensitivity)?;
        self.unremove(path);
        self.record(HostAction::WriteFile {
            path: path.to_path_buf(),
            mode,
            size: contents.len() as u64,
            sensitivity,
        });
        Ok(())
    }

    fn create_dir_all(&self, path: &Path, mode: u32) -> Result<(), HostError> {
        self.scratch.create_dir_all(path, mode)?;
        self.unremove(path);
        self.record(HostAction::CreateDir {
            path: path.to_path_buf(),
            mode,
        });
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> Result<(), HostError> {
        self.scratch.remove_file(path)?;
        self.state
            .lock()
            .expect("dry-run state")
            .removed
            .insert(path.to_path_buf());
        self.record(HostAction::RemoveFile {
            path: path.to_path_buf(),
        });
        Ok(())
    }

    fn remove_dir_all(&self, path: &Path) -> Result<(), HostError> {
        self.scratch.remove_dir_all(path)?;
        self.state
            .lock()
            .expect("dry-run state")
            .removed
            .insert(path.to_path_buf());
        self.record(HostAction::RemoveDir {
            path: path.to_path_buf(),
        });
        Ok(())
    }

    fn run(&self, command: &HostCommand) -> Result<CommandOutput, HostError> {
        if command.mutates {
            self.record(HostAction::Run {
                command: command.clone(),
            });
            return Ok(CommandOutput::default());
        }
        self.base.run(command)
    }

    fn port_in_use(&self, addr: SocketAddr) -> bool {
        self.base.port_in_use(addr)
    }

    fn hostname(&self) -> Result<String, HostError> {
        self.base.hostname()
    }

    fn is_privileged(&self) -> bool {
        self.base.is_privileged()
    }

    fn interface_addresses(&self) -> Vec<(String, IpAddr)> {
        self.base.interface_addresses()
    }

    fn mounts_under(&self, dir: &Path) -> Result<Vec<PathBuf>, HostError> {
        self.base.mounts_under(dir)
    }

    fn unmount(&self, path: &Path, flags: i32) -> Result<(), HostError> {
        self.record(HostAction::Unmount {
            path: path.to_path_buf(),
            flags,
        });
        Ok(())
    }

    fn local_path(&self, path: &Path) -> PathBuf {
        self.base.local_path(path)
    }

    fn lookup_host(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        self.base.lookup_host(name)
    }

    fn actions(&self) -> Vec<HostAction> {
        self.state.lock().expect("dry-run state").actions.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_looked_up_as_go_does() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        // Not executable in the first entry: the operating system would stop at it with
        // "Permission denied"; the search goes on to the real one.
        fs::write(a.join("kubelet"), "").unwrap();
        fs::set_permissions(a.join("kubelet"), fs::Permissions::from_mode(0o644)).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(look_path("kubelet", &path), None);
        fs::write(b.join("kubelet"), "").unwrap();
        fs::set_permissions(b.join("kubelet"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(look_path("kubelet", &path), Some(b.join("kubelet")));
        assert_eq!(
            look_path("/opt/x/kubelet", &path),
            Some(PathBuf::from("/opt/x/kubelet"))
        );
        let e = RealHost::new("/")
            .run(&HostCommand::read_only("kubeadm-rs-no-such-program", &[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("kubeadm-rs-no-such-program not found in PATH"),
            "{e}"
        );
    }

    #[test]
    fn mountinfo_mount_points_are_decoded() {
        let table = "22 1 0:21 / / rw - ext4 /dev/vda rw\n\
                     90 22 0:50 / /var/lib/kubelet/pods/a\\040b/volumes rw - tmpfs tmpfs rw\n\
                     91 90 0:51 / /var/lib/kubelet/x\\134y rw - tmpfs tmpfs rw\n";
        assert_eq!(
            mount_points(table),
            vec![
                PathBuf::from("/"),
                PathBuf::from("/var/lib/kubelet/pods/a b/volumes"),
                PathBuf::from("/var/lib/kubelet/x\\y"),
            ]
        );
    }

    #[test]
    fn rooted_paths_stay_under_the_root() {
        let root = Path::new("/tmp/r");
        assert_eq!(
            rooted(root, Path::new("/etc/kubernetes/admin.conf")),
            Path::new("/tmp/r/etc/kubernetes/admin.conf")
        );
        assert_eq!(
            rooted(root, Path::new("/../../etc/passwd")),
            Path::new("/tmp/r/etc/passwd")
        );
        assert_eq!(rooted(Path::new("/"), Path::new("/etc")), Path::new("/etc"));
    }

    #[test]
    fn atomic_write_creates_file_with_exact_mode() {
        let dir = tempfile::tempdir().unwrap();
        let host = RealHost::new(dir.path());
        let p = Path::new("/etc/kubernetes/pki/ca.key");
        host.write_file(p, b"secret", 0o600, Sensitivity::Secret)
            .unwrap();
        let real = dir.path().join("etc/kubernetes/pki/ca.key");
        assert_eq!(fs::read(&real).unwrap(), b"secret");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(host.metadata(p).unwrap().unwrap().mode, 0o600);
        assert_eq!(fs::read_dir(real.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn failed_atomic_write_leaves_old_content_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("kubelet.conf");
        fs::write(&target, b"old content").unwrap();
        let err = write_atomic_with(&target, 0o600, |f| {
            f.write_all(b"half of the new")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(fs::read(&target).unwrap(), b"old content");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("kubelet.conf")]);
    }

    #[test]
    fn atomic_write_replaces_existing_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("config.yaml");
        fs::write(&target, b"a much longer old content than the new one").unwrap();
        write_atomic(&target, b"new", 0o644).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn io_errors_name_the_host_path() {
        let dir = tempfile::tempdir().unwrap();
        let host = RealHost::new(dir.path());
        let err = host
            .read(Path::new("/etc/kubernetes/missing.conf"))
            .unwrap_err();
        assert!(err.is_not_found());
        assert!(err
            .to_string()
            .starts_with("/etc/kubernetes/missing.conf: "));
    }

    fn dry_run_over(base_dir: &Path, scratch: &Path) -> DryRunHost {
        DryRunHost::new(Arc::new(RealHost::new(base_dir)), scratch)
    }

    #[test]
    fn dry_run_writes_only_to_scratch_and_records_in_order() {
        let base = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let host = dry_run_over(base.path(), scratch.path());
        let p = Path::new("/etc/kubernetes/manifests/etcd.yaml");
        host.create_dir_all(Path::new("/etc/kubernetes/manifests"), 0o755)
            .unwrap();
        host.write_file(p, b"kind: Pod\n", 0o600, Sensitivity::Public)
            .unwrap();
        host.systemctl("restart", "kubelet").unwrap();

        assert!(
            !base.path().join("etc").exists(),
            "base must stay untouched"
        );
        assert_eq!(host.read(p).unwrap(), b"kind: Pod\n");
        assert_eq!(
            host.actions(),
            vec![
                HostAction::CreateDir {
                    path: "/etc/kubernetes/manifests".into(),
                    mode: 0o755
                },
                HostAction::WriteFile {
                    path: p.into(),
                    mode: 0o600,
                    size: 10,
                    sensitivity: Sensitivity::Public
                },
                HostAction::Run {
                    command: HostCommand::mutating("systemctl", &["restart", "kubelet"])
                },
            ]
        );
    }

    #[test]
    fn dry_run_reads_fall_through_and_removals_hide_base_files() {
        let base = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        fs::create_dir_all(base.path().join("etc/kubernetes")).unwrap();
        fs::write(base.path().join("etc/kubernetes/admin.conf"), b"x").unwrap();
        fs::write(base.path().join("etc/kubernetes/kubelet.conf"), b"y").unwrap();
        let host = dry_run_over(base.path(), scratch.path());
        let admin = Path::new("/etc/kubernetes/admin.conf");
        assert_eq!(host.read(admin).unwrap(), b"x");
        host.remove_file(admin).unwrap();
        assert!(base.path().join("etc/kubernetes/admin.conf").exists());
        assert!(host.read(admin).unwrap_err().is_not_found());
        assert_eq!(host.metadata(admin).unwrap(), None);
        assert_eq!(
            host.read_dir(Path::new("/etc/kubernetes")).unwrap(),
            vec!["kubelet.conf".to_string()]
        );
        host.write_file(admin, b"z", 0o600, Sensitivity::Secret)
            .unwrap();
        assert_eq!(host.read(admin).unwrap(), b"z");
    }

    #[test]
    fn dry_run_runs_read_only_commands() {
        let base = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let host = dry_run_over(base.path(), scratch.path());
        let out = host
            .run(&HostCommand::read_only("echo", &["hello"]))
            .unwrap();
        assert_eq!(out.stdout, "hello\n");
        assert!(host.actions().is_empty());
    }

    #[test]
    fn sysctl_reads_proc_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("proc/sys/net/ipv4")).unwrap();
        fs::write(dir.path().join("proc/sys/net/ipv4/ip_forward"), "1\n").unwrap();
        let host = RealHost::fully_rooted(dir.path());
        assert_eq!(host.sysctl("net.ipv4.ip_forward").unwrap(), "1");
        // A --rootfs host reads the running kernel's /proc.
        let host = RealHost::new(dir.path());
        assert!(host.read(Path::new("/proc/self/status")).is_ok());
    }
}

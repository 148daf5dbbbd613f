//! The machine itself: files under `/`, or inside upstream's `--rootfs` root.
//!
//! Upstream changes root (`chroot(2)`) to `--rootfs` before anything else, so every path,
//! symbolic links included, resolves inside the root. Here each path is opened with
//! `openat2(RESOLVE_IN_ROOT)` relative to the root instead: a link to `/etc` or to `../..`
//! inside the root resolves to the root's `/etc`, exactly as under `chroot`, while this
//! process keeps the running kernel's `/proc` and `/sys`, the host's temporary directory
//! for dry runs, and needs no shell or libraries inside the root. Programs kubeadm runs
//! (`systemctl`, `kubelet --version`) are found inside the root and run there, changed
//! root, as upstream runs them. Every operation acts on descriptors of directories opened
//! inside the root (`*at` calls), so nothing resolves a path again outside it.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, CWD};

use super::atomic::write_atomic_in;
use super::{
    read_bounded, rooted, CommandOutput, FileMeta, Host, HostCommand, HostError, Lock, LockGuard,
};

/// How deep [`Host::remove_dir_all`] goes: far below any directory kubeadm owns, and a
/// bound on the descriptors and stack a hostile tree can take.
const MAX_REMOVE_DEPTH: usize = 256;

/// How a host's paths map to this machine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rooting {
    /// The root is `/`: paths are used as given (a relative one from the working directory).
    Plain,
    /// Paths resolve inside the root, symbolic links included, as under `chroot`.
    InRoot,
    /// Paths are joined to the root as text: for a directory only kubeadm writes (a dry
    /// run's scratch directory), where no link can have been put.
    Lexical,
}

/// The machine itself, with files under `root` (`/`, or upstream's `--rootfs`).
#[derive(Debug, Clone)]
pub struct RealHost {
    root: PathBuf,
    rooting: Rooting,
    kernel_rooted: bool,
}

/// Where one path is opened: as given, or relative to a descriptor of the root.
enum At {
    Given(PathBuf),
    InRoot(OwnedFd, PathBuf),
}

impl RealHost {
    /// A host whose files live under `root`; `/proc` and `/sys` stay the running kernel's.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let rooting = if root == Path::new("/") {
            Rooting::Plain
        } else {
            Rooting::InRoot
        };
        RealHost {
            root,
            rooting,
            kernel_rooted: false,
        }
    }

    /// A host whose every path, `/proc` and `/sys` included, lives under `root`: a machine
    /// made of files, for tests.
    pub fn fully_rooted(root: impl Into<PathBuf>) -> Self {
        RealHost {
            kernel_rooted: true,
            ..RealHost::new(root)
        }
    }

    /// A host over a directory only kubeadm writes (a dry run's scratch directory).
    pub(super) fn scratch(dir: impl Into<PathBuf>) -> Self {
        RealHost {
            root: dir.into(),
            rooting: Rooting::Lexical,
            kernel_rooted: false,
        }
    }

    /// Where a path is opened. A relative path (one the user gave, such as `--config
    /// k.yaml`) starts at the working directory, or under `--rootfs` at the root's `/`, as
    /// upstream, which changes root and then directory to `/` first.
    fn at(&self, path: &Path) -> io::Result<At> {
        if !self.kernel_rooted && (path.starts_with("/proc") || path.starts_with("/sys")) {
            return Ok(At::Given(path.to_path_buf()));
        }
        match self.rooting {
            Rooting::Plain => Ok(At::Given(path.to_path_buf())),
            Rooting::Lexical => Ok(At::Given(rooted(&self.root, path))),
            Rooting::InRoot => {
                let root = self.open_root(OFlags::PATH)?;
                let mut rel = PathBuf::new();
                for c in path.components() {
                    match c {
                        Component::Normal(p) => rel.push(p),
                        Component::ParentDir => rel.push(".."),
                        Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                    }
                }
                if rel.as_os_str().is_empty() {
                    rel.push(".");
                }
                Ok(At::InRoot(root, rel))
            }
        }
    }

    fn open_root(&self, flags: OFlags) -> io::Result<OwnedFd> {
        rustix::fs::open(
            &self.root,
            flags | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("the root {}: {e}", self.root.display()),
            )
        })
    }

    /// Opens a path; under `--rootfs` every component, links included, resolves inside
    /// the root, and links into `/proc`'s magic (`/proc/self/root`) are refused.
    fn open(&self, path: &Path, flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(mode);
        match self.at(path)? {
            At::Given(p) => Ok(rustix::fs::openat(CWD, &p, flags, mode)?),
            At::InRoot(root, rel) => open_in_root(&root, &rel, flags, mode),
        }
    }

    /// The directory holding a path, opened, and the path's last component.
    fn open_parent(&self, path: &Path) -> io::Result<(OwnedFd, OsString)> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = self.open(parent, OFlags::RDONLY | OFlags::DIRECTORY, 0)?;
        Ok((dir, name.to_os_string()))
    }

    /// Creates a directory and its missing parents, each inside the root.
    fn mkdir_all(&self, path: &Path, mode: u32) -> io::Result<()> {
        match self.open(path, OFlags::PATH | OFlags::DIRECTORY, 0) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.mkdir_all(parent, mode)?;
        }
        let (dir, name) = self.open_parent(path)?;
        match rustix::fs::mkdirat(&dir, name.as_os_str(), Mode::from_raw_mode(mode)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Where a path is on this machine, every link resolved (inside the root): for the
    /// calls that take a path only (unmounting, connecting to a socket).
    fn local(&self, path: &Path) -> io::Result<PathBuf> {
        match self.at(path)? {
            At::Given(p) => Ok(p),
            At::InRoot(root, rel) => {
                let fd = open_in_root(&root, &rel, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
                fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            }
        }
    }
}

/// `openat2` of `rel` below the root's descriptor, every component (links included)
/// resolved inside the root, and links into `/proc`'s magic (`/proc/self/root`) refused.
fn open_in_root(root: &OwnedFd, rel: &Path, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    // The kernel answers EAGAIN when a rename raced the lookup: look again.
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(root, rel, flags, mode, resolve) {
            Err(rustix::io::Errno::AGAIN) if tries < 16 => tries += 1,
            Err(rustix::io::Errno::NOSYS) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "--rootfs needs Linux 5.6 or newer (openat2), so that no path leaves the root",
                ))
            }
            other => return Ok(other?),
        }
    }
}

/// The names in an open directory, without `.` and `..`.
pub(super) fn entry_names(dir: &impl AsFd) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(names)
}

/// Removes `name` in `dir` and, for a directory (never followed through a link), what it
/// holds, `depth` levels below kubeadm's starting point.
fn remove_tree_at(dir: &OwnedFd, name: &OsStr, depth: usize) -> io::Result<()> {
    let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
        return Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?);
    }
    if depth >= MAX_REMOVE_DEPTH {
        return Err(io::Error::other(format!(
            "more than {MAX_REMOVE_DEPTH} nested directories"
        )));
    }
    let sub = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for entry in entry_names(&sub)? {
        ignore_missing(remove_tree_at(&sub, &entry, depth + 1))?;
    }
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn not_found_as_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Host for RealHost {
    fn read(&self, path: &Path) -> Result<Vec<u8>, HostError> {
        // Non-blocking: opening a FIFO must not wait for a writer (it is then refused as
        // not a regular file); reads of regular files are unaffected.
        let fd = self
            .open(path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY, 0)
            .map_err(|e| HostError::io(path, e))?;
        read_bounded(fs::File::from(fd), path)
    }

    fn metadata(&self, path: &Path) -> Result<Option<FileMeta>, HostError> {
        let meta = |fd: OwnedFd| -> io::Result<FileMeta> {
            let st = rustix::fs::fstat(&fd)?;
            let kind = FileType::from_raw_mode(st.st_mode);
            Ok(FileMeta {
                mode: st.st_mode & 0o7777,
                size: st.st_size as u64,
                is_dir: kind == FileType::Directory,
                is_socket: kind == FileType::Socket,
            })
        };
        not_found_as_none(self.open(path, OFlags::PATH, 0))
            .and_then(|fd| fd.map(meta).transpose())
            .map_err(|e| HostError::io(path, e))
    }

    fn is_symlink(&self, path: &Path) -> Result<bool, HostError> {
        let lstat = || -> io::Result<bool> {
            let (dir, name) = self.open_parent(path)?;
            let st = rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)?;
            Ok(FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
        };
        not_found_as_none(lstat())
            .map(|s| s.unwrap_or(false))
            .map_err(|e| HostError::io(path, e))
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<String>, HostError> {
        let mut names = self
            .open(path, OFlags::RDONLY | OFlags::DIRECTORY, 0)
            .and_then(|dir| entry_names(&dir))
            .map_err(|e| HostError::io(path, e))?
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        names.sort();
        Ok(names)
    }

    fn write_file(
        &self,
        path: &Path,
        contents: &[u8],
        mode: u32,
        _sensitivity: super::Sensitivity,
    ) -> Result<(), HostError> {
        let write = || -> io::Result<()> {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                self.mkdir_all(parent, 0o755)?;
            }
            let (dir, name) = self.open_parent(path)?;
            write_atomic_in(&dir, &name, mode, |f| f.write_all(contents))
        };
        write().map_err(|e| HostError::io(path, e))
    }

    fn create_dir_all(&self, path: &Path, mode: u32) -> Result<(), HostError> {
        self.mkdir_all(path, mode)
            .map_err(|e| HostError::io(path, e))
    }

    fn remove_file(&self, path: &Path) -> Result<(), HostError> {
        let remove = || -> io::Result<()> {
            let (dir, name) = self.open_parent(path)?;
            Ok(rustix::fs::unlinkat(
                &dir,
                name.as_os_str(),
                AtFlags::empty(),
            )?)
        };
        ignore_missing(remove()).map_err(|e| HostError::io(path, e))
    }

    fn remove_dir_all(&self, path: &Path) -> Result<(), HostError> {
        let remove = || -> io::Result<()> {
            let (dir, name) = self.open_parent(path)?;
            remove_tree_at(&dir, &name, 0)
        };
        ignore_missing(remove()).map_err(|e| HostError::io(path, e))
    }

    fn run(&self, command: &HostCommand) -> Result<CommandOutput, HostError> {
        let spawn_err = |error: io::Error| HostError::Spawn {
            command: command.to_string(),
            error,
        };
        let not_found = || {
            spawn_err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} not found in PATH", command.program),
            ))
        };
        let mut cmd;
        // Held until the command has started: the child changes root to it.
        let mut _root = None;
        if self.rooting == Rooting::InRoot {
            let program = if command.program.contains('/') {
                PathBuf::from(&command.program)
            } else {
                self.find_executable(&command.program)
                    .ok_or_else(not_found)?
            };
            let root = self.open_root(OFlags::RDONLY).map_err(spawn_err)?;
            let raw = root.as_raw_fd();
            cmd = Command::new(program);
            // SAFETY: between fork and exec the child only makes three system calls, which
            // are async-signal-safe, on a descriptor and constant strings that outlive it.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::fchdir(raw) != 0
                        || libc::chroot(c".".as_ptr()) != 0
                        || libc::chdir(c"/".as_ptr()) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            _root = Some(root);
        } else {
            let path_var = std::env::var_os("PATH").unwrap_or_default();
            cmd = Command::new(look_path(&command.program, &path_var).ok_or_else(not_found)?);
        }
        let out = cmd.args(&command.args).output().map_err(|e| {
            if self.rooting == Rooting::InRoot {
                spawn_err(io::Error::new(
                    e.kind(),
                    format!("inside the root {}: {e}", self.root.display()),
                ))
            } else {
                spawn_err(e)
            }
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

    fn listen_error(&self, addr: SocketAddr) -> Option<io::Error> {
        TcpListener::bind(addr).err()
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
        let local = self
            .local(dir)
            .and_then(fs::canonicalize)
            .map_err(|e| HostError::io(dir, e))?;
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
        let target = self.local(path).map_err(|e| HostError::io(path, e))?;
        let c = std::ffi::CString::new(target.as_os_str().as_bytes())
            .map_err(|e| HostError::io(path, io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        // Under --rootfs the target has every link resolved (inside the root); the last
        // component is not followed again.
        let flags = match self.rooting {
            Rooting::InRoot => flags | libc::UMOUNT_NOFOLLOW,
            _ => flags,
        };
        // SAFETY: umount2 reads a NUL-terminated path that lives across the call.
        if unsafe { libc::umount2(c.as_ptr(), flags) } != 0 {
            return Err(HostError::io(path, io::Error::last_os_error()));
        }
        Ok(())
    }

    fn socket_path(&self, path: &Path) -> Result<PathBuf, HostError> {
        self.local(path).map_err(|e| HostError::io(path, e))
    }

    fn try_lock(&self, path: &Path) -> Result<Lock, HostError> {
        use std::io::{Read, Seek};
        let open = || -> io::Result<fs::File> {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                self.mkdir_all(parent, 0o755)?;
            }
            let (dir, name) = self.open_parent(path)?;
            let fd = rustix::fs::openat(
                &dir,
                name.as_os_str(),
                OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )?;
            Ok(fs::File::from(fd))
        };
        let mut file = open().map_err(|e| HostError::io(path, e))?;
        // flock: released by the kernel when the descriptor closes, so a killed kubeadm
        // never leaves the node locked.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let _ = (&mut file).take(64).read_to_string(&mut text);
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Sensitivity;

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

    /// A root whose `etc/kubernetes` links out of it (`target` is the link's text), and
    /// a directory outside holding a file kubeadm must never see.
    fn root_linking_out(target: impl Fn(&Path) -> PathBuf) -> (tempfile::TempDir, PathBuf) {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("root");
        let outside = top.path().join("outside");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::create_dir_all(outside.join("pki")).unwrap();
        fs::write(outside.join("pki/ca.key"), b"outside key").unwrap();
        std::os::unix::fs::symlink(target(&outside), root.join("etc/kubernetes")).unwrap();
        (top, root)
    }

    #[test]
    fn links_resolve_inside_the_root_as_under_chroot() {
        let absolute = |outside: &Path| outside.to_path_buf();
        let relative = |_: &Path| PathBuf::from("../../outside");
        for target in [&absolute as &dyn Fn(&Path) -> PathBuf, &relative] {
            let (top, root) = root_linking_out(target);
            let outside = top.path().join("outside");
            let host = RealHost::new(&root);
            let key = Path::new("/etc/kubernetes/pki/ca.key");
            assert!(host.read(key).unwrap_err().is_not_found());
            assert_eq!(host.metadata(key).unwrap(), None);
            // A dangling link is no directory to write in (as `os.MkdirAll` finds under
            // chroot); once its target exists inside the root, the writes go there.
            assert!(host
                .write_file(key, b"inside", 0o600, Sensitivity::Secret)
                .is_err());
            // Both `<top>/outside` and `../../outside` from `/etc` name a directory of
            // the root: the first under the root's own `<top>`, the second its `/outside`.
            let inside = match target(&outside) {
                t if t.is_absolute() => rooted(&root, &t),
                _ => root.join("outside"),
            };
            fs::create_dir_all(&inside).unwrap();
            host.write_file(key, b"inside", 0o600, Sensitivity::Secret)
                .unwrap();
            host.create_dir_all(Path::new("/etc/kubernetes/manifests"), 0o755)
                .unwrap();
            host.remove_dir_all(Path::new("/etc/kubernetes/pki"))
                .unwrap();
            host.write_file(key, b"again", 0o600, Sensitivity::Secret)
                .unwrap();
            assert_eq!(host.read(key).unwrap(), b"again");
            assert_eq!(fs::read(inside.join("pki/ca.key")).unwrap(), b"again");
            assert_eq!(
                fs::read(outside.join("pki/ca.key")).unwrap(),
                b"outside key"
            );
            assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
            assert!(host.is_symlink(Path::new("/etc/kubernetes")).unwrap());
            assert!(!host.is_symlink(key).unwrap());
            // `..` cannot climb out either: it stops at the root's `/`.
            let climb = Path::new("/etc/../../outside/pki/ca.key");
            assert_ne!(host.read(climb).ok().as_deref(), Some(&b"outside key"[..]));
        }
    }

    #[test]
    fn removing_a_link_removes_the_link_not_its_target() {
        let (top, root) = root_linking_out(|_| PathBuf::from("/outside"));
        fs::create_dir_all(root.join("outside/pki")).unwrap();
        fs::write(root.join("outside/pki/ca.key"), b"inside").unwrap();
        let host = RealHost::new(&root);
        host.remove_dir_all(Path::new("/etc/kubernetes")).unwrap();
        assert!(!root.join("etc/kubernetes").exists());
        assert!(root.join("outside/pki/ca.key").exists());
        assert!(top.path().join("outside/pki/ca.key").exists());
    }

    #[test]
    fn only_regular_files_are_read_and_none_without_bound() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let big = dir.path().join("big");
        fs::File::create(&big)
            .unwrap()
            .set_len(crate::host::MAX_FILE_SIZE + 1)
            .unwrap();
        let host = RealHost::new("/");
        for (path, want) in [
            (fifo.as_path(), "is a FIFO, not a regular file"),
            (dir.path(), "is a directory, not a regular file"),
            (
                Path::new("/dev/zero"),
                "is a character device, not a regular file",
            ),
            (big.as_path(), "larger than 8 MiB"),
        ] {
            let e = host.read(path).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{}: ", path.display())), "{e}");
            assert!(e.contains(want), "{e}");
        }
        // Files of /proc report no size and are read whole.
        assert!(!host
            .read(Path::new("/proc/self/status"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn programs_run_inside_the_root() {
        if !RealHost::new("/").is_privileged() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let host = RealHost::new(root);
        // No such program inside the root, though the machine has one.
        let e = host
            .run(&HostCommand::read_only("ls", &["/"]))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("ls not found in PATH"), "{e}");
        // A static program inside the root sees the root as `/`.
        let Ok(busybox) = fs::read("/bin/busybox") else {
            return;
        };
        fs::create_dir_all(root.join("usr/bin")).unwrap();
        fs::write(root.join("usr/bin/busybox"), busybox).unwrap();
        fs::set_permissions(
            root.join("usr/bin/busybox"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        fs::write(root.join("marker"), b"").unwrap();
        let out = host
            .run(&HostCommand::read_only("busybox", &["ls", "/"]))
            .unwrap();
        assert_eq!(out.stdout, "marker\nusr\n", "{out:?}");
    }
}

//! Whole-or-nothing file writes: readers see either the old file or the whole new one.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags};

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
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = rustix::fs::open(
        dir.unwrap_or(Path::new(".")),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    write_atomic_in(&dir, name, mode, fill)
}

/// [`write_atomic_with`] for content already in memory.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    write_atomic_with(path, mode, |f| f.write_all(contents))
}

/// [`write_atomic_with`] for the entry `name` of an open directory: nothing is resolved
/// by path after the directory was opened, so a symbolic link put in the way can neither
/// redirect the temporary file (created exclusively, links not followed) nor the rename.
pub(super) fn write_atomic_in(
    dir: &impl AsFd,
    name: &OsStr,
    mode: u32,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let mut prefix = b".".to_vec();
    prefix.extend_from_slice(name.as_bytes());
    prefix.extend_from_slice(b".tmp-");
    remove_stale_temporaries(dir, &prefix);
    let mut tmp = prefix;
    tmp.extend_from_slice(
        format!(
            "{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        )
        .as_bytes(),
    );
    let tmp = OsStr::from_bytes(&tmp);
    let result = (|| {
        let fd = rustix::fs::openat(
            dir,
            tmp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )?;
        // The umask may have cleared bits of `mode`; set it exactly.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        let mut file = File::from(fd);
        fill(&mut file)?;
        file.flush()?;
        file.sync_all()?;
        drop(file);
        rustix::fs::renameat(dir, tmp, dir, name)?;
        rustix::fs::fsync(dir).map_err(io::Error::from)
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(dir, tmp, AtFlags::empty());
    }
    result
}

/// Removes the temporary files a killed kubeadm left in `dir` (named
/// `.<name>.tmp-<pid>-<n>`, whose process no longer exists), so an interrupted run
/// leaves nothing behind once the file is written again.
fn remove_stale_temporaries(dir: &impl AsFd, prefix: &[u8]) {
    let Ok(names) = super::real::entry_names(dir) else {
        return;
    };
    for name in names {
        let Some(rest) = name.as_bytes().strip_prefix(prefix) else {
            continue;
        };
        let Some(pid) = std::str::from_utf8(rest)
            .ok()
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = pid != std::process::id() as i32
            && unsafe { libc::kill(pid, 0) } != 0
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = rustix::fs::unlinkat(dir, name.as_os_str(), AtFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // PID 0x7ffffffe is beyond any pid_max: no such process.
        let stale = dir.path().join(".a.conf.tmp-2147483646-0");
        fs::write(&stale, b"left by a killed run").unwrap();
        let other = dir.path().join(".b.conf.tmp-2147483646-0");
        fs::write(&other, b"another file's").unwrap();
        write_atomic(&dir.path().join("a.conf"), b"x", 0o600).unwrap();
        assert!(!stale.exists());
        assert!(other.exists(), "only the written file's temporaries go");
    }
}

//! The host of `--dry-run`: changes recorded, files written under a scratch directory.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{
    CommandOutput, FileMeta, Host, HostAction, HostCommand, HostError, RealHost, Sensitivity,
};

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
            scratch: RealHost::scratch(&scratch_dir),
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

    fn is_symlink(&self, path: &Path) -> Result<bool, HostError> {
        if self.in_scratch(path) {
            return self.scratch.is_symlink(path);
        }
        if self.removed(path) {
            return Ok(false);
        }
        self.base.is_symlink(path)
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

    fn listen_error(&self, addr: SocketAddr) -> Option<io::Error> {
        self.base.listen_error(addr)
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

    fn socket_path(&self, path: &Path) -> Result<PathBuf, HostError> {
        self.base.socket_path(path)
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
    use crate::host::HostCommand;
    use std::fs;

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
        // On the machine itself: programs run on a host found there.
        let scratch = tempfile::tempdir().unwrap();
        let host = dry_run_over(Path::new("/"), scratch.path());
        let out = host
            .run(&HostCommand::read_only("echo", &["hello"]))
            .unwrap();
        assert_eq!(out.stdout, "hello\n");
        assert!(host.actions().is_empty());
    }
}

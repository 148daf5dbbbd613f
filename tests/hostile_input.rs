//! Local files that are no configuration (devices, a FIFO, a directory, a huge file,
//! nesting without end): each is a clear, short error naming the file, reached with
//! little CPU and memory (measured by the kernel for the process), and nothing blocks.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// What one kubeadm run cost and said.
struct Run {
    code: Option<i32>,
    stderr: String,
    cpu_seconds: f64,
    max_rss_mib: f64,
}

/// Runs kubeadm to its end and reads its CPU time and peak memory from `wait4` (which
/// reaps the child: `Child::wait` would find it gone).
#[allow(clippy::zombie_processes)]
fn run(args: &[&str], root: &Path) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--rootfs")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Run {
        code: std::process::ExitStatus::from_raw(status).code(),
        stderr: reader.join().unwrap(),
        cpu_seconds: secs(usage.ru_utime) + secs(usage.ru_stime),
        max_rss_mib: usage.ru_maxrss as f64 / 1024.0,
    }
}

fn assert_refused(r: &Run, what: &str, wants: &str) {
    assert_eq!(r.code, Some(1), "{what}: {}", r.stderr);
    assert!(r.stderr.contains(wants), "{what}: {}", r.stderr);
    assert!(
        r.stderr.len() < 1024,
        "{what}: a short error, not {} bytes",
        r.stderr.len()
    );
    // Bounds far above what these runs take (a few milliseconds of CPU, some 20 MiB).
    assert!(r.cpu_seconds < 1.0, "{what}: {} s of CPU", r.cpu_seconds);
    assert!(r.max_rss_mib < 100.0, "{what}: {} MiB", r.max_rss_mib);
}

#[test]
fn config_files_that_are_no_files_are_refused_at_once() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let fifo = r.join("fifo.yaml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::fs::create_dir(r.join("dir.yaml")).unwrap();
    // 200 MB: refused by its size before anything is read.
    let big = std::fs::File::create(r.join("big.yaml")).unwrap();
    big.set_len(200 << 20).unwrap();
    std::fs::write(r.join("brackets.yaml"), "[".repeat(100_000)).unwrap();
    std::fs::write(r.join("maps.yaml"), "{a: ".repeat(100_000)).unwrap();
    // The machine's own devices, without --rootfs, below.
    for (file, wants) in [
        (
            "/fifo.yaml",
            "\"/fifo.yaml\": is a FIFO, not a regular file",
        ),
        (
            "/dir.yaml",
            "\"/dir.yaml\": is a directory, not a regular file",
        ),
        ("/big.yaml", "\"/big.yaml\": larger than 8 MiB"),
        ("/brackets.yaml", "/brackets.yaml:1: more than 256 nested"),
        ("/maps.yaml", "/maps.yaml:1: more than 256 nested"),
    ] {
        let run = run(&["config", "validate", "--config", file], r);
        assert_refused(&run, file, wants);
    }
    for dev in ["/dev/zero", "/dev/urandom"] {
        let run = run(&["config", "validate", "--config", dev], Path::new("/"));
        assert_refused(
            &run,
            dev,
            &format!("{dev:?}: is a character device, not a regular file"),
        );
    }
}

#[test]
fn a_huge_value_is_shown_as_an_excerpt() {
    let root = tempfile::tempdir().unwrap();
    let value = "C".repeat(7 << 20);
    std::fs::write(
        root.path().join("k.yaml"),
        format!("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: {value}\n"),
    )
    .unwrap();
    let run = run(&["config", "validate", "--config", "/k.yaml"], root.path());
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("kubernetesVersion"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("({} bytes)", value.len() + 3)),
        "{}",
        run.stderr
    );
    assert!(run.stderr.len() < 1024, "{} bytes", run.stderr.len());
    assert!(run.max_rss_mib < 100.0, "{} MiB", run.max_rss_mib);
}

#[test]
fn patch_files_that_are_no_files_or_nest_without_end_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::write(
        r.join("k.yaml"),
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.1\npatches:\n  directory: /patches\n",
    )
    .unwrap();
    std::fs::create_dir(r.join("patches")).unwrap();
    let fifo = r.join("patches/kube-apiserver.yaml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let args = [
        "init",
        "phase",
        "control-plane",
        "apiserver",
        "--config",
        "/k.yaml",
    ];
    let run1 = run(&args, r);
    assert_refused(
        &run1,
        "FIFO patch",
        "/patches/kube-apiserver.yaml: is a FIFO, not a regular file",
    );
    std::fs::remove_file(&fifo).unwrap();
    std::fs::write(&fifo, "{a: ".repeat(50_000)).unwrap();
    let run2 = run(&args, r);
    assert_refused(
        &run2,
        "deep patch",
        "patch file /patches/kube-apiserver.yaml:1: more than 256 nested",
    );
}

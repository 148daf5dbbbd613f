//! The `.rpm` that `packaging/rpm/build` makes, laid out like the distribution's kubeadm
//! package: installed with rpm into a temporary root (its own database), it holds exactly
//! kubeadm, kubeadm-cluster, the kubelet drop-in in a `kubelet.service.d` directory it owns,
//! the completions and a man page per command of both programs, root's and with their
//! modes (checked by `rpm -V` too); requires no other package (as the distribution's from
//! Kubernetes 1.32 on), only the shared libraries the binaries link; the installed binaries
//! run, and man finds the pages.

mod packaging;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use packaging::{run, Inputs};

/// rpm on the root `root`, with its database at the distribution's place in it.
fn rpm(root: &Path) -> Command {
    let mut c = Command::new("rpm");
    c.arg("--root")
        .arg(root)
        .args(["--define", "_dbpath /var/lib/rpm"]);
    c
}

#[test]
fn the_rpm_installs_kubeadm_kubeadm_cluster_the_drop_in_and_man_pages() {
    let found = Command::new("sh")
        .args(["-c", "command -v rpmbuild"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "rpmbuild is not installed: bash scripts/test installs it (Debian's rpm package)"
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let inputs = Inputs::new(work.path());
    let out = run(Command::new("bash")
        .arg(repo.join("packaging/rpm/build"))
        .args(inputs.build_args(&work.path().join("out"))));
    let pkg = out.lines().last().unwrap().trim().to_string();
    let arch = std::env::consts::ARCH;
    assert_eq!(
        Path::new(&pkg).file_name().unwrap().to_str().unwrap(),
        format!("kubeadm-1.37.1-1.1.{arch}.rpm"),
        "{out}"
    );
    assert!(Path::new(&pkg).is_file(), "{out}");

    // What the package says of itself.
    let info = run(Command::new("rpm").args([
        "-qp",
        "--qf",
        "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}",
        &pkg,
    ]));
    assert_eq!(info, format!("kubeadm 1.37.1 1.1 {arch} Apache-2.0"));
    let requires = run(Command::new("rpm").args(["-qp", "--requires", &pkg]));
    for r in requires.lines() {
        assert!(
            r.starts_with("rpmlib(") || r.starts_with("rtld(") || r.contains(".so"),
            "requires {r:?}: the package requires no other package\n{requires}"
        );
    }
    assert!(requires.contains("libc.so.6"), "{requires}");

    // Installed through rpm proper, into a root of its own (the shared libraries are the
    // machine's, not packages in that root: --nodeps).
    let root = work.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    run(rpm(&root).arg("--initdb"));
    // Minimal images set %_excludedocs (man pages are documentation to rpm); this test
    // wants to see them.
    run(rpm(&root)
        .args(["--define", "_excludedocs 0", "-i", "--nodeps"])
        .arg(&pkg));
    assert_eq!(
        run(rpm(&root).args(["-q", "kubeadm"])).trim(),
        format!("kubeadm-1.37.1-1.1.{arch}")
    );
    // Every file as the package says: size, digest, mode, owner.
    run(rpm(&root).args(["-V", "--nodeps", "kubeadm"]));

    // Exactly these files, root's, with these modes.
    let man: Vec<String> = inputs
        .pages
        .iter()
        .map(|p| format!("/usr/share/man/man1/{p}.gz"))
        .collect();
    let mut want: Vec<(String, u32)> = [
        ("/usr/bin/kubeadm", 0o100755),
        ("/usr/bin/kubeadm-cluster", 0o100755),
        ("/usr/lib/systemd/system/kubelet.service.d", 0o040755),
        (
            "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
            0o100644,
        ),
        ("/usr/share/bash-completion/completions/kubeadm", 0o100644),
        ("/usr/share/zsh/site-functions/_kubeadm", 0o100644),
        (
            "/usr/share/fish/vendor_completions.d/kubeadm.fish",
            0o100644,
        ),
    ]
    .iter()
    .map(|(p, m)| (p.to_string(), *m))
    .chain(man.iter().map(|p| (p.clone(), 0o100644)))
    .collect();
    want.sort();
    let mut listed: Vec<String> = run(rpm(&root).args(["-ql", "kubeadm"]))
        .lines()
        .map(str::to_string)
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        want.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()
    );
    for (path, mode) in &want {
        let m = std::fs::symlink_metadata(root.join(path.trim_start_matches('/')))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(m.mode(), *mode, "{path}: mode {:o}", m.mode());
        assert_eq!((m.uid(), m.gid()), (0, 0), "{path}");
    }
    // The package owns the drop-in directory, as the distribution's does.
    assert_eq!(
        run(rpm(&root).args([
            "-qf",
            "--qf",
            "%{NAME}",
            "/usr/lib/systemd/system/kubelet.service.d"
        ])),
        "kubeadm"
    );
    assert_eq!(
        std::fs::read(root.join("usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"))
            .unwrap(),
        std::fs::read(repo.join("packaging/systemd/10-kubeadm.conf")).unwrap()
    );

    // The installed binaries are this build's and run; man finds every page.
    packaging::check_programs(&root, &inputs);
    packaging::check_man_pages(&root, &inputs);
}

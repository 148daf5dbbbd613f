//! The `.deb` that `packaging/deb/build` makes: installed with dpkg into a temporary root,
//! the installed kubeadm runs and reports this checkout's commit, and the kubelet drop-in,
//! the man pages and the completions are where the kubelet, man and the shells look.

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_deb_installs_a_working_kubeadm_with_drop_in_man_pages_and_completions() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let man = work.path().join("man");
    let pages = kubeadm::cli::manpages::write_all(&man).unwrap();
    let out = run(Command::new("bash")
        .arg(repo.join("packaging/deb/build"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_kubeadm"))
        .arg("--man-dir")
        .arg(&man)
        .arg("--out")
        .arg(work.path().join("out"))
        // The test's binary carries debug information: compressing it takes most of a
        // minute and proves nothing more.
        .args(["--compression", "none"]));
    let deb = out.lines().last().unwrap().trim().to_string();
    assert!(deb.ends_with(".deb"), "{out}");
    let name = Path::new(&deb).file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("kubeadm_1.37."), "{name}");

    let control = run(Command::new("dpkg-deb").args(["--field", &deb]));
    assert!(control.contains("Package: kubeadm\n"), "{control}");

    // Installed through dpkg proper, into a root of its own.
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        // Minimal images exclude man pages in dpkg.cfg.d; this test wants to see them.
        .args(["--log=/dev/null", "--force-not-root", "--force-depends"])
        .args(["--path-include=/usr/share/man/*", "-i"])
        .arg(&deb));
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    assert!(
        status.contains("Package: kubeadm\nStatus: install ok installed"),
        "{status}"
    );

    // The installed binary works and says which commit it was built from.
    let kubeadm = root.join("usr/bin/kubeadm");
    let version: serde_json::Value =
        serde_json::from_str(&run(Command::new(&kubeadm).args(["version", "-o", "json"]))).unwrap();
    let info = &version["clientVersion"];
    assert_eq!(info["gitVersion"], "v1.37.1");
    if let Ok(o) = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo)
        .output()
    {
        if o.status.success() {
            let head = String::from_utf8_lossy(&o.stdout).trim().to_string();
            assert_eq!(info["gitCommit"], head.as_str());
        }
    }
    let date = info["buildDate"].as_str().unwrap();
    let built = time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("buildDate {date:?}: {e}"));
    assert!(built <= time::OffsetDateTime::now_utc(), "{date}");

    // systemd reads the kubelet's drop-ins from here.
    assert_eq!(
        std::fs::read(root.join("usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"))
            .unwrap(),
        std::fs::read(repo.join("packaging/systemd/10-kubeadm.conf")).unwrap()
    );

    // man finds the pages under the root's man directory, one per command.
    let man_dir = root.join("usr/share/man");
    let found = run(Command::new("man")
        .arg("-M")
        .arg(&man_dir)
        .args(["-w", "kubeadm-init"]));
    assert_eq!(
        found.trim(),
        man_dir.join("man1/kubeadm-init.1.gz").to_str().unwrap()
    );
    let installed = std::fs::read_dir(man_dir.join("man1")).unwrap().count();
    assert_eq!(installed, pages.len());
    let text = run(Command::new("man")
        .env("MANWIDTH", "200")
        .env("MAN_KEEP_FORMATTING", "0")
        .arg("-M")
        .arg(&man_dir)
        .arg("kubeadm-join"));
    assert!(text.contains("--discovery-token-ca-cert-hash"), "{text}");

    // bash loads the completion and binds it to kubeadm.
    let bash = root.join("usr/share/bash-completion/completions/kubeadm");
    let bound = run(Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p kubeadm", bash.display())));
    assert!(bound.contains("kubeadm"), "{bound}");
    assert!(root
        .join("usr/share/zsh/vendor-completions/_kubeadm")
        .is_file());
    assert!(root
        .join("usr/share/fish/vendor_completions.d/kubeadm.fish")
        .is_file());
}

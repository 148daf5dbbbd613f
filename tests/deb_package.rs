//! The `.deb` that `packaging/deb/build` makes: installed with dpkg into a temporary root,
//! the installed kubeadm runs and reports this checkout's commit, kubeadm-cluster runs, and
//! the kubelet drop-in, the man pages of both and the completions are where the kubelet,
//! man and the shells look.

mod packaging;

use std::path::Path;
use std::process::Command;

use packaging::{run, Inputs};

#[test]
fn the_deb_installs_working_kubeadm_and_kubeadm_cluster_with_drop_in_man_pages_and_completions() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let inputs = Inputs::new(work.path());
    let out = run(Command::new("bash")
        .arg(repo.join("packaging/deb/build"))
        .args(inputs.build_args(&work.path().join("out"))));
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

    // The installed binaries are this build's and run; kubeadm says which commit it was
    // built from.
    packaging::check_programs(&root, &inputs);
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

    // man finds the pages of both programs under the root's man directory, one per
    // command.
    packaging::check_man_pages(&root, &inputs);

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

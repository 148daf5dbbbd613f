//! Man pages from the command tree, one per command (`kubeadm.1`, `kubeadm-init.1`,
//! `kubeadm-init-phase-certs.1`, ...), as packages ship them under `/usr/share/man/man1`.
//! Written by the `kubeadm-manpages` packaging tool; not a kubeadm command.

use std::path::Path;

/// Writes every page of kubeadm under `out`; returns the file names written, in tree order.
pub fn write_all(out: &Path) -> std::io::Result<Vec<String>> {
    write_program(super::command().name("kubeadm"), out)
}

/// Writes a page per command of the program `cmd` (named by its name: `kubeadm-cluster.1`,
/// `kubeadm-cluster-apply.1`, ...) under `out`, as [`write_all`] does for kubeadm; returns
/// the file names written, in tree order.
pub fn write_program(mut cmd: clap::Command, out: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(out)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", out.display())))?;
    cmd.build();
    let name = cmd.get_name().to_string();
    let mut written = Vec::new();
    write_pages(&cmd, &name, out, &mut written)?;
    Ok(written)
}

fn write_pages(
    cmd: &clap::Command,
    name: &str,
    out: &Path,
    written: &mut Vec<String>,
) -> std::io::Result<()> {
    let page = cmd
        .clone()
        .name(name.to_string())
        .bin_name(name.replace('-', " "));
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf)?;
    let file = format!("{name}.1");
    let path = out.join(&file);
    std::fs::write(&path, buf)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    written.push(file);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() != "help" {
            write_pages(sub, &format!("{name}-{}", sub.get_name()), out, written)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_page_per_command_with_its_flags() {
        let dir = tempfile::tempdir().unwrap();
        let pages = super::write_all(dir.path()).unwrap();
        for want in [
            "kubeadm.1",
            "kubeadm-init.1",
            "kubeadm-join.1",
            "kubeadm-reset.1",
            "kubeadm-init-phase-certs.1",
            "kubeadm-token-create.1",
        ] {
            assert!(pages.iter().any(|p| p == want), "{want} missing: {pages:?}");
        }
        let init = std::fs::read_to_string(dir.path().join("kubeadm-init.1")).unwrap();
        assert!(init.starts_with(".ie"), "a roff page: {}", &init[..40]);
        assert!(init.contains("apiserver\\-advertise\\-address"), "{init}");
    }
}

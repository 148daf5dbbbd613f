//! `kubeadm-manpages OUTDIR`: writes the man pages of kubeadm and kubeadm-cluster, one per
//! command, for packaging (`packaging/deb/build` and `packaging/rpm/build` run it).

use clap::CommandFactory;

fn main() {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: kubeadm-manpages OUTDIR");
        std::process::exit(2);
    };
    let out = std::path::Path::new(&out);
    let written = kubeadm::cli::manpages::write_all(out).and_then(|mut pages| {
        pages.extend(kubeadm::cli::manpages::write_program(
            kubeadm_cluster::cli::Cli::command(),
            out,
        )?);
        Ok(pages)
    });
    match written {
        Ok(pages) => println!("{} man pages written", pages.len()),
        Err(e) => {
            eprintln!("kubeadm-manpages: {e}");
            std::process::exit(1);
        }
    }
}

//! `kubeadm-manpages OUTDIR`: writes kubeadm's man pages, one per command, for packaging
//! (`packaging/deb/build` runs it).

fn main() {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: kubeadm-manpages OUTDIR");
        std::process::exit(2);
    };
    match kubeadm::cli::manpages::write_all(std::path::Path::new(&out)) {
        Ok(pages) => println!("{} man pages written", pages.len()),
        Err(e) => {
            eprintln!("kubeadm-manpages: {e}");
            std::process::exit(1);
        }
    }
}

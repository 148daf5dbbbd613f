//! The `kubeadm` binary: parses the command line, hands over to the library, and turns the
//! outcome into an exit code (0 success, 1 failure, 2 usage error).

use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = kubeadm::cli::command().get_matches();
    match kubeadm::cli::run(&matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(clap_err) = e.downcast_ref::<clap::Error>() {
                let _ = clap_err.print();
                return ExitCode::from(2);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

//! The `kubeadm` binary: parses the command line, hands over to the library, and turns the
//! outcome into an exit code (0 success, 1 failure, 2 usage error, 128 + the
//! signal when Ctrl-C or SIGTERM stopped the run).

use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = match kubeadm::cli::parse(std::env::args_os()) {
        Ok(m) => m,
        Err(e) => e.exit(),
    };
    kubeadm::interrupt::install();
    match kubeadm::cli::run(&matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(clap_err) = e.downcast_ref::<clap::Error>() {
                let _ = clap_err.print();
                return ExitCode::from(2);
            }
            eprintln!("error: {}", kubeadm::output::bounded(&format!("{e:#}")));
            ExitCode::from(kubeadm::interrupt::exit_code().unwrap_or(1))
        }
    }
}

fn main() {
    std::process::exit(kubeadm_cluster::cli::main());
}

//! `testapiserver`: the test API server as a program, to start by hand and poke with
//! kubectl.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// A stand-in for kube-apiserver for kubeadm-rs's tests.
#[derive(Parser)]
#[command(name = "testapiserver")]
struct Args {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// The serving certificate (PEM).
    #[arg(long)]
    tls_cert_file: PathBuf,
    /// The serving certificate's key (PEM).
    #[arg(long)]
    tls_private_key_file: PathBuf,
    /// The CA client certificates are verified against.
    #[arg(long)]
    client_ca_file: PathBuf,
    /// The CA certificate kubelet client CSRs are signed with.
    #[arg(long)]
    signing_cert_file: Option<PathBuf>,
    /// The key of the signing CA.
    #[arg(long)]
    signing_key_file: Option<PathBuf>,
    /// A file the stored objects are written to (JSON) after every change.
    #[arg(long)]
    data_dump: Option<PathBuf>,
    /// Run without the controllers (bootstrap signer, token cleaner, CSR approver/signer).
    #[arg(long)]
    disable_controllers: bool,
    /// Keep the objects in etcd at these client URLs (comma-separated) instead of in
    /// memory only.
    #[arg(long, value_delimiter = ',')]
    etcd_servers: Vec<String>,
    /// The CA etcd's serving certificate is verified against.
    #[arg(long, requires = "etcd_servers")]
    etcd_cafile: Option<PathBuf>,
    /// The client certificate presented to etcd.
    #[arg(long, requires = "etcd_servers")]
    etcd_certfile: Option<PathBuf>,
    /// Its key.
    #[arg(long, requires = "etcd_servers")]
    etcd_keyfile: Option<PathBuf>,
    /// The prefix of the keys the objects are stored under.
    #[arg(long, default_value = testapiserver::etcd::DEFAULT_PREFIX)]
    etcd_prefix: String,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let server = testapiserver::TestApiServer::start(testapiserver::Config {
        listen: a.listen,
        tls_cert_file: a.tls_cert_file,
        tls_private_key_file: a.tls_private_key_file,
        client_ca_file: a.client_ca_file,
        signing_cert_file: a.signing_cert_file,
        signing_key_file: a.signing_key_file,
        data_dump: a.data_dump,
        run_controllers: !a.disable_controllers,
        etcd: (!a.etcd_servers.is_empty()).then_some(testapiserver::etcd::EtcdConfig {
            servers: a.etcd_servers,
            ca_file: a.etcd_cafile,
            cert_file: a.etcd_certfile,
            key_file: a.etcd_keyfile,
            prefix: a.etcd_prefix,
        }),
    })?;
    println!("testapiserver listening on {}", server.url());
    server.wait();
    Ok(())
}

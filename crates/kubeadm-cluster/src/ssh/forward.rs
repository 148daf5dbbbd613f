//! A local forward over a host's master connection: a Unix socket here that leads to a
//! TCP port on the host's loopback (etcd's client port, which need not be reachable
//! from this machine otherwise).

use std::path::{Path, PathBuf};

use openssh::{ForwardType, Socket};

use super::{error_text, Remote};

/// An open forward; [`Forward::close`] ends it (the master connection's end does too).
pub struct Forward {
    socket: PathBuf,
    host: String,
    port: u16,
}

impl Forward {
    /// The local end.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Ends the forward and removes its socket.
    pub async fn close(self, r: &Remote) {
        let _ = r
            .session
            .close_port_forward(
                ForwardType::Local,
                Socket::UnixSocket {
                    path: self.socket.as_path().into(),
                },
                Socket::TcpSocket {
                    host: self.host.as_str().into(),
                    port: self.port,
                },
            )
            .await;
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Remote {
    /// Forwards the Unix socket `socket` (made here; its directory should be private to
    /// this process) to `host:port` as seen from the host.
    pub async fn forward(&self, socket: &Path, host: &str, port: u16) -> anyhow::Result<Forward> {
        self.session
            .request_port_forward(
                ForwardType::Local,
                Socket::UnixSocket {
                    path: socket.into(),
                },
                Socket::TcpSocket {
                    host: host.into(),
                    port,
                },
            )
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}: cannot forward a local socket to {}:{port} on the host over SSH (is TCP forwarding allowed by its sshd?): {}",
                    self.name,
                    host,
                    error_text(&e)
                )
            })?;
        Ok(Forward {
            socket: socket.to_path_buf(),
            host: host.to_string(),
            port,
        })
    }
}

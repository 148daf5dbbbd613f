//! An etcd client over a Unix socket that leads to a member's client port (an SSH
//! forward of the member's loopback listener, say), with the TLS of the member's
//! loopback URL; and the member's own status, to tell whether it is healthy before
//! taking a snapshot from it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::Uri;

use super::EtcdClient;
use crate::grpc;

/// What a member says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// Its member id (from the answer's header).
    pub member_id: u64,
    /// The etcd version it runs.
    pub version: String,
    /// The size of its database file, in bytes.
    pub db_size: u64,
    /// The leader it follows (0: it knows none).
    pub leader: u64,
    /// The errors and alarms it reports.
    pub errors: Vec<String>,
    /// A learner (not voting).
    pub is_learner: bool,
}

impl MemberStatus {
    /// Why a snapshot should not be taken from this member, when it should not: it knows
    /// no leader (it is cut off from the quorum, its data may be stale), it reports
    /// errors, or it is a learner still catching up.
    pub fn unhealthy(&self) -> Option<String> {
        if self.leader == 0 {
            return Some("it knows no leader (no quorum)".into());
        }
        if !self.errors.is_empty() {
            return Some(format!("it reports errors: {}", self.errors.join("; ")));
        }
        if self.is_learner {
            return Some("it is a learner, still catching up".into());
        }
        None
    }
}

impl EtcdClient {
    /// Connects through the Unix socket `socket` to the member whose loopback client URL
    /// is `url` (`https://127.0.0.1:2379`): TLS checks the member's certificate against
    /// `ca` for that URL's address, with the client certificate and key given as PEM.
    pub fn connect_pem_unix(
        socket: &Path,
        url: &str,
        ca: &[u8],
        cert: &[u8],
        key: &[u8],
    ) -> Result<Self, String> {
        let rt = super::client_runtime()?;
        let connect_timeout = Duration::from_secs(10);
        let socket: PathBuf = socket.to_path_buf();
        let channel = rt.block_on(async {
            let ep = super::tls_endpoint(url, super::client_tls(ca, cert, key), connect_timeout)?;
            tokio::time::timeout(
                connect_timeout,
                ep.connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(
                            tokio::net::UnixStream::connect(socket).await?,
                        ))
                    }
                })),
            )
            .await
            .map_err(|_| format!("no answer within {connect_timeout:?}"))?
            .map_err(|e| grpc::error_chain(&e))
        })?;
        Ok(EtcdClient {
            rt,
            channel,
            endpoint: url.to_string(),
            timeout: Duration::from_secs(10),
        })
    }

    /// The status of the member this client talks to.
    pub fn status(&mut self) -> anyhow::Result<MemberStatus> {
        let r: super::api::StatusResponse = self
            .call(super::api::maintenance::STATUS, super::api::Empty {})
            .map_err(super::status_error)
            .map_err(|e| anyhow::anyhow!("the status of etcd at {}: {e}", self.endpoint))?;
        Ok(MemberStatus {
            member_id: r.header.map(|h| h.member_id).unwrap_or_default(),
            version: r.version,
            db_size: u64::try_from(r.db_size).unwrap_or(0),
            leader: r.leader,
            errors: r.errors,
            is_learner: r.is_learner,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_status_decodes_with_the_api_field_numbers() {
        #[rustfmt::skip]
        let wire: &[u8] = &[
            0x12, 5, b'3', b'.', b'5', b'.', b'1', // 2: version
            0x18, 0x80, 0x02,                      // 3: dbSize = 256
            0x20, 7,                               // 4: leader
            0x42, 3, b'N', b'O', b'S',             // 8: errors
            0x50, 1,                               // 10: isLearner
        ];
        let r = super::super::api::StatusResponse::decode(wire).unwrap();
        assert_eq!(r.version, "3.5.1");
        assert_eq!(r.db_size, 256);
        assert_eq!(r.leader, 7);
        assert_eq!(r.errors, ["NOS"]);
        assert!(r.is_learner);
    }

    #[test]
    fn a_member_without_a_leader_or_with_errors_is_unhealthy() {
        let mut s = MemberStatus {
            member_id: 1,
            version: "3.5.1".into(),
            db_size: 1,
            leader: 9,
            errors: vec![],
            is_learner: false,
        };
        assert_eq!(s.unhealthy(), None);
        s.leader = 0;
        assert!(s.unhealthy().unwrap().contains("no leader"));
        s.leader = 9;
        s.errors = vec!["NOSPACE".into()];
        assert!(s.unhealthy().unwrap().contains("NOSPACE"));
    }
}

//! The etcd v3 cluster API as kubeadm uses it to add a control-plane node's member: list
//! the members, add the new one as a learner, promote it once it has caught up. TLS with
//! the etcd CA and a client certificate (the healthcheck client's, as upstream).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::host::Host;
use crate::manifests::etcd::Member;

/// An etcd member as the cluster API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdMember {
    /// Member id.
    pub id: u64,
    /// Its name; empty until the member has started.
    pub name: String,
    /// Peer URLs.
    pub peer_urls: Vec<String>,
    /// Client URLs; empty until it has started.
    pub client_urls: Vec<String>,
    /// Whether it is a learner (a non-voting member).
    pub is_learner: bool,
}

/// A client of an etcd cluster.
pub struct EtcdClient {
    rt: tokio::runtime::Runtime,
    client: etcd_client::Client,
    endpoints: Vec<String>,
}

impl EtcdClient {
    /// Connects to `endpoints` with the CA and client certificate files on the host.
    pub fn connect(
        host: &dyn Host,
        endpoints: &[String],
        ca: &Path,
        cert: &Path,
        key: &Path,
    ) -> anyhow::Result<Self> {
        let read = |p: &Path| {
            host.read(p)
                .with_context(|| format!("reading {}", p.display()))
        };
        let tls = etcd_client::TlsOptions::new()
            .ca_certificate(etcd_client::Certificate::from_pem(read(ca)?))
            .identity(etcd_client::Identity::from_pem(read(cert)?, read(key)?));
        let options = etcd_client::ConnectOptions::new()
            .with_tls(tls)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(10));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = rt
            .block_on(etcd_client::Client::connect(endpoints, Some(options)))
            .with_context(|| format!("connecting to etcd at {}", endpoints.join(",")))?;
        Ok(EtcdClient {
            rt,
            client,
            endpoints: endpoints.to_vec(),
        })
    }

    fn convert(m: &etcd_client::Member) -> EtcdMember {
        EtcdMember {
            id: m.id(),
            name: m.name().to_string(),
            peer_urls: m.peer_urls().to_vec(),
            client_urls: m.client_urls().to_vec(),
            is_learner: m.is_learner(),
        }
    }

    /// The members.
    pub fn member_list(&mut self) -> anyhow::Result<Vec<EtcdMember>> {
        let r = self
            .rt
            .block_on(self.client.member_list())
            .with_context(|| format!("listing the etcd members at {}", self.endpoints.join(",")))?;
        Ok(r.members().iter().map(Self::convert).collect())
    }

    /// Adds a learner with the peer URL (or finds the member that already has it, for a
    /// re-run); returns its id.
    pub fn add_learner(&mut self, peer_url: &str) -> anyhow::Result<u64> {
        if let Some(m) = self
            .member_list()?
            .into_iter()
            .find(|m| m.peer_urls.iter().any(|u| u == peer_url))
        {
            return Ok(m.id);
        }
        let options = etcd_client::MemberAddOptions::new().with_is_learner();
        let r = self
            .rt
            .block_on(
                self.client
                    .member_add(vec![peer_url.to_string()], Some(options)),
            )
            .with_context(|| format!("adding the etcd learner {peer_url}"))?;
        r.member()
            .map(|m| m.id())
            .context("etcd did not return the added member")
    }

    /// Promotes a learner, retrying while it catches up, until `timeout`.
    pub fn promote(&mut self, id: u64, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            match self.rt.block_on(self.client.member_promote(id)) {
                Ok(_) => return Ok(()),
                Err(e) if start.elapsed() < timeout => {
                    tracing::debug!("promoting etcd member {id:x}: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("the etcd learner {id:x} was not promoted within {}: is the new etcd member running and reachable on its peer URL?", crate::duration::format_duration(timeout))
                    })
                }
            }
        }
    }

    /// Removes a member.
    pub fn remove(&mut self, id: u64) -> anyhow::Result<()> {
        self.rt
            .block_on(self.client.member_remove(id))
            .with_context(|| format!("removing the etcd member {id:x}"))?;
        Ok(())
    }
}

/// The `initial-cluster` members for a new member: the started members with their names
/// and first peer URL, and the new member itself.
pub fn initial_cluster(members: &[EtcdMember], name: &str, peer_url: &str) -> Vec<Member> {
    let mut out: Vec<Member> = members
        .iter()
        .filter(|m| !m.peer_urls.iter().any(|u| u == peer_url))
        .filter(|m| !m.name.is_empty())
        .filter_map(|m| {
            m.peer_urls.first().map(|u| Member {
                name: m.name.clone(),
                peer_url: u.clone(),
            })
        })
        .collect();
    out.push(Member {
        name: name.to_string(),
        peer_url: peer_url.to_string(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_cluster_lists_started_members_then_the_new_one() {
        let members = vec![
            EtcdMember {
                id: 1,
                name: "cp-1".into(),
                peer_urls: vec!["https://10.0.0.1:2380".into()],
                client_urls: vec![],
                is_learner: false,
            },
            EtcdMember {
                id: 2,
                name: String::new(),
                peer_urls: vec!["https://10.0.0.2:2380".into()],
                client_urls: vec![],
                is_learner: true,
            },
        ];
        let ic = initial_cluster(&members, "cp-2", "https://10.0.0.2:2380");
        assert_eq!(
            ic,
            vec![
                Member {
                    name: "cp-1".into(),
                    peer_url: "https://10.0.0.1:2380".into()
                },
                Member {
                    name: "cp-2".into(),
                    peer_url: "https://10.0.0.2:2380".into()
                },
            ]
        );
    }
}

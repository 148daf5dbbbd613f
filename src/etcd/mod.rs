//! The etcd v3 API as kubeadm uses it: list the members, add a joining control plane's
//! member as a learner and promote it once it has caught up, remove a member on reset,
//! take a snapshot before an upgrade. gRPC over TLS with the etcd CA and a client
//! certificate (the healthcheck client's, as upstream).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::grpc;
use crate::host::Host;

pub mod api;
mod tunnel;
use crate::manifests::etcd::Member;
pub use tunnel::MemberStatus;

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

/// A client of an etcd cluster, over etcd's v3 gRPC API with TLS.
pub struct EtcdClient {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    endpoint: String,
    timeout: Duration,
}

impl EtcdClient {
    /// Connects to the first of `endpoints` that answers, with the CA and client
    /// certificate files on the host.
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
        Self::connect_pem(endpoints, &read(ca)?, &read(cert)?, &read(key)?).map_err(|failures| {
            anyhow::anyhow!(
                "connecting to etcd: no endpoint answered ({failures}); is etcd running, and are {} and {} signed by {}?",
                cert.display(),
                key.display(),
                ca.display()
            )
        })
    }

    /// Connects to the first of `endpoints` that answers, with the CA, client certificate
    /// and key given as PEM (read elsewhere than on this machine); fails with each
    /// endpoint's reason.
    pub fn connect_pem(
        endpoints: &[String],
        ca: &[u8],
        cert: &[u8],
        key: &[u8],
    ) -> Result<Self, String> {
        let tls = client_tls(ca, cert, key);
        let rt = client_runtime()?;
        let connect_timeout = Duration::from_secs(5);
        let mut failures = Vec::new();
        for endpoint in endpoints {
            let attempt = rt.block_on(async {
                let ep = tls_endpoint(endpoint, tls.clone(), connect_timeout)?;
                tokio::time::timeout(connect_timeout, ep.connect())
                    .await
                    .map_err(|_| format!("no answer within {connect_timeout:?}"))?
                    .map_err(|e| grpc::error_chain(&e))
            });
            match attempt {
                Ok(channel) => {
                    return Ok(EtcdClient {
                        rt,
                        channel,
                        endpoint: endpoint.clone(),
                        timeout: Duration::from_secs(10),
                    })
                }
                Err(e) => failures.push(format!("{endpoint}: {e}")),
            }
        }
        Err(if failures.is_empty() {
            "none given".to_string()
        } else {
            failures.join("; ")
        })
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn call<Req, Resp>(&self, path: &'static str, req: Req) -> Result<Resp, tonic::Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let timeout = self.timeout;
        self.rt
            .block_on(async {
                tokio::time::timeout(timeout, grpc::unary(&self.channel, path, req)).await
            })
            .unwrap_or_else(|_| {
                Err(tonic::Status::deadline_exceeded(format!(
                    "no answer within {timeout:?}"
                )))
            })
    }

    /// The members.
    pub fn member_list(&mut self) -> anyhow::Result<Vec<EtcdMember>> {
        let r: api::MembersResponse = self
            .call(
                api::cluster::MEMBER_LIST,
                api::MemberListRequest { linearizable: true },
            )
            .map_err(status_error)
            .with_context(|| format!("listing the etcd members at {}", self.endpoint))?;
        members_of(r).with_context(|| format!("the etcd member list from {}", self.endpoint))
    }

    /// The members as the member this client talks to knows them, without asking the
    /// leader: it answers while the cluster has lost its quorum, which is what a caller
    /// counting the members that still answer needs.
    pub fn member_list_local(&mut self) -> anyhow::Result<Vec<EtcdMember>> {
        let r: api::MembersResponse = self
            .call(
                api::cluster::MEMBER_LIST,
                api::MemberListRequest {
                    linearizable: false,
                },
            )
            .map_err(status_error)
            .with_context(|| format!("listing the etcd members at {}", self.endpoint))?;
        members_of(r).with_context(|| format!("the etcd member list from {}", self.endpoint))
    }

    /// Adds a learner with the peer URL (or finds the member that already has it, for a
    /// re-run); returns its id. etcd refuses member changes for a few seconds after a
    /// member started ("unhealthy cluster"): such refusals are retried for up to half a
    /// minute, each retry looking for the member first (an add whose answer was lost has
    /// still added it).
    pub fn add_learner(&mut self, peer_url: &str) -> anyhow::Result<u64> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut pause = Duration::from_millis(200);
        loop {
            if let Some(m) = self
                .member_list()?
                .into_iter()
                .find(|m| m.peer_urls.iter().any(|u| u == peer_url))
            {
                return Ok(m.id);
            }
            match self.call::<_, api::MemberAddResponse>(
                api::cluster::MEMBER_ADD,
                api::MemberAddRequest {
                    peer_urls: vec![peer_url.to_string()],
                    is_learner: true,
                },
            ) {
                Ok(r) => {
                    return r
                        .member
                        .map(|m| m.id)
                        .context("etcd did not return the added member")
                }
                Err(e)
                    if matches!(
                        e.code(),
                        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
                    ) && Instant::now() + pause < deadline =>
                {
                    tracing::debug!(
                        "adding the etcd learner {peer_url}: {}; retrying",
                        e.message()
                    );
                    crate::interrupt::sleep(pause)?;
                    pause = (pause * 2).min(Duration::from_secs(3));
                }
                Err(e) => {
                    return Err(status_error(e))
                        .with_context(|| format!("adding the etcd learner {peer_url}"))
                }
            }
        }
    }

    /// Waits until the member has started (the member list then gives its name), as
    /// upstream waits before promoting a learner since #136014: a learner that never
    /// started cannot catch up, and promoting it only fails later.
    pub fn wait_started(&mut self, id: u64, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let mut poll = crate::interrupt::Poll::new();
        loop {
            let last = match self.member_list() {
                Ok(members) => match members.iter().find(|m| m.id == id) {
                    None => anyhow::bail!(
                        "the etcd member {id:x} is no longer in the cluster's member list"
                    ),
                    Some(m) if !m.name.is_empty() => return Ok(()),
                    Some(_) => "not started yet".to_string(),
                },
                Err(e) => format!("{e:#}"),
            };
            if start.elapsed() >= timeout {
                anyhow::bail!(
                    "the etcd learner {id:x} did not start within {} (last: {last}): is this node's etcd static Pod running? See the kubelet's log and the etcd container's log",
                    crate::duration::format_duration(timeout)
                );
            }
            tracing::debug!("etcd member {id:x}: {last}; waiting");
            poll.pause()?;
        }
    }

    /// Promotes a learner, retrying while it catches up, until `timeout`. After a failed
    /// call the member list decides: a member that already votes is done (a promotion that
    /// succeeded but whose answer was lost, upstream's #139842, or one promoted by an
    /// earlier run, #130782).
    pub fn promote(&mut self, id: u64, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let mut poll = crate::interrupt::Poll::new();
        loop {
            let e = match self.call::<_, api::MembersResponse>(
                api::cluster::MEMBER_PROMOTE,
                api::MemberIdRequest { id },
            ) {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            match self.member_list() {
                Ok(members) => match members.iter().find(|m| m.id == id) {
                    Some(m) if !m.is_learner => {
                        tracing::debug!(
                            "promoting etcd member {id:x}: {}; it is a voting member already",
                            e.message()
                        );
                        return Ok(());
                    }
                    Some(_) => {}
                    None => {
                        return Err(status_error(e)).with_context(|| {
                            format!(
                                "the etcd learner {id:x} is no longer in the cluster's member list"
                            )
                        })
                    }
                },
                Err(l) => {
                    tracing::debug!("listing the etcd members after a failed promotion: {l:#}")
                }
            }
            if start.elapsed() >= timeout {
                return Err(status_error(e)).with_context(|| {
                    format!("the etcd learner {id:x} was not promoted within {}: is the new etcd member running and reachable on its peer URL?", crate::duration::format_duration(timeout))
                });
            }
            tracing::debug!("promoting etcd member {id:x}: {}; retrying", e.message());
            poll.pause()?;
        }
    }

    /// Removes a member. etcd refuses while the cluster has not been healthy for a few
    /// seconds ("unhealthy cluster", just after a member started): such refusals are
    /// retried with backoff for up to half a minute, as upstream's etcd client does.
    pub fn remove(&mut self, id: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut pause = Duration::from_millis(100);
        loop {
            match self.call::<_, api::MembersResponse>(
                api::cluster::MEMBER_REMOVE,
                api::MemberIdRequest { id },
            ) {
                Ok(_) => return Ok(()),
                Err(e)
                    if matches!(
                        e.code(),
                        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
                    ) && Instant::now() + pause < deadline =>
                {
                    tracing::debug!("removing etcd member {id:x}: {}; retrying", e.message());
                    crate::interrupt::sleep(pause)?;
                    pause = (pause * 2).min(Duration::from_secs(3));
                }
                Err(e) => {
                    return Err(status_error(e))
                        .with_context(|| format!("removing the etcd member {id:x}"))
                }
            }
        }
    }

    /// Streams a snapshot of the member's database into `out`; returns its size. A
    /// snapshot cut short is an error, so the caller can discard what it wrote.
    pub fn snapshot(&mut self, out: &mut dyn std::io::Write) -> anyhow::Result<u64> {
        let endpoint = self.endpoint.clone();
        let channel = self.channel.clone();
        self.rt
            .block_on(async {
                let mut stream = grpc::server_streaming::<_, api::SnapshotResponse>(
                    &channel,
                    api::maintenance::SNAPSHOT,
                    api::Empty {},
                )
                .await?;
                let mut total = 0u64;
                // The database in chunks, then its SHA-256 in a last message of its own:
                // read to the end of the stream, so the file is what `etcdutl snapshot
                // restore` checks.
                while let Some(chunk) = stream.message().await? {
                    total += chunk.blob.len() as u64;
                    out.write_all(&chunk.blob).map_err(|e| {
                        tonic::Status::internal(format!("writing the snapshot: {e}"))
                    })?;
                }
                Ok::<_, tonic::Status>(total)
            })
            .map_err(status_error)
            .with_context(|| format!("taking a snapshot of etcd at {endpoint}"))
    }
}

/// An etcd cluster's health as upstream judges it since v1.37 (#138403, backported): the
/// cluster is healthy while a quorum of its voting members answers, so a cluster of five
/// with two members down still takes a new control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterHealth {
    /// Voting members (not learners) in the member list.
    pub voting: usize,
    /// Voting members that answered their status.
    pub healthy_voting: usize,
    /// Voting members that did not answer, each with why.
    pub unhealthy: Vec<String>,
}

impl ClusterHealth {
    /// Whether more than half of the voting members answered.
    pub fn has_quorum(&self) -> bool {
        self.voting > 0 && self.healthy_voting > self.voting / 2
    }
}

/// The cluster's health as upstream's client sees it, its endpoints synced with the
/// member list: the member list comes from the first of `endpoints` that answers (each
/// endpoint tried once a round, rounds every half second for up to `retry_for`, so an
/// endpoint nothing answers on, such as the etcd Pod a reset node left behind, costs one
/// attempt a round rather than the whole wait), then each voting member is asked for its
/// status at its own client URLs, in rounds until all answered, or a quorum answered and
/// the others failed twice, or `retry_for` ran out. An error when no member answers at
/// all, or when fewer than a quorum of the voting members answer; the voting members that
/// did not answer, in a cluster that keeps its quorum, are in the result for the caller
/// to report.
pub fn check_cluster_health(
    endpoints: &[String],
    ca: &[u8],
    cert: &[u8],
    key: &[u8],
    retry_for: Duration,
) -> anyhow::Result<ClusterHealth> {
    let deadline = Instant::now() + retry_for;
    let pause = Duration::from_millis(500);
    // The last failure at each URL asked.
    let mut failures: Vec<(String, String)> = Vec::new();
    fn failed(failures: &mut Vec<(String, String)>, url: &str, e: anyhow::Error) {
        failures.retain(|(u, _)| u != url);
        failures.push((url.to_string(), format!("{e:#}")));
    }
    let connect = |url: &str| {
        EtcdClient::connect_pem(&[url.to_string()], ca, cert, key).map_err(|e| anyhow::anyhow!(e))
    };
    let members = 'found: loop {
        for endpoint in endpoints {
            // Not linearizable: a member that lost its quorum still says who the voters
            // are.
            match connect(endpoint).and_then(|mut c| c.member_list_local()) {
                Ok(m) => break 'found m,
                Err(e) => {
                    tracing::debug!("etcd member list from {endpoint}: {e:#}");
                    failed(&mut failures, endpoint, e);
                }
            }
        }
        if Instant::now() + pause >= deadline {
            anyhow::bail!(
                "no etcd member answered: {}; is etcd running on the control-plane nodes?",
                if failures.is_empty() {
                    "no endpoint to ask".to_string()
                } else {
                    failures
                        .iter()
                        .map(|(_, e)| e.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                }
            );
        }
        crate::interrupt::sleep(pause)?;
    };
    let voting: Vec<&EtcdMember> = members.iter().filter(|m| !m.is_learner).collect();
    let mut healthy = std::collections::BTreeSet::new();
    let mut rounds_with_quorum = 0;
    loop {
        for m in &voting {
            if healthy.contains(&m.id) {
                continue;
            }
            for url in &m.client_urls {
                match connect(url).and_then(|mut c| c.status()) {
                    Ok(status) if !status.is_learner => {
                        healthy.insert(status.member_id);
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("etcd status at {url}: {e:#}");
                        failed(&mut failures, url, e);
                    }
                }
            }
        }
        let answered = voting.iter().filter(|m| healthy.contains(&m.id)).count();
        if answered > voting.len() / 2 {
            rounds_with_quorum += 1;
        }
        if answered == voting.len() || rounds_with_quorum >= 2 || Instant::now() + pause >= deadline
        {
            break;
        }
        crate::interrupt::sleep(pause)?;
    }
    let unhealthy: Vec<String> = voting
        .iter()
        .filter(|m| !healthy.contains(&m.id))
        .map(|m| {
            let who = format!(
                "{} ({})",
                if m.name.is_empty() {
                    "not started"
                } else {
                    &m.name
                },
                m.peer_urls.join(",")
            );
            let why: Vec<&str> = failures
                .iter()
                .filter(|(ep, _)| m.client_urls.contains(ep))
                .map(|(_, e)| e.as_str())
                .collect();
            if why.is_empty() {
                format!("{who}: did not answer")
            } else {
                format!("{who}: {}", why.join("; "))
            }
        })
        .collect();
    let health = ClusterHealth {
        voting: voting.len(),
        healthy_voting: voting.iter().filter(|m| healthy.contains(&m.id)).count(),
        unhealthy,
    };
    if !health.has_quorum() {
        anyhow::bail!(
            "the etcd cluster has no quorum: {} of its {} voting members answered (a quorum needs {}); not answering: {}",
            health.healthy_voting,
            health.voting,
            health.voting / 2 + 1,
            health.unhealthy.join("; ")
        );
    }
    Ok(health)
}

/// The TLS of kubeadm's etcd clients: the etcd CA, and a client certificate and key (PEM).
fn client_tls(ca: &[u8], cert: &[u8], key: &[u8]) -> ClientTlsConfig {
    ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .identity(Identity::from_pem(cert, key))
}

/// The runtime a client blocks on, its own.
fn client_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// `url` as an endpoint reached with `tls`, connecting for at most `timeout`.
fn tls_endpoint(url: &str, tls: ClientTlsConfig, timeout: Duration) -> Result<Endpoint, String> {
    Ok(Endpoint::from_shared(url.to_string())
        .map_err(|e| e.to_string())?
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(timeout))
}

fn status_error(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", s.code(), s.message())
}

/// The members of a member-list answer, each checked before kubeadm writes it into a
/// manifest's `--initial-cluster`: a name without `,` `=` or control characters, and
/// `http(s)://host:port` URLs without them either.
pub fn members_of(r: api::MembersResponse) -> anyhow::Result<Vec<EtcdMember>> {
    fn plain(s: &str) -> bool {
        !s.chars()
            .any(|c| c == ',' || c == '=' || c.is_control() || c.is_whitespace())
    }
    fn url_ok(u: &str) -> bool {
        plain(u)
            && u.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https")
                    && crate::config::split_host_port(rest.trim_end_matches('/'))
                        .1
                        .is_some()
            })
    }
    r.members
        .into_iter()
        .map(|m| {
            if m.name.len() > 253 || !plain(&m.name) {
                anyhow::bail!(
                    "member {:x} has a name etcd would not give: {:?}",
                    m.id,
                    m.name
                );
            }
            if let Some(u) = m
                .peer_urls
                .iter()
                .chain(&m.client_urls)
                .find(|u| !url_ok(u))
            {
                anyhow::bail!(
                    "member {:x} ({}) has a URL that is not http(s)://host:port: {u:?}",
                    m.id,
                    m.name
                );
            }
            Ok(EtcdMember {
                id: m.id,
                name: m.name,
                peer_urls: m.peer_urls,
                client_urls: m.client_urls,
                is_learner: m.is_learner,
            })
        })
        .collect()
}

/// The client URLs of the cluster's stacked etcd members, from the annotation of the
/// etcd static Pods' mirror Pods, as upstream's `NewFromCluster`.
pub fn cluster_endpoints(api: &dyn crate::client::Api) -> anyhow::Result<Vec<String>> {
    let pods = api
        .call(
            "GET",
            "/api/v1/namespaces/kube-system/pods?labelSelector=component%3Detcd%2Ctier%3Dcontrol-plane",
            None,
            "application/json",
        )
        .map_err(|e| anyhow::anyhow!(e))
        .context("listing the etcd Pods")?;
    let endpoints: Vec<String> = pods["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|p| {
                    p["metadata"]["annotations"]
                        [crate::manifests::etcd::ADVERTISE_CLIENT_URLS_ANNOTATION]
                        .as_str()
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if endpoints.is_empty() {
        anyhow::bail!("no etcd Pod of the cluster has the {:?} annotation: is the existing control plane's kubelet running its static Pods?", crate::manifests::etcd::ADVERTISE_CLIENT_URLS_ANNOTATION);
    }
    Ok(endpoints)
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

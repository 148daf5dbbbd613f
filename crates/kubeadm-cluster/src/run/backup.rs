//! `backup`: one archive (see [`crate::archive`]) holding what `restore` needs to bring
//! the cluster back: an etcd snapshot taken through etcd's API from a healthy member,
//! the cluster's CAs with their keys, the service-account key pair, and the
//! kubeadm-config and kubelet-config ConfigMaps.
//!
//! The snapshot is taken from this machine over an SSH forward to the member's loopback
//! client port, with the etcd CA and the healthcheck client's certificate and key read
//! over SSH and kept in memory: etcd's client port need not be reachable from here (a
//! firewall commonly keeps it to the control planes), the stream is TLS end to end
//! inside SSH, the member's certificate is checked for the loopback address kubeadm
//! puts in it, and the forward's socket lives in this run's private directory, so no
//! other user of this machine can reach it. No key is written anywhere but into the
//! archive, and nothing secret is printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kubeadm::client::Api;

use super::observe::{connect_all, find_cluster, Node};
use super::{cluster, execute::close_all, say_as, Settings};
use crate::archive::{self, Kind, Sha256, SnapshotFile, ENTRIES};
use crate::spec::{Cluster, Host, Role};
use crate::ssh::{quote, Remote};

/// Where kubeadm keeps the cluster's certificates, unless the ClusterConfiguration says.
pub(super) const DEFAULT_CERTIFICATES_DIR: &str = "/etc/kubernetes/pki";

/// The certificates directory of the cluster the file describes.
pub(super) fn certificates_dir(c: &Cluster) -> String {
    c.kubeadm
        .cluster
        .as_ref()
        .map(|cc| cc.certificates_dir.trim_end_matches('/').to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| DEFAULT_CERTIFICATES_DIR.to_string())
}

/// Whether the file's cluster runs an external etcd (not kubeadm's, not backed up here).
pub(super) fn external_etcd(c: &Cluster) -> bool {
    c.kubeadm
        .cluster
        .as_ref()
        .is_some_and(|cc| cc.etcd.external.is_some())
}

/// What `backup` wrote.
#[derive(Debug)]
pub struct Written {
    /// The archive.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// The snapshot's size.
    pub snapshot_size: u64,
    /// The host whose etcd member the snapshot was taken from.
    pub member_host: String,
}

/// `kubeadm-cluster backup`: writes the archive at `out`.
pub async fn backup(c: &Cluster, s: &Settings, out: &Path) -> anyhow::Result<Written> {
    if external_etcd(c) {
        anyhow::bail!(
            "{}: the cluster's etcd is external (ClusterConfiguration etcd.external): back it up with its own tools; kubeadm-cluster backs up the etcd kubeadm runs on the control planes",
            c.file
        );
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "-o {}: the directory {} does not exist",
            out.display(),
            dir.display()
        );
    }
    if out.is_dir() {
        anyhow::bail!(
            "-o {}: a directory; give the archive's file name",
            out.display()
        );
    }
    let mut nodes = connect_all(c, s).await;
    let r = take(c, s, &nodes, out, dir).await;
    close_all(&mut nodes).await;
    r
}

async fn take(
    c: &Cluster,
    s: &Settings,
    nodes: &[Node],
    out: &Path,
    dir: &Path,
) -> anyhow::Result<Written> {
    let facts: Vec<_> = nodes.iter().map(|n| n.facts.as_ref()).collect();
    let found = find_cluster(c, &facts);
    let (Some(pin), Some(primary)) = (&found.pin, nodes[found.primary].remote.clone()) else {
        anyhow::bail!(
            "no control plane of {} holds a cluster (admin.conf, the API server's manifest and the CA): there is nothing to back up",
            c.file
        );
    };
    let who = label(&nodes[found.primary].host);
    let pki = certificates_dir(c);
    let mut files: BTreeMap<&'static str, Vec<u8>> = BTreeMap::new();
    for e in ENTRIES.iter() {
        if let Some((file, _)) = e.pki {
            let data = read_bounded(&primary, &format!("{pki}/{file}")).await?;
            files.insert(e.name, data);
        }
    }
    let ca_pin = kubeadm::pki::public_key_pin_pem(&files["pki/ca.crt"])
        .map_err(|e| anyhow::anyhow!("{who}: {pki}/ca.crt: {e}"))?;
    if &ca_pin != pin {
        anyhow::bail!("{who}: {pki}/ca.crt changed while it was read; run the backup again");
    }
    say_as(
        "backup",
        format_args!("read the CAs and the service-account keys from {who} ({pki})"),
    );
    let admin = cluster::read_file(&primary, cluster::ADMIN_CONF).await?;
    let configmaps = tokio::task::spawn_blocking(move || {
        let (client, server) = cluster::admin_client(&admin)?;
        let mut out = Vec::new();
        for e in ENTRIES.iter() {
            if let Kind::ConfigMap(name) = e.kind {
                let path = format!("/api/v1/namespaces/kube-system/configmaps/{name}");
                let v = client
                    .call("GET", &path, None, "application/json")
                    .map_err(|err| anyhow::anyhow!("GET {path} from {server}: {err}"))?;
                out.push((e.name, serde_json::to_vec_pretty(&v)?));
            }
        }
        anyhow::Ok(out)
    })
    .await??;
    for (name, data) in configmaps {
        files.insert(name, data);
    }
    say_as(
        "backup",
        "read the kubeadm-config and kubelet-config ConfigMaps",
    );

    // The snapshot: from the first control plane's member when it is healthy, else from
    // the next control plane's.
    let mut order: Vec<usize> = vec![found.primary];
    order.extend(
        nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| *i != found.primary && n.host.role == Role::ControlPlane)
            .map(|(i, _)| i),
    );
    let mut failures = Vec::new();
    let mut taken = None;
    for i in order {
        let n = &nodes[i];
        let Some(r) = n.remote.clone() else {
            failures.push(format!("{}: not reachable", label(&n.host)));
            continue;
        };
        match snapshot_from(c, s, &n.host, r, &pki, dir).await {
            Ok(t) => {
                taken = Some((label(&n.host), t));
                break;
            }
            Err(e) => {
                let why = format!("{}: {e:#}", label(&n.host));
                say_as("backup", format_args!("no snapshot from {why}"));
                failures.push(why);
            }
        }
    }
    let Some((member_host, (snap, version))) = taken else {
        anyhow::bail!(
            "no healthy etcd member gave a snapshot: {}",
            failures.join("; ")
        );
    };
    let created = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    archive::write(
        out,
        &created,
        Some(&version),
        &files,
        &SnapshotFile {
            path: snap.file.path(),
            size: snap.size,
            sha256: snap.sha256.clone(),
        },
    )?;
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(Written {
        path: out.to_path_buf(),
        size,
        snapshot_size: snap.size,
        member_host,
    })
}

fn label(h: &Host) -> String {
    super::label(h)
}

/// The largest PKI file read from a host.
const MAX_PKI_FILE: usize = 64 * 1024;

/// The file at `path` on the host; a file larger than any certificate or key is refused.
async fn read_bounded(r: &Remote, path: &str) -> anyhow::Result<Vec<u8>> {
    let out = r
        .run(
            &format!("head -c {} {}", MAX_PKI_FILE + 1, quote(path)),
            None,
        )
        .await?;
    if !out.success() {
        anyhow::bail!("{}: cannot read {path}: {}", r.name, out.tail(2));
    }
    if out.stdout.len() > MAX_PKI_FILE {
        anyhow::bail!(
            "{}: {path} is larger than {MAX_PKI_FILE} bytes: not a certificate or key",
            r.name
        );
    }
    Ok(out.stdout)
}

/// A snapshot written to a temporary file (0600, beside the archive), with its size and
/// SHA-256.
struct Snapshot {
    file: tempfile::NamedTempFile,
    size: u64,
    sha256: String,
}

/// Writes to a file and hashes what it writes.
struct Hashing<'a> {
    file: &'a mut std::fs::File,
    sha: Sha256,
    size: u64,
}

impl std::io::Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.sha.update(&buf[..n]);
        self.size += n as u64;
        if self.size > archive::MAX_SNAPSHOT {
            return Err(std::io::Error::other(format!(
                "the snapshot is larger than {} bytes, more than a backup holds",
                archive::MAX_SNAPSHOT
            )));
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The loopback address etcd listens on beside `h`'s advertise address (kubeadm's
/// manifest: 127.0.0.1, or ::1 for an IPv6 node).
fn loopback(c: &Cluster, h: &Host) -> &'static str {
    let given = crate::documents::advertise_address(h).or_else(|| {
        c.kubeadm
            .init
            .as_ref()
            .map(|i| i.local_api_endpoint.advertise_address.clone())
    });
    match given.and_then(|a| a.parse::<std::net::IpAddr>().ok()) {
        Some(a) if a.is_ipv6() => "::1",
        _ => "127.0.0.1",
    }
}

/// A snapshot of the etcd member on host `h`, through a forward to its loopback client
/// port, when the member is healthy; with the member's etcd version.
async fn snapshot_from(
    c: &Cluster,
    s: &Settings,
    h: &Host,
    r: Arc<Remote>,
    pki: &str,
    dir: &Path,
) -> anyhow::Result<(Snapshot, String)> {
    let ca = read_bounded(&r, &format!("{pki}/etcd/ca.crt")).await?;
    let cert = read_bounded(&r, &format!("{pki}/etcd/healthcheck-client.crt")).await?;
    let key = read_bounded(&r, &format!("{pki}/etcd/healthcheck-client.key")).await?;
    let local = loopback(c, h);
    let port = kubeadm::manifests::etcd::CLIENT_PORT;
    let socket = s
        .ssh
        .control_dir
        .join(format!("etcd-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let forward = r.forward(&socket, local, port).await?;
    let url = format!("https://{}", kubeadm::config::join_host_port(local, port));
    let sock = forward.socket().to_path_buf();
    let file = tempfile::Builder::new()
        .prefix(".etcd-snapshot.")
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("a temporary file in {}: {e}", dir.display()))?;
    let mut handle = file.reopen()?;
    let name = label(h);
    let taken = tokio::task::spawn_blocking(move || {
        let mut etcd = kubeadm::etcd::EtcdClient::connect_pem_unix(&sock, &url, &ca, &cert, &key)
            .map_err(|why| anyhow::anyhow!("etcd at {url} does not answer: {why}"))?;
        let status = etcd.status()?;
        if let Some(why) = status.unhealthy() {
            anyhow::bail!("its etcd member is not healthy: {why}");
        }
        say_as(
            "backup",
            format_args!(
                "taking an etcd snapshot from the member on {name} (etcd {}, database {} bytes)",
                status.version, status.db_size
            ),
        );
        let mut w = Hashing {
            file: &mut handle,
            sha: Sha256::default(),
            size: 0,
        };
        etcd.snapshot(&mut w)?;
        let (size, sha) = (w.size, w.sha.hex());
        handle.sync_all()?;
        anyhow::Ok((size, sha, status.version))
    })
    .await;
    forward.close(&r).await;
    let (size, sha256, version) = taken??;
    Ok((Snapshot { file, size, sha256 }, version))
}

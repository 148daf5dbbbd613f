//! `restore`: the cluster of a backup brought back on clean hosts. The archive is read
//! and verified whole first (checksums, names, sizes, kinds: see [`crate::archive`]),
//! then the hosts are observed and planned as `apply` would build them (init on the
//! first control plane, the other control planes joined one at a time, the workers in
//! parallel); a host holding kubeadm's files refuses the restore before anything
//! changes, as a restore over a live cluster would mix two. Right before `kubeadm init`
//! the first control plane gets the backup's CAs and keys under the certificates
//! directory (with kubeadm's modes) and the snapshot restored into the etcd data
//! directory by `etcdutl snapshot restore`, as a one-member cluster whose member is the
//! one kubeadm's etcd manifest describes for that node (its name, peer URL and initial
//! cluster); init then keeps the existing CAs and starts etcd on the restored data.
//!
//! etcdutl is the host's own: the first on root's PATH that runs (`etcdutl version`);
//! the etcd image's etcdutl through the container runtime is not used, so a host
//! without etcdutl fails with that said, before kubeadm init.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::backup::{certificates_dir, external_etcd};
use super::{say, Planned};
use crate::archive::{self, Backup, Kind, ENTRIES};
use crate::facts::Facts;
use crate::spec::{Cluster, Host};
use crate::ssh::{quote, Remote};

/// etcd's data directory, unless the ClusterConfiguration says.
const DEFAULT_DATA_DIR: &str = "/var/lib/etcd";

/// The etcd member the first control plane's restored data is made for: the one
/// kubeadm's etcd manifest describes for that node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EtcdMember {
    /// `--name`: the node's name.
    pub(super) name: String,
    /// `--initial-advertise-peer-urls`.
    pub(super) peer_url: String,
    /// `--initial-cluster`: this member alone.
    pub(super) initial_cluster: String,
    /// `--data-dir`.
    pub(super) data_dir: String,
}

/// The value the ClusterConfiguration's `etcd.local.extraArgs` give `name`, if any (they
/// override kubeadm's own in the manifest).
fn etcd_extra_arg(c: &Cluster, name: &str) -> Option<String> {
    let local = c.kubeadm.cluster.as_ref()?.etcd.local.as_ref()?;
    local
        .extra_args
        .iter()
        .rev()
        .find(|a| a.name == name)
        .map(|a| a.value.clone())
}

/// The Node name kubeadm gives host `h` (facts `f`): the file's, else its host name in
/// lower case, as kubeadm defaults it.
pub(super) fn node_name(c: &Cluster, h: &Host, f: &Facts) -> Option<String> {
    let from_file = match h.role {
        crate::spec::Role::ControlPlane => c
            .kubeadm
            .init
            .as_ref()
            .map(|i| i.node_registration.name.clone()),
        crate::spec::Role::Worker => c
            .kubeadm
            .join
            .as_ref()
            .map(|j| j.node_registration.name.clone()),
    };
    let name = h
        .node_name
        .clone()
        .or(from_file.filter(|n| !n.is_empty()))
        .unwrap_or_else(|| f.hostname.to_lowercase());
    (!name.is_empty()).then_some(name)
}

/// Deletes the Nodes the snapshot brought back for the hosts about to join (`names`):
/// those hosts were reset, so their Nodes' state is stale, and kubeadm join refuses a
/// Node of its name still marked Ready (as upstream's). A failure is said and left to
/// the joins to report.
pub(super) async fn forget_nodes(h: &Host, r: &Remote, names: Vec<String>) {
    if names.is_empty() {
        return;
    }
    let done = async {
        let admin = super::cluster::read_file(r, super::cluster::ADMIN_CONF).await?;
        tokio::task::spawn_blocking(move || {
            use kubeadm::client::Api;
            let (client, server) = super::cluster::admin_client(&admin)?;
            let mut gone = Vec::new();
            for n in names {
                let path = format!("/api/v1/nodes/{n}");
                match client.call("DELETE", &path, None, "application/json") {
                    Ok(_) => gone.push(n),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => anyhow::bail!("DELETE {path} from {server}: {e}"),
                }
            }
            anyhow::Ok(gone)
        })
        .await?
    };
    match done.await {
        Ok(gone) if !gone.is_empty() => say(
            h,
            format_args!(
                "deleted the Nodes of the backup for the hosts joining again: {}",
                gone.join(", ")
            ),
        ),
        Ok(_) => {}
        Err(e) => say(
            h,
            format_args!("could not delete the backup's Nodes of the hosts joining again: {e:#}"),
        ),
    }
}

/// The member kubeadm's etcd manifest would describe for control plane `h` (whose facts
/// are `f`) when it initialises the cluster.
pub(super) fn etcd_member(c: &Cluster, h: &Host, f: &Facts) -> anyhow::Result<EtcdMember> {
    let init = c.kubeadm.init.as_ref();
    let name = h
        .node_name
        .clone()
        .or_else(|| {
            init.map(|i| i.node_registration.name.clone())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_else(|| f.hostname.to_lowercase());
    let address = crate::documents::advertise_address(h).or_else(|| {
        init.map(|i| i.local_api_endpoint.advertise_address.clone())
            .filter(|a| !a.is_empty())
    });
    let ip = address
        .as_deref()
        .and_then(|a| a.parse::<IpAddr>().ok())
        .filter(|a| !a.is_unspecified())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: host {}: restore needs the first control plane's address to make its etcd member (the peer URL kubeadm's etcd manifest gives it): give the host an IP address as its address, or an advertiseAddress",
                c.file,
                h.address
            )
        })?;
    let name = etcd_extra_arg(c, "name").unwrap_or(name);
    let peer_url = etcd_extra_arg(c, "initial-advertise-peer-urls")
        .unwrap_or_else(|| kubeadm::manifests::etcd::peer_url(&ip));
    let initial_cluster =
        etcd_extra_arg(c, "initial-cluster").unwrap_or_else(|| format!("{name}={peer_url}"));
    let data_dir = etcd_extra_arg(c, "data-dir")
        .or_else(|| {
            c.kubeadm
                .cluster
                .as_ref()
                .and_then(|cc| cc.etcd.local.as_ref())
                .map(|l| l.data_dir.clone())
        })
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| DEFAULT_DATA_DIR.to_string());
    if !data_dir.starts_with('/') {
        anyhow::bail!(
            "{}: etcd's data directory {data_dir:?} is not an absolute path",
            c.file
        );
    }
    Ok(EtcdMember {
        name,
        peer_url,
        initial_cluster,
        data_dir: data_dir.trim_end_matches('/').to_string(),
    })
}

/// The differences between the ClusterConfiguration the backup's kubeadm-config holds and
/// the file's that matter to the restored objects (Service addresses, Pod addresses,
/// DNS names): warnings, since the file wins, as it does for `kubeadm init`.
pub fn config_warnings(c: &Cluster, b: &Backup) -> Vec<String> {
    let Ok(cm) =
        serde_json::from_slice::<serde_json::Value>(&b.files["configmaps/kubeadm-config.json"])
    else {
        return Vec::new();
    };
    let Some(text) = cm["data"]["ClusterConfiguration"].as_str() else {
        return vec!["the backup's kubeadm-config holds no ClusterConfiguration".into()];
    };
    let Ok(was) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) else {
        return vec!["the backup's ClusterConfiguration is not YAML".into()];
    };
    let now = c.kubeadm.cluster.clone().unwrap_or_default();
    let fields = [
        (
            "networking.serviceSubnet",
            &was["networking"]["serviceSubnet"],
            now.networking.service_subnet.as_str(),
            "10.96.0.0/12",
        ),
        (
            "networking.podSubnet",
            &was["networking"]["podSubnet"],
            now.networking.pod_subnet.as_str(),
            "",
        ),
        (
            "networking.dnsDomain",
            &was["networking"]["dnsDomain"],
            now.networking.dns_domain.as_str(),
            "cluster.local",
        ),
        (
            "clusterName",
            &was["clusterName"],
            now.cluster_name.as_str(),
            "kubernetes",
        ),
    ];
    fields
        .into_iter()
        .filter_map(|(field, was, now, default)| {
            let was = was.as_str().unwrap_or(default);
            let now = if now.is_empty() { default } else { now };
            (was != now).then(|| {
                format!(
                    "[restore] warning: ClusterConfiguration {field} is {now:?} in {} but was {was:?} in the backup's cluster: the restored objects were made for the backup's",
                    c.file
                )
            })
        })
        .collect()
}

impl Planned {
    /// Why the restore cannot go on these hosts, one reason per host: every host must be
    /// reachable and hold none of kubeadm's files (a cluster, or what one left behind).
    pub fn restore_refusals(&self, c: &Cluster) -> Vec<String> {
        let mut why = Vec::new();
        if external_etcd(c) {
            why.push(format!(
                "{}: the cluster's etcd is external: kubeadm-cluster restores the etcd kubeadm runs on the control planes",
                c.file
            ));
        }
        for n in &self.nodes {
            let who = super::label(&n.host);
            match &n.facts {
                None => why.push(format!("{who}: not reachable; restore needs every host")),
                Some(f) if f.any_state => why.push(format!(
                    "{who}: holds kubeadm's files ({}); restore builds the cluster anew on clean hosts: run kubeadm-cluster reset -f {} first",
                    f.summary(),
                    c.file
                )),
                Some(_) => {}
            }
        }
        let primary = &self.nodes[self.plan.primary];
        if let Some(f) = &primary.facts {
            if let Err(e) = etcd_member(c, &primary.host, f) {
                why.push(format!("{e:#}"));
            }
        }
        why
    }

    /// Runs the plan, with the backup put on the first control plane right before init.
    pub async fn execute_restore(
        self,
        c: &Cluster,
        backup: Backup,
    ) -> anyhow::Result<super::Report> {
        super::execute::apply(
            c,
            self.nodes,
            self.plan,
            &self.binary,
            self.objects,
            Some(std::sync::Arc::new(backup)),
        )
        .await
    }
}

/// Puts the backup on the first control plane `h` (facts `f`): the CAs and keys under
/// the certificates directory, the snapshot restored into etcd's data directory.
/// Returns the flags `kubeadm init` needs on top (its check that etcd's data directory
/// is empty is passed over: the restored data is meant to be there).
pub(super) async fn put(
    c: &Cluster,
    h: &Host,
    f: &Facts,
    r: &Remote,
    b: &Backup,
) -> anyhow::Result<Vec<String>> {
    let member = etcd_member(c, h, f)?;
    let pki = certificates_dir(c);
    for e in ENTRIES.iter() {
        let Some((file, mode)) = e.pki else { continue };
        write_file(r, &format!("{pki}/{file}"), mode, &b.files[e.name]).await?;
    }
    say(
        h,
        format_args!("restored the CAs and the service-account keys under {pki}"),
    );
    restore_snapshot(r, &member, &b.snapshot).await?;
    say(
        h,
        format_args!(
            "restored the etcd snapshot ({} bytes) into {} as member {} ({})",
            b.snapshot.len(),
            member.data_dir,
            member.name,
            member.peer_url
        ),
    );
    let check = kubeadm::preflight::Check::DirAvailable(member.data_dir.clone().into()).name();
    Ok(vec![format!("--ignore-preflight-errors={check}")])
}

/// Writes `data` at `path` on the host with `mode`: a temporary file beside it, renamed
/// over it; directories made 0755 as kubeadm makes them.
async fn write_file(r: &Remote, path: &str, mode: u32, data: &[u8]) -> anyhow::Result<()> {
    let p = quote(path);
    let script = format!(
        "set -e; umask 022; mkdir -p \"$(dirname {p})\"; umask 077; t={p}.kubeadm-cluster.tmp
cat > \"$t\"; chmod {mode:o} \"$t\"; mv -f \"$t\" {p}"
    );
    let out = r.run(&script, Some(data)).await?;
    if !out.success() {
        anyhow::bail!("writing {path}: {}", out.tail(3));
    }
    Ok(())
}

/// The script that restores the snapshot (given on standard input, of SHA-256 `sha`)
/// into `m`'s data directory with the host's etcdutl.
fn restore_script(m: &EtcdMember, sha: &str) -> String {
    let d = quote(&m.data_dir);
    format!(
        r#"{sha256_of}set -e
E=
IFS=:
for p in $PATH; do
  if [ -x "$p/etcdutl" ] && "$p/etcdutl" version >/dev/null 2>&1; then E="$p/etcdutl"; break; fi
done
unset IFS
if [ -z "$E" ]; then echo "etcdutl is not installed on this host (no etcdutl that runs is on root's PATH): restore needs it to restore the etcd snapshot; install etcdutl of the cluster's etcd version (it comes with etcd's release), since running it from the etcd image through the container runtime is not supported" >&2; exit 127; fi
D={d}
if [ -e "$D" ] && [ -n "$(ls -A "$D")" ]; then echo "etcd's data directory $D is not empty" >&2; exit 1; fi
umask 077
P=$(dirname "$D"); mkdir -p "$P"
f=$(mktemp "$P/.kubeadm-cluster-snapshot.XXXXXX")
trap 'rm -f "$f"' EXIT
cat > "$f"
if [ "$(sha256_of "$f")" != {sha} ]; then echo "the snapshot copied to the host does not match its checksum" >&2; exit 1; fi
mkdir -p "$D"; chmod 0700 "$D"
"$E" snapshot restore "$f" --name {name} --initial-cluster {cluster} --initial-advertise-peer-urls {peer} --data-dir "$D"
"#,
        sha256_of = crate::ssh::SHA256_OF,
        name = quote(&m.name),
        cluster = quote(&m.initial_cluster),
        peer = quote(&m.peer_url),
    )
}

async fn restore_snapshot(r: &Remote, m: &EtcdMember, snapshot: &[u8]) -> anyhow::Result<()> {
    let sha = archive::sha256_hex(snapshot);
    let out = r.run(&restore_script(m, &sha), Some(snapshot)).await?;
    if !out.success() {
        anyhow::bail!(
            "restoring the etcd snapshot into {} failed (exit {}):\n{}",
            m.data_dir,
            out.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "a signal".into()),
            super::redact(&out.tail(15))
        );
    }
    Ok(())
}

/// The names and sizes of a backup's entries, for what restore prints first.
pub fn describe(b: &Backup) -> BTreeMap<&'static str, u64> {
    ENTRIES
        .iter()
        .map(|e| {
            let size = match e.kind {
                Kind::Snapshot => b.snapshot.len(),
                _ => b.files[e.name].len(),
            };
            (e.name, size as u64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(extra: &str) -> Cluster {
        let text = format!(
            "apiVersion: kubeadm-rs.io/v1alpha1
kind: Cluster
hosts:
- address: 10.1.2.3
  role: control-plane
- address: cp.example
  role: control-plane
controlPlaneEndpoint: api.example:6443
kubeadm: |
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: ClusterConfiguration
{extra}"
        );
        Cluster::parse(&text, "cluster.yaml").unwrap()
    }

    #[test]
    fn the_restored_member_is_the_one_kubeadms_manifest_describes() {
        let c = cluster("");
        let f = Facts {
            hostname: "CP-One".into(),
            ..Facts::default()
        };
        let m = etcd_member(&c, &c.hosts[0], &f).unwrap();
        assert_eq!(
            m,
            EtcdMember {
                name: "cp-one".into(),
                peer_url: "https://10.1.2.3:2380".into(),
                initial_cluster: "cp-one=https://10.1.2.3:2380".into(),
                data_dir: "/var/lib/etcd".into(),
            }
        );
        // A host named by a DNS name, without an advertise address: refused, saying why.
        let e = etcd_member(&c, &c.hosts[1], &f).unwrap_err().to_string();
        assert!(
            e.contains("cluster.yaml: host cp.example: restore needs"),
            "{e}"
        );
        // The ClusterConfiguration's data directory and etcd flags win, as in the manifest.
        let c = cluster(
            "  etcd:\n    local:\n      dataDir: /data/etcd/\n      extraArgs:\n      - name: name\n        value: etcd-a\n",
        );
        let m = etcd_member(&c, &c.hosts[0], &f).unwrap();
        assert_eq!(m.name, "etcd-a");
        assert_eq!(m.initial_cluster, "etcd-a=https://10.1.2.3:2380");
        assert_eq!(m.data_dir, "/data/etcd");
    }

    #[test]
    fn the_restore_script_checks_the_copy_and_needs_the_hosts_etcdutl() {
        let m = EtcdMember {
            name: "cp-1".into(),
            peer_url: "https://10.1.2.3:2380".into(),
            initial_cluster: "cp-1=https://10.1.2.3:2380".into(),
            data_dir: "/var/lib/my etcd".into(),
        };
        let s = restore_script(&m, "ab12");
        assert!(s.contains("D='/var/lib/my etcd'"), "{s}");
        assert!(s.contains("!= ab12"), "{s}");
        assert!(s.contains("snapshot restore \"$f\" --name cp-1 --initial-cluster cp-1=https://10.1.2.3:2380 --initial-advertise-peer-urls https://10.1.2.3:2380 --data-dir \"$D\""), "{s}");
        assert!(s.contains("etcdutl is not installed on this host"), "{s}");
    }
}

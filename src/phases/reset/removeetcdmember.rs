//! `remove-etcd-member`: this node's stacked etcd member leaves its cluster (through
//! another member when one answers), then its data directory is emptied; the member is
//! kept when removing it would leave the cluster without quorum.

use super::{clean_dir, is_empty_dir, NodeEtcd, ResetData};

/// `remove-etcd-member`: this node's member leaves the etcd cluster, then its data goes.
pub(super) fn remove_etcd_member(d: &mut ResetData) -> anyhow::Result<()> {
    let (data_dir, peer_url, client_url) = match d.etcd.clone() {
        NodeEtcd::Local {
            data_dir,
            peer_url,
            client_url,
        } => (data_dir, peer_url, client_url),
        NodeEtcd::External => {
            println!("[reset] External etcd: the member is not kubeadm's to remove; reset or remove it with the tools of that etcd cluster");
            return Ok(());
        }
        NodeEtcd::None => {
            println!("[reset] No etcd config found. Assuming external etcd");
            println!("[reset] Please, manually reset etcd to prevent further issues");
            return Ok(());
        }
    };
    let remove_data = match &peer_url {
        None => true,
        Some(peer_url) if d.config.dry_run => {
            println!("[reset] Would remove the etcd member with peer URL {peer_url} from the etcd cluster");
            true
        }
        Some(peer_url) => match leave_etcd_cluster(d, peer_url, client_url.as_deref()) {
            Ok(Left::Removed(id)) => {
                println!(
                    "[reset] Removed the etcd member {id:x} ({peer_url}) from the etcd cluster"
                );
                true
            }
            Ok(Left::LastMember) => {
                println!("[reset] This node's etcd member ({peer_url}) is the only member of its cluster: there is no cluster left to remove it from, so its data goes with this node");
                true
            }
            Ok(Left::Unreachable(why)) => {
                // As upstream: with no member to ask, the data goes with the node; the
                // member, if others remain, must be removed through them.
                eprintln!("[reset] WARNING: Failed to remove etcd member: no etcd member answered ({why}); if other control-plane nodes remain, remove this member there with 'etcdctl member remove'");
                true
            }
            Ok(Left::NotAMember) => {
                println!("[reset] The etcd cluster has no member with peer URL {peer_url}; nothing to remove");
                true
            }
            Ok(Left::LastVoter { learners }) => {
                d.fail(format!("the etcd member {peer_url} is the last voting member of its cluster ({learners} learner(s) still depend on it): removing it would leave the cluster without quorum; its data in {} is left in place. Remove the learners first (etcdctl member remove), then reset again", data_dir.display()));
                false
            }
            Err(e) => {
                d.fail(format!("removing the etcd member {peer_url}: {e:#}; its data in {} is left in place. Remove the member with 'etcdctl member remove', then run 'kubeadm reset' again", data_dir.display()));
                false
            }
        },
    };
    if remove_data && !is_empty_dir(d.host.as_ref(), &data_dir) {
        match clean_dir(d.host.as_ref(), &data_dir) {
            Ok(()) => println!(
                "[reset] {} contents of the etcd data directory: {}",
                if d.config.dry_run {
                    "Would delete"
                } else {
                    "Deleted"
                },
                data_dir.display()
            ),
            Err(e) => d.fail(format!(
                "deleting the contents of the etcd data directory {}: {e:#}",
                data_dir.display()
            )),
        }
    }
    Ok(())
}

/// What becomes of this node's member.
#[derive(Debug, PartialEq, Eq)]
enum Left {
    Removed(u64),
    Unreachable(String),
    LastMember,
    NotAMember,
    LastVoter { learners: usize },
}

/// This node's member among `members`, when it is to be removed; otherwise why not.
fn decide<'a>(
    members: &'a [crate::etcd::EtcdMember],
    peer_url: &str,
) -> Result<&'a crate::etcd::EtcdMember, Left> {
    let me = members
        .iter()
        .find(|m| m.peer_urls.iter().any(|u| u == peer_url))
        .ok_or(Left::NotAMember)?;
    if members.len() == 1 {
        return Err(Left::LastMember);
    }
    let voters = members.iter().filter(|m| !m.is_learner).count();
    if !me.is_learner && voters == 1 {
        return Err(Left::LastVoter {
            learners: members.len() - 1,
        });
    }
    Ok(me)
}

/// Removes this node's member (known by its peer URL) through another member when one
/// answers, so the removal's answer does not depend on the member being removed.
fn leave_etcd_cluster(
    d: &ResetData,
    peer_url: &str,
    client_url: Option<&str>,
) -> anyhow::Result<Left> {
    let pki = &d.certificates_dir;
    let (ca, cert, key) = (
        pki.join("etcd/ca.crt"),
        pki.join("etcd/healthcheck-client.crt"),
        pki.join("etcd/healthcheck-client.key"),
    );
    let mut endpoints: Vec<String> = d
        .cluster_etcd_endpoints
        .iter()
        .filter(|e| Some(e.as_str()) != client_url)
        .cloned()
        .collect();
    endpoints.extend(client_url.map(str::to_string));
    let mut client =
        match crate::etcd::EtcdClient::connect(d.host.as_ref(), &endpoints, &ca, &cert, &key) {
            Ok(c) => c,
            Err(e) => return Ok(Left::Unreachable(format!("{e:#}"))),
        };
    let members = client.member_list()?;
    let me = match decide(&members, peer_url) {
        Ok(me) => me.clone(),
        Err(left) => return Ok(left),
    };
    // Talk to another member for the removal itself.
    let others: Vec<String> = members
        .iter()
        .filter(|m| m.id != me.id)
        .flat_map(|m| m.client_urls.iter().cloned())
        .collect();
    if !others.is_empty() {
        if let Ok(c) = crate::etcd::EtcdClient::connect(d.host.as_ref(), &others, &ca, &cert, &key)
        {
            client = c;
        }
    }
    client.remove(me.id)?;
    Ok(Left::Removed(me.id))
}

#[cfg(test)]
mod tests {
    fn member(id: u64, peer: &str, learner: bool) -> crate::etcd::EtcdMember {
        crate::etcd::EtcdMember {
            id,
            name: format!("m{id}"),
            peer_urls: vec![peer.into()],
            client_urls: vec![],
            is_learner: learner,
        }
    }

    #[test]
    fn which_member_leaves() {
        use super::{decide, Left};
        let a = member(1, "https://10.0.0.1:2380", false);
        let b = member(2, "https://10.0.0.2:2380", false);
        let l = member(3, "https://10.0.0.3:2380", true);
        let two = [a.clone(), b.clone()];
        assert_eq!(decide(&two, "https://10.0.0.2:2380").unwrap().id, 2);
        assert_eq!(
            decide(&two, "https://10.0.0.9:2380").unwrap_err(),
            Left::NotAMember
        );
        assert_eq!(
            decide(std::slice::from_ref(&a), "https://10.0.0.1:2380").unwrap_err(),
            Left::LastMember
        );
        // The last voter with a learner behind it stays; the learner may go.
        let with_learner = [a.clone(), l.clone()];
        assert_eq!(
            decide(&with_learner, "https://10.0.0.1:2380").unwrap_err(),
            Left::LastVoter { learners: 1 }
        );
        assert_eq!(
            decide(&with_learner, "https://10.0.0.3:2380").unwrap().id,
            3
        );
    }
}

//! The messages of the etcd v3 API (`etcdserverpb`) that kubeadm uses: the cluster's
//! member calls and the snapshot; with the field numbers of etcd's API. Fields
//! kubeadm does not read are left out, and protobuf decoding skips them.

/// `etcdserverpb.Cluster` method paths.
pub mod cluster {
    /// `MemberAdd`.
    pub const MEMBER_ADD: &str = "/etcdserverpb.Cluster/MemberAdd";
    /// `MemberRemove`.
    pub const MEMBER_REMOVE: &str = "/etcdserverpb.Cluster/MemberRemove";
    /// `MemberList`.
    pub const MEMBER_LIST: &str = "/etcdserverpb.Cluster/MemberList";
    /// `MemberPromote`.
    pub const MEMBER_PROMOTE: &str = "/etcdserverpb.Cluster/MemberPromote";
}

/// `etcdserverpb.Maintenance` method paths.
pub mod maintenance {
    /// `Snapshot` (server streaming).
    pub const SNAPSHOT: &str = "/etcdserverpb.Maintenance/Snapshot";
    /// `Status`: the answering member's own state.
    pub const STATUS: &str = "/etcdserverpb.Maintenance/Status";
}

/// `ResponseHeader`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseHeader {
    /// The cluster's id.
    #[prost(uint64, tag = "1")]
    pub cluster_id: u64,
    /// The id of the member that answered.
    #[prost(uint64, tag = "2")]
    pub member_id: u64,
    /// The store's revision.
    #[prost(int64, tag = "3")]
    pub revision: i64,
    /// The raft term.
    #[prost(uint64, tag = "4")]
    pub raft_term: u64,
}

/// `Member`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Member {
    /// `ID`.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Its name; empty until it has started.
    #[prost(string, tag = "2")]
    pub name: String,
    /// `peerURLs`.
    #[prost(string, repeated, tag = "3")]
    pub peer_urls: Vec<String>,
    /// `clientURLs`; empty until it has started.
    #[prost(string, repeated, tag = "4")]
    pub client_urls: Vec<String>,
    /// `isLearner`.
    #[prost(bool, tag = "5")]
    pub is_learner: bool,
}

/// `MemberListRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MemberListRequest {
    /// Read through the leader (etcd 3.5 and later).
    #[prost(bool, tag = "1")]
    pub linearizable: bool,
}

/// `MemberListResponse`, `MemberRemoveResponse` and `MemberPromoteResponse`, which share
/// their layout: the header and the members after the change.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MembersResponse {
    /// The header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The members.
    #[prost(message, repeated, tag = "2")]
    pub members: Vec<Member>,
}

/// `MemberAddRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MemberAddRequest {
    /// `peerURLs`.
    #[prost(string, repeated, tag = "1")]
    pub peer_urls: Vec<String>,
    /// `isLearner`.
    #[prost(bool, tag = "2")]
    pub is_learner: bool,
}

/// `MemberAddResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MemberAddResponse {
    /// The header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The member added.
    #[prost(message, optional, tag = "2")]
    pub member: Option<Member>,
    /// The members after the change.
    #[prost(message, repeated, tag = "3")]
    pub members: Vec<Member>,
}

/// `MemberRemoveRequest` and `MemberPromoteRequest`: a member's `ID`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MemberIdRequest {
    /// `ID`.
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

/// `SnapshotRequest`, which has no field.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

/// `SnapshotResponse`: one chunk of the snapshot.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SnapshotResponse {
    /// The header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// Bytes still to come after this chunk.
    #[prost(uint64, tag = "2")]
    pub remaining_bytes: u64,
    /// This chunk.
    #[prost(bytes = "vec", tag = "3")]
    pub blob: Vec<u8>,
}

/// `StatusResponse`: what one member says of itself (`StatusRequest` is [`Empty`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusResponse {
    /// The header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The member's etcd version.
    #[prost(string, tag = "2")]
    pub version: String,
    /// The size of its database file, in bytes.
    #[prost(int64, tag = "3")]
    pub db_size: i64,
    /// The id of the leader it follows; 0 when it knows of none.
    #[prost(uint64, tag = "4")]
    pub leader: u64,
    /// Alarms and other errors the member reports.
    #[prost(string, repeated, tag = "8")]
    pub errors: Vec<String>,
    /// Whether the member is a learner.
    #[prost(bool, tag = "10")]
    pub is_learner: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn member_add_encodes_with_the_api_field_numbers() {
        let req = MemberAddRequest {
            peer_urls: vec!["https://a".into()],
            is_learner: true,
        };
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x0a, 9, b'h', b't', b't', b'p', b's', b':', b'/', b'/', b'a', // 1: peerURLs
            0x10, 1,                                                      // 2: isLearner
        ];
        assert_eq!(req.encode_to_vec(), want);
    }

    #[test]
    fn a_member_decodes() {
        #[rustfmt::skip]
        let wire: &[u8] = &[
            0x08, 0x2a,                 // 1: ID = 42
            0x12, 2, b'c', b'p',        // 2: name
            0x1a, 1, b'p',              // 3: peerURLs
            0x22, 1, b'c',              // 4: clientURLs
            0x28, 1,                    // 5: isLearner
        ];
        let m = Member::decode(wire).unwrap();
        assert_eq!(
            m,
            Member {
                id: 42,
                name: "cp".into(),
                peer_urls: vec!["p".into()],
                client_urls: vec!["c".into()],
                is_learner: true
            }
        );
    }
}

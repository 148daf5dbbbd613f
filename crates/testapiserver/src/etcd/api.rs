//! The messages of etcd's v3 key-value service (`etcdserverpb.KV`, with `mvccpb.KeyValue`)
//! the storage backing uses: Range, Put and DeleteRange, with the field numbers of etcd's
//! API. Fields left out are skipped by protobuf decoding and sent as their defaults.

/// `etcdserverpb.KV/Range`.
pub const RANGE: &str = "/etcdserverpb.KV/Range";
/// `etcdserverpb.KV/Put`.
pub const PUT: &str = "/etcdserverpb.KV/Put";
/// `etcdserverpb.KV/DeleteRange`.
pub const DELETE_RANGE: &str = "/etcdserverpb.KV/DeleteRange";

/// `ResponseHeader`: only the store's revision is read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseHeader {
    /// The key-value store's revision when the request was applied.
    #[prost(int64, tag = "3")]
    pub revision: i64,
}

/// `mvccpb.KeyValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    /// The key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The revision of the key's creation.
    #[prost(int64, tag = "2")]
    pub create_revision: i64,
    /// The revision of its last change.
    #[prost(int64, tag = "3")]
    pub mod_revision: i64,
    /// How many times it was written since its creation.
    #[prost(int64, tag = "4")]
    pub version: i64,
    /// The value.
    #[prost(bytes = "vec", tag = "5")]
    pub value: Vec<u8>,
}

/// `RangeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeRequest {
    /// The first key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The key after the last one (exclusive); empty for `key` alone.
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    /// At most this many keys (0: no limit).
    #[prost(int64, tag = "3")]
    pub limit: i64,
    /// Read at this revision (0: the current one).
    #[prost(int64, tag = "4")]
    pub revision: i64,
}

/// `RangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeResponse {
    /// The header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The keys found, in key order.
    #[prost(message, repeated, tag = "2")]
    pub kvs: Vec<KeyValue>,
    /// Whether more keys are in the range than the limit let through.
    #[prost(bool, tag = "3")]
    pub more: bool,
    /// How many keys are in the range.
    #[prost(int64, tag = "4")]
    pub count: i64,
}

/// `PutRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    /// The key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The value.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `PutResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutResponse {
    /// The header: its revision is the key's new `mod_revision`.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

/// `DeleteRangeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeRequest {
    /// The key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The key after the last one (exclusive); empty for `key` alone.
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
}

/// `DeleteRangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeResponse {
    /// The header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// How many keys were deleted.
    #[prost(int64, tag = "2")]
    pub deleted: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_range_request_encodes_with_the_api_field_numbers() {
        let req = RangeRequest {
            key: b"/a".to_vec(),
            range_end: b"/b".to_vec(),
            limit: 2,
            revision: 7,
        };
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x0a, 2, b'/', b'a', // 1: key
            0x12, 2, b'/', b'b', // 2: range_end
            0x18, 2,             // 3: limit
            0x20, 7,             // 4: revision
        ];
        assert_eq!(req.encode_to_vec(), want);
    }

    #[test]
    fn a_range_response_decodes() {
        #[rustfmt::skip]
        let wire: &[u8] = &[
            0x0a, 2, 0x18, 9,                 // 1: header { 3: revision = 9 }
            0x12, 12,                         // 2: kvs
                0x0a, 1, b'k',                //   1: key
                0x10, 4,                      //   2: create_revision
                0x18, 8,                      //   3: mod_revision
                0x20, 2,                      //   4: version
                0x2a, 1, b'v',                //   5: value
            0x18, 1,                          // 3: more
            0x20, 5,                          // 4: count
        ];
        let r = RangeResponse::decode(wire).unwrap();
        assert_eq!(r.header.unwrap().revision, 9);
        assert_eq!(
            r.kvs,
            [KeyValue {
                key: b"k".to_vec(),
                create_revision: 4,
                mod_revision: 8,
                version: 2,
                value: b"v".to_vec(),
            }]
        );
        assert!(r.more);
        assert_eq!(r.count, 5);
    }
}

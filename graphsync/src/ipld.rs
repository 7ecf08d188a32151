//! The IPLD data model as a selector walk sees it, and the three codecs graphsync DAGs use.
//!
//! A block is decoded into a [`Node`] the way go-ipld-prime decodes it for go-graphsync's
//! traversals: dag-cbor maps keep their encoded order, dag-pb is the `PBNode` schema of
//! go-codec-dagpb (`{Links: [{Hash, Name?, Tsize?}], Data?}`, links in list order), raw is one
//! byte string. Byte strings are slices of the block ([`Bytes`]), never copies.

use std::sync::Arc;

use crate::Cid;
use bytes::Bytes;
use market_types::cbor::{DecodeError, Decoder, Major};
use multihash_codetable::{Code, MultihashDigest};

/// Multicodec codes of the block formats a walk can decode.
pub mod codec {
    pub const RAW: u64 = 0x55;
    pub const DAG_PB: u64 = 0x70;
    pub const DAG_CBOR: u64 = 0x71;
}

/// The identity multihash code: the digest is the block.
pub const IDENTITY: u64 = hash::IDENTITY;

/// Multihash codes a block can be checked against.
mod hash {
    pub const IDENTITY: u64 = 0x00;
    pub const SHA2_256: u64 = 0x12;
    pub const BLAKE2B_256: u64 = 0xb220;
}

/// Deepest dag-cbor nesting decoded (go-ipld-prime has no limit; a stack does).
const MAX_NODE_DEPTH: u32 = 256;

/// A node of the data model.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(Arc<str>),
    Bytes(Bytes),
    Link(Cid),
    List(Arc<[Node]>),
    Map(Arc<[(Arc<str>, Node)]>),
}

impl Node {
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "bool",
            Node::Int(_) => "int",
            Node::Float(_) => "float",
            Node::String(_) => "string",
            Node::Bytes(_) => "bytes",
            Node::Link(_) => "link",
            Node::List(_) => "list",
            Node::Map(_) => "map",
        }
    }

    /// The value under `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Node::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    /// Number of entries of a map or list; 0 for anything else.
    pub fn len(&self) -> usize {
        match self {
            Node::List(items) => items.len(),
            Node::Map(entries) => entries.len(),
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a block could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block {cid}: codec 0x{codec:x} is not one graphsync walks (raw, dag-pb, dag-cbor)")]
    UnsupportedCodec { cid: Box<Cid>, codec: u64 },
    #[error("block {cid}: hash function 0x{code:x} is not supported (sha2-256, blake2b-256, identity)")]
    UnsupportedHash { cid: Box<Cid>, code: u64 },
    #[error("block data does not hash to {cid}")]
    HashMismatch { cid: Box<Cid> },
    #[error("block {cid} is not valid {}: {reason}", codec_name(*codec))]
    Malformed { cid: Box<Cid>, codec: u64, reason: String },
    #[error("CID prefix of a received block is malformed: {0}")]
    BadPrefix(String),
}

fn codec_name(code: u64) -> &'static str {
    match code {
        codec::RAW => "raw",
        codec::DAG_PB => "dag-pb",
        codec::DAG_CBOR => "dag-cbor",
        _ => "block data",
    }
}

/// The CID `data` hashes to under the CID prefix `prefix` (version, codec, hash, length), as a
/// graphsync receiver names a block it was sent.
pub fn cid_from_prefix(prefix: &[u8], data: &[u8]) -> Result<Cid, BlockError> {
    let bad = |what: &str| BlockError::BadPrefix(what.to_string());
    let (version, rest) = unsigned_varint::decode::u64(prefix).map_err(|_| bad("version"))?;
    let (codec, rest) = unsigned_varint::decode::u64(rest).map_err(|_| bad("codec"))?;
    let (mh_code, rest) = unsigned_varint::decode::u64(rest).map_err(|_| bad("hash function"))?;
    let (mh_len, rest) = unsigned_varint::decode::u64(rest).map_err(|_| bad("hash length"))?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    let digest = digest(mh_code, data).ok_or(BlockError::UnsupportedHash {
        cid: Box::default(),
        code: mh_code,
    })?;
    let mut digest = digest;
    if mh_code == hash::IDENTITY {
        if mh_len != data.len() as u64 {
            return Err(bad("identity length differs from the data"));
        }
    } else if mh_len == 0 || mh_len > digest.len() as u64 {
        return Err(bad("hash length"));
    } else {
        digest.truncate(mh_len as usize);
    }
    let mh = cid::multihash::Multihash::<128>::wrap(mh_code, &digest).map_err(|_| bad("digest too long"))?;
    match version {
        0 if codec == codec::DAG_PB && mh_code == hash::SHA2_256 && mh_len == 32 => {
            Cid::new_v0(mh).map_err(|e| bad(&e.to_string()))
        }
        0 => Err(bad("CIDv0 must be dag-pb sha2-256")),
        1 => Ok(Cid::new_v1(codec, mh)),
        _ => Err(bad("CID version")),
    }
}

/// The CID prefix bytes of `cid` (what a graphsync block carries instead of the CID).
pub fn cid_prefix(cid: &Cid) -> Vec<u8> {
    let mut out = Vec::with_capacity(8);
    let mut buf = unsigned_varint::encode::u64_buffer();
    for v in [
        cid.version() as u64,
        cid.codec(),
        cid.hash().code(),
        u64::from(cid.hash().size()),
    ] {
        out.extend_from_slice(unsigned_varint::encode::u64(v, &mut buf));
    }
    out
}

fn digest(code: u64, data: &[u8]) -> Option<Vec<u8>> {
    match code {
        hash::IDENTITY => Some(data.to_vec()),
        hash::SHA2_256 => Some(Code::Sha2_256.digest(data).digest().to_vec()),
        hash::BLAKE2B_256 => Some(Code::Blake2b256.digest(data).digest().to_vec()),
        _ => None,
    }
}

/// Check that `data` is the block `cid` names.
pub fn verify(cid: &Cid, data: &[u8]) -> Result<(), BlockError> {
    let code = cid.hash().code();
    let digest = digest(code, data).ok_or(BlockError::UnsupportedHash {
        cid: Box::new(*cid),
        code,
    })?;
    let size = usize::from(cid.hash().size());
    let ok = if code == hash::IDENTITY {
        digest == cid.hash().digest()
    } else {
        size <= digest.len() && digest[..size] == *cid.hash().digest()
    };
    if ok {
        Ok(())
    } else {
        Err(BlockError::HashMismatch { cid: Box::new(*cid) })
    }
}

/// Decode a block into the data model with the codec its CID names.
pub fn decode(cid: &Cid, data: &Bytes) -> Result<Node, BlockError> {
    match cid.codec() {
        codec::RAW => Ok(Node::Bytes(data.clone())),
        codec::DAG_CBOR => decode_dag_cbor(data).map_err(|e| BlockError::Malformed {
            cid: Box::new(*cid),
            codec: codec::DAG_CBOR,
            reason: e.to_string(),
        }),
        codec::DAG_PB => decode_dag_pb(data).map_err(|reason| BlockError::Malformed {
            cid: Box::new(*cid),
            codec: codec::DAG_PB,
            reason,
        }),
        other => Err(BlockError::UnsupportedCodec {
            cid: Box::new(*cid),
            codec: other,
        }),
    }
}

/// Decode one dag-cbor item (the whole input) into a node.
pub fn decode_dag_cbor(data: &Bytes) -> Result<Node, DecodeError> {
    let mut d = Decoder::new(data);
    let node = cbor_node(&mut d, data, 0)?;
    d.finish()?;
    Ok(node)
}

fn cbor_node(d: &mut Decoder<'_>, whole: &Bytes, depth: u32) -> Result<Node, DecodeError> {
    if depth > MAX_NODE_DEPTH {
        return Err(DecodeError::TooDeep(d.position()));
    }
    // Lengths are bounded by the input: every entry takes at least one byte of it.
    let limit = d.remaining() as u64;
    Ok(match d.peek_major()? {
        Major::Unsigned | Major::Negative => {
            let at = d.position();
            match d.i64() {
                Ok(i) => Node::Int(i),
                // go-ipld-prime refuses integers outside int64 too.
                Err(_) => {
                    return Err(DecodeError::OutOfRange {
                        value: "integer".into(),
                        target: "int64",
                        at,
                    });
                }
            }
        }
        Major::Bytes => {
            let raw = d.bytes("bytes", limit)?;
            Node::Bytes(whole.slice_ref(raw))
        }
        Major::Text => Node::String(Arc::from(d.text(limit)?)),
        Major::Array => {
            let n = d.array(limit)?;
            let mut items = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                items.push(cbor_node(d, whole, depth + 1)?);
            }
            Node::List(items.into())
        }
        Major::Map => {
            let n = d.map(limit)?;
            let mut entries: Vec<(Arc<str>, Node)> = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                let at = d.position();
                let key: Arc<str> = Arc::from(d.text(limit)?);
                if entries.iter().any(|(k, _)| *k == key) {
                    return Err(DecodeError::Invalid {
                        what: "dag-cbor map",
                        reason: format!("repeated key {key:?}"),
                        at,
                    });
                }
                let value = cbor_node(d, whole, depth + 1)?;
                entries.push((key, value));
            }
            Node::Map(entries.into())
        }
        Major::Tag => Node::Link(d.cid_sized()?),
        Major::Simple => {
            if d.peek_null() {
                d.null()?;
                Node::Null
            } else if let Ok(b) = d.bool() {
                // (a failed bool read consumes nothing)
                Node::Bool(b)
            } else {
                d.skip()?;
                Node::Float(0.0)
            }
        }
    })
}

/// Decode a dag-pb block as go-codec-dagpb does: links (field 2) first, then optional data
/// (field 1); nothing else.
pub fn decode_dag_pb(data: &Bytes) -> Result<Node, String> {
    let mut links = Vec::new();
    let mut payload = None;
    let mut pos = 0;
    while pos < data.len() {
        let (field, wire, body, next) = pb_field(data, pos)?;
        pos = next;
        match (field, wire) {
            (2, 2) => {
                if payload.is_some() {
                    return Err("a link after the data field".into());
                }
                links.push(pb_link(&data.slice(body.0..body.1))?);
            }
            (1, 2) => {
                if payload.is_some() {
                    return Err("duplicate data field".into());
                }
                payload = Some(data.slice(body.0..body.1));
            }
            _ => return Err(format!("unexpected field {field} (wire type {wire}) in PBNode")),
        }
    }
    let mut entries: Vec<(Arc<str>, Node)> = vec![(Arc::from("Links"), Node::List(links.into()))];
    if let Some(payload) = payload {
        entries.push((Arc::from("Data"), Node::Bytes(payload)));
    }
    Ok(Node::Map(entries.into()))
}

fn pb_link(data: &Bytes) -> Result<Node, String> {
    let (mut hash, mut name, mut tsize) = (None, None, None);
    let mut pos = 0;
    let mut last = 0;
    while pos < data.len() {
        let (field, wire, body, next) = pb_field(data, pos)?;
        pos = next;
        if field <= last {
            return Err("PBLink fields out of order or repeated".into());
        }
        last = field;
        match (field, wire) {
            (1, 2) => {
                let c = Cid::try_from(&data[body.0..body.1]).map_err(|e| format!("bad link hash: {e}"))?;
                hash = Some(c);
            }
            (2, 2) => {
                let s = std::str::from_utf8(&data[body.0..body.1]).map_err(|_| "link name is not UTF-8")?;
                name = Some(s.to_owned());
            }
            (3, 0) => tsize = Some(body.0 as u64),
            _ => return Err(format!("unexpected field {field} (wire type {wire}) in PBLink")),
        }
    }
    let hash = hash.ok_or("PBLink without Hash")?;
    let mut entries: Vec<(Arc<str>, Node)> = vec![(Arc::from("Hash"), Node::Link(hash))];
    if let Some(name) = name {
        entries.push((Arc::from("Name"), Node::String(Arc::from(name))));
    }
    if let Some(tsize) = tsize {
        let t = i64::try_from(tsize).map_err(|_| "Tsize over int64")?;
        entries.push((Arc::from("Tsize"), Node::Int(t)));
    }
    Ok(Node::Map(entries.into()))
}

/// One protobuf field at `pos`: (field number, wire type, body range or varint value, next pos).
/// For varints the "range" holds the value in its first slot.
fn pb_field(data: &[u8], pos: usize) -> Result<(u64, u8, (usize, usize), usize), String> {
    let (key, rest) = unsigned_varint::decode::u64(&data[pos..]).map_err(|_| "bad field key")?;
    let mut at = data.len() - rest.len();
    let (field, wire) = (key >> 3, (key & 7) as u8);
    match wire {
        0 => {
            let (v, rest) = unsigned_varint::decode::u64(&data[at..]).map_err(|_| "bad varint")?;
            let v = usize::try_from(v).map_err(|_| "varint too large")?;
            Ok((field, wire, (v, 0), data.len() - rest.len()))
        }
        2 => {
            let (len, rest) = unsigned_varint::decode::u64(&data[at..]).map_err(|_| "bad length")?;
            at = data.len() - rest.len();
            let len = usize::try_from(len).map_err(|_| "length too large")?;
            if len > data.len() - at {
                return Err("field runs past the end of the block".into());
            }
            Ok((field, wire, (at, at + len), at + len))
        }
        other => Err(format!("wire type {other} is not used by dag-pb")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_cid(data: &[u8]) -> Cid {
        crate::block_cid(&cid::Cid::new_v1(codec::RAW, Code::Sha2_256.digest(data)))
    }

    #[test]
    fn a_dag_pb_link_to_an_inlined_block_longer_than_64_bytes_decodes() {
        // go-unixfs inlines blocks of up to 126 bytes as identity CIDs (lotus and venus
        // imports): a directory of small entries links to one of 111 bytes.
        let inlined = [7u8; 111];
        let mh = cid::multihash::Multihash::<128>::wrap(IDENTITY, &inlined).expect("identity");
        let link = Cid::new_v1(codec::DAG_PB, mh);
        let link_bytes = link.to_bytes();
        let mut pb_link = vec![0x0a, link_bytes.len() as u8];
        pb_link.extend_from_slice(&link_bytes);
        let mut node = vec![0x12, pb_link.len() as u8];
        node.extend_from_slice(&pb_link);
        let decoded = decode_dag_pb(&Bytes::from(node)).expect("decodes");
        let Some(Node::List(links)) = decoded.get("Links") else {
            panic!("links: {decoded:?}")
        };
        assert_eq!(links[0].get("Hash"), Some(&Node::Link(link)));
        verify(&link, &inlined).expect("an identity block is its digest");
    }

    #[test]
    fn prefix_round_trips_and_names_the_block() {
        let data = b"hello graphsync";
        let cid = raw_cid(data);
        let prefix = cid_prefix(&cid);
        assert_eq!(prefix, [0x01, 0x55, 0x12, 0x20]);
        assert_eq!(cid_from_prefix(&prefix, data), Ok(cid));
        let v0 = crate::block_cid(&cid::Cid::new_v0(Code::Sha2_256.digest(data)).expect("v0"));
        assert_eq!(cid_prefix(&v0), [0x00, 0x70, 0x12, 0x20]);
        assert_eq!(cid_from_prefix(&cid_prefix(&v0), data), Ok(v0));
        let b2 = crate::block_cid(&cid::Cid::new_v1(codec::DAG_CBOR, Code::Blake2b256.digest(data)));
        assert_eq!(cid_prefix(&b2), [0x01, 0x71, 0xa0, 0xe4, 0x02, 0x20]);
        assert_eq!(cid_from_prefix(&cid_prefix(&b2), data), Ok(b2));
        assert!(verify(&cid, data).is_ok());
        assert_eq!(
            verify(&cid, b"other"),
            Err(BlockError::HashMismatch { cid: Box::new(cid) })
        );
        assert!(cid_from_prefix(&[0x01, 0x55, 0x99, 0x20], data).is_err());
        assert!(cid_from_prefix(&[0x01, 0x55], data).is_err());
    }

    #[test]
    fn dag_pb_decodes_to_the_pbnode_schema() {
        let child = raw_cid(b"x");
        let child_bytes = child.to_bytes();
        // PBLink {Hash, Name "a", Tsize 1}
        let mut link = vec![0x0a, child_bytes.len() as u8];
        link.extend_from_slice(&child_bytes);
        link.extend_from_slice(&[0x12, 0x01, b'a', 0x18, 0x01]);
        let mut node = vec![0x12, link.len() as u8];
        node.extend_from_slice(&link);
        node.extend_from_slice(&[0x0a, 0x02, 0x08, 0x01]);
        let n = decode_dag_pb(&Bytes::from(node.clone())).expect("dag-pb");
        let links = n.get("Links").expect("links");
        let Node::List(items) = links else { panic!("list") };
        assert_eq!(items[0].get("Hash"), Some(&Node::Link(child)));
        assert_eq!(items[0].get("Name").and_then(Node::as_str), Some("a"));
        assert_eq!(items[0].get("Tsize").and_then(Node::as_int), Some(1));
        assert!(matches!(n.get("Data"), Some(Node::Bytes(b)) if b.as_ref() == [0x08, 0x01]));
        // Data before a link is not canonical dag-pb.
        let mut swapped = vec![0x0a, 0x02, 0x08, 0x01, 0x12, link.len() as u8];
        swapped.extend_from_slice(&link);
        assert!(decode_dag_pb(&Bytes::from(swapped)).is_err());
        // A length past the end is refused, not read.
        assert!(decode_dag_pb(&Bytes::from_static(&[0x12, 0x7f, 0x00])).is_err());
    }

    #[test]
    fn dag_cbor_keeps_map_order_and_links() {
        let link = raw_cid(b"y");
        let mut e = market_types::cbor::Encoder::new();
        e.map(2);
        e.text("zz");
        e.cid(&link);
        e.text("a");
        e.array(2);
        e.u64(1);
        e.null();
        let node = decode_dag_cbor(&Bytes::from(e.into_bytes())).expect("cbor");
        let Node::Map(entries) = node else { panic!("map") };
        assert_eq!(&*entries[0].0, "zz");
        assert_eq!(entries[0].1, Node::Link(link));
        assert_eq!(entries[1].1, Node::List(vec![Node::Int(1), Node::Null].into()));
    }

    #[test]
    fn deep_cbor_is_refused_without_overflowing_the_stack() {
        let mut data = vec![0x81; 100_000];
        data.push(0x01);
        assert!(decode_dag_cbor(&Bytes::from(data)).is_err());
    }
}

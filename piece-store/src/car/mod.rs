//! CAR files: a CARv1 writer, CARv2 (the v1 payload wrapped with a header and a
//! `MultihashIndexSorted` index, as go-car v2 writes it), and a reader that verifies every
//! block against its CID and names the offset of whatever is wrong.

mod read;
mod verify;
mod write;

pub use self::read::{CarBlock, CarReader};
pub use self::verify::{CarSummary, VerifyingReader, looks_like_car};
pub use self::write::{CarV1Writer, IndexEntry, wrap_v2, write_dag, write_v2_index};

use crate::unixfs::BlockCid;

/// The CARv2 pragma: a v1-style header `{"version": 2}` behind its varint length.
pub const V2_PRAGMA: [u8; 11] = [0x0a, 0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02];
/// Bytes of the CARv2 header after the pragma.
pub const V2_HEADER_LEN: u64 = 40;
/// Multicodec of the `MultihashIndexSorted` index.
pub const MULTIHASH_INDEX_SORTED: u64 = 0x0401;
/// The largest section (CID + block) accepted, as go-car's default `MaxAllowedSectionSize`.
pub const MAX_SECTION: u64 = 32 << 20;
/// The largest v1 header accepted (go-car `MaxAllowedHeaderSize`).
pub const MAX_HEADER: u64 = 32 << 20;

/// What is wrong with a CAR.
#[derive(Debug, thiserror::Error)]
pub enum CarError {
    #[error("reading the CAR: {0}")]
    Io(#[from] std::io::Error),
    #[error("the CAR is truncated: it ends inside {what} at byte {offset}")]
    Truncated { what: &'static str, offset: u64 },
    #[error("bad CAR header: {0}")]
    BadHeader(String),
    #[error("CAR version {0} is not supported (only 1 and 2 exist)")]
    UnsupportedVersion(u64),
    #[error("section at byte {offset} claims {len} bytes, over the {MAX_SECTION}-byte limit; the CAR is corrupt")]
    SectionTooLarge { offset: u64, len: u64 },
    #[error("section at byte {offset} has a bad CID: {reason}")]
    BadCid { offset: u64, reason: String },
    #[error("block {cid} at byte {offset} does not match its CID: the CAR is corrupt")]
    HashMismatch { cid: String, offset: u64 },
    #[error("block {cid} at byte {offset} uses a hash this build cannot check ({hash})")]
    UnverifiableHash { cid: String, offset: u64, hash: String },
}

/// Encodes a CARv1 header `{"roots": [...], "version": 1}` (dag-cbor, `roots` first).
pub fn encode_v1_header(roots: &[BlockCid]) -> Vec<u8> {
    let mut e = market_types::cbor::Encoder::new();
    e.map(2);
    e.text("roots");
    e.array(roots.len());
    for r in roots {
        e.header(6, 42);
        let mut b = vec![0u8];
        b.extend_from_slice(&r.to_bytes());
        e.bytes(&b);
    }
    e.text("version");
    e.u64(1);
    e.into_bytes()
}

/// The parts of a CAR header: version and roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarHeader {
    pub version: u64,
    pub roots: Vec<BlockCid>,
}

/// Decodes a CAR (v1 or v2 pragma) header.
pub fn decode_header(bytes: &[u8]) -> Result<CarHeader, CarError> {
    use market_types::cbor::{Decoder, MAX_ARRAY_LEN, MAX_TEXT_LEN};
    let bad = |e: market_types::cbor::DecodeError| CarError::BadHeader(e.to_string());
    let mut d = Decoder::new(bytes);
    let n = d.map(16).map_err(bad)?;
    let (mut version, mut roots) = (None, None);
    for _ in 0..n {
        match d.text(MAX_TEXT_LEN).map_err(bad)? {
            "version" => version = Some(d.u64().map_err(bad)?),
            "roots" => {
                let count = d.array(MAX_ARRAY_LEN).map_err(bad)?;
                let mut rs = Vec::with_capacity(count.min(16));
                for _ in 0..count {
                    if d.tag().map_err(bad)? != 42 {
                        return Err(CarError::BadHeader("a root is not a CID (tag 42)".into()));
                    }
                    let b = d.bytes("CID", 1024).map_err(bad)?;
                    let cid = match b.split_first() {
                        Some((0, rest)) => BlockCid::try_from(rest).map_err(|e| CarError::BadHeader(e.to_string()))?,
                        _ => return Err(CarError::BadHeader("a root CID lacks the 0x00 multibase prefix".into())),
                    };
                    rs.push(cid);
                }
                roots = Some(rs);
            }
            _ => {
                d.skip().map_err(bad)?;
            }
        }
    }
    d.finish().map_err(bad)?;
    let version = version.ok_or_else(|| CarError::BadHeader("no version".into()))?;
    Ok(CarHeader {
        version,
        roots: roots.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests;

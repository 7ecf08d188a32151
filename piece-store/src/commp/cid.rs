//! Piece CIDs: v1 (`baga6ea4seaq…`, codec fil-commitment-unsealed, multihash
//! sha2-256-trunc254-padded) and v2 (FRC-0069 `bafkzcib…`, raw codec, multihash
//! fr32-sha256-trunc254-padbintree carrying the padding and the tree height).

use cid::Cid;
use cid::multihash::Multihash;

use super::CommPError;
use super::tree::Node;

/// Multicodec `fil-commitment-unsealed`.
pub const FIL_COMMITMENT_UNSEALED: u64 = 0xf101;
/// Multihash `sha2-256-trunc254-padded`.
pub const SHA2_256_TRUNC254_PADDED: u64 = 0x1012;
/// Multihash `fr32-sha256-trunc254-padbintree` (piece CID v2).
pub const FR32_SHA256_TRUNC254_PADBINTREE: u64 = 0x1011;
/// Multicodec `raw`.
pub const RAW: u64 = 0x55;

/// The piece CID v1 of a commitment.
pub fn piece_cid_v1(commp: &Node) -> Cid {
    let mh = Multihash::<64>::wrap(SHA2_256_TRUNC254_PADDED, commp).expect("32 bytes fit a 64-byte multihash");
    Cid::new_v1(FIL_COMMITMENT_UNSEALED, mh)
}

/// The commitment inside a piece CID v1, refusing any other kind of CID.
pub fn commp_from_cid_v1(cid: &Cid) -> Result<Node, CommPError> {
    let mh = cid.hash();
    if cid.version() != cid::Version::V1
        || cid.codec() != FIL_COMMITMENT_UNSEALED
        || mh.code() != SHA2_256_TRUNC254_PADDED
        || mh.size() != 32
    {
        return Err(CommPError::NotAPieceCid(cid.to_string()));
    }
    Ok(mh.digest().try_into().expect("size checked"))
}

/// The piece CID v2 of a commitment over `payload_len` bytes in a piece of `padded` bytes.
pub fn piece_cid_v2(commp: &Node, payload_len: u64, padded: u64) -> Result<Cid, CommPError> {
    if payload_len < 127 {
        return Err(CommPError::V2PayloadTooSmall(payload_len));
    }
    let unpadded = padded - padded / 128;
    if payload_len > unpadded || !padded.is_power_of_two() {
        return Err(CommPError::V2SizeMismatch { payload_len, padded });
    }
    let padding = unpadded - payload_len;
    let height = (padded / 32).trailing_zeros() as u8;
    let mut digest = Vec::with_capacity(11 + 32);
    let mut v = padding;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            digest.push(byte);
            break;
        }
        digest.push(byte | 0x80);
    }
    digest.push(height);
    digest.extend_from_slice(commp);
    let mh = Multihash::<64>::wrap(FR32_SHA256_TRUNC254_PADBINTREE, &digest).expect("at most 42 bytes");
    Ok(Cid::new_v1(RAW, mh))
}

/// What a piece CID v2 carries: the commitment, the padded size and the payload length.
pub fn parse_piece_cid_v2(cid: &Cid) -> Result<(Node, u64, u64), CommPError> {
    let bad = || CommPError::NotAPieceCid(cid.to_string());
    let mh = cid.hash();
    if cid.codec() != RAW || mh.code() != FR32_SHA256_TRUNC254_PADBINTREE {
        return Err(bad());
    }
    let d = mh.digest();
    let mut padding = 0u64;
    let mut i = 0;
    loop {
        let b = *d.get(i).ok_or_else(bad)?;
        if i >= 9 {
            return Err(bad());
        }
        padding |= u64::from(b & 0x7f) << (7 * i);
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    let height = *d.get(i).ok_or_else(bad)?;
    let commp: Node = d.get(i + 1..).and_then(|s| s.try_into().ok()).ok_or_else(bad)?;
    if !(2..=(super::tree::MAX_LEVEL as u8)).contains(&height) {
        return Err(bad());
    }
    let padded = 32u64 << height;
    let unpadded = padded - padded / 128;
    let payload = unpadded.checked_sub(padding).ok_or_else(bad)?;
    Ok((commp, padded, payload))
}

//! A client's check of a trustless CAR response, as lassie's `VerifyCar` does it: the walk of
//! the request's selector runs locally and each block it loads must be the next block of the
//! CAR, with data that hashes to its CID; a block the walk does not want, in a different order,
//! missing, or left over at the end fails the response. With `dups=n` a block met again is not
//! read from the CAR: the walk uses the copy it saw.
//!
//! Roots in the CAR header are not checked (the spec leaves them to the server); its version
//! must be 1.

use std::collections::HashMap;
use std::io::{self, Read};

use bytes::Bytes;
use graphsync::Cid;
use graphsync::ipld::{self, BlockError, codec};
use graphsync::walk::{Step, Walk, WalkError};

use crate::request::Request;
use crate::serve::MAX_LINKS;

/// Largest CAR header and section read (a block is at most 2 MiB on the network; a section
/// adds its CID).
const MAX_SECTION: u64 = 4 << 20;

/// Why a response was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the response is not a CARv1: {0}")]
    Malformed(String),
    #[error("the response has block {got} where the DAG walk needs {want}")]
    Unexpected { want: Box<Cid>, got: Box<Cid> },
    #[error("the response ends before block {0}, which the DAG walk needs")]
    Missing(Box<Cid>),
    #[error("the response has blocks after the end of the DAG walk")]
    Extraneous,
    #[error("block {0} does not hash to its CID")]
    Corrupt(Box<Cid>),
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error("reading the response: {0}")]
    Io(#[from] io::Error),
    #[error("the request's selector: {0}")]
    Selector(#[from] graphsync::selector::SelectorError),
}

/// What a verified response held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verified {
    /// Blocks read from the response.
    pub blocks: u64,
    /// Their bytes (block data only).
    pub bytes: u64,
}

/// A uvarint, or `None` at a clean end of input.
fn read_uvarint(input: &mut dyn Read) -> Result<Option<u64>, VerifyError> {
    let mut value = 0u64;
    for i in 0..10 {
        let mut b = [0u8];
        if input.read(&mut b)? == 0 {
            return if i == 0 {
                Ok(None)
            } else {
                Err(VerifyError::Malformed("a length prefix is cut short".into()))
            };
        }
        value |= u64::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            return Ok(Some(value));
        }
    }
    Err(VerifyError::Malformed("a length prefix is too long".into()))
}

fn read_exact(input: &mut dyn Read, len: u64) -> Result<Vec<u8>, VerifyError> {
    if len > MAX_SECTION {
        return Err(VerifyError::Malformed(format!(
            "a section of {len} bytes is larger than allowed"
        )));
    }
    let mut buf = Vec::new();
    input.take(len).read_to_end(&mut buf)?;
    if buf.len() as u64 != len {
        return Err(VerifyError::Malformed("a section is cut short".into()));
    }
    Ok(buf)
}

/// The next section: its CID and data, or `None` at the end.
fn next_section(input: &mut dyn Read) -> Result<Option<(Cid, Bytes)>, VerifyError> {
    let Some(len) = read_uvarint(input)? else {
        return Ok(None);
    };
    let section = Bytes::from(read_exact(input, len)?);
    let mut cursor = io::Cursor::new(&section[..]);
    let cid = Cid::read_bytes(&mut cursor).map_err(|e| VerifyError::Malformed(format!("a section's CID: {e}")))?;
    let at = cursor.position() as usize;
    Ok(Some((cid, section.slice(at..))))
}

/// Check the CARv1 header: version 1 (roots are not checked).
fn check_header(input: &mut dyn Read) -> Result<(), VerifyError> {
    let len = read_uvarint(input)?.ok_or_else(|| VerifyError::Malformed("the response is empty".into()))?;
    let header = Bytes::from(read_exact(input, len)?);
    let node = ipld::decode_dag_cbor(&header).map_err(|e| VerifyError::Malformed(format!("the header: {e}")))?;
    match node.get("version").and_then(|v| v.as_int()) {
        Some(1) => Ok(()),
        Some(v) => Err(VerifyError::Malformed(format!(
            "CAR version {v}; a trustless response is version 1"
        ))),
        None => Err(VerifyError::Malformed("the header has no version".into())),
    }
}

/// One verified link load of the walk, handed to [`verify_car`]'s callback in walk order.
#[derive(Debug)]
pub struct Load<'a> {
    /// Its place in the walk (0 for the root).
    pub index: u64,
    pub cid: &'a Cid,
    /// The block (for a duplicate not re-sent under `dups=n`, the copy seen before; for a
    /// raw one, empty: keep raw blocks the first time they come).
    pub data: &'a Bytes,
    /// Read from the response now (not a duplicate, not an inlined block).
    pub fresh: bool,
}

/// Verify the CAR `input` against `request`'s walk; `dups` as the response's Content-Type
/// declares it (`y` when it does not say). Each load of the walk is handed to `on_load`.
pub fn verify_car(
    request: &Request,
    dups: bool,
    input: &mut dyn Read,
    on_load: &mut dyn FnMut(Load<'_>) -> io::Result<()>,
) -> Result<Verified, VerifyError> {
    check_header(input)?;
    let mut verified = Verified::default();
    // With dups=n, the blocks the walk may meet again. A raw block's bytes never steer the
    // walk, so only the others are kept.
    let mut kept: HashMap<Cid, Option<Bytes>> = HashMap::new();
    let mut walk = Walk::new(request.root, crate::selector::selector(request)?, MAX_LINKS);
    let mut index = 0u64;
    while let Step::Load(want) = walk.step()? {
        let at = index;
        index += 1;
        let seen = if want.hash().code() == ipld::IDENTITY {
            Some(Bytes::copy_from_slice(want.hash().digest()))
        } else if dups {
            None
        } else {
            kept.get(&want).map(|s| s.clone().unwrap_or_default())
        };
        if let Some(data) = seen {
            on_load(Load {
                index: at,
                cid: &want,
                data: &data,
                fresh: false,
            })?;
            walk.loaded(Some(&data))?;
            continue;
        }
        let (got, data) = next_section(input)?.ok_or_else(|| VerifyError::Missing(Box::new(want)))?;
        if got.hash() != want.hash() {
            return Err(VerifyError::Unexpected {
                want: Box::new(want),
                got: Box::new(got),
            });
        }
        ipld::verify(&want, &data).map_err(|e| match e {
            BlockError::HashMismatch { .. } => VerifyError::Corrupt(Box::new(want)),
            other => VerifyError::Walk(other.into()),
        })?;
        verified.blocks += 1;
        verified.bytes += data.len() as u64;
        on_load(Load {
            index: at,
            cid: &want,
            data: &data,
            fresh: true,
        })?;
        if !dups {
            kept.insert(want, (want.codec() != codec::RAW).then(|| data.clone()));
        }
        walk.loaded(Some(&data))?;
    }
    if next_section(input)?.is_some() {
        return Err(VerifyError::Extraneous);
    }
    Ok(verified)
}

//! The `unixfs` and `unixfs-preload` ADLs of explore-interpret-as, as go-unixfsnode reifies a
//! dag-pb block: a directory (and any dag-pb node without UnixFS data, or a symlink or
//! metadata node) reads as a map from link names to links, in link order; a file or raw node
//! reads as bytes, with no children — except that `unixfs-preload` first loads the whole file
//! (every block under it, depth first, as go-unixfsnode's preloading reader does). HAMT-sharded
//! directories are not read yet.

use std::sync::Arc;

use crate::ipld::Node;

/// A dag-pb block read through the unixfs ADL.
#[derive(Debug, Clone, PartialEq)]
pub enum Reified {
    /// A map (name → link) to explore with the next selector.
    Map(Node),
    /// A file's bytes (nothing to explore). `preload`: go-unixfsnode reads it whole while
    /// reifying (`unixfs-preload`); and go-graphsync reads it whole again when a selector
    /// matches it. Either read loads every block under it, depth first.
    File { preload: bool },
}

/// Why a block cannot be read through the ADL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnixfsError {
    #[error("HAMT-sharded directories are not supported yet")]
    Hamt,
    #[error("no reification for UnixFS node type {0}")]
    UnknownType(u64),
    #[error(
        "a byte range of a UnixFS file needs the sizes of its children, and link {0} of a file node \
         has neither a blocksizes entry nor (for a raw leaf) a Tsize"
    )]
    NoChildSize(usize),
    #[error("the UnixFS data of a file node is malformed")]
    MalformedData,
}

fn varint(b: &[u8]) -> Result<(u64, &[u8]), UnixfsError> {
    unsigned_varint::decode::u64(b).map_err(|_| UnixfsError::MalformedData)
}

/// UnixFS data types (unixfs.proto).
mod data_type {
    pub const RAW: u64 = 0;
    pub const DIRECTORY: u64 = 1;
    pub const FILE: u64 = 2;
    pub const METADATA: u64 = 3;
    pub const SYMLINK: u64 = 4;
    pub const HAMT_SHARD: u64 = 5;
}

/// The UnixFS type in a dag-pb node's `Data`, if it is valid UnixFS data.
fn unixfs_type(pb: &Node) -> Option<u64> {
    let Some(Node::Bytes(data)) = pb.get("Data") else {
        return None;
    };
    // Field 1 (Type), a varint, is required and comes first in go-unixfs's encoding.
    let (key, rest) = unsigned_varint::decode::u64(data).ok()?;
    if key != 0x08 {
        return None;
    }
    unsigned_varint::decode::u64(rest).ok().map(|(t, _)| t)
}

/// The parts of a file node's UnixFS data a byte-range read uses (unixfs.proto fields 3 and 4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileData {
    pub file_size: Option<u64>,
    pub block_sizes: Vec<u64>,
}

impl FileData {
    /// Parse the `Data` bytes of a dag-pb node (protobuf: varints, length-delimited fields
    /// skipped, `blocksizes` packed or not). The list is bounded by the block's size.
    pub fn parse(data: &[u8]) -> Result<FileData, UnixfsError> {
        let mut out = FileData::default();
        let mut rest = data;
        while !rest.is_empty() {
            let (key, r) = varint(rest)?;
            rest = r;
            match (key >> 3, key & 7) {
                (field, 0) => {
                    let (v, r) = varint(rest)?;
                    rest = r;
                    match field {
                        3 => out.file_size = Some(v),
                        4 => out.block_sizes.push(v),
                        _ => {}
                    }
                }
                (field, 2) => {
                    let (len, r) = varint(rest)?;
                    let len = usize::try_from(len).map_err(|_| UnixfsError::MalformedData)?;
                    if len > r.len() {
                        return Err(UnixfsError::MalformedData);
                    }
                    let (body, r) = r.split_at(len);
                    rest = r;
                    if field == 4 {
                        let mut packed = body;
                        while !packed.is_empty() {
                            let (v, p) = varint(packed)?;
                            out.block_sizes.push(v);
                            packed = p;
                        }
                    }
                }
                (_, 1) if rest.len() >= 8 => rest = &rest[8..],
                (_, 5) if rest.len() >= 4 => rest = &rest[4..],
                _ => return Err(UnixfsError::MalformedData),
            }
        }
        Ok(out)
    }

    /// The UnixFS data of dag-pb node `pb` (empty when it has none).
    pub fn of(pb: &Node) -> Result<FileData, UnixfsError> {
        match pb.get("Data") {
            Some(Node::Bytes(data)) => FileData::parse(data),
            _ => Ok(FileData::default()),
        }
    }
}

/// The children of a file node with the bytes of the file under each, as go-unixfsnode sizes
/// them for a seek: a raw leaf by its link's `Tsize`, anything else by the node's
/// `blocksizes` entry (go-unixfsnode would load a child that has neither; this refuses).
pub fn file_children(pb: &Node) -> Result<Vec<(crate::Cid, u64)>, UnixfsError> {
    let data = FileData::of(pb)?;
    let Some(Node::List(links)) = pb.get("Links") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(links.len());
    for (i, link) in links.iter().enumerate() {
        let Some(Node::Link(cid)) = link.get("Hash") else {
            return Err(UnixfsError::MalformedData);
        };
        let tsize = link
            .get("Tsize")
            .and_then(Node::as_int)
            .and_then(|t| u64::try_from(t).ok());
        let size = match (cid.codec() == crate::ipld::codec::RAW, tsize) {
            (true, Some(t)) => Some(t),
            _ => data.block_sizes.get(i).copied(),
        };
        out.push((*cid, size.ok_or(UnixfsError::NoChildSize(i))?));
    }
    Ok(out)
}

/// A file's length as go-unixfsnode seeks to its end: `filesize`, else the sum of its
/// children's sizes.
pub fn file_length(pb: &Node) -> Result<u64, UnixfsError> {
    if let Some(n) = FileData::of(pb)?.file_size {
        return Ok(n);
    }
    Ok(file_children(pb)?.iter().fold(0u64, |a, (_, n)| a.saturating_add(*n)))
}

/// go-ipld-prime's `sliceBounds`: a matcher's `[from, to)` (negatives count from the end, `to`
/// clipped to the length) resolved against `length`; `None` when nothing matches.
pub fn slice_bounds(from: i64, to: i64, length: u64) -> Option<(u64, u64)> {
    let length = i64::try_from(length).unwrap_or(i64::MAX);
    let to = if to < 0 {
        length.saturating_add(to)
    } else {
        to.min(length)
    };
    let from = if from < 0 {
        length.saturating_add(from).max(0)
    } else {
        from
    };
    if from > to || from >= length {
        return None;
    }
    Some((from as u64, to as u64))
}

/// Read the dag-pb node `pb` (a block's root) through the ADL.
pub fn reify(pb: &Node, preload: bool) -> Result<Reified, UnixfsError> {
    match unixfs_type(pb) {
        Some(data_type::FILE) => Ok(Reified::File { preload }),
        Some(data_type::RAW) => Ok(Reified::File { preload: false }),
        Some(data_type::HAMT_SHARD) => Err(UnixfsError::Hamt),
        Some(data_type::DIRECTORY | data_type::METADATA | data_type::SYMLINK) | None => Ok(Reified::Map(by_name(pb))),
        Some(other) => Err(UnixfsError::UnknownType(other)),
    }
}

/// The links of a dag-pb node by name, in link order.
fn by_name(pb: &Node) -> Node {
    let mut entries: Vec<(Arc<str>, Node)> = Vec::new();
    if let Some(Node::List(links)) = pb.get("Links") {
        for link in links.iter() {
            let name: Arc<str> = match link.get("Name") {
                Some(Node::String(s)) => s.clone(),
                _ => Arc::from(""),
            };
            if let Some(hash @ Node::Link(_)) = link.get("Hash") {
                entries.push((name, hash.clone()));
            }
        }
    }
    Node::Map(entries.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_data_reads_sizes_packed_or_not_and_refuses_truncation() {
        // Type=File, filesize=300, blocksizes 100 and 200 unpacked.
        let plain = [0x08, 0x02, 0x18, 0xac, 0x02, 0x20, 0x64, 0x20, 0xc8, 0x01];
        let d = FileData::parse(&plain).expect("parse");
        assert_eq!(d.file_size, Some(300));
        assert_eq!(d.block_sizes, vec![100, 200]);
        // The same sizes packed, after a Data field that is skipped.
        let packed = [0x08, 0x02, 0x12, 0x02, 0xaa, 0xbb, 0x22, 0x03, 0x64, 0xc8, 0x01];
        assert_eq!(FileData::parse(&packed).expect("parse").block_sizes, vec![100, 200]);
        assert_eq!(FileData::parse(&[0x08]), Err(UnixfsError::MalformedData));
        assert_eq!(FileData::parse(&[0x12, 0x05, 0x00]), Err(UnixfsError::MalformedData));
    }

    #[test]
    fn slice_bounds_are_go_ipld_primes() {
        assert_eq!(slice_bounds(0, i64::MAX, 10), Some((0, 10)));
        assert_eq!(slice_bounds(-4, i64::MAX, 10), Some((6, 10)));
        assert_eq!(slice_bounds(-40, 3, 10), Some((0, 3)));
        assert_eq!(slice_bounds(2, -2, 10), Some((2, 8)));
        assert_eq!(slice_bounds(10, 20, 10), None);
        assert_eq!(slice_bounds(5, 4, 10), None);
        assert_eq!(slice_bounds(0, 0, 0), None);
        assert_eq!(slice_bounds(i64::MIN, i64::MIN, u64::MAX), None);
    }
}

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

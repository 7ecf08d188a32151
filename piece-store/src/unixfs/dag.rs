//! An imported DAG: its root, the inner nodes in memory and the leaves as file ranges, and
//! the depth-first walk that writes it as a CAR in the order Go's `generate-car` does.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::{BlockCid, DAG_PB, IDENTITY, pb};

/// Where a block's bytes are.
#[derive(Debug, Clone)]
pub enum BlockRef {
    /// Held in memory (inner nodes).
    Inline(Vec<u8>),
    /// A range of one of the source files (leaves).
    File { file: usize, offset: u64, len: u32 },
    /// A dag-pb leaf wrapping a range of a source file as UnixFS data of `data_type`
    /// (leaves without raw leaves).
    PbLeaf {
        file: usize,
        offset: u64,
        len: u32,
        data_type: pb::DataType,
    },
}

/// A DAG built by the importer.
#[derive(Debug, Default)]
pub struct Dag {
    pub(crate) root: Option<BlockCid>,
    pub(crate) blocks: HashMap<BlockCid, BlockRef>,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) payload_bytes: u64,
}

impl Dag {
    /// The root CID.
    pub fn root(&self) -> BlockCid {
        self.root.expect("an import always sets the root")
    }

    /// Bytes of file content imported.
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// Number of distinct stored (non-identity) blocks.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Walks the DAG depth-first from the root (parents before children, children in link
    /// order), calling `visit` once per distinct block with its bytes. Identity blocks carry
    /// their data in the CID and are not visited, but their links are followed.
    pub fn walk(&self, mut visit: impl FnMut(&BlockCid, &[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        let mut reader = FileRanges::default();
        let mut seen = HashSet::new();
        let mut stack = vec![self.root()];
        let mut buf = Vec::new();
        let mut wrapped: Vec<u8>;
        while let Some(cid) = stack.pop() {
            if !seen.insert(cid) {
                continue;
            }
            // A dag-pb leaf has no links to follow.
            let mut leaf = false;
            let data: &[u8] = if cid.hash().code() == IDENTITY {
                cid.hash().digest()
            } else {
                match self.blocks.get(&cid) {
                    Some(BlockRef::Inline(d)) => d,
                    Some(BlockRef::File { file, offset, len }) => {
                        reader.read(&self.files[*file], *file, *offset, *len as usize, &mut buf)?;
                        &buf
                    }
                    Some(BlockRef::PbLeaf {
                        file,
                        offset,
                        len,
                        data_type,
                    }) => {
                        reader.read(&self.files[*file], *file, *offset, *len as usize, &mut buf)?;
                        wrapped = pb::leaf_node(*data_type, &buf);
                        leaf = true;
                        &wrapped
                    }
                    None => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!("block {cid} is missing from the DAG"),
                        ));
                    }
                }
            };
            if cid.codec() == DAG_PB && !leaf {
                let node =
                    pb::decode_node(data).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                for link in node.links.iter().rev() {
                    let child = BlockCid::try_from(link.hash.as_slice())
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                    stack.push(child);
                }
            }
            if cid.hash().code() != IDENTITY {
                visit(&cid, data)?;
            }
        }
        Ok(())
    }
}

/// Reads leaf ranges, keeping the last file open and reading sequentially when it can.
#[derive(Default)]
struct FileRanges {
    open: Option<(usize, File, u64)>,
}

impl FileRanges {
    fn read(&mut self, path: &PathBuf, idx: usize, offset: u64, len: usize, buf: &mut Vec<u8>) -> std::io::Result<()> {
        if self.open.as_ref().is_none_or(|(i, _, _)| *i != idx) {
            let f = File::open(path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            self.open = Some((idx, f, 0));
        }
        let (_, f, pos) = self.open.as_mut().expect("just opened");
        if *pos != offset {
            f.seek(SeekFrom::Start(offset))?;
        }
        buf.resize(len, 0);
        f.read_exact(buf).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "{} changed while importing (short read at {offset}): {e}",
                    path.display()
                ),
            )
        })?;
        *pos = offset + len as u64;
        Ok(())
    }
}

//! Writing a UnixFS DAG back out as files: a file's bytes in link order (dag-pb file nodes
//! and raw leaves, inline data, identity CIDs), directories (plain and HAMT-sharded) as
//! directories, symlinks as symlinks. Names from the DAG are checked before they touch the
//! filesystem: a name with a separator, `.` or `..` is refused, so a DAG cannot write outside
//! the target.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::pb::{self, DataType};
use super::{BlockCid, DAG_PB, IDENTITY, RAW};

/// Deepest DAG followed (files of any size stay far below this).
const MAX_DEPTH: usize = 1024;

/// Why a DAG could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("block {0} is missing")]
    Missing(String),
    #[error("block {cid}: {reason}")]
    Malformed { cid: String, reason: String },
    #[error("a directory entry is named {0:?}, which cannot be a file name")]
    BadName(String),
    #[error("the DAG is deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("reading blocks: {0}")]
    Blocks(std::io::Error),
}

/// Where the exporter reads blocks from.
pub trait Blocks {
    fn block(&self, cid: &BlockCid) -> std::io::Result<Option<Vec<u8>>>;
}

fn load(blocks: &dyn Blocks, cid: &BlockCid) -> Result<Vec<u8>, ExportError> {
    if cid.hash().code() == IDENTITY {
        return Ok(cid.hash().digest().to_vec());
    }
    blocks
        .block(cid)
        .map_err(ExportError::Blocks)?
        .ok_or_else(|| ExportError::Missing(cid.to_string()))
}

fn malformed(cid: &BlockCid, reason: impl std::fmt::Display) -> ExportError {
    ExportError::Malformed {
        cid: cid.to_string(),
        reason: reason.to_string(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a node is, for the exporter.
enum Node {
    /// File bytes of this node, then its children in order.
    File {
        data: Vec<u8>,
        children: Vec<BlockCid>,
    },
    Directory(Vec<(String, BlockCid)>),
    Shard {
        prefix: usize,
        links: Vec<(String, BlockCid)>,
    },
    Symlink(Vec<u8>),
}

fn child_cid(cid: &BlockCid, hash: &[u8]) -> Result<BlockCid, ExportError> {
    BlockCid::try_from(hash).map_err(|e| malformed(cid, format!("a link is not a CID: {e}")))
}

fn node(cid: &BlockCid, bytes: Vec<u8>) -> Result<Node, ExportError> {
    match cid.codec() {
        RAW => Ok(Node::File {
            data: bytes,
            children: Vec::new(),
        }),
        DAG_PB => {
            let n = pb::decode_node(&bytes).map_err(|e| malformed(cid, e))?;
            let data = n
                .data
                .as_deref()
                .ok_or_else(|| malformed(cid, "dag-pb node without UnixFS data"))?;
            let u = pb::decode_unixfs(data).map_err(|e| malformed(cid, e))?;
            let links = n
                .links
                .iter()
                .map(|l| Ok((l.name.clone(), child_cid(cid, &l.hash)?)))
                .collect::<Result<Vec<_>, ExportError>>()?;
            match u.data_type {
                t if t == DataType::File as u64 || t == DataType::Raw as u64 => Ok(Node::File {
                    data: u.data.unwrap_or_default(),
                    children: links.into_iter().map(|(_, c)| c).collect(),
                }),
                t if t == DataType::Directory as u64 => Ok(Node::Directory(links)),
                t if t == DataType::HamtShard as u64 => {
                    let fanout = u.fanout.unwrap_or(256).max(2);
                    let prefix = format!("{:X}", fanout - 1).len();
                    Ok(Node::Shard { prefix, links })
                }
                t if t == DataType::Symlink as u64 => Ok(Node::Symlink(u.data.unwrap_or_default())),
                t => Err(malformed(cid, format!("UnixFS type {t} cannot be exported"))),
            }
        }
        c => Err(malformed(cid, format!("codec 0x{c:x} is not UnixFS"))),
    }
}

/// Write the bytes of the file rooted at `cid` to `out`.
pub fn write_file(blocks: &dyn Blocks, cid: &BlockCid, out: &mut dyn Write) -> Result<u64, ExportError> {
    // Depth-first, in link order, without recursion: a stack of children still to write.
    let mut stack: Vec<std::vec::IntoIter<BlockCid>> = vec![vec![*cid].into_iter()];
    let mut written = 0u64;
    while let Some(top) = stack.last_mut() {
        let Some(next) = top.next() else {
            stack.pop();
            continue;
        };
        if stack.len() > MAX_DEPTH {
            return Err(ExportError::TooDeep);
        }
        match node(&next, load(blocks, &next)?)? {
            Node::File { data, children } => {
                out.write_all(&data).map_err(ExportError::Blocks)?;
                written += data.len() as u64;
                if !children.is_empty() {
                    stack.push(children.into_iter());
                }
            }
            _ => return Err(malformed(&next, "a file links to a node that is not file data")),
        }
    }
    Ok(written)
}

/// Where the raw leaves of the file rooted at `root` lie in that file's bytes, as
/// (leaf, offset, length), from its inner nodes alone (`blocks` need not hold the leaves):
/// each link's length is its parent's UnixFS block size. A file that is a single raw block
/// is `file_len` bytes at 0. The sizes come from the DAG: check them against the file before
/// reading (offsets saturate rather than wrap).
pub fn raw_leaves(
    blocks: &dyn Blocks,
    root: &BlockCid,
    file_len: u64,
) -> Result<Vec<(BlockCid, u64, u64)>, ExportError> {
    if root.codec() == RAW {
        return Ok(vec![(*root, 0, file_len)]);
    }
    let mut out = Vec::new();
    let mut offset = 0u64;
    let mut stack: Vec<std::vec::IntoIter<(BlockCid, u64)>> = Vec::new();
    let mut next = Some(*root);
    loop {
        if let Some(cid) = next.take() {
            if stack.len() > MAX_DEPTH {
                return Err(ExportError::TooDeep);
            }
            let bytes = load(blocks, &cid)?;
            let n = pb::decode_node(&bytes).map_err(|e| malformed(&cid, e))?;
            let u = n
                .data
                .as_deref()
                .map(pb::decode_unixfs)
                .transpose()
                .map_err(|e| malformed(&cid, e))?
                .ok_or_else(|| malformed(&cid, "dag-pb node without UnixFS data"))?;
            if u.data_type != DataType::File as u64 && u.data_type != DataType::Raw as u64 {
                return Err(malformed(&cid, "not a UnixFS file node"));
            }
            if u.blocksizes.len() != n.links.len() {
                return Err(malformed(&cid, "a file node whose block sizes do not match its links"));
            }
            offset = offset.saturating_add(u.data.map_or(0, |d| d.len() as u64));
            let children = n
                .links
                .iter()
                .zip(u.blocksizes)
                .map(|(l, size)| Ok((child_cid(&cid, &l.hash)?, size)))
                .collect::<Result<Vec<_>, ExportError>>()?;
            stack.push(children.into_iter());
        }
        let Some(top) = stack.last_mut() else {
            return Ok(out);
        };
        match top.next() {
            None => {
                stack.pop();
            }
            Some((child, size)) if child.codec() == RAW => {
                out.push((child, offset, size));
                offset = offset.saturating_add(size);
            }
            Some((child, _)) => next = Some(child),
        }
    }
}

/// Why [`FileStreamer`] could not take a block.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The root is not a UnixFS file (a directory, a symlink, another codec): write it out
    /// afterwards with [`export`].
    #[error("{0} is not a UnixFS file")]
    NotAFile(String),
    #[error("the file needs block {expected} next, not {got}")]
    OutOfOrder { expected: String, got: String },
    #[error("block {0} comes after the file's last block")]
    Extra(String),
    #[error(transparent)]
    Malformed(#[from] ExportError),
}

/// The file bytes a block carries, which come next in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileBytes {
    /// The block's own bytes (a raw leaf): write them as they are, without a copy.
    Block,
    /// Bytes held inside the block (a dag-pb node's data), possibly none.
    Data(Vec<u8>),
}

/// Follows a UnixFS file while its blocks are handed over one at a time in depth-first link
/// order (the order in which a graphsync walk of the whole DAG loads them, duplicates
/// included) and says which bytes of each go next in the file, so the file can be written
/// as the blocks arrive, with no block kept and no second pass. No IO: the caller writes.
/// Only the links still to come are held, a list per level.
#[derive(Debug, Default)]
pub struct FileStreamer {
    stack: Vec<std::vec::IntoIter<BlockCid>>,
    started: bool,
    written: u64,
}

impl FileStreamer {
    pub fn new() -> Self {
        FileStreamer::default()
    }

    /// The next block of the walk (the root first).
    pub fn block(&mut self, cid: &BlockCid, bytes: &[u8]) -> Result<FileBytes, StreamError> {
        if self.started {
            let expected = loop {
                let Some(top) = self.stack.last_mut() else {
                    return Err(StreamError::Extra(cid.to_string()));
                };
                match top.next() {
                    Some(next) => break next,
                    None => {
                        self.stack.pop();
                    }
                }
            };
            if expected != *cid {
                return Err(StreamError::OutOfOrder {
                    expected: expected.to_string(),
                    got: cid.to_string(),
                });
            }
        }
        if self.stack.len() > MAX_DEPTH {
            return Err(ExportError::TooDeep.into());
        }
        let root = !self.started;
        self.started = true;
        if cid.codec() == RAW {
            self.written += bytes.len() as u64;
            return Ok(FileBytes::Block);
        }
        match node(cid, bytes.to_vec()) {
            Ok(Node::File { data, children }) => {
                if !children.is_empty() {
                    self.stack.push(children.into_iter());
                }
                self.written += data.len() as u64;
                Ok(FileBytes::Data(data))
            }
            Ok(_) | Err(ExportError::Malformed { .. }) if root => Err(StreamError::NotAFile(cid.to_string())),
            Ok(_) => Err(malformed(cid, "a file links to a node that is not file data").into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether every block of the file has been seen.
    pub fn is_complete(&self) -> bool {
        self.started && self.stack.iter().all(|level| level.as_slice().is_empty())
    }

    /// File bytes so far (where the next block's bytes go).
    pub fn written(&self) -> u64 {
        self.written
    }
}

fn check_name(name: &str) -> Result<&str, ExportError> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\\')
        || name.contains('\0')
    {
        return Err(ExportError::BadName(name.to_string()));
    }
    Ok(name)
}

/// Export the DAG rooted at `cid` to `path`: a file, a directory tree or a symlink.
pub fn export(blocks: &dyn Blocks, cid: &BlockCid, path: &Path) -> Result<(), ExportError> {
    export_at(blocks, cid, path, 0)
}

fn export_at(blocks: &dyn Blocks, cid: &BlockCid, path: &Path, depth: usize) -> Result<(), ExportError> {
    if depth > MAX_DEPTH {
        return Err(ExportError::TooDeep);
    }
    let bytes = load(blocks, cid)?;
    match node(cid, bytes)? {
        Node::File { .. } => {
            let f = std::fs::File::create(path).map_err(io(path))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            write_file(blocks, cid, &mut w)?;
            w.flush().map_err(io(path))?;
        }
        Node::Directory(entries) => {
            std::fs::create_dir_all(path).map_err(io(path))?;
            for (name, child) in entries {
                export_at(blocks, &child, &path.join(check_name(&name)?), depth + 1)?;
            }
        }
        Node::Shard { .. } => {
            std::fs::create_dir_all(path).map_err(io(path))?;
            // Entries of a sharded directory: links named prefix + name; a link named by the
            // prefix alone is a sub-shard, whose entries belong to the same directory.
            let mut shards = vec![*cid];
            while let Some(shard) = shards.pop() {
                let Node::Shard { prefix, links } = node(&shard, load(blocks, &shard)?)? else {
                    return Err(malformed(
                        &shard,
                        "a sharded directory links to a node that is not a shard",
                    ));
                };
                for (name, child) in links {
                    if name.len() == prefix {
                        shards.push(child);
                    } else if name.len() > prefix && name.is_char_boundary(prefix) {
                        export_at(blocks, &child, &path.join(check_name(&name[prefix..])?), depth + 1)?;
                    } else {
                        return Err(malformed(
                            &shard,
                            format!("shard link {name:?} has no name after its prefix"),
                        ));
                    }
                }
                if shards.len() > MAX_DEPTH * 256 {
                    return Err(ExportError::TooDeep);
                }
            }
        }
        Node::Symlink(target) => {
            let target = String::from_utf8(target).map_err(|_| malformed(cid, "symlink target is not UTF-8"))?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, path).map_err(io(path))?;
            #[cfg(not(unix))]
            std::fs::write(path, target.as_bytes()).map_err(io(path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::unixfs::pb::{PbLink, UnixFsData, encode_node};

    #[derive(Default)]
    struct Mem(HashMap<BlockCid, Vec<u8>>);

    impl Blocks for Mem {
        fn block(&self, cid: &BlockCid) -> std::io::Result<Option<Vec<u8>>> {
            Ok(self.0.get(cid).cloned())
        }
    }

    impl Mem {
        fn put(&mut self, codec: u64, data: Vec<u8>) -> BlockCid {
            let opts = crate::unixfs::ImportOptions {
                inline_limit: 0,
                ..Default::default()
            };
            let cid = opts.cid_for(codec, &data);
            self.0.insert(cid, data);
            cid
        }
    }

    fn dir(m: &mut Mem, entries: &[(&str, BlockCid)]) -> BlockCid {
        let links: Vec<PbLink> = entries
            .iter()
            .map(|(n, c)| PbLink {
                hash: c.to_bytes(),
                name: n.to_string(),
                tsize: 0,
            })
            .collect();
        m.put(
            DAG_PB,
            encode_node(&links, Some(&UnixFsData::new(DataType::Directory).encode())),
        )
    }

    #[test]
    fn files_and_directories_come_back_out() {
        let mut m = Mem::default();
        let a = m.put(RAW, b"hello ".to_vec());
        let b = m.put(RAW, b"world".to_vec());
        let file = m.put(
            DAG_PB,
            encode_node(
                &[
                    PbLink {
                        hash: a.to_bytes(),
                        name: String::new(),
                        tsize: 6,
                    },
                    PbLink {
                        hash: b.to_bytes(),
                        name: String::new(),
                        tsize: 5,
                    },
                ],
                Some(
                    &UnixFsData {
                        filesize: Some(11),
                        blocksizes: vec![6, 5],
                        ..UnixFsData::new(DataType::File)
                    }
                    .encode(),
                ),
            ),
        );
        let inner = dir(&mut m, &[("greeting.txt", file)]);
        let root = dir(&mut m, &[("sub", inner), ("raw.bin", b)]);
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        export(&m, &root, &out).expect("exports");
        assert_eq!(
            std::fs::read(out.join("sub/greeting.txt")).expect("exported"),
            b"hello world"
        );
        assert_eq!(std::fs::read(out.join("raw.bin")).expect("exported"), b"world");
    }

    /// A file of raw leaves under two levels of dag-pb nodes, one leaf twice, with inline
    /// data in an inner node; its blocks in walk order and its bytes.
    type InOrder = Vec<(BlockCid, Vec<u8>)>;

    fn layered_file(m: &mut Mem) -> (BlockCid, InOrder, Vec<u8>) {
        let file_node = |m: &mut Mem, data: &[u8], kids: &[(BlockCid, u64)]| {
            let links: Vec<PbLink> = kids
                .iter()
                .map(|(c, n)| PbLink {
                    hash: c.to_bytes(),
                    name: String::new(),
                    tsize: *n,
                })
                .collect();
            let u = UnixFsData {
                data: (!data.is_empty()).then(|| data.to_vec()),
                filesize: Some(data.len() as u64 + kids.iter().map(|k| k.1).sum::<u64>()),
                blocksizes: kids.iter().map(|k| k.1).collect(),
                ..UnixFsData::new(DataType::File)
            };
            m.put(DAG_PB, encode_node(&links, Some(&u.encode())))
        };
        let a = m.put(RAW, b"aaaa".to_vec());
        let b = m.put(RAW, b"bb".to_vec());
        let inner = file_node(m, b"<inline>", &[(a, 4), (b, 2)]);
        let root = file_node(m, b"", &[(inner, 14), (a, 4)]);
        let order = [root, inner, a, b, a];
        let blocks = order.iter().map(|c| (*c, m.0[c].clone())).collect();
        (root, blocks, b"<inline>aaaabbaaaa".to_vec())
    }

    #[test]
    fn a_file_streamed_in_walk_order_is_what_export_writes() {
        let mut m = Mem::default();
        let (root, blocks, bytes) = layered_file(&mut m);
        let mut s = FileStreamer::new();
        let mut streamed = Vec::new();
        for (i, (c, d)) in blocks.iter().enumerate() {
            assert!(!s.is_complete(), "complete before block {i}");
            assert_eq!(s.written(), streamed.len() as u64);
            match s.block(c, d).expect("in order") {
                FileBytes::Block => streamed.extend_from_slice(d),
                FileBytes::Data(data) => streamed.extend_from_slice(&data),
            }
        }
        assert!(s.is_complete());
        assert_eq!(s.written(), bytes.len() as u64);
        let mut exported = Vec::new();
        write_file(&m, &root, &mut exported).expect("export");
        assert_eq!(streamed, exported);
        assert_eq!(exported, bytes);
    }

    #[test]
    fn raw_leaves_are_located_in_the_file_from_the_inner_nodes_alone() {
        let mut m = Mem::default();
        let (root, blocks, bytes) = layered_file(&mut m);
        for (c, _) in &blocks {
            if c.codec() == RAW {
                m.0.remove(c);
            }
        }
        let leaves = raw_leaves(&m, &root, bytes.len() as u64).expect("located");
        let (a, b) = (blocks[2].0, blocks[3].0);
        assert_eq!(leaves, vec![(a, 8, 4), (b, 12, 2), (a, 14, 4)]);
        for (_, off, len) in leaves {
            let (o, l) = (off as usize, len as usize);
            assert!(o + l <= bytes.len());
        }
    }

    #[test]
    fn a_streamed_file_refuses_blocks_out_of_order_extra_blocks_and_directories() {
        let mut m = Mem::default();
        let (_, blocks, _) = layered_file(&mut m);
        let mut s = FileStreamer::new();
        s.block(&blocks[0].0, &blocks[0].1).expect("root");
        let err = s.block(&blocks[2].0, &blocks[2].1).expect_err("skips the inner node");
        assert!(matches!(err, StreamError::OutOfOrder { .. }), "{err}");

        let mut s = FileStreamer::new();
        for (c, d) in &blocks {
            s.block(c, d).expect("in order");
        }
        let err = s.block(&blocks[2].0, &blocks[2].1).expect_err("after the end");
        assert!(matches!(err, StreamError::Extra(_)), "{err}");

        let d = dir(&mut m, &[("f", blocks[2].0)]);
        let mut s = FileStreamer::new();
        let err = s.block(&d, &m.0[&d]).expect_err("a directory");
        assert!(matches!(err, StreamError::NotAFile(_)), "{err}");
    }

    #[test]
    fn names_that_escape_the_target_are_refused() {
        let mut m = Mem::default();
        let b = m.put(RAW, b"x".to_vec());
        for bad in ["..", "a/b", ".", ""] {
            let root = dir(&mut m, &[(bad, b)]);
            let tmp = tempfile::tempdir().expect("tempdir");
            let err = export(&m, &root, &tmp.path().join("out")).expect_err("refused");
            assert!(matches!(err, ExportError::BadName(_)), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_missing_block_is_named() {
        let mut m = Mem::default();
        let b = m.put(RAW, b"x".to_vec());
        let root = dir(&mut m, &[("f", b)]);
        m.0.remove(&b);
        let tmp = tempfile::tempdir().expect("tempdir");
        let err = export(&m, &root, &tmp.path().join("out")).expect_err("refused");
        assert!(matches!(err, ExportError::Missing(c) if c == b.to_string()));
    }
}

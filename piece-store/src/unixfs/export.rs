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

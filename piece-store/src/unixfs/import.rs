//! The importer: files as balanced UnixFS DAGs with raw leaves, directories as UnixFS
//! directories.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::dag::{BlockRef, Dag};
use super::pb::{self, DataType, PbLink, UnixFsData};
use super::{BlockCid, DAG_PB, IDENTITY, ImportOptions, RAW};
use crate::io_util::read_full;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: not a regular file, directory or symlink; only those can be imported")]
    Unsupported(PathBuf),
    #[error("{0}: file names must be UTF-8 to become UnixFS link names")]
    NonUtf8Name(PathBuf),
    #[error("{dir}: the names {names} have the same 64-bit HAMT key; rename one of them")]
    HashCollision { dir: PathBuf, names: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A child in a UnixFS node: its CID, content size and cumulative (block) size.
#[derive(Debug, Clone)]
pub(super) struct Child {
    pub(super) cid: BlockCid,
    pub(super) filesize: u64,
    pub(super) tsize: u64,
}

/// Builds DAGs from files and directories.
#[derive(Debug)]
pub struct Importer {
    pub(super) opts: ImportOptions,
    pub(super) dag: Dag,
}

impl Importer {
    pub fn new(opts: ImportOptions) -> Self {
        Importer {
            opts,
            dag: Dag::default(),
        }
    }

    /// Imports a file or a directory tree; `progress` is told the content bytes read so far.
    pub fn import_path(mut self, path: &Path, progress: &mut dyn FnMut(u64)) -> Result<Dag, ImportError> {
        let root = self.import_any(path, progress)?;
        self.dag.root = Some(root.cid);
        Ok(self.dag)
    }

    fn import_any(&mut self, path: &Path, progress: &mut dyn FnMut(u64)) -> Result<Child, ImportError> {
        let meta = std::fs::symlink_metadata(path).map_err(io_err(path))?;
        if meta.is_file() {
            let file = File::open(path).map_err(io_err(path))?;
            self.import_file(path, file, 0, None, progress)
        } else if meta.is_dir() {
            self.import_dir(path, progress)
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path).map_err(io_err(path))?;
            let target = target
                .to_str()
                .ok_or_else(|| ImportError::NonUtf8Name(path.to_path_buf()))?;
            let data = UnixFsData {
                data: Some(target.as_bytes().to_vec()),
                ..UnixFsData::new(DataType::Symlink)
            };
            Ok(self.put_node(&[], &data, 0))
        } else {
            Err(ImportError::Unsupported(path.to_path_buf()))
        }
    }

    /// Adds `path` to the DAG's file list (leaves refer to it by index).
    fn file_index(&mut self, path: &Path) -> usize {
        self.dag.files.push(path.to_path_buf());
        self.dag.files.len() - 1
    }

    fn store(&mut self, cid: BlockCid, block: BlockRef) {
        if cid.hash().code() != IDENTITY {
            self.dag.blocks.entry(cid).or_insert(block);
        }
    }

    /// Encodes and stores a dag-pb node over `children`.
    pub(super) fn put_node(&mut self, links: &[PbLink], data: &UnixFsData, filesize: u64) -> Child {
        let bytes = pb::encode_node(links, Some(&data.encode()));
        let tsize = bytes.len() as u64 + links.iter().map(|l| l.tsize).sum::<u64>();
        let cid = self.opts.cid_for(DAG_PB, &bytes);
        self.store(cid, BlockRef::Inline(bytes));
        Child { cid, filesize, tsize }
    }

    /// A file node over `children` (go-unixfs `FSNodeOverDag` with type File).
    fn file_node(&mut self, children: &[Child]) -> Child {
        let links: Vec<PbLink> = children
            .iter()
            .map(|c| PbLink {
                hash: c.cid.to_bytes(),
                name: String::new(),
                tsize: c.tsize,
            })
            .collect();
        let filesize = children.iter().map(|c| c.filesize).sum();
        let data = UnixFsData {
            filesize: Some(filesize),
            blocksizes: children.iter().map(|c| c.filesize).collect(),
            ..UnixFsData::new(DataType::File)
        };
        self.put_node(&links, &data, filesize)
    }

    /// go-unixfs's balanced layout, built bottom-up as the leaves stream past: a level that
    /// fills to `max_links` becomes one node of the level above. The result is the same tree
    /// as go-unixfs `balanced.Layout`.
    ///
    /// `start` and `len` import a range of the file (all of it from `start` when `len` is None).
    pub(super) fn import_file(
        &mut self,
        path: &Path,
        mut file: File,
        start: u64,
        len: Option<u64>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Child, ImportError> {
        let file_idx = self.file_index(path);
        if start > 0 {
            file.seek(SeekFrom::Start(start)).map_err(io_err(path))?;
        }
        let mut reader = file.take(len.unwrap_or(u64::MAX));
        let mut levels: Vec<Vec<Child>> = vec![Vec::new()];
        let mut buf = vec![0u8; self.opts.chunk_size];
        let mut offset = start;
        loop {
            let n = read_full(&mut reader, &mut buf).map_err(io_err(path))?;
            if n == 0 && offset > start {
                break;
            }
            let data = &buf[..n];
            let child = if self.opts.raw_leaves {
                let cid = self.opts.cid_for(RAW, data);
                self.store(
                    cid,
                    BlockRef::File {
                        file: file_idx,
                        offset,
                        len: n as u32,
                    },
                );
                Child {
                    cid,
                    filesize: n as u64,
                    tsize: n as u64,
                }
            } else {
                // go-unixfs: the first leaf is made as the file's own node (File), the
                // others as Raw.
                let data_type = if offset == start { DataType::File } else { DataType::Raw };
                let block = pb::leaf_node(data_type, data);
                let cid = self.opts.cid_for(DAG_PB, &block);
                self.store(
                    cid,
                    BlockRef::PbLeaf {
                        file: file_idx,
                        offset,
                        len: n as u32,
                        data_type,
                    },
                );
                Child {
                    cid,
                    filesize: n as u64,
                    tsize: block.len() as u64,
                }
            };
            offset += n as u64;
            progress(self.dag.payload_bytes + offset - start);
            levels[0].push(child);
            let mut level = 0;
            while levels[level].len() == self.opts.max_links {
                let children = std::mem::take(&mut levels[level]);
                let node = self.file_node(&children);
                if levels.len() == level + 1 {
                    levels.push(Vec::new());
                }
                levels[level + 1].push(node);
                level += 1;
            }
            if n < buf.len() {
                break;
            }
        }
        self.dag.payload_bytes += offset - start;
        // Close the partial nodes from the bottom up until one node is left on top.
        let mut level = 0;
        loop {
            let above = levels[level + 1..].iter().any(|l| !l.is_empty());
            let here = std::mem::take(&mut levels[level]);
            if !above && here.len() == 1 {
                return Ok(here.into_iter().next().expect("one child"));
            }
            if !here.is_empty() {
                let node = self.file_node(&here);
                if levels.len() == level + 1 {
                    levels.push(Vec::new());
                }
                levels[level + 1].push(node);
            }
            level += 1;
        }
    }

    fn import_dir(&mut self, path: &Path, progress: &mut dyn FnMut(u64)) -> Result<Child, ImportError> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io_err(path))? {
            let entry = entry.map_err(io_err(path))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| ImportError::NonUtf8Name(entry.path()))?;
            entries.push((name, entry.path()));
        }
        // dag-pb orders links by name bytes.
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut links = Vec::with_capacity(entries.len());
        for (name, child_path) in entries {
            let child = self.import_any(&child_path, progress)?;
            links.push((name, child));
        }
        let estimate: usize = links.iter().map(|(name, c)| name.len() + c.cid.encoded_len()).sum();
        if estimate > self.opts.shard_threshold {
            return self.hamt_dir(path, links);
        }
        let pb_links: Vec<PbLink> = links
            .iter()
            .map(|(name, c)| PbLink {
                hash: c.cid.to_bytes(),
                name: name.clone(),
                tsize: c.tsize,
            })
            .collect();
        Ok(self.put_node(&pb_links, &UnixFsData::new(DataType::Directory), 0))
    }
}

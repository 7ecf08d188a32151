//! Import of a listed set of files (or byte ranges of files) into one directory tree, as
//! go-graphsplit builds each slice: the root is always a plain UnixFS directory, each file
//! sits under the directories its list entry names, and a directory exists only when a file
//! is under it. Directories are never sharded, whatever their size.

use std::fs::File;
use std::path::PathBuf;

use super::BlockCid;
use super::dag::Dag;
use super::import::{Child, ImportError, Importer};
use super::pb::{DataType, PbLink, UnixFsData};

/// A file, or a byte range of one, to place in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Where its bytes are.
    pub path: PathBuf,
    /// The directories from the root down to the one it is linked in.
    pub dirs: Vec<String>,
    /// Its link name.
    pub name: String,
    /// The range of `path` it holds: from `start`, `len` bytes (the rest of the file if None).
    pub start: u64,
    pub len: Option<u64>,
}

/// A directory of the built tree, with its links in their encoded order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDir {
    pub cid: BlockCid,
    pub entries: Vec<ListedEntry>,
}

/// A link of a [`ListedDir`]: its name, target and cumulative size (the link's Tsize).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListedEntry {
    File { name: String, cid: BlockCid, tsize: u64 },
    Dir { name: String, tsize: u64, dir: ListedDir },
}

#[derive(Default)]
struct DirBuilder {
    entries: Vec<(String, Node)>,
}

enum Node {
    File(Child),
    Dir(DirBuilder),
}

impl DirBuilder {
    /// The directory `name` under this one, made when missing.
    fn subdir(&mut self, name: &str) -> &mut DirBuilder {
        let at = self
            .entries
            .iter()
            .position(|(n, node)| n == name && matches!(node, Node::Dir(_)));
        let at = match at {
            Some(at) => at,
            None => {
                self.entries.push((name.to_string(), Node::Dir(DirBuilder::default())));
                self.entries.len() - 1
            }
        };
        match &mut self.entries[at].1 {
            Node::Dir(d) => d,
            Node::File(_) => unreachable!("position matched a directory"),
        }
    }
}

impl Importer {
    /// Imports `files` into one tree; `progress` is told the content bytes read so far.
    pub fn import_listed(
        mut self,
        files: &[ListedFile],
        progress: &mut dyn FnMut(u64),
    ) -> Result<(Dag, ListedDir), ImportError> {
        let mut root = DirBuilder::default();
        for f in files {
            let handle = File::open(&f.path).map_err(|source| ImportError::Io {
                path: f.path.clone(),
                source,
            })?;
            let child = self.import_file(&f.path, handle, f.start, f.len, progress)?;
            let mut dir = &mut root;
            for d in &f.dirs {
                dir = dir.subdir(d);
            }
            dir.entries.push((f.name.clone(), Node::File(child)));
        }
        let (_, listed) = self.close_dir(root);
        self.dag.root = Some(listed.cid);
        Ok((self.dag, listed))
    }

    /// Encodes a directory after its subdirectories; links sorted by name bytes (stably, as
    /// go-merkledag sorts them).
    fn close_dir(&mut self, mut dir: DirBuilder) -> (Child, ListedDir) {
        dir.entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut links = Vec::with_capacity(dir.entries.len());
        let mut entries = Vec::with_capacity(dir.entries.len());
        for (name, node) in dir.entries {
            let (child, entry) = match node {
                Node::File(child) => {
                    let entry = ListedEntry::File {
                        name: name.clone(),
                        cid: child.cid,
                        tsize: child.tsize,
                    };
                    (child, entry)
                }
                Node::Dir(sub) => {
                    let (child, listed) = self.close_dir(sub);
                    let entry = ListedEntry::Dir {
                        name: name.clone(),
                        tsize: child.tsize,
                        dir: listed,
                    };
                    (child, entry)
                }
            };
            links.push(PbLink {
                hash: child.cid.to_bytes(),
                name,
                tsize: child.tsize,
            });
            entries.push(entry);
        }
        let child = self.put_node(&links, &UnixFsData::new(DataType::Directory), 0);
        let listed = ListedDir {
            cid: child.cid,
            entries,
        };
        (child, listed)
    }
}

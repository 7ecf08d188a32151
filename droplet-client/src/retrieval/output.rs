//! A retrieved UnixFS file written to the user's path while its blocks arrive, rather than
//! out of the repo's CAR once the retrieval is over (which read and wrote the whole file a
//! second time after the transfer). The bytes go to a part file beside the target
//! (`.<name>.<deal>.part`), renamed to the target when the retrieval completes and removed if
//! it fails. What is not a UnixFS file (a directory, a symlink, a DAG with a block missing)
//! is declined and written out of the CAR afterwards, as before.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use graphsync::Cid;
use piece_store::unixfs::BlockCid;
use piece_store::unixfs::export::{FileBytes, FileStreamer};

use super::writer::QueuedFile;

/// Bytes handed to the writing thread and not yet written, at most.
const QUEUE: usize = 16 << 20;

enum State {
    Writing {
        streamer: FileStreamer,
        file: QueuedFile,
        /// The walk index of the next block the file needs (a restarted transfer walks
        /// again from the root: what was written is skipped).
        next: u64,
    },
    /// Not written while arriving (the reason is logged): exported afterwards.
    Declined,
    /// Renamed to the target.
    Done,
}

pub struct Output {
    target: PathBuf,
    part: PathBuf,
    deal: u64,
    state: Mutex<State>,
    /// The part file, for reading leaves back (an open file survives the rename).
    reader: File,
}

/// What [`Output::walked`] did with a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walked {
    /// Written; a raw block's bytes are at `at` in the file.
    Wrote { at: u64 },
    /// Written before (a restart walks again), or the output is not being written.
    Ignored,
    /// The output was declined at this block: the file is written out afterwards. The part
    /// file stays until [`Output::discard`], for the leaves it holds.
    Declined,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output").field("target", &self.target).finish()
    }
}

/// Why the output cannot be written where the user asked.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0} is a directory: name a file to write the retrieved data to")]
    IsDirectory(PathBuf),
    #[error("{0} has no file name")]
    NoName(PathBuf),
    #[error("cannot write {path}: {source} (does its directory exist and is it writable?)")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Output {
    /// Begin writing deal `deal`'s file for `target` (an absolute path on this machine).
    pub fn create(target: &Path, deal: u64) -> Result<Self, OutputError> {
        if target.is_dir() {
            return Err(OutputError::IsDirectory(target.to_path_buf()));
        }
        let name = target
            .file_name()
            .ok_or_else(|| OutputError::NoName(target.to_path_buf()))?
            .to_string_lossy()
            .into_owned();
        let part = target.with_file_name(format!(".{name}.{deal}.part"));
        let file = File::create(&part).map_err(|source| OutputError::Create {
            path: part.clone(),
            source,
        })?;
        let create = |source| OutputError::Create {
            path: part.clone(),
            source,
        };
        let reader = File::open(&part).map_err(create)?;
        let file = QueuedFile::direct(file, &part, QUEUE).map_err(create)?;
        Ok(Output {
            target: target.to_path_buf(),
            part,
            deal,
            reader,
            state: Mutex::new(State::Writing {
                streamer: FileStreamer::new(),
                file,
                next: 0,
            }),
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    fn decline(&self, state: &mut State, why: &dyn std::fmt::Display) -> Walked {
        tracing::info!(
            deal = self.deal,
            "{} is written out after the retrieval, not while it arrives: {why}",
            self.target.display()
        );
        // Dropping the writer writes what it holds: the leaves can be read back.
        *state = State::Declined;
        Walked::Declined
    }

    /// Whether blocks are still being written to the file.
    pub fn is_writing(&self) -> bool {
        matches!(*lock(&self.state), State::Writing { .. })
    }

    /// `len` bytes of the file at `offset` (a raw leaf written there).
    pub fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        if let State::Writing { file, .. } = &*lock(&self.state) {
            file.written_to(offset + len)?;
        }
        super::sink::read_exact_at(&self.reader, offset, len)
    }

    /// Remove the part file of a declined output.
    pub fn discard(&self) {
        if !matches!(*lock(&self.state), State::Done) {
            let _ = std::fs::remove_file(&self.part);
        }
    }

    /// The walk's block `index` (see `graphsync::BlockSink::walked`). An error writing the
    /// file is returned (it fails the retrieval); a DAG that is not a whole UnixFS file in
    /// walk order is declined.
    pub fn walked(&self, index: u64, link: &Cid, data: Option<&Bytes>) -> std::io::Result<Walked> {
        let mut state = lock(&self.state);
        let State::Writing { streamer, file, next } = &mut *state else {
            return Ok(Walked::Ignored);
        };
        if index < *next {
            return Ok(Walked::Ignored);
        }
        if index > *next {
            let why = format!("block {index} of the walk came before block {next}");
            return Ok(self.decline(&mut state, &why));
        }
        let Some(data) = data else {
            return Ok(self.decline(&mut state, &format_args!("the provider does not have block {link}")));
        };
        let cid = match BlockCid::try_from(link.to_bytes().as_slice()) {
            Ok(c) => c,
            Err(e) => return Ok(self.decline(&mut state, &format_args!("block {link}: {e}"))),
        };
        let at = streamer.written();
        let bytes = match streamer.block(&cid, data) {
            Ok(FileBytes::Block) => data.clone(),
            Ok(FileBytes::Data(d)) => Bytes::from(d),
            Err(e) => return Ok(self.decline(&mut state, &e)),
        };
        if let Err(e) = file.push(bytes) {
            *state = State::Declined;
            return Err(std::io::Error::new(
                e.kind(),
                format!("writing {}: {e}", self.part.display()),
            ));
        }
        *next += 1;
        Ok(Walked::Wrote { at })
    }

    /// At the retrieval's completion: the file in place under its target name, `Ok(None)` if
    /// it was declined (export it from the CAR).
    pub fn finish(&self) -> std::io::Result<Option<PathBuf>> {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, State::Declined) {
            State::Writing { streamer, mut file, .. } if streamer.is_complete() => {
                let written = file.close();
                if let Err(e) = written.and_then(|()| std::fs::rename(&self.part, &self.target)) {
                    let _ = std::fs::remove_file(&self.part);
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("writing {}: {e}", self.target.display()),
                    ));
                }
                *state = State::Done;
                Ok(Some(self.target.clone()))
            }
            State::Writing { .. } => {
                self.decline(&mut state, &"the transfer ended before the file's last block");
                Ok(None)
            }
            State::Declined => Ok(None),
            State::Done => {
                *state = State::Done;
                Ok(Some(self.target.clone()))
            }
        }
    }

    /// The retrieval failed or was cancelled: no part file is left behind.
    pub fn abandon(&self) {
        let mut state = lock(&self.state);
        if matches!(*state, State::Writing { .. }) {
            *state = State::Declined;
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piece_store::unixfs::ImportOptions;
    use piece_store::unixfs::pb::{DataType, PbLink, UnixFsData, encode_node};

    /// A file of three raw leaves under a dag-pb root: (CID, block) in walk order.
    fn file() -> Vec<(Cid, Bytes)> {
        let opts = ImportOptions {
            inline_limit: 0,
            ..Default::default()
        };
        let cid = |b: BlockCid| Cid::try_from(b.to_bytes().as_slice()).expect("cid");
        let leaves: Vec<Vec<u8>> = vec![b"one ".to_vec(), b"two ".to_vec(), b"three".to_vec()];
        let leaf_cids: Vec<BlockCid> = leaves.iter().map(|l| opts.cid_for(0x55, l)).collect();
        let links: Vec<PbLink> = leaf_cids
            .iter()
            .zip(&leaves)
            .map(|(c, l)| PbLink {
                hash: c.to_bytes(),
                name: String::new(),
                tsize: l.len() as u64,
            })
            .collect();
        let u = UnixFsData {
            filesize: Some(13),
            blocksizes: leaves.iter().map(|l| l.len() as u64).collect(),
            ..UnixFsData::new(DataType::File)
        };
        let root = encode_node(&links, Some(&u.encode()));
        let mut out = vec![(cid(opts.cid_for(0x70, &root)), Bytes::from(root))];
        out.extend(leaf_cids.into_iter().zip(leaves).map(|(c, l)| (cid(c), Bytes::from(l))));
        out
    }

    fn parts(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".part")
            })
            .count()
    }

    #[test]
    fn a_file_is_written_as_it_arrives_and_a_restart_does_not_write_it_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.bin");
        let o = Output::create(&target, 7).expect("create");
        let blocks = file();
        // The first attempt gets two blocks; the restart walks again from the root.
        for (i, (c, d)) in blocks.iter().take(2).enumerate() {
            assert!(matches!(
                o.walked(i as u64, c, Some(d)).expect("walked"),
                Walked::Wrote { .. }
            ));
        }
        for (i, (c, d)) in blocks.iter().enumerate() {
            let w = o.walked(i as u64, c, Some(d)).expect("walked again");
            assert_eq!(w == Walked::Ignored, i < 2, "block {i}: {w:?}");
        }
        // The third leaf ("three") is at 8 in the file.
        assert_eq!(o.read_at(8, 5).expect("read back"), b"three");
        assert!(!target.exists(), "the target appears only at completion");
        assert_eq!(o.finish().expect("finish"), Some(target.clone()));
        assert_eq!(std::fs::read(&target).expect("written"), b"one two three");
        assert_eq!(parts(dir.path()), 0);
    }

    #[test]
    fn a_missing_block_a_short_transfer_or_a_failure_leaves_no_part_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.bin");
        let blocks = file();

        let o = Output::create(&target, 1).expect("create");
        o.walked(0, &blocks[0].0, Some(&blocks[0].1)).expect("root");
        let w = o
            .walked(1, &blocks[1].0, None)
            .expect("a missing block declines, it does not fail");
        assert_eq!(w, Walked::Declined);
        assert_eq!(
            o.walked(2, &blocks[2].0, Some(&blocks[2].1)).expect("after"),
            Walked::Ignored
        );
        assert_eq!(o.finish().expect("finish"), None, "declined: exported from the CAR");
        o.discard();

        let o = Output::create(&target, 2).expect("create");
        o.walked(0, &blocks[0].0, Some(&blocks[0].1)).expect("root");
        assert_eq!(o.finish().expect("finish"), None, "not every block arrived");
        o.discard();

        let o = Output::create(&target, 3).expect("create");
        o.walked(0, &blocks[0].0, Some(&blocks[0].1)).expect("root");
        o.abandon();
        assert!(!target.exists());
        assert_eq!(parts(dir.path()), 0);

        assert!(matches!(
            Output::create(dir.path(), 4),
            Err(OutputError::IsDirectory(_))
        ));
        assert!(matches!(
            Output::create(&dir.path().join("no/such/dir/f"), 5),
            Err(OutputError::Create { .. })
        ));
    }
}

//! Splitting a planned dataset: each slice imported as one UnixFS tree, written once as a
//! CARv1 while its bytes stream through commP on the spare cores, and recorded in the
//! manifest in slice order as soon as it and the slices before it are done.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::manifest::{self, ManifestError};
use super::plan::{self, Plan, PlanError, Slice};
use crate::car;
use crate::commp::{self, CommPError, PieceCommitment};
use crate::unixfs::{BlockCid, HashFunction, ImportError, ImportOptions, Importer};

/// How to split (go-graphsplit `chunk`'s flags).
#[derive(Debug, Clone)]
pub struct SplitOptions {
    /// File bytes per slice (`--slice-size`).
    pub slice_size: u64,
    /// Prefix of the slice names (`--graph-name`).
    pub graph_name: String,
    /// Where the CARs and `manifest.csv` go (`--car-dir`).
    pub car_dir: PathBuf,
    /// Stripped from file paths to place them in the tree (`--parent-path`; the target when
    /// None).
    pub parent_path: Option<String>,
    /// Slices built at once (`--parallel`; 0 = as many as cores).
    pub parallel: usize,
    /// Name each CAR by its piece CID, without extension (`--rename`).
    pub rename: bool,
    /// Pad each CAR with zeros to its unpadded piece size (`--add-padding`).
    pub add_padding: bool,
    /// CIDv0 nodes, as graphsplit v0.5.0 (the last release) writes them; graphsplit's
    /// current source writes CIDv1.
    pub cid_v0: bool,
}

/// A slice written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceResult {
    pub name: String,
    pub root: BlockCid,
    /// Where the CAR (or piece file) is.
    pub path: PathBuf,
    /// CAR bytes before any padding (the manifest's `payload_size`).
    pub car_size: u64,
    pub piece: PieceCommitment,
    /// File bytes in the slice.
    pub content_bytes: u64,
    /// The manifest's `detail`.
    pub detail: String,
}

impl SliceResult {
    /// The manifest record graphsplit's `--calc-commp` writes for this slice.
    pub fn manifest_record(&self) -> String {
        manifest::go_csv_record(&[
            &self.root.to_string(),
            &self.name,
            &self.piece.piece_cid().to_string(),
            &self.car_size.to_string(),
            &self.piece.unpadded_size().to_string(),
            &self.detail,
        ])
    }
}

/// Why a split failed.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("slice {slice}: {source}")]
    Import { slice: String, source: ImportError },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("slice {slice}: commP: {source}")]
    CommP { slice: String, source: CommPError },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{0} is not a directory; create it first (graphsplit requires it too)")]
    NoCarDir(PathBuf),
}

/// What a split produced.
#[derive(Debug, Clone)]
pub struct SplitOutcome {
    pub plan_bytes: u64,
    pub slices: Vec<SliceResult>,
}

/// The settings graphsplit imports with: go-unixfs balanced, 1 MiB chunks, 1024 links,
/// dag-pb leaves, sha2-256, no inlining, CIDv1 (or v0).
pub fn graphsplit_import_options(cid_v0: bool) -> ImportOptions {
    ImportOptions {
        hash: HashFunction::Sha2_256,
        chunk_size: 1 << 20,
        max_links: 1024,
        inline_limit: 0,
        shard_threshold: usize::MAX,
        raw_leaves: false,
        cid_v0,
    }
}

/// Plans `target` with `opts` (see [`plan::plan`]).
pub fn plan_for(target: &str, opts: &SplitOptions) -> Result<Plan, SplitError> {
    let files = plan::walk(target)?;
    let parent = opts.parent_path.clone().unwrap_or_else(|| target.to_string());
    Ok(plan::plan(&files, opts.slice_size, &opts.graph_name, &parent)?)
}

/// Writes every slice of `plan`, appending each to `<car-dir>/manifest.csv` in slice order.
/// `progress` is told the file bytes read so far (a slice's bytes are read twice, to hash
/// and to write; the count is of the first pass). `cores` is the cores to use (0 = all).
pub fn split(
    plan: &Plan,
    opts: &SplitOptions,
    cores: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SplitOutcome, SplitError> {
    if !opts.car_dir.is_dir() {
        return Err(SplitError::NoCarDir(opts.car_dir.clone()));
    }
    let cores = if cores == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        cores
    };
    let parallel = if opts.parallel == 0 { cores } else { opts.parallel }
        .min(plan.slices.len())
        .max(1);
    let commp_threads = (cores / parallel).max(1);
    let manifest_path = opts.car_dir.join("manifest.csv");
    // Bytes read across all slices (each slice reports its own running count), and the next
    // slice to start; a failure stops the hand-out.
    let read = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<SliceResult, SplitError>)>();
    let mut results: Vec<Option<SliceResult>> = vec![None; plan.slices.len()];
    let mut failure = None;
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            let tx = tx.clone();
            let (next, stop, read) = (&next, &stop, &read);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(slice) = plan.slices.get(i) else { return };
                    let mut last = 0u64;
                    let res = write_slice(slice, opts, commp_threads, &mut |b| {
                        let add = b.saturating_sub(last);
                        last = last.max(b);
                        progress(read.fetch_add(add, Ordering::Relaxed) + add);
                    });
                    if tx.send((i, res)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Record slices in order as they complete; stop handing out work on the first error.
        let mut written = 0usize;
        for (i, res) in rx {
            match res {
                Ok(r) => results[i] = Some(r),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    failure.get_or_insert(e);
                    continue;
                }
            }
            let mut records = Vec::new();
            while let Some(Some(r)) = results.get(written) {
                records.push(r.manifest_record());
                written += 1;
            }
            if failure.is_none()
                && !records.is_empty()
                && let Err(e) = manifest::append(&manifest_path, &records)
            {
                stop.store(true, Ordering::Relaxed);
                failure = Some(e.into());
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(SplitOutcome {
        plan_bytes: plan.total_bytes,
        slices: results.into_iter().flatten().collect(),
    })
}

/// One slice: its DAG, then its CAR written once with every byte also fed to commP.
fn write_slice(
    slice: &Slice,
    opts: &SplitOptions,
    commp_threads: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<SliceResult, SplitError> {
    let import_err = |source| SplitError::Import {
        slice: slice.name.clone(),
        source,
    };
    let (dag, tree) = Importer::new(graphsplit_import_options(opts.cid_v0))
        .import_listed(&slice.files, progress)
        .map_err(import_err)?;
    let root = dag.root();
    let car_path = opts.car_dir.join(format!("{root}.car"));
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SplitError::Write { path, source }
    };
    let file = File::create(&car_path).map_err(write_err(&car_path))?;
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(commp_threads * 2 + 2);
    let (written, commitment) = std::thread::scope(|scope| {
        let hasher = scope.spawn(move || commp::from_reader(ChannelReader::new(rx), commp_threads, &mut |_| {}));
        let tee = Tee {
            file: BufWriter::with_capacity(1 << 20, file),
            buf: Vec::with_capacity(1 << 20),
            tx,
            len: 0,
        };
        // The sender goes with the tee, so commP sees the end of the stream either way.
        let written = car::write_dag(&dag, tee).and_then(|(mut tee, _)| {
            tee.flush()?;
            let Tee { file, len, .. } = tee;
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            Ok((len, file))
        });
        let commitment = hasher.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (written, commitment)
    });
    // Each side's failure stops the other: report the cause, not what it broke (a writer that
    // failed leaves commP a short stream; commP that failed leaves the writer a broken pipe).
    let (car_size, file, piece) = match (written, commitment) {
        (Ok((len, file)), Ok(piece)) => (len, file, piece),
        (Err(e), _) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(write_err(&car_path)(e)),
        (_, Err(source)) => {
            return Err(SplitError::CommP {
                slice: slice.name.clone(),
                source,
            });
        }
        (Err(e), Ok(_)) => return Err(write_err(&car_path)(e)),
    };
    if opts.add_padding {
        file.set_len(piece.unpadded_size()).map_err(write_err(&car_path))?;
        file.sync_all().map_err(write_err(&car_path))?;
    }
    drop(file);
    let path = if opts.rename {
        let to = opts.car_dir.join(piece.piece_cid().to_string());
        std::fs::rename(&car_path, &to).map_err(write_err(&to))?;
        to
    } else {
        car_path
    };
    Ok(SliceResult {
        name: slice.name.clone(),
        root,
        path,
        car_size,
        piece,
        content_bytes: slice.bytes,
        detail: manifest::detail_json(&tree),
    })
}

/// Writes to the CAR file and hands the same bytes, in 1 MiB pieces, to commP.
struct Tee {
    file: BufWriter<File>,
    buf: Vec<u8>,
    tx: mpsc::SyncSender<Vec<u8>>,
    len: u64,
}

impl Tee {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(1 << 20));
        self.tx
            .send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the commP workers stopped"))
    }
}

impl Write for Tee {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.file.write_all(data)?;
        self.len += data.len() as u64;
        let mut rest = data;
        while !rest.is_empty() {
            let take = ((1 << 20) - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() == 1 << 20 {
                self.send()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()?;
        self.file.flush()
    }
}

/// Reads the chunks a [`Tee`] sends, until it drops its sender.
struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Vec<u8>>) -> Self {
        ChannelReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

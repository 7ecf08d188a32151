//! The data owner's two file operations end to end, as the CLI and (later) the client daemon's
//! `ClientGenCar` / `ClientCalcCommP` run them: a file or directory to a CAR, and a file to
//! its piece commitment (checking a CAR's blocks while hashing).

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use crate::car::{self, CarError, CarSummary};
use crate::commp::{self, CommPError, PieceCommitment};
use crate::unixfs::{BlockCid, ImportError, ImportOptions, Importer};

/// What went wrong preparing data.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("import failed: {0}")]
    Import(#[from] ImportError),
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0} is a directory; commP needs a file (make a CAR first with `data generate-car`)")]
    IsDirectory(PathBuf),
    #[error("commP of {path}: {source}")]
    CommP { path: PathBuf, source: CommPError },
    #[error("{path} is not a valid CAR (use --no-verify to hash it anyway): {source}")]
    BadCar { path: PathBuf, source: CarError },
}

/// A CAR written by [`generate_car`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCar {
    pub root: BlockCid,
    pub car_version: u8,
    pub car_size: u64,
    pub blocks: usize,
    pub payload_bytes: u64,
}

/// Imports `input` (file or directory) as UnixFS and writes it to `output` as a CAR of
/// `car_version` 1 (as the Go client) or 2 (with an index). `progress` gets bytes imported.
pub fn generate_car(
    input: &Path,
    output: &Path,
    opts: ImportOptions,
    car_version: u8,
    progress: &mut dyn FnMut(u64),
) -> Result<GeneratedCar, PrepareError> {
    let dag = Importer::new(opts).import_path(input, progress)?;
    let create_err = |source| PrepareError::Create {
        path: output.to_path_buf(),
        source,
    };
    let write_err = |source| PrepareError::Write {
        path: output.to_path_buf(),
        source,
    };
    let out = BufWriter::with_capacity(1 << 20, File::create(output).map_err(create_err)?);
    let (out, blocks) = if car_version == 1 {
        let (w, index) = car::write_dag(&dag, out).map_err(write_err)?;
        (w, index.len())
    } else {
        let mut blocks = 0;
        let w = car::wrap_v2(out, |f| {
            let (_, index) = car::write_dag(&dag, f)?;
            blocks = index.len();
            Ok(index)
        })
        .map_err(write_err)?;
        (w, blocks)
    };
    let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)?;
    let car_size = file.metadata().map_err(write_err)?.len();
    Ok(GeneratedCar {
        root: dag.root(),
        car_version,
        car_size,
        blocks,
        payload_bytes: dag.payload_bytes(),
    })
}

/// A file's piece commitment, and what its CAR held when it was one and was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCommP {
    pub commitment: PieceCommitment,
    pub car: Option<CarSummary>,
}

/// commP of the file at `path` on `threads` cores (0 = all). When `verify_car` is set and the
/// file starts with a CAR header, every block is checked against its CID as the bytes stream
/// through commP: a deal over a corrupt or truncated CAR would be paid for, then fail at
/// retrieval. `progress` gets bytes hashed.
pub fn commp_file(
    path: &Path,
    threads: usize,
    verify_car: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<FileCommP, PrepareError> {
    let read_err = |source| PrepareError::Read {
        path: path.to_path_buf(),
        source,
    };
    let commp_err = |source| PrepareError::CommP {
        path: path.to_path_buf(),
        source,
    };
    if std::fs::metadata(path).map_err(read_err)?.is_dir() {
        return Err(PrepareError::IsDirectory(path.to_path_buf()));
    }
    let mut file = File::open(path).map_err(read_err)?;
    let mut prefix = Vec::with_capacity(64 << 10);
    (&mut file).take(64 << 10).read_to_end(&mut prefix).map_err(read_err)?;
    let rest = std::io::Cursor::new(prefix).chain(file);
    if verify_car && car::looks_like_car(rest.get_ref().0.get_ref()) {
        let mut reader = car::VerifyingReader::new(rest);
        let commitment = commp::from_reader(&mut reader, threads, progress);
        let summary = reader.finish().map_err(|source| PrepareError::BadCar {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(FileCommP {
            commitment: commitment.map_err(commp_err)?,
            car: Some(summary),
        })
    } else {
        let commitment = commp::from_reader(rest, threads, progress).map_err(commp_err)?;
        Ok(FileCommP { commitment, car: None })
    }
}

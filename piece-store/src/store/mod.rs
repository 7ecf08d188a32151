//! Piece storage for the provider: named stores, on the filesystem or S3 (through
//! `object_store`), each possibly read-only. Writes go to the first writable store with room;
//! reads find a piece stored as `<pieceCid>` or `<pieceCid>.car`, whole or by range.
//!
//! Configuration mirrors droplet's `[[PieceStorage.Fs]]` and `[[PieceStorage.S3]]` tables.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

/// `[[PieceStorage.Fs]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct FsStoreConfig {
    pub name: String,
    pub read_only: bool,
    pub path: PathBuf,
}

/// `[[PieceStorage.S3]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct S3StoreConfig {
    pub name: String,
    pub read_only: bool,
    /// `http(s)://host[:port]`; `https://` is assumed when no scheme is given.
    pub end_point: String,
    pub bucket: String,
    pub sub_dir: String,
    pub access_key: String,
    pub secret_key: String,
    pub token: String,
}

/// What went wrong with piece storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("piece {piece} was not found in any piece store (looked for {piece} and {piece}.car in: {stores})")]
    NotFound { piece: String, stores: String },
    #[error("piece store {0:?} is read-only; add a writable store or clear ReadOnly")]
    ReadOnly(String),
    #[error("no writable piece store has room for {size} bytes; add a store or free space")]
    NoRoom { size: u64 },
    #[error("there is no piece store named {0:?}")]
    NoSuchStore(String),
    #[error("a piece store named {0:?} already exists")]
    Duplicate(String),
    #[error("piece store {name:?}: {message}")]
    Config { name: String, message: String },
    #[error("piece store {store:?}: {source}")]
    Backend { store: String, source: object_store::Error },
    #[error("piece store {store:?}: {source}")]
    Io { store: String, source: std::io::Error },
    #[error("range {start}..{end} is outside piece {piece} of {size} bytes")]
    BadRange {
        piece: String,
        start: u64,
        end: u64,
        size: u64,
    },
}

/// One listed store, as `ListPieceStorageInfos` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreInfo {
    pub name: String,
    pub kind: &'static str,
    pub read_only: bool,
    /// Where it is: a directory, or `endpoint/bucket/subdir`.
    pub location: String,
}

/// Where a piece was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub store: String,
    /// Object key within the store: `<pieceCid>` or `<pieceCid>.car`.
    pub key: String,
    pub size: u64,
}

/// One named store.
#[derive(Debug, Clone)]
pub struct PieceStore {
    info: StoreInfo,
    backend: Arc<dyn ObjectStore>,
    prefix: Option<ObjectPath>,
    fs_root: Option<PathBuf>,
}

impl PieceStore {
    /// A filesystem store; the directory is created if missing.
    pub fn filesystem(cfg: &FsStoreConfig) -> Result<Self, StoreError> {
        let cfg_err = |message: String| StoreError::Config {
            name: cfg.name.clone(),
            message,
        };
        if cfg.name.is_empty() {
            return Err(cfg_err("a piece store needs a Name".into()));
        }
        if !cfg.read_only {
            std::fs::create_dir_all(&cfg.path)
                .map_err(|e| cfg_err(format!("cannot create {}: {e}", cfg.path.display())))?;
        }
        let root = cfg
            .path
            .canonicalize()
            .map_err(|e| cfg_err(format!("{}: {e}", cfg.path.display())))?;
        let backend =
            object_store::local::LocalFileSystem::new_with_prefix(&root).map_err(|e| cfg_err(e.to_string()))?;
        Ok(PieceStore {
            info: StoreInfo {
                name: cfg.name.clone(),
                kind: "fs",
                read_only: cfg.read_only,
                location: root.display().to_string(),
            },
            backend: Arc::new(backend),
            prefix: None,
            fs_root: Some(root),
        })
    }

    /// An S3 store (path-style requests, so any S3-compatible server works).
    pub fn s3(cfg: &S3StoreConfig) -> Result<Self, StoreError> {
        let cfg_err = |message: String| StoreError::Config {
            name: cfg.name.clone(),
            message,
        };
        if cfg.name.is_empty() {
            return Err(cfg_err("a piece store needs a Name".into()));
        }
        if cfg.bucket.is_empty() {
            return Err(cfg_err("an S3 piece store needs a Bucket".into()));
        }
        let endpoint = if cfg.end_point.contains("://") {
            cfg.end_point.clone()
        } else {
            format!("https://{}", cfg.end_point)
        };
        let mut b = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_bucket_name(&cfg.bucket)
            .with_region("us-east-1")
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
        if !cfg.access_key.is_empty() {
            b = b
                .with_access_key_id(&cfg.access_key)
                .with_secret_access_key(&cfg.secret_key);
        }
        if !cfg.token.is_empty() {
            b = b.with_token(&cfg.token);
        }
        let backend = b.build().map_err(|e| cfg_err(e.to_string()))?;
        let sub = cfg.sub_dir.trim_matches('/');
        Ok(PieceStore {
            info: StoreInfo {
                name: cfg.name.clone(),
                kind: "s3",
                read_only: cfg.read_only,
                location: format!("{endpoint}/{}/{sub}", cfg.bucket),
            },
            backend: Arc::new(backend),
            prefix: (!sub.is_empty()).then(|| ObjectPath::from(sub)),
            fs_root: None,
        })
    }

    pub fn info(&self) -> &StoreInfo {
        &self.info
    }

    fn key_path(&self, key: &str) -> ObjectPath {
        match &self.prefix {
            Some(p) => p.clone().join(key),
            None => ObjectPath::from(key),
        }
    }

    fn backend_err(&self, source: object_store::Error) -> StoreError {
        StoreError::Backend {
            store: self.info.name.clone(),
            source,
        }
    }

    /// The piece's key and size here, if this store has it.
    pub async fn stat(&self, piece: &str) -> Result<Option<Located>, StoreError> {
        for key in [piece.to_string(), format!("{piece}.car")] {
            match self.backend.head(&self.key_path(&key)).await {
                Ok(meta) => {
                    return Ok(Some(Located {
                        store: self.info.name.clone(),
                        key,
                        size: meta.size,
                    }));
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.backend_err(e)),
            }
        }
        Ok(None)
    }

    /// Free bytes, when the backend can tell (filesystems); `None` means no known limit.
    pub fn free_space(&self) -> Option<u64> {
        let root = self.fs_root.as_ref()?;
        let st = nix::sys::statvfs::statvfs(root).ok()?;
        Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
    }

    /// Reads `range` of an object.
    async fn read(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        self.backend
            .get_range(&self.key_path(key), range)
            .await
            .map_err(|e| self.backend_err(e))
    }

    /// Stores the file at `src` as `key`, streaming it (multipart on S3).
    pub async fn write_file(&self, key: &str, src: &Path) -> Result<u64, StoreError> {
        let io = |source| StoreError::Io {
            store: self.info.name.clone(),
            source,
        };
        let file = tokio::fs::File::open(src).await.map_err(io)?;
        let chunks = futures::stream::unfold(file, |mut file| async move {
            let mut buf = vec![0u8; 1 << 20];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), file))
                }
                Err(e) => Some((Err(e), file)),
            }
        });
        self.write_stream(key, Box::pin(chunks)).await
    }

    /// Stores what `chunks` yields as `key`; returns the bytes written. A failed chunk aborts
    /// the upload and nothing is stored.
    pub async fn write_stream(
        &self,
        key: &str,
        mut chunks: impl futures::Stream<Item = std::io::Result<Bytes>> + Unpin,
    ) -> Result<u64, StoreError> {
        if self.info.read_only {
            return Err(StoreError::ReadOnly(self.info.name.clone()));
        }
        let upload = self
            .backend
            .put_multipart(&self.key_path(key))
            .await
            .map_err(|e| self.backend_err(e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
        let mut total = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(source) => {
                    let _ = w.abort().await;
                    return Err(StoreError::Io {
                        store: self.info.name.clone(),
                        source,
                    });
                }
            };
            w.wait_for_capacity(4).await.map_err(|e| self.backend_err(e))?;
            w.write(&chunk);
            total += chunk.len() as u64;
        }
        w.finish().await.map_err(|e| self.backend_err(e))?;
        Ok(total)
    }

    /// Keys of everything stored here.
    pub async fn list(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut out = Vec::new();
        let mut stream = self.backend.list(self.prefix.as_ref());
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.backend_err(e))?;
            if let Some(name) = meta.location.filename() {
                out.push((name.to_string(), meta.size));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes a piece (either key form).
    pub async fn delete(&self, piece: &str) -> Result<(), StoreError> {
        if self.info.read_only {
            return Err(StoreError::ReadOnly(self.info.name.clone()));
        }
        match self.stat(piece).await? {
            Some(found) => self
                .backend
                .delete(&self.key_path(&found.key))
                .await
                .map_err(|e| self.backend_err(e)),
            None => Err(StoreError::NotFound {
                piece: piece.into(),
                stores: self.info.name.clone(),
            }),
        }
    }
}

/// A piece found in one store: reads go straight to it.
#[derive(Debug, Clone)]
pub struct OpenPiece {
    piece: String,
    store: PieceStore,
    found: Located,
}

impl OpenPiece {
    pub fn located(&self) -> &Located {
        &self.found
    }

    pub fn size(&self) -> u64 {
        self.found.size
    }

    /// Bytes `range` of the piece.
    pub async fn read(&self, range: Range<u64>) -> Result<Bytes, StoreError> {
        if range.start > range.end || range.end > self.found.size {
            return Err(StoreError::BadRange {
                piece: self.piece.clone(),
                start: range.start,
                end: range.end,
                size: self.found.size,
            });
        }
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        self.store.read(&self.found.key, range).await
    }

    /// A blocking reader over the whole piece, reading `chunk` bytes at a time through the
    /// runtime `handle`. For synchronous consumers (the CAR indexer) on a blocking thread;
    /// it must not be used on a runtime thread.
    pub fn blocking_reader(self, handle: tokio::runtime::Handle, chunk: u64) -> BlockingPieceReader {
        BlockingPieceReader {
            piece: self,
            handle,
            chunk: chunk.max(1),
            pos: 0,
            buf: Bytes::new(),
        }
    }
}

/// See [`OpenPiece::blocking_reader`].
#[derive(Debug)]
pub struct BlockingPieceReader {
    piece: OpenPiece,
    handle: tokio::runtime::Handle,
    chunk: u64,
    pos: u64,
    buf: Bytes,
}

impl std::io::Read for BlockingPieceReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.buf.is_empty() {
            let end = self.pos.saturating_add(self.chunk).min(self.piece.size());
            if self.pos >= end {
                return Ok(0);
            }
            let range = self.pos..end;
            self.buf = self
                .handle
                .block_on(self.piece.read(range))
                .map_err(std::io::Error::other)?;
            self.pos = end;
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// All configured stores, in order.
#[derive(Debug, Clone, Default)]
pub struct PieceStorage {
    stores: Vec<PieceStore>,
    /// Reads served per store since start; shared by the copies a change of stores makes.
    reads: std::sync::Arc<ReadCounts>,
}

/// How many reads (an open piece, or one range) each store has served.
#[derive(Debug, Default)]
struct ReadCounts(std::sync::Mutex<std::collections::BTreeMap<String, u64>>);

impl ReadCounts {
    fn hit(&self, store: &str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(store) {
            Some(n) => *n += 1,
            None => {
                m.insert(store.to_string(), 1);
            }
        }
    }
}

impl PieceStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds every configured store.
    pub fn from_config(fs: &[FsStoreConfig], s3: &[S3StoreConfig]) -> Result<Self, StoreError> {
        let mut s = PieceStorage::new();
        for c in fs {
            s.add(PieceStore::filesystem(c)?)?;
        }
        for c in s3 {
            s.add(PieceStore::s3(c)?)?;
        }
        Ok(s)
    }

    pub fn add(&mut self, store: PieceStore) -> Result<(), StoreError> {
        if self.stores.iter().any(|s| s.info.name == store.info.name) {
            return Err(StoreError::Duplicate(store.info.name.clone()));
        }
        self.stores.push(store);
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        let before = self.stores.len();
        self.stores.retain(|s| s.info.name != name);
        if self.stores.len() == before {
            return Err(StoreError::NoSuchStore(name.into()));
        }
        Ok(())
    }

    /// Reads served per store since start (droplet's `piecestorage_retrieval_hit`).
    pub fn reads(&self) -> Vec<(String, u64)> {
        let m = self.reads.0.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub fn infos(&self) -> Vec<StoreInfo> {
        self.stores.iter().map(|s| s.info.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Result<&PieceStore, StoreError> {
        self.stores
            .iter()
            .find(|s| s.info.name == name)
            .ok_or_else(|| StoreError::NoSuchStore(name.into()))
    }

    fn names(&self) -> String {
        if self.stores.is_empty() {
            return "no stores are configured".into();
        }
        self.stores
            .iter()
            .map(|s| s.info.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Where `piece` is stored (the first store that has it).
    pub async fn locate(&self, piece: &str) -> Result<Located, StoreError> {
        for s in &self.stores {
            if let Some(found) = s.stat(piece).await? {
                return Ok(found);
            }
        }
        Err(StoreError::NotFound {
            piece: piece.into(),
            stores: self.names(),
        })
    }

    /// Find `piece` once and keep a handle on it for many reads (each read through
    /// [`PieceStorage::read_range`] looks the piece up again: a HEAD per store on S3).
    pub async fn open(&self, piece: &str) -> Result<OpenPiece, StoreError> {
        let found = self.locate(piece).await?;
        let store = self.get(&found.store)?.clone();
        self.reads.hit(&found.store);
        Ok(OpenPiece {
            piece: piece.to_string(),
            store,
            found,
        })
    }

    /// Bytes `range` of `piece`.
    pub async fn read_range(&self, piece: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let found = self.locate(piece).await?;
        if range.start > range.end || range.end > found.size {
            return Err(StoreError::BadRange {
                piece: piece.into(),
                start: range.start,
                end: range.end,
                size: found.size,
            });
        }
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        self.reads.hit(&found.store);
        self.get(&found.store)?.read(&found.key, range).await
    }

    /// The whole piece.
    pub async fn read_all(&self, piece: &str) -> Result<Bytes, StoreError> {
        let found = self.locate(piece).await?;
        self.get(&found.store)?.read(&found.key, 0..found.size).await
    }

    /// The first writable store with room for `size` bytes (any writable store when the size
    /// is not known).
    pub fn writable_for(&self, size: Option<u64>) -> Result<&PieceStore, StoreError> {
        let mut any_writable = false;
        for s in self.stores.iter().filter(|s| !s.info.read_only) {
            any_writable = true;
            if let Some(size) = size
                && s.free_space().is_some_and(|free| free < size)
            {
                continue;
            }
            return Ok(s);
        }
        match (any_writable, self.stores.first()) {
            (false, Some(first)) => Err(StoreError::ReadOnly(first.info.name.clone())),
            _ => Err(StoreError::NoRoom {
                size: size.unwrap_or(0),
            }),
        }
    }

    /// Stores the file at `src` as `key` (`<pieceCid>` or `<pieceCid>.car`) in the first
    /// writable store with room for it; returns the store's name.
    pub async fn write_file(&self, key: &str, src: &Path) -> Result<String, StoreError> {
        let size = std::fs::metadata(src)
            .map_err(|source| StoreError::Io {
                store: "(source file)".into(),
                source,
            })?
            .len();
        let s = self.writable_for(Some(size))?;
        s.write_file(key, src).await?;
        Ok(s.info.name.clone())
    }
}

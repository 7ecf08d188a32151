//! A daemon's embedded store (RocksDB under `<repo>/db`), opened once per process: a second
//! daemon on the same repo gets "repo is locked". Values are CBOR; keys are a table name and
//! a key within it.

use std::path::Path;

use market_types::cbor::{self, Decode, Encode};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("repo is locked: another daemon is running on {path} (stop it, or use another --repo)")]
    Locked { path: String },
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("database record {key} is damaged: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the store task stopped: {0}")]
    Task(String),
}

pub struct Store {
    db: rocksdb::DB,
    /// Held for the life of the store: the lock that keeps a second daemon out.
    _lock: std::fs::File,
    /// Batches written by [`Store::write`] (for tests that count writes per change).
    batches: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.db.path()).finish()
    }
}

/// Take `<path>.lock`, creating it; [`StoreError::Locked`] when another process holds it.
fn lock_file(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = std::path::PathBuf::from(name);
    if let Some(dir) = lock_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Io {
            path: lock_path.display().to_string(),
            source: e,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io {
            path: lock_path.display().to_string(),
            source: e,
        }),
    }
}

/// Writes applied together by [`Store::write`].
#[derive(Default)]
pub struct Batch(rocksdb::WriteBatch);

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("writes", &self.0.len()).finish()
    }
}

impl Batch {
    pub fn put_raw(&mut self, table: Table, key: &str, value: &[u8]) {
        self.0.put(Store::key(table, key), value);
    }

    pub fn put_json<T: serde::Serialize>(&mut self, table: Table, key: &str, value: &T) {
        self.put_raw(table, key, &serde_json::to_vec(value).unwrap_or_default());
    }

    pub fn delete(&mut self, table: Table, key: &str) {
        self.0.delete(Store::key(table, key));
    }
}

/// A table: a key prefix, such as `"storage-ask/"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table(pub &'static str);

/// The most the store's memtables hold before RocksDB flushes them (RocksDB's default is two
/// of 64 MiB, which a market rewriting its deals at every step fills: the 10,000-deal soak saw
/// droplet grow by 300 MiB while its deals were sealed).
const MEMTABLES: usize = 32 << 20;
/// The store's block cache (RocksDB's default is 32 MiB).
const BLOCK_CACHE: usize = 16 << 20;

/// Keep RocksDB's memory to a fixed budget: memtables of 8 MiB, flushed once together they
/// pass [`MEMTABLES`], and a block cache of [`BLOCK_CACHE`].
fn bound_memory(opts: &mut rocksdb::Options) {
    opts.set_write_buffer_size(MEMTABLES / 4);
    opts.set_max_write_buffer_number(2);
    opts.set_db_write_buffer_size(MEMTABLES);
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_cache(&rocksdb::Cache::new_lru_cache(BLOCK_CACHE));
    opts.set_block_based_table_factory(&table);
}

impl Store {
    /// Open (or create) the store at `path`. A lock file beside it (`<path>.lock`) is taken
    /// first, so a second daemon on the same repo is told so before RocksDB is touched.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let lock = lock_file(path)?;
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.set_max_open_files(256);
        bound_memory(&mut opts);
        let db = rocksdb::DB::open(&opts, path)?;
        Ok(Store {
            db,
            _lock: lock,
            batches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Apply a batch of writes atomically and durably (synced), or not synced for values that
    /// may be lost in a crash (progress counters).
    pub fn write(&self, batch: Batch, sync: bool) -> Result<(), StoreError> {
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(batch.0, &wo)?;
        self.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Make every write so far durable (the write-ahead log synced to disk). A change that
    /// must survive a crash but is written under a lock others wait on is written unsynced
    /// there, and made durable with this once the lock is released, before anything acts
    /// on it: the lock is not held for the disk's latency, and concurrent syncs share it.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// [`Store::write`] on a blocking thread: a synced write waits for the disk, which under
    /// load takes milliseconds an async runtime's worker should not spend blocked.
    pub async fn write_off_runtime(self: &std::sync::Arc<Self>, batch: Batch, sync: bool) -> Result<(), StoreError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.write(batch, sync))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// [`Store::sync`] on a blocking thread.
    pub async fn sync_off_runtime(self: &std::sync::Arc<Self>) -> Result<(), StoreError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.sync())
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// How many batches [`Store::write`] has written since the store was opened.
    pub fn batches_written(&self) -> u64 {
        self.batches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The raw bytes under a key.
    pub fn get_raw(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(Self::key(table, key))?)
    }

    /// Every (key within the table, raw value) whose key starts with `prefix`, in key order.
    pub fn scan_raw(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.scan_raw_from(table, prefix, prefix)
    }

    /// [`Self::scan_raw`] from key `start` on (a key under `prefix`).
    pub fn scan_raw_from(&self, table: Table, prefix: &str, start: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let full = Self::key(table, prefix);
        let mut out = Vec::new();
        for item in self.db.prefix_iterator(Self::key(table, start)) {
            let (k, v) = item?;
            if !k.starts_with(&full) {
                break;
            }
            let key = String::from_utf8_lossy(&k[table.0.len()..]).into_owned();
            out.push((key, v.into_vec()));
        }
        Ok(out)
    }

    fn key(table: Table, key: &str) -> Vec<u8> {
        format!("{}{key}", table.0).into_bytes()
    }

    pub fn put<T: Encode>(&self, table: Table, key: &str, value: &T) -> Result<(), StoreError> {
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        Ok(self.db.put_opt(Self::key(table, key), cbor::to_vec(value), &wo)?)
    }

    pub fn get<T: Decode>(&self, table: Table, key: &str) -> Result<Option<T>, StoreError> {
        let key = Self::key(table, key);
        let Some(raw) = self.db.get(&key)? else { return Ok(None) };
        cbor::from_slice(&raw).map(Some).map_err(|e| StoreError::Corrupt {
            key: String::from_utf8_lossy(&key).into_owned(),
            reason: e.to_string(),
        })
    }

    /// Remove a key (no error when it is absent).
    pub fn delete(&self, table: Table, key: &str) -> Result<(), StoreError> {
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        Ok(self.db.delete_opt(Self::key(table, key), &wo)?)
    }

    /// Store a value as JSON (records whose shape is also the API's).
    pub fn put_json<T: serde::Serialize>(&self, table: Table, key: &str, value: &T) -> Result<(), StoreError> {
        let raw = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        Ok(self.db.put_opt(Self::key(table, key), raw, &wo)?)
    }

    pub fn get_json<T: serde::de::DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>, StoreError> {
        let k = Self::key(table, key);
        let Some(raw) = self.db.get(&k)? else { return Ok(None) };
        serde_json::from_slice(&raw).map(Some).map_err(|e| StoreError::Corrupt {
            key: String::from_utf8_lossy(&k).into_owned(),
            reason: e.to_string(),
        })
    }

    /// Every JSON value in a table, in key order.
    pub fn list_json<T: serde::de::DeserializeOwned>(&self, table: Table) -> Result<Vec<T>, StoreError> {
        self.scan(table, |raw| serde_json::from_slice(raw).map_err(|e| e.to_string()))
    }

    /// Every value in a table, in key order.
    pub fn list<T: Decode>(&self, table: Table) -> Result<Vec<T>, StoreError> {
        self.scan(table, |raw| cbor::from_slice(raw).map_err(|e| e.to_string()))
    }

    fn scan<T>(&self, table: Table, decode: impl Fn(&[u8]) -> Result<T, String>) -> Result<Vec<T>, StoreError> {
        let prefix = table.0.as_bytes();
        let mut out = Vec::new();
        for item in self.db.prefix_iterator(prefix) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push(decode(&v).map_err(|reason| StoreError::Corrupt {
                key: String::from_utf8_lossy(&k).into_owned(),
                reason,
            })?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = Table("t/");

    #[test]
    fn a_second_open_is_told_the_repo_is_locked_and_batches_apply_whole() {
        let dir = std::env::temp_dir().join(format!("store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("db");
        let store = Store::open(&path).expect("opens");
        assert!(matches!(Store::open(&path), Err(StoreError::Locked { .. })));

        let mut b = Batch::default();
        b.put_raw(T, "a/1", b"x");
        b.put_raw(T, "a/2", b"y");
        b.put_raw(T, "b/1", b"z");
        store.write(b, true).expect("writes");
        let a: Vec<String> = store
            .scan_raw(T, "a/")
            .expect("scan")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(a, vec!["a/1", "a/2"]);
        let mut b = Batch::default();
        b.delete(T, "a/1");
        b.put_raw(T, "a/3", b"w");
        store.write(b, false).expect("writes");
        assert_eq!(store.get_raw(T, "a/1").expect("get"), None);
        assert_eq!(store.get_raw(T, "a/3").expect("get"), Some(b"w".to_vec()));
        drop(store);
        let again = Store::open(&path).expect("the lock goes with the store");
        assert_eq!(again.get_raw(T, "b/1").expect("get"), Some(b"z".to_vec()));
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

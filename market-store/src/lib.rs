//! What a daemon persists, behind one interface. Two backends hold the same records:
//! RocksDB under the repo (`<repo>/db`, the default), and, with the `sql` feature, a MySQL,
//! MariaDB or PostgreSQL database that several droplets share (droplet's `[Mysql]`). Values are
//! CBOR or JSON; a record's address is a table (`"storage-ask/"`) and a key within it. Either
//! way the store is opened once per repo: a second daemon on the same repo gets "repo is
//! locked".

use std::borrow::Cow;
use std::path::Path;

use market_types::cbor::{self, Decode, Encode};

mod rocks;
#[cfg(feature = "sql")]
pub mod sql;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("repo is locked: another daemon is running on {path} (stop it, or use another --repo)")]
    Locked { path: String },
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    #[cfg(feature = "sql")]
    #[error(transparent)]
    Sql(#[from] sql::SqlError),
    #[error("database record {key} is damaged: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the store task stopped: {0}")]
    Task(String),
}

pub struct Store {
    backend: Backend,
    /// Held for the life of the store: the lock that keeps a second daemon off the repo.
    /// The repo's lock (None for a look at a shared database beside its daemons).
    _lock: Option<std::fs::File>,
    /// Batches written by [`Store::write`] (for tests that count writes per change).
    batches: std::sync::atomic::AtomicU64,
}

enum Backend {
    Rocks(rocks::Rocks),
    #[cfg(feature = "sql")]
    Sql(sql::Sql),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("at", &self.describe()).finish()
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

/// A table's name as a write carries it: a [`Table`]'s, or one read back from a store being
/// copied.
pub(crate) type TableName = Cow<'static, str>;

/// What [`Store::for_each_record`] calls with each record: (table name, key, value).
pub type EachRecord<'a> = dyn FnMut(&str, &str, &[u8]) -> Result<(), StoreError> + 'a;

/// One write of a [`Batch`].
pub(crate) enum Op {
    Put {
        table: TableName,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        table: TableName,
        key: String,
    },
}

impl Op {
    /// The record the write is to.
    #[cfg(feature = "sql")]
    pub(crate) fn address(&self) -> (&str, &str) {
        match self {
            Op::Put { table, key, .. } | Op::Delete { table, key } => (table, key),
        }
    }
}

/// Writes applied together by [`Store::write`]: all of them or none.
#[derive(Default)]
pub struct Batch(Vec<Op>);

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("writes", &self.0.len()).finish()
    }
}

impl Batch {
    pub fn put_raw(&mut self, table: Table, key: &str, value: &[u8]) {
        self.0.push(Op::Put {
            table: Cow::Borrowed(table.0),
            key: key.to_string(),
            value: value.to_vec(),
        });
    }

    pub fn put_json<T: serde::Serialize>(&mut self, table: Table, key: &str, value: &T) {
        self.put_raw(table, key, &serde_json::to_vec(value).unwrap_or_default());
    }

    pub fn delete(&mut self, table: Table, key: &str) {
        self.0.push(Op::Delete {
            table: Cow::Borrowed(table.0),
            key: key.to_string(),
        });
    }

    /// How many writes the batch holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A table: a key prefix, such as `"storage-ask/"`. Every name ends with `/` and none is the
/// start of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table(pub &'static str);

impl Store {
    /// Open (or create) the RocksDB store at `path`. A lock file beside it (`<path>.lock`) is
    /// taken first, so a second daemon on the same repo is told so before RocksDB is touched.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let lock = lock_file(path)?;
        Ok(Store {
            backend: Backend::Rocks(rocks::Rocks::open(path)?),
            _lock: Some(lock),
            batches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Open the SQL store `db` describes, running its migrations. `repo_lock` is the path the
    /// repo's lock is taken beside (as [`Store::open`] does), so one repo still has one daemon;
    /// several daemons with their own repos may share the database.
    #[cfg(feature = "sql")]
    pub fn open_sql(repo_lock: &Path, db: &sql::SqlConfig) -> Result<Store, StoreError> {
        let lock = lock_file(repo_lock)?;
        Ok(Store {
            backend: Backend::Sql(sql::Sql::open(db)?),
            _lock: Some(lock),
            batches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The SQL store `db` describes, opened beside the daemons that use it (the repo's lock is
    /// not taken) and without touching its schema ([`sql::Sql::schema`] says where it stands):
    /// for reading, as `droplet store info` does while droplets run.
    #[cfg(feature = "sql")]
    pub fn open_sql_shared(db: &sql::SqlConfig) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Sql(sql::Sql::connect(db)?),
            _lock: None,
            batches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Where the records are, for logs and the operator: a path, or a database without its
    /// password.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Rocks(r) => format!("RocksDB at {}", r.path().display()),
            #[cfg(feature = "sql")]
            Backend::Sql(s) => s.describe(),
        }
    }

    /// The SQL database, when the store is one (leases and the like live there).
    #[cfg(feature = "sql")]
    pub fn sql(&self) -> Option<&sql::Sql> {
        match &self.backend {
            Backend::Sql(s) => Some(s),
            Backend::Rocks(_) => None,
        }
    }

    /// Apply a batch of writes atomically and durably (synced), or not synced for values that
    /// may be lost in a crash (progress counters). A SQL database commits every batch durably.
    pub fn write(&self, batch: Batch, sync: bool) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Rocks(r) => r.write(batch.0, sync)?,
            #[cfg(feature = "sql")]
            Backend::Sql(s) => s.write(batch.0)?,
        }
        self.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Make every write so far durable (RocksDB's write-ahead log synced to disk; a SQL
    /// database has nothing left to do). A change that must survive a crash but is written
    /// under a lock others wait on is written unsynced there, and made durable with this once
    /// the lock is released, before anything acts on it: the lock is not held for the disk's
    /// latency, and concurrent syncs share it.
    pub fn sync(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Rocks(r) => r.sync(),
            #[cfg(feature = "sql")]
            Backend::Sql(_) => Ok(()),
        }
    }

    /// [`Store::write`] without blocking the async runtime's worker: a synced RocksDB write
    /// waits for the disk on a blocking thread; a SQL batch is awaited on the store's own
    /// connection pool.
    pub async fn write_off_runtime(self: &std::sync::Arc<Self>, batch: Batch, sync: bool) -> Result<(), StoreError> {
        #[cfg(feature = "sql")]
        if let Backend::Sql(s) = &self.backend {
            s.write_async(batch.0).await?;
            self.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
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
        match &self.backend {
            Backend::Rocks(r) => r.get(table, key),
            #[cfg(feature = "sql")]
            Backend::Sql(s) => s.get(table, key),
        }
    }

    /// [`Self::get_raw`] for async callers: a SQL read is awaited on the store's pool, so no
    /// runtime worker waits for the database's round trip (a RocksDB read is served at once).
    pub async fn get_raw_async(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.backend {
            Backend::Rocks(r) => r.get(table, key),
            #[cfg(feature = "sql")]
            Backend::Sql(s) => s.get_async(table, key).await,
        }
    }

    /// [`Self::get`] for async callers (see [`Self::get_raw_async`]).
    pub async fn get_async<T: Decode>(&self, table: Table, key: &str) -> Result<Option<T>, StoreError> {
        let Some(raw) = self.get_raw_async(table, key).await? else {
            return Ok(None);
        };
        decoded(table, key, &raw)
    }

    /// Every (key within the table, raw value) whose key starts with `prefix`, in key order.
    pub fn scan_raw(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.scan_raw_from(table, prefix, prefix)
    }

    /// [`Self::scan_raw`] from key `start` on (a key under `prefix`).
    pub fn scan_raw_from(&self, table: Table, prefix: &str, start: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        match &self.backend {
            Backend::Rocks(r) => r.scan(table, prefix, start),
            #[cfg(feature = "sql")]
            Backend::Sql(s) => s.scan(table, prefix, start),
        }
    }

    /// Every record in the store, table by table in key order, as (table name, key, value).
    pub fn for_each_record(&self, each: &mut EachRecord<'_>) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Rocks(r) => r.for_each(each),
            #[cfg(feature = "sql")]
            Backend::Sql(s) => s.for_each(each),
        }
    }

    /// Copy every record of this store into `to` (which should be empty), in batches of
    /// `batch` records; how many were copied. Records already in `to` under the same keys are
    /// overwritten, so a copy cut short may be run again.
    pub fn copy_into(&self, to: &Store, batch: usize, progress: &mut dyn FnMut(u64)) -> Result<u64, StoreError> {
        let mut pending = Batch::default();
        let mut copied = 0u64;
        self.for_each_record(&mut |table, key, value| {
            pending.0.push(Op::Put {
                table: Cow::Owned(table.to_string()),
                key: key.to_string(),
                value: value.to_vec(),
            });
            if pending.len() >= batch.max(1) {
                copied += pending.len() as u64;
                to.write(std::mem::take(&mut pending), true)?;
                progress(copied);
            }
            Ok(())
        })?;
        if !pending.is_empty() {
            copied += pending.len() as u64;
            to.write(pending, true)?;
            progress(copied);
        }
        Ok(copied)
    }

    /// Remove every record (before a copy replaces a store's contents); how many there were.
    pub fn clear(&self) -> Result<u64, StoreError> {
        let mut doomed = Vec::new();
        self.for_each_record(&mut |table, key, _| {
            doomed.push((table.to_string(), key.to_string()));
            Ok(())
        })?;
        let n = doomed.len() as u64;
        for chunk in doomed.chunks(1000) {
            let ops = chunk
                .iter()
                .map(|(table, key)| Op::Delete {
                    table: Cow::Owned(table.clone()),
                    key: key.clone(),
                })
                .collect();
            self.write(Batch(ops), true)?;
        }
        Ok(n)
    }

    pub fn put<T: Encode>(&self, table: Table, key: &str, value: &T) -> Result<(), StoreError> {
        let mut b = Batch::default();
        b.put_raw(table, key, &cbor::to_vec(value));
        self.write(b, true)
    }

    pub fn get<T: Decode>(&self, table: Table, key: &str) -> Result<Option<T>, StoreError> {
        let Some(raw) = self.get_raw(table, key)? else {
            return Ok(None);
        };
        decoded(table, key, &raw)
    }

    /// Remove a key (no error when it is absent).
    pub fn delete(&self, table: Table, key: &str) -> Result<(), StoreError> {
        let mut b = Batch::default();
        b.delete(table, key);
        self.write(b, true)
    }

    /// Store a value as JSON (records whose shape is also the API's).
    pub fn put_json<T: serde::Serialize>(&self, table: Table, key: &str, value: &T) -> Result<(), StoreError> {
        let raw = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        let mut b = Batch::default();
        b.put_raw(table, key, &raw);
        self.write(b, true)
    }

    pub fn get_json<T: serde::de::DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>, StoreError> {
        let Some(raw) = self.get_raw(table, key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&raw).map(Some).map_err(|e| StoreError::Corrupt {
            key: format!("{}{key}", table.0),
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
        self.scan_raw(table, "")?
            .into_iter()
            .map(|(k, v)| {
                decode(&v).map_err(|reason| StoreError::Corrupt {
                    key: format!("{}{k}", table.0),
                    reason,
                })
            })
            .collect()
    }
}

/// A CBOR record read back.
fn decoded<T: Decode>(table: Table, key: &str, raw: &[u8]) -> Result<Option<T>, StoreError> {
    cbor::from_slice(raw).map(Some).map_err(|e| StoreError::Corrupt {
        key: format!("{}{key}", table.0),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = Table("t/");

    #[test]
    fn a_second_open_is_told_the_repo_is_locked_and_batches_apply_whole() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("db");
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
    }
}

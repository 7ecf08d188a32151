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
}

pub struct Store {
    db: rocksdb::DB,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.db.path()).finish()
    }
}

/// A table: a key prefix, such as `"storage-ask/"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table(pub &'static str);

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.set_max_open_files(256);
        match rocksdb::DB::open(&opts, path) {
            Ok(db) => Ok(Store { db }),
            Err(e) if e.to_string().contains("LOCK") => Err(StoreError::Locked {
                path: path.display().to_string(),
            }),
            Err(e) => Err(e.into()),
        }
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

    /// Every value in a table, in key order.
    pub fn list<T: Decode>(&self, table: Table) -> Result<Vec<T>, StoreError> {
        let prefix = table.0.as_bytes();
        let mut out = Vec::new();
        for item in self.db.prefix_iterator(prefix) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push(cbor::from_slice(&v).map_err(|e| StoreError::Corrupt {
                key: String::from_utf8_lossy(&k).into_owned(),
                reason: e.to_string(),
            })?);
        }
        Ok(out)
    }
}

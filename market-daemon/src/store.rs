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

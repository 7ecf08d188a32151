//! The devnet's RocksDB: the resolved genesis, every block (messages and receipts) by height,
//! and the messager's records. State is not stored; it is rebuilt on start by replaying the
//! blocks over the genesis state, which also checks that the receipts still agree.

use std::path::Path;

use market_types::units::ChainEpoch;

use crate::chain::BlockRecord;
use crate::genesis::Genesis;

const GENESIS: &[u8] = b"genesis";
const BLOCK_PREFIX: u8 = b'b';
const MESSAGER_PREFIX: u8 = b'm';

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the chain database {path} is in use by another droplet-devnet (stop it first, or use another --repo)")]
    Locked { path: String },
    #[error("chain database: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("chain database holds a damaged record ({what}): {reason}")]
    Corrupt { what: String, reason: String },
    #[error("chain database lock: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Store {
    db: rocksdb::DB,
    /// Held while the store is open.
    _lock: std::fs::File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.db.path()).finish()
    }
}

fn block_key(height: ChainEpoch) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = BLOCK_PREFIX;
    k[1..].copy_from_slice(&(height as u64).to_be_bytes());
    k
}

impl Store {
    /// Open the store; a lock file beside it (`<path>.lock`) keeps a second devnet out, told
    /// so by [`StoreError::Locked`] before RocksDB is touched.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::path::PathBuf::from(name))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: path.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.set_max_open_files(64);
        let db = rocksdb::DB::open(&opts, path)?;
        Ok(Store { db, _lock: lock })
    }

    pub fn genesis(&self) -> Result<Option<Genesis>, StoreError> {
        let Some(raw) = self.db.get(GENESIS)? else {
            return Ok(None);
        };
        serde_json::from_slice(&raw).map(Some).map_err(|e| StoreError::Corrupt {
            what: "genesis".into(),
            reason: e.to_string(),
        })
    }

    pub fn put_genesis(&self, g: &Genesis) -> Result<(), StoreError> {
        let raw = serde_json::to_vec(g).unwrap_or_default();
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        Ok(self.db.put_opt(GENESIS, raw, &wo)?)
    }

    /// Stores a block durably (synced) before the chain moves on.
    pub fn put_block(&self, height: ChainEpoch, block: &BlockRecord) -> Result<(), StoreError> {
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        Ok(self.db.put_opt(block_key(height), block.to_bytes(), &wo)?)
    }

    /// Every stored block in height order (the genesis block is not stored: it is rebuilt).
    pub fn blocks(&self) -> Result<Vec<(ChainEpoch, BlockRecord)>, StoreError> {
        let mut out = Vec::new();
        let iter = self.db.iterator(rocksdb::IteratorMode::From(
            &[BLOCK_PREFIX],
            rocksdb::Direction::Forward,
        ));
        for item in iter {
            let (k, v) = item?;
            if k.first() != Some(&BLOCK_PREFIX) || k.len() != 9 {
                break;
            }
            let mut h = [0u8; 8];
            h.copy_from_slice(&k[1..]);
            let height = u64::from_be_bytes(h) as ChainEpoch;
            let block = BlockRecord::from_bytes(&v).map_err(|e| StoreError::Corrupt {
                what: format!("block at height {height}"),
                reason: e.to_string(),
            })?;
            out.push((height, block));
        }
        Ok(out)
    }

    pub fn put_messager(&self, id: &str, record: &[u8]) -> Result<(), StoreError> {
        let mut k = vec![MESSAGER_PREFIX];
        k.extend_from_slice(id.as_bytes());
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        Ok(self.db.put_opt(k, record, &wo)?)
    }

    /// Every messager record, by id.
    pub fn messager_records(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        let iter = self.db.iterator(rocksdb::IteratorMode::From(
            &[MESSAGER_PREFIX],
            rocksdb::Direction::Forward,
        ));
        for item in iter {
            let (k, v) = item?;
            if k.first() != Some(&MESSAGER_PREFIX) {
                break;
            }
            out.push((String::from_utf8_lossy(&k[1..]).into_owned(), v.to_vec()));
        }
        Ok(out)
    }
}

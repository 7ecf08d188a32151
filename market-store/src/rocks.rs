//! The embedded backend: RocksDB under the repo (`<repo>/db`). A record's RocksDB key is its
//! table's name followed by its key, so a table is a key prefix and a scan is a prefix walk.

use std::path::Path;

use crate::{Op, StoreError, Table};

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

pub(crate) struct Rocks {
    db: rocksdb::DB,
}

impl Rocks {
    pub(crate) fn open(path: &Path) -> Result<Rocks, StoreError> {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.set_max_open_files(256);
        bound_memory(&mut opts);
        Ok(Rocks {
            db: rocksdb::DB::open(&opts, path)?,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        self.db.path()
    }

    fn key(table: Table, key: &str) -> Vec<u8> {
        format!("{}{key}", table.0).into_bytes()
    }

    pub(crate) fn write(&self, ops: Vec<Op>, sync: bool) -> Result<(), StoreError> {
        let mut batch = rocksdb::WriteBatch::default();
        for op in ops {
            match op {
                Op::Put { table, key, value } => batch.put(format!("{table}{key}"), value),
                Op::Delete { table, key } => batch.delete(format!("{table}{key}")),
            }
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(sync);
        Ok(self.db.write_opt(batch, &wo)?)
    }

    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        Ok(self.db.flush_wal(true)?)
    }

    pub(crate) fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(Self::key(table, key))?)
    }

    /// Every (key within the table, value) whose key starts with `prefix`, from `start` on.
    pub(crate) fn scan(&self, table: Table, prefix: &str, start: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
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

    /// Every record of every table, in key order, handed to `each` as (table name, key, value)
    /// (a table's name is its key's part up to and with the first `/`).
    pub(crate) fn for_each(&self, each: &mut crate::EachRecord<'_>) -> Result<(), StoreError> {
        for item in self.db.iterator(rocksdb::IteratorMode::Start) {
            let (k, v) = item?;
            let k = String::from_utf8_lossy(&k);
            let Some(cut) = k.find('/') else {
                return Err(StoreError::Corrupt {
                    key: k.into_owned(),
                    reason: "a key with no table (no `/`)".into(),
                });
            };
            let (table, key) = k.split_at(cut + 1);
            each(table, key, &v)?;
        }
        Ok(())
    }
}

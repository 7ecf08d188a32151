//! The piece index on RocksDB, under the repo (the default).
//!
//! Column families: `pieces` (piece → [`PieceRecord`] as JSON), `payloads` (payload CID ‖
//! piece CID → nothing), `blocks` (piece ‖ multihash → offset, length) and `multihashes`
//! (multihash ‖ piece → nothing, to find the pieces holding a block).

use std::path::Path;

use cid::Cid;
use rocksdb::{ColumnFamilyDescriptor, DB, IteratorMode, Options, WriteBatch};

use super::{BlockEntry, BlockLocation, IndexError, PieceRecord, RecordChange, corrupt_record};

const PIECES: &str = "pieces";
const PAYLOADS: &str = "payloads";
const BLOCKS: &str = "blocks";
const MULTIHASHES: &str = "multihashes";

/// The most the index's memtables hold, all column families together, before RocksDB
/// flushes them.
const MEMTABLES: usize = 32 << 20;
/// The block cache the index's column families share.
const BLOCK_CACHE: usize = 16 << 20;

#[derive(Debug)]
pub(super) struct RocksIndex {
    db: DB,
}

/// `varint(len(a)) ‖ a ‖ b`: the length prefix keeps a short `a` from matching the start of
/// a longer one in prefix scans.
fn prefixed(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + a.len() + b.len());
    crate::varint::put(&mut k, a.len() as u64);
    k.extend_from_slice(a);
    k.extend_from_slice(b);
    k
}

/// A block's location as stored: offset then length, 8 bytes each, little-endian (None when
/// the value is not 16 bytes).
fn location(v: &[u8]) -> Option<BlockLocation> {
    let v: &[u8; 16] = v.try_into().ok()?;
    let (offset, len) = v.split_at(8);
    Some(BlockLocation {
        offset: u64::from_le_bytes(offset.try_into().ok()?),
        len: u64::from_le_bytes(len.try_into().ok()?),
    })
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl RocksIndex {
    pub(super) fn open(path: &Path) -> Result<Self, IndexError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // One memory budget for all five column families (RocksDB's default gives each two
        // memtables of 64 MiB and a block cache of its own).
        opts.set_db_write_buffer_size(MEMTABLES);
        let cache = rocksdb::Cache::new_lru_cache(BLOCK_CACHE);
        let bounded = || {
            let mut o = Options::default();
            o.set_write_buffer_size(MEMTABLES / 4);
            o.set_max_write_buffer_number(2);
            let mut table = rocksdb::BlockBasedOptions::default();
            table.set_block_cache(&cache);
            o.set_block_based_table_factory(&table);
            o
        };
        let cfs = [PIECES, PAYLOADS, BLOCKS, MULTIHASHES].map(|n| ColumnFamilyDescriptor::new(n, bounded()));
        Ok(RocksIndex {
            db: DB::open_cf_descriptors(&opts, path, cfs)?,
        })
    }

    pub(super) fn describe(&self) -> String {
        format!("RocksDB at {}", self.db.path().display())
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("column families are created at open")
    }

    pub(super) fn piece(&self, piece: &Cid) -> Result<Option<PieceRecord>, IndexError> {
        match self.db.get_cf(self.cf(PIECES), piece.to_bytes())? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| corrupt_record(piece, e)),
        }
    }

    pub(super) fn update(&self, piece: &Cid, change: RecordChange) -> Result<(), IndexError> {
        let mut rec = self.piece(piece)?.unwrap_or_default();
        change(&mut rec);
        let v = serde_json::to_vec(&rec).expect("records serialise");
        self.db.put_cf(self.cf(PIECES), piece.to_bytes(), v)?;
        Ok(())
    }

    pub(super) fn add_payloads(&self, payloads: &[Vec<u8>], piece: &Cid) -> Result<(), IndexError> {
        let mut batch = WriteBatch::default();
        for payload in payloads {
            batch.put_cf(self.cf(PAYLOADS), prefixed(payload, &piece.to_bytes()), []);
        }
        self.db.write(batch)?;
        Ok(())
    }

    pub(super) fn pieces_for_payload(&self, payload: &[u8]) -> Result<Vec<Cid>, IndexError> {
        self.scan_suffixes(PAYLOADS, payload)
    }

    pub(super) fn pieces_with_block(&self, multihash: &[u8]) -> Result<Vec<Cid>, IndexError> {
        self.scan_suffixes(MULTIHASHES, multihash)
    }

    fn scan_suffixes(&self, cf: &str, prefix_key: &[u8]) -> Result<Vec<Cid>, IndexError> {
        let prefix = prefixed(prefix_key, &[]);
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(cf), IteratorMode::From(&prefix, rocksdb::Direction::Forward))
        {
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            let piece = Cid::try_from(&k[prefix.len()..]).map_err(|e| IndexError::Corrupt {
                piece: hex_of(&k),
                reason: e.to_string(),
            })?;
            out.push(piece);
        }
        Ok(out)
    }

    pub(super) fn put_blocks(&self, piece: &Cid, blocks: &[BlockEntry]) -> Result<(), IndexError> {
        let piece_bytes = piece.to_bytes();
        let mut batch = WriteBatch::default();
        for b in blocks {
            let mut v = [0u8; 16];
            v[..8].copy_from_slice(&b.offset.to_le_bytes());
            v[8..].copy_from_slice(&b.len.to_le_bytes());
            batch.put_cf(self.cf(BLOCKS), prefixed(&piece_bytes, &b.multihash), v);
            batch.put_cf(self.cf(MULTIHASHES), prefixed(&b.multihash, &piece_bytes), []);
        }
        self.db.write(batch)?;
        Ok(())
    }

    pub(super) fn block_location(&self, piece: &Cid, multihash: &[u8]) -> Result<Option<BlockLocation>, IndexError> {
        let v = self
            .db
            .get_cf(self.cf(BLOCKS), prefixed(&piece.to_bytes(), multihash))?;
        Ok(v.and_then(|v| location(&v)))
    }

    pub(super) fn for_each_block<E: From<IndexError>>(
        &self,
        piece: &Cid,
        f: &mut impl FnMut(BlockEntry) -> Result<(), E>,
    ) -> Result<(), E> {
        let prefix = prefixed(&piece.to_bytes(), &[]);
        for item in self.db.iterator_cf(
            self.cf(BLOCKS),
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        ) {
            let (k, v) = item.map_err(IndexError::from)?;
            if !k.starts_with(&prefix) {
                break;
            }
            let Some(at) = location(&v) else {
                return Err(IndexError::Corrupt {
                    piece: piece.to_string(),
                    reason: format!("a block location of {} bytes, not 16", v.len()),
                }
                .into());
            };
            f(BlockEntry {
                multihash: k[prefix.len()..].to_vec(),
                offset: at.offset,
                len: at.len,
            })?;
        }
        Ok(())
    }

    pub(super) fn payloads(&self) -> Result<Vec<Cid>, IndexError> {
        let mut out: Vec<Cid> = Vec::new();
        for item in self.db.iterator_cf(self.cf(PAYLOADS), IteratorMode::Start) {
            let (k, _) = item?;
            let corrupt = |reason: String| IndexError::Corrupt {
                piece: hex_of(&k),
                reason,
            };
            let (len, n) = crate::varint::get(&k).ok_or_else(|| corrupt("bad length prefix".into()))?;
            let payload = usize::try_from(len)
                .ok()
                .and_then(|len| k.get(n..n.checked_add(len)?))
                .ok_or_else(|| corrupt("key shorter than its length prefix".into()))?;
            let cid = Cid::try_from(payload).map_err(|e| corrupt(e.to_string()))?;
            if out.last() != Some(&cid) {
                out.push(cid);
            }
        }
        Ok(out)
    }

    /// Removes every entry: each column family's keys up to its last, in one write.
    pub(super) fn clear(&self) -> Result<(), IndexError> {
        let mut batch = WriteBatch::default();
        for name in [PIECES, PAYLOADS, BLOCKS, MULTIHASHES] {
            let cf = self.cf(name);
            let Some(last) = self.db.iterator_cf(cf, IteratorMode::End).next().transpose()? else {
                continue;
            };
            batch.delete_range_cf(cf, &[][..], &last.0[..]);
            batch.delete_cf(cf, &last.0);
        }
        self.db.write(batch)?;
        Ok(())
    }

    pub(super) fn pieces(&self) -> Result<Vec<Cid>, IndexError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(PIECES), IteratorMode::Start) {
            let (k, _) = item?;
            out.push(Cid::try_from(&k[..]).map_err(|e| IndexError::Corrupt {
                piece: hex_of(&k),
                reason: e.to_string(),
            })?);
        }
        Ok(out)
    }
}

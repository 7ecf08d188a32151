//! The piece index on RocksDB: piece CID → deals and locations, payload CID → pieces, and
//! per piece a block index (multihash → offset and length in the piece's CAR) so any block of
//! a stored piece can be served without scanning it.
//!
//! Column families: `pieces` (piece → [`PieceRecord`] as JSON), `payloads` (payload CID ‖
//! piece CID → nothing), `blocks` (piece ‖ multihash → offset, length) and `multihashes`
//! (multihash ‖ piece → nothing, to find the pieces holding a block).

use std::io::Read;
use std::path::Path;

use cid::Cid;
use rocksdb::{ColumnFamilyDescriptor, DB, IteratorMode, Options, WriteBatch};
use serde::{Deserialize, Serialize};

use crate::car::{CarError, CarReader};

const PIECES: &str = "pieces";
const PAYLOADS: &str = "payloads";
const BLOCKS: &str = "blocks";
const MULTIHASHES: &str = "multihashes";

/// What went wrong with the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("piece index database: {0}; if another droplet is running on this repo, stop it first")]
    Db(#[from] rocksdb::Error),
    #[error("piece index record for {piece} is corrupt: {reason}")]
    Corrupt { piece: String, reason: String },
    #[error("indexing the CAR of piece {piece}: {source}")]
    Car { piece: String, source: CarError },
}

/// A deal that holds a piece.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DealRef {
    /// The proposal CID (legacy deals) or deal UUID (boost-style deals).
    pub deal: String,
    /// The on-chain deal ID, once published.
    pub deal_id: u64,
    pub miner: String,
    pub sector: u64,
    /// Padded offset and length of the piece in the sector.
    pub offset: u64,
    pub length: u64,
}

/// Everything the index knows about a piece.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PieceRecord {
    pub deals: Vec<DealRef>,
    /// Piece stores holding the piece's file.
    pub locations: Vec<String>,
    /// Whether the block index is complete.
    pub indexed: bool,
    /// Blocks in the block index.
    pub block_count: u64,
    /// Size of the indexed CAR.
    pub car_size: u64,
}

/// Where a block sits in a piece's CAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLocation {
    /// Offset of the block's bytes in the CAR file.
    pub offset: u64,
    pub len: u64,
}

/// The piece index.
#[derive(Debug)]
pub struct PieceIndex {
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

/// The most the index's memtables hold, all column families together, before RocksDB
/// flushes them.
const MEMTABLES: usize = 32 << 20;
/// The block cache the index's column families share.
const BLOCK_CACHE: usize = 16 << 20;

impl PieceIndex {
    /// Opens (creating if needed) the index at `path`.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
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
        Ok(PieceIndex {
            db: DB::open_cf_descriptors(&opts, path, cfs)?,
        })
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("column families are created at open")
    }

    /// The record of a piece, if known.
    pub fn piece(&self, piece: &Cid) -> Result<Option<PieceRecord>, IndexError> {
        match self.db.get_cf(self.cf(PIECES), piece.to_bytes())? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| IndexError::Corrupt {
                piece: piece.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    fn update(&self, piece: &Cid, f: impl FnOnce(&mut PieceRecord)) -> Result<(), IndexError> {
        let mut rec = self.piece(piece)?.unwrap_or_default();
        f(&mut rec);
        let v = serde_json::to_vec(&rec).expect("records serialise");
        self.db.put_cf(self.cf(PIECES), piece.to_bytes(), v)?;
        Ok(())
    }

    /// Records that `deal` holds `piece` (once per deal).
    pub fn add_deal(&self, piece: &Cid, deal: DealRef) -> Result<(), IndexError> {
        self.update(piece, |r| {
            if let Some(d) = r.deals.iter_mut().find(|d| d.deal == deal.deal) {
                *d = deal;
            } else {
                r.deals.push(deal);
            }
        })
    }

    /// Records that store `location` holds the piece's file.
    pub fn add_location(&self, piece: &Cid, location: &str) -> Result<(), IndexError> {
        self.update(piece, |r| {
            if !r.locations.iter().any(|l| l == location) {
                r.locations.push(location.to_string());
            }
        })
    }

    /// Records that `payload` (a DAG root) is in `piece`.
    pub fn add_payload(&self, payload: &[u8], piece: &Cid) -> Result<(), IndexError> {
        self.db
            .put_cf(self.cf(PAYLOADS), prefixed(payload, &piece.to_bytes()), [])?;
        Ok(())
    }

    /// Pieces holding `payload` (CID bytes).
    pub fn pieces_for_payload(&self, payload: &[u8]) -> Result<Vec<Cid>, IndexError> {
        self.scan_suffixes(PAYLOADS, payload)
    }

    /// Pieces whose CAR holds a block with this multihash.
    pub fn pieces_with_block(&self, multihash: &[u8]) -> Result<Vec<Cid>, IndexError> {
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

    /// Indexes every block of the piece's CAR (v1 or v2), verifying each; records the CAR's
    /// roots as payloads of the piece. Indexing a piece again writes the same entries (a
    /// piece CID fixes the CAR's bytes), so it is safe to repeat after a failure.
    pub fn index_car(&self, piece: &Cid, car: impl Read) -> Result<u64, IndexError> {
        let car_err = |source| IndexError::Car {
            piece: piece.to_string(),
            source,
        };
        let mut reader = CarReader::new(std::io::BufReader::with_capacity(1 << 20, car)).map_err(car_err)?;
        let piece_bytes = piece.to_bytes();
        let mut batch = WriteBatch::default();
        for root in reader.roots() {
            batch.put_cf(self.cf(PAYLOADS), prefixed(&root.to_bytes(), &piece_bytes), []);
        }
        let mut count = 0u64;
        let mut end = 0u64;
        while let Some(block) = reader.next_block().map_err(car_err)? {
            let mh = block.cid.hash().to_bytes();
            let mut v = [0u8; 16];
            v[..8].copy_from_slice(&block.data_offset.to_le_bytes());
            v[8..].copy_from_slice(&(block.data.len() as u64).to_le_bytes());
            batch.put_cf(self.cf(BLOCKS), prefixed(&piece_bytes, &mh), v);
            batch.put_cf(self.cf(MULTIHASHES), prefixed(&mh, &piece_bytes), []);
            count += 1;
            end = block.data_offset + block.data.len() as u64;
            if batch.len() >= 20_000 {
                self.db.write(std::mem::take(&mut batch))?;
            }
        }
        self.db.write(batch)?;
        self.update(piece, |r| {
            r.indexed = true;
            r.block_count = count;
            r.car_size = end;
        })?;
        Ok(count)
    }

    /// Where the block with `multihash` sits in the piece's CAR.
    pub fn block_location(&self, piece: &Cid, multihash: &[u8]) -> Result<Option<BlockLocation>, IndexError> {
        let v = self
            .db
            .get_cf(self.cf(BLOCKS), prefixed(&piece.to_bytes(), multihash))?;
        Ok(v.and_then(|v| {
            let v: [u8; 16] = v.as_slice().try_into().ok()?;
            Some(BlockLocation {
                offset: u64::from_le_bytes(v[..8].try_into().ok()?),
                len: u64::from_le_bytes(v[8..].try_into().ok()?),
            })
        }))
    }

    /// Calls `f` with the multihash of every block in the piece's block index, in multihash
    /// order, reading the index as it goes (nothing is collected). Stops at `f`'s first error.
    pub fn for_each_multihash<E: From<IndexError>>(
        &self,
        piece: &Cid,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let prefix = prefixed(&piece.to_bytes(), &[]);
        for item in self.db.iterator_cf(
            self.cf(BLOCKS),
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        ) {
            let (k, _) = item.map_err(IndexError::from)?;
            if !k.starts_with(&prefix) {
                break;
            }
            f(&k[prefix.len()..])?;
        }
        Ok(())
    }

    /// Every payload (DAG root) CID the index knows, once each.
    pub fn payloads(&self) -> Result<Vec<Cid>, IndexError> {
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

    /// Every piece the index knows.
    pub fn pieces(&self) -> Result<Vec<Cid>, IndexError> {
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

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

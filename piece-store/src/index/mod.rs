//! The piece index: piece CID → deals and locations, payload CID → pieces, and per piece a
//! block index (multihash → offset and length in the piece's CAR) so any block of a stored
//! piece can be served without scanning it.
//!
//! Two backends hold the same entries: RocksDB under the repo ([`PieceIndex::open`], the
//! default) and, with the `sql` feature, the MySQL/MariaDB or PostgreSQL database the market's
//! store is in ([`PieceIndex::in_database`]), so that every droplet sharing that database finds
//! every piece its deals stored, whichever droplet stored it.

use std::io::Read;
use std::path::Path;

use cid::Cid;
use serde::{Deserialize, Serialize};

use crate::car::{CarError, CarReader};

mod rocks;
#[cfg(feature = "sql")]
mod sql;

/// What went wrong with the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("piece index database: {0}; if another droplet is running on this repo, stop it first")]
    Db(#[from] rocksdb::Error),
    /// The index in the market's SQL database failed (the store's error says which server
    /// and why).
    #[cfg(feature = "sql")]
    #[error("piece index: {0}")]
    Sql(#[from] market_store::StoreError),
    #[error(
        "the piece index can only be kept in a SQL database when the market's store is one ([Mysql] ConnectionString)"
    )]
    NotSql,
    #[error("piece index record for {piece} is corrupt: {reason}")]
    Corrupt { piece: String, reason: String },
    #[error("indexing the CAR of piece {piece}: {source}")]
    Car { piece: String, source: CarError },
}

fn corrupt_record(piece: &Cid, e: serde_json::Error) -> IndexError {
    IndexError::Corrupt {
        piece: piece.to_string(),
        reason: e.to_string(),
    }
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

/// A change to a piece's record, applied by a backend to the record as it stands.
type RecordChange = Box<dyn FnOnce(&mut PieceRecord) + Send>;

/// One block of a CAR being indexed.
#[derive(Debug, Clone)]
struct BlockEntry {
    multihash: Vec<u8>,
    offset: u64,
    len: u64,
}

/// Blocks a CAR's indexing writes at a time.
const INDEX_CHUNK: usize = 10_000;

/// The piece index.
#[derive(Debug)]
pub struct PieceIndex {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Rocks(rocks::RocksIndex),
    #[cfg(feature = "sql")]
    Sql(sql::SqlIndex),
}

/// `$call` on whichever backend the index has, as `$b`.
macro_rules! on_backend {
    ($index:expr, $b:ident => $call:expr) => {
        match &$index.backend {
            Backend::Rocks($b) => $call,
            #[cfg(feature = "sql")]
            Backend::Sql($b) => $call,
        }
    };
}

impl PieceIndex {
    /// Opens (creating if needed) the RocksDB index at `path`.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        Ok(PieceIndex {
            backend: Backend::Rocks(rocks::RocksIndex::open(path)?),
        })
    }

    /// The index in the SQL database `store` is kept in (its tables come with the store's
    /// migrations); [`IndexError::NotSql`] when the store is RocksDB.
    #[cfg(feature = "sql")]
    pub fn in_database(store: std::sync::Arc<market_store::Store>) -> Result<Self, IndexError> {
        Ok(PieceIndex {
            backend: Backend::Sql(sql::SqlIndex::new(store)?),
        })
    }

    /// Where the index is, for logs.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Rocks(r) => r.describe(),
            #[cfg(feature = "sql")]
            Backend::Sql(s) => s.describe(),
        }
    }

    /// The record of a piece, if known.
    pub fn piece(&self, piece: &Cid) -> Result<Option<PieceRecord>, IndexError> {
        on_backend!(self, b => b.piece(piece))
    }

    fn update(&self, piece: &Cid, change: RecordChange) -> Result<(), IndexError> {
        on_backend!(self, b => b.update(piece, change))
    }

    /// Records that `deal` holds `piece` (once per deal).
    pub fn add_deal(&self, piece: &Cid, deal: DealRef) -> Result<(), IndexError> {
        self.update(
            piece,
            Box::new(move |r| {
                if let Some(d) = r.deals.iter_mut().find(|d| d.deal == deal.deal) {
                    *d = deal;
                } else {
                    r.deals.push(deal);
                }
            }),
        )
    }

    /// Records that store `location` holds the piece's file.
    pub fn add_location(&self, piece: &Cid, location: &str) -> Result<(), IndexError> {
        let location = location.to_string();
        self.update(
            piece,
            Box::new(move |r| {
                if !r.locations.contains(&location) {
                    r.locations.push(location);
                }
            }),
        )
    }

    /// Records that `payload` (a DAG root) is in `piece`.
    pub fn add_payload(&self, payload: &[u8], piece: &Cid) -> Result<(), IndexError> {
        on_backend!(self, b => b.add_payloads(&[payload.to_vec()], piece))
    }

    /// Pieces holding `payload` (CID bytes), in the order of their CIDs' bytes.
    pub fn pieces_for_payload(&self, payload: &[u8]) -> Result<Vec<Cid>, IndexError> {
        on_backend!(self, b => b.pieces_for_payload(payload))
    }

    /// Pieces whose CAR holds a block with this multihash, in the order of their CIDs' bytes.
    pub fn pieces_with_block(&self, multihash: &[u8]) -> Result<Vec<Cid>, IndexError> {
        on_backend!(self, b => b.pieces_with_block(multihash))
    }

    /// Indexes every block of the piece's CAR (v1 or v2), verifying each; records the CAR's
    /// roots as payloads of the piece once its blocks are indexed. Indexing a piece again
    /// writes the same entries (a piece CID fixes the CAR's bytes), so it is safe to repeat
    /// after a failure.
    pub fn index_car(&self, piece: &Cid, car: impl Read) -> Result<u64, IndexError> {
        let car_err = |source| IndexError::Car {
            piece: piece.to_string(),
            source,
        };
        let mut reader = CarReader::new(std::io::BufReader::with_capacity(1 << 20, car)).map_err(car_err)?;
        let roots: Vec<Vec<u8>> = reader.roots().iter().map(|r| r.to_bytes()).collect();
        let mut chunk = Vec::with_capacity(INDEX_CHUNK);
        let mut count = 0u64;
        let mut end = 0u64;
        while let Some(block) = reader.next_block().map_err(car_err)? {
            let len = block.data.len() as u64;
            chunk.push(BlockEntry {
                multihash: block.cid.hash().to_bytes(),
                offset: block.data_offset,
                len,
            });
            count += 1;
            end = block.data_offset + len;
            if chunk.len() >= INDEX_CHUNK {
                on_backend!(self, b => b.put_blocks(piece, &chunk))?;
                chunk.clear();
            }
        }
        if !chunk.is_empty() {
            on_backend!(self, b => b.put_blocks(piece, &chunk))?;
        }
        on_backend!(self, b => b.add_payloads(&roots, piece))?;
        self.update(
            piece,
            Box::new(move |r| {
                r.indexed = true;
                r.block_count = count;
                r.car_size = end;
            }),
        )?;
        Ok(count)
    }

    /// Where the block with `multihash` sits in the piece's CAR.
    pub fn block_location(&self, piece: &Cid, multihash: &[u8]) -> Result<Option<BlockLocation>, IndexError> {
        on_backend!(self, b => b.block_location(piece, multihash))
    }

    /// Calls `f` with the multihash of every block in the piece's block index, in multihash
    /// order, reading the index as it goes (nothing is collected). Stops at `f`'s first error.
    pub fn for_each_multihash<E: From<IndexError>>(
        &self,
        piece: &Cid,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        on_backend!(self, b => b.for_each_block(piece, &mut |block: BlockEntry| f(&block.multihash)))
    }

    /// Copy every entry of this index into `to` (another backend, or another place): each
    /// piece's blocks, then its record, then every payload; `progress` is told the pieces
    /// copied so far. Entries already in `to` are overwritten with these, so a copy cut short
    /// may be run again. Returns the pieces copied.
    pub fn copy_into(&self, to: &PieceIndex, progress: &mut dyn FnMut(u64)) -> Result<u64, IndexError> {
        let mut copied = 0u64;
        for piece in self.pieces()? {
            let Some(record) = self.piece(&piece)? else { continue };
            let mut chunk = Vec::with_capacity(INDEX_CHUNK);
            on_backend!(self, b => b.for_each_block(&piece, &mut |block: BlockEntry| {
                chunk.push(block);
                if chunk.len() >= INDEX_CHUNK {
                    on_backend!(to, t => t.put_blocks(&piece, &chunk))?;
                    chunk.clear();
                }
                Ok::<_, IndexError>(())
            }))?;
            if !chunk.is_empty() {
                on_backend!(to, t => t.put_blocks(&piece, &chunk))?;
            }
            to.update(&piece, Box::new(move |r| *r = record))?;
            copied += 1;
            progress(copied);
        }
        for payload in self.payloads()? {
            let payload = payload.to_bytes();
            for piece in self.pieces_for_payload(&payload)? {
                on_backend!(to, t => t.add_payloads(std::slice::from_ref(&payload), &piece))?;
            }
        }
        Ok(copied)
    }

    /// Every payload (DAG root) CID the index knows, once each.
    pub fn payloads(&self) -> Result<Vec<Cid>, IndexError> {
        on_backend!(self, b => b.payloads())
    }

    /// Removes every entry (pieces, payloads, blocks); returns how many pieces there were.
    pub fn clear(&self) -> Result<u64, IndexError> {
        let pieces = self.pieces()?.len() as u64;
        on_backend!(self, b => b.clear())?;
        Ok(pieces)
    }

    /// Every piece the index knows.
    pub fn pieces(&self) -> Result<Vec<Cid>, IndexError> {
        on_backend!(self, b => b.pieces())
    }
}

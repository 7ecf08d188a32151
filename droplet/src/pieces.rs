//! Piece storage and the piece index together: where a deal's piece is kept, which payloads
//! and blocks it holds and where, and the stores an operator adds or removes while droplet
//! runs (`droplet piece-storage …`, saved to config.toml as droplet does).
//!
//! Every piece a deal stores is indexed (its CAR's blocks, its roots as payloads, the deal and
//! its sector placement), so that a payload CID leads to its pieces; at start, pieces stored
//! before the index existed (or whose indexing was cut off) are indexed from piece storage.

use std::path::Path;
use std::sync::{Arc, RwLock};

use cid::Cid;
use piece_store::index::{DealRef, IndexError, PieceIndex};
use piece_store::store::{FsStoreConfig, PieceStorage, PieceStore, S3StoreConfig, StoreError};

use crate::deals::DealRecord;
use crate::miners::LiveConfig;

/// Why a piece operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PiecesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("saving config.toml: {0}")]
    Config(String),
    #[error("the indexing task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Bytes read from piece storage at a time when indexing a stored piece.
const READ_CHUNK: u64 = 4 << 20;

pub struct Pieces {
    storage: RwLock<Arc<PieceStorage>>,
    index: Arc<PieceIndex>,
    config: Arc<LiveConfig>,
}

impl std::fmt::Debug for Pieces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pieces").field("index", &self.index).finish()
    }
}

impl Pieces {
    pub fn new(storage: PieceStorage, index: PieceIndex, config: Arc<LiveConfig>) -> Self {
        Pieces {
            storage: RwLock::new(Arc::new(storage)),
            index: Arc::new(index),
            config,
        }
    }

    /// The stores as they are now.
    pub fn storage(&self) -> Arc<PieceStorage> {
        self.storage.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn index(&self) -> &PieceIndex {
        &self.index
    }

    /// Change the stores: `f` on a copy, then `save` the config, then the copy is used. A
    /// change that fails either step leaves both as they were.
    fn change_storage(
        &self,
        f: impl FnOnce(&mut PieceStorage) -> Result<(), StoreError>,
        save: impl FnOnce(&mut crate::config::Config),
    ) -> Result<(), PiecesError> {
        let mut guard = self.storage.write().unwrap_or_else(|p| p.into_inner());
        let mut next = (**guard).clone();
        f(&mut next)?;
        self.config
            .update(save)
            .map_err(|e| PiecesError::Config(e.to_string()))?;
        *guard = Arc::new(next);
        Ok(())
    }

    /// `AddFsPieceStorage`: the store is usable at once and saved to `[[PieceStorage.Fs]]`.
    pub fn add_fs(&self, cfg: FsStoreConfig) -> Result<(), PiecesError> {
        let store = PieceStore::filesystem(&cfg)?;
        self.add(store, |c| c.piece_storage.fs.push(cfg))
    }

    /// `AddS3PieceStorage`: the same for `[[PieceStorage.S3]]`.
    pub fn add_s3(&self, cfg: S3StoreConfig) -> Result<(), PiecesError> {
        let store = PieceStore::s3(&cfg)?;
        self.add(store, |c| c.piece_storage.s3.push(cfg))
    }

    fn add(&self, store: PieceStore, save: impl FnOnce(&mut crate::config::Config)) -> Result<(), PiecesError> {
        self.change_storage(|s| s.add(store), save)
    }

    /// `RemovePieceStorage`: droplet stops using the store; its data stays where it is.
    pub fn remove(&self, name: &str) -> Result<(), PiecesError> {
        self.change_storage(
            |s| s.remove(name),
            |c| {
                c.piece_storage.fs.retain(|f| f.name != name);
                c.piece_storage.s3.retain(|f| f.name != name);
            },
        )
    }

    /// Copy a deal's data into piece storage and index it: the CAR's blocks (from the local
    /// file, before it is cleaned up), the store that holds it and the deal. Data that is not
    /// a CAR is stored and recorded without a block index (it cannot be retrieved by CID).
    pub async fn store_deal_piece(&self, d: &DealRecord, path: &Path) -> Result<String, PiecesError> {
        let store = self.store_piece(&d.proposal().piece_cid, path).await?;
        self.record_deal(d)?;
        Ok(store)
    }

    /// Copy `piece`'s data at `path` into piece storage and index its blocks (a file that is
    /// not a CAR is stored without a block index); returns the store that holds it.
    pub async fn store_piece(&self, piece: &Cid, path: &Path) -> Result<String, PiecesError> {
        let piece = *piece;
        let store = self.storage().write_file(&piece.to_string(), path).await?;
        let (index, path_owned) = (self.index.clone(), path.to_path_buf());
        let indexed = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path_owned).map_err(|e| IndexError::Car {
                piece: piece.to_string(),
                source: piece_store::car::CarError::Io(e),
            })?;
            index.index_car(&piece, file)
        })
        .await?;
        if let Err(e) = indexed {
            tracing::warn!(%piece, error = %e, "the piece is stored but its blocks could not be indexed");
        }
        self.index.add_location(&piece, &store)?;
        Ok(store)
    }

    /// Record (or update) the deal in its piece's entry: deal ID, sector and offset as the
    /// deal has them now.
    pub fn record_deal(&self, d: &DealRecord) -> Result<(), PiecesError> {
        Ok(self.index.add_deal(&d.proposal().piece_cid, deal_ref(d))?)
    }

    /// Index every stored deal's piece the index does not have complete (pieces stored before
    /// the index was wired in, or whose indexing was cut off), reading them from piece storage.
    /// Returns how many were indexed.
    pub async fn index_missing(&self, deals: &[DealRecord]) -> usize {
        let mut n = 0;
        for d in deals {
            let piece = d.proposal().piece_cid;
            let known = self.index.piece(&piece).ok().flatten();
            if known.as_ref().is_some_and(|r| r.indexed && !r.locations.is_empty()) {
                // Complete: record the deal only if the index does not have it as it is now.
                if !known.is_some_and(|r| r.deals.contains(&deal_ref(d)))
                    && let Err(e) = self.record_deal(d)
                {
                    tracing::warn!(%piece, error = %e, "recording the deal in the piece index");
                }
                continue;
            }
            match self.index_from_storage(&piece).await {
                Ok(blocks) => {
                    n += 1;
                    tracing::info!(%piece, blocks, "indexed a stored piece");
                    if let Err(e) = self.record_deal(d) {
                        tracing::warn!(%piece, error = %e, "recording the deal in the piece index");
                    }
                }
                Err(e) => tracing::warn!(%piece, error = %e, "cannot index a stored piece"),
            }
        }
        n
    }

    /// A piece arrived in piece storage by upload (the sealer unsealed it, or an operator put
    /// it back): record the store that holds it, and index its blocks if the index lacks them.
    pub async fn piece_uploaded(&self, piece: &Cid) -> Result<(), PiecesError> {
        let indexed = self.index.piece(piece)?.is_some_and(|r| r.indexed);
        if indexed {
            let located = self.storage().locate(&piece.to_string()).await?;
            self.index.add_location(piece, &located.store)?;
        } else {
            self.index_from_storage(piece).await?;
        }
        Ok(())
    }

    /// Index a piece again from piece storage and record its deals (`deals`, those with a
    /// stored piece) in it: the operator's repair for a piece whose index is missing or damaged.
    /// Returns the blocks indexed.
    pub async fn rebuild_index(&self, piece: &Cid, deals: &[DealRecord]) -> Result<u64, PiecesError> {
        let blocks = self.index_from_storage(piece).await?;
        for d in deals.iter().filter(|d| d.proposal().piece_cid == *piece) {
            self.record_deal(d)?;
        }
        Ok(blocks)
    }

    async fn index_from_storage(&self, piece: &Cid) -> Result<u64, PiecesError> {
        let open = self.storage().open(&piece.to_string()).await?;
        let store = open.located().store.clone();
        let (index, piece_c) = (self.index.clone(), *piece);
        let handle = tokio::runtime::Handle::current();
        let blocks =
            tokio::task::spawn_blocking(move || index.index_car(&piece_c, open.blocking_reader(handle, READ_CHUNK)))
                .await??;
        self.index.add_location(piece, &store)?;
        Ok(blocks)
    }
}

/// The piece index's entry for a deal, as the deal is now.
fn deal_ref(d: &DealRecord) -> DealRef {
    let p = d.proposal();
    DealRef {
        deal: d.proposal_cid.to_string(),
        deal_id: d.deal.deal_id.unwrap_or(0),
        miner: p.provider.to_string(),
        sector: d.deal.sector.unwrap_or(0),
        offset: d.deal.offset.unwrap_or(0),
        length: p.piece_size.0,
    }
}

/// Deal states whose piece is in piece storage.
pub fn has_stored_piece(status: market_types::states::StorageDealStatus) -> bool {
    use market_types::states::StorageDealStatus as S;
    matches!(status, S::AwaitingPreCommit | S::Sealing | S::Active)
}

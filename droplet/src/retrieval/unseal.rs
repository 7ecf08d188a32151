//! Getting a piece into piece storage before its data is served: it is there, or a sealer
//! of its miner unseals it from its sector and uploads it (`SectorsUnsealPiece` on the market
//! event stream, asked again until the sealer says it finished, as droplet polls damocles).
//! Unlike droplet (a poll every 5 minutes), the sealer is asked again after 1 s, then less often.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cid::Cid;
use market_proto::Json;
use market_proto::api::market_event::{MARKET_SCHEME, UnsealRequest, UnsealState};
use market_types::Address;
use piece_store::index::DealRef;

use crate::market_events::{MarketEventError, MarketEvents};
use crate::pieces::Pieces;

/// How long one answer of the sealer may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);
/// Errors of the sealer in a row before the unseal is given up (droplet's 5 retries).
const ERRORS_ALLOWED: u32 = 5;
/// The longest wait between two asks.
const MAX_POLL: Duration = Duration::from_secs(30);

/// Why a piece could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    #[error(
        "piece {piece} has no unsealed copy in piece storage and no sealer of miner {miner} is connected to unseal it"
    )]
    NoCopy { piece: Cid, miner: Address },
    #[error("piece storage has no writable store for the unsealed piece {piece}: {reason}")]
    NoStore { piece: Cid, reason: String },
    #[error("unsealing piece {piece} from sector {sector}: {source}")]
    Sealer {
        piece: Cid,
        sector: u64,
        source: MarketEventError,
    },
    #[error("the sealer failed to unseal piece {piece} from sector {sector}")]
    Failed { piece: Cid, sector: u64 },
    #[error("the sealer did not finish unsealing piece {piece} within {secs} s")]
    TimedOut { piece: Cid, secs: u64 },
    #[error("the sealer finished unsealing piece {piece}, but piece storage does not hold it: {reason}")]
    NotUploaded { piece: Cid, reason: String },
}

/// How a piece became ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// It was in piece storage.
    InStorage,
    /// A sealer unsealed it into piece storage.
    Unsealed,
}

/// Pieces made ready for retrieval.
#[derive(Debug, Clone)]
pub struct Unsealer {
    pub pieces: Arc<Pieces>,
    pub events: Arc<MarketEvents>,
    /// The first wait between two asks (doubling up to [`MAX_POLL`]).
    pub poll: Duration,
    /// The longest an unseal may take (droplet's 12 h).
    pub limit: Duration,
}

/// An unpadded size or offset from a padded one (127/128 of it).
fn unpadded(padded: u64) -> u64 {
    padded - padded / 128
}

impl Unsealer {
    pub fn new(pieces: Arc<Pieces>, events: Arc<MarketEvents>) -> Self {
        Unsealer {
            pieces,
            events,
            poll: Duration::from_secs(1),
            limit: Duration::from_secs(12 * 3600),
        }
    }

    /// Whether piece storage holds `piece` now.
    async fn in_storage(&self, piece: &Cid) -> bool {
        self.pieces.storage().locate(&piece.to_string()).await.is_ok()
    }

    /// Make `piece`, held by the storage deal `deal` of `miner`, ready in piece storage;
    /// `unsealing` is called once if it has to be unsealed, before the sealer is asked.
    pub async fn prepare(
        &self,
        piece: &Cid,
        miner: &Address,
        deal: &DealRef,
        unsealing: impl FnOnce(),
    ) -> Result<Ready, UnsealError> {
        if self.in_storage(piece).await {
            return Ok(Ready::InStorage);
        }
        if !self.events.connected(miner) {
            return Err(UnsealError::NoCopy {
                piece: *piece,
                miner: *miner,
            });
        }
        unsealing();
        self.unseal(piece, miner, deal).await?;
        Ok(Ready::Unsealed)
    }

    async fn unseal(&self, piece: &Cid, miner: &Address, deal: &DealRef) -> Result<(), UnsealError> {
        let store = {
            let storage = self.pieces.storage();
            let store = storage
                .writable_for(Some(deal.length))
                .map_err(|e| UnsealError::NoStore {
                    piece: *piece,
                    reason: e.to_string(),
                })?;
            store.info().name.clone()
        };
        let req = UnsealRequest {
            piece_cid: Json(*piece),
            miner: Json(*miner),
            sid: deal.sector,
            offset: unpadded(deal.offset),
            size: unpadded(deal.length),
            dest: format!("{MARKET_SCHEME}{store}/{piece}"),
        };
        tracing::info!(%piece, %miner, sector = deal.sector, %store, "asking the sealer to unseal the piece");
        let started = Instant::now();
        let mut errors = 0;
        let mut wait = self.poll;
        loop {
            match self.events.unseal_piece(&req, ANSWER_WITHIN).await {
                Ok(UnsealState::Finished) => break,
                Ok(UnsealState::Failed) => {
                    return Err(UnsealError::Failed {
                        piece: *piece,
                        sector: deal.sector,
                    });
                }
                Ok(state) => {
                    errors = 0;
                    tracing::debug!(%piece, ?state, "unsealing");
                }
                Err(e) => {
                    errors += 1;
                    tracing::warn!(%piece, "asking the sealer to unseal ({errors}/{ERRORS_ALLOWED}): {e}");
                    if errors > ERRORS_ALLOWED || matches!(e, MarketEventError::Sealer(_)) {
                        return Err(UnsealError::Sealer {
                            piece: *piece,
                            sector: deal.sector,
                            source: e,
                        });
                    }
                }
            }
            if started.elapsed() >= self.limit {
                return Err(UnsealError::TimedOut {
                    piece: *piece,
                    secs: self.limit.as_secs(),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_POLL);
        }
        // The upload arrived through `PUT /resource` (which records it); record it anyway in
        // case it came another way.
        self.pieces
            .piece_uploaded(piece)
            .await
            .map_err(|e| UnsealError::NotUploaded {
                piece: *piece,
                reason: e.to_string(),
            })?;
        tracing::info!(%piece, secs = started.elapsed().as_secs(), "the sealer unsealed the piece");
        Ok(())
    }
}

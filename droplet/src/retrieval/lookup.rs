//! Which piece serves a payload, for whom, at what price: the piece index (the payload as a
//! root or as any block of a piece's CAR, or a named piece), the storage or direct deals that
//! hold the piece (sealing or active), an unsealed copy in piece storage, the miner's retrieval ask and
//! payment address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cid::Cid;
use market_types::Address;
use market_types::retrieval::RetrievalAsk;
use piece_store::index::DealRef;

use crate::asks::Asks;
use crate::chain::Chain;
use crate::deals::DealStore;
use crate::market_events::MarketEvents;
use crate::miners::LiveConfig;
use crate::pieces::Pieces;

/// A piece held by a live deal of a miner with an ask, with an unsealed copy recorded or a
/// sealer of the miner connected to unseal it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub piece: Cid,
    /// The unpadded size of the piece.
    pub size: u64,
    pub miner: Address,
    /// The storage deal that holds the piece.
    pub deal: String,
    /// Where the deal's piece is sealed.
    pub deal_ref: DealRef,
    pub ask: RetrievalAsk,
}

/// A piece that can serve a payload now, with its price and where to pay.
#[derive(Debug, Clone)]
pub struct Offer {
    pub candidate: Candidate,
    pub payment_address: Address,
}

/// Why no piece can serve a payload.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No sealing or active deal holds the payload (or the named piece).
    #[error("retrieve piece({piece}) or payload({payload}) failed, not found")]
    NotFound { payload: String, piece: String },
    /// Deals hold it, but no piece store has an unsealed copy and no sealer can unseal it.
    #[error(
        "piece {piece} holds {payload} but has no unsealed copy in piece storage, and no sealer of its miner is connected to unseal it"
    )]
    Sealed { payload: String, piece: String },
    #[error("miner {miner} has no retrieval ask: set one with `droplet retrieval ask set {miner}`")]
    NoAsk { miner: Address },
    #[error("miner {miner} has no retrieval payment address and its worker could not be read: {reason}")]
    NoPaymentAddress { miner: Address, reason: String },
    #[error("failed to fetch piece to retrieve from: {0}")]
    Index(String),
}

/// What the lookup reads.
#[derive(Clone)]
pub struct Lookup {
    pub pieces: Arc<Pieces>,
    pub deals: DealStore,
    /// Direct deals hold pieces too (the piece index names them by UUID).
    pub direct: crate::direct::DirectDeals,
    pub asks: Arc<Asks>,
    pub chain: Arc<Chain>,
    pub config: Arc<LiveConfig>,
    /// The sealers connected, which can unseal a piece with no unsealed copy.
    pub events: Arc<MarketEvents>,
    /// Miners' workers as last read from the chain, and when: a paid retrieval names its
    /// payment address with every voucher (a thousand for 1 GiB paid by the MiB).
    pub workers: Arc<Mutex<HashMap<Address, (Instant, Address)>>>,
}

/// How long a miner's worker read from the chain is used as its payment address. A new
/// worker takes effect on chain only after a long delay (finality), so a few seconds' old
/// answer is as good as a fresh one.
pub const WORKER_FOR: Duration = Duration::from_secs(5);

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lookup")
    }
}

fn index_error(e: impl std::fmt::Display) -> LookupError {
    LookupError::Index(e.to_string())
}

impl Lookup {
    /// Pieces that hold `payload` (as a root or a block), or just `piece` if it does.
    fn pieces_for(&self, payload: &Cid, piece: Option<&Cid>) -> Result<Vec<Cid>, LookupError> {
        let index = self.pieces.index();
        let mut out = index.pieces_for_payload(&payload.to_bytes()).map_err(index_error)?;
        for p in index
            .pieces_with_block(&payload.hash().to_bytes())
            .map_err(index_error)?
        {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if let Some(want) = piece {
            out.retain(|p| p == want);
        }
        Ok(out)
    }

    /// The deals of `piece` that are sealing or active (droplet's `ReadyRetrievalDealStatus`),
    /// and whether piece storage is recorded to hold it.
    fn live_deals(&self, piece: &Cid) -> Result<(Vec<DealRef>, bool), LookupError> {
        let Some(record) = self.pieces.index().piece(piece).map_err(index_error)? else {
            return Ok((Vec::new(), false));
        };
        let stored = !record.locations.is_empty();
        let mut out = Vec::new();
        for d in record.deals {
            let live = match self.deals.find(&d.deal).map_err(index_error)? {
                Some(r) => crate::pieces::has_stored_piece(r.status()),
                None => match d.deal.parse::<market_types::Uuid>() {
                    Ok(uuid) => self
                        .direct
                        .get(&uuid)
                        .map_err(index_error)?
                        .is_some_and(|dd| crate::direct::is_live(&dd)),
                    Err(_) => false,
                },
            };
            if live {
                out.push(d);
            }
        }
        Ok((out, stored))
    }

    /// Pieces that serve `payload` from an unsealed copy (as the index records it) or after
    /// an unseal by a connected sealer, with the miner and ask that price them; synchronous
    /// (the index only), for the deal validator. A payload held only sealed with no sealer to
    /// unseal it, or by miners without an ask, is reported as such.
    pub fn candidates(&self, payload: &Cid, piece: Option<&Cid>) -> Result<Vec<Candidate>, LookupError> {
        let mut out = Vec::new();
        let mut first_error = None;
        for p in self.pieces_for(payload, piece)? {
            let (deals, stored) = self.live_deals(&p)?;
            for d in deals {
                let Ok(miner) = market_types::address::parse(&d.miner) else {
                    continue;
                };
                if !stored && !self.events.connected(&miner) {
                    first_error.get_or_insert(LookupError::Sealed {
                        payload: payload.to_string(),
                        piece: p.to_string(),
                    });
                    continue;
                }
                match self.asks.get_retrieval(&miner).map_err(index_error)? {
                    Some(ask) => out.push(Candidate {
                        piece: p,
                        size: padded_to_unpadded(d.length),
                        miner,
                        deal: d.deal.clone(),
                        deal_ref: d,
                        ask,
                    }),
                    None => {
                        first_error.get_or_insert(LookupError::NoAsk { miner });
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(first_error.unwrap_or_else(|| LookupError::NotFound {
                payload: payload.to_string(),
                piece: piece.map(|p| p.to_string()).unwrap_or_else(|| "<nil>".into()),
            }));
        }
        Ok(out)
    }

    /// The first piece that can serve `payload`, checked in piece storage (or with a sealer
    /// connected to unseal it), with its miner's terms and payment address: what a query
    /// answers.
    pub async fn find(&self, payload: &Cid, piece: Option<&Cid>) -> Result<Offer, LookupError> {
        let mut first_error = None;
        for candidate in self.candidates(payload, piece)? {
            let unsealable = self.events.connected(&candidate.miner);
            if !unsealable
                && self
                    .pieces
                    .storage()
                    .locate(&candidate.piece.to_string())
                    .await
                    .is_err()
            {
                first_error.get_or_insert(LookupError::Sealed {
                    payload: payload.to_string(),
                    piece: candidate.piece.to_string(),
                });
                continue;
            }
            match self.payment_address(&candidate.miner).await {
                Ok(payment_address) => {
                    return Ok(Offer {
                        candidate,
                        payment_address,
                    });
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| index_error("no candidate piece left")))
    }

    /// A miner's payment address: `RetrievalPaymentAddress`, else the miner's worker (as
    /// boost answers).
    pub async fn payment_address(&self, miner: &Address) -> Result<Address, LookupError> {
        if let Some(a) = self.config.policy(Some(miner)).retrieval_payment_address {
            return Ok(a);
        }
        let workers = || self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, worker)) = workers().get(miner)
            && at.elapsed() < WORKER_FOR
        {
            return Ok(*worker);
        }
        let info = self
            .chain
            .miner_info(miner)
            .await
            .map_err(|e| LookupError::NoPaymentAddress {
                miner: *miner,
                reason: e.to_string(),
            })?;
        workers().insert(*miner, (Instant::now(), info.worker));
        Ok(info.worker)
    }
}

/// The unpadded size of a padded piece size (127/128 of it).
fn padded_to_unpadded(padded: u64) -> u64 {
    padded - padded / 128
}

//! Direct deals: pieces a client allocated DataCap for in the verified registry (no deal
//! proposal), imported by the provider against their allocations ([`import`]), handed to the
//! sealer with their allocation ([`sealing`]) and followed on chain until claimed and to the
//! end of their claim's term ([`tracker`]). Each is stored in one write with its allocation
//! index, in market-fsm's `DirectDealState`s; every read-modify-write holds one lock, so the
//! sealer, the tracker and the operator never overwrite each other's change.

pub mod import;
pub mod sealing;
pub mod tracker;

use std::sync::{Arc, Mutex, MutexGuard};

pub use import::Importer;
use market_daemon::store::{Batch, Store, StoreError, Table};
use market_fsm::storage::direct::DirectDealState;
use market_proto::api::direct_deal::{DirectDeal, DirectDealQueryParams};
use market_types::Uuid;
use piece_store::index::DealRef;

use crate::pieces::Pieces;

const DEALS: Table = Table("direct-deals/");
const BY_ALLOCATION: Table = Table("direct-alloc/");

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn alloc_key(id: u64) -> String {
    format!("{id:020}")
}

/// What went wrong with a direct deal.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error("direct deals: {0}")]
    Store(#[from] StoreError),
    #[error("no direct deal {0}")]
    NoDeal(Uuid),
    #[error("no direct deal for allocation {0}")]
    NoAllocation(u64),
    #[error("deal({allocation}) exist: {}", state_name(*.state))]
    Exists { allocation: u64, state: u64 },
    #[error("the direct deal of allocation {allocation} is for {provider}, not {miner}")]
    OtherMiner {
        allocation: u64,
        provider: String,
        miner: String,
    },
    #[error("the direct deal of allocation {allocation} is {}, not being sealed: it cannot be released", state_name(*.state))]
    NotSealing { allocation: u64, state: u64 },
}

/// droplet's name of a state number ("?" for one it does not know).
pub fn state_name(code: u64) -> &'static str {
    DirectDealState::from_code(code).map_or("?", |s| s.name())
}

/// The direct deals' table.
#[derive(Debug, Clone)]
pub struct DirectDeals {
    store: Arc<Store>,
    /// Held across every read-modify-write.
    lock: Arc<Mutex<()>>,
    /// The piece index, told where each deal's piece is sealed (for retrieval).
    pieces: Option<Arc<Pieces>>,
}

/// How the piece index knows a direct deal: by its UUID, with no deal ID.
pub fn deal_ref(d: &DirectDeal) -> DealRef {
    DealRef {
        deal: d.id.0.to_string(),
        deal_id: 0,
        miner: d.provider.0.to_string(),
        sector: d.sector_id,
        offset: d.offset,
        length: d.piece_size,
    }
}

/// Whether a direct deal's piece is served: it is stored until the deal ends.
pub fn is_live(d: &DirectDeal) -> bool {
    DirectDealState::from_code(d.state).is_some_and(|s| {
        matches!(
            s,
            DirectDealState::Allocated | DirectDealState::Sealing | DirectDealState::Active
        )
    })
}

impl DirectDeals {
    pub fn new(store: Arc<Store>) -> Self {
        DirectDeals {
            store,
            lock: Arc::new(Mutex::new(())),
            pieces: None,
        }
    }

    /// Keep the piece index told of each deal as it changes.
    pub fn with_pieces(mut self, pieces: Arc<Pieces>) -> Self {
        self.pieces = Some(pieces);
        self
    }

    fn locked(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Store deals and their allocation index in one write.
    fn put_all(&self, ds: &[DirectDeal]) -> Result<(), StoreError> {
        let mut b = Batch::default();
        for d in ds {
            b.put_json(DEALS, &d.id.0.to_string(), d);
            b.put_json(BY_ALLOCATION, &alloc_key(d.allocation_id), &d.id.0.to_string());
        }
        self.store.write(b, true)?;
        // After the deals' own write: the index is rebuilt from them if this is cut off.
        if let Some(pieces) = &self.pieces {
            for d in ds {
                if let Err(e) = pieces.index().add_deal(&d.piece_cid.0, deal_ref(d)) {
                    tracing::warn!(allocation = d.allocation_id, error = %e, "recording the direct deal in the piece index");
                }
            }
        }
        Ok(())
    }

    /// Store a new deal, unless its allocation has one already.
    pub fn insert(&self, d: &DirectDeal) -> Result<(), DirectError> {
        let _g = self.locked();
        if let Some(old) = self.by_allocation(d.allocation_id)? {
            return Err(DirectError::Exists {
                allocation: d.allocation_id,
                state: old.state,
            });
        }
        Ok(self.put_all(std::slice::from_ref(d))?)
    }

    pub fn get(&self, id: &Uuid) -> Result<Option<DirectDeal>, StoreError> {
        self.store.get_json(DEALS, &id.to_string())
    }

    pub fn by_allocation(&self, id: u64) -> Result<Option<DirectDeal>, StoreError> {
        match self.store.get_json::<String>(BY_ALLOCATION, &alloc_key(id))? {
            Some(u) => match u.parse::<Uuid>() {
                Ok(u) => self.get(&u),
                Err(_) => Ok(None),
            },
            None => Ok(None),
        }
    }

    pub fn list(&self) -> Result<Vec<DirectDeal>, StoreError> {
        self.store.list_json(DEALS)
    }

    /// The deals in one of `states`.
    pub fn in_states(&self, states: &[DirectDealState]) -> Result<Vec<DirectDeal>, StoreError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|d| DirectDealState::from_code(d.state).is_some_and(|s| states.contains(&s)))
            .collect())
    }

    /// `ListDirectDeals`: by provider, client and state, oldest or newest first, a page.
    pub fn query(&self, q: &DirectDealQueryParams) -> Result<Vec<DirectDeal>, StoreError> {
        let mut deals: Vec<DirectDeal> = self
            .list()?
            .into_iter()
            .filter(|d| q.provider.0.is_none_or(|p| p == d.provider.0))
            .filter(|d| q.client.0.is_none_or(|c| c == d.client.0))
            .filter(|d| q.state.is_none_or(|s| s == d.state))
            .collect();
        deals.sort_by_key(|d| (d.created_at, d.id.0));
        if !q.asc {
            deals.reverse();
        }
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        Ok(deals.into_iter().skip(q.offset).take(limit).collect())
    }

    /// Read the deals `pick` chooses from `candidates`, change them, and store every change in
    /// one write, all under the lock: `pick` sees the current deals and returns them changed.
    pub fn update<T>(
        &self,
        pick: impl FnOnce(&DirectDeals) -> Result<(Vec<DirectDeal>, T), DirectError>,
    ) -> Result<T, DirectError> {
        let _g = self.locked();
        let (mut changed, out) = pick(self)?;
        let now = now_secs();
        for d in &mut changed {
            d.updated_at = now;
        }
        if !changed.is_empty() {
            self.put_all(&changed)?;
        }
        Ok(out)
    }

    /// Set a deal's state by hand.
    pub fn set_state(&self, id: &Uuid, state: DirectDealState) -> Result<DirectDeal, DirectError> {
        self.update(|me| {
            let mut d = me.get(id)?.ok_or(DirectError::NoDeal(*id))?;
            d.state = state.code();
            d.updated_at = now_secs();
            Ok((vec![d.clone()], d))
        })
    }
}

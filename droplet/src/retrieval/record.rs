//! Retrieval deals in the store, keyed by (receiver peer, deal ID) as go-fil-markets keys
//! them: `retrieval-deal/<peer>/<id>` → the record (JSON). Every change is one write.

use std::sync::Arc;

use market_fsm::retrieval::payment::Terms;
use market_fsm::retrieval::provider::ProviderDeal;
use market_types::json::Json;
use market_types::retrieval::RetrievalDealProposal;
use market_types::states::RetrievalDealStatus;
use market_types::{Address, Cid, TokenAmount};

use crate::store::{Batch, Store, StoreError, Table};

const DEALS: Table = Table("retrieval-deal/");

pub use market_proto::api::retrieval::{ChannelRef, RetrievalDeal as RetrievalDealRecord};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn key(receiver: &str, id: u64) -> String {
    format!("{receiver}/{id:020}")
}

/// What the daemon does with a deal record beyond the API's view of it.
pub trait RecordExt {
    fn status(&self) -> RetrievalDealStatus;
    fn terms(&self) -> Terms;
    /// The machine's view of the deal.
    fn machine(&self) -> ProviderDeal;
    /// Take the machine's new state.
    fn set_machine(&mut self, m: &ProviderDeal);
}

impl RecordExt for RetrievalDealRecord {
    fn status(&self) -> RetrievalDealStatus {
        RetrievalDealStatus::from_u64(self.status).unwrap_or(RetrievalDealStatus::Errored)
    }

    fn terms(&self) -> Terms {
        terms_of(&self.deal_proposal)
    }

    fn machine(&self) -> ProviderDeal {
        ProviderDeal {
            status: self.status(),
            message: self.message.clone(),
            terms: self.terms(),
            total_sent: self.total_sent,
            funds_received: self.funds_received.0.clone(),
            current_interval: self.current_interval,
        }
    }

    fn set_machine(&mut self, m: &ProviderDeal) {
        self.status = m.status.code();
        self.message = m.message.clone();
        self.total_sent = m.total_sent;
        self.funds_received = Json(m.funds_received.clone());
        self.current_interval = m.current_interval;
        self.updated_at = now();
    }
}

/// A record for a deal just accepted.
pub fn new_record(
    proposal: RetrievalDealProposal,
    receiver: String,
    channel: ChannelRef,
    piece: Cid,
    miner: Address,
    storage_deal: String,
    legacy: bool,
) -> RetrievalDealRecord {
    let machine = ProviderDeal::new(terms_of(&proposal));
    let t = now();
    let mut r = RetrievalDealRecord {
        deal_proposal: proposal,
        receiver,
        channel_id: Some(channel),
        status: 0,
        message: String::new(),
        total_sent: 0,
        funds_received: Json(TokenAmount::default()),
        current_interval: 0,
        piece_cid: Json(piece),
        miner: Json(miner),
        sel_storage_proposal_cid: storage_deal,
        legacy_protocol: legacy,
        created_at: t,
        updated_at: t,
    };
    r.set_machine(&machine);
    r
}

/// The payment terms a proposal asks for.
pub fn terms_of(p: &RetrievalDealProposal) -> Terms {
    Terms {
        price_per_byte: p.params.price_per_byte.clone(),
        unseal_price: p.params.unseal_price.clone(),
        payment_interval: p.params.payment_interval,
        payment_interval_increase: p.params.payment_interval_increase,
    }
}

/// The retrieval deal table.
#[derive(Debug, Clone)]
pub struct RetrievalDeals {
    store: Arc<Store>,
}

impl RetrievalDeals {
    pub fn new(store: Arc<Store>) -> Self {
        RetrievalDeals { store }
    }

    pub fn put(&self, d: &RetrievalDealRecord) -> Result<(), StoreError> {
        self.put_with(d, Batch::default())
    }

    /// Save `d` together with the other writes in `batch`, atomically.
    pub fn put_with(&self, d: &RetrievalDealRecord, batch: Batch) -> Result<(), StoreError> {
        self.write(d, batch, true)
    }

    /// [`Self::put_with`] without waiting for the disk: for changes a crash may lose (the
    /// bytes sent), or made durable by [`Self::sync`] before anything acts on them.
    pub fn put_unsynced_with(&self, d: &RetrievalDealRecord, batch: Batch) -> Result<(), StoreError> {
        self.write(d, batch, false)
    }

    /// Make every deal written so far durable (off the async runtime's workers).
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.store.sync_off_runtime().await
    }

    fn write(&self, d: &RetrievalDealRecord, mut batch: Batch, sync: bool) -> Result<(), StoreError> {
        batch.put_json(DEALS, &key(&d.receiver, d.deal_proposal.id), d);
        self.store.write(batch, sync)
    }

    pub fn get(&self, receiver: &str, id: u64) -> Result<Option<RetrievalDealRecord>, StoreError> {
        self.store.get_json(DEALS, &key(receiver, id))
    }

    pub fn list(&self) -> Result<Vec<RetrievalDealRecord>, StoreError> {
        self.store.list_json(DEALS)
    }
}

//! The client's retrievals in the store: `retrieval/<deal id, 20 digits>` → the record (JSON).

use std::path::PathBuf;
use std::sync::Arc;

use market_daemon::store::{Store, StoreError, Table};
use market_proto::Json;
use market_proto::api::market_client::RetrievalInfo;
use market_types::retrieval::RetrievalDealProposal;
use market_types::states::{RetrievalClientEvent, RetrievalDealStatus as S};
use market_types::{Address, TokenAmount};
use serde::{Deserialize, Serialize};

const RETRIEVALS: Table = Table("retrieval/");

/// A retrieval as the client keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalRecord {
    pub info: RetrievalInfo,
    pub miner: Json<Address>,
    /// Where the blocks are.
    pub car: PathBuf,
}

impl RetrievalRecord {
    pub fn new(p: &RetrievalDealProposal, provider: String, miner: Address, car: PathBuf) -> Self {
        RetrievalRecord {
            info: RetrievalInfo {
                payload_cid: Json(p.payload_cid),
                id: p.id,
                piece_cid: p.params.piece_cid.map(Json),
                price_per_byte: Json(p.params.price_per_byte.clone()),
                unseal_price: Json(p.params.unseal_price.clone()),
                status: S::New.code(),
                message: String::new(),
                provider,
                bytes_received: 0,
                bytes_paid_for: 0,
                total_paid: Json(TokenAmount::default()),
                transfer_channel_id: None,
                event: Some(RetrievalClientEvent::Open.code()),
            },
            miner: Json(miner),
            car,
        }
    }

    pub fn status(&self) -> S {
        S::from_u64(self.info.status).unwrap_or(S::Errored)
    }

    /// Record that `event` moved the retrieval to `status`.
    pub fn set(&mut self, event: RetrievalClientEvent, status: S) {
        self.info.event = Some(event.code());
        self.info.status = status.code();
    }

    pub fn is_terminal(&self) -> bool {
        is_terminal(self.status())
    }
}

/// Whether a client retrieval in `status` is over.
pub fn is_terminal(status: S) -> bool {
    matches!(
        status,
        S::Completed | S::Errored | S::Rejected | S::DealNotFound | S::Cancelled
    )
}

/// The retrieval table.
#[derive(Debug, Clone)]
pub struct RetrievalStore {
    store: Arc<Store>,
}

fn key(id: u64) -> String {
    format!("{id:020}")
}

impl RetrievalStore {
    pub fn new(store: Arc<Store>) -> Self {
        RetrievalStore { store }
    }

    pub fn put(&self, r: &RetrievalRecord) -> Result<(), StoreError> {
        self.store.put_json(RETRIEVALS, &key(r.info.id), r)
    }

    pub fn get(&self, id: u64) -> Result<Option<RetrievalRecord>, StoreError> {
        self.store.get_json(RETRIEVALS, &key(id))
    }

    pub fn list(&self) -> Result<Vec<RetrievalRecord>, StoreError> {
        self.store.list_json(RETRIEVALS)
    }
}

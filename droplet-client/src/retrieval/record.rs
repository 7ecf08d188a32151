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
    /// The wallet that pays and the provider's payment address (priced deals).
    #[serde(default)]
    pub payer: Option<Json<Address>>,
    #[serde(default)]
    pub payee: Option<Json<Address>>,
    /// The most the order pays in all.
    #[serde(default = "zero")]
    pub total: Json<TokenAmount>,
    /// The payment channel and lane paying for it.
    #[serde(default)]
    pub channel: Option<Json<Address>>,
    #[serde(default)]
    pub lane: u64,
    /// `--data-selector` as given (none: the whole DAG).
    #[serde(default)]
    pub data_selector: Option<String>,
    /// The retrieval after each event (runs of BlocksReceived kept as one): the progress
    /// lines the CLI prints.
    #[serde(default)]
    pub log: Vec<RetrievalInfo>,
}

/// Entries kept in a retrieval's log at most.
const MAX_LOG: usize = 4096;

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
            payer: None,
            payee: None,
            total: Json(TokenAmount::default()),
            channel: None,
            lane: 0,
            data_selector: None,
            log: Vec::new(),
        }
    }

    /// What `bytes` received are worth under the deal's terms (unseal price included).
    pub fn terms_value(&self, bytes: u64) -> TokenAmount {
        &self.info.unseal_price.0 + &self.info.price_per_byte.0 * bytes
    }

    pub fn status(&self) -> S {
        S::from_u64(self.info.status).unwrap_or(S::Errored)
    }

    /// Record that `event` moved the retrieval to `status`.
    pub fn set(&mut self, event: RetrievalClientEvent, status: S) {
        self.info.event = Some(event.code());
        self.info.status = status.code();
        self.note();
    }

    /// Record the retrieval as it is now in its log; a run of the same event and status is
    /// one entry (the last).
    pub fn note(&mut self) {
        let same = self
            .log
            .last()
            .is_some_and(|l| l.event == self.info.event && l.status == self.info.status);
        if same {
            self.log.pop();
        } else if self.log.len() >= MAX_LOG {
            self.log.remove(1);
        }
        self.log.push(self.info.clone());
    }

    pub fn is_terminal(&self) -> bool {
        is_terminal(self.status())
    }
}

fn zero() -> Json<TokenAmount> {
    Json(TokenAmount::default())
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

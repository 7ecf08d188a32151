//! The client's retrievals in the store: `retrieval/<deal id, 20 digits>` → the record (JSON),
//! and its log apart, an entry a key (`retrieval-log/<deal id>/<index, 8 digits>`), so that a
//! save writes only the entries that changed, not the whole log again.

use std::path::PathBuf;
use std::sync::Arc;

use market_daemon::store::{Batch, Store, StoreError, Table};
use market_fsm::retrieval::payment::Terms;
use market_proto::Json;
use market_proto::api::market_client::RetrievalInfo;
use market_types::retrieval::RetrievalDealProposal;
use market_types::states::{RetrievalClientEvent, RetrievalDealStatus as S};
use market_types::{Address, TokenAmount};
use serde::{Deserialize, Serialize};

const RETRIEVALS: Table = Table("retrieval/");
const LOGS: Table = Table("retrieval-log/");

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
    /// The deal's payment intervals (its prices are in `info`).
    #[serde(default)]
    pub payment_interval: u64,
    #[serde(default)]
    pub payment_interval_increase: u64,
    /// The payment channel and lane paying for it.
    #[serde(default)]
    pub channel: Option<Json<Address>>,
    #[serde(default)]
    pub lane: u64,
    /// `--data-selector` as given (none: the whole DAG).
    #[serde(default)]
    pub data_selector: Option<String>,
    /// The file written while the blocks arrived, once the retrieval completed.
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// The retrieval after each event (runs of BlocksReceived kept as one): the progress
    /// lines the CLI prints. Stored apart (records written before were stored with it).
    #[serde(default, skip_serializing)]
    pub log: Vec<RetrievalInfo>,
    /// The first log entry changed since the record was last saved.
    #[serde(skip)]
    unsaved_from: Option<usize>,
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
            payment_interval: p.params.payment_interval,
            payment_interval_increase: p.params.payment_interval_increase,
            channel: None,
            lane: 0,
            data_selector: None,
            output: None,
            log: Vec::new(),
            unsaved_from: None,
        }
    }

    /// What `bytes` received are worth under the deal's terms (unseal price included).
    pub fn terms_value(&self, bytes: u64) -> TokenAmount {
        &self.info.unseal_price.0 + &self.info.price_per_byte.0 * bytes
    }

    /// The deal's price terms.
    pub fn terms(&self) -> Terms {
        Terms {
            price_per_byte: self.info.price_per_byte.0.clone(),
            unseal_price: self.info.unseal_price.0.clone(),
            payment_interval: self.payment_interval,
            payment_interval_increase: self.payment_interval_increase,
        }
    }

    /// Whether the provider may be paid now, with a payment asked for: something received is
    /// unpaid, and it reaches the next payment boundary above what was paid (the unseal price
    /// first), or everything has arrived. Never for data not received.
    pub fn payable(&self, all_received: bool) -> Option<TokenAmount> {
        let value = self.terms_value(self.info.bytes_received);
        let paid = &self.info.total_paid.0;
        if value <= *paid {
            return None;
        }
        let terms = self.terms();
        let due = all_received || paid < &terms.unseal_price || self.info.bytes_received >= terms.next_interval(paid);
        due.then_some(value)
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
    /// one entry (the last). A full log keeps its first entries and updates its last.
    pub fn note(&mut self) {
        let same = self
            .log
            .last()
            .is_some_and(|l| l.event == self.info.event && l.status == self.info.status);
        if same || self.log.len() >= MAX_LOG {
            self.log.pop();
        }
        self.log.push(self.info.clone());
        let changed = self.log.len() - 1;
        self.unsaved_from = Some(self.unsaved_from.map_or(changed, |u| u.min(changed)));
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

    /// Save `r` and the log entries changed since its last save, in one write.
    pub fn put(&self, r: &mut RetrievalRecord) -> Result<(), StoreError> {
        self.write(r, true)
    }

    /// [`Self::put`] without waiting for the disk: for progress a crash may lose (bytes
    /// received, payments asked for).
    pub fn put_progress(&self, r: &mut RetrievalRecord) -> Result<(), StoreError> {
        self.write(r, false)
    }

    fn write(&self, r: &mut RetrievalRecord, sync: bool) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.put_json(RETRIEVALS, &key(r.info.id), r);
        if let Some(from) = r.unsaved_from {
            for (i, entry) in r.log.iter().enumerate().skip(from) {
                batch.put_json(LOGS, &format!("{}/{i:08}", key(r.info.id)), entry);
            }
        }
        self.store.write(batch, sync)?;
        r.unsaved_from = None;
        Ok(())
    }

    /// Retrieval `id` with its log.
    pub fn get(&self, id: u64) -> Result<Option<RetrievalRecord>, StoreError> {
        let Some(mut r) = self.store.get_json::<RetrievalRecord>(RETRIEVALS, &key(id))? else {
            return Ok(None);
        };
        let entries = self.log_from(id, 0)?;
        if !entries.is_empty() {
            r.log = entries;
        }
        Ok(Some(r))
    }

    /// Retrieval `id`'s log entries stored apart, from entry `from` on.
    pub fn log_from(&self, id: u64, from: usize) -> Result<Vec<RetrievalInfo>, StoreError> {
        let prefix = format!("{}/", key(id));
        let entries = self.store.scan_raw_from(LOGS, &prefix, &format!("{prefix}{from:08}"))?;
        Ok(entries
            .iter()
            .filter_map(|(_, v)| serde_json::from_slice(v).ok())
            .collect())
    }

    /// Every retrieval, without its log.
    pub fn list(&self) -> Result<Vec<RetrievalRecord>, StoreError> {
        self.store.list_json(RETRIEVALS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64) -> RetrievalRecord {
        let p = RetrievalDealProposal {
            id,
            payload_cid: market_types::chain::chain_cid(b"root"),
            params: market_types::retrieval::RetrievalParams {
                piece_cid: None,
                selector: None,
                unseal_price: TokenAmount::default(),
                price_per_byte: TokenAmount::default(),
                payment_interval: 0,
                payment_interval_increase: 0,
            },
        };
        RetrievalRecord::new(&p, "peer".into(), Address::new_id(1000), PathBuf::from("/x.car"))
    }

    #[test]
    fn the_log_is_saved_apart_a_changed_entry_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RetrievalStore::new(Arc::new(Store::open(&dir.path().join("db")).expect("store")));
        let mut r = record(7);
        r.set(RetrievalClientEvent::DealProposed, S::WaitForAcceptance);
        store.put(&mut r).expect("put");
        r.set(RetrievalClientEvent::DealAccepted, S::Accepted);
        for n in 1..=3 {
            r.info.bytes_received = n;
            r.set(RetrievalClientEvent::BlocksReceived, S::Ongoing);
        }
        store.put(&mut r).expect("put");
        let back = store.get(7).expect("get").expect("there");
        let steps: Vec<_> = back.log.iter().map(|l| (l.event, l.bytes_received)).collect();
        assert_eq!(
            steps,
            vec![
                (Some(RetrievalClientEvent::DealProposed.code()), 0),
                (Some(RetrievalClientEvent::DealAccepted.code()), 0),
                (Some(RetrievalClientEvent::BlocksReceived.code()), 3),
            ]
        );
        // Read from an entry on: only those (what the CLI polls for).
        let tail: Vec<_> = store.log_from(7, 1).expect("log").iter().map(|l| l.event).collect();
        assert_eq!(
            tail,
            vec![
                Some(RetrievalClientEvent::DealAccepted.code()),
                Some(RetrievalClientEvent::BlocksReceived.code())
            ]
        );
        assert!(store.log_from(7, 3).expect("log").is_empty());
        assert!(store.log_from(8, 0).expect("log").is_empty(), "another retrieval's");
        // The record itself carries no log; the list leaves it out.
        let raw = store.store.get_raw(RETRIEVALS, &key(7)).expect("raw").expect("there");
        assert!(!String::from_utf8_lossy(&raw).contains("\"Log\""));
        assert!(store.list().expect("list")[0].log.is_empty());
    }

    #[test]
    fn a_full_log_keeps_its_first_entries_and_updates_its_last() {
        let mut r = record(8);
        for n in 0..(MAX_LOG as u64 + 10) {
            r.info.bytes_received = n;
            let event = if n % 2 == 0 {
                RetrievalClientEvent::BlocksReceived
            } else {
                RetrievalClientEvent::PaymentSent
            };
            r.set(event, S::Ongoing);
        }
        assert_eq!(r.log.len(), MAX_LOG);
        assert_eq!(r.log[0].bytes_received, 0);
        assert_eq!(r.log[MAX_LOG - 1].bytes_received, MAX_LOG as u64 + 9);
    }
}

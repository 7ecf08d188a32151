//! Provider deals in the store, by deal UUID, with secondary keys so that the tracker, the
//! sealer API and the CLI read only the deals they ask for:
//!
//! - `deal/<uuid>` → the record ([`DealRecord::encode`])
//! - `deal-by-proposal/<proposal cid>` → the UUID (JSON string)
//! - `deal-by-state/<state, 3 digits>/<uuid>`
//! - `deal-by-id/<deal id>` → the UUID (JSON string)
//! - `deal-by-miner/<miner>/<uuid>`
//! - `deal-log/<uuid>/<unix ns, 20 digits>` → a [`LogEntry`]: the deal's states as it went
//!   through them (with the message of each), for the operator
//!
//! A change to a deal is one atomic write batch: the record and every index key it adds or
//! drops. A record that cannot be read is reported and left out of listings; it does not
//! hide every other deal.

use std::sync::Arc;

use cid::Cid;
use market_types::states::StorageDealStatus as S;
use market_types::{Address, Uuid};

use super::record::DealRecord;
use crate::store::{Batch, Store, StoreError, Table};

const DEALS: Table = Table("deal/");
const BY_PROPOSAL: Table = Table("deal-by-proposal/");
const BY_STATE: Table = Table("deal-by-state/");
const BY_ID: Table = Table("deal-by-id/");
const BY_MINER: Table = Table("deal-by-miner/");
const LOG: Table = Table("deal-log/");
/// The version of the layout above; older stores are brought up to it at open.
const META: Table = Table("deal-store/");
const LAYOUT: u32 = 2;

/// One step of a deal's life: the state it entered (or the message it got in the same state).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogEntry {
    /// Unix milliseconds.
    pub at: u64,
    /// The StorageDealStatus code.
    pub state: u64,
    pub message: String,
}

/// Unix nanoseconds, strictly increasing within this process, so that two entries of one
/// deal written in the same instant keep their order.
fn log_instant() -> u64 {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let prev = LAST
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |last| Some(now.max(last + 1)),
        )
        .unwrap_or(0);
    now.max(prev + 1)
}

#[derive(Debug, Clone)]
pub struct DealStore {
    store: Arc<Store>,
}

fn state_key(status: S, uuid: &Uuid) -> String {
    format!("{:03}/{uuid}", status.code())
}

fn corrupt(key: String, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key,
        reason: e.to_string(),
    }
}

impl DealStore {
    /// Open the deal tables, bringing records and indexes of an older layout up to date.
    pub fn open(store: Arc<Store>) -> Result<Self, StoreError> {
        let deals = DealStore { store };
        let layout: Option<u32> = deals.store.get_json(META, "layout")?;
        if layout.unwrap_or(0) < LAYOUT {
            deals.migrate()?;
        }
        Ok(deals)
    }

    /// Rewrite every record in the current form with all its index keys.
    fn migrate(&self) -> Result<(), StoreError> {
        let mut n = 0usize;
        for (key, raw) in self.store.scan_raw(DEALS, "")? {
            match DealRecord::decode(&raw) {
                Ok(d) => {
                    let mut b = Batch::default();
                    self.stage(&mut b, None, &d);
                    self.store.write(b, true)?;
                    n += 1;
                }
                Err(e) => {
                    tracing::error!(key = %format!("deal/{key}"), error = %e, "a stored deal cannot be read; it is left as it is")
                }
            }
        }
        let mut b = Batch::default();
        b.put_json(META, "layout", &LAYOUT);
        self.store.write(b, true)?;
        if n > 0 {
            tracing::info!(deals = n, "deal records brought up to layout {LAYOUT}");
        }
        Ok(())
    }

    /// Add to `b` the writes that take the store from `before` to `d`.
    fn stage(&self, b: &mut Batch, before: Option<&DealRecord>, d: &DealRecord) {
        let uuid = d.uuid.to_string();
        let miner = d.proposal().provider.to_string();
        if let Some(old) = before {
            if old.status() != d.status() {
                b.delete(BY_STATE, &state_key(old.status(), &old.uuid));
            }
            if let Some(id) = old.deal.deal_id
                && d.deal.deal_id != Some(id)
            {
                b.delete(BY_ID, &id.to_string());
            }
        }
        b.put_json(BY_PROPOSAL, &d.proposal_cid.to_string(), &uuid);
        b.put_raw(BY_STATE, &state_key(d.status(), &d.uuid), b"");
        b.put_raw(BY_MINER, &format!("{miner}/{uuid}"), b"");
        if let Some(id) = d.deal.deal_id {
            b.put_json(BY_ID, &id.to_string(), &uuid);
        }
        b.put_raw(DEALS, &uuid, &d.encode());
    }

    /// Run `f` over the store on a blocking thread, off the async runtime's workers.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&DealStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Store a new deal (before acting on it).
    pub fn insert(&self, d: &DealRecord) -> Result<(), StoreError> {
        self.store.write(self.new_deal(d), true)
    }

    /// The writes that store a new deal: its record, index keys and first log entry.
    fn new_deal(&self, d: &DealRecord) -> Batch {
        let mut b = Batch::default();
        self.stage(&mut b, None, d);
        Self::log(&mut b, d);
        b
    }

    /// [`Self::insert`] without holding a runtime worker: a synced RocksDB write waits on a
    /// blocking thread (concurrent ones commit together), a SQL one is awaited on the pool.
    pub async fn insert_async(&self, d: &DealRecord) -> Result<(), StoreError> {
        self.store.write_off_runtime(self.new_deal(d), true).await
    }

    /// Store deals taken over from another market, all in one write; those already here (by
    /// UUID or proposal CID) are left as they are. Returns the ones stored.
    pub fn insert_new(&self, deals: Vec<DealRecord>) -> Result<Vec<DealRecord>, StoreError> {
        let mut b = Batch::default();
        let mut stored: Vec<DealRecord> = Vec::new();
        for d in deals {
            let here = self.get(&d.uuid)?.is_some() || self.by_proposal_cid(&d.proposal_cid)?.is_some();
            if here
                || stored
                    .iter()
                    .any(|s| s.uuid == d.uuid || s.proposal_cid == d.proposal_cid)
            {
                continue;
            }
            self.stage(&mut b, None, &d);
            Self::log(&mut b, &d);
            stored.push(d);
        }
        if !stored.is_empty() {
            self.store.write(b, true)?;
        }
        Ok(stored)
    }

    /// Add to `b` the log entry for `d` as it is now.
    fn log(b: &mut Batch, d: &DealRecord) {
        let nanos = log_instant();
        let e = LogEntry {
            at: nanos / 1_000_000,
            state: d.status().code(),
            message: d.deal.message.clone(),
        };
        b.put_json(LOG, &format!("{}/{nanos:020}", d.uuid), &e);
    }

    /// A deal's log, oldest first (entries that cannot be read are left out).
    pub fn log_of(&self, uuid: &Uuid) -> Result<Vec<LogEntry>, StoreError> {
        Ok(self
            .store
            .scan_raw(LOG, &format!("{uuid}/"))?
            .into_iter()
            .filter_map(|(_, raw)| serde_json::from_slice(&raw).ok())
            .collect())
    }

    /// Store a deal's change from `before` (as read) to `after`, in one write. `durable`
    /// false skips the sync, for changes a crash may lose (transfer progress).
    pub fn update(&self, before: &DealRecord, after: &DealRecord, durable: bool) -> Result<(), StoreError> {
        let mut b = Batch::default();
        self.stage(&mut b, Some(before), after);
        if before.status() != after.status()
            || (before.deal.message != after.deal.message && !after.deal.message.is_empty())
        {
            Self::log(&mut b, after);
        }
        self.store.write(b, durable)
    }

    pub fn get(&self, uuid: &Uuid) -> Result<Option<DealRecord>, StoreError> {
        let key = uuid.to_string();
        match self.store.get_raw(DEALS, &key)? {
            None => Ok(None),
            Some(raw) => DealRecord::decode(&raw)
                .map(Some)
                .map_err(|e| corrupt(format!("deal/{key}"), e)),
        }
    }

    /// [`Self::get`] for async callers: no runtime worker waits on a database's round trip.
    pub async fn get_async(&self, uuid: &Uuid) -> Result<Option<DealRecord>, StoreError> {
        let key = uuid.to_string();
        match self.store.get_raw_async(DEALS, &key).await? {
            None => Ok(None),
            Some(raw) => DealRecord::decode(&raw)
                .map(Some)
                .map_err(|e| corrupt(format!("deal/{key}"), e)),
        }
    }

    /// The deals with these UUIDs (unreadable or vanished ones left out, and reported).
    fn load(&self, uuids: impl IntoIterator<Item = String>) -> Vec<DealRecord> {
        uuids
            .into_iter()
            .filter_map(|u| match u.parse::<Uuid>().map_err(|e| e.to_string()) {
                Ok(uuid) => self.get(&uuid).unwrap_or_else(|e| {
                    tracing::error!(%uuid, error = %e, "a stored deal cannot be read");
                    None
                }),
                Err(e) => {
                    tracing::error!(key = %u, error = %e, "a deal index key is damaged");
                    None
                }
            })
            .collect()
    }

    /// Every deal. A record that cannot be read is reported and left out.
    pub fn list(&self) -> Result<Vec<DealRecord>, StoreError> {
        let mut out = Vec::new();
        for (key, raw) in self.store.scan_raw(DEALS, "")? {
            match DealRecord::decode(&raw) {
                Ok(d) => out.push(d),
                Err(e) => tracing::error!(key = %format!("deal/{key}"), error = %e, "a stored deal cannot be read"),
            }
        }
        Ok(out)
    }

    /// The deals in any of `states`.
    pub fn in_states(&self, states: &[S]) -> Result<Vec<DealRecord>, StoreError> {
        Ok(self.load_in_states(self.uuids_in_states(states)?, states))
    }

    /// The UUIDs the state index lists under any of `states`: a walk over many deals loads them
    /// a page at a time with [`Self::load_in_states`].
    pub fn uuids_in_states(&self, states: &[S]) -> Result<Vec<String>, StoreError> {
        let mut uuids = Vec::new();
        for st in states {
            for (key, _) in self.store.scan_raw(BY_STATE, &format!("{:03}/", st.code()))? {
                uuids.extend(key.split_once('/').map(|(_, u)| u.to_string()));
            }
        }
        Ok(uuids)
    }

    /// The deals with these UUIDs that are (still) in one of `states`.
    pub fn load_in_states(&self, uuids: Vec<String>, states: &[S]) -> Vec<DealRecord> {
        // The index may be a step ahead of a record written by an older droplet: trust the record.
        self.load(uuids)
            .into_iter()
            .filter(|d| states.contains(&d.status()))
            .collect()
    }

    /// A miner's deals.
    pub fn of_miner(&self, miner: &Address) -> Result<Vec<DealRecord>, StoreError> {
        let uuids = self
            .store
            .scan_raw(BY_MINER, &format!("{miner}/"))?
            .into_iter()
            .filter_map(|(k, _)| k.split_once('/').map(|(_, u)| u.to_string()));
        Ok(self.load(uuids))
    }

    /// The deal published with this on-chain deal ID.
    pub fn by_deal_id(&self, id: u64) -> Result<Option<DealRecord>, StoreError> {
        let Some(raw) = self.store.get_raw(BY_ID, &id.to_string())? else {
            return Ok(None);
        };
        let uuid: String = serde_json::from_slice(&raw).map_err(|e| corrupt(format!("deal-by-id/{id}"), e))?;
        Ok(self.load([uuid]).pop().filter(|d| d.deal.deal_id == Some(id)))
    }

    /// A deal by its proposal CID.
    pub fn by_proposal_cid(&self, cid: &Cid) -> Result<Option<DealRecord>, StoreError> {
        let Some(uuid) = self.store.get_json::<String>(BY_PROPOSAL, &cid.to_string())? else {
            return Ok(None);
        };
        match uuid.parse::<Uuid>() {
            Ok(u) => self.get(&u),
            Err(_) => Ok(None),
        }
    }

    /// A deal by proposal CID or UUID, as the CLI takes either.
    pub fn find(&self, id: &str) -> Result<Option<DealRecord>, StoreError> {
        if let Ok(uuid) = id.parse::<Uuid>() {
            return self.get(&uuid);
        }
        match id.parse::<Cid>() {
            Ok(c) => self.by_proposal_cid(&c),
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deals::record::tests::record;
    use market_fsm::storage::provider::PieceStatus;

    fn store() -> (tempfile::TempDir, DealStore) {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(Store::open(&dir.path().join("db")).expect("store"));
        (dir, DealStore::open(store).expect("deals"))
    }

    #[test]
    fn indexes_follow_each_change_and_a_damaged_record_hides_nothing_else() {
        let (_dir, deals) = store();
        let mut a = record(2048, 100, S::Publishing, PieceStatus::Undefine);
        a.deal.deal_id = None;
        let b = record(2048, 100, S::Active, PieceStatus::Proving);
        deals.insert(&a).expect("a");
        deals.insert(&b).expect("b");
        assert_eq!(deals.in_states(&[S::Publishing]).expect("list"), vec![a.clone()]);
        assert_eq!(deals.by_deal_id(1).expect("id"), Some(b.clone()));

        let mut staged = a.clone();
        staged.deal.status = S::Staged;
        staged.deal.deal_id = Some(0);
        let before = deals.store.batches_written();
        deals.update(&a, &staged, true).expect("update");
        assert_eq!(
            deals.store.batches_written(),
            before + 1,
            "a change (record and index keys) is one write batch"
        );
        assert!(deals.in_states(&[S::Publishing]).expect("list").is_empty());
        assert_eq!(deals.in_states(&[S::Staged]).expect("list"), vec![staged.clone()]);
        assert_eq!(
            deals.by_deal_id(0).expect("id"),
            Some(staged.clone()),
            "deal ID 0 is a deal ID"
        );
        assert_eq!(deals.of_miner(&Address::new_id(1000)).expect("miner").len(), 2);
        assert!(deals.of_miner(&Address::new_id(1001)).expect("miner").is_empty());
        assert_eq!(
            deals.by_proposal_cid(&a.proposal_cid).expect("cid"),
            Some(staged.clone())
        );

        let mut batch = Batch::default();
        batch.put_raw(DEALS, &Uuid::new_v4().to_string(), b"{not json");
        deals.store.write(batch, true).expect("write");
        assert_eq!(deals.list().expect("the others still list").len(), 2);
    }

    #[test]
    fn the_log_keeps_each_state_entered_and_each_new_message_in_the_same_write() {
        let (_dir, deals) = store();
        let a = record(2048, 100, S::Transferring, PieceStatus::Undefine);
        deals.insert(&a).expect("insert");
        let mut progress = a.clone();
        progress.deal.transferred = 1000;
        deals.update(&a, &progress, false).expect("progress");
        let mut failed = progress.clone();
        failed.deal.status = S::Failing;
        failed.deal.message = "the transfer stalled".into();
        let before = deals.store.batches_written();
        deals.update(&progress, &failed, true).expect("fail");
        assert_eq!(deals.store.batches_written(), before + 1, "record and log in one write");
        let log = deals.log_of(&a.uuid).expect("log");
        let states: Vec<(u64, &str)> = log.iter().map(|e| (e.state, e.message.as_str())).collect();
        assert_eq!(
            states,
            vec![
                (S::Transferring.code(), ""),
                (S::Failing.code(), "the transfer stalled")
            ],
            "progress in the same state is not logged"
        );
        assert!(log[0].at <= log[1].at);
        assert!(deals.log_of(&Uuid::new_v4()).expect("log").is_empty());
    }

    #[test]
    fn a_store_of_version_1_records_is_brought_up_to_date_at_open() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db");
        let mut d = record(2048, 100, S::Sealing, PieceStatus::Packing);
        d.deal.sector = Some(4);
        d.deal.offset = Some(0);
        {
            let store = Store::open(&path).expect("store");
            let mut b = Batch::default();
            b.put_raw(DEALS, &d.uuid.to_string(), &d.encode_v1());
            store.write(b, true).expect("a version 1 record");
        }
        let deals = DealStore::open(Arc::new(Store::open(&path).expect("store"))).expect("migrates");
        assert_eq!(deals.in_states(&[S::Sealing]).expect("indexed"), vec![d.clone()]);
        assert_eq!(deals.by_deal_id(1).expect("indexed"), Some(d.clone()));
        let raw = deals
            .store
            .get_raw(DEALS, &d.uuid.to_string())
            .expect("raw")
            .expect("there");
        assert!(!DealRecord::is_old(&raw), "rewritten in the current form");
    }
}

//! Drives provider deals through market-fsm's machine: an event is applied to the stored deal,
//! the new state is written, and only then are its actions performed; each action ends by
//! feeding its outcome back as an event. On start every unfinished deal is picked up again
//! from its stored state, so a crash loses nothing.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cid::Cid;
use market_fsm::storage::funds::{FundLedger, Reservation, StoredEntry};
use market_fsm::storage::provider::{Action, Event, InvalidTransition, step};
use market_fsm::storage::publish::{Batcher, Queued};
use market_types::chain::{MARKET_ACTOR, Message, PublishStorageDealsParams, PublishStorageDealsReturn, market_method};
use market_types::states::StorageDealStatus as S;
use market_types::{Address, TokenAmount, Uuid, cbor};

use super::record::DealRecord;
use super::store::DealStore;
use crate::chain::DealChain;
use crate::miners::LiveConfig;
use crate::pieces::Pieces;
use crate::store::{Store, StoreError};

mod funds;
mod publish;
mod transfer;

use funds::{LEDGER, LedgerEntry};
use transfer::verify_data;

/// Why an event could not be applied to a deal.
#[derive(Debug, thiserror::Error)]
pub enum DealError {
    #[error("no deal with UUID {0}")]
    NoDeal(Uuid),
    #[error(transparent)]
    Invalid(#[from] InvalidTransition),
    #[error("saving the deal: {0}")]
    Store(#[from] StoreError),
    #[error("the store task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(
        "miner {miner} is served by another droplet on this database (pool mode): act on its deals through that droplet, \
         or stop it and this droplet takes the miner over"
    )]
    OtherDroplet { miner: Address },
}

/// Locks striped by deal UUID: events of one deal apply one at a time, different deals in
/// parallel.
struct DealLocks(Vec<tokio::sync::Mutex<()>>);

impl DealLocks {
    const STRIPES: usize = 64;

    fn new() -> Self {
        DealLocks((0..Self::STRIPES).map(|_| tokio::sync::Mutex::new(())).collect())
    }

    async fn lock(&self, uuid: &Uuid) -> tokio::sync::MutexGuard<'_, ()> {
        let b = uuid.as_bytes();
        let i = usize::from(b[0]) << 8 | usize::from(b[15]);
        self.0[i % Self::STRIPES].lock().await
    }
}

/// Fault injection for crash tests (feature `test-hooks`): deals in the states named in `DROPLET_TEST_HOLD_STATES`
/// (comma-separated, e.g. `VerifyData,Staged`) stop before their next action, so a test can
/// kill droplet while they are there. Unset in normal use.
#[cfg(feature = "test-hooks")]
fn held(status: market_types::states::StorageDealStatus) -> bool {
    static HOLD: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let hold = HOLD.get_or_init(|| {
        std::env::var("DROPLET_TEST_HOLD_STATES")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    });
    let name = status.name();
    hold.iter()
        .any(|h| name == h || name.strip_prefix("StorageDeal") == Some(h.as_str()))
}

/// Without the `test-hooks` feature nothing is ever held.
#[cfg(not(feature = "test-hooks"))]
fn held(_status: market_types::states::StorageDealStatus) -> bool {
    false
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The deal executor.
pub struct DealRunner {
    deals: DealStore,
    chain: Arc<dyn DealChain>,
    store: Arc<Store>,
    config: Arc<LiveConfig>,
    pieces: Arc<Pieces>,
    /// Temporary data this droplet owns (only files under it are ever deleted).
    transfer_dir: PathBuf,
    ledger: Mutex<FundLedger>,
    http: reqwest::Client,
    /// `SimultaneousTransfersForStorage` downloads at once.
    transfer_slots: Arc<tokio::sync::Semaphore>,
    /// commP verifications at once: each already uses every core.
    verify_slots: Arc<tokio::sync::Semaphore>,
    /// Downloads per client peer (`SimultaneousTransfersForStoragePerClient`).
    client_slots: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    batchers: Mutex<HashMap<Address, Batcher>>,
    /// The batchers' time origin, on the runtime's clock (tokio's, so a paused test clock
    /// drives their timers); batches live in memory only.
    started: tokio::time::Instant,
    /// Wakes the publisher: a deal was queued or publishing was forced.
    publish_wake: tokio::sync::Notify,
    /// A deal is never updated from two places at once.
    locks: DealLocks,
    /// Reservations and releases one at a time: a reservation reads the escrow on chain, and
    /// a release in between (after a publish locked that collateral) would make it stale.
    funds: tokio::sync::Mutex<()>,
    /// When each miner's last PublishStorageDeals went out (Unix seconds), for the metrics.
    last_publish: Mutex<HashMap<Address, (u64, usize)>>,
    /// Deals waiting out a transfer back-off, and how to cut the wait short.
    transfer_wakers: Mutex<HashMap<Uuid, Arc<tokio::sync::Notify>>>,
    /// What deals wait for outside droplet (the chain node away), by proposal CID, until their
    /// next event: shown as their message and in the status protocol (memory only).
    waits: Mutex<HashMap<Cid, String>>,
    /// Deals whose collateral a batch import already set aside, with the one deposit sent
    /// for their batch (None when the escrow covered it): their own reservation uses it.
    batch_reserved: Mutex<HashMap<Cid, Option<Cid>>>,
    /// The miners this droplet acts for (every one, unless droplets share a database).
    leases: Arc<crate::lease::Leases>,
    /// Online deals whose download this droplet has set off, until it ends: a deal is started
    /// once whether this droplet took it in or picked it up from another ([`Self::pick_up`]).
    transfers_started: Mutex<HashSet<Uuid>>,
}

/// How often a droplet in pool mode looks for deals another droplet took in for its miners.
const PICK_UP_EVERY: Duration = Duration::from_secs(1);

impl std::fmt::Debug for DealRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DealRunner")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Verifications of commP that run at once (each hashes on every core).
const CONCURRENT_VERIFICATIONS: usize = 2;

impl DealRunner {
    /// Load the ledger, resume unfinished deals, and start the publisher.
    pub fn start(
        deals: DealStore,
        chain: Arc<dyn DealChain>,
        store: Arc<Store>,
        config: Arc<LiveConfig>,
        pieces: Arc<Pieces>,
        transfer_dir: PathBuf,
        leases: Arc<crate::lease::Leases>,
    ) -> Result<Arc<Self>, crate::store::StoreError> {
        let stored: Vec<LedgerEntry> = store.list_json(LEDGER)?;
        let ledger = FundLedger::restore(stored.into_iter().filter_map(LedgerEntry::into_parts));
        let runner = Arc::new(DealRunner {
            deals,
            chain,
            store,
            config: config.clone(),
            pieces,
            transfer_dir,
            ledger: Mutex::new(ledger),
            http: super::transfer::client(),
            transfer_slots: Arc::new(tokio::sync::Semaphore::new(
                config.read(|c| c.simultaneous_transfers_for_storage.max(1) as usize),
            )),
            verify_slots: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_VERIFICATIONS)),
            client_slots: Mutex::new(HashMap::new()),
            batchers: Mutex::new(HashMap::new()),
            started: tokio::time::Instant::now(),
            publish_wake: tokio::sync::Notify::new(),
            locks: DealLocks::new(),
            funds: tokio::sync::Mutex::new(()),
            last_publish: Mutex::new(HashMap::new()),
            transfer_wakers: Mutex::new(HashMap::new()),
            waits: Mutex::new(HashMap::new()),
            batch_reserved: Mutex::new(HashMap::new()),
            leases,
            transfers_started: Mutex::new(HashSet::new()),
        });
        runner.resume()?;
        if runner.leases.pooled() {
            let r = runner.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PICK_UP_EVERY).await;
                    r.pick_up().await;
                }
            });
        }
        let r = runner.clone();
        // The publisher sleeps until the earliest batch is due (the batchers say when), or
        // until a deal is queued or publishing is forced.
        tokio::spawn(async move {
            loop {
                match r.next_publish_in() {
                    Some(wait) => {
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = r.publish_wake.notified() => {}
                        }
                    }
                    None => r.publish_wake.notified().await,
                }
                r.publish_due().await;
            }
        });
        Ok(runner)
    }

    /// Whether this droplet acts for `miner` (see [`crate::lease`]).
    pub fn owns(&self, miner: &Address) -> bool {
        self.leases.owns(miner)
    }

    /// The lease of each miner this droplet acts for (empty unless droplets share a database).
    pub fn leases(&self) -> &crate::lease::Leases {
        &self.leases
    }

    /// Re-issue what each unfinished deal was doing when the daemon stopped: the machine says
    /// what ([`ProviderDeal::pending_action`](market_fsm::storage::provider::ProviderDeal::pending_action)).
    /// Only the deals of the miners this droplet acts for: in pool mode it holds none yet at
    /// start, and [`Self::resume_miner`] picks each miner's up as its lease is taken.
    fn resume(self: &Arc<Self>) -> Result<(), StoreError> {
        let deals: Vec<DealRecord> = self
            .deals
            .list()?
            .into_iter()
            .filter(|d| self.owns(&d.proposal().provider))
            .collect();
        self.resume_deals(deals);
        Ok(())
    }

    /// This droplet has come to act for `miner` (its lease taken, at start or from a droplet
    /// that stopped): its fund ledger entry is read again from the store, as the last holder
    /// left it, and its unfinished deals resumed.
    pub fn resume_miner(self: &Arc<Self>, miner: Address) -> Result<(), StoreError> {
        if let Some(entry) = self
            .store
            .get_json::<LedgerEntry>(LEDGER, &miner.to_string())?
            .and_then(LedgerEntry::into_parts)
        {
            lock(&self.ledger).restore_entry(entry);
        }
        let deals = self.deals.of_miner(&miner)?;
        tracing::info!(%miner, deals = deals.len(), "acting for the miner: resuming its unfinished deals");
        self.resume_deals(deals);
        Ok(())
    }

    fn resume_deals(self: &Arc<Self>, deals: Vec<DealRecord>) {
        for d in deals {
            if d.status().is_terminal() {
                continue;
            }
            let uuid = d.uuid;
            match d.deal.pending_action() {
                Some(Action::InterruptTransfer) => {
                    let r = self.clone();
                    tokio::spawn(async move {
                        let cut = Event::TransferInterrupted("droplet restarted during the transfer".into());
                        if let Err(e) = r.event(uuid, cut).await {
                            tracing::warn!(%uuid, error = %e, "resuming the transfer");
                        }
                    });
                }
                Some(a) => {
                    tracing::info!(%uuid, state = d.status().name(), "resuming deal");
                    self.perform(uuid, a);
                }
                None => {}
            }
        }
    }

    /// Milliseconds since the runner started, for the batchers.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Apply an event to a deal: store the new state (one write), then act on it.
    /// What the deal waits for outside droplet, if anything (until its next event).
    pub fn waiting_for(&self, proposal: &Cid) -> Option<String> {
        lock(&self.waits).get(proposal).cloned()
    }

    fn set_waiting(&self, proposal: Cid, why: String) {
        lock(&self.waits).insert(proposal, why);
    }

    /// The deal's message as shown: why it failed, else what it waits for.
    pub fn shown_message(&self, d: &DealRecord) -> String {
        if d.deal.message.is_empty() {
            self.waiting_for(&d.proposal_cid).unwrap_or_default()
        } else {
            d.deal.message.clone()
        }
    }

    pub async fn event(self: &Arc<Self>, uuid: Uuid, event: Event) -> Result<DealRecord, DealError> {
        let _one = self.locks.lock(&uuid).await;
        let deals = self.deals.clone();
        // Progress is counted again after a crash: no need to wait for the disk.
        let durable = !matches!(event, Event::TransferProgress(_));
        let leases = self.leases.clone();
        let (before, after, actions) = tokio::task::spawn_blocking(move || {
            let before = deals.get(&uuid)?.ok_or(DealError::NoDeal(uuid))?;
            let miner = before.proposal().provider;
            if !leases.owns(&miner) {
                return Err(DealError::OtherDroplet { miner });
            }
            let (next, actions) = step(&before.deal, event)?;
            let mut after = before.clone();
            after.apply(next, now_secs());
            deals.update(&before, &after, durable)?;
            Ok::<_, DealError>((before, after, actions))
        })
        .await??;
        lock(&self.waits).remove(&after.proposal_cid);
        if !matches!(after.status(), S::TransferQueued | S::Transferring) {
            lock(&self.transfers_started).remove(&uuid);
        }
        if (before.deal.sector, before.deal.offset) != (after.deal.sector, after.deal.offset)
            && crate::pieces::has_stored_piece(after.status())
            && let Err(e) = self.pieces.record_deal(&after)
        {
            tracing::warn!(%uuid, error = %e, "recording the deal's sector in the piece index");
        }
        if before.status() == S::Publish && after.status() != S::Publish {
            // Sent, failed or set by hand while queued: the batcher lets it go.
            let miner = after.proposal().provider;
            if let Some(b) = lock(&self.batchers).get_mut(&miner) {
                b.remove(&after.proposal_cid);
            }
        }
        for a in actions {
            self.perform(uuid, a);
        }
        Ok(after)
    }

    /// Resume now a transfer waiting out its back-off (a paused deal, in
    /// ProviderTransferAwaitRestart); false when the deal is not waiting so.
    pub fn resume_transfer_now(&self, uuid: &Uuid) -> bool {
        match lock(&self.transfer_wakers).get(uuid) {
            Some(w) => {
                w.notify_one();
                true
            }
            None => false,
        }
    }

    /// Carry out the actions of a deal's first step (taken by the acceptor, which answers the
    /// proposal itself): an online deal's download starts here.
    pub fn begin(self: &Arc<Self>, uuid: Uuid, actions: Vec<Action>) {
        for a in actions {
            if !matches!(a, Action::Respond { .. }) {
                self.perform(uuid, a);
            }
        }
    }

    /// Online deals of this droplet's miners that another droplet on the database took in
    /// (it stands by for the miner, behind the same address) wait in TransferQueued for the
    /// holder: start their downloads here.
    async fn pick_up(self: &Arc<Self>) {
        let queued = match self.deals.read(|s| s.in_states(&[S::TransferQueued])).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "looking for deals other droplets took in");
                return;
            }
        };
        for d in queued {
            if self.owns(&d.proposal().provider) && !lock(&self.transfers_started).contains(&d.uuid) {
                tracing::info!(uuid = %d.uuid, miner = %d.proposal().provider, "picking up a deal another droplet took in");
                self.perform(d.uuid, Action::StartTransfer);
            }
        }
    }

    /// Perform an action in the background; its outcome comes back as an event.
    fn perform(self: &Arc<Self>, uuid: Uuid, action: Action) {
        if matches!(action, Action::StartTransfer) && !lock(&self.transfers_started).insert(uuid) {
            // Set off already (taken in here and picked up at the same moment).
            return;
        }
        let r = self.clone();
        tokio::spawn(async move {
            let outcome = r.act(uuid, action.clone()).await;
            if let Some(event) = outcome
                && let Err(e) = r.event(uuid, event).await
            {
                tracing::warn!(%uuid, ?action, error = %e, "deal event not applied");
            }
        });
    }

    async fn act(self: &Arc<Self>, uuid: Uuid, action: Action) -> Option<Event> {
        let d = match self.deals.read(move |s| s.get(&uuid)).await {
            Ok(Some(d)) => d,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(%uuid, error = %e, "reading the deal to act on it");
                return None;
            }
        };
        let p = d.proposal().clone();
        if !self.owns(&p.provider) {
            tracing::warn!(%uuid, miner = %p.provider, "another droplet acts for the deal's miner: leaving the deal to it");
            return None;
        }
        if held(d.status()) {
            tracing::warn!(%uuid, state = d.status().name(), "DROPLET_TEST_HOLD_STATES: holding the deal here");
            return std::future::pending().await;
        }
        match action {
            Action::Respond { .. } => None,
            Action::InterruptTransfer => Some(Event::TransferInterrupted(
                "droplet restarted during the transfer".into(),
            )),
            Action::StartTransfer => {
                if d.status() != S::TransferQueued {
                    // Started already (by this droplet before a restart, or the deal moved on).
                    return None;
                }
                let d = match self.event(uuid, Event::TransferStarted).await {
                    Ok(d) => d,
                    Err(e) => return Some(Event::Errored(e.to_string())),
                };
                Some(self.transfer(&d).await)
            }
            Action::ResumeTransfer { after_ms } => {
                let wait = Duration::from_millis(after_ms);
                tracing::info!(%uuid, attempt = d.deal.transfer_attempts, ?wait, reason = %d.deal.message, "resuming the data transfer");
                let wake = Arc::new(tokio::sync::Notify::new());
                lock(&self.transfer_wakers).insert(uuid, wake.clone());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = wake.notified() => tracing::info!(%uuid, "the operator resumed the transfer now"),
                }
                lock(&self.transfer_wakers).remove(&uuid);
                let d = match self.event(uuid, Event::TransferRestarted).await {
                    Ok(d) => d,
                    Err(e) => return Some(Event::Errored(e.to_string())),
                };
                Some(self.transfer(&d).await)
            }
            Action::VerifyData { path } => {
                let _slot = self.verify_slots.clone().acquire_owned().await.ok()?;
                Some(verify_data(path, p.piece_cid, p.piece_size.0).await)
            }
            Action::ReserveFunds { amount } => Some(self.reserve(p.provider, d.proposal_cid, amount).await),
            Action::WaitFunding { message } => Some(self.wait_funding(p.provider, message).await),
            Action::QueueForPublish => {
                let (period_ms, max) = {
                    let pc = &self.config.policy(Some(&p.provider)).settings;
                    (
                        u64::try_from(pc.publish_msg_period.0.as_millis()).unwrap_or(u64::MAX),
                        usize::try_from(pc.max_deals_per_publish_msg).unwrap_or(usize::MAX),
                    )
                };
                let len = cbor::to_vec(&d.proposal).len();
                let mut batchers = lock(&self.batchers);
                let b = batchers
                    .entry(p.provider)
                    .or_insert_with(|| Batcher::new(period_ms, max));
                // `storage cfg publish-period set` and the like apply from the next deal on.
                b.period_ms = period_ms;
                b.max_deals = max.max(1);
                b.add(d.proposal_cid, len, self.now_ms());
                drop(batchers);
                self.publish_wake.notify_one();
                None
            }
            Action::WaitPublish { message } => Some(self.wait_publish(&d, message).await),
            Action::ReleaseFunds { .. } => {
                let _funds = self.funds.lock().await;
                // A deal failed before its reservation step leaves no batch entry behind.
                lock(&self.batch_reserved).remove(&d.proposal_cid);
                let mut l = lock(&self.ledger);
                l.release(p.provider, &d.proposal_cid);
                self.save_ledger(&l, p.provider);
                None
            }
            Action::StorePiece { path } => Some(
                match self.pieces.store_deal_piece(&d, std::path::Path::new(&path)).await {
                    Ok(store) => {
                        tracing::info!(%uuid, piece = %p.piece_cid, %store, "piece stored and indexed");
                        Event::PieceStored
                    }
                    Err(e) => Event::Errored(format!("storing the piece: {e}")),
                },
            ),
            Action::CleanupData => {
                let download = self.download_path(&d);
                let _ = std::fs::remove_file(&download);
                if let Some(path) = d.deal.inbound_path.clone() {
                    // Only what this droplet downloaded: an imported file is the operator's.
                    let path = PathBuf::from(path);
                    if path == download || path.starts_with(&self.transfer_dir) {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;

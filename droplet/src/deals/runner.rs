//! Drives provider deals through market-fsm's machine: an event is applied to the stored deal,
//! the new state is written, and only then are its actions performed; each action ends by
//! feeding its outcome back as an event. On start every unfinished deal is picked up again
//! from its stored state, so a crash loses nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cid::Cid;
use market_fsm::funds::{FundLedger, Reservation, StoredEntry};
use market_fsm::provider::{Action, Event, step};
use market_fsm::publish::Batcher;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::client::CallError;
use market_types::chain::{
    MARKET_ACTOR, Message, PublishStorageDealsParams, PublishStorageDealsReturn, TipSetKey, market_method,
};
use market_types::states::StorageDealStatus as S;
use market_types::{Address, TokenAmount, Uuid, cbor};
use piece_store::store::PieceStorage;

use super::record::{DealRecord, DealRecordExt};
use super::store::DealStore;
use crate::chain::Chain;
use crate::miners::LiveConfig;
use crate::store::{Store, Table};

const LEDGER: Table = Table("fund-ledger/");

/// A miner's ledger entry as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct LedgerEntry {
    miner: String,
    /// (proposal CID, attoFIL)
    deals: Vec<(String, String)>,
    in_flight: String,
    #[serde(default)]
    manual: String,
}

impl LedgerEntry {
    fn into_parts(self) -> Option<StoredEntry> {
        let atto = |s: &str| s.parse::<market_types::BigInt>().ok().map(TokenAmount::from_atto);
        let deals = self
            .deals
            .iter()
            .filter_map(|(c, a)| Some((c.parse().ok()?, atto(a)?)))
            .collect();
        Some(StoredEntry {
            addr: market_types::address::parse(&self.miner).ok()?,
            deals,
            in_flight: atto(&self.in_flight)?,
            manual: atto(&self.manual).unwrap_or_default(),
        })
    }
}

/// Fault injection for crash tests: deals in the states named in `DROPLET_TEST_HOLD_STATES`
/// (comma-separated, e.g. `VerifyData,Staged`) stop before their next action, so a test can
/// kill droplet while they are there. Unset in normal use.
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

/// Resumptions of one download before the deal fails.
const MAX_TRANSFER_ATTEMPTS: u32 = 10;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The deal executor.
pub struct DealRunner {
    deals: DealStore,
    chain: Arc<Chain>,
    store: Arc<Store>,
    config: Arc<LiveConfig>,
    pieces: Arc<PieceStorage>,
    /// Temporary data this droplet owns (only files under it are ever deleted).
    transfer_dir: PathBuf,
    ledger: Mutex<FundLedger>,
    http: reqwest::Client,
    /// `SimultaneousTransfersForStorage` downloads at once.
    transfer_slots: Arc<tokio::sync::Semaphore>,
    /// Consecutive resumptions per deal; reset by any completed download.
    transfer_attempts: Mutex<HashMap<Uuid, u32>>,
    batchers: Mutex<HashMap<Address, Batcher>>,
    /// One event at a time, so a deal is never updated from two places at once.
    serial: tokio::sync::Mutex<()>,
    /// Reservations and releases one at a time: a reservation reads the escrow on chain, and
    /// a release in between (after a publish locked that collateral) would make it stale.
    funds: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DealRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DealRunner")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn call(e: jsonrpsee::core::client::Error) -> String {
    CallError::from(e).0
}

impl DealRunner {
    /// Load the ledger, resume unfinished deals, and start the publisher.
    pub fn start(
        deals: DealStore,
        chain: Arc<Chain>,
        store: Arc<Store>,
        config: Arc<LiveConfig>,
        pieces: Arc<PieceStorage>,
        transfer_dir: PathBuf,
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
            transfer_attempts: Mutex::new(HashMap::new()),
            batchers: Mutex::new(HashMap::new()),
            serial: tokio::sync::Mutex::new(()),
            funds: tokio::sync::Mutex::new(()),
        });
        runner.resume()?;
        let r = runner.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                r.publish_due().await;
            }
        });
        Ok(runner)
    }

    /// Re-issue what each unfinished deal was doing when the daemon stopped.
    fn resume(self: &Arc<Self>) -> Result<(), crate::store::StoreError> {
        for d in self.deals.list()? {
            let m = d.machine();
            let uuid = d.uuid.0;
            let action = match m.status {
                S::TransferQueued => Some(Action::StartTransfer),
                S::ProviderTransferAwaitRestart => Some(Action::ResumeTransfer),
                S::Transferring => {
                    // Cut off by the stop: resume from the bytes on disk.
                    let r = self.clone();
                    tokio::spawn(async move {
                        let _ = r
                            .event(
                                uuid,
                                Event::TransferInterrupted("droplet restarted during the transfer".into()),
                            )
                            .await;
                    });
                    None
                }
                S::VerifyData => m.inbound_path.clone().map(|path| Action::VerifyData { path }),
                S::ReserveProviderFunds => Some(Action::ReserveFunds {
                    amount: m.provider_collateral.clone(),
                }),
                S::ProviderFunding => m.add_funds_msg.map(|message| Action::WaitFunding { message }),
                S::Publish => Some(Action::QueueForPublish),
                S::Publishing => m.publish_msg.map(|message| Action::WaitPublish { message }),
                S::Staged => m.inbound_path.clone().map(|path| Action::StorePiece { path }),
                _ => None,
            };
            if let Some(a) = action {
                tracing::info!(%uuid, state = m.status.name(), "resuming deal");
                self.perform(uuid, a);
            }
        }
        Ok(())
    }

    /// Apply an event to a deal: store the new state, then act on it.
    pub async fn event(self: &Arc<Self>, uuid: Uuid, event: Event) -> Result<DealRecord, String> {
        let _one = self.serial.lock().await;
        let mut d = self
            .deals
            .get(&uuid)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no deal with UUID {uuid}"))?;
        let (next, actions) = step(&d.machine(), event).map_err(|e| e.to_string())?;
        d.apply(&next, now_secs());
        self.deals.put(&d).map_err(|e| format!("saving deal {uuid}: {e}"))?;
        for a in actions {
            self.perform(uuid, a);
        }
        Ok(d)
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

    /// Perform an action in the background; its outcome comes back as an event.
    fn perform(self: &Arc<Self>, uuid: Uuid, action: Action) {
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
        let d = match self.deals.get(&uuid) {
            Ok(Some(d)) => d,
            _ => return None,
        };
        let p = d.proposal.0.proposal.clone();
        if held(d.status()) {
            tracing::warn!(%uuid, state = d.status().name(), "DROPLET_TEST_HOLD_STATES: holding the deal here");
            return std::future::pending().await;
        }
        match action {
            Action::Respond { .. } => None,
            Action::StartTransfer => {
                if let Err(e) = self.event(uuid, Event::TransferStarted).await {
                    return Some(Event::Errored(e));
                }
                Some(self.transfer(&d).await)
            }
            Action::ResumeTransfer => {
                let attempt = {
                    let mut a = lock(&self.transfer_attempts);
                    let n = a.entry(uuid).or_insert(0);
                    *n += 1;
                    *n
                };
                if attempt > MAX_TRANSFER_ATTEMPTS {
                    return Some(Event::Errored(format!(
                        "data transfer failed after {MAX_TRANSFER_ATTEMPTS} attempts: {}",
                        d.message
                    )));
                }
                // 1 s, 2 s, 4 s … up to a minute between attempts.
                let wait = Duration::from_secs(1u64 << (attempt - 1).min(6)).min(Duration::from_secs(60));
                tracing::info!(%uuid, attempt, ?wait, reason = %d.message, "resuming the data transfer");
                tokio::time::sleep(wait).await;
                if let Err(e) = self.event(uuid, Event::TransferRestarted).await {
                    return Some(Event::Errored(e));
                }
                Some(self.transfer(&d).await)
            }
            Action::VerifyData { path } => Some(verify_data(path, p.piece_cid, p.piece_size.0).await),
            Action::ReserveFunds { amount } => Some(self.reserve(p.provider, d.proposal_cid.0, amount).await),
            Action::WaitFunding { message } => Some(self.wait_funding(p.provider, message).await),
            Action::QueueForPublish => {
                let (period_ms, max) = self.config.read(|c| {
                    let pc = c.provider(Some(&p.provider));
                    (
                        pc.publish_msg_period.0.as_millis() as u64,
                        pc.max_deals_per_publish_msg as usize,
                    )
                });
                let len = cbor::to_vec(&d.proposal.0).len();
                let mut batchers = lock(&self.batchers);
                let b = batchers
                    .entry(p.provider)
                    .or_insert_with(|| Batcher::new(period_ms, max));
                // `storage cfg publish-period set` and the like apply from the next deal on.
                b.period_ms = period_ms;
                b.max_deals = max.max(1);
                b.add(d.proposal_cid.0, len, now_ms());
                None
            }
            Action::WaitPublish { message } => Some(self.wait_publish(&d, message).await),
            Action::ReleaseFunds { .. } => {
                let _funds = self.funds.lock().await;
                let mut l = lock(&self.ledger);
                l.release(p.provider, &d.proposal_cid.0);
                self.save_ledger(&l, p.provider);
                None
            }
            Action::StorePiece { path } => Some(
                match self
                    .pieces
                    .write_file(&p.piece_cid.to_string(), std::path::Path::new(&path))
                    .await
                {
                    Ok(store) => {
                        tracing::info!(%uuid, piece = %p.piece_cid, %store, "piece stored");
                        Event::PieceStored
                    }
                    Err(e) => Event::Errored(format!("storing the piece: {e}")),
                },
            ),
            Action::CleanupData => {
                lock(&self.transfer_attempts).remove(&uuid);
                let _ = std::fs::remove_file(self.download_path(&uuid));
                if let Some(path) = d.machine().inbound_path {
                    let path = PathBuf::from(path);
                    if path.starts_with(&self.transfer_dir) {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                None
            }
        }
    }

    fn download_path(&self, uuid: &Uuid) -> PathBuf {
        self.transfer_dir.join(format!("{uuid}.car"))
    }

    /// Download an online deal's data (at most `SimultaneousTransfersForStorage` at once),
    /// recording the bytes received about once a second.
    async fn transfer(self: &Arc<Self>, d: &DealRecord) -> Event {
        let uuid = d.uuid.0;
        let _permit = match self.transfer_slots.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return Event::Errored("the transfer queue has closed".into()),
        };
        let req = match d.transfer.0.http_request() {
            Ok(r) => r,
            Err(e) => return Event::Errored(format!("the deal's transfer parameters: {e}")),
        };
        let dest = self.download_path(&uuid);
        let received = Arc::new(std::sync::atomic::AtomicU64::new(d.transferred));
        let reporter = {
            let (r, received) = (self.clone(), received.clone());
            let mut last = d.transferred;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let n = received.load(std::sync::atomic::Ordering::Relaxed);
                    if n != last {
                        last = n;
                        let _ = r.event(uuid, Event::TransferProgress(n)).await;
                    }
                }
            })
        };
        let mut progress = |n: u64| received.store(n, std::sync::atomic::Ordering::Relaxed);
        let result = super::transfer::download(&self.http, &req, &dest, d.transfer.0.size, &mut progress).await;
        reporter.abort();
        match result {
            Ok(()) => {
                lock(&self.transfer_attempts).remove(&uuid);
                tracing::info!(%uuid, bytes = d.transfer.0.size, "data transfer complete");
                let _ = self.event(uuid, Event::TransferProgress(d.transfer.0.size)).await;
                Event::TransferCompleted {
                    path: dest.to_string_lossy().into_owned(),
                }
            }
            Err(super::transfer::TransferError::Interrupted(reason)) => {
                tracing::info!(%uuid, %reason, "data transfer interrupted");
                Event::TransferInterrupted(reason)
            }
            Err(super::transfer::TransferError::Failed(reason)) => {
                Event::Errored(format!("data transfer failed: {reason}"))
            }
        }
    }

    /// Store every miner's entry (an emptied one is stored empty).
    fn save_ledger(&self, l: &FundLedger, touched: Address) {
        let entry = l
            .entry(&touched)
            .map(|e| LedgerEntry {
                miner: e.addr.to_string(),
                deals: e
                    .deals
                    .iter()
                    .map(|(c, a)| (c.to_string(), a.atto().to_string()))
                    .collect(),
                in_flight: e.in_flight.atto().to_string(),
                manual: e.manual.atto().to_string(),
            })
            .unwrap_or(LedgerEntry {
                miner: touched.to_string(),
                deals: Vec::new(),
                in_flight: "0".into(),
                manual: "0".into(),
            });
        if let Err(e) = self.store.put_json(LEDGER, &touched.to_string(), &entry) {
            tracing::error!(error = %e, "saving the fund ledger");
        }
    }

    async fn worker(&self, miner: Address) -> Result<Address, String> {
        Ok(self.chain.miner_info(&miner).await.map_err(|e| e.to_string())?.worker)
    }

    /// Set collateral aside; send AddBalance from the worker when the escrow is short.
    async fn reserve(&self, miner: Address, deal: Cid, amount: TokenAmount) -> Event {
        let _funds = self.funds.lock().await;
        let bal = match self
            .chain
            .node
            .state_market_balance(Json(miner), Json(TipSetKey::empty()))
            .await
        {
            Ok(b) => b.0,
            Err(e) => return Event::FundingFailed(format!("reading the miner's market balance: {}", call(e))),
        };
        let need = {
            let mut l = lock(&self.ledger);
            let r = l.reserve(miner, deal, &amount, &bal.available());
            self.save_ledger(&l, miner);
            r
        };
        let deposit = match need {
            Reservation::Covered => return Event::FundsReserved { amount, message: None },
            Reservation::NeedsDeposit(x) => x,
        };
        let from = match self.worker(miner).await {
            Ok(w) => w,
            Err(e) => return Event::FundingFailed(e),
        };
        let msg = Message::add_balance(from, miner, deposit.clone());
        match self.chain.sender.push(msg).await {
            Ok(id) => {
                let mut l = lock(&self.ledger);
                l.deposit_sent(miner, &deposit);
                self.save_ledger(&l, miner);
                Event::FundsReserved {
                    amount,
                    message: Some(id),
                }
            }
            Err(e) => Event::FundingFailed(format!("reserving funds: {e}")),
        }
    }

    /// Escrow of `addr` held back for deals in progress and by hand.
    pub fn reserved(&self, addr: &Address) -> TokenAmount {
        lock(&self.ledger).reserved(addr)
    }

    /// `MarketReserveFunds`: hold `amount` of `addr`'s escrow back; when the escrow that has
    /// landed does not cover everything held, send AddBalance from `wallet` for the gap.
    pub async fn reserve_manual(
        &self,
        wallet: Address,
        addr: Address,
        amount: TokenAmount,
    ) -> Result<Option<Cid>, String> {
        let _funds = self.funds.lock().await;
        market_daemon::funds::reserve_by_hand(
            &self.ledger,
            &self.chain.node,
            &self.chain.sender,
            (wallet, addr, amount),
            |l| {
                self.save_ledger(l, addr);
                Ok(())
            },
        )
        .await
    }

    /// `MarketReleaseFunds`.
    pub async fn release_manual(&self, addr: Address, amount: &TokenAmount) -> TokenAmount {
        let _funds = self.funds.lock().await;
        let mut l = lock(&self.ledger);
        let released = l.release_manual(addr, amount);
        self.save_ledger(&l, addr);
        released
    }

    async fn wait_funding(&self, miner: Address, message: Cid) -> Event {
        let lookup = self.chain.sender.wait(&message, 0, &self.chain.node).await;
        // The deposit is no longer on its way, landed or failed. A messager id is not a chain
        // CID: read the value from the message the lookup found.
        let chain_cid = lookup.as_ref().map_or(message, |l| l.message);
        let deposited = self
            .chain
            .node
            .chain_get_message(Json(chain_cid))
            .await
            .ok()
            .map(|m| m.0.value);
        if let Some(v) = deposited {
            let mut l = lock(&self.ledger);
            l.deposit_settled(miner, &v);
            self.save_ledger(&l, miner);
        }
        match lookup {
            Ok(l) if l.receipt.exit_code == 0 => Event::Funded,
            Ok(l) => Event::FundingFailed(format!("AddFunds exit code: {}", l.receipt.exit_code)),
            Err(e) => Event::FundingFailed(format!("AddFunds errored: {e}")),
        }
    }

    /// Wait for the deal's PublishStorageDeals message and find its deal ID: the message's
    /// parameters say where the deal was in the batch, the valid-deals bitfield which
    /// inputs were published.
    async fn wait_publish(&self, d: &DealRecord, message: Cid) -> Event {
        let lookup = match self.chain.sender.wait(&message, 0, &self.chain.node).await {
            Ok(l) => l,
            Err(e) => return Event::PublishFailed(format!("PublishStorageDeals errored: {e}")),
        };
        if lookup.receipt.exit_code != 0 {
            return Event::PublishFailed(format!("PublishStorageDeals exit code: {}", lookup.receipt.exit_code));
        }
        let msg = match self.chain.node.chain_get_message(Json(lookup.message)).await {
            Ok(m) => m.0,
            Err(e) => return Event::PublishFailed(format!("loading the publish message: {}", call(e))),
        };
        let params: PublishStorageDealsParams = match cbor::from_slice(&msg.params.0) {
            Ok(p) => p,
            Err(e) => return Event::PublishFailed(format!("decoding the publish message: {e}")),
        };
        let Some(index) = params.deals.iter().position(|c| c.proposal_cid() == d.proposal_cid.0) else {
            return Event::PublishFailed("the publish message does not carry this deal".into());
        };
        let ret: PublishStorageDealsReturn = match cbor::from_slice(&lookup.receipt.return_data.0) {
            Ok(r) => r,
            Err(e) => return Event::PublishFailed(format!("decoding the publish return: {e}")),
        };
        match ret.deal_ids_by_input(params.deals.len()) {
            Ok(ids) => match ids.get(index).copied().flatten() {
                Some(deal_id) => Event::Published {
                    deal_id,
                    message: lookup.message,
                },
                None => Event::PublishFailed("the market actor left this deal out of the valid deals".into()),
            },
            Err(e) => Event::PublishFailed(format!("mapping deal IDs: {e}")),
        }
    }

    /// Publish now, whatever the period (`pending-publish --publish-now`).
    pub async fn publish_now(self: &Arc<Self>) {
        for b in lock(&self.batchers).values_mut() {
            b.force();
        }
        self.publish_due().await;
    }

    /// Deals waiting to be published, per miner.
    pub fn pending(&self) -> Vec<(Address, Vec<Cid>)> {
        lock(&self.batchers)
            .iter()
            .map(|(m, b)| (*m, b.waiting().iter().map(|w| w.proposal_cid).collect()))
            .collect()
    }

    /// Send every batch that is due.
    async fn publish_due(self: &Arc<Self>) {
        let due: Vec<(Address, Vec<Cid>)> = {
            let mut bs = lock(&self.batchers);
            let now = now_ms();
            let mut out = Vec::new();
            for (m, b) in bs.iter_mut() {
                while let Some(batch) = b.take(now) {
                    out.push((*m, batch));
                }
            }
            out
        };
        for (miner, batch) in due {
            self.publish_batch(miner, batch).await;
        }
    }

    /// Re-check each deal, drop the ones that no longer hold (they fail alone), and send the
    /// rest in one PublishStorageDeals message from the worker.
    async fn publish_batch(self: &Arc<Self>, miner: Address, batch: Vec<Cid>) {
        let head = self.chain.head_height().await.ok();
        let mut good = Vec::new();
        // What each client's deals in this batch need from its escrow so far: the market
        // actor checks the whole batch, so a client short for its third deal must not sink
        // the other clients' deals.
        let mut committed: HashMap<Address, TokenAmount> = HashMap::new();
        for cid in batch {
            let Ok(Some(d)) = self.deals.by_proposal_cid(&cid) else {
                continue;
            };
            let p = &d.proposal.0.proposal;
            let need = p.client_balance_requirement();
            let problem = match head {
                Some(h) if h > p.start_epoch => {
                    Some(format!("deal start epoch {} has passed (head {h})", p.start_epoch))
                }
                None => Some("cannot read the chain head".to_string()),
                _ => match self
                    .chain
                    .node
                    .state_market_balance(Json(p.client), Json(TipSetKey::empty()))
                    .await
                {
                    Ok(b) => {
                        let before = committed.get(&p.client).cloned().unwrap_or_default();
                        let total = &before + &need;
                        if b.0.available() < total {
                            Some(format!(
                                "client escrow too small: {} available, {} needed with the client's other deals in this batch",
                                b.0.available().atto(),
                                total.atto()
                            ))
                        } else {
                            committed.insert(p.client, total);
                            None
                        }
                    }
                    Err(e) => Some(format!("reading the client's balance: {}", call(e))),
                },
            };
            match problem {
                Some(reason) => {
                    tracing::info!(uuid = %d.uuid.0, %reason, "dropping a deal from the publish batch");
                    let _ = self.event(d.uuid.0, Event::PublishFailed(reason)).await;
                }
                None => good.push(d),
            }
        }
        if good.is_empty() {
            return;
        }
        let from = match self.worker(miner).await {
            Ok(w) => w,
            Err(e) => {
                for d in &good {
                    let _ = self.event(d.uuid.0, Event::PublishFailed(e.clone())).await;
                }
                return;
            }
        };
        let params = PublishStorageDealsParams {
            deals: good.iter().map(|d| d.proposal.0.clone()).collect(),
        };
        let msg = Message::to_send(
            from,
            MARKET_ACTOR,
            market_method::PUBLISH_STORAGE_DEALS,
            cbor::to_vec(&params),
            TokenAmount::default(),
        );
        let sent = self.chain.sender.push(msg).await;
        for d in &good {
            let event = match &sent {
                Ok(id) => Event::PublishSent(*id),
                Err(e) => Event::PublishFailed(format!("publishing deal: {e}")),
            };
            if let Err(e) = self.event(d.uuid.0, event).await {
                tracing::warn!(uuid = %d.uuid.0, error = %e, "publish event not applied");
            }
        }
        if let Ok(id) = sent {
            tracing::info!(%miner, message = %id, deals = good.len(), "PublishStorageDeals sent");
        }
    }
}

/// commP of the data, padded to the proposal's piece size, against the proposal's piece CID.
async fn verify_data(path: String, want: Cid, piece_size: u64) -> Event {
    let result = tokio::task::spawn_blocking(move || {
        piece_store::prepare::commp_file(std::path::Path::new(&path), 0, true, &mut |_| {})
            .map_err(|e| e.to_string())
            .and_then(|f| f.commitment.padded_to(piece_size).map_err(|e| e.to_string()))
    })
    .await;
    match result {
        Ok(Ok(c)) if c.piece_cid() == want => Event::DataVerified,
        Ok(Ok(c)) => Event::DataVerificationFailed(format!(
            "proposal CommP doesn't match calculated CommP: proposal {want}, data {}",
            c.piece_cid()
        )),
        Ok(Err(e)) => Event::DataVerificationFailed(format!("error generating CommP: {e}")),
        Err(e) => Event::DataVerificationFailed(format!("error generating CommP: {e}")),
    }
}

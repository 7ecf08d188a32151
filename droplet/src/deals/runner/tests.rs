//! The runner in-process: a fake chain behind the [`DealChain`] seam, the store, the config
//! and piece storage in a temporary directory, and tokio's paused clock, so the shell's
//! sequencing (persist, act, feed back), its timers and its chain calls are tested without
//! starting a process.

use std::sync::Mutex;

use market_fsm::storage::provider::PieceStatus;
use market_types::chain::{BeneficiaryTerm, MarketBalance, MessageReceipt, MinerInfo, MsgLookup};
use market_types::{Bytes, cbor};

use super::*;
use crate::chain::{ChainError, DealChain};
use crate::deals::record::tests::record;
use jsonrpsee::core::async_trait;
use market_proto::messages::SendError;

const MINER: u64 = 1000;
const WORKER: u64 = 1002;

/// A chain that answers from memory: every escrow is ample, every sent message lands at
/// once, and PublishStorageDeals publishes every deal it carries (IDs from 40).
#[derive(Debug, Default)]
struct FakeChain {
    sent: Mutex<Vec<(Message, Option<TokenAmount>)>>,
}

impl FakeChain {
    fn sent(&self) -> Vec<(Message, Option<TokenAmount>)> {
        self.sent.lock().expect("lock").clone()
    }

    fn find(&self, id: &Cid) -> Option<Message> {
        self.sent().into_iter().map(|(m, _)| m).find(|m| &m.cid() == id)
    }
}

#[async_trait]
impl DealChain for FakeChain {
    async fn head_height(&self) -> Result<i64, ChainError> {
        Ok(10)
    }

    async fn miner_info(&self, _miner: &Address) -> Result<MinerInfo, ChainError> {
        Ok(MinerInfo {
            owner: Address::new_id(1001),
            worker: Address::new_id(WORKER),
            new_worker: None,
            control_addresses: Vec::new(),
            worker_change_epoch: -1,
            peer_id: None,
            multiaddrs: Vec::new(),
            window_post_proof_type: 0,
            sector_size: 2048,
            window_post_partition_sectors: 0,
            consensus_fault_elapsed: -1,
            pending_owner_address: None,
            beneficiary: Address::new_id(1001),
            beneficiary_term: BeneficiaryTerm {
                quota: TokenAmount::default(),
                used_quota: TokenAmount::default(),
                expiration: 0,
            },
            pending_beneficiary_term: None,
        })
    }

    async fn market_balance(&self, _addr: &Address) -> Result<MarketBalance, ChainError> {
        Ok(MarketBalance {
            escrow: TokenAmount::from_whole(1000),
            locked: TokenAmount::default(),
        })
    }

    async fn message(&self, cid: &Cid) -> Result<Message, ChainError> {
        self.find(cid)
            .ok_or_else(|| ChainError::Node(format!("no message {cid}")))
    }

    async fn lookup_id(&self, addr: &Address) -> Result<Address, ChainError> {
        Ok(*addr)
    }

    async fn wallet_balance(&self, _addr: &Address) -> Result<TokenAmount, ChainError> {
        Ok(TokenAmount::from_whole(1))
    }

    async fn push(&self, msg: Message, max_fee: Option<TokenAmount>) -> Result<Cid, SendError> {
        let id = msg.cid();
        self.sent.lock().expect("lock").push((msg, max_fee));
        Ok(id)
    }

    async fn wait(&self, id: &Cid) -> Result<MsgLookup, SendError> {
        let msg = self
            .find(id)
            .ok_or_else(|| SendError::Node(format!("no message {id}")))?;
        let return_data = if msg.method == market_method::PUBLISH_STORAGE_DEALS {
            let params: PublishStorageDealsParams =
                cbor::from_slice(&msg.params.0).map_err(|e| SendError::Node(e.to_string()))?;
            let n = params.deals.len() as u64;
            cbor::to_vec(&PublishStorageDealsReturn {
                ids: (40..40 + n).collect(),
                valid_deals: market_types::chain::BitField::from_indices(0..n),
            })
        } else {
            Vec::new()
        };
        Ok(MsgLookup {
            message: *id,
            receipt: MessageReceipt {
                exit_code: 0,
                return_data: Bytes(return_data),
                gas_used: 0,
                events_root: None,
            },
            return_dec: serde_json::Value::Null,
            tipset: market_types::chain::TipSetKey::empty(),
            height: 11,
        })
    }
}

/// A runner over a fake chain, with its repo in `dir`.
struct Harness {
    dir: tempfile::TempDir,
    chain: Arc<FakeChain>,
    deals: DealStore,
    runner: Arc<DealRunner>,
}

fn harness() -> Harness {
    harness_with(|_| {})
}

/// A harness whose config is changed by `f` first.
fn harness_with(f: impl FnOnce(&mut crate::config::Config)) -> Harness {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(Store::open(&dir.path().join("db")).expect("store"));
    let deals = DealStore::open(store.clone()).expect("deals");
    let mut cfg = crate::config::Config::default();
    f(&mut cfg);
    cfg.miners.push(crate::config::MinerConfig {
        addr: format!("t0{MINER}"),
        account: String::new(),
        settings: Default::default(),
    });
    let fs = crate::config::FsStorage {
        name: "local".into(),
        read_only: false,
        path: dir.path().join("pieces"),
    };
    cfg.piece_storage.fs.push(fs.clone());
    let live = Arc::new(LiveConfig::new(dir.path().join("config.toml"), cfg).expect("config"));
    let storage = piece_store::store::PieceStorage::from_config(&[fs], &[]).expect("storage");
    let index = piece_store::index::PieceIndex::open(&dir.path().join("piece-index")).expect("index");
    let pieces = Arc::new(Pieces::new(storage, index, live.clone()));
    let chain = Arc::new(FakeChain::default());
    let runner = DealRunner::start(
        deals.clone(),
        chain.clone(),
        store,
        live,
        pieces,
        dir.path().join("transfer"),
        crate::lease::Leases::everything(),
    )
    .expect("runner");
    Harness {
        dir,
        chain,
        deals,
        runner,
    }
}

impl Harness {
    /// Wait (in paused time, a few ms at a time, for at most `within`) until the deal is in
    /// `status`.
    async fn wait_for(&self, uuid: Uuid, status: S, within: Duration) -> DealRecord {
        let end = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < end {
            let d = self.deals.get(&uuid).expect("get").expect("deal");
            if d.status() == status {
                return d;
            }
            assert!(
                !d.status().is_terminal() || status.is_terminal(),
                "deal ended in {:?}: {}",
                d.status(),
                d.deal.message
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let d = self.deals.get(&uuid).expect("get").expect("deal");
        panic!(
            "deal never reached {status:?}; it is in {:?} ({})",
            d.status(),
            d.deal.message
        );
    }

    /// An online deal just received whose data is at an address nothing listens on (port 1:
    /// every attempt is refused at once).
    fn unreachable_online_deal(&self) -> DealRecord {
        let mut d = record(2048, 100, S::Unknown, PieceStatus::Undefine);
        d.deal = market_fsm::storage::provider::ProviderDeal::new(true, TokenAmount::default());
        d.transfer = market_types::boost::Transfer::http(
            &market_types::boost::HttpRequest {
                url: "http://127.0.0.1:1/data.car".into(),
                headers: None,
            },
            1500,
        );
        self.deals.insert(&d).expect("insert");
        d
    }

    /// A deal waiting for its data, stored as the acceptor stores it.
    fn waiting_deal(&self) -> DealRecord {
        let mut d = record(2048, 100, S::WaitingForData, PieceStatus::Undefine);
        d.deal.deal_id = None;
        d.deal.provider_collateral = TokenAmount::from_atto(5u64);
        self.deals.insert(&d).expect("insert");
        d
    }
}

#[tokio::test(start_paused = true)]
async fn an_imported_deal_waits_for_its_publish_period_then_goes_on_chain_from_the_worker_and_is_stored() {
    let h = harness();
    let d = h.waiting_deal();
    let data = h.dir.path().join("data.car");
    std::fs::write(&data, vec![7u8; 1500]).expect("data");
    h.runner
        .event(
            d.uuid,
            Event::DataImported {
                path: data.to_string_lossy().into_owned(),
                skip_commp: true,
            },
        )
        .await
        .expect("imported");
    h.wait_for(d.uuid, S::Publish, Duration::from_secs(10)).await;

    // The default PublishMsgPeriod is an hour: ten minutes in, nothing has been sent.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(h.deals.get(&d.uuid).expect("get").expect("deal").status(), S::Publish);
    assert!(
        h.chain.sent().is_empty(),
        "the escrow covered the collateral: no AddBalance"
    );
    assert_eq!(h.runner.pending().len(), 1);

    // At the hour the batch goes out, from the worker, with no fee cap configured.
    tokio::time::sleep(Duration::from_secs(3000)).await;
    let stored = h.wait_for(d.uuid, S::AwaitingPreCommit, Duration::from_secs(10)).await;
    let sent = h.chain.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (msg, max_fee) = &sent[0];
    assert_eq!(
        (msg.from, msg.method, max_fee),
        (Address::new_id(WORKER), market_method::PUBLISH_STORAGE_DEALS, &None)
    );
    assert_eq!(
        stored.deal.deal_id,
        Some(40),
        "the ID the valid-deals bitfield gives it"
    );
    assert_eq!(stored.deal.publish_msg, Some(msg.cid()));
    assert!(
        stored.deal.funds_reserved.is_zero(),
        "collateral released once published"
    );
    let piece = h.dir.path().join("pieces").join(d.proposal().piece_cid.to_string());
    assert_eq!(std::fs::read(piece).expect("stored piece").len(), 1500);
    assert!(data.exists(), "an imported file is the operator's: never deleted");
    assert!(h.runner.pending().iter().all(|(_, w)| w.is_empty()));
}

#[tokio::test(start_paused = true)]
async fn a_download_that_cannot_connect_backs_off_on_the_machine_s_schedule_then_fails() {
    let h = harness();
    let d = h.unreachable_online_deal();
    let started = tokio::time::Instant::now();
    h.runner.event(d.uuid, Event::Accepted).await.expect("accepted");
    let failed = h.wait_for(d.uuid, S::Failing, Duration::from_secs(600)).await;
    assert!(
        failed
            .deal
            .message
            .starts_with("data transfer failed after 10 attempts"),
        "{}",
        failed.deal.message
    );
    assert_eq!(failed.deal.transfer_attempts, 11);
    // 1 + 2 + 4 + … + 32 s, then four times a minute: the waits the machine asked for.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(63 + 4 * 60) && waited < Duration::from_secs(63 + 4 * 60 + 60),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_paused_transfer_resumes_at_once_when_the_operator_asks() {
    let h = harness();
    let d = h.unreachable_online_deal();
    assert!(!h.runner.resume_transfer_now(&d.uuid), "not waiting yet");
    h.runner.event(d.uuid, Event::Accepted).await.expect("accepted");
    // After the third attempt the back-off is 4 s; asked, the fourth starts without it.
    let mut paused = h
        .wait_for(d.uuid, S::ProviderTransferAwaitRestart, Duration::from_secs(60))
        .await;
    while paused.deal.transfer_attempts < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        paused = h.deals.get(&d.uuid).expect("get").expect("deal");
    }
    let asked = tokio::time::Instant::now();
    let mut woke = false;
    while !woke {
        woke = h.runner.resume_transfer_now(&d.uuid);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    loop {
        let now = h.deals.get(&d.uuid).expect("get").expect("deal");
        if now.deal.transfer_attempts >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "the next attempt came {:?} after the ask, not after the 4 s back-off",
        asked.elapsed()
    );
}

/// An HTTP server on loopback that answers every request with `body` after `delay`, and
/// counts how many requests it serves at once (the most, over its life).
async fn slow_server(body: Vec<u8>, delay: Duration) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let active = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (a, m) = (active.clone(), most.clone());
    let app = axum::Router::new().fallback(move || {
        let (a, m, body) = (a.clone(), m.clone(), body.clone());
        async move {
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            a.fetch_sub(1, Ordering::SeqCst);
            body
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), most)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_client_s_downloads_run_one_at_a_time_when_its_limit_is_one() {
    let h = harness_with(|c| c.simultaneous_transfers_for_storage_per_client = 1);
    let (base, most) = slow_server(vec![1u8; 1500], Duration::from_millis(400)).await;
    let mut uuids = Vec::new();
    for i in 0..2u8 {
        let mut d = record(2048, 100 + i64::from(i), S::Unknown, PieceStatus::Undefine);
        d.client_peer = "12D3KooWSameClient".into();
        d.deal = market_fsm::storage::provider::ProviderDeal::new(true, TokenAmount::default());
        d.transfer = market_types::boost::Transfer::http(
            &market_types::boost::HttpRequest {
                url: format!("{base}/{i}.car"),
                headers: None,
            },
            1500,
        );
        h.deals.insert(&d).expect("insert");
        uuids.push(d.uuid);
    }
    for uuid in &uuids {
        h.runner.event(*uuid, Event::Accepted).await.expect("accepted");
    }
    // Both downloads finish (their data then fails the commP check: it is filler).
    for uuid in &uuids {
        h.wait_for(*uuid, S::Failing, Duration::from_secs(30)).await;
    }
    assert_eq!(
        most.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "SimultaneousTransfersForStoragePerClient = 1: never two downloads of one client at once"
    );
}

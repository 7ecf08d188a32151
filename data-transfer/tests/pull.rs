//! Pull channels between two of our hosts: a validator that holds the data at a limit until a
//! voucher raises it, voucher results, completion with a final result, and refusal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use data_transfer::DataTransfer;
use data_transfer::client::ClientEvent;
use data_transfer::message::TypedVoucher;
use data_transfer::provider::{PullChannel, ValidationResult, Validator};
use graphsync::net::Config;
use graphsync::selector::build;
use graphsync::testing::dag::{Dag, DagBuilder};
use graphsync::testing::swarm::{drive, host};
use graphsync::{MemoryStore, ResponseStatus};
use libp2p::PeerId;
use market_types::ipld::RawCbor;

/// Accepts vouchers whose number is at most `max`; each accepted voucher `n` allows `n × step`
/// bytes. A voucher `0` (the proposal) starts with `step` bytes.
struct Metered {
    step: u64,
    vouchers: AtomicU64,
}

fn result(n: u64) -> Option<TypedVoucher> {
    Some(TypedVoucher {
        kind: "Test/Result".into(),
        node: RawCbor::from_value(&n),
    })
}

impl Validator for Metered {
    fn validate_pull(&self, channel: &PullChannel, _restart: bool) -> ValidationResult {
        let n: u64 = channel.voucher.node.decode().unwrap_or(u64::MAX);
        ValidationResult {
            accepted: channel.voucher.kind == "Test/Voucher" && n == 0,
            result: result(0),
            force_pause: false,
            data_limit: self.step,
            payment_due_at: 0,
        }
    }
    fn validate_voucher(&self, _channel: &PullChannel, voucher: &TypedVoucher) -> ValidationResult {
        let n: u64 = voucher.node.decode().unwrap_or(0);
        self.vouchers.fetch_add(1, Ordering::SeqCst);
        ValidationResult {
            accepted: true,
            result: result(n),
            force_pause: false,
            data_limit: (n + 1) * self.step,
            payment_due_at: 0,
        }
    }
    fn data_limit_reached(&self, channel: &PullChannel) -> ValidationResult {
        ValidationResult {
            accepted: true,
            result: result(channel.sent),
            force_pause: true,
            data_limit: 0,
            payment_due_at: 0,
        }
    }
    fn completed(&self, _channel: &PullChannel) -> Option<TypedVoucher> {
        result(999)
    }
}

/// A provider serving `dag` with `validator`: its peer ID, address and service.
async fn provider_of(dag: &Dag, validator: Arc<dyn Validator>) -> (PeerId, libp2p::Multiaddr, DataTransfer) {
    let (peer, addr, swarm) = host().await;
    let provider = DataTransfer::new(
        swarm.behaviour(),
        peer,
        Arc::new(MemoryStore::from_blocks(dag.blocks.clone())),
        validator,
        Config::default(),
    )
    .expect("provider");
    drive(swarm, None);
    (peer, addr, provider)
}

/// A provider serving `dag` and a client connected to it, both with `validator`.
async fn pair(dag: &Dag, validator: Arc<Metered>) -> (PeerId, DataTransfer, DataTransfer) {
    let (p_peer, p_addr, provider) = provider_of(dag, validator.clone()).await;
    let (c_peer, _, c_swarm) = host().await;
    let client = DataTransfer::new(
        c_swarm.behaviour(),
        c_peer,
        Arc::new(MemoryStore::new()),
        validator,
        Config::default(),
    )
    .expect("client");
    drive(c_swarm, Some(p_addr));
    (p_peer, provider, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metered_pull_pauses_at_each_limit_and_completes_after_vouchers() {
    let mut b = DagBuilder::new(31);
    let root = b.file(2 << 20, 128 << 10, 8);
    let dag = b.finish(root);
    let step = 600 << 10;
    let validator = Arc::new(Metered {
        step,
        vouchers: AtomicU64::new(0),
    });

    let (p_peer, _provider, client) = pair(&dag, validator.clone()).await;

    let sink = Arc::new(MemoryStore::new());
    let proposal = TypedVoucher {
        kind: "Test/Voucher".into(),
        node: RawCbor::from_value(&0u64),
    };
    let mut pull = client
        .pull(p_peer, proposal, narrow(root), build::all().to_cbor(), sink.clone())
        .expect("pull");
    let (mut accepted, mut pauses, mut owed_results, mut paid) = (false, 0, 0, 0u64);
    let mut transfer = None;
    let mut completed = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(30), pull.events.recv())
        .await
        .expect("event in time")
    {
        match ev {
            ClientEvent::Accepted(r) => {
                accepted = true;
                assert_eq!(r, result(0));
            }
            ClientEvent::Paused => {
                pauses += 1;
                paid += 1;
                let voucher = TypedVoucher {
                    kind: "Test/Voucher".into(),
                    node: RawCbor::from_value(&paid),
                };
                client.send_voucher(&pull, &voucher).await.expect("voucher sent");
            }
            ClientEvent::VoucherResult { accepted, .. } => {
                assert!(accepted);
                owed_results += 1;
            }
            ClientEvent::TransferFinished(r) => transfer = Some(r),
            ClientEvent::Completed {
                accepted, result: r, ..
            } => {
                assert!(accepted);
                completed = Some(r);
            }
            ClientEvent::Rejected(_) | ClientEvent::Cancelled => panic!("{ev:?}"),
            ClientEvent::Block { .. } | ClientEvent::Resumed => {}
        }
    }
    assert!(accepted);
    assert_eq!(transfer, Some(Ok(ResponseStatus::RequestCompletedFull)));
    assert_eq!(completed, Some(result(999)));
    // 2 MiB and a bit in 600 KiB steps: paused at 600 KiB, 1.2 MiB and 1.8 MiB.
    assert_eq!(pauses, 3);
    assert_eq!(validator.vouchers.load(Ordering::SeqCst), 3);
    assert!(owed_results >= 3, "a result for each limit reached ({owed_results})");
    assert_eq!(sink.snapshot(), dag.blocks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_pull_is_rejected_with_the_validators_result() {
    let mut b = DagBuilder::new(32);
    let root = b.raw(1000);
    let dag = b.finish(root);
    let validator = Arc::new(Metered {
        step: 0,
        vouchers: AtomicU64::new(0),
    });
    let (p_peer, _provider, client) = pair(&dag, validator.clone()).await;
    let bad = TypedVoucher {
        kind: "Test/Voucher".into(),
        node: RawCbor::from_value(&5u64),
    };
    let mut pull = client
        .pull(
            p_peer,
            bad,
            narrow(root),
            build::all().to_cbor(),
            Arc::new(MemoryStore::new()),
        )
        .expect("pull");
    let mut events = Vec::new();
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(10), pull.events.recv())
        .await
        .expect("event in time")
    {
        events.push(ev);
    }
    assert_eq!(events.first(), Some(&ClientEvent::Rejected(result(0))), "{events:?}");
}

/// Lets `step` bytes through and waits for a voucher that never comes; a restart is let through
/// to the end. Records what each request sent.
struct StallThenFinish {
    step: u64,
    sent: std::sync::Mutex<Vec<(bool, u64)>>,
    restarted: std::sync::atomic::AtomicBool,
}

impl Validator for StallThenFinish {
    fn validate_pull(&self, _channel: &PullChannel, restart: bool) -> ValidationResult {
        self.restarted.fetch_or(restart, Ordering::SeqCst);
        ValidationResult {
            accepted: true,
            result: result(0),
            force_pause: false,
            data_limit: if restart { 0 } else { self.step },
            payment_due_at: 0,
        }
    }
    fn validate_voucher(&self, _: &PullChannel, _: &TypedVoucher) -> ValidationResult {
        ValidationResult::default()
    }
    fn completed(&self, channel: &PullChannel) -> Option<TypedVoucher> {
        let restarted = self.restarted.load(Ordering::SeqCst);
        self.sent.lock().expect("lock").push((restarted, channel.sent));
        result(1)
    }
    fn ended(&self, channel: &PullChannel, _end: graphsync::net::ResponseEnd) {
        self.sent.lock().expect("lock").push((false, channel.sent));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_a_cut_connection_completes_without_resending_what_arrived() {
    use graphsync::testing::swarm::drive_controlled;
    let mut b = DagBuilder::new(33);
    let root = b.file(3 << 20, 128 << 10, 8);
    let dag = b.finish(root);
    let validator = Arc::new(StallThenFinish {
        step: 1 << 20,
        sent: Default::default(),
        restarted: Default::default(),
    });
    let (p_peer, p_addr, _provider) = provider_of(&dag, validator.clone()).await;
    let (c_peer, _, c_swarm) = host().await;
    let client = DataTransfer::new(
        c_swarm.behaviour(),
        c_peer,
        Arc::new(MemoryStore::new()),
        validator.clone(),
        Config::default(),
    )
    .expect("client");
    let swarm = drive_controlled(c_swarm, Some(p_addr.clone()));

    let sink = Arc::new(MemoryStore::new());
    let proposal = TypedVoucher {
        kind: "Test/Voucher".into(),
        node: RawCbor::from_value(&0u64),
    };
    let mut pull = client
        .pull(p_peer, proposal, narrow(root), build::all().to_cbor(), sink.clone())
        .expect("pull");
    // Receive until the responder holds the data at its limit, then cut the connection.
    let mut before = 0u64;
    loop {
        match tokio::time::timeout(Duration::from_secs(30), pull.events.recv())
            .await
            .expect("event")
        {
            Some(ClientEvent::Block { size, .. }) => before += size as u64,
            Some(ClientEvent::Paused) => break,
            Some(_) => {}
            None => panic!("the pull ended before pausing"),
        }
    }
    // Let the blocks of the pausing message be verified.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Ok(ev) = pull.events.try_recv() {
        if let ClientEvent::Block { size, .. } = ev {
            before += size as u64;
        }
    }
    let loads = pull.verified();
    assert!(
        loads > 0 && before >= 1 << 20,
        "{loads} loads, {before} bytes before the cut"
    );
    swarm.disconnect(p_peer);
    tokio::time::sleep(Duration::from_millis(300)).await;
    swarm.dial(p_addr);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut pull = client.restart(&pull, sink.clone()).expect("restart");
    let (mut transfer, mut completed, mut after) = (None, None, 0u64);
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(30), pull.events.recv())
        .await
        .expect("event in time")
    {
        match ev {
            ClientEvent::Block {
                size, received: true, ..
            } => after += size as u64,
            ClientEvent::TransferFinished(r) => transfer = Some(r),
            ClientEvent::Completed { result: r, .. } => completed = Some(r),
            _ => {}
        }
    }
    assert_eq!(transfer, Some(Ok(ResponseStatus::RequestCompletedFull)));
    assert_eq!(completed, Some(result(1)));
    assert_eq!(sink.snapshot(), dag.blocks, "every block, once");
    assert_eq!(
        before + after,
        dag.size(),
        "what arrived before the cut was not sent again"
    );
    let sent = validator.sent.lock().expect("lock").clone();
    // The restarted channel counts the blocks the client holds as delivered (a data limit
    // or a price applies to all of the data), though it sent only the rest.
    let restart_sent = sent.iter().find(|(restarted, _)| *restarted).map(|(_, s)| *s);
    assert_eq!(restart_sent, Some(dag.size()), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_recorded_on_disk_resumes_in_a_new_process_without_resending() {
    use data_transfer::store::DirChannels;
    let mut b = DagBuilder::new(34);
    let root = b.file(3 << 20, 128 << 10, 8);
    let dag = b.finish(root);
    let validator = Arc::new(StallThenFinish {
        step: 1 << 20,
        sent: Default::default(),
        restarted: Default::default(),
    });
    let (p_peer, p_addr, _provider) = provider_of(&dag, validator.clone()).await;
    let records = tempfile::tempdir().expect("tempdir");
    // The block sink outlives the "process" (it is the client's blockstore on disk).
    let sink = Arc::new(MemoryStore::new());

    // First process: pull until the responder holds the data, then stop.
    let before = {
        let (c_peer, _, c_swarm) = host().await;
        let client = DataTransfer::new(
            c_swarm.behaviour(),
            c_peer,
            Arc::new(MemoryStore::new()),
            validator.clone(),
            Config::default(),
        )
        .expect("client")
        .with_channel_store(Arc::new(DirChannels::open(records.path()).expect("records")));
        drive(c_swarm, Some(p_addr.clone()));
        let proposal = TypedVoucher {
            kind: "Test/Voucher".into(),
            node: RawCbor::from_value(&0u64),
        };
        let mut pull = client
            .pull(p_peer, proposal, narrow(root), build::all().to_cbor(), sink.clone())
            .expect("pull");
        loop {
            match tokio::time::timeout(Duration::from_secs(30), pull.events.recv())
                .await
                .expect("event")
            {
                Some(ClientEvent::Paused) => break,
                Some(_) => {}
                None => panic!("ended before pausing"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(client.unfinished_pulls().expect("list").len(), 1);
        sink.snapshot().values().map(|b| b.len() as u64).sum::<u64>()
    };

    // Second process: the record is read back and the pull resumed.
    let (c_peer, _, c_swarm) = host().await;
    let client = DataTransfer::new(
        c_swarm.behaviour(),
        c_peer,
        Arc::new(MemoryStore::new()),
        validator.clone(),
        Config::default(),
    )
    .expect("client")
    .with_channel_store(Arc::new(DirChannels::open(records.path()).expect("records")));
    drive(c_swarm, Some(p_addr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut unfinished = client.unfinished_pulls().expect("list");
    assert_eq!(unfinished.len(), 1, "the pull was recorded on disk");
    let mut pull = client.resume(unfinished.remove(0), sink.clone()).expect("resume");
    let (mut transfer, mut after) = (None, 0u64);
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(30), pull.events.recv())
        .await
        .expect("event in time")
    {
        match ev {
            ClientEvent::Block {
                size, received: true, ..
            } => after += size as u64,
            ClientEvent::TransferFinished(r) => transfer = Some(r),
            _ => {}
        }
    }
    assert_eq!(transfer, Some(Ok(ResponseStatus::RequestCompletedFull)));
    assert_eq!(sink.snapshot(), dag.blocks);
    assert!(before >= 1 << 20);
    assert_eq!(before + after, dag.size(), "what arrived before was not sent again");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        client.unfinished_pulls().expect("list").is_empty(),
        "a finished pull's record is dropped"
    );
}

/// Accepts pushes with voucher 0 and confirms them with result 7.
struct TakesPushes;

impl Validator for TakesPushes {
    fn validate_pull(&self, _: &PullChannel, _: bool) -> ValidationResult {
        ValidationResult::default()
    }
    fn validate_voucher(&self, _: &PullChannel, _: &TypedVoucher) -> ValidationResult {
        ValidationResult::default()
    }
    fn completed(&self, _: &PullChannel) -> Option<TypedVoucher> {
        None
    }
    fn validate_push(&self, channel: &data_transfer::push::PushChannel) -> ValidationResult {
        ValidationResult {
            accepted: channel.voucher.node.decode::<u64>() == Ok(0),
            result: result(0),
            ..ValidationResult::default()
        }
    }
    fn push_finished(
        &self,
        _: &data_transfer::push::PushChannel,
        end: Result<ResponseStatus, graphsync::net::RequestError>,
    ) -> Option<TypedVoucher> {
        end.ok().and(result(7))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_pulled_by_its_receiver_and_confirmed() {
    let mut b = DagBuilder::new(35);
    let root = b.file(1 << 20, 64 << 10, 8);
    let dag = b.finish(root);
    let received = Arc::new(MemoryStore::new());
    let (p_peer, p_addr, p_swarm) = host().await;
    let _provider = DataTransfer::new(
        p_swarm.behaviour(),
        p_peer,
        Arc::new(MemoryStore::new()),
        Arc::new(TakesPushes),
        Config::default(),
    )
    .expect("provider")
    .with_push_sink(received.clone());
    drive(p_swarm, None);
    let (c_peer, _, c_swarm) = host().await;
    let client = DataTransfer::new(
        c_swarm.behaviour(),
        c_peer,
        Arc::new(MemoryStore::from_blocks(dag.blocks.clone())),
        Arc::new(TakesPushes),
        Config::default(),
    )
    .expect("client");
    drive(c_swarm, Some(p_addr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (voucher, accepted) in [(0u64, true), (1, false)] {
        let v = TypedVoucher {
            kind: "Test/Voucher".into(),
            node: RawCbor::from_value(&voucher),
        };
        let mut push = client
            .push(p_peer, v, narrow(root), build::all().to_cbor())
            .await
            .expect("push");
        let mut events = Vec::new();
        while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(10), push.events.recv()).await {
            let last = matches!(ev, ClientEvent::Completed { .. } | ClientEvent::Rejected(_));
            events.push(ev);
            if last {
                break;
            }
        }
        if accepted {
            // Our side's transfer end and the receiver's Complete may come in either order.
            assert_eq!(events.first(), Some(&ClientEvent::Accepted(result(0))), "{events:?}");
            let done = ClientEvent::Completed {
                accepted: true,
                paused: false,
                result: result(7),
            };
            let finished = ClientEvent::TransferFinished(Ok(ResponseStatus::RequestCompletedFull));
            for want in [done, finished] {
                if !events.contains(&want) {
                    let more = tokio::time::timeout(Duration::from_secs(10), push.events.recv()).await;
                    assert_eq!(more.ok().flatten(), Some(want), "{events:?}");
                }
            }
            assert_eq!(received.snapshot(), dag.blocks);
        } else {
            assert_eq!(events, vec![ClientEvent::Rejected(result(0))]);
        }
    }
}

/// A test DAG's root as the data-transfer messages carry it.
fn narrow(root: graphsync::Cid) -> cid::Cid {
    graphsync::narrow_cid(&root).expect("a test root fits")
}

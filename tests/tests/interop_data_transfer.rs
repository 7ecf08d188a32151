//! lassie v0.25.0 (go-data-transfer v2 rc8, go-graphsync v0.18, `--protocols graphsync`, pinned
//! to the provider) retrieves from a test provider built on our graphsync and data-transfer
//! crates with a test block source: lassie's deal proposal is validated and answered
//! (Accepted, then Completed) the way a free retrieval provider answers, and lassie verifies
//! every block of the DAG against the selector walk before writing its CAR.

use std::collections::HashSet;
use std::sync::Arc;

use data_transfer::DataTransfer;
use data_transfer::message::TypedVoucher;
use data_transfer::provider::{PullChannel, ValidationResult, Validator};
use graphsync::Cid;
use graphsync::MemoryStore;
use graphsync::net::Config;
use graphsync::testing::dag::DagBuilder;
use graphsync::testing::swarm::{drive, host};
use market_types::ipld::RawCbor;
use market_types::retrieval::{
    RetrievalDealProposal, RetrievalDealResponse, VOUCHER_DEAL_PROPOSAL, VOUCHER_DEAL_RESPONSE,
};
use tests::car::car_cids;
use tests::gopeers;

/// Free retrievals only: a proposal with no price is accepted (status 6), a priced one is
/// refused (status 9, Rejected); a finished transfer is Completed (status 15).
struct FreeRetrieval;

fn deal_response(id: u64, status: u64, message: &str) -> Option<TypedVoucher> {
    Some(TypedVoucher {
        kind: VOUCHER_DEAL_RESPONSE.into(),
        node: RawCbor::from_value(&RetrievalDealResponse {
            id,
            status,
            message: message.into(),
            payment_owed: Default::default(),
        }),
    })
}

fn proposal(channel: &PullChannel) -> Option<RetrievalDealProposal> {
    (channel.voucher.kind == VOUCHER_DEAL_PROPOSAL)
        .then(|| channel.voucher.node.decode().ok())
        .flatten()
}

impl Validator for FreeRetrieval {
    fn validate_pull(&self, channel: &PullChannel, _restart: bool) -> ValidationResult {
        let Some(p) = proposal(channel) else {
            return ValidationResult::default();
        };
        let free = p.params.price_per_byte.is_zero() && p.params.unseal_price.is_zero();
        ValidationResult {
            accepted: free && p.payload_cid == channel.root,
            result: if free {
                deal_response(p.id, 6, "")
            } else {
                deal_response(p.id, 9, "only free retrievals here")
            },
            force_pause: false,
            data_limit: 0,
            payment_due_at: 0,
        }
    }
    fn validate_voucher(&self, _: &PullChannel, _: &TypedVoucher) -> ValidationResult {
        ValidationResult::default()
    }
    fn completed(&self, channel: &PullChannel) -> Option<TypedVoucher> {
        deal_response(proposal(channel)?.id, 15, "")
    }
}

/// lassie fetching `what` (a CID, with a path) over graphsync from `provider`, with extra
/// flags; its CAR's CIDs.
async fn lassie_fetch(provider: &libp2p::Multiaddr, what: &str, flags: &[&str]) -> HashSet<Cid> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_car = dir.path().join("out.car");
    let out = tokio::process::Command::new(gopeers::binary("lassie"))
        .args([
            "fetch",
            "--protocols",
            "graphsync",
            "--providers",
            &format!("{provider}+graphsync"),
            "--global-timeout",
            "60s",
        ])
        .args(flags)
        .arg("-o")
        .arg(&out_car)
        .arg(what)
        .current_dir(dir.path())
        .output()
        .await
        .expect("run lassie");
    assert!(
        out.status.success(),
        "lassie {what} {flags:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let car = std::fs::read(&out_car).expect("lassie's CAR");
    car_cids(&car).iter().map(graphsync::block_cid).collect()
}

async fn free_provider(dag: &graphsync::testing::dag::Dag) -> (libp2p::Multiaddr, DataTransfer) {
    let (peer, addr, swarm) = host().await;
    let provider = DataTransfer::new(
        swarm.behaviour(),
        peer,
        Arc::new(MemoryStore::from_blocks(dag.blocks.clone())),
        Arc::new(FreeRetrieval),
        Config::default(),
    )
    .expect("provider");
    drive(swarm, None);
    (addr, provider)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lassie_retrieves_over_graphsync_from_a_provider_built_on_our_crates() {
    let mut b = DagBuilder::new(201);
    let root = b.file(5 << 20, 256 << 10, 7);
    let dag = b.finish(root);
    let (addr, _provider) = free_provider(&dag).await;
    let got = lassie_fetch(&addr, &root.to_string(), &[]).await;
    let want: HashSet<Cid> = dag.blocks.keys().copied().collect();
    assert_eq!(got, want, "lassie's CAR holds exactly the DAG's blocks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lassie_retrieves_a_unixfs_path_over_graphsync_with_each_dag_scope() {
    // /docs/report (a 700 KiB file), /docs/notes (a raw leaf), /big (a 2 MiB file).
    let mut b = DagBuilder::new(208);
    let report = b.file(700 << 10, 64 << 10, 4);
    let notes = b.raw(3000);
    let big = b.file(2 << 20, 256 << 10, 8);
    let docs = b.dir(&[("notes", notes), ("report", report)]);
    let root = b.dir(&[("big", big), ("docs", docs)]);
    let dag = b.finish(root);
    let (addr, _provider) = free_provider(&dag).await;
    let under = |top: Cid| -> HashSet<Cid> {
        let sub = graphsync::testing::dag::Dag {
            root: top,
            blocks: dag.blocks.clone(),
        };
        sub.walk_order(&graphsync::selector::build::all().to_cbor())
            .into_iter()
            .collect()
    };
    // The path's blocks, then everything under its end (all) or the file whole (entity).
    let path_blocks: HashSet<Cid> = [root, docs].into_iter().collect();
    let what = format!("{root}/docs/report");
    for scope in ["all", "entity"] {
        let got = lassie_fetch(&addr, &what, &["--dag-scope", scope]).await;
        let want: HashSet<Cid> = path_blocks.union(&under(report)).copied().collect();
        assert_eq!(got, want, "dag-scope={scope}");
    }
    // block: the path and the file's root block only.
    let got = lassie_fetch(&addr, &what, &["--dag-scope", "block"]).await;
    let want: HashSet<Cid> = [root, docs, report].into_iter().collect();
    assert_eq!(got, want, "dag-scope=block");
}

/// go-data-transfer-peer's metered scheme on our side: voucher `n` (an int; 0 is the proposal)
/// lets `(n + 1) × step` bytes through.
struct Metered {
    step: u64,
    vouchers: std::sync::atomic::AtomicU64,
}

fn int_voucher(kind: &str, n: i64) -> TypedVoucher {
    TypedVoucher {
        kind: kind.into(),
        node: RawCbor::from_value(&n),
    }
}

impl Validator for Metered {
    fn validate_pull(&self, channel: &PullChannel, _restart: bool) -> ValidationResult {
        let n: i64 = channel.voucher.node.decode().unwrap_or(-1);
        ValidationResult {
            accepted: channel.voucher.kind == "Test/Voucher" && n == 0,
            result: Some(int_voucher("Test/Result", 0)),
            force_pause: false,
            data_limit: self.step,
            payment_due_at: 0,
        }
    }
    fn validate_voucher(&self, _: &PullChannel, voucher: &TypedVoucher) -> ValidationResult {
        let n: i64 = voucher.node.decode().unwrap_or(0);
        self.vouchers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ValidationResult {
            accepted: true,
            result: Some(int_voucher("Test/Result", n)),
            force_pause: false,
            data_limit: (n as u64 + 1) * self.step,
            payment_due_at: 0,
        }
    }
    fn completed(&self, _: &PullChannel) -> Option<TypedVoucher> {
        Some(int_voucher("Test/Result", 999))
    }
}

const STEP: u64 = 600 << 10;

/// go-data-transfer-peer serving `car` with data limits of `step` bytes: the process, its
/// peer ID and address.
fn go_serve(
    dir: &std::path::Path,
    car: &std::path::Path,
    step: &str,
) -> (tests::procs::Proc, libp2p::PeerId, libp2p::Multiaddr) {
    let log = dir.join("go-data-transfer-peer.log");
    let mut go = tests::procs::Proc::start_path(
        &gopeers::binary("go-data-transfer-peer"),
        &["serve", &car.to_string_lossy(), step],
        &log,
    );
    let addr: libp2p::Multiaddr = tests::procs::wait_for(
        "go-data-transfer-peer to listen",
        std::time::Duration::from_secs(30),
        Some(&mut go),
        || {
            std::fs::read_to_string(&log)
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("LISTEN ").and_then(|a| a.parse().ok()))
        },
    );
    let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() else {
        panic!("no peer ID in {addr}");
    };
    (go, peer, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_data_transfer_pulls_from_us_paying_at_each_pause() {
    let mut b = DagBuilder::new(202);
    let root = b.file(2 << 20, 128 << 10, 8);
    let dag = b.finish(root);
    let validator = Arc::new(Metered {
        step: STEP,
        vouchers: Default::default(),
    });
    let (peer, addr, swarm) = host().await;
    let _provider = DataTransfer::new(
        swarm.behaviour(),
        peer,
        Arc::new(MemoryStore::from_blocks(dag.blocks.clone())),
        validator.clone(),
        Config::default(),
    )
    .expect("provider");
    drive(swarm, None);
    let out = tokio::process::Command::new(gopeers::binary("go-data-transfer-peer"))
        .args(["fetch", &addr.to_string(), &root.to_string()])
        .output()
        .await
        .expect("run go-data-transfer-peer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.ends_with("DONE\n"),
        "go-data-transfer failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |key: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
    };
    let vouchers = validator.vouchers.load(std::sync::atomic::Ordering::SeqCst);
    assert!(value("PAUSES ") >= 3, "{stdout}");
    assert_eq!(value("PAUSES "), vouchers, "a voucher for each pause: {stdout}");
    assert_eq!(value("RECEIVED "), dag.size(), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_pull_from_go_data_transfer_paying_at_each_pause() {
    use data_transfer::client::ClientEvent;
    let mut b = DagBuilder::new(203);
    let root = b.file(2 << 20, 128 << 10, 8);
    let dag = b.finish(root);
    let dir = tempfile::tempdir().expect("tempdir");
    let car = dir.path().join("dag.car");
    dag.write_car(&mut std::fs::File::create(&car).expect("car"))
        .expect("write car");
    let (go, go_peer, go_addr) = go_serve(dir.path(), &car, &STEP.to_string());
    let (peer, _, swarm) = host().await;
    let client = DataTransfer::new(
        swarm.behaviour(),
        peer,
        Arc::new(MemoryStore::new()),
        Arc::new(Metered {
            step: STEP,
            vouchers: Default::default(),
        }),
        Config::default(),
    )
    .expect("client");
    drive(swarm, Some(go_addr));
    let sink = Arc::new(MemoryStore::new());
    let mut pull = client
        .pull(
            go_peer,
            int_voucher("Test/Voucher", 0),
            graphsync::narrow_cid(&root).expect("a test root fits"),
            graphsync::selector::build::all().to_cbor(),
            sink.clone(),
        )
        .expect("pull");
    let (mut accepted, mut pauses, mut transfer, mut completed) = (None, 0i64, None, None);
    while let Some(ev) = tokio::time::timeout(std::time::Duration::from_secs(30), pull.events.recv())
        .await
        .unwrap_or_else(|_| panic!("no event in time\n{}", go.log()))
    {
        match ev {
            ClientEvent::Accepted(r) => accepted = Some(r),
            ClientEvent::Paused => {
                pauses += 1;
                client
                    .send_voucher(&pull, &int_voucher("Test/Voucher", pauses))
                    .await
                    .expect("voucher sent");
            }
            ClientEvent::TransferFinished(r) => transfer = Some(r),
            ClientEvent::Completed { accepted, .. } => completed = Some(accepted),
            ClientEvent::Rejected(_) | ClientEvent::Cancelled => panic!("{ev:?}\n{}", go.log()),
            _ => {}
        }
    }
    assert_eq!(accepted, Some(Some(int_voucher("Test/Result", 0))));
    assert_eq!(
        transfer,
        Some(Ok(graphsync::ResponseStatus::RequestCompletedFull)),
        "{}",
        go.log()
    );
    assert_eq!(completed, Some(true), "{}", go.log());
    assert!(pauses >= 3, "paused {pauses} times\n{}", go.log());
    assert_eq!(sink.snapshot(), dag.blocks);
    go.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_restart_after_a_cut_connection_resumes_from_go_data_transfer_without_resending() {
    use data_transfer::client::ClientEvent;
    use graphsync::testing::swarm::drive_controlled;
    let mut b = DagBuilder::new(204);
    let root = b.file(3 << 20, 128 << 10, 8);
    let dag = b.finish(root);
    let dir = tempfile::tempdir().expect("tempdir");
    let car = dir.path().join("dag.car");
    dag.write_car(&mut std::fs::File::create(&car).expect("car"))
        .expect("write car");
    // The Go side lets 1 MiB through, then waits for a voucher we never send.
    let (go, go_peer, go_addr) = go_serve(dir.path(), &car, &(1u64 << 20).to_string());
    let (peer, _, swarm) = host().await;
    let client = DataTransfer::new(
        swarm.behaviour(),
        peer,
        Arc::new(MemoryStore::new()),
        Arc::new(FreeRetrieval),
        Config::default(),
    )
    .expect("client");
    let swarm = drive_controlled(swarm, Some(go_addr.clone()));
    let sink = Arc::new(MemoryStore::new());
    let mut pull = client
        .pull(
            go_peer,
            int_voucher("Test/Voucher", 0),
            graphsync::narrow_cid(&root).expect("a test root fits"),
            graphsync::selector::build::all().to_cbor(),
            sink.clone(),
        )
        .expect("pull");
    let mut before = 0u64;
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(30), pull.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no pause in time\n{}", go.log()))
        {
            Some(ClientEvent::Block { size, .. }) => before += size as u64,
            Some(ClientEvent::Paused) => break,
            Some(_) => {}
            None => panic!("the pull ended before pausing\n{}", go.log()),
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    while let Ok(ev) = pull.events.try_recv() {
        if let ClientEvent::Block { size, .. } = ev {
            before += size as u64;
        }
    }
    assert!(
        before >= 1 << 20 && before < dag.size(),
        "{before} bytes before the cut"
    );
    swarm.disconnect(go_peer);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    swarm.dial(go_addr);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let mut pull = client.restart(&pull, sink.clone()).expect("restart");
    let (mut transfer, mut completed, mut after) = (None, None, 0u64);
    while let Some(ev) = tokio::time::timeout(std::time::Duration::from_secs(30), pull.events.recv())
        .await
        .unwrap_or_else(|_| panic!("no event in time\n{}", go.log()))
    {
        match ev {
            ClientEvent::Block {
                size, received: true, ..
            } => after += size as u64,
            ClientEvent::TransferFinished(r) => transfer = Some(r),
            ClientEvent::Completed { accepted, .. } => completed = Some(accepted),
            ClientEvent::Rejected(r) => panic!("restart refused: {r:?}\n{}", go.log()),
            _ => {}
        }
    }
    assert_eq!(
        transfer,
        Some(Ok(graphsync::ResponseStatus::RequestCompletedFull)),
        "{}",
        go.log()
    );
    assert_eq!(completed, Some(true), "{}", go.log());
    assert_eq!(sink.snapshot(), dag.blocks);
    assert_eq!(
        before + after,
        dag.size(),
        "go-data-transfer sent again what had arrived"
    );
    go.stop();
}

/// Takes pushes proposed with voucher 0 (go-data-transfer-peer's scheme).
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
            accepted: channel.voucher.kind == "Test/Voucher" && channel.voucher.node.decode::<i64>() == Ok(0),
            result: Some(int_voucher("Test/Result", 0)),
            ..ValidationResult::default()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_data_transfer_pushes_to_us_and_we_pull_what_it_announced() {
    let mut b = DagBuilder::new(205);
    let root = b.file(2 << 20, 128 << 10, 8);
    let dag = b.finish(root);
    let dir = tempfile::tempdir().expect("tempdir");
    let car = dir.path().join("dag.car");
    dag.write_car(&mut std::fs::File::create(&car).expect("car"))
        .expect("write car");
    let received = Arc::new(MemoryStore::new());
    let (peer, addr, swarm) = host().await;
    let _receiver = DataTransfer::new(
        swarm.behaviour(),
        peer,
        Arc::new(MemoryStore::new()),
        Arc::new(TakesPushes),
        Config::default(),
    )
    .expect("receiver")
    .with_push_sink(received.clone());
    drive(swarm, None);
    let out = tokio::process::Command::new(gopeers::binary("go-data-transfer-peer"))
        .args(["push", &addr.to_string(), &car.to_string_lossy()])
        .output()
        .await
        .expect("run go-data-transfer-peer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.ends_with("DONE\n"),
        "go-data-transfer push failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(received.snapshot(), dag.blocks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_push_to_go_data_transfer_and_it_pulls_and_completes() {
    use data_transfer::client::ClientEvent;
    let mut b = DagBuilder::new(206);
    let root = b.file(2 << 20, 128 << 10, 8);
    let dag = b.finish(root);
    let dir = tempfile::tempdir().expect("tempdir");
    let car = dir.path().join("empty.car");
    // The Go side starts with nothing but a root it will not serve.
    let mut nothing = DagBuilder::new(207);
    let other = nothing.raw(10);
    nothing
        .finish(other)
        .write_car(&mut std::fs::File::create(&car).expect("car"))
        .expect("car");
    let (go, go_peer, go_addr) = go_serve(dir.path(), &car, "0");
    let (peer, _, swarm) = host().await;
    let sender = DataTransfer::new(
        swarm.behaviour(),
        peer,
        Arc::new(MemoryStore::from_blocks(dag.blocks.clone())),
        Arc::new(TakesPushes),
        Config::default(),
    )
    .expect("sender");
    drive(swarm, Some(go_addr));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut push = sender
        .push(
            go_peer,
            int_voucher("Test/Voucher", 0),
            graphsync::narrow_cid(&root).expect("a test root fits"),
            graphsync::selector::build::all().to_cbor(),
        )
        .await
        .expect("push");
    let (mut accepted, mut finished, mut completed) = (None, None, None);
    while completed.is_none() || finished.is_none() {
        match tokio::time::timeout(std::time::Duration::from_secs(30), push.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no event in time\n{}", go.log()))
        {
            Some(ClientEvent::Accepted(r)) => accepted = Some(r),
            Some(ClientEvent::TransferFinished(r)) => finished = Some(r),
            Some(ClientEvent::Completed { accepted, .. }) => completed = Some(accepted),
            Some(ClientEvent::Rejected(r)) => panic!("refused: {r:?}\n{}", go.log()),
            Some(_) => {}
            None => panic!("events ended\n{}", go.log()),
        }
    }
    assert_eq!(accepted, Some(Some(int_voucher("Test/Result", 0))), "{}", go.log());
    assert_eq!(
        finished,
        Some(Ok(graphsync::ResponseStatus::RequestCompletedFull)),
        "{}",
        go.log()
    );
    assert_eq!(completed, Some(true), "{}", go.log());
    go.stop();
}

//! Our graphsync against go-graphsync v0.18.0 (lassie's pin; `tests/go/lassie/gspeer`), both
//! ways: go-graphsync's requester (with its own verification) fetches from our responder, and
//! our requester fetches from go-graphsync's responder. Random DAGs (raw leaves, balanced
//! dag-pb files of several MiB, dag-cbor maps and lists sharing subtrees) under the
//! all-selector and narrower ones; the blocks must arrive in the selector walk's order and be
//! byte-identical.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use graphsync::Cid;
use graphsync::net::{AcceptAll, Config, Graphsync, RequestEvent};
use graphsync::selector::build::{self, Spec};
use graphsync::testing::dag::{Dag, DagBuilder};
use graphsync::testing::swarm::{drive, host};
use graphsync::{Extensions, MemoryStore, ResponseStatus};
use tests::gopeers;
use tests::procs::{Proc, wait_for};

/// The DAGs both directions are tested with.
fn dags() -> Vec<(&'static str, Dag)> {
    let mut out = Vec::new();
    let mut b = DagBuilder::new(101);
    let root = b.raw(200 << 10);
    out.push(("a raw leaf", b.finish(root)));
    let mut b = DagBuilder::new(102);
    let root = b.file(6 << 20, 256 << 10, 174);
    out.push(("a 6 MiB balanced dag-pb file, 256 KiB raw leaves", b.finish(root)));
    let mut b = DagBuilder::new(103);
    let root = b.file(3 << 20, 16 << 10, 7);
    out.push(("a 3 MiB deep dag-pb file (fan-out 7, 16 KiB leaves)", b.finish(root)));
    let mut b = DagBuilder::new(104);
    let root = b.mixed(6, 700 << 10);
    out.push((
        "dag-cbor maps and lists over files, with shared subtrees",
        b.finish(root),
    ));
    out.push(("a UnixFS directory tree", unixfs_tree()));
    out
}

/// /a (a 1 MiB file in two levels), /b/c (a 600 KiB file), /b/d (a raw leaf), /e (an empty dir).
fn unixfs_tree() -> Dag {
    let mut b = DagBuilder::new(105);
    let a = b.file(1 << 20, 32 << 10, 6);
    let c = b.file(600 << 10, 64 << 10, 4);
    let d = b.raw(5000);
    let bdir = b.dir(&[("c", c), ("d", d)]);
    let e = b.dir(&[]);
    let root = b.dir(&[("a", a), ("b", bdir), ("e", e)]);
    b.finish(root)
}

fn unixfs(next: Spec) -> Spec {
    Spec::InterpretAs("unixfs".into(), Box::new(next))
}

/// A unixfs path: each name read through the ADL.
fn path(names: &[&str], end: Spec) -> Spec {
    names
        .iter()
        .rev()
        .fold(end, |inner, name| unixfs(Spec::Fields(vec![(name.to_string(), inner)])))
}

/// The selectors: the all-selector and narrower ones.
fn selectors() -> Vec<(&'static str, Spec)> {
    vec![
        (
            "unixfs path /a (lazy: the file's root only)",
            path(&["a"], unixfs(Spec::Matcher)),
        ),
        (
            "unixfs path /b/c, preloaded (the whole file)",
            path(
                &["b", "c"],
                Spec::InterpretAs("unixfs-preload".into(), Box::new(Spec::Matcher)),
            ),
        ),
        (
            "every directory entry through unixfs, files lazily",
            Spec::Recursive {
                limit: None,
                sequence: Box::new(unixfs(Spec::All(Box::new(Spec::Edge)))),
                stop_at: None,
            },
        ),
        ("all", build::all()),
        ("depth 6", build::depth(6)),
        (
            "Links/1.. and k001",
            Spec::Union(vec![
                Spec::Fields(vec![(
                    "Links".into(),
                    Spec::Range(1, 4, Box::new(Spec::Fields(vec![("Hash".into(), build::all())]))),
                )]),
                Spec::Fields(vec![("k001".into(), build::depth(8))]),
                Spec::Fields(vec![(
                    "k000".into(),
                    Spec::Fields(vec![("bb".into(), Spec::Index(0, Box::new(build::all())))]),
                )]),
            ]),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_graphsync_fetches_from_our_responder() {
    let peer_bin = gopeers::binary("go-graphsync-peer");
    for (what, dag) in dags() {
        let (_, addr, swarm) = host().await;
        let _server = Graphsync::new(
            swarm.behaviour(),
            Arc::new(MemoryStore::from_blocks(dag.blocks.clone())),
            Arc::new(AcceptAll),
            Config::default(),
        )
        .expect("graphsync");
        drive(swarm, None);
        for (sel_name, spec) in selectors() {
            let sel = spec.to_cbor();
            let out = tokio::process::Command::new(&peer_bin)
                .args([
                    "fetch",
                    &addr.to_string(),
                    &dag.root.to_string(),
                    &hex::encode(sel.as_bytes()),
                ])
                .output()
                .await
                .expect("go-graphsync-peer runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.ends_with("DONE\n"),
                "{what}, {sel_name}: go-graphsync failed: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let loaded: Vec<Cid> = stdout
                .lines()
                .filter_map(|l| l.strip_prefix("BLOCK "))
                .map(|l| l.split(' ').next().and_then(|c| c.parse().ok()).expect("cid"))
                .collect();
            assert_eq!(
                loaded,
                dag.walk_order(&sel),
                "{what}, {sel_name}: go-graphsync's load order"
            );
        }
    }
}

/// go-graphsync serving `dag` from a CAR; its address.
fn go_responder(dir: &Path, dag: &Dag) -> (Proc, String) {
    let car = dir.join("dag.car");
    let mut f = std::fs::File::create(&car).expect("car");
    dag.write_car(&mut f).expect("write car");
    let log = dir.join("go-graphsync-peer.log");
    let car = car.to_string_lossy().into_owned();
    let mut proc = Proc::start_path(&gopeers::binary("go-graphsync-peer"), &["serve", &car], &log);
    let addr = wait_for(
        "go-graphsync-peer to listen",
        Duration::from_secs(30),
        Some(&mut proc),
        || {
            std::fs::read_to_string(&log)
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("LISTEN ").map(str::to_string))
        },
    );
    (proc, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_requester_fetches_from_go_graphsync() {
    for (what, dag) in dags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (go, addr) = go_responder(dir.path(), &dag);
        let addr: libp2p::Multiaddr = addr.parse().expect("multiaddr");
        let Some(libp2p::multiaddr::Protocol::P2p(go_peer)) = addr.iter().last() else {
            panic!("no peer ID in {addr}");
        };
        let (_, _, swarm) = host().await;
        let client = Graphsync::new(
            swarm.behaviour(),
            Arc::new(MemoryStore::new()),
            Arc::new(AcceptAll),
            Config::default(),
        )
        .expect("graphsync");
        drive(swarm, Some(addr));
        for (sel_name, spec) in selectors() {
            let sel = spec.to_cbor();
            let sink = Arc::new(MemoryStore::new());
            let mut req = client
                .request(go_peer, dag.root, sel.clone(), Extensions::new(), sink.clone())
                .expect("request");
            let mut loaded = Vec::new();
            let end = tokio::time::timeout(Duration::from_secs(60), async {
                loop {
                    match req.events.recv().await {
                        Some(RequestEvent::Block { link, .. }) | Some(RequestEvent::Missing(link)) => loaded.push(link),
                        Some(RequestEvent::Finished(r)) => break r,
                        Some(_) => {}
                        None => panic!("events ended without a finish"),
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{what}, {sel_name}: no answer from go-graphsync in time\n{}", go.log()));
            assert_eq!(
                end,
                Ok(ResponseStatus::RequestCompletedFull),
                "{what}, {sel_name}\n{}",
                go.log()
            );
            let order = dag.walk_order(&sel);
            assert_eq!(loaded, order, "{what}, {sel_name}: load order");
            for (cid, data) in sink.snapshot() {
                assert_eq!(dag.blocks.get(&cid), Some(&data), "{what}, {sel_name}: block {cid}");
            }
            let mut distinct = order.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(
                sink.len(),
                distinct.len(),
                "{what}, {sel_name}: every selected block stored"
            );
        }
        go.stop();
    }
}

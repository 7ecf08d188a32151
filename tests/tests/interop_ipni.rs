//! IPNI against go-libipni (`tests/go/lassie/ipnipeer`, the version lassie pins): a Go
//! indexer takes droplet's HTTP announcements, pulls the advertisement chain from droplet's
//! publisher over ipnisync (go-libipni checks every block's hash against its CID), decodes
//! each advertisement and entry chunk with go-libipni's schema and verifies every signature.
//! The chain must say what droplet holds: each Active deal under its proposal CID with the
//! graphsync-filecoinv1 metadata, entries = exactly its piece's blocks, the trustless gateway
//! as the provider's other transport, removals when a deal is withdrawn or slashed.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tests::car::car_cids;
use tests::gopeers;
use tests::market::{Market, setup};
use tests::procs::{Proc, wait_for};
use tests::retrieval::two_active_deals;

/// The Go indexer: its announce URL, and the process (its lines are in its log).
fn start_indexer(dir: &Path) -> (String, Proc) {
    let log = dir.join("go-ipni-indexer.log");
    let mut p = Proc::start_path(&gopeers::binary("go-ipni-peer"), &["indexer"], &log);
    let url = wait_for(
        "the Go indexer's LISTEN line",
        Duration::from_secs(30),
        Some(&mut p),
        || {
            std::fs::read_to_string(&log)
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("LISTEN ").map(str::to_string))
        },
    );
    (format!("{url}/announce"), p)
}

/// The chains the Go indexer has synced after announcements, in order.
fn chains(indexer: &Proc) -> Vec<Vec<Value>> {
    let log = indexer.log();
    // Its own failures start lines with "ERROR " (go-libipni's log lines carry the word too).
    assert!(
        !log.lines().any(|l| l.starts_with("ERROR ")),
        "the Go indexer failed: {log}"
    );
    log.lines()
        .filter_map(|l| l.strip_prefix("CHAIN "))
        .map(|j| serde_json::from_str(j).expect("chain JSON"))
        .collect()
}

/// Wait until the Go indexer has synced a chain for which `ok` holds; that chain.
fn wait_chain(indexer: &mut Proc, what: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_for(what, Duration::from_secs(60), None, || {
        chains(indexer).into_iter().rev().find(|c| ok(c))
    })
}

fn hex_multihash(cid: &cid::Cid) -> String {
    hex::encode(cid.hash().to_bytes())
}

fn proposal(d: &Value) -> String {
    d["ProposalCid"]["/"].as_str().expect("proposal CID").to_string()
}

fn context_hex(proposal: &str) -> String {
    hex::encode(proposal.parse::<cid::Cid>().expect("CID").to_bytes())
}

fn deal_ads<'a>(chain: &'a [Value], proposal: &str) -> Vec<&'a Value> {
    let ctx = context_hex(proposal);
    chain.iter().filter(|a| a["ContextID"] == ctx.as_str()).collect()
}

/// A JSON array of strings.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_str().expect("a string").to_string())
        .collect()
}

fn peer_id(m: &Market) -> String {
    m.droplet(&["net", "id"]).trim().to_string()
}

#[test]
fn go_libipni_pulls_droplets_signed_chain_and_lassie_finds_the_data_through_it() {
    let mut m = setup();
    let dir = tempfile::tempdir().expect("tempdir");
    let (announce_url, mut indexer) = start_indexer(dir.path());
    let gateway = m.serve_http_retrieval();
    let publisher = m.serve_ipni(&announce_url);
    let peer = peer_id(&m);

    // Before any deal: the provider-wide advertisement naming the gateway.
    let chain = wait_chain(&mut indexer, "the transports advertisement", |c| !c.is_empty());
    assert_eq!(chain.len(), 1, "{chain:?}");
    let gateway_port = gateway.rsplit(':').next().expect("port");
    let xp = &chain[0];
    assert_eq!(xp["Provider"], peer.as_str());
    assert_eq!(xp["Signer"], peer.as_str());
    assert_eq!(xp["Entries"], ipni::no_entries().to_string());
    assert_eq!(xp["ContextID"], "");
    assert_eq!(
        xp["ExtendedProviders"],
        serde_json::json!([{
            "ID": peer,
            "Addresses": [format!("/ip4/127.0.0.1/tcp/{gateway_port}/http")],
            "Metadata": [{"Code": ipni::metadata::IPFS_GATEWAY_HTTP}],
        }])
    );

    // The publisher's answers to what is not in the chain.
    let status = |path: &str| {
        let o = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{publisher}{path}"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert_eq!(status("/ipni/v1/ad/head"), "200");
    assert_eq!(status("/head"), "200", "the older publisher's path");
    assert_eq!(status("/ipni/v1/ad/not-a-cid"), "400");
    assert_eq!(status(&format!("/ipni/v1/ad/{}", ipni::block_cid(b"absent"))), "404");
    assert_eq!(status("/ipni/v1/ad/..%2F..%2Fetc%2Fpasswd"), "400");
    assert_eq!(
        status(&format!("/ipni/v1/ad/{}", xp["Cid"].as_str().expect("cid"))),
        "200"
    );

    // Two deals go Active: each is advertised, and the head announced.
    let (big_root, _) = two_active_deals(&m);
    let deals = m.deals();
    assert_eq!(deals.len(), 2);
    let chain = wait_chain(&mut indexer, "both deals' advertisements", |c| {
        deals.iter().all(|d| deal_ads(c, &proposal(d)).len() == 1)
    });
    assert_eq!(chain.len(), 3, "{chain:#?}");
    let listen: BTreeSet<String> = m
        .droplet(&["net", "listen"])
        .lines()
        .map(|l| l.split("/p2p/").next().unwrap_or(l).to_string())
        .collect();
    let offline_car = std::fs::read(&m.car).expect("the offline deal's CAR");
    for d in &deals {
        let p = proposal(d);
        let ad = deal_ads(&chain, &p)[0];
        assert_eq!(ad["Provider"], peer.as_str(), "signed by the miner's own peer ID");
        assert_eq!(ad["Signer"], peer.as_str());
        assert_eq!(ad["IsRm"], false);
        let addrs: BTreeSet<String> = strings(&ad["Addresses"]).into_iter().collect();
        assert_eq!(addrs, listen, "retrievable at droplet's libp2p addresses");
        assert_eq!(
            ad["Metadata"],
            serde_json::json!([{
                "Code": ipni::metadata::GRAPHSYNC_FILECOIN_V1,
                "PieceCID": d["Proposal"]["PieceCID"]["/"],
                "FastRetrieval": true,
            }])
        );
        // Entries: every block of the piece once, nothing else.
        let got = strings(&ad["Multihashes"]);
        let got_set: BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(got_set.len(), got.len(), "no multihash twice");
        let listed: BTreeSet<String> = m
            .droplet(&["index", "list-multihashes", &p])
            .lines()
            .skip(1)
            .map(|l| hex::encode(bs58::decode(l.trim()).into_vec().expect("base58")))
            .collect();
        assert_eq!(
            got_set, listed,
            "`droplet index list-multihashes` lists what was advertised"
        );
    }
    // One of the two is the online deal of the big file: its root is advertised.
    let root: cid::Cid = big_root.parse().expect("root");
    assert!(
        chain.iter().any(|a| a["Multihashes"]
            .as_array()
            .is_some_and(|h| h.iter().any(|x| x == hex_multihash(&root).as_str()))),
        "the online deal's root is in its entries"
    );
    // …and the offline one's CAR blocks are exactly one ad's entries.
    let want: BTreeSet<String> = car_cids(&offline_car).iter().map(hex_multihash).collect();
    let offline = deals
        .iter()
        .find(|d| {
            let got: BTreeSet<String> = strings(&deal_ads(&chain, &proposal(d))[0]["Multihashes"])
                .into_iter()
                .collect();
            got == want
        })
        .expect("an ad whose entries are the offline deal's CAR blocks");
    let online = deals
        .iter()
        .find(|d| proposal(d) != proposal(offline))
        .expect("the other deal");

    // Read straight from the publisher, as an indexer without an announcement would: the same.
    let direct = gopeers::run_json(
        "go-ipni-peer",
        &[
            "sync",
            &format!(
                "/ip4/127.0.0.1/tcp/{}/http",
                publisher.rsplit(':').next().expect("port")
            ),
            &peer,
        ],
    );
    assert_eq!(direct.as_array().expect("chain").len(), 3);
    // A different peer ID is refused: the head is signed by droplet's.
    let other = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id()
        .to_string();
    let refused = std::process::Command::new(gopeers::binary("go-ipni-peer"))
        .args([
            "sync",
            &format!(
                "/ip4/127.0.0.1/tcp/{}/http",
                publisher.rsplit(':').next().expect("port")
            ),
            &other,
        ])
        .output()
        .expect("run");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("signed by an unexpected peer"));

    // Found through the index: lassie asks the Go indexer's find API for the root and fetches
    // from what the advertisements say, over the gateway (the provider-wide record) and over
    // graphsync (the deal's own record, droplet's libp2p addresses), verifying as it goes.
    m.droplet(&["retrieval", "ask", "set", tests::market::MINER]);
    let endpoint = announce_url.trim_end_matches("/announce").to_string();
    let online_entries: BTreeSet<String> = strings(&deal_ads(&chain, &proposal(online))[0]["Multihashes"])
        .into_iter()
        .collect();
    for protocol in ["http", "graphsync"] {
        let out = dir.path().join(format!("lassie-{protocol}.car"));
        let o = std::process::Command::new(gopeers::binary("lassie"))
            .args(["fetch", "--ipni-endpoint", &endpoint, "--protocols", protocol])
            .args(["--global-timeout", "60s", "-o"])
            .arg(&out)
            .arg(&big_root)
            .current_dir(dir.path())
            .output()
            .expect("run lassie");
        assert!(
            o.status.success(),
            "lassie over {protocol} through IPNI: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got: BTreeSet<String> = car_cids(&std::fs::read(&out).expect("lassie's CAR"))
            .iter()
            .map(hex_multihash)
            .collect();
        assert_eq!(got, online_entries, "lassie over {protocol} got the whole DAG");
    }

    // Withdrawn by hand: a removal, which stays (the deal is still Active); then again.
    let p = proposal(offline);
    let out = m.droplet(&["index", "announce-remove-deal", &p]);
    assert!(out.starts_with("Announced the removal Ad with cid "), "{out}");
    let chain = wait_chain(&mut indexer, "the removal", |c| deal_ads(c, &p).len() == 2);
    let rm = &chain[0];
    assert_eq!(rm["ContextID"], context_hex(&p).as_str());
    assert_eq!(rm["IsRm"], true);
    assert_eq!(rm["Entries"], ipni::no_entries().to_string());
    assert_eq!(rm["Signer"], peer.as_str());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        chains(&indexer).last().expect("chain").len(),
        4,
        "not advertised again by itself"
    );
    // check-deal-index asks the indexer for each Active deal's payload: one is missing now…
    let check = |file: &str, extra: &[&str]| {
        let out_file = dir.path().join(file).to_string_lossy().into_owned();
        let mut args = vec![
            "index",
            "check-deal-index",
            "--miner",
            tests::market::MINER,
            "--ipni-url",
            &endpoint,
            "--output",
            &out_file,
        ];
        args.extend_from_slice(extra);
        m.droplet(&args)
    };
    let out = check("first.json", &["--try-announce=false", "-v"]);
    assert!(out.contains(&format!("deal {p} not indexed")), "{out}");
    assert!(out.contains("deal count: 2, index count: 1"), "{out}");
    // …and is advertised again when it may try (droplet's remove-then-announce).
    let out = check("second.json", &[]);
    assert!(out.contains(&format!("try announce deal {p}")), "{out}");
    assert!(out.contains("announce deal success, ad: bag"), "{out}");
    let chain = wait_chain(&mut indexer, "the deal advertised again", |c| {
        deal_ads(c, &p).len() == 3
    });
    let out = check("third.json", &[]);
    assert!(out.contains("deal count: 2, index count: 2"), "{out}");
    assert_eq!(
        m.droplet(&["index", "announce-deal", &p]).trim(),
        "deal already announced"
    );
    assert_eq!(chain[0]["IsRm"], false);
    assert_eq!(chain[0]["Multihashes"].as_array().map(Vec::len), Some(want.len()));

    // Slashed: withdrawn by droplet itself at the next pass.
    let q = proposal(online);
    let out = m.droplet(&[
        "storage",
        "deal",
        "update",
        "--proposalcid",
        &q,
        "--state",
        "StorageDealSlashed",
        "--really-do-it",
    ]);
    assert!(out.contains("updated"), "{out}");
    let chain = wait_chain(&mut indexer, "the slashed deal's removal", |c| {
        deal_ads(c, &q).len() == 2
    });
    assert_eq!(chain[0]["ContextID"], context_hex(&q).as_str());
    assert_eq!(chain[0]["IsRm"], true);
    // The chain still links back to the first advertisement, all verified.
    assert_eq!(
        chain.len(),
        6,
        "transports, two puts, a removal, a put again, a removal"
    );
    assert_eq!(
        chain.last().expect("first")["ExtendedProviders"],
        xp["ExtendedProviders"]
    );
    drop(indexer);
}

/// An indexer that refuses announcements for a while (cid.contact answers 429 under load):
/// droplet keeps the head and announces it again at each pass until one is taken, and no
/// refusal is counted as delivered.
#[test]
fn an_announcement_the_indexer_refuses_is_sent_again_until_it_lands() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    let mut m = setup();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/announce", listener.local_addr().expect("addr"));
    let tries = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let (t, b) = (tries.clone(), bodies.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let n = t.fetch_add(1, Ordering::SeqCst);
            let answer: &[u8] = if n < 3 {
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow"
            } else {
                b.lock().expect("lock").push(body);
                b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
            };
            let _ = stream.write_all(answer);
        }
    });
    let publisher = m.serve_ipni(&url);
    let offline = m.propose();
    assert!(m.deal_cmd(&["import-data", &offline, &m.car]).status.success());
    m.publish_seal_and_activate(std::slice::from_ref(&offline));
    wait_for("an announcement taken", Duration::from_secs(60), None, || {
        (!bodies.lock().expect("lock").is_empty()).then_some(())
    });
    assert!(tries.load(Ordering::SeqCst) >= 4, "refused three times first");
    let log = m.droplet.as_ref().expect("droplet").log();
    assert!(
        log.contains("429 Too Many Requests slow"),
        "the refusal is logged with its reason"
    );
    // The head taken is the deal's advertisement, which the publisher serves.
    let head = String::from_utf8_lossy(
        &std::process::Command::new("curl")
            .args(["-sS", "-f"])
            .arg(format!("{publisher}/ipni/v1/ad/head"))
            .output()
            .expect("curl")
            .stdout,
    )
    .to_string();
    let cid: cid::Cid = head
        .split("\"head\":{\"/\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("head link")
        .parse()
        .expect("CID");
    let body = bodies.lock().expect("lock").last().cloned().expect("a body");
    assert!(
        body.windows(cid.to_bytes().len()).any(|w| w == cid.to_bytes()),
        "the announcement names the head"
    );
}

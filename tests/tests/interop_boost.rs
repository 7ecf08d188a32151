//! A boost-style Go client (`tests/go/boost/client`: boost's own `storagemarket/types` over
//! go-libp2p) against droplet on the devnet: it reads the miner from chain state, queries the
//! ask on `/fil/storage/ask/1.1.0` and verifies the worker's BLS signature in Go, proposes
//! offline deals on `/fil/storage/mk/1.2.0` (with boost's 5-field `DealParamsV120` and with the
//! 7 fields boost's own client and the Go droplet-client send there) and `/1.2.1`, and an online
//! deal whose CAR it serves over HTTP, then polls `/fil/storage/status/1.2.0` until every deal is
//! Active on chain.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::gopeers::run_json;
use tests::market::{MINER, Market, setup};
use tests::procs::{Proc, wait_for};

const CLIENT: &str = "go-boost-client";

/// The price droplet-client's tests offer: 0.0000001 FIL per GiB per epoch, for `padded` bytes.
fn price_per_epoch(padded: u64) -> String {
    (100_000_000_000u128 * u128::from(padded) / (1u128 << 30)).to_string()
}

struct Boost<'a> {
    m: &'a Market,
    node: String,
    token: String,
    key: String,
    padded: String,
}

impl Boost<'_> {
    fn chain_args(&self) -> Vec<&str> {
        vec!["--node", &self.node, "--token", &self.token, "--miner", MINER]
    }

    /// Propose the market's piece; the Go client's JSON answer.
    fn propose(&self, version: &str, fields: &str, duration: u64, online: &[&str]) -> Value {
        let duration = duration.to_string();
        let price = price_per_epoch(self.padded.parse().expect("size"));
        let mut args = vec!["propose"];
        args.extend(self.chain_args());
        args.extend([
            "--key",
            &self.key,
            "--protocol",
            version,
            "--fields",
            fields,
            "--piece",
            &self.m.piece,
            "--piece-size",
            &self.padded,
            "--root",
            &self.m.root,
            "--duration",
            &duration,
            "--price-per-epoch",
            &price,
        ]);
        args.extend_from_slice(online);
        run_json(CLIENT, &args)
    }

    fn status(&self, uuid: &str, key: &str) -> Value {
        let mut args = vec!["status"];
        args.extend(self.chain_args());
        args.extend(["--key", key, "--deal-uuid", uuid]);
        run_json(CLIENT, &args)
    }

    /// Poll the status protocol until the deal's checkpoint is `want`.
    fn wait_status(&self, uuid: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.status(uuid, &self.key);
            assert_eq!(s["Error"], "", "{s}");
            assert_eq!(s["DealStatus"]["Error"], "", "{s}");
            if s["DealStatus"]["Status"] == want {
                return s;
            }
            assert!(Instant::now() < deadline, "deal {uuid} never reached {want}: {s}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

#[test]
fn a_boost_client_queries_the_ask_proposes_on_1_2_0_and_1_2_1_and_follows_its_deals_to_active() {
    let m = setup();
    let (node, token) = m.node();
    let key = m.export_key("client");
    // Boost's client does not top up escrow; the data owner did, from the same address.
    m.client(&["actor-funds", "add", "5"]);
    let padded = (m.piece_size * 128 / 127).to_string();
    let b = Boost {
        m: &m,
        node,
        token,
        key,
        padded,
    };

    // The ask, with the worker's BLS signature checked in Go against the key on chain.
    let mut args = vec!["ask"];
    args.extend(b.chain_args());
    let ask = run_json(CLIENT, &args);
    assert_eq!(ask["SignatureVerified"], true, "{ask}");
    assert_eq!(ask["SignatureType"], 2, "the devnet's worker signs with BLS: {ask}");
    assert!(ask["Worker"].as_str().is_some_and(|w| w.starts_with("t3")), "{ask}");
    assert_eq!(ask["Ask"]["Miner"], MINER, "{ask}");
    assert_eq!(
        ask["Ask"]["Price"], "10000000000",
        "0.00000001 FIL per GiB per epoch: {ask}"
    );
    assert_eq!(ask["Ask"]["VerifiedPrice"], "0", "{ask}");

    // Offline deals: 1.2.0 with both field sets, 1.2.1; told apart by their durations.
    let offline = [("1.2.0", "5"), ("1.2.0", "7"), ("1.2.1", "7")];
    let mut deals = Vec::new();
    for (i, (version, fields)) in offline.iter().enumerate() {
        let d = b.propose(version, fields, 518_400 + i as u64, &[]);
        assert_eq!(d["Accepted"], true, "{version} with {fields} fields: {d}");
        assert_eq!(d["Message"], "", "{d}");
        let proposal = d["SignedProposalCid"].as_str().expect("cid").to_string();
        // droplet stored the very proposal the Go client signed, under the same identity.
        let stored = m.wait_state(&proposal, "StorageDealWaitingForData");
        assert_eq!(stored["Proposal"]["Client"], d["Client"], "{stored}");
        let s = b.wait_status(d["DealUUID"].as_str().expect("uuid"), "Accepted");
        assert_eq!(s["IsOffline"], true, "{s}");
        assert_eq!(s["DealStatus"]["SignedProposalCid"]["/"], proposal.as_str(), "{s}");
        assert!(m.deal_cmd(&["import-data", &proposal, &m.car]).status.success());
        deals.push((d, proposal));
    }

    // An online deal on 1.2.1: the Go client serves its CAR over HTTP behind a bearer token.
    let log = Path::new(&m.provider).join("../go-boost-serve.log");
    let mut server = Proc::start_path(&tests::gopeers::binary(CLIENT), &["serve", "--car", &m.car], &log);
    let line = wait_for(
        "the Go client's data server",
        Duration::from_secs(30),
        Some(&mut server),
        || std::fs::read_to_string(&log).ok().filter(|l| l.ends_with('\n')),
    );
    let (url, bearer) = line.trim().split_once(' ').expect("URL and token");
    let header = format!("Authorization: Bearer {bearer}");
    let size = std::fs::metadata(&m.car).expect("car").len().to_string();
    let d = b.propose(
        "1.2.1",
        "7",
        518_410,
        &["--http-url", url, "--http-header", &header, "--transfer-size", &size],
    );
    assert_eq!(d["Accepted"], true, "{d}");
    let proposal = d["SignedProposalCid"].as_str().expect("cid").to_string();
    deals.push((d, proposal));

    let proposals: Vec<String> = deals.iter().map(|(_, p)| p.clone()).collect();
    m.publish_seal_and_activate(&proposals);

    // Followed to the end on the status protocol, as boost's client does.
    let mut ids = Vec::new();
    for (d, proposal) in &deals {
        let uuid = d["DealUUID"].as_str().expect("uuid");
        let s = b.wait_status(uuid, "Complete");
        assert_eq!(s["DealUUID"], uuid, "{s}");
        assert_eq!(s["DealStatus"]["SignedProposalCid"]["/"], proposal.as_str(), "{s}");
        assert!(s["DealStatus"]["PublishCid"]["/"].is_string(), "published: {s}");
        assert_eq!(s["DealStatus"]["Proposal"]["Provider"], MINER, "{s}");
        let stored = m.deal(proposal);
        assert_eq!(s["DealStatus"]["ChainDealID"], stored["DealID"], "{s}");
        ids.push(stored["DealID"].as_u64().expect("deal ID"));
    }
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2, 3], "one publish, four deals on chain");
    let online = b.status(deals[3].0["DealUUID"].as_str().expect("uuid"), &b.key);
    assert_eq!(online["IsOffline"], false, "{online}");
    assert_eq!(online["TransferSize"].to_string(), size, "{online}");
    assert_eq!(online["NBytesReceived"].to_string(), size, "{online}");

    // A status request signed by someone else is refused, with the reason in the answer.
    let stranger = m.export_key("verified-client");
    let refused = b.status(deals[0].0["DealUUID"].as_str().expect("uuid"), &stranger);
    assert!(
        refused["Error"].as_str().is_some_and(|e| e.contains("signature")),
        "{refused}"
    );
    assert!(refused["DealStatus"].is_null(), "{refused}");

    // And a proposal droplet's checks refuse comes back unaccepted with droplet's reason.
    let bad = b.propose("1.2.1", "7", 1, &[]);
    assert_eq!(bad["Accepted"], false, "{bad}");
    assert!(bad["Message"].as_str().is_some_and(|m| m.contains("duration")), "{bad}");
    drop(server);
}

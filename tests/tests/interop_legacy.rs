//! A go-fil-markets client (`tests/go/legacy/client`: the `storagemarket/network` streams the
//! lotus client used) against droplet on the devnet, one protocol version at a time: the ask on
//! 1.1.0 and 1.0.1, offline proposals on mk/1.1.1, 1.1.0 and 1.0.1, and deal status on 1.1.0
//! and 1.0.1. Every signed answer is verified in Go against the worker's BLS key on chain, over
//! the bytes go-fil-markets' own client verifies; the deals are followed to Active.

use serde_json::Value;
use tests::gopeers::run_json;
use tests::market::{MINER, Market, setup};

const CLIENT: &str = "go-legacy-client";

/// `StorageDealStatus` codes (go-fil-markets).
const WAITING_FOR_DATA: u64 = 18;
const ACTIVE: u64 = 7;

fn price_per_epoch(padded: u64) -> String {
    (100_000_000_000u128 * u128::from(padded) / (1u128 << 30)).to_string()
}

fn go(m: &Market, cmd: &str, version: &str, extra: &[&str]) -> Value {
    let (node, token) = m.node();
    let mut args = vec![
        cmd,
        "--node",
        &node,
        "--token",
        &token,
        "--miner",
        MINER,
        "--version",
        version,
    ];
    args.extend_from_slice(extra);
    run_json(CLIENT, &args)
}

fn status(m: &Market, key: &str, version: &str, proposal: &str) -> Value {
    let s = go(m, "status", version, &["--key", key, "--proposal", proposal]);
    assert_eq!(s["SignatureVerified"], true, "{s}");
    assert_eq!(s["DealState"]["ProposalCid"]["/"], proposal, "{s}");
    s["DealState"].clone()
}

#[test]
fn a_go_fil_markets_client_asks_proposes_and_follows_offline_deals_on_every_legacy_version() {
    let m = setup();
    let key = m.export_key("client");
    m.client(&["actor-funds", "add", "5"]);

    for version in ["1.1.0", "1.0.1"] {
        let ask = go(&m, "ask", version, &[]);
        assert_eq!(ask["SignatureVerified"], true, "ask/{version}: {ask}");
        assert_eq!(ask["SignatureType"], 2, "{ask}");
        assert_eq!(ask["Ask"]["Miner"], MINER, "{ask}");
        assert_eq!(ask["Ask"]["Price"], "10000000000", "{ask}");
        assert_eq!(ask["Ask"]["MinPieceSize"], 256, "{ask}");
    }

    let padded = m.piece_size * 128 / 127;
    let (size, price) = (padded.to_string(), price_per_epoch(padded));
    let mut proposals = Vec::new();
    for (i, version) in ["1.1.1", "1.1.0", "1.0.1"].iter().enumerate() {
        let duration = (518_400 + i).to_string();
        let d = go(
            &m,
            "propose",
            version,
            &[
                "--key",
                &key,
                "--piece",
                &m.piece,
                "--piece-size",
                &size,
                "--root",
                &m.root,
                "--duration",
                &duration,
                "--price-per-epoch",
                &price,
            ],
        );
        assert_eq!(d["SignatureVerified"], true, "mk/{version}: {d}");
        let proposal = d["ProposalCid"].as_str().expect("cid").to_string();
        // The provider names the same proposal CID the Go client computed, and waits for data.
        assert_eq!(d["Response"]["Proposal"]["/"], proposal.as_str(), "{d}");
        assert_eq!(d["Response"]["State"], WAITING_FOR_DATA, "{d}");
        assert_eq!(d["Response"]["Message"], "", "{d}");
        m.wait_state(&proposal, "StorageDealWaitingForData");
        for status_version in ["1.1.0", "1.0.1"] {
            let s = status(&m, &key, status_version, &proposal);
            assert_eq!(s["State"], WAITING_FOR_DATA, "status/{status_version}: {s}");
            assert_eq!(s["FastRetrieval"], true, "{s}");
        }
        assert!(m.deal_cmd(&["import-data", &proposal, &m.car]).status.success());
        proposals.push(proposal);
    }

    m.publish_seal_and_activate(&proposals);
    for proposal in &proposals {
        let stored = m.deal(proposal);
        for version in ["1.1.0", "1.0.1"] {
            let s = status(&m, &key, version, proposal);
            assert_eq!(s["State"], ACTIVE, "status/{version}: {s}");
            assert_eq!(s["DealID"], stored["DealID"], "{s}");
            assert!(s["PublishCid"]["/"].is_string(), "{s}");
            assert_eq!(s["Proposal"]["PieceCID"]["/"], m.piece.as_str(), "{s}");
        }
    }
}

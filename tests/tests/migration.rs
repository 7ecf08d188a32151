//! Moving to droplet-rs with the deals: `droplet storage deal import-deal` takes a lotus-miner
//! dump (`MarketListIncompleteDeals`' answer) of the old market's deals into a fresh droplet for
//! the same miner. The Active deal is followed on and served (its piece indexed from the old
//! market's piece directory, added read-only); the deal that waited for its data is finished by
//! the new droplet to Active; a second import changes nothing; a boost dump of a deal not yet
//! published is refused with the reason (boost exports no client signature).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tests::market::{MINER, s, setup};
use tests::procs::{announce, run, start_droplet, wait_for};
use tests::retrieval::{retrieve, stderr};

/// What lotus-miner's go-fil-markets `MinerDeal` has of droplet's: no UUID, no droplet fields.
fn as_lotus_miner(mut d: Value) -> Value {
    let o = d.as_object_mut().expect("a deal");
    for k in [
        "ID",
        "PayloadSize",
        "Offset",
        "PieceStatus",
        "CreatedAt",
        "UpdatedAt",
        "StateName",
        "IsOffline",
        "Transfer",
        "PayloadCID",
        "NBytesReceived",
    ] {
        o.remove(k);
    }
    d
}

#[test]
fn a_provider_takes_its_deals_from_lotus_miner_to_a_fresh_droplet_and_serves_them() {
    let mut m = setup();
    // At the old market: a deal Active, and one waiting for its data.
    let active = m.propose();
    assert!(m.deal_cmd(&["import-data", &active, &m.car]).status.success());
    m.publish_seal_and_activate(std::slice::from_ref(&active));
    let waiting = m.propose();
    m.wait_state(&waiting, "StorageDealWaitingForData");
    let before = m.deal(&active);
    let dump = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "result": [as_lotus_miner(m.deal(&active)), as_lotus_miner(m.deal(&waiting))],
    });
    let dump_path = m._dir.path().join("lotus-miner-deals.json");
    std::fs::write(&dump_path, dump.to_string()).expect("dump");

    // The old market stops; a fresh droplet serves the miner (on chain under its peer ID) and
    // reads the old piece directory.
    let old_pieces = Path::new(&m.provider).join("pieces");
    m.droplet.take().expect("droplet").stop();
    let (fresh, repo) = start_droplet(m._dir.path(), "droplet2", &m._net, "wallet");
    m.droplet = Some(fresh);
    m.provider = repo;
    announce(&m.provider);
    m.droplet(&[
        "piece-storage",
        "add-fs",
        "--name",
        "old-market",
        "--path",
        &s(&old_pieces),
        "--read-only",
    ]);
    assert!(m.deals().is_empty());

    let out = m.droplet(&[
        "storage",
        "deal",
        "import-deal",
        &s(&dump_path),
        "--from",
        "lotus-miner",
    ]);
    assert!(out.contains("import 2 deals success"), "{out}");
    let again = m.droplet(&["storage", "deal", "import-deal", &s(&dump_path)]);
    assert_eq!(again.matches("is already here").count(), 2, "{again}");
    assert!(again.contains("import 0 deals success"), "{again}");
    assert_eq!(m.deals().len(), 2);

    // The Active deal as it stood, still Active under the chain tracker, and served.
    let taken = m.deal(&active);
    for k in [
        "State",
        "DealID",
        "SectorNumber",
        "PublishCid",
        "Proposal",
        "ClientSignature",
    ] {
        assert_eq!(taken[k], before[k], "{k}: {taken}");
    }
    assert_eq!(taken["PieceStatus"], "Proving");
    m.droplet(&["retrieval", "ask", "set", MINER]);
    let out = m._dir.path().join("retrieved.bin");
    wait_for(
        "a retrieval from the new droplet",
        Duration::from_secs(60),
        None,
        || {
            let o = retrieve(&m, &m.root, &out, &[]);
            if !o.status.success() {
                eprintln!("not yet: {}", stderr(&o));
            }
            o.status.success().then_some(())
        },
    );
    let original = std::fs::read(Path::new(&m.car).with_file_name("data.bin")).expect("data");
    assert_eq!(std::fs::read(&out).expect("retrieved"), original);
    assert_eq!(m.deal(&active)["State"], 7, "still Active");

    // The deal that waited for its data goes on here: data, publishing, sealing, Active.
    assert!(m.deal_cmd(&["import-data", &waiting, &m.car]).status.success());
    m.publish_seal_and_activate(std::slice::from_ref(&waiting));

    // Boost's GraphQL dump of an offline deal not yet published: refused, nothing recorded.
    let p = &before["Proposal"];
    let boost = json!({"data": {"deals": {"totalCount": 1, "deals": [{
        "ID": "5f0c1a44-2c55-4d8b-9a53-1f7e0c0f2b11",
        "ClientAddress": p["Client"], "ProviderAddress": p["Provider"],
        "CreatedAt": "2024-01-02T03:04:05Z",
        "PieceCid": p["PieceCID"]["/"], "PieceSize": {"n": p["PieceSize"].to_string()},
        "IsVerified": false, "ProposalLabel": p["Label"],
        "ProviderCollateral": {"n": "0"}, "ClientCollateral": {"n": "0"},
        "StoragePricePerEpoch": {"n": "0"},
        "StartEpoch": {"n": "999999"}, "EndEpoch": {"n": "1999999"},
        "ClientPeerID": before["Client"], "DealDataRoot": m.root,
        "SignedProposalCid": m.root, "InboundFilePath": "", "ChainDealID": {"n": "0"}, "PublishCid": "",
        "IsOffline": true, "Transfer": {"Type": "", "Size": {"n": "0"}},
        "Checkpoint": "Accepted", "Err": "",
        "Sector": {"ID": {"n": "0"}, "Offset": {"n": "0"}, "Length": {"n": "0"}},
        "Message": "Awaiting Offline Data Import",
    }]}}});
    let boost_path = m._dir.path().join("boost-deals.json");
    std::fs::write(&boost_path, boost.to_string()).expect("dump");
    let refused = run(
        "droplet",
        &[
            "--repo",
            &m.provider,
            "storage",
            "deal",
            "import-deal",
            &s(&boost_path),
            "--from",
            "boost",
        ],
    );
    assert!(!refused.status.success());
    let why = stderr(&refused);
    assert!(
        why.contains("none imported") && why.contains("no client signature"),
        "{why}"
    );
    assert_eq!(m.deals().len(), 2);
}

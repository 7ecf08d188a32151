//! Paid retrieval with go-fil-markets (`tests/go/legacy`): its retrieval client
//! (`retrievalmarket/impl.NewClient`, lotus' client, on go-data-transfer and go-graphsync) queries
//! droplet, pays every interval with vouchers on a real payment channel of the devnet, and gets
//! the same CAR as droplet-client; droplet redeems what it was paid. And the other way round:
//! droplet-client pays go-fil-markets' retrieval provider (lotus-miner's) for a file, every
//! voucher checked by the provider against the channel on chain.

use std::time::Duration;

use serde_json::Value;
use tests::car::car_cids;
use tests::gopeers::{self, run_json};
use tests::market::{MINER, s, setup};
use tests::procs::{DEVNET_MINER, Proc, point_miner_at_for, run_ok, wait_for};
use tests::retrieval::{
    PAYMENT_INTERVAL, chain_rpc, first_channel, retrieve, set_priced_ask, stderr, total_received, two_active_deals,
};

/// The Go peers' flags for the devnet's JSON-RPC and the miner.
fn chain_flags(m: &tests::market::Market) -> Vec<String> {
    let (node, token) = m.node();
    ["--node", &node, "--token", &token, "--miner", MINER]
        .map(String::from)
        .to_vec()
}

#[test]
fn a_go_fil_markets_client_pays_droplet_every_interval_and_gets_the_same_blocks() {
    let m = setup();
    let (root, big) = two_active_deals(&m);
    set_priced_ask(&m);
    let dir = tempfile::tempdir().expect("tempdir");
    let go_car = dir.path().join("go.car");
    let key = m.export_key("client");
    let go_car_s = s(&go_car);
    let mut args = chain_flags(&m);
    args.extend(["--key", &key, "--root", &root, "--out", &go_car_s].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_json("go-legacy-retrieve", &args);
    assert_eq!(r["Status"], "DealStatusCompleted", "{r}");
    // The query answered the ask droplet was given: 1000 attoFIL a byte, every 16 KiB.
    let q = &r["Query"];
    assert_eq!(q["MinPricePerByte"], "1000", "{r}");
    assert_eq!(q["MaxPaymentInterval"], PAYMENT_INTERVAL, "{r}");
    assert_eq!(q["UnsealPrice"], "0", "{r}");
    assert!(q["Size"].as_u64().expect("size") >= big.len() as u64, "{r}");
    let events: Vec<&str> = r["Events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    // Its completion is finalized whichever way it came: checked (CompleteVerified) after
    // droplet's Complete message or, when the last payment is asked for again once all blocks
    // are in, straight from that request; or, when droplet's Complete finds the client already
    // Finalizing (its last payment sent), straight to FinalizingBlockstore (go-fil-markets'
    // client FSM has no CompleteVerified on that path).
    for step in [
        "ClientEventPaymentChannelCreateInitiated",
        "ClientEventPaymentChannelReady",
        "ClientEventLaneAllocated",
        "ClientEventBlockstoreFinalized",
    ] {
        assert!(events.contains(&step), "{step}: {events:?}");
    }
    assert!(
        events.contains(&"ClientEventCompleteVerified") || events.contains(&"ClientEventComplete"),
        "completed: {events:?}"
    );
    let payments = events.iter().filter(|e| **e == "ClientEventPaymentSent").count();
    assert!(payments >= 3, "{payments} payments: {events:?}");

    // What the Go client spent is what droplet's deal received, to the attoFIL, and 1000 a
    // byte of what the client received.
    let spent: u128 = r["FundsSpent"].as_str().expect("spent").parse().expect("number");
    let received = r["TotalReceived"].as_u64().expect("received");
    assert_eq!(spent, u128::from(received) * 1000, "{r}");
    assert_eq!(total_received(&m), spent);
    let list = m.droplet(&["retrieval", "deal", "list"]);
    assert!(list.contains("DealStatusCompleted"), "{list}");

    // The same blocks, in the same order, as droplet-client's CAR of the same root.
    let ours = dir.path().join("ours.car");
    let o = retrieve(&m, &root, &ours, &["--maxPrice", "1", "--car"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (go, ours) = (
        std::fs::read(&go_car).expect("go car"),
        std::fs::read(&ours).expect("our car"),
    );
    assert_eq!(car_cids(&go), car_cids(&ours));
    assert_eq!(go, ours, "byte-identical CARs");

    // droplet redeems the Go client's vouchers: the channel owes it what the client spent.
    let ch = r["PaymentChannel"].as_str().expect("channel");
    let submitted = m.droplet(&["paych", "voucher", "submit", ch]);
    assert_eq!(submitted.matches("submitted:").count(), 1, "{submitted}");
    let state = chain_rpc(&m, "Filecoin.StateReadState", serde_json::json!([ch, null]));
    let st = &state["result"]["State"];
    let to_send: u128 = st["ToSend"].as_str().expect("ToSend").parse().expect("n");
    assert_eq!(to_send, spent, "{state}");
    let payee = chain_rpc(
        &m,
        "Filecoin.StateLookupID",
        serde_json::json!([q["PaymentAddress"], null]),
    );
    assert_eq!(
        st["To"], payee["result"],
        "the channel pays the query's payment address: {state}"
    );
}

/// The JSON objects the Go provider has printed, one a line.
fn provider_output(p: &Proc) -> Vec<Value> {
    p.log()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// What the Go provider printed under `key` (its vouchers, its deal events).
fn provider_lines(p: &Proc, key: &str) -> Vec<Value> {
    provider_output(p)
        .into_iter()
        .filter_map(|v| v.get(key).cloned())
        .collect()
}

#[test]
fn droplet_client_pays_a_go_fil_markets_provider_every_interval() {
    let m = setup();
    let dir = tempfile::tempdir().expect("tempdir");
    // A 2.5 MiB file as a CAR and its piece, served by go-fil-markets for the devnet miner.
    let big: Vec<u8> = tests::gorand::GoRandStream::bytes(11, 5 << 19);
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &big).expect("write");
    let car = dir.path().join("big.car");
    let info: Value = serde_json::from_str(&run_ok(
        "droplet-client",
        &["data", "generate-car", &s(&file), &s(&car), "--json"],
    ))
    .expect("json");
    let root = info["Root"]["/"].as_str().expect("root").to_string();
    let cp: Value =
        serde_json::from_str(&run_ok("droplet-client", &["data", "commP", &s(&car), "--json"])).expect("json");
    let piece = cp["Root"]["/"].as_str().expect("piece").to_string();
    let size = cp["Size"].as_u64().expect("size").to_string();
    let car_s = s(&car);
    let mut args = chain_flags(&m);
    args.extend(
        [
            "--car",
            &car_s,
            "--root",
            &root,
            "--piece",
            &piece,
            "--piece-size",
            &size,
            "--price-per-byte",
            "1000",
            // Every 1 MiB: the file (1 MiB blocks and a root) ends inside its third interval,
            // so the provider asks for the last payment when it completes.
            "--payment-interval",
            "1048576",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let provider = Proc::start_path(
        &gopeers::binary("go-legacy-provider"),
        &args,
        &dir.path().join("provider.log"),
    );
    let listening = wait_for("the Go provider listening", Duration::from_secs(60), None, || {
        provider_output(&provider)
            .into_iter()
            .find(|v| v.get("PeerID").is_some())
    });
    let id = listening["PeerID"].as_str().expect("peer id");
    let addr = listening["Addrs"][0].as_str().expect("an address");
    point_miner_at_for(&m.provider, DEVNET_MINER, id, addr);

    let got = dir.path().join("got.bin");
    let o = retrieve(&m, &root, &got, &["--maxPrice", "1"]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{stdout}{}\n{}", stderr(&o), provider.log());
    assert_eq!(std::fs::read(&got).expect("retrieved"), big, "the same bytes");
    let payments = stdout.matches("PaymentSent").count();
    assert!(payments >= 3, "{payments} payments: {stdout}");
    // go-fil-markets completes its transfer paused, asks for the last payment, then completes.
    for step in [
        "LastPaymentRequested (SendFundsLastPayment)",
        "PaymentSent (Finalizing)",
        "BlockstoreFinalized (Completed)",
    ] {
        assert!(stdout.contains(step), "{step}: {stdout}");
    }

    // The provider accepted a voucher per payment, on the client's channel to the worker, and
    // its deal completed having received what they add up to: 1000 attoFIL a byte it sent.
    let done = wait_for("the provider's deal completed", Duration::from_secs(30), None, || {
        provider_lines(&provider, "Deal")
            .into_iter()
            .find(|d| d["Status"] == "DealStatusCompleted")
    });
    let vouchers = provider_lines(&provider, "Voucher");
    assert!(vouchers.len() >= 3, "{}", provider.log());
    let (_, ch) = first_channel(&m);
    let added: u128 = vouchers
        .iter()
        .map(|v| {
            assert_eq!(v["Channel"], ch.as_str(), "{v}");
            v["Added"].as_str().expect("added").parse::<u128>().expect("n")
        })
        .sum();
    let last = vouchers.last().expect("a voucher");
    assert_eq!(
        last["Amount"].as_str().expect("amount").parse::<u128>().expect("n"),
        added
    );
    assert_eq!(done["FundsReceived"], added.to_string(), "{done}");
    let bytes_paid = added / 1000;
    assert!(
        bytes_paid >= big.len() as u128,
        "{added} attoFIL for {} bytes",
        big.len()
    );
    // The client's own record of the channel shows the same best voucher.
    let best = m.client(&["paych", "voucher", "best-spendable", &ch]);
    assert!(best.contains(&format!("Nonce {}", last["Nonce"])), "{best}\n{last}");
    provider.stop();
}

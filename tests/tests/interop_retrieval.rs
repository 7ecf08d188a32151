//! Paid retrieval with go-fil-markets (`tests/go/legacy`): its retrieval client
//! (`retrievalmarket/impl.NewClient`, lotus' client, on go-data-transfer and go-graphsync) queries
//! droplet, pays every interval with vouchers on a real payment channel of the devnet, and gets
//! the same CAR as droplet-client; droplet redeems what it was paid.

use tests::car::car_cids;
use tests::gopeers::run_json;
use tests::market::{MINER, s, setup};
use tests::retrieval::{chain_rpc, retrieve, set_priced_ask, stderr, total_received, two_active_deals};

#[test]
fn a_go_fil_markets_client_pays_droplet_every_interval_and_gets_the_same_blocks() {
    let m = setup();
    let (root, big) = two_active_deals(&m);
    set_priced_ask(&m);
    let dir = tempfile::tempdir().expect("tempdir");
    let go_car = dir.path().join("go.car");
    let (node, token) = m.node();
    let key = m.export_key("client");
    let r = run_json(
        "go-legacy-retrieve",
        &[
            "--node",
            &node,
            "--token",
            &token,
            "--miner",
            MINER,
            "--key",
            &key,
            "--root",
            &root,
            "--out",
            &s(&go_car),
        ],
    );
    assert_eq!(r["Status"], "DealStatusCompleted", "{r}");
    // The query answered the ask droplet was given: 1000 attoFIL a byte, every 512 KiB.
    let q = &r["Query"];
    assert_eq!(q["MinPricePerByte"], "1000", "{r}");
    assert_eq!(q["MaxPaymentInterval"], 512 << 10, "{r}");
    assert_eq!(q["UnsealPrice"], "0", "{r}");
    assert!(q["Size"].as_u64().expect("size") >= big.len() as u64, "{r}");
    let events: Vec<&str> = r["Events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    for step in [
        "ClientEventPaymentChannelCreateInitiated",
        "ClientEventPaymentChannelReady",
        "ClientEventLaneAllocated",
        "ClientEventComplete",
    ] {
        assert!(events.contains(&step), "{step}: {events:?}");
    }
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

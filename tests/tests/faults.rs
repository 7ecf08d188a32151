//! Chain faults: the node goes away for a minute while deals wait for their collateral deposit and for
//! their publish message. The deals wait without spinning (droplet's CPU stays near idle),
//! saying why to the operator and, in the status protocol's sealing status, to the client;
//! once the node is back they go on to Active.

use std::time::{Duration, Instant};

use market_crypto::{Key, KeyInfo};
use market_p2p::{Frame, Host, HostConfig, Multiaddr, StreamProtocol, protocols};
use market_types::Uuid;
use market_types::boost::{DealStatusRequest, DealStatusResponse};
use market_types::cbor;
use serde_json::Value;
use tests::market::setup;
use tests::memory::cpu_time;

/// `/fil/storage/status/1.2.0` asked of droplet at `provider` for deal `uuid`, signed with the
/// client's `key` (lotus export form).
fn status_over_libp2p(provider: &str, key: &str, uuid: &str) -> DealStatusResponse {
    let key = Key::from_info(&KeyInfo::parse(key).expect("key")).expect("key");
    let uuid: Uuid = uuid.parse().expect("uuid");
    let request = DealStatusRequest {
        deal_uuid: uuid,
        signature: key.sign(uuid.as_bytes()),
    };
    let addr: Multiaddr = provider.parse().expect("multiaddr");
    let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() else {
        panic!("{provider} names no peer");
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let host = Host::start(
            HostConfig {
                keypair: market_p2p::identity::Keypair::generate_ed25519(),
                listen: Vec::new(),
                announce: Vec::new(),
                agent: "faults-test".into(),
                request_timeout: Duration::from_secs(30),
            },
            Default::default(),
        )
        .await
        .expect("host");
        let frame = Frame::new(StreamProtocol::new(protocols::STATUS_1_2_0), cbor::to_vec(&request));
        let answer = host.request(peer, vec![addr.clone()], frame).await.expect("an answer");
        cbor::from_slice(&answer.bytes).expect("a status response")
    })
}

fn state(d: &Value) -> String {
    d["StateName"].as_str().unwrap_or_default().to_string()
}

#[test]
fn deals_wait_out_a_node_outage_without_spinning_say_why_and_then_reach_active() {
    let mut m = setup();
    // A: funded and waiting to be published.
    let a = m.propose();
    let out = m.deal_cmd(&["import-data", &a, &m.car]);
    assert!(out.status.success(), "{out:?}");
    m.wait_state(&a, "StorageDealPublish");
    // B: accepted, waiting for its data.
    let out = m.init("0.0000001", "181 days", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let b = String::from_utf8_lossy(&out.stdout).trim().to_string();

    // The client's key and droplet's address, for asking the status as a client does.
    let key = m.export_key("client");
    let provider = m.libp2p_address();
    m._net.kill();
    // B's data arrives: its deposit cannot be sent; A is due for publishing: its message
    // cannot be sent.
    let out = m.deal_cmd(&["import-data", &b, &m.car]);
    assert!(out.status.success(), "{out:?}");
    let out = m.deal_cmd(&["pending-publish", "--publish-now"]);
    assert!(out.status.success(), "{out:?}");
    let pid = m.droplet.as_ref().expect("droplet").pid();
    std::thread::sleep(Duration::from_secs(2));
    // The node stays away for a full minute (the retries back off to one every few seconds).
    let (t0, c0) = (Instant::now(), cpu_time(pid));
    std::thread::sleep(Duration::from_secs(58));
    let busy = cpu_time(pid) - c0;
    let idle_share = busy.as_secs_f64() / t0.elapsed().as_secs_f64();
    assert!(
        idle_share < 0.25,
        "droplet used {busy:?} of CPU in {:?} while the node was away",
        t0.elapsed()
    );
    // Neither deal failed; each says what it waits for, to the operator and, through the
    // status protocol, to the client.
    for (p, waits) in [(&a, "waiting to publish: "), (&b, "waiting to set collateral aside: ")] {
        let d = m.deal(p);
        let s = state(&d);
        assert!(
            !matches!(
                s.as_str(),
                "StorageDealFailing" | "StorageDealError" | "StorageDealRejecting"
            ),
            "{p} failed during the outage: {d}"
        );
        let message = d["Message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(waits) && message.contains("cannot reach the"),
            "{p}: {message}"
        );
        // The client's own daemon signs through the devnet's wallet here, so it is asked as a
        // client would, with the client's key.
        let uuid = d["ID"].as_str().expect("the deal's UUID");
        let answer = status_over_libp2p(&provider, &key, uuid);
        assert!(answer.error.is_empty(), "{answer:?}");
        let st = answer.deal_status.expect("a deal status");
        assert!(st.error.is_empty(), "not a failure: {st:?}");
        assert!(st.sealing_status.starts_with(waits), "{st:?}");
    }

    m._net.restart();
    // Both go on by themselves: B's deposit, then both published (A's batch was due).
    for p in [&a, &b] {
        tests::procs::wait_for("published after the outage", Duration::from_secs(120), None, || {
            let d = m.deal(p);
            if state(&d) == "StorageDealPublish" {
                let _ = m.deal_cmd(&["pending-publish", "--publish-now"]);
            }
            d["PublishCid"]["/"].is_string().then_some(())
        });
    }
    m.wait_state(&a, "StorageDealAwaitingPreCommit");
    m.wait_state(&b, "StorageDealAwaitingPreCommit");
    let sealed = m.seal_once();
    assert!(sealed.starts_with("sealed sector"), "{sealed}");
    m.wait_state(&a, "StorageDealActive");
    m.wait_state(&b, "StorageDealActive");
    // Each was published by one message.
    let (da, db) = (m.deal(&a), m.deal(&b));
    for d in [&da, &db] {
        assert_eq!(state(d), "StorageDealActive", "{d}");
        assert!(d["PublishCid"]["/"].is_string(), "{d}");
    }
}

/// `Reserved Funds:` of `droplet actor-funds balances <miner>`.
fn reserved(m: &tests::market::Market, miner: &str) -> String {
    let out = m.droplet(&["actor-funds", "balances", miner]);
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Reserved Funds:"))
        .unwrap_or_else(|| panic!("no reserved funds in {out}"))
        .trim()
        .to_string()
}

fn failed(d: &Value) -> bool {
    matches!(state(d).as_str(), "StorageDealFailing" | "StorageDealError")
}

/// The deal once it has failed: its state and message.
fn wait_failed(m: &tests::market::Market, proposal: &str) -> Value {
    tests::procs::wait_for("the deal to fail", Duration::from_secs(60), None, || {
        let d = m.deal(proposal);
        failed(&d).then_some(d)
    })
}

#[test]
fn a_node_method_that_errors_fails_the_deal_that_needs_it_with_the_reason_and_the_market_goes_on() {
    let m = setup();
    let a = m.propose();
    let provider = m.libp2p_address();
    let key = m.export_key("client");
    // The node answers errors for market balances while A's collateral is set aside.
    let fault = tests::retrieval::chain_rpc(
        &m,
        "Devnet.FailMethod",
        serde_json::json!(["Filecoin.StateMarketBalance", 1_000_000]),
    );
    assert!(fault.get("result").is_some(), "{fault}");
    let out = m.deal_cmd(&["import-data", &a, &m.car]);
    assert!(out.status.success(), "{out:?}");
    let d = wait_failed(&m, &a);
    let message = d["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains("market balance") && message.contains("StateMarketBalance is failing"),
        "the reason is shown: {message}"
    );
    // The client is told the same through the status protocol.
    let uuid = d["ID"].as_str().expect("the deal's UUID");
    let st = status_over_libp2p(&provider, &key, uuid)
        .deal_status
        .expect("a deal status");
    assert!(st.error.contains("StateMarketBalance is failing"), "{st:?}");
    assert!(
        d["AddFundsCid"].is_null() && d["PublishCid"].is_null(),
        "no message sent for it: {d}"
    );

    // The fault ends: nothing stays set aside for A, and the next deal goes through.
    tests::retrieval::chain_rpc(
        &m,
        "Devnet.FailMethod",
        serde_json::json!(["Filecoin.StateMarketBalance", 0]),
    );
    assert_eq!(reserved(&m, "t01000"), "0 FIL");
    let b = m.propose();
    let out = m.deal_cmd(&["import-data", &b, &m.car]);
    assert!(out.status.success(), "{out:?}");
    m.publish_seal_and_activate(std::slice::from_ref(&b));
    assert!(failed(&m.deal(&a)), "A stays failed");
}

#[test]
fn a_publish_message_that_fails_on_chain_fails_its_deals_with_the_exit_code_and_releases_their_collateral() {
    let m = setup();
    let a = m.propose();
    let out = m.deal_cmd(&["import-data", &a, &m.car]);
    assert!(out.status.success(), "{out:?}");
    m.wait_state(&a, "StorageDealPublish");
    assert_ne!(reserved(&m, "t01000"), "0 FIL", "A's collateral is set aside");

    // The miner's owner empties the escrow behind droplet's back (as `lotus-miner actor
    // withdraw` from another tool would): the market actor will refuse A's publication.
    let owner = tests::market::account(&m._net, "owner");
    let bal = tests::retrieval::chain_rpc(&m, "Filecoin.StateMarketBalance", serde_json::json!(["t01000", null]));
    let escrow =
        serde_json::from_value::<market_types::json::Json<market_types::TokenAmount>>(bal["result"]["Escrow"].clone())
            .expect("the escrow")
            .0;
    let params = market_types::chain::WithdrawBalanceParams {
        provider_or_client_address: market_types::address::parse("t01000").expect("address"),
        amount: escrow,
    };
    use base64::Engine;
    let msg = serde_json::json!({
        "Version": 0, "To": "t05", "From": owner, "Nonce": 0, "Value": "0",
        "GasLimit": 0, "GasFeeCap": "0", "GasPremium": "0", "Method": 3,
        "Params": base64::engine::general_purpose::STANDARD.encode(cbor::to_vec(&params)),
    });
    let sent = tests::retrieval::chain_rpc(&m, "Filecoin.MpoolPushMessage", serde_json::json!([msg, null]));
    let cid = sent["result"]["CID"].clone();
    assert!(cid.is_object(), "{sent}");
    let landed = tests::retrieval::chain_rpc(&m, "Filecoin.StateWaitMsg", serde_json::json!([cid, 1, -1, true]));
    assert_eq!(landed["result"]["Receipt"]["ExitCode"], 0, "the withdrawal: {landed}");

    let out = m.deal_cmd(&["pending-publish", "--publish-now"]);
    assert!(out.status.success(), "{out:?}");
    let d = wait_failed(&m, &a);
    assert!(d["PublishCid"]["/"].is_string(), "the message was sent: {d}");
    let message = d["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains("failed on chain with exit code 16 (ErrIllegalArgument)"),
        "{message}"
    );
    // Its collateral is no longer held back: the ledger agrees with the chain.
    assert_eq!(reserved(&m, "t01000"), "0 FIL");

    // The next deal deposits what the escrow lacks and reaches Active.
    let b = m.propose();
    let out = m.deal_cmd(&["import-data", &b, &m.car]);
    assert!(out.status.success(), "{out:?}");
    m.publish_seal_and_activate(std::slice::from_ref(&b));
    assert!(m.deal(&b)["AddFundsCid"]["/"].is_string(), "B sent its own deposit");
}

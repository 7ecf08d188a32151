//! Retrieval between real processes: deals made Active on the devnet, then their data fetched
//! back with `droplet-client retrieval retrieve` (graphsync and data-transfer between our two
//! daemons) and by lassie (`--protocols graphsync`, pinned to droplet), byte for byte; and the
//! retrievals droplet cannot serve, each refused with the reason.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use tests::car::car_cids;
use tests::gopeers;
use tests::market::{MINER, Market, s, setup};
use tests::procs::run;
use tests::retrieval::{
    PAYMENT_INTERVAL, chain_rpc, client_rpc, first_channel, retrieve, set_priced_ask, stderr, total_received,
    two_active_deals,
};

#[test]
fn free_retrievals_between_our_daemons_and_by_lassie_bring_back_the_same_bytes() {
    let m = setup();
    let (big_root, big) = two_active_deals(&m);
    // droplet's quick start sets the ask naming the payment address: it becomes the payment
    // address of the one miner served, and a key the signer does not hold is refused.
    let owner = tests::market::account(&m._net, "owner");
    let set = m.droplet(&["retrieval", "ask", "set", &owner]);
    assert!(
        set.contains(&format!("retrieval payment address of {MINER} set to {owner}")),
        "{set}"
    );
    let stranger = "t1d2xrzcslx7xlbbylc5c3d5lvandqw4iwl6epxba";
    let refused = run("droplet", &["--repo", &m.provider, "retrieval", "ask", "set", stranger]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not hold the key"),
        "{}",
        stderr(&refused)
    );
    let found = m.client(&["retrieval", "find", &big_root]);
    assert!(found.starts_with(&format!("RETRIEVAL {owner}@")), "{found}");
    let dir = tempfile::tempdir().expect("tempdir");

    // The query says what the provider serves and at what price.
    let ask = m.client(&["retrieval", "query-ask", MINER, &big_root]);
    assert!(ask.contains("Price per byte: 0 FIL"), "{ask}");
    assert!(ask.contains("Unseal price: 0 FIL"), "{ask}");

    // The offline deal's data as files and as a CAR: the same file, the same blocks.
    let data = dir.path().join("data.bin");
    let o = retrieve(&m, &m.root, &data, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("DealProposed (WaitForAcceptance)"), "{stdout}");
    assert!(stdout.contains("BlockstoreFinalized (Completed)"), "{stdout}");
    assert!(stdout.trim_end().ends_with("Success"), "{stdout}");
    let original = std::fs::read(Path::new(&m.car).with_file_name("data.bin")).expect("data");
    assert_eq!(std::fs::read(&data).expect("retrieved"), original);
    let car = dir.path().join("data.car");
    let o = retrieve(&m, &m.root, &car, &["--car"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = car_cids(&std::fs::read(&m.car).expect("car"));
    assert_eq!(car_cids(&std::fs::read(&car).expect("retrieved car")), want);

    // The multi-block file of the online deal, written while it arrives: no part file is
    // left beside it.
    let got = dir.path().join("big.bin");
    let o = retrieve(&m, &big_root, &got, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&got).expect("retrieved"), big);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".part")), "{names:?}");

    // Exported again from the repo (its inner nodes) and that file (its leaves, each checked):
    // as a file elsewhere, and as the same CAR a --car retrieval brings.
    let listed = client_rpc(&m, "ClientListRetrievals", serde_json::json!([]));
    let deal = listed["result"]
        .as_array()
        .unwrap_or_else(|| panic!("retrievals: {listed}"))
        .iter()
        .filter(|r| r["PayloadCID"]["/"] == big_root.as_str())
        .filter_map(|r| r["ID"].as_u64())
        .max()
        .expect("the retrieval");
    let export = |path: &Path, car: bool| {
        client_rpc(
            &m,
            "ClientExport",
            serde_json::json!([{"Root": {"/": big_root}, "DealID": deal}, {"Path": path, "IsCAR": car}]),
        )
    };
    let again = dir.path().join("again.bin");
    let r = export(&again, false);
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(std::fs::read(&again).expect("exported"), big);
    let big_car = dir.path().join("big.car");
    let o = retrieve(&m, &big_root, &big_car, &["--car"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let from_file = dir.path().join("from-file.car");
    let r = export(&from_file, true);
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(
        std::fs::read(&from_file).expect("exported car"),
        std::fs::read(&big_car).expect("retrieved car")
    );
    // A changed file is not exported as the retrieval's data.
    let mut changed = big.clone();
    changed[1000] ^= 1;
    std::fs::write(&got, &changed).expect("change");
    let r = export(&dir.path().join("bad.bin"), false);
    let why = r["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("was changed since the retrieval"), "{r}");

    // Both sides recorded the deals as completed.
    let list = m.droplet(&["retrieval", "deal", "list"]);
    assert_eq!(list.matches("DealStatusCompleted").count(), 4, "{list}");
    let mine = m.client(&["retrieval", "list"]);
    assert_eq!(mine.matches("Completed").count(), 4, "{mine}");

    // droplet answers the transports protocol (which lassie asks a provider named without a
    // protocol hint) with its libp2p addresses: graphsync.
    let (peer, addr) = tests::procs::announce(&m.provider);
    let protocols = m.droplet(&["retrieval", "protocols", MINER]);
    assert!(protocols.contains(&format!("peer {peer}")), "{protocols}");
    assert!(protocols.contains("  libp2p\n"), "{protocols}");
    assert!(protocols.contains(&format!("    {addr}")), "{protocols}");

    // lassie, pinned to droplet, gets the same blocks over graphsync and verifies them.
    let lassie_car = dir.path().join("lassie.car");
    let out = Command::new(gopeers::binary("lassie"))
        .args([
            "fetch",
            "--protocols",
            "graphsync",
            "--providers",
            &format!("{addr}/p2p/{peer}"),
            "--global-timeout",
            "60s",
            "-o",
        ])
        .arg(&lassie_car)
        .arg(&big_root)
        .current_dir(dir.path())
        .output()
        .expect("run lassie");
    assert!(
        out.status.success(),
        "lassie failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    let from_lassie: HashSet<_> = car_cids(&std::fs::read(&lassie_car).expect("lassie's car"))
        .into_iter()
        .collect();
    let ours = dir.path().join("big.car");
    assert!(retrieve(&m, &big_root, &ours, &["--car"]).status.success());
    let from_us: HashSet<_> = car_cids(&std::fs::read(&ours).expect("our car")).into_iter().collect();
    assert!(from_us.len() > 3, "a multi-block DAG: {}", from_us.len());
    assert_eq!(from_lassie, from_us);
}

#[test]
fn retrievals_droplet_cannot_serve_are_refused_with_the_reason() {
    let m = setup();
    let offline = m.propose();
    assert!(m.deal_cmd(&["import-data", &offline, &m.car]).status.success());
    m.publish_seal_and_activate(std::slice::from_ref(&offline));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");

    // No ask yet: the query names the missing ask.
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("has no retrieval ask"), "{}", stderr(&o));

    // A priced ask and the default --maxPrice 0: refused before anything is proposed.
    m.droplet(&["retrieval", "ask", "set", MINER, "--price", "1fil"]);
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("failed to find offer satisfying maxPrice"),
        "{}",
        stderr(&o)
    );

    // A CID no deal holds.
    m.droplet(&["retrieval", "ask", "set", MINER, "--price", "0"]);
    let unknown = "bafk2bzacedm4fq3i4nhkm2fc5wqnzwhh6u4hhbqvlm7ifjk5h3xdp6o6rgsra";
    let o = retrieve(&m, unknown, &out, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));

    // The miner stops considering online retrieval deals: the deal is rejected with the
    // reason; reset, it is served again.
    m.droplet(&["retrieval", "selection", "reject", MINER, "--online"]);
    let listed = m.droplet(&["retrieval", "selection", "list", MINER]);
    assert!(listed.contains("considering online retrieval deals: false"), "{listed}");
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not accepting online retrieval deals"),
        "{}",
        stderr(&o)
    );
    m.droplet(&["retrieval", "selection", "reset", MINER]);
    let listed = m.droplet(&["retrieval", "selection", "list", MINER]);
    assert!(listed.contains("considering online retrieval deals: true"), "{listed}");
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = std::fs::remove_file(&out);

    // The piece's unsealed copy is gone: the query says so instead of offering it.
    let pieces = Path::new(&m.provider).join("pieces");
    for e in std::fs::read_dir(&pieces).expect("pieces") {
        let p = e.expect("entry").path();
        std::fs::rename(&p, p.with_extension("moved")).expect("move the piece away");
    }
    let ask = run(
        "droplet-client",
        &["--repo", &m.client, "retrieval", "query-ask", MINER, &m.root],
    );
    let text = String::from_utf8_lossy(&ask.stdout);
    assert!(text.contains("no unsealed copy"), "{text}{}", stderr(&ask));
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no unsealed copy"), "{}", stderr(&o));

    // Only the retrieval made after the reset was recorded as served.
    let list = m.droplet(&["retrieval", "deal", "list"]);
    assert_eq!(list.lines().count(), 2, "the header and one deal: {list}");
}

#[test]
fn a_paid_retrieval_pays_every_interval_with_vouchers_the_provider_checks_on_chain() {
    let m = setup();
    let (big_root, big) = two_active_deals(&m);
    // 1000 attoFIL a byte (the ask is per GiB), a payment every 16 KiB.
    set_priced_ask(&m);
    let dir = tempfile::tempdir().expect("tempdir");
    let got = dir.path().join("big.bin");
    // Over the default --maxPrice of 0: refused.
    let o = retrieve(&m, &big_root, &got, &[]);
    assert!(!o.status.success());
    let o = retrieve(&m, &big_root, &got, &["--maxPrice", "1"]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{stdout}{}", stderr(&o));
    assert_eq!(std::fs::read(&got).expect("retrieved"), big);
    for step in [
        "PaymentChannelCreateInitiated (PaymentChannelCreating)",
        "LaneAllocated (Ongoing)",
        "BlockstoreFinalized (Completed)",
    ] {
        assert!(stdout.contains(step), "{step}: {stdout}");
    }
    // The provider was paid for every byte it sent, in at least three intervals.
    let list = m.droplet(&["retrieval", "deal", "list"]);
    assert!(list.contains("DealStatusCompleted"), "{list}");
    let receiver = list
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("receiver");
    let id = list
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("deal id");
    let deal: serde_json::Value =
        serde_json::from_str(&m.droplet(&["retrieval", "deal", "get", receiver, id])).expect("json");
    let sent = deal["TotalSent"].as_u64().expect("sent");
    assert!(sent >= big.len() as u64, "{deal}");
    assert_eq!(deal["FundsReceived"], (sent * 1000).to_string(), "{deal}");
    assert!(stdout.matches("PaymentSent").count() >= 3, "{stdout}");

    // A second retrieval to the same provider pays from what is left in the channel: no
    // chain message.
    let small = dir.path().join("data.bin");
    let o = retrieve(&m, &m.root, &small, &["--maxPrice", "1"]);
    let second = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{second}{}", stderr(&o));
    assert!(!second.contains("PaymentChannelCreateInitiated"), "{second}");
    assert!(!second.contains("PaymentChannelAddingFunds"), "{second}");
    assert!(second.contains("PaymentChannelReady"), "{second}");

    // Both sides see the channel and its two lanes (a retrieval each).
    let (channels, ch) = first_channel(&m);
    let inbound = m.droplet(&["paych", "list"]);
    assert!(inbound.contains(&ch), "{inbound}");
    let lanes = m.droplet(&["paych", "voucher", "list", &ch]);
    assert_eq!(lanes.lines().count(), 2, "a lane per retrieval: {lanes}");

    // The client's voucher commands work on the same channel.
    let row: Vec<String> = channels
        .lines()
        .nth(1)
        .expect("a channel")
        .split_whitespace()
        .map(String::from)
        .collect();
    let (from, to) = (&row[1], &row[2]);
    assert_eq!(m.client(&["paych", "add-funds", from, to, "0.000000001"]).trim(), ch);
    let voucher = m.client(&["paych", "voucher", "create", &ch, "0.0000000005", "--lane", "7"]);
    let voucher = voucher.trim();
    let checked = m.client(&["paych", "voucher", "check", &ch, voucher]);
    assert_eq!(checked.trim(), "voucher is valid");
    let client_cmd = |args: &[&str]| {
        let mut all = vec!["--repo", m.client.as_str(), "paych"];
        all.extend_from_slice(args);
        run("droplet-client", &all)
    };
    let lower = client_cmd(&["voucher", "create", &ch, "0.0000000004", "--lane", "7"]);
    assert!(!lower.status.success(), "a lane's amount only grows");
    let short = client_cmd(&["voucher", "create", &ch, "10", "--lane", "8"]);
    assert!(!short.status.success());
    assert!(stderr(&short).contains("short"), "{}", stderr(&short));
    let c = voucher.chars().nth(20).expect("long");
    let tampered = voucher.replace(c, if c == 'A' { "B" } else { "A" });
    assert!(!client_cmd(&["voucher", "check", &ch, &tampered]).status.success());
    let best = m.client(&["paych", "voucher", "best-spendable", &ch]);
    assert!(
        best.contains(&format!("Lane 7, Nonce 1: 0.0000000005 FIL; {voucher}")),
        "{best}"
    );
    assert_eq!(best.lines().count(), 3, "three lanes: {best}");
    let added = m.client(&["paych", "voucher", "add", &ch, voucher]);
    assert_eq!(added.trim(), "added: 0 FIL", "the lane's best again adds nothing");
    let status = m.client(&["paych", "status", &ch]);
    assert!(status.contains(&format!("Channel: {ch}")), "{status}");
    assert!(status.contains("Voucher Redeemed Amt: "), "{status}");
    // droplet redeems the best voucher of each lane: on chain, the channel owes it exactly
    // what its deals received.
    let submitted = m.droplet(&["paych", "voucher", "submit", &ch]);
    assert_eq!(submitted.matches("submitted:").count(), 2, "{submitted}");
    let state = chain_rpc(&m, "Filecoin.StateReadState", serde_json::json!([ch, null]));
    let to_send: u128 = state["result"]["State"]["ToSend"]
        .as_str()
        .expect("ToSend")
        .parse()
        .expect("n");
    assert_eq!(to_send, total_received(&m), "{state}");
    // The payer settles; droplet collects by itself once the channel has settled.
    m.client(&["paych", "settle", &ch]);
    tests::procs::wait_for(
        "the channel collected",
        std::time::Duration::from_secs(60),
        None,
        || m.droplet(&["paych", "list"]).contains("collected").then_some(()),
    );
    let gone = chain_rpc(&m, "Filecoin.StateGetActor", serde_json::json!([ch, null]));
    assert!(gone["error"].is_object(), "Collect deletes the channel: {gone}");
}

/// What the test client does with a deal response from droplet.
enum Step {
    Pay(Box<market_types::retrieval::RetrievalDealPayment>),
    Wait,
    Stop,
}

/// A retrieval of `root` from droplet by a client built on our data-transfer crate (deal
/// `id`, 1000 attoFIL a byte, a payment every 16 KiB): each deal response droplet sends goes
/// to `decide`, which pays, waits or stops. The responses, in order.
fn retrieve_in_process(
    m: &Market,
    root: &str,
    id: u64,
    mut decide: impl FnMut(&market_types::retrieval::RetrievalDealResponse) -> Step,
) -> Vec<market_types::retrieval::RetrievalDealResponse> {
    use data_transfer::DataTransfer;
    use data_transfer::client::ClientEvent;
    use data_transfer::message::TypedVoucher;
    use market_types::ipld::RawCbor;
    use market_types::retrieval::{
        RetrievalDealProposal, RetrievalDealResponse, RetrievalParams, VOUCHER_DEAL_PAYMENT, VOUCHER_DEAL_PROPOSAL,
    };

    let (peer, addr) = tests::procs::announce(&m.provider);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let (local, _, swarm) = graphsync::testing::swarm::host().await;
        let client = DataTransfer::new(
            swarm.behaviour(),
            local,
            std::sync::Arc::new(graphsync::MemoryStore::default()),
            std::sync::Arc::new(data_transfer::provider::ServesNothing),
            graphsync::net::Config::default(),
        )
        .expect("data-transfer");
        let provider: libp2p::Multiaddr = format!("{addr}/p2p/{peer}").parse().expect("addr");
        let provider_peer: libp2p::PeerId = peer.parse().expect("peer");
        graphsync::testing::swarm::drive(swarm, Some(provider));
        let root: cid::Cid = root.parse().expect("cid");
        let proposal = RetrievalDealProposal {
            id,
            payload_cid: root,
            params: RetrievalParams {
                piece_cid: None,
                selector: Some(market_types::ipld::all_selector()),
                unseal_price: Default::default(),
                price_per_byte: market_types::TokenAmount::from_atto(1000u64),
                payment_interval: PAYMENT_INTERVAL,
                payment_interval_increase: 0,
            },
        };
        let voucher = TypedVoucher {
            kind: VOUCHER_DEAL_PROPOSAL.into(),
            node: RawCbor::from_value(&proposal),
        };
        let sink = std::sync::Arc::new(graphsync::MemoryStore::default());
        let mut pull = loop {
            match client.pull(
                provider_peer,
                voucher.clone(),
                root,
                market_types::ipld::all_selector(),
                sink.clone(),
            ) {
                Ok(p) => break p,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        };
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, pull.events.recv()).await {
            let result = match &ev {
                ClientEvent::Accepted(Some(r))
                | ClientEvent::Rejected(Some(r))
                | ClientEvent::VoucherResult { result: Some(r), .. }
                | ClientEvent::Completed { result: Some(r), .. } => r.node.decode::<RetrievalDealResponse>().ok(),
                _ => None,
            };
            let Some(resp) = result else { continue };
            let step = decide(&resp);
            seen.push(resp);
            match step {
                Step::Pay(payment) => {
                    let v = TypedVoucher {
                        kind: VOUCHER_DEAL_PAYMENT.into(),
                        node: RawCbor::from_value(&*payment),
                    };
                    client.send_voucher(&pull, &v).await.expect("send the payment");
                }
                Step::Wait => {}
                Step::Stop => {
                    let _ = client.cancel(&pull).await;
                    break;
                }
            }
        }
        seen
    })
}

/// A client paying with a voucher on a channel that does not exist: droplet refuses the
/// payment, says why, and ends the deal.
#[test]
fn a_payment_droplet_cannot_verify_stops_the_retrieval_with_the_reason() {
    let m = setup();
    let (big_root, _) = two_active_deals(&m);
    set_priced_ask(&m);
    let mut paid = false;
    let seen = retrieve_in_process(&m, &big_root, 42, |resp| {
        if !paid && resp.status == 10 {
            paid = true;
            // Pay with a voucher on a channel that does not exist.
            let bogus = market_types::Address::new_actor(b"no such channel");
            Step::Pay(Box::new(market_types::retrieval::RetrievalDealPayment {
                id: 42,
                payment_channel: bogus,
                payment_voucher: Some(market_types::chain::SignedVoucher {
                    channel_addr: bogus,
                    time_lock_min: 0,
                    time_lock_max: 0,
                    secret_hash: market_types::Bytes(Vec::new()),
                    extra: None,
                    lane: 0,
                    nonce: 1,
                    amount: resp.payment_owed.clone(),
                    min_settle_height: 0,
                    merges: Vec::new(),
                    signature: None,
                }),
            }))
        } else if resp.status == 17 {
            Step::Stop
        } else {
            Step::Wait
        }
    });
    let last = seen.last().expect("a response");
    assert_eq!(last.status, 17, "DealStatusErrored: {seen:?}");
    assert!(last.message.contains("payment channel"), "{seen:?}");
    let list = m.droplet(&["retrieval", "deal", "list"]);
    assert!(list.contains("DealStatusCancelled"), "{list}");
    assert!(list.contains("payment refused"), "{list}");
}

/// A short payment (half of what is owed, on a real channel, signed by the payer): droplet
/// keeps it and asks for the rest; paid in full, the transfer goes on.
#[test]
fn a_short_payment_is_kept_and_the_rest_asked_for() {
    let m = setup();
    let (big_root, _) = two_active_deals(&m);
    set_priced_ask(&m);
    // A channel from the client to droplet's payment address, and vouchers the client's
    // daemon signs on it.
    let found = m.client(&["retrieval", "find", &big_root]);
    let payee = found
        .split_whitespace()
        .nth(1)
        .and_then(|t| t.split('@').next())
        .expect("RETRIEVAL <payment address>@…")
        .to_string();
    let payer = tests::market::account(&m._net, "client");
    let ch = m
        .client(&["paych", "add-funds", &payer, &payee, "0.00001"])
        .trim()
        .to_string();
    let voucher = |atto: &market_types::TokenAmount| -> market_types::chain::SignedVoucher {
        let atto: u128 = atto.atto().to_string().parse().expect("amount");
        let fil = format!("{}.{:018}", atto / 10u128.pow(18), atto % 10u128.pow(18));
        let enc = m.client(&["paych", "voucher", "create", &ch, &fil, "--lane", "0"]);
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(enc.trim())
            .expect("base64url");
        market_types::cbor::from_slice(&bytes).expect("a voucher")
    };
    let channel: market_types::Address = market_types::address::parse(&ch).expect("address");
    let mut owed_first = None;
    let mut resumed = false;
    let seen = retrieve_in_process(&m, &big_root, 43, |resp| match (resp.status, &owed_first) {
        (10, None) => {
            // Half of what is owed.
            let half = market_types::TokenAmount::from_atto(resp.payment_owed.atto() / 2u8);
            owed_first = Some(resp.payment_owed.clone());
            Step::Pay(Box::new(market_types::retrieval::RetrievalDealPayment {
                id: 43,
                payment_channel: channel,
                payment_voucher: Some(voucher(&half)),
            }))
        }
        (10, Some(first)) if !resumed => {
            resumed = true;
            // The rest: the whole owed, cumulatively.
            Step::Pay(Box::new(market_types::retrieval::RetrievalDealPayment {
                id: 43,
                payment_channel: channel,
                payment_voucher: Some(voucher(first)),
            }))
        }
        (10, Some(_)) => Step::Stop,
        (17, _) => Step::Stop,
        _ => Step::Wait,
    });
    let owed: Vec<(u64, String)> = seen
        .iter()
        .filter(|r| r.status == 10)
        .map(|r| (r.status, r.payment_owed.atto().to_string()))
        .collect();
    let first: u128 = owed[0].1.parse().expect("n");
    let second: u128 = owed.get(1).expect("the rest asked for").1.parse().expect("n");
    // What the provider still asks for counts the half it kept: the rest, up to the last
    // 16 KiB boundary it has sent past (with its credit it may have sent more meanwhile).
    let interval_value = u128::from(PAYMENT_INTERVAL) * 1000;
    let kept = first / 2;
    assert!(
        second + kept >= first && (second + kept).is_multiple_of(interval_value),
        "the rest of whole intervals, the half kept: {seen:?}"
    );
    // Paid in full, the transfer went on to the next interval (a third request).
    assert!(owed.len() >= 3, "{seen:?}");
    let deals = m.droplet(&["retrieval", "deal", "list"]);
    let line = deals.lines().nth(1).expect("the deal");
    let mut f = line.split_whitespace();
    let (receiver, id) = (f.next().expect("receiver"), f.next().expect("id"));
    let deal: serde_json::Value =
        serde_json::from_str(&m.droplet(&["retrieval", "deal", "get", receiver, id])).expect("json");
    assert_eq!(deal["FundsReceived"], first.to_string(), "{deal}");
}

/// droplet is SIGKILLed in the middle of a paid retrieval (held at its first payment, the
/// payment channel's creation kept off the chain) and started again: the client reconnects,
/// restarts the transfer without fetching again what arrived, sends again the voucher the
/// dead droplet may not have kept, and finishes; both sides agree on what was paid, to the
/// attoFIL, and the provider's best voucher is exactly that (none paid twice, none lost).
#[test]
fn a_paid_retrieval_survives_droplet_killed_and_restarted_in_the_middle() {
    let mut m = tests::market::setup_with("0");
    let (big_root, big) = two_active_deals(&m);
    set_priced_ask(&m);
    let dir = tempfile::tempdir().expect("tempdir");
    let got = dir.path().join("big.bin");
    let log = Path::new(&m.client).with_file_name("retrieve.log");
    let mut args = vec![
        "--repo".to_string(),
        m.client.clone(),
        "retrieval".into(),
        "retrieve".into(),
        "--provider".into(),
        MINER.into(),
        "--maxPrice".into(),
        "1".into(),
    ];
    args.extend([big_root.clone(), s(&got)]);
    // Hold the chain so the payment channel is not created: the provider sends the first
    // interval and waits, paused, for its payment.
    m.miner.as_ref().expect("test miner").pause();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut retrieving = tests::procs::Proc::start("droplet-client", &args, &log);
    let wait = std::time::Duration::from_secs(60);
    tests::procs::wait_for("the client creating its payment channel", wait, None, || {
        m.client(&["retrieval", "list"])
            .contains("PaymentChannelCreating")
            .then_some(())
    });
    tests::procs::wait_for("droplet paused for the first payment", wait, None, || {
        m.droplet(&["retrieval", "deal", "list"])
            .contains("DealStatusFundsNeeded")
            .then_some(())
    });
    // SIGKILL, and back.
    m.miner.as_ref().expect("test miner").resume();
    m.restart_droplet_with(&[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    let status = loop {
        if let Some(status) = retrieving.exited() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the retrieval did not end:\n{}",
            retrieving.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{out}");
    assert!(out.contains("restarting the transfer"), "{out}");
    assert!(out.contains("BlockstoreFinalized (Completed)"), "{out}");
    assert_eq!(std::fs::read(&got).expect("retrieved"), big);

    // What the client paid is what droplet received, the price of every byte.
    let list = m.client(&["retrieval", "list", "--completed"]);
    let row = list.lines().nth(1).expect("the retrieval").to_string();
    let deals = m.droplet(&["retrieval", "deal", "list"]);
    let line = deals.lines().nth(1).expect("the provider's deal");
    let mut f = line.split_whitespace();
    let (receiver, id) = (f.next().expect("receiver"), f.next().expect("id"));
    assert!(row.starts_with(id), "the same deal on both sides: {row} / {line}");
    let deal: serde_json::Value =
        serde_json::from_str(&m.droplet(&["retrieval", "deal", "get", receiver, id])).expect("json");
    assert!(line.contains("DealStatusCompleted"), "{deals}");
    let funds: u128 = deal["FundsReceived"].as_str().expect("funds").parse().expect("n");
    let sent = deal["TotalSent"].as_u64().expect("sent");
    assert!(sent >= big.len() as u64, "{deal}");
    assert_eq!(funds, u128::from(sent) * 1000, "{deal}");
    // The provider's best voucher on the deal's lane pays exactly that.
    let (_, ch) = first_channel(&m);
    let lanes = m.droplet(&["paych", "voucher", "list", &ch]);
    assert_eq!(lanes.lines().count(), 1, "{lanes}");
    let fil = format!("{}.{:018}", funds / 10u128.pow(18), funds % 10u128.pow(18));
    let fil = fil.trim_end_matches('0').trim_end_matches('.');
    assert!(lanes.contains(&format!(": {fil} FIL")), "{lanes} / {fil}");
    // And the client's last voucher is the same amount.
    let mine = m.client(&["paych", "voucher", "list", &ch]);
    assert!(mine.contains(fil), "{mine} / {fil}");
}

/// The operator sees a retrieval's channel held at a payment (`data-transfers list`) and
/// cancels it (`data-transfers cancel`): the client is told, and the deal ends Cancelled with
/// the reason. A restart asked of droplet says who restarts; batch-cancel finds nothing left.
#[test]
fn an_operator_lists_and_cancels_a_retrieval_channel() {
    let m = setup();
    let (big_root, _) = two_active_deals(&m);
    set_priced_ask(&m);
    let mut listed = String::new();
    let mut cancelled = String::new();
    let seen = retrieve_in_process(&m, &big_root, 44, |resp| {
        if resp.status == 10 && listed.is_empty() {
            // Held at the first payment, which never comes.
            listed = m.droplet(&["data-transfers", "list"]);
            let id = listed
                .lines()
                .nth(2)
                .and_then(|l| l.split_whitespace().next())
                .expect("a sending channel")
                .to_string();
            let restart = run("droplet", &["--repo", &m.provider, "data-transfers", "restart", &id]);
            assert!(!restart.status.success());
            assert!(
                stderr(&restart).contains("only its opener restarts"),
                "{}",
                stderr(&restart)
            );
            cancelled = m.droplet(&["data-transfers", "cancel", &id]);
        }
        Step::Wait
    });
    assert!(listed.contains("ResponderPaused"), "{listed}");
    assert!(
        listed.contains("Sending Channels") && listed.contains("Receiving Channels"),
        "{listed}"
    );
    assert!(cancelled.contains("cancelled channel"), "{cancelled}");
    assert!(seen.iter().any(|r| r.status == 10), "{seen:?}");
    let deals = m.droplet(&["retrieval", "deal", "list"]);
    assert!(deals.contains("DealStatusCancelled"), "{deals}");
    let (receiver, id) = {
        let mut f = deals.lines().nth(1).expect("the deal").split_whitespace();
        (
            f.next().expect("receiver").to_string(),
            f.next().expect("id").to_string(),
        )
    };
    let deal = m.droplet(&["retrieval", "deal", "get", &receiver, &id]);
    assert!(deal.contains("cancelled by the provider"), "{deal}");
    let after = m.droplet(&["data-transfers", "list"]);
    assert_eq!(after.lines().count(), 5, "no channel left: {after}");
    let none = m.droplet(&["data-transfers", "batch-cancel", "--peer-id", &receiver]);
    assert!(none.contains("0 channel(s) cancelled"), "{none}");
}

/// `--data-selector Links/1/Hash` retrieves the root and the file's second chunk only, and
/// writes out that chunk; a path that ends inside a block is refused at export with the reason.
#[test]
fn a_path_selector_retrieves_only_the_dag_at_its_end() {
    let m = setup();
    let (big_root, big) = two_active_deals(&m);
    m.droplet(&["retrieval", "ask", "set", MINER]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("chunk");
    let o = retrieve(&m, &big_root, &out, &["--data-selector", "Links/1/Hash"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).expect("written"), big[1 << 20..2 << 20]);
    // Only the root and that chunk came over.
    let list = m.client(&["retrieval", "list"]);
    assert!(list.contains("1 MiB") || list.contains("1.0 MiB"), "{list}");
    // As a CAR: the root and the chunk.
    let car = dir.path().join("chunk.car");
    let o = retrieve(&m, &big_root, &car, &["--data-selector", "Links/1/Hash", "--car"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(car_cids(&std::fs::read(&car).expect("car")).len(), 2);
    let o = retrieve(&m, &big_root, &dir.path().join("x"), &["--data-selector", "Links/1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("ends inside a block"), "{}", stderr(&o));
}

/// Move every piece out of droplet's piece storage (their unsealed copies are gone).
fn remove_unsealed_copies(m: &Market) {
    let pieces = Path::new(&m.provider).join("pieces");
    for e in std::fs::read_dir(&pieces).expect("pieces") {
        let p = e.expect("entry").path();
        if p.extension().is_none() {
            std::fs::rename(&p, p.with_extension("moved")).expect("move the piece away");
        }
    }
}

fn query_ask(m: &Market, root: &str) -> String {
    let ask = run(
        "droplet-client",
        &["--repo", &m.client, "retrieval", "query-ask", MINER, root],
    );
    format!("{}{}", String::from_utf8_lossy(&ask.stdout), stderr(&ask))
}

#[test]
fn a_piece_with_no_unsealed_copy_is_unsealed_by_the_sealer_then_served() {
    let m = setup();
    let offline = m.propose();
    assert!(m.deal_cmd(&["import-data", &offline, &m.car]).status.success());
    m.publish_seal_and_activate(&[offline]);
    m.droplet(&["retrieval", "ask", "set", MINER, "--price", "0"]);
    let original = std::fs::read(Path::new(&m.car).with_file_name("data.bin")).expect("data");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("data.bin");

    // The unsealed copy is gone and no sealer is connected: the query says so.
    remove_unsealed_copies(&m);
    let text = query_ask(&m, &m.root);
    assert!(text.contains("no unsealed copy"), "{text}");
    assert!(text.contains("no sealer"), "{text}");

    // A running sealer connects to droplet's market event stream: the data is offered again,
    // and a retrieval waits while the sealer unseals the piece into piece storage.
    let token = std::fs::read_to_string(Path::new(&m.provider).join("token")).expect("token");
    let api = std::fs::read_to_string(Path::new(&m.provider).join("api")).expect("api");
    let info = format!("{}:{}", token.trim(), api.trim());
    let net_repo = s(&m._net.repo);
    let sealer = tests::procs::Proc::start(
        "droplet-devnet",
        &["--repo", &net_repo, "seal", "--droplet", &info, "--interval", "3600"],
        &dir.path().join("sealer.log"),
    );
    tests::procs::wait_for(
        "the data offered again with a sealer connected",
        std::time::Duration::from_secs(30),
        None,
        || (!query_ask(&m, &m.root).contains("no unsealed copy")).then_some(()),
    );
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), sealer.log());
    assert_eq!(std::fs::read(&out).expect("retrieved"), original);
    let piece_file = Path::new(&m.provider).join("pieces").join(&m.piece);
    assert!(piece_file.exists(), "the sealer uploaded the piece back");
    assert_eq!(
        sealer.log().matches("unsealed and uploaded").count(),
        1,
        "{}",
        sealer.log()
    );

    // Now in piece storage: a second retrieval does not ask the sealer again.
    let _ = std::fs::remove_file(&out);
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).expect("retrieved"), original);
    assert_eq!(sealer.log().matches("unsealing").count(), 1, "{}", sealer.log());

    // A piece the sealer no longer holds: the retrieval ends with the sealer's reason.
    remove_unsealed_copies(&m);
    std::fs::remove_dir_all(m._net.repo.join("sealed")).expect("drop the sealed data");
    let _ = std::fs::remove_file(&out);
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("holds no piece"), "{err}");
    let list = m.droplet(&["retrieval", "deal", "list"]);
    let failed = list
        .lines()
        .find(|l| l.contains("DealStatusErrored"))
        .unwrap_or_else(|| panic!("no failed deal: {list}"));
    assert!(failed.contains("holds no piece"), "{list}");
    assert_eq!(list.matches("DealStatusCompleted").count(), 2, "{list}");
    sealer.stop();
}

/// `curl -s` with `args`: the status, the response headers (lower-cased names) and the body.
fn curl(args: &[&str]) -> (u16, String, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (head, body) = (dir.path().join("head"), dir.path().join("body"));
    let mut all = vec![
        "-sS",
        "-D",
        head.to_str().expect("utf-8"),
        "-o",
        body.to_str().expect("utf-8"),
    ];
    all.extend(["-w", "%{http_code}"]);
    all.extend_from_slice(args);
    let o = Command::new("curl")
        .args(&all)
        .output()
        .expect("curl (install it with apt-get install curl)");
    assert!(
        o.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let status = String::from_utf8_lossy(&o.stdout).trim().parse().expect("status");
    let head = std::fs::read_to_string(head).expect("headers").to_lowercase();
    (status, head, std::fs::read(body).unwrap_or_default())
}

#[test]
fn the_piece_route_serves_the_unpadded_piece_with_ranges_and_conditions() {
    let m = setup();
    two_active_deals(&m);
    let (base, _token) = m.droplet_http();
    let car = std::fs::read(&m.car).expect("the market's CAR");
    let url = format!("{base}/piece/{}", m.piece);

    // The whole piece, no token: the stored CAR, then zeros to the unpadded piece size, so
    // that the piece CID computed over the body is the piece's.
    let (status, head, body) = curl(&[&url]);
    assert_eq!(status, 200, "{head}");
    for h in [
        "content-type: application/piece".to_string(),
        format!("etag: \"{}\"", m.piece.to_lowercase()),
        "accept-ranges: bytes".into(),
        "cache-control: public, max-age=29030400, immutable".into(),
        format!("content-length: {}", body.len()),
    ] {
        assert!(head.contains(&h), "{h}: {head}");
    }
    assert!(body.len() > car.len());
    assert_eq!(&body[..car.len()], &car[..]);
    assert!(body[car.len()..].iter().all(|b| *b == 0), "zero padding");
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = dir.path().join("piece");
    std::fs::write(&saved, &body).expect("write");
    let cp: serde_json::Value =
        serde_json::from_str(&m.client(&["data", "commP", "--no-verify", &s(&saved), "--json"])).expect("json");
    assert_eq!(cp["Root"]["/"], m.piece.as_str());
    assert_eq!(cp["Size"].as_u64(), Some(body.len() as u64), "the unpadded piece size");
    let len = body.len();

    // HEAD: the same headers, no body (curl -I writes the headers where the body would go).
    let (status, head, out) = curl(&["-I", &url]);
    assert_eq!(status, 200);
    assert!(head.contains(&format!("content-length: {len}")), "{head}");
    assert_eq!(String::from_utf8_lossy(&out).to_lowercase(), head, "headers only");

    // One range; one across the end of the CAR into the padding; a suffix.
    let edge = car.len() - 10;
    for (range, want) in [
        ("100-199".to_string(), 100..200),
        (format!("{edge}-{}", edge + 19), edge..edge + 20),
        ("-16".into(), len - 16..len),
    ] {
        let (status, head, got) = curl(&["-H", &format!("Range: bytes={range}"), &url]);
        assert_eq!(status, 206, "{range}: {head}");
        let cr = format!("content-range: bytes {}-{}/{len}", want.start, want.end - 1);
        assert!(head.contains(&cr), "{cr}: {head}");
        assert_eq!(got, body[want].to_vec(), "{range}");
    }
    // Two ranges: a multipart/byteranges body with each part's bytes and range.
    let (status, head, got) = curl(&["-H", "Range: bytes=0-9,1000-1099", &url]);
    assert_eq!(status, 206, "{head}");
    let ct = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: multipart/byteranges; boundary="))
        .expect("multipart")
        .trim()
        .to_string();
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.starts_with(&format!("\r\n--{ct}\r\n")), "{text:?}");
    assert!(text.ends_with(&format!("\r\n--{ct}--\r\n")), "{text:?}");
    for (r, bytes) in [("0-9", &body[0..10]), ("1000-1099", &body[1000..1100])] {
        let marker = format!("Content-Range: bytes {r}/{len}\r\n\r\n").into_bytes();
        let at = got
            .windows(marker.len())
            .position(|w| w == marker.as_slice())
            .expect("part");
        assert_eq!(&got[at + marker.len()..at + marker.len() + bytes.len()], bytes, "{r}");
    }
    assert!(head.contains(&format!("content-length: {}", got.len())), "{head}");

    // Nothing of the piece in the range: 416, naming its length.
    let (status, head, _) = curl(&["-H", &format!("Range: bytes={len}-"), &url]);
    assert_eq!(status, 416);
    assert!(head.contains(&format!("content-range: bytes */{len}")), "{head}");
    // The client has it already; another piece's tag in If-Match; an If-Range for another.
    let tag = format!("\"{}\"", m.piece);
    let (status, _, empty) = curl(&["-H", &format!("If-None-Match: {tag}"), &url]);
    assert_eq!((status, empty.len()), (304, 0));
    let (status, _, _) = curl(&["-H", "If-Match: \"other\"", &url]);
    assert_eq!(status, 412);
    let (status, _, got) = curl(&["-H", "Range: bytes=0-9", "-H", "If-Range: \"other\"", &url]);
    assert_eq!((status, got.len()), (200, len));

    // Not a CID: 400. A CID no deal holds (the payload root): 404. A piece whose copy is gone
    // from piece storage: 404, saying so.
    let (status, _, why) = curl(&[&format!("{base}/piece/not-a-cid")]);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&why));
    let (status, _, why) = curl(&[&format!("{base}/piece/{}", m.root)]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&why).contains("no deal here holds"), "{why:?}");

    // Hostile input: absurd ranges; paths that try to leave the route; 10,000 requests for
    // pieces no deal holds. Each gets its status, and droplet's memory does not grow with them.
    for (range, want) in [
        ("bytes=18446744073709551615-", 416),
        // An end past the piece is its end; a number of more than 30 digits is refused.
        ("bytes=0-99999999999999999999999999999", 206),
        ("bytes=0-9999999999999999999999999999999999999999", 416),
        ("bytes=-18446744073709551615", 206),
        ("bytes=5-1", 200),
        (
            "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30,\
          32-32,34-34,36-36,38-38,40-40,42-42,44-44,46-46,48-48,50-50,52-52,54-54,56-56,58-58,60-60,62-62,\
          64-64,66-66,68-68,70-70,72-72,74-74,76-76,78-78,80-80,82-82,84-84,86-86,88-88,90-90,92-92,94-94,\
          96-96,98-98,100-100,102-102,104-104,106-106,108-108,110-110,112-112,114-114,116-116,118-118,\
          120-120,122-122,124-124,126-126,128-128",
            416,
        ),
    ] {
        let (status, head, _) = curl(&["-H", &format!("Range: {}", range.replace(' ', "")), &url]);
        assert_eq!(status, want, "{range}: {head}");
    }
    for path in ["/piece/..%2F..%2Fetc%2Fpasswd", "/piece/%00", "/piece/..", "/piece/"] {
        let (status, _, _) = curl(&["--path-as-is", &format!("{base}{path}")]);
        assert!(status == 400 || status == 404, "{path}: {status}");
    }
    let absent = |i: u32| {
        let digest = [i.to_be_bytes().as_slice(), &[7u8; 28]].concat();
        let mh = cid::multihash::Multihash::<64>::wrap(0x1012, &digest).expect("multihash");
        format!("{base}/piece/{}", cid::Cid::new_v1(0xf101, mh))
    };
    tests::retrieval::absent_requests_leave_memory_flat(m.droplet.as_ref().expect("droplet runs"), absent);

    std::fs::remove_file(Path::new(&m.provider).join("pieces").join(&m.piece)).expect("remove the copy");
    let (status, _, why) = curl(&[&url]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&why).contains("no unsealed copy"), "{why:?}");
}

/// The CIDs of a CAR response, in order.
fn cids_of(car: &[u8]) -> Vec<String> {
    tests::car::car_cids(car).iter().map(|c| c.to_string()).collect()
}

#[test]
fn the_trustless_gateway_answers_as_the_spec_says_and_refuses_hostile_input() {
    let m = setup();
    let (big_root, big) = two_active_deals(&m);
    let (base, _token) = m.droplet_http();
    let car = std::fs::read(&m.car).expect("the market's CAR");
    let accept = "Accept: application/vnd.ipld.car;version=1;order=dfs;dups=y";
    let url = format!("{base}/ipfs/{}", m.root);

    // The whole DAG of the market's file, no token: the blocks of its CAR, in its order.
    let (status, head, body) = curl(&["-H", accept, &format!("{url}?dag-scope=all")]);
    assert_eq!(status, 200, "{head}");
    for h in [
        "content-type: application/vnd.ipld.car;version=1;order=dfs;dups=y".to_string(),
        "cache-control: public, max-age=29030400, immutable".into(),
        format!(
            "content-disposition: attachment; filename=\"{}.car\"",
            m.root.to_lowercase()
        ),
        format!("x-ipfs-roots: {}", m.root.to_lowercase()),
        "accept-ranges: none".into(),
        "x-content-type-options: nosniff".into(),
        format!(
            "content-location: /ipfs/{}?dag-scope=all&format=car",
            m.root.to_lowercase()
        ),
    ] {
        assert!(head.contains(&h), "{h}: {head}");
    }
    assert_eq!(cids_of(&body), cids_of(&car));
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .trim()
        .replacen("w/", "W/", 1);
    // The client has it: 304. Another scope has another tag.
    let (status, _, empty) = curl(&[
        "-H",
        accept,
        "-H",
        &format!("If-None-Match: {etag}"),
        &format!("{url}?dag-scope=all"),
    ]);
    assert_eq!((status, empty.len()), (304, 0));
    let (_, head, _) = curl(&["-H", accept, &format!("{url}?dag-scope=block")]);
    assert!(!head.contains(&etag), "{head}");

    // ?format=car without Accept; dups=n; the 2.5 MiB file whole; its root block raw.
    let (status, _, same) = curl(&[&format!("{url}?format=car")]);
    assert_eq!((status, cids_of(&same)), (200, cids_of(&car)));
    let big_url = format!("{base}/ipfs/{big_root}");
    let (status, head, body) = curl(&["-H", "Accept: application/vnd.ipld.car;dups=n", &big_url]);
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: application/vnd.ipld.car;version=1;order=dfs;dups=n"),
        "{head}"
    );
    let blocks = tests::car::car_cids(&body);
    assert!(blocks.len() >= 3, "a root and its leaves");
    assert!(body.len() > big.len(), "every byte of the file is in the CAR");
    let (status, head, raw) = curl(&["-H", "Accept: application/vnd.ipld.raw", &big_url]);
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: application/vnd.ipld.raw"), "{head}");
    assert!(head.contains(&format!("content-length: {}", raw.len())), "{head}");
    assert!(raw.len() < 10_000, "the root block alone");
    assert!(
        body.windows(raw.len()).any(|w| w == raw.as_slice()),
        "the root block's bytes"
    );

    // HEAD: the status a GET would get, no body.
    let (status, _, out) = curl(&["-I", "-H", accept, &big_url]);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&out).contains("content-type: application/vnd.ipld.car"));
    let (status, _, _) = curl(&["-I", "-H", accept, &format!("{big_url}/no-such-name")]);
    assert_eq!(status, 404);
    let (status, _, out) = curl(&["-I", "-H", "Accept: application/vnd.ipld.raw", &big_url]);
    assert_eq!(status, 200);
    let head = String::from_utf8_lossy(&out).to_lowercase();
    assert!(head.contains(&format!("content-length: {}", raw.len())), "{head}");
    // The probe CID, as a CAR and raw.
    let (status, _, probe) = curl(&["-H", accept, &format!("{base}/ipfs/bafkqaaa")]);
    assert_eq!((status, cids_of(&probe).len()), (200, 0));
    let (status, _, probe) = curl(&[&format!("{base}/ipfs/bafkqaaa?format=raw")]);
    assert_eq!((status, probe.len()), (200, 0));

    // Refusals, each with its status: no format (400), none acceptable (406), not a CID
    // (400), no CID (404), a path for a raw block (400), a bad scope or range (400), a range
    // outside the file (400), a name not in the DAG (404; 412 when only a cached copy will do),
    // a root not held here (404).
    let absent = |i: u32| {
        let digest = [i.to_be_bytes().as_slice(), &[9u8; 28]].concat();
        let mh = cid::multihash::Multihash::<64>::wrap(0x12, &digest).expect("multihash");
        cid::Cid::new_v1(0x70, mh).to_string()
    };
    for (path, headers, want) in [
        // curl sends Accept: */* unless told not to.
        (format!("/ipfs/{big_root}"), vec!["Accept:"], 400),
        (format!("/ipfs/{big_root}"), vec!["Accept: text/html"], 406),
        (
            format!("/ipfs/{big_root}"),
            vec!["Accept: application/vnd.ipld.car;version=2"],
            406,
        ),
        ("/ipfs/not-a-cid".to_string(), vec![accept], 400),
        ("/ipfs/".to_string(), vec![accept], 404),
        (format!("/ipfs/{big_root}/x?format=raw"), vec![], 400),
        (format!("/ipfs/{big_root}?dag-scope=everything"), vec![accept], 400),
        (
            format!("/ipfs/{big_root}?dag-scope=entity&entity-bytes=9:1"),
            vec![accept],
            400,
        ),
        (
            format!("/ipfs/{big_root}?dag-scope=entity&entity-bytes=x:*"),
            vec![accept],
            400,
        ),
        (
            format!("/ipfs/{big_root}?dag-scope=entity&entity-bytes={}:*", big.len()),
            vec![accept],
            400,
        ),
        (
            format!("/ipfs/{big_root}?entity-bytes=99999999999:*"),
            vec![accept],
            400,
        ),
        (format!("/ipfs/{big_root}/..%2F..%2Fetc%2Fpasswd"), vec![accept], 404),
        (format!("/ipfs/{big_root}/../../etc/passwd"), vec![accept], 404),
        (format!("/ipfs/{big_root}/%00"), vec![accept], 404),
        (
            format!("/ipfs/{big_root}/x"),
            vec![accept, "Cache-Control: only-if-cached"],
            412,
        ),
        (format!("/ipfs/{}", absent(0)), vec![accept], 404),
        (
            format!("/ipfs/{big_root}?format=car&filename=a%0d%0aX:%20y.car"),
            vec![],
            400,
        ),
    ] {
        let mut args: Vec<String> = vec!["--path-as-is".into()];
        for h in &headers {
            args.extend(["-H".to_string(), h.to_string()]);
        }
        args.push(format!("{base}{path}"));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, _, why) = curl(&argv);
        assert_eq!(status, want, "{path} {headers:?}: {}", String::from_utf8_lossy(&why));
    }
    // A range at the end of the file: the leaves under it only.
    let (status, _, tail) = curl(&["-H", accept, &format!("{big_url}?dag-scope=entity&entity-bytes=-10:*")]);
    assert_eq!(status, 200);
    assert!(tail.len() < body.len() / 2, "{} of {}", tail.len(), body.len());

    // 10,000 requests for roots not held here: each 404, droplet's memory flat.
    let droplet = m.droplet.as_ref().expect("droplet runs");
    tests::retrieval::absent_requests_leave_memory_flat(droplet, |i| format!("{base}/ipfs/{}?format=car", absent(i)));
}

#[test]
fn droplet_client_retrieves_over_the_providers_gateway_with_http() {
    let mut m = setup();
    let (big_root, big) = two_active_deals(&m);
    m.droplet(&["retrieval", "ask", "set", MINER]);
    let dir = tempfile::tempdir().expect("tempdir");

    // No HTTP transport announced yet: a clear refusal, and graphsync still works.
    let o = retrieve(&m, &big_root, &dir.path().join("none.bin"), &["--http"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("offers no HTTP retrieval"), "{}", stderr(&o));

    m.serve_http_retrieval();
    // The file written while its blocks arrive, with the progress lines of any retrieval.
    let got = dir.path().join("big.bin");
    let o = retrieve(&m, &big_root, &got, &["--http"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("BlockstoreFinalized (Completed)"), "{stdout}");
    assert!(stdout.trim_end().ends_with("Success"), "{stdout}");
    assert_eq!(std::fs::read(&got).expect("retrieved"), big);
    // As a CAR: the blocks of the same DAG as over graphsync.
    let over_http = dir.path().join("http.car");
    let o = retrieve(&m, &big_root, &over_http, &["--http", "--car"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let over_gs = dir.path().join("gs.car");
    let o = retrieve(&m, &big_root, &over_gs, &["--car"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        car_cids(&std::fs::read(&over_http).expect("car")),
        car_cids(&std::fs::read(&over_gs).expect("car"))
    );
    // A path selector is graphsync's data-model path: refused over HTTP, saying so.
    let o = retrieve(
        &m,
        &big_root,
        &dir.path().join("x"),
        &["--http", "--data-selector", "Links/0/Hash"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--data-selector works over graphsync only"),
        "{}",
        stderr(&o)
    );
}

/// `RetrievalFilter`, on its own key (droplet runs it only when `Filter` is set): it gets the
/// retrieval deal as droplet's `ProviderDealState` JSON; a non-zero exit refuses the retrieval
/// with what it printed, which droplet-client reports; exit 0 lets it through.
#[test]
fn the_retrieval_filter_decides_on_the_deal_it_is_shown() {
    let mut m = setup();
    let offline = m.propose();
    assert!(m.deal_cmd(&["import-data", &offline, &m.car]).status.success());
    m.publish_seal_and_activate(std::slice::from_ref(&offline));
    m.droplet(&["retrieval", "ask", "set", MINER]);
    let dir = tempfile::tempdir().expect("tempdir");
    let seen = dir.path().join("input.json");
    let filter = |m: &mut Market, name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\ncat > {}\n{body}\n", seen.display())).expect("script");
        m.edit_config(&[(
            "CommonProvider",
            "RetrievalFilter",
            format!("sh {}", path.display()).into(),
        )]);
        m.restart_droplet_with(&[]);
    };
    let out = dir.path().join("out");

    filter(&mut m, "no.sh", "echo 'retrievals of this CID are paused'; exit 2");
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(!o.status.success(), "served despite the filter");
    assert!(
        stderr(&o).contains("retrievals of this CID are paused"),
        "{}",
        stderr(&o)
    );
    let input: serde_json::Value = serde_json::from_slice(&std::fs::read(&seen).expect("input")).expect("JSON");
    assert_eq!(input["DealType"], "retrieval");
    assert_eq!(input["PayloadCID"]["/"], m.root.as_str());
    assert!(input["PieceCID"].is_null(), "the client named no piece: {input:#}");
    assert_eq!(input["PieceInfo"]["PieceCID"]["/"], m.piece.as_str(), "{input:#}");
    assert!(input["ID"].is_u64() && input["Receiver"].is_string(), "{input:#}");
    assert_eq!(input["PricePerByte"], "0", "{input:#}");
    assert_eq!(input["SelStorageProposalCid"], offline.as_str(), "{input:#}");
    // Refused, so not recorded as a deal droplet serves.
    assert!(!m.droplet(&["retrieval", "deal", "list"]).contains(&m.root));

    filter(&mut m, "yes.sh", "exit 0");
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

//! Storage deals between real processes (issue 6, the part that exists): an offline deal
//! proposed by droplet-client on `/fil/storage/mk/1.2.1` is checked, accepted and stored by
//! droplet (the client's escrow topped up first); proposals that break droplet's checks are
//! refused with droplet's reason text and stored as rejected.

use std::path::Path;
use std::time::Duration;

use tests::market::{MINER, account, s, setup};
use tests::procs::{run, run_ok, wait_for};

#[test]
fn an_offline_deal_is_accepted_stored_and_listed() {
    let m = setup();
    let out = m.init("0.0000001", "180 days", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let proposal = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(proposal.starts_with("bafy"), "{proposal}");
    let deals = m.deals();
    assert_eq!(deals.len(), 1);
    let d = &deals[0];
    assert_eq!(d["ProposalCid"]["/"], proposal.as_str());
    assert_eq!(d["State"], 18);
    assert_eq!(d["StateName"], "StorageDealWaitingForData");
    assert_eq!(d["IsOffline"], true);
    assert_eq!(d["Proposal"]["PieceCID"]["/"], m.piece.as_str());
    assert_eq!(d["Proposal"]["Label"], m.root.as_str());
    let get = run_ok(
        "droplet",
        &[
            "--repo",
            &m.provider,
            "storage",
            "deal",
            "get",
            "--proposal-cid",
            &proposal,
        ],
    );
    assert!(get.contains("State:          StorageDealWaitingForData"), "{get}");
    let table = run_ok(
        "droplet",
        &[
            "--repo",
            &m.provider,
            "storage",
            "deal",
            "list",
            "--state",
            "WaitingForData",
        ],
    );
    assert!(
        table.lines().nth(1).is_some_and(|l| l.starts_with(&proposal)),
        "{table}"
    );
}

#[test]
fn proposals_that_break_the_checks_are_refused_with_droplets_reasons() {
    let m = setup();
    let cases: Vec<(Vec<&str>, &str, &str, &str)> = vec![
        (
            vec!["--start-epoch", "1"],
            "0.0000001",
            "180 days",
            "deal start epoch has already elapsed",
        ),
        (
            vec![],
            "0.0000001",
            "1000",
            "deal duration out of bounds (min, max, provided): 518400, 3680640, 1000",
        ),
        (
            vec![],
            "0",
            "180 days",
            "storage price per epoch less than asking price",
        ),
        (
            vec!["--verified-deal"],
            "0.0000001",
            "180 days",
            "node error fetching verified data cap: data cap missing -- client not verified",
        ),
        (
            vec!["--start-epoch", "100000"],
            "0.0000001",
            "180 days",
            "deal start epoch is too far in the future",
        ),
    ];
    for (extra, price, duration, want) in &cases {
        let out = m.init(price, duration, extra);
        assert!(!out.status.success(), "{want}: accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("deal rejected by {MINER}: {want}")),
            "{want}\ngot: {err}"
        );
    }
    // A CID that is not a piece CID.
    let size = m.piece_size.to_string();
    let out = run(
        "droplet-client",
        &[
            "--repo",
            &m.client,
            "storage",
            "deals",
            "init",
            &m.root,
            MINER,
            "0.0000001",
            "180 days",
            "--manual-piece-cid",
            &m.root,
            "--manual-piece-size",
            &size,
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("proposal PieceCID had wrong prefix"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every refused proposal is kept, rejected, with its reason.
    let deals = m.deals();
    assert_eq!(deals.len(), cases.len() + 1);
    assert!(
        deals
            .iter()
            .all(|d| d["StateName"] == "StorageDealRejecting" && !d["Message"].as_str().unwrap_or("").is_empty())
    );
    // After all that, a good proposal still goes through.
    let out = m.init("0.0000001", "180 days", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn imported_data_is_verified_funded_published_and_stored() {
    let m = setup();
    let proposal = m.propose();
    let out = m.deal_cmd(&["import-data", &proposal, &m.car]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("importing"), "{out:?}");
    // commP checked, collateral reserved (the worker's AddBalance lands), queued for publishing.
    m.wait_state(&proposal, "StorageDealPublish");
    let pending = m.deal_cmd(&["pending-publish"]);
    assert!(
        String::from_utf8_lossy(&pending.stdout).contains(&proposal),
        "{pending:?}"
    );
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    let d = m.wait_state(&proposal, "StorageDealAwaitingPreCommit");
    assert!(d["DealID"].is_u64(), "{d}");
    assert!(d["PublishCid"]["/"].is_string(), "{d}");
    assert_eq!(d["PieceStatus"], "Undefine");
    assert_eq!(d["FundsReserved"], "0", "released once published");
    // The piece is in piece storage under its CID.
    let stored = Path::new(&m.provider).join("pieces").join(&m.piece);
    assert_eq!(
        std::fs::metadata(&stored).expect("piece stored").len(),
        std::fs::metadata(&m.car).expect("car").len()
    );
    // The devnet's sealer pulls the deal, checks the piece, pre-commits and proves a sector;
    // droplet's tracker follows the deal to Active.
    let sealed = m.seal_once();
    assert!(sealed.starts_with("sealed sector 0 with deals ["), "{sealed}");
    let d = m.wait_state(&proposal, "StorageDealActive");
    assert_eq!(d["PieceStatus"], "Proving");
    assert_eq!(d["SectorNumber"], 0, "a sealer numbers sectors from 0");
    // Importing again is refused: the deal no longer waits for data.
    let again = m.deal_cmd(&["import-data", &proposal, &m.car]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("data can only be imported while it waits for data"));
}

#[test]
fn data_that_does_not_match_its_commp_fails_the_deal_with_a_clear_message() {
    let m = setup();
    let proposal = m.propose();
    let other = Path::new(&m.car).with_file_name("other.bin");
    std::fs::write(&other, vec![9u8; 3000]).expect("other data");
    assert!(m.deal_cmd(&["import-data", &proposal, &s(&other)]).status.success());
    let d = m.wait_state(&proposal, "StorageDealFailing");
    let msg = d["Message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("proposal CommP doesn't match calculated CommP"),
        "{msg}"
    );
    assert!(other.exists(), "the client's file is never deleted");
}

#[test]
fn a_deal_resumes_where_it_was_after_droplet_is_killed() {
    let mut m = setup();
    let proposal = m.propose();
    assert!(m.deal_cmd(&["import-data", &proposal, &m.car]).status.success());
    m.wait_state(&proposal, "StorageDealPublish");
    // Crash: SIGKILL while the deal waits to be published (the batch lives only in memory).
    drop(m.droplet.take());
    m.start_droplet_again();
    // The deal is queued again and publishes as if nothing happened.
    wait_for("the deal queued again", Duration::from_secs(30), None, || {
        let out = m.deal_cmd(&["pending-publish"]);
        String::from_utf8_lossy(&out.stdout).contains(&proposal).then_some(())
    });
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    let d = m.wait_state(&proposal, "StorageDealAwaitingPreCommit");
    assert_eq!(d["FundsReserved"], "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_deals_with_four_per_message_publish_in_three_and_a_withdrawn_client_is_dropped() {
    use market_proto::Json;
    use market_proto::api::full_node::FullNodeClient;
    use market_types::chain::{Message, WithdrawBalanceParams, market_method};

    let mut m = setup();
    // The SP limits publish messages to four deals: config.toml, then a restart.
    drop(m.droplet.take());
    let cfg_path = Path::new(&m.provider).join("config.toml");
    let cfg = std::fs::read_to_string(&cfg_path).expect("config");
    let cfg = cfg.replace("MaxDealsPerPublishMsg = 8", "MaxDealsPerPublishMsg = 4");
    assert!(cfg.contains("MaxDealsPerPublishMsg = 4"), "{cfg}");
    std::fs::write(&cfg_path, cfg).expect("config");
    m.start_droplet_again();
    // It listens on a new port: tell the chain.
    tests::procs::announce(&m.provider);

    // First a deal from another client, waiting to be published; that client then
    // withdraws its escrow.
    let other = account(&m._net, "verified-client");
    let propose_and_import = |i: i64, from: Option<&str>| {
        let start = (30_000 + i).to_string();
        let mut extra = vec!["--start-epoch", start.as_str()];
        if let Some(f) = from {
            extra.extend(["--from", f]);
        }
        let out = m.init("0.0000001", "180 days", &extra);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(m.deal_cmd(&["import-data", &p, &m.car]).status.success());
        p
    };
    let dropped_deal = propose_and_import(100, Some(&other));
    m.wait_state(&dropped_deal, "StorageDealPublish");
    let node_info = std::fs::read_to_string(m._net.repo.join("api-info/node")).expect("node api");
    let node = market_proto::client::http(
        &market_proto::api_info::ApiInfo::parse(&node_info),
        "v1",
        Duration::from_secs(30),
    )
    .expect("node");
    let who = market_types::address::parse(&other).expect("address");
    let escrow = node
        .state_market_balance(Json(who), Json(Default::default()))
        .await
        .expect("balance")
        .0;
    let withdraw = Message::to_send(
        who,
        market_types::Address::new_id(5),
        market_method::WITHDRAW_BALANCE,
        market_types::cbor::to_vec(&WithdrawBalanceParams {
            provider_or_client_address: who,
            amount: escrow.available(),
        }),
        Default::default(),
    );
    let signed = node.mpool_push_message(Json(withdraw), None).await.expect("withdraw").0;
    let landed = node
        .state_wait_msg(Json(signed.cid()), 0, -1, true)
        .await
        .expect("landed")
        .0;
    assert_eq!(landed.receipt.exit_code, 0);

    // Then nine deals from the client: batches of four go out as soon as they are full.
    let proposals: Vec<String> = (0..9).map(|i| propose_and_import(i, None)).collect();
    let queued_or_later = [
        "StorageDealPublish",
        "StorageDealPublishing",
        "StorageDealStaged",
        "StorageDealAwaitingPreCommit",
    ];
    for p in &proposals {
        wait_for("the deal queued for publishing", Duration::from_secs(60), None, || {
            queued_or_later
                .contains(&m.deal(p)["StateName"].as_str().unwrap_or(""))
                .then_some(())
        });
    }
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    let dropped = m.wait_state(&dropped_deal, "StorageDealFailing");
    assert!(
        dropped["Message"]
            .as_str()
            .unwrap_or("")
            .starts_with("client escrow too small"),
        "{dropped}"
    );
    let mut messages = std::collections::BTreeMap::<String, usize>::new();
    for p in &proposals[..9] {
        let d = m.wait_state(p, "StorageDealAwaitingPreCommit");
        *messages
            .entry(d["PublishCid"]["/"].as_str().expect("publish cid").to_string())
            .or_default() += 1;
    }
    let mut sizes: Vec<usize> = messages.values().copied().collect();
    sizes.sort();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(sizes.iter().all(|n| *n <= 4), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 9);
}

/// `Filter`: the deal as boost's JSON with the provider's state on stdin; exit 0 accepts, any
/// other exit rejects with what the filter printed (which the client sees), and a filter that
/// hangs past `FilterTimeout` is killed and the deal rejected, saying so.
#[test]
fn the_deal_filter_sees_the_deal_and_the_providers_state_and_decides() {
    let mut m = setup();
    let dir = tempfile::tempdir().expect("tempdir");
    let seen = dir.path().join("input.json");
    let script = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
        format!("sh {}", path.display())
    };
    let set_filter = |m: &mut tests::market::Market, cmd: &str, timeout: &str| {
        m.edit_config(&[
            ("CommonProvider", "Filter", cmd.into()),
            ("CommonProvider", "FilterTimeout", timeout.into()),
        ]);
        m.restart_droplet_with(&[]);
    };

    // Rejecting, after keeping what it was given.
    let reject = script(
        "reject.sh",
        &format!(
            "cat > {}\necho 'no deals from this client today'\nexit 1",
            seen.display()
        ),
    );
    set_filter(&mut m, &reject, "30s");
    let out = m.init("0.0000001", "180 days", &[]);
    assert!(!out.status.success(), "accepted despite the filter");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("deal rejected by {MINER}: no deals from this client today")),
        "{err}"
    );
    let input: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&seen).expect("the filter's input")).expect("JSON");
    assert_eq!(input["DealType"], "storage");
    assert_eq!(input["FormatVersion"], "2.2.0");
    assert_eq!(input["IsOffline"], true);
    assert_eq!(
        input["ClientDealProposal"]["Proposal"]["PieceCID"]["/"],
        m.piece.as_str()
    );
    assert_eq!(input["ClientDealProposal"]["Proposal"]["Provider"], MINER);
    assert_eq!(input["DealDataRoot"]["/"], m.root.as_str());
    // The provider's state is droplet's own, not zeros.
    let worker = input["FundsState"]["Collateral"]["Address"].as_str().expect("worker");
    assert!(worker.starts_with('t'), "{input:#}");
    assert_ne!(input["FundsState"]["Collateral"]["Balance"], "0", "{input:#}");
    assert!(
        input["StorageState"]["TotalAvailable"].as_u64().is_some_and(|t| t > 0),
        "{input:#}"
    );
    assert!(
        input["StorageState"]["Free"].as_u64().is_some_and(|f| f > 0),
        "{input:#}"
    );
    assert!(input["SealingPipelineState"]["SectorStates"].is_object(), "{input:#}");
    assert!(input["FundsState"]["Escrow"]["Available"].is_string(), "{input:#}");

    // Accepting: the deal goes on, and the filter now sees the earlier deal among the miner's.
    let accept = script("accept.sh", &format!("cat > {}\nexit 0", seen.display()));
    set_filter(&mut m, &accept, "30s");
    let out = m.init("0.0000001", "180 days", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let input: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&seen).expect("the filter's input")).expect("JSON");
    assert_eq!(
        input["SealingPipelineState"]["SectorStates"]["StorageDealRejecting"], 1,
        "{input:#}"
    );

    // Hanging: killed at the timeout, with what it started, and the deal rejected.
    set_filter(&mut m, &script("hang.sh", "sleep 60 & sleep 60"), "1s");
    let started = std::time::Instant::now();
    let out = m.init("0.0000001", "180 days", &[]);
    assert!(!out.status.success(), "accepted despite a hung filter");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("deal filter did not answer within 1s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

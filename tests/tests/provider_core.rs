//! The provider core's promises, between real processes: what the publisher puts on chain,
//! sector numbers as a sealer gives them (from 0), the piece index behind `droplet pieces`,
//! and a config that says what it does.

use std::time::Duration;

use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_types::chain::PublishStorageDealsParams;
use tests::market::{Market, setup};

/// The devnet's full node, as a JSON-RPC client.
fn node(m: &Market) -> jsonrpsee::http_client::HttpClient {
    let (url, token) = m.node();
    let info = market_proto::api_info::ApiInfo {
        token,
        addr: url.trim_end_matches("/rpc/v1").to_string(),
    };
    market_proto::client::http(&info, "v1", Duration::from_secs(30)).expect("node client")
}

/// The PublishStorageDeals message of a published deal (droplet's JSON of it), from the chain.
async fn publish_message(m: &Market, deal: &serde_json::Value) -> market_types::chain::Message {
    let message: market_types::Cid = deal["PublishCid"]["/"]
        .as_str()
        .expect("publish cid")
        .parse()
        .expect("cid");
    node(m).chain_get_message(Json(message)).await.expect("message").0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deal_failed_while_queued_stays_off_chain_and_a_deal_in_sector_0_reaches_active() {
    let mut m = setup();
    let kept = m.propose();
    let out = m.init("0.0000002", "180 days", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dropped = String::from_utf8_lossy(&out.stdout).trim().to_string();
    for p in [&kept, &dropped] {
        assert!(m.deal_cmd(&["import-data", p, &m.car]).status.success());
        m.wait_state(p, "StorageDealPublish");
    }

    // The operator fails one deal by hand while both wait in the miner's batch.
    m.droplet(&[
        "storage",
        "deal",
        "update",
        "--proposalcid",
        &dropped,
        "--state",
        "StorageDealFailing",
        "--really-do-it",
    ]);
    let pending = m.droplet(&["storage", "deal", "pending-publish"]);
    assert!(pending.contains(&kept), "{pending}");
    assert!(!pending.contains(&dropped), "the failed deal left the batch: {pending}");

    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    let d = m.wait_state(&kept, "StorageDealAwaitingPreCommit");
    let msg = publish_message(&m, &d).await;
    let params: PublishStorageDealsParams = market_types::cbor::from_slice(&msg.params.0).expect("params");
    let published: Vec<String> = params.deals.iter().map(|c| c.proposal_cid().to_string()).collect();
    assert_eq!(
        published,
        vec![kept.clone()],
        "only the deal still waiting went on chain"
    );
    let failed = m.deal(&dropped);
    assert_eq!(failed["StateName"], "StorageDealFailing");
    assert!(failed["PublishCid"].is_null(), "{failed}");

    // The devnet's sealer numbers sectors from 0, as a real one does.
    let sealed = m.seal_once();
    assert!(sealed.starts_with("sealed sector 0 "), "{sealed}");
    let active = m.wait_state(&kept, "StorageDealActive");
    assert_eq!(active["SectorNumber"], 0, "{active}");
    let deal_id = active["DealID"].as_u64().expect("deal id");
    let size = active["Proposal"]["PieceSize"].as_u64().expect("size");

    // The stored piece is in the piece index: its payload leads to it, with the deal.
    check_piece_index(&m, deal_id, size);
    // An index lost (or a repo from before the index) is rebuilt from piece storage at start.
    drop(m.droplet.take());
    std::fs::remove_dir_all(std::path::Path::new(&m.provider).join("piece-index")).expect("index dir");
    m.start_droplet_again();
    tests::procs::wait_for("the piece indexed again", Duration::from_secs(30), None, || {
        m.droplet(&["pieces", "list-pieces"]).contains(&m.piece).then_some(())
    });
    check_piece_index(&m, deal_id, size);
}

fn check_piece_index(m: &Market, deal_id: u64, size: u64) {
    let pieces = m.droplet(&["pieces", "list-pieces"]);
    assert_eq!(pieces.trim(), m.piece, "{pieces}");
    let cids = m.droplet(&["pieces", "list-cids"]);
    assert_eq!(cids.trim(), m.root, "{cids}");
    let info = m.droplet(&["pieces", "cid-info", &m.root]);
    let row = info.lines().nth(2).unwrap_or_default().to_string();
    assert!(row.starts_with(&m.piece), "the payload's piece: {info}");
    let info = m.droplet(&["pieces", "piece-info", &m.piece]);
    let deal = info.lines().nth(3).unwrap_or_default().to_string();
    let cols: Vec<&str> = deal.split_whitespace().collect();
    assert_eq!(
        cols,
        vec![deal_id.to_string(), "0".into(), size.to_string(), "0".into()],
        "deal, sector 0, length, offset: {info}"
    );
}

#[test]
fn piece_stores_are_added_listed_and_removed_while_droplet_runs_and_kept_in_the_config() {
    let m = setup();
    let dir = std::path::Path::new(&m.provider).join("../more-pieces");
    std::fs::create_dir_all(&dir).expect("dir");
    let dir = dir.canonicalize().expect("canonical");
    let config = || std::fs::read_to_string(std::path::Path::new(&m.provider).join("config.toml")).expect("config");
    let path = dir.to_str().expect("utf-8");
    let add = |extra: &[&str]| {
        let mut args = vec![
            "--repo",
            m.provider.as_str(),
            "piece-storage",
            "add-fs",
            "--name",
            "more",
            "--path",
            path,
        ];
        args.extend_from_slice(extra);
        tests::procs::run("droplet", &args)
    };
    let added = add(&["--read-only"]);
    let out = String::from_utf8_lossy(&added.stdout);
    assert!(out.contains("added piece store more"), "{out}");
    let list = m.droplet(&["piece-storage", "list"]);
    let row = list
        .lines()
        .find(|l| l.starts_with("more"))
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        vec!["more", "fs", "true", dir.to_str().expect("utf-8")],
        "{list}"
    );
    assert!(
        list.lines().any(|l| l.starts_with("local")),
        "the default store stays: {list}"
    );
    assert!(config().contains("Name = \"more\""), "{}", config());
    let again = add(&[]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    m.droplet(&["piece-storage", "remove", "more"]);
    let list = m.droplet(&["piece-storage", "list"]);
    assert!(!list.contains("more"), "{list}");
    assert!(!config().contains("Name = \"more\""), "{}", config());
}

/// Set `key = value` in `[CommonProvider]` of the droplet's config.toml (droplet stopped).
fn set_common(m: &Market, key: &str, value: &str) {
    let path = std::path::Path::new(&m.provider).join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config");
    let mut out = String::new();
    let mut section = String::new();
    let mut done = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            if section == "[CommonProvider]" && !done {
                out.push_str(&format!("{key} = {value}\n"));
                done = true;
            }
            section = t.to_string();
        }
        if section == "[CommonProvider]" && t.split('=').next().map(str::trim) == Some(key) {
            out.push_str(&format!("{key} = {value}\n"));
            done = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(done, "no [CommonProvider] in {text}");
    std::fs::write(&path, out).expect("write config");
}

/// `droplet run` on the market's repo, expected to refuse to start: its stderr.
fn refused_start(m: &Market) -> String {
    let out = tests::procs::run("droplet", &["--repo", &m.provider, "run"]);
    assert!(!out.status.success(), "droplet started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_keys_from_a_go_config_do_what_droplet_does_or_stop_the_start() {
    let mut m = setup();
    drop(m.droplet.take());
    let config = std::path::Path::new(&m.provider).join("config.toml");
    let good = std::fs::read_to_string(&config).expect("config");

    // A filter that could never answer (no time given to it) stops the start, naming the key.
    set_common(&m, "Filter", "\"/usr/local/bin/deal-filter\"");
    set_common(&m, "FilterTimeout", "\"0s\"");
    let err = refused_start(&m);
    assert!(
        err.contains("[CommonProvider]: FilterTimeout: must be more than 0"),
        "{err}"
    );
    // A bad value under [[Miners]] stops the start, naming the miner and the reason.
    std::fs::write(
        &config,
        format!("{good}\n[[Miners]]\nAddr = \"t01000\"\nMaxDealsPerPublishMsg = \"many\"\n"),
    )
    .expect("config");
    let err = refused_start(&m);
    assert!(err.contains("[[Miners]] t01000"), "{err}");
    assert!(err.contains("MaxDealsPerPublishMsg"), "{err}");
    std::fs::write(&config, &good).expect("config");
    set_common(&m, "PieceCidBlocklist", "[\"not-a-cid\"]");
    let err = refused_start(&m);
    assert!(err.contains("PieceCidBlocklist: \"not-a-cid\" is not a CID"), "{err}");

    // Keys that work: downloads go to TransferPath, publishing goes out from the owner
    // (DealPublishAddress) under the fee cap, collateral above the multiplier is refused.
    std::fs::write(&config, &good).expect("config");
    let transfers = std::path::Path::new(&m.provider).join("../transfers-elsewhere");
    let owner = tests::market::account(&m._net, "owner");
    set_common(&m, "TransferPath", &format!("{:?}", tests::market::s(&transfers)));
    set_common(&m, "DealPublishAddress", &format!("[{owner:?}]"));
    set_common(&m, "MaxPublishDealsFee", "\"0.00000002 FIL\"");
    m.start_droplet_again();
    tests::procs::announce(&m.provider);

    let online = m.propose_online("180 days");
    m.wait_state(&online, "StorageDealPublish");
    let inbound = m.deal(&online)["InboundCAR"].as_str().unwrap_or_default().to_string();
    assert!(
        std::path::Path::new(&inbound).starts_with(&transfers),
        "downloaded into TransferPath: {inbound}"
    );
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    let d = m.wait_state(&online, "StorageDealAwaitingPreCommit");
    assert!(!std::path::Path::new(&inbound).exists(), "the download is cleaned up");
    let msg = publish_message(&m, &d).await;
    let owner_id = node(&m)
        .state_lookup_id(
            Json(market_types::address::parse(&owner).expect("owner")),
            Json(market_types::chain::TipSetKey::empty()),
        )
        .await
        .expect("owner id")
        .0;
    let from_id = node(&m)
        .state_lookup_id(Json(msg.from), Json(market_types::chain::TipSetKey::empty()))
        .await
        .expect("from id")
        .0;
    assert_eq!(from_id, owner_id, "published from DealPublishAddress");
    let cap = market_types::units::parse_fil("0.00000002").expect("fil");
    let most = &msg.gas_fee_cap * msg.gas_limit as u64;
    assert!(
        most <= cap,
        "fee cap {} × gas limit {} over MaxPublishDealsFee",
        msg.gas_fee_cap.atto(),
        msg.gas_limit
    );

    // No collateral above the minimum: a deal asking the provider for more is refused.
    drop(m.droplet.take());
    set_common(&m, "MaxProviderCollateralMultiplier", "0");
    m.start_droplet_again();
    tests::procs::announce(&m.provider);
    let out = m.init("0.0000003", "180 days", &[]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("proposed provider collateral above maximum"), "{text}");
}

//! What providers and clients do around deals, between real processes: moving escrow with
//! `actor-funds` and settling, per-miner acceptance settings (`storage cfg`), importing data in
//! batches, repairing a deal by hand, the legacy sealer's pull API and `PUT /resource`, and the
//! client's `status`, `inspect`, `stats` and interactive `init`.

use std::path::Path;
use std::time::Duration;

use market_proto::Json;
use market_proto::api::market::clients::*;
use tests::market::{MINER, account, s, setup};
use tests::procs::{run, wait_for};

/// The FIL amount on the report line that starts with `label`.
fn fil_on(report: &str, label: &str) -> market_types::TokenAmount {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} in {report}"));
    let amount = line.trim_start()[label.len()..].trim().trim_end_matches(" FIL");
    market_types::units::parse_fil(amount).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

fn fil(n: u64) -> market_types::TokenAmount {
    market_types::TokenAmount::from_whole(n)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn escrow_moves_through_actor_funds_on_both_sides_and_settling_pays_an_active_deal() {
    let m = setup();
    let worker = account(&m._net, "worker");

    // Provider: add 2 FIL from the worker, take 1 back, and be refused more than is free.
    let before = fil_on(&m.droplet(&["actor-funds", "balances", MINER]), "Escrowed Funds:");
    let added = m.droplet(&["actor-funds", "add", "2", "--from", &worker, "--address", MINER]);
    assert!(added.contains("AddBalance message cid: bafy"), "{added}");
    let after_add = m.droplet(&["actor-funds", "balances"]);
    assert!(
        after_add.contains("for address t01000"),
        "every served miner: {after_add}"
    );
    assert_eq!(fil_on(&after_add, "Escrowed Funds:"), &before + &fil(2));
    let out = m.droplet(&["actor-funds", "withdraw", "1", "--wallet", &worker, "--address", MINER]);
    assert!(out.contains("Successfully withdrew 1 FIL"), "{out}");
    let now = fil_on(&m.droplet(&["actor-funds", "balances", MINER]), "Escrowed Funds:");
    assert_eq!(now, &before + &fil(1));
    let refused = run(
        "droplet",
        &[
            "--repo",
            &m.provider,
            "actor-funds",
            "withdraw",
            "100000",
            "--wallet",
            &worker,
            "--address",
            MINER,
        ],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("can't withdraw more funds than available; requested: 100000 FIL"),
        "{}",
        stderr(&refused)
    );

    // Client: its escrow starts empty; add 3, take 1 back.
    let empty = m.client(&["actor-funds", "balances"]);
    assert_eq!(fil_on(&empty, "Escrowed Funds:"), fil(0), "{empty}");
    let added = m.client(&["actor-funds", "add", "3"]);
    assert!(added.contains("AddBalance message cid: bafy"), "{added}");
    let out = m.client(&["actor-funds", "withdraw", "1", "--confidence", "0"]);
    assert!(out.contains("Successfully withdrew 1 FIL"), "{out}");
    let bal = m.client(&["actor-funds", "balances"]);
    assert_eq!(fil_on(&bal, "Escrowed Funds:"), fil(2), "{bal}");
    assert_eq!(fil_on(&bal, "Available to Withdraw:"), fil(2), "{bal}");

    // A proposed deal holds part of the client's escrow until it is published.
    let p = m.propose();
    let held = fil_on(&m.client(&["actor-funds", "balances"]), "Reserved Funds:");
    assert!(held.is_positive(), "the deal's escrow is reserved");
    assert!(m.deal_cmd(&["import-data", &p, &m.car]).status.success());
    m.wait_state(&p, "StorageDealPublish");
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    m.wait_state(&p, "StorageDealAwaitingPreCommit");
    m.seal_once();
    m.wait_state(&p, "StorageDealActive");
    m.wait_client_state(&p, 7);
    let bal = m.client(&["actor-funds", "balances"]);
    assert_eq!(
        fil_on(&bal, "Reserved Funds:"),
        fil(0),
        "released once published: {bal}"
    );
    assert!(fil_on(&bal, "Locked Funds:").is_positive(), "{bal}");

    // The client's views of the deal.
    let inspect = m.client(&["storage", "deals", "inspect", "--proposal-cid", &p]);
    assert!(inspect.contains("State:         StorageDealActive"), "{inspect}");
    assert!(inspect.contains("Deal ID:       0"), "{inspect}");
    let start_line = inspect
        .lines()
        .find(|l| l.contains("Sector start epoch:"))
        .unwrap_or_else(|| panic!("{inspect}"));
    assert!(
        start_line.rsplit(' ').next().is_some_and(|e| e.parse::<i64>().is_ok()),
        "{start_line}"
    );
    let by_id = m.client(&["storage", "deals", "inspect", "--deal-id", "0"]);
    assert!(by_id.contains(&p), "{by_id}");
    let status = m.client(&["storage", "deals", "status", "--deal-uuid", &p]);
    assert!(status.contains("got deal status response"), "{status}");
    assert!(status.contains("Deal ID:       0"), "{status}");
    let stats = m.client(&["storage", "deals", "stats"]);
    assert!(stats.starts_with("Total: 1 deals, 4 KiB"), "{stats}");
    assert!(stats.contains("  StorageDealActive: 1 deals, 4 KiB"), "{stats}");
    let none = m.client(&["storage", "deals", "stats", "--newer-than", "0s"]);
    assert!(none.starts_with("Total: 0 deals"), "{none}");

    // Settling pays the provider for the epochs stored so far.
    let settled = m.droplet(&["actor-funds", "settle-deal", "--miner", MINER]);
    assert!(settled.contains("settling 1 deal(s) of t01000: [0]"), "{settled}");
    assert!(settled.contains("deal 0: paid "), "{settled}");
}

#[test]
fn per_miner_settings_change_what_droplet_accepts_and_are_saved_to_the_miner() {
    let m = setup();
    let cfg = |args: &[&str]| {
        let mut all = vec!["storage", "cfg"];
        all.extend_from_slice(args);
        m.droplet(&all)
    };
    let listed = cfg(&["selection", "list", MINER]);
    assert_eq!(listed.matches(": true").count(), 4, "{listed}");

    cfg(&["selection", "reject", MINER, "--offline"]);
    let listed = cfg(&["selection", "list", MINER]);
    assert!(listed.contains("considering offline storage deals: false"), "{listed}");
    assert!(listed.contains("considering online storage deals: true"), "{listed}");
    let saved: toml::Table =
        toml::from_str(&std::fs::read_to_string(Path::new(&m.provider).join("config.toml")).expect("config"))
            .expect("toml");
    assert_eq!(saved["Miners"][0]["ConsiderOfflineStorageDeals"].as_bool(), Some(false));
    assert_eq!(
        saved["CommonProvider"]["ConsiderOfflineStorageDeals"].as_bool(),
        Some(true),
        "[CommonProvider] is untouched"
    );
    let out = m.init("0.0000001", "180 days", &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("miner is not considering offline storage deals"),
        "{}",
        stderr(&out)
    );
    cfg(&["selection", "reset", MINER]);
    let accepted = m.propose();
    // A one-second publish period for this miner: the deal goes out without --publish-now.
    cfg(&["publish-period", "set", MINER, "1s"]);
    assert!(m.deal_cmd(&["import-data", &accepted, &m.car]).status.success());
    m.wait_state(&accepted, "StorageDealAwaitingPreCommit");

    // The piece CID blocklist, read from a file.
    let list = Path::new(&m.provider).join("../blocklist.txt");
    std::fs::write(&list, format!("{}\n\n", m.piece)).expect("list");
    cfg(&["block-list", "set", MINER, &s(&list)]);
    assert_eq!(cfg(&["block-list", "get", MINER]).trim(), m.piece);
    let out = m.init("0.0000002", "180 days", &[]);
    assert!(
        stderr(&out).contains(&format!("piece cid {} is blocklisted", m.piece)),
        "{}",
        stderr(&out)
    );
    cfg(&["block-list", "reset", MINER]);
    assert_eq!(cfg(&["block-list", "get", MINER]).trim(), "");
    let bad = Path::new(&m.provider).join("../bad.txt");
    std::fs::write(&bad, "not-a-cid\n").expect("list");
    let out = run(
        "droplet",
        &[
            "--repo",
            &m.provider,
            "storage",
            "cfg",
            "block-list",
            "set",
            MINER,
            &s(&bad),
        ],
    );
    assert!(
        stderr(&out).contains("line 1: \"not-a-cid\" is not a CID"),
        "{}",
        stderr(&out)
    );

    // Durations: per miner, with [CommonProvider] behind them.
    let common = cfg(&["publish-period", "get", "common"]);
    cfg(&["publish-period", "set", MINER, "10m"]);
    assert_eq!(
        cfg(&["publish-period", "get", MINER]).trim(),
        "publish msg period:  10m0s"
    );
    assert_eq!(cfg(&["publish-period", "get", "common"]), common);
    cfg(&["max-start-delay", "set", "common", "100h"]);
    assert_eq!(
        cfg(&["max-start-delay", "get", MINER]).trim(),
        "max start delay:  100h0m0s"
    );
    cfg(&["seal-duration", "set", MINER, "30m"]);
    assert_eq!(cfg(&["seal-duration", "get", MINER]).trim(), "seal-duration:  30m0s");
    let out = run(
        "droplet",
        &["--repo", &m.provider, "storage", "cfg", "selection", "list", "t09999"],
    );
    assert!(
        stderr(&out).contains("miner t09999 is not served by this droplet"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_imports_manual_repairs_the_legacy_sealer_api_and_piece_uploads() {
    let m = setup();
    let p1 = m.propose();
    // Creation times are in seconds: a second apart, so "oldest first" has one answer.
    std::thread::sleep(Duration::from_millis(1100));
    let out = m.init("0.0000002", "180 days", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p2 = String::from_utf8_lossy(&out.stdout).trim().to_string();

    // One deal from a manifest and a CAR directory, one as a pair.
    let dir = Path::new(&m.provider).join("../cars");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(&m.car, dir.join(format!("{}.car", m.piece))).expect("copy");
    let manifest = Path::new(&m.provider).join("../manifest.csv");
    std::fs::write(&manifest, format!("proposalCID,pieceCID\n{p1},{}\n", m.piece)).expect("manifest");
    let out = m.droplet(&[
        "storage",
        "deal",
        "batch-import-data",
        "--manifest",
        &s(&manifest),
        "--car-dir",
        &s(&dir),
    ]);
    assert!(out.contains("1 of 1 imports started"), "{out}");
    let pair = format!("{p2},{}", m.car);
    let out = m.droplet(&["storage", "deal", "batch-import-data", "--proposals", &pair]);
    assert!(out.contains(&format!("import data success: {p2}")), "{out}");
    // Importing again is refused for that deal, with the reason.
    let again = m.deal_cmd(&["batch-import-data", "--proposals", &pair]);
    assert!(!again.status.success());
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("data can only be imported while it waits for data"),
        "{text}"
    );
    for p in [&p1, &p2] {
        m.wait_state(p, "StorageDealPublish");
    }
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    let ids: Vec<u64> = [&p1, &p2]
        .iter()
        .map(|p| {
            m.wait_state(p, "StorageDealAwaitingPreCommit")["DealID"]
                .as_u64()
                .expect("id")
        })
        .collect();

    // Listing: by deal ID, oldest first, a page, by client peer, with more columns.
    let by_id = m.droplet(&["storage", "deal", "get", "--deal-id", &ids[1].to_string()]);
    assert!(by_id.contains(&p2), "{by_id}");
    let first = m.droplet(&["storage", "deal", "list", "--oldest", "--limit", "1"]);
    assert_eq!(first.lines().count(), 2, "{first}");
    assert!(first.lines().nth(1).is_some_and(|l| l.starts_with(&p1)), "{first}");
    let second = m.droplet(&["storage", "deal", "list", "--oldest", "--offset", "1", "--limit", "1"]);
    assert!(second.lines().nth(1).is_some_and(|l| l.starts_with(&p2)), "{second}");
    let peer = m.deal(&p1)["Client"].as_str().expect("peer").to_string();
    let mine = m.droplet(&["storage", "deal", "list", "--client", &peer]);
    assert_eq!(mine.lines().count(), 3, "{mine}");
    let none = m.droplet(&["storage", "deal", "list", "--client", "12D3KooWNone"]);
    assert_eq!(none.lines().count(), 1, "{none}");
    let verbose = m.droplet(&["storage", "deal", "list", "-v"]);
    assert!(
        verbose.starts_with("Creation") && verbose.contains("PublishCid"),
        "{verbose}"
    );

    // The legacy sealer: list, mark, place.
    let (base, token) = m.droplet_http();
    let info = market_proto::api_info::ApiInfo::parse(&format!(
        "{token}:{}",
        std::fs::read_to_string(Path::new(&m.provider).join("api"))
            .expect("api")
            .trim()
    ));
    let api = market_proto::client::http(&info, "v1", Duration::from_secs(30)).expect("client");
    let addr = market_types::address::parse(MINER).expect("miner");
    let miner = || Json(addr);
    let unpacked = api.get_unpacked_deals(miner(), None).await.expect("unpacked");
    let mut listed: Vec<u64> = unpacked.iter().map(|d| d.deal_id).collect();
    listed.sort_unstable();
    // The deals' IDs in any order: which of the two the publish message lists first is not fixed.
    let mut want = ids.clone();
    want.sort_unstable();
    assert_eq!(listed, want);
    assert!(unpacked.iter().all(|d| d.proposal.0.piece_cid.to_string() == m.piece));
    api.mark_deals_as_packing(miner(), vec![ids[0]]).await.expect("mark");
    assert_eq!(m.deal(&p1)["PieceStatus"], "Assigned");
    let left = api.get_unpacked_deals(miner(), None).await.expect("unpacked");
    assert_eq!(left.iter().map(|d| d.deal_id).collect::<Vec<_>>(), vec![ids[1]]);
    api.update_deal_on_packing(miner(), ids[0], 7, 0).await.expect("packed");
    let d = m.deal(&p1);
    assert_eq!(
        (d["PieceStatus"].as_str(), d["SectorNumber"].as_u64()),
        (Some("Packing"), Some(7))
    );
    let err = api
        .mark_deals_as_packing(miner(), vec![ids[0]])
        .await
        .expect_err("marked twice");
    assert!(err.to_string().contains("does not apply"), "{err}");
    let err = api
        .mark_deals_as_packing(miner(), vec![999])
        .await
        .expect_err("no such deal");
    assert!(err.to_string().contains("has no deal with deal ID 999"), "{err}");

    // A repair by hand needs --really-do-it.
    let dry = m.droplet(&[
        "storage",
        "deal",
        "update",
        "--proposalcid",
        &p2,
        "--piece-state",
        "Proving",
    ]);
    assert!(dry.contains("nothing changed"), "{dry}");
    assert_eq!(m.deal(&p2)["PieceStatus"], "Undefine");
    m.droplet(&[
        "storage",
        "deal",
        "update",
        "--proposalcid",
        &p2,
        "--piece-state",
        "Proving",
        "--really-do-it",
    ]);
    assert_eq!(m.deal(&p2)["PieceStatus"], "Proving");

    // PUT /resource stores a piece the sealer uploads; GET gives it back.
    let body = std::fs::read(&m.car).expect("car");
    let http = reqwest::Client::new();
    let put = |q: String, auth: bool| {
        let mut req = http.put(format!("{base}/resource?{q}")).body(body.clone());
        if auth {
            req = req.bearer_auth(&token);
        }
        req.send()
    };
    // A key no deal uses (any CID will do).
    let other_piece = m.root.clone();
    let unauth = put(format!("resource-id={other_piece}"), false).await.expect("put");
    assert_eq!(unauth.status().as_u16(), 401);
    let wrong = put(format!("resource-id={other_piece}&size=1"), true)
        .await
        .expect("put");
    assert_eq!(wrong.status().as_u16(), 400);
    let short = put(format!("resource-id={other_piece}&size={}", body.len() + 1), true)
        .await
        .expect("put");
    assert_eq!(short.status().as_u16(), 400);
    let kept = http
        .get(format!("{base}/resource?resource-id={other_piece}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(kept.status().as_u16(), 404, "a refused upload leaves nothing behind");
    let ok = put(format!("resource-id={other_piece}&size={}", body.len()), true)
        .await
        .expect("put");
    assert_eq!(ok.status().as_u16(), 200, "{:?}", ok.text().await);
    let got = http
        .get(format!("{base}/resource?resource-id={other_piece}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(got.as_ref(), body.as_slice());
    let no_store = put(format!("resource-id={other_piece}&store=nope"), true)
        .await
        .expect("put");
    assert_eq!(no_store.status().as_u16(), 400);
}

#[test]
fn the_interactive_init_asks_confirms_and_proposes_an_online_deal() {
    use std::io::Write;
    let m = setup();
    let imported = m.client(&["data", "import", &m.car, "--car"]);
    assert!(imported.contains(&m.root), "{imported}");
    let mut child = std::process::Command::new(tests::procs::binary("droplet-client"))
        .args(["--repo", &m.client, "storage", "deals", "init"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let answers = format!("{}\n180\n{MINER}\nyes\n", m.root);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(answers.as_bytes())
        .expect("answers");
    let out = child.wait_with_output().expect("init");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    for expected in [
        "Data CID (from lotus client import): ",
        ".. calculating data size",
        &format!("PieceCid: {} PayLoadSize: ", m.piece),
        "Deal duration (days): ",
        "Miner Addresses (f0.. f0..), none to find: ",
        ".. querying miner asks",
        "Duration: 4320h0m0s",
        // 0.00000001 FIL per GiB per epoch for a 4 KiB piece (38146 attoFIL) over 518400 epochs.
        "Total price: ~0.0000000197748864 FIL (0.000000000000038146 FIL per epoch)",
        "Accept (yes/no): ",
        ".. executing",
        "Deal (t01000) CID: bafy",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    let proposal = text
        .lines()
        .find_map(|l| l.split("Deal (t01000) CID: ").nth(1))
        .expect("cid")
        .trim()
        .to_string();
    // An online deal: droplet downloads the CAR from the client and goes on to publishing.
    let d = wait_for("the online deal downloaded", Duration::from_secs(60), None, || {
        let d = m.deal(&proposal);
        (d["StateName"] == "StorageDealPublish").then_some(d)
    });
    assert_eq!(d["IsOffline"], false);

    // Declining proposes nothing.
    let mut child = std::process::Command::new(tests::procs::binary("droplet-client"))
        .args(["--repo", &m.client, "storage", "deals", "init"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{}\n180\n{MINER}\nno\n", m.root).as_bytes())
        .expect("answers");
    let out = child.wait_with_output().expect("init");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not proposing"));
    assert_eq!(m.deals().len(), 1);
}

/// `droplet stats deals|power`: the chain's active deals, and the providers with power dialled
/// for their software (droplet's own identify agent counts as a venus market).
#[test]
fn stats_count_the_chain_s_active_deals_and_the_venus_providers_power() {
    let m = setup();
    let before = m.droplet(&["stats", "deals"]);
    assert!(before.contains("Total deals:  0"), "{before}");
    let p = m.propose();
    assert!(m.deal_cmd(&["import-data", &p, &m.car]).status.success());
    m.publish_seal_and_activate(std::slice::from_ref(&p));
    let deals = m.droplet(&["stats", "deals"]);
    assert!(deals.contains("Total deals:  1"), "{deals}");
    let padded = m.deal(&p)["Proposal"]["PieceSize"].as_u64().expect("size");
    let size = market_types::units::format_size(padded);
    assert!(deals.contains(&format!("Total deal size:  {size}")), "{deals}");

    let power = m.droplet(&["stats", "power", "--min-power"]);
    assert!(power.contains("Total venus nodes: 1"), "{power}");
    let list = m.droplet(&["stats", "power", "--list", "--min-power"]);
    let row = list
        .lines()
        .find(|l| l.starts_with(MINER))
        .unwrap_or_else(|| panic!("{MINER} in {list}"));
    let cols: Vec<&str> = row.split('\t').collect();
    assert!(
        cols[1].starts_with("droplet"),
        "the agent droplet gives in identify: {row}"
    );
    assert!(cols[3].parse::<u64>().is_ok_and(|raw| raw > 0), "{row}");
    let json: serde_json::Value =
        serde_json::from_str(&m.droplet(&["stats", "power", "--json", "--min-power"])).expect("json");
    assert!(
        json[MINER]["Agent"].as_str().is_some_and(|a| a.starts_with("droplet")),
        "{json}"
    );
}

/// `storage deals verified-deal-stat`: the FIL+ measures of a client's verified deals — here
/// the same piece twice at one provider, so half of it is duplicated and all of it is there.
#[test]
fn verified_deal_stat_shows_the_fil_plus_spread_of_a_client_s_deals() {
    let m = setup();
    let verified = account(&m._net, "verified-client");
    for _ in 0..2 {
        let out = m.init("0.0000001", "180 days", &["--verified-deal", "--from", &verified]);
        assert!(out.status.success(), "{}", stderr(&out));
        std::thread::sleep(Duration::from_millis(600));
    }
    let padded = m.piece_size * 128 / 127;
    let size = |n: u64| format!("{} ({n} B)", market_types::units::format_size(n));
    let by_provider = m.client(&["storage", "deals", "verified-deal-stat", "--provider", MINER]);
    let row = by_provider
        .lines()
        .find(|l| l.starts_with(MINER))
        .unwrap_or_else(|| panic!("{by_provider}"));
    assert!(row.contains(&size(2 * padded)) && row.contains(&size(padded)), "{row}");
    assert!(row.trim_end().ends_with("50.00%"), "{row}");

    let by_client = m.client(&["storage", "deals", "verified-deal-stat", "--client", &verified]);
    assert!(by_client.starts_with(&format!("Client: {verified}\n")), "{by_client}");
    assert!(
        by_client.contains(&format!("Total:  {}\n", size(2 * padded))),
        "{by_client}"
    );
    assert!(
        by_client.contains(&format!("Uniq:   {}\n", size(padded))),
        "{by_client}"
    );
    assert!(by_client.contains("DuplicationPercentage: 50.00%"), "{by_client}");
    let row = by_client
        .lines()
        .find(|l| l.starts_with(MINER))
        .unwrap_or_else(|| panic!("{by_client}"));
    assert!(
        row.contains("100.00%"),
        "all of the client's verified data is at {MINER}: {row}"
    );

    // Unverified deals do not count; neither flag is an error.
    let plain_client = account(&m._net, "client");
    let plain = m.client(&["storage", "deals", "verified-deal-stat", "--client", &plain_client]);
    assert!(plain.starts_with("no verified deals from"), "{plain}");
    let none = run(
        "droplet-client",
        &["--repo", &m.client, "storage", "deals", "verified-deal-stat"],
    );
    assert!(!none.status.success());
    assert!(stderr(&none).contains("must pass --provider or --client"));
}

//! Deals from proposal to Active on both sides, between real processes: an offline deal on
//! each protocol version droplet-client can speak (Boost's 1.2.1 and 1.2.0, go-fil-markets'
//! 1.1.1 and 1.0.1), an online deal whose CAR droplet-client serves itself, and an online
//! deal whose download from the client's own web server is cut halfway and resumed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tests::market::{MINER, Market, s, setup, setup_with};
use tests::procs::{run, run_ok};

/// Publish what is waiting, seal it with the devnet's sealer, and wait for Active on both sides.
fn publish_seal_and_activate(m: &Market, proposals: &[String]) {
    m.publish_seal_and_activate(proposals);
    for p in proposals {
        let d = m.wait_client_state(p, 7);
        assert!(d["DealID"].is_u64(), "{d}");
    }
}

#[test]
fn an_offline_deal_on_each_protocol_version_and_a_served_online_deal_reach_active() {
    let m = setup();
    let mut proposals = Vec::new();
    // One offline deal per version, told apart by their durations (else they are one proposal).
    let versions = ["1.2.1", "1.2.0", "1.1.1", "1.0.1"];
    for (i, v) in versions.iter().enumerate() {
        let duration = (518_400 + i).to_string();
        let out = m.init("0.0000001", &duration, &["--protocol", v]);
        assert!(out.status.success(), "{v}: {}", String::from_utf8_lossy(&out.stderr));
        let proposal = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let d = m.client_deal(&proposal);
        assert_eq!(d["Protocol"], format!("/fil/storage/mk/{v}"), "{d}");
        assert_eq!(d["State"], 3, "offline deals wait in ProposalAccepted: {d}");
        // The provider has it, waiting for the data, whichever protocol brought it.
        assert_eq!(m.deal(&proposal)["StateName"], "StorageDealWaitingForData");
        assert!(m.deal_cmd(&["import-data", &proposal, &m.car]).status.success());
        proposals.push(proposal);
    }
    // An online deal: the client imports the CAR and serves it; the provider downloads it.
    let online = m.propose_online("518410");
    let local: Value = serde_json::from_str(&run_ok(
        "droplet-client",
        &["--repo", &m.client, "data", "local", "--json"],
    ))
    .expect("json");
    assert_eq!(local[0]["PieceCid"]["/"], m.piece.as_str(), "{local}");
    let d = m.client_deal(&online);
    assert_eq!(d["Online"], true);
    assert_eq!(d["Protocol"], "/fil/storage/mk/1.2.1");
    proposals.push(online.clone());

    publish_seal_and_activate(&m, &proposals);
    let d = m.client_deal(&online);
    assert_eq!(d["BytesReceived"], d["TransferSize"], "{d}");
    // Both sides list every deal as Active.
    let table = run_ok("droplet-client", &["--repo", &m.client, "storage", "deals", "list"]);
    assert_eq!(table.matches("StorageDealActive").count(), 5, "{table}");
    let provider = run_ok("droplet", &["--repo", &m.provider, "storage", "deal", "list"]);
    assert_eq!(provider.matches("StorageDealActive").count(), 5, "{provider}");
}

/// A web server for one file whose first answer stops halfway: cut off, or (`stall`) held open
/// with nothing more sent; later answers honour `Range`. It records each request's `Range`
/// header (or `-` for none).
fn flaky_server(data: Vec<u8>, token: &'static str, stall: bool) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/data.car", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let data = Arc::new(data);
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(conn) = conn else { continue };
            let (data, log) = (data.clone(), log.clone());
            std::thread::spawn(move || answer(conn, n, &data, token, stall, &log));
        }
    });
    (url, seen)
}

fn answer(mut conn: std::net::TcpStream, n: usize, data: &[u8], token: &str, stall: bool, log: &Mutex<Vec<String>>) {
    {
        {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).is_ok_and(|k| k == 1) {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_lowercase();
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(|v| v.trim().to_string()))
            };
            if header("authorization").as_deref() != Some(&format!("bearer {token}")) {
                let _ = conn.write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
                return;
            }
            let range = header("range");
            log.lock()
                .expect("log")
                .push(range.clone().unwrap_or_else(|| "-".into()));
            let start: usize = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.split('-').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let body = &data[start..];
            let status = if start > 0 {
                format!(
                    "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {start}-{}/{}\r\n",
                    data.len() - 1,
                    data.len()
                )
            } else {
                "HTTP/1.1 200 OK\r\n".to_string()
            };
            let _ = conn
                .write_all(format!("{status}content-length: {}\r\nconnection: close\r\n\r\n", body.len()).as_bytes());
            if n == 0 {
                // The first download stops halfway.
                let _ = conn.write_all(&body[..body.len() / 2]);
                let _ = conn.flush();
                if stall {
                    std::thread::sleep(Duration::from_secs(90));
                }
                return;
            }
            let _ = conn.write_all(body);
        }
    }
}

#[test]
fn an_online_deal_whose_transfer_is_cut_halfway_resumes_and_reaches_active() {
    let m = setup();
    // A bigger file, so that half of it is a real part of the transfer.
    let file = Path::new(&m.car).with_file_name("big.bin");
    let data: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, data).expect("data");
    let imported = run_ok("droplet-client", &["--repo", &m.client, "data", "import", &s(&file)]);
    assert!(imported.starts_with("Import "), "{imported}");
    let local: Value = serde_json::from_str(&run_ok(
        "droplet-client",
        &["--repo", &m.client, "data", "local", "--json"],
    ))
    .expect("json");
    let root = local[0]["Root"]["/"].as_str().expect("root").to_string();
    let car = std::fs::read(local[0]["CARPath"].as_str().expect("car path")).expect("car");
    assert_eq!(local[0]["CarSize"], car.len() as u64);
    let stat = run_ok("droplet-client", &["--repo", &m.client, "data", "stat", &root]);
    assert!(stat.contains("Piece CID: baga"), "{stat}");

    let (url, seen) = flaky_server(car.clone(), "s3cret", false);
    let out = run(
        "droplet-client",
        &[
            "--repo",
            &m.client,
            "storage",
            "deals",
            "init",
            &root,
            MINER,
            "0.0000001",
            "180 days",
            "--http-url",
            &url,
            "--http-header",
            "Authorization: Bearer s3cret",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let proposal = String::from_utf8_lossy(&out.stdout).trim().to_string();
    publish_seal_and_activate(&m, std::slice::from_ref(&proposal));

    // The first request had no Range; the resumption asked for the rest only.
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.first().map(String::as_str), Some("-"), "{seen:?}");
    let resumed: usize = seen
        .get(1)
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no ranged resumption: {seen:?}"));
    assert!(resumed >= car.len() / 2 - 64 * 1024 && resumed < car.len(), "{seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
    // The provider stored exactly the client's CAR.
    let piece = m.deal(&proposal)["Proposal"]["PieceCID"]["/"]
        .as_str()
        .expect("piece")
        .to_string();
    let stored = Path::new(&m.provider).join("pieces").join(piece);
    assert_eq!(std::fs::read(stored).expect("piece stored"), car);
    // Its temporary download is gone.
    let leftovers: Vec<_> = std::fs::read_dir(Path::new(&m.provider).join("transfer"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn deals_in_every_waiting_state_survive_a_sigkill_and_reach_active_without_a_second_publish() {
    let mut m = setup();
    let init = |duration: &str| {
        let out = m.init("0.0000001", duration, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // A: published and waiting for its sector.
    let a = init("518400");
    assert!(m.deal_cmd(&["import-data", &a, &m.car]).status.success());
    m.wait_state(&a, "StorageDealPublish");
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    let before = m.wait_state(&a, "StorageDealAwaitingPreCommit");
    // B: verified and funded, waiting in the publisher's batch.
    let b = init("518401");
    assert!(m.deal_cmd(&["import-data", &b, &m.car]).status.success());
    m.wait_state(&b, "StorageDealPublish");
    // C: accepted, waiting for its data.
    let c = init("518402");
    m.wait_state(&c, "StorageDealWaitingForData");
    // D: online, its download stalled halfway.
    let car = std::fs::read(&m.car).expect("car");
    let (url, seen) = flaky_server(car.clone(), "tok", true);
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
            "518403",
            "--http-url",
            &url,
            "--http-header",
            "Authorization: Bearer tok",
            "--car-size",
            &car.len().to_string(),
            "--manual-piece-cid",
            &m.piece,
            "--manual-piece-size",
            &m.piece_size.to_string(),
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d = String::from_utf8_lossy(&out.stdout).trim().to_string();
    m.wait_state(&d, "StorageDealTransferring");

    // SIGKILL, then a restart on the same repo (on a new port: tell the chain).
    drop(m.droplet.take());
    m.start_droplet_again();
    tests::procs::announce(&m.provider);
    assert_eq!(m.deals().len(), 4, "no deal lost");
    assert_eq!(m.deal(&c)["StateName"], "StorageDealWaitingForData");
    assert!(m.deal_cmd(&["import-data", &c, &m.car]).status.success());
    // D resumes its download from where it stopped.
    for p in [&b, &c, &d] {
        m.wait_state(p, "StorageDealPublish");
    }
    let ranges = seen.lock().expect("log").clone();
    assert!(ranges.len() >= 2 && ranges[1].starts_with("bytes="), "{ranges:?}");
    // A was not published again: same message and deal ID as before the crash.
    let after = m.deal(&a);
    assert_eq!(after["PublishCid"], before["PublishCid"]);
    assert_eq!(after["DealID"], before["DealID"]);
    publish_seal_and_activate(&m, &[b.clone(), c.clone(), d.clone()]);
    m.wait_state(&a, "StorageDealActive");
    let ids: std::collections::BTreeSet<u64> = [&a, &b, &c, &d]
        .iter()
        .map(|p| m.deal(p)["DealID"].as_u64().expect("deal id"))
        .collect();
    assert_eq!(ids.len(), 4, "four deals, four deal IDs: {ids:?}");
    assert_eq!(ids.iter().max(), Some(&3), "no deal was published twice: {ids:?}");
}

#[test]
fn deals_waiting_for_their_deposit_or_publish_message_survive_a_sigkill_without_sending_either_again() {
    // The test mines the devnet, so it can keep messages off the chain.
    let mut m = setup_with("0");
    let init = |duration: &str| {
        let out = m.init("0.0000001", duration, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // The client's escrow covers both deals up front: its deposits need the chain too.
    m.client(&["actor-funds", "add", "1"]);
    // B: published, its PublishStorageDeals not on chain yet.
    let b = init("518400");
    assert!(m.deal_cmd(&["import-data", &b, &m.car]).status.success());
    m.wait_state(&b, "StorageDealPublish");
    m.miner.as_ref().expect("test miner").pause();
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    let b_before = m.wait_state(&b, "StorageDealPublishing");
    assert!(b_before["PublishCid"]["/"].is_string(), "{b_before}");
    // A: its AddBalance for the collateral not on chain yet (B still holds the escrow there is).
    let a = init("518401");
    assert!(m.deal_cmd(&["import-data", &a, &m.car]).status.success());
    let a_before = m.wait_state(&a, "StorageDealProviderFunding");
    assert!(a_before["AddFundsCid"]["/"].is_string(), "{a_before}");

    // SIGKILL while both wait, then a restart: they still wait for the same messages.
    drop(m.droplet.take());
    m.start_droplet_again();
    assert_eq!(m.deal(&b)["StateName"], "StorageDealPublishing");
    assert_eq!(m.deal(&a)["StateName"], "StorageDealProviderFunding");
    m.miner.as_ref().expect("test miner").resume();
    tests::procs::announce(&m.provider);

    publish_seal_and_activate(&m, std::slice::from_ref(&a));
    let (a_after, b_after) = (m.deal(&a), m.wait_state(&b, "StorageDealActive"));
    assert_eq!(a_after["AddFundsCid"], a_before["AddFundsCid"], "no second deposit");
    // B's PublishCid was the messager's id for the message; now it is the chain CID of that
    // same message.
    let sent = messager_message(&m, b_before["PublishCid"]["/"].as_str().expect("id"));
    assert!(sent["SignedCid"]["/"].is_string(), "{sent}");
    assert_eq!(b_after["PublishCid"], sent["SignedCid"], "no second publish: {sent}");
    let ids: std::collections::BTreeSet<u64> = [&a_after, &b_after]
        .iter()
        .map(|d| d["DealID"].as_u64().expect("deal id"))
        .collect();
    assert_eq!(ids, [0, 1].into(), "each deal published once");
}

/// The devnet messager's record of a message it was given under `id`.
fn messager_message(m: &Market, id: &str) -> Value {
    let url = format!("{}/rpc/v0", m._net.http_base());
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "Message.GetMessageByUid", "params": [id]});
    let token = m._net.admin_token.clone();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let answer: Value = rt.block_on(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("messager")
            .json()
            .await
            .expect("json")
    });
    answer["result"].clone()
}

#[test]
fn deals_caught_verifying_staged_or_sealing_survive_a_sigkill_and_reach_active() {
    let mut m = setup_with("0");
    let init = |m: &Market, duration: &str| {
        let out = m.init("0.0000001", duration, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let stays = |m: &Market, p: &str, state: &str| {
        m.wait_state(p, state);
        std::thread::sleep(Duration::from_millis(1000));
        assert_eq!(m.deal(p)["StateName"], state, "held there");
    };
    // Y: published, caught before its piece is stored (droplet holds Staged deals).
    m.restart_droplet_with(&[("DROPLET_TEST_HOLD_STATES", "Staged")]);
    let y = init(&m, "518400");
    assert!(m.deal_cmd(&["import-data", &y, &m.car]).status.success());
    m.wait_state(&y, "StorageDealPublish");
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    stays(&m, &y, "StorageDealStaged");

    // SIGKILL; Y goes on after the restart. X is caught verifying its data.
    m.restart_droplet_with(&[("DROPLET_TEST_HOLD_STATES", "VerifyData")]);
    m.wait_state(&y, "StorageDealAwaitingPreCommit");
    let x = init(&m, "518401");
    assert!(m.deal_cmd(&["import-data", &x, &m.car]).status.success());
    stays(&m, &x, "StorageDealVerifyData");

    // SIGKILL; X goes on after the restart.
    m.restart_droplet_with(&[]);
    m.wait_state(&x, "StorageDealPublish");
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    m.wait_state(&x, "StorageDealAwaitingPreCommit");

    // Both are sealed in one sector, slowly: once droplet sees the pre-commit (Sealing), the
    // chain stops, droplet is killed, and the prove-commit lands after the restart.
    let miner = m.miner.as_ref().expect("test miner");
    miner.set_interval(Duration::from_millis(1000));
    let token = std::fs::read_to_string(Path::new(&m.provider).join("token")).expect("token");
    let api = std::fs::read_to_string(Path::new(&m.provider).join("api")).expect("api");
    let devnet_repo = s(&m._net.repo);
    let sealer = std::thread::spawn(move || {
        run_ok(
            "droplet-devnet",
            &[
                "--repo",
                &devnet_repo,
                "seal",
                "--droplet",
                &format!("{}:{}", token.trim(), api.trim()),
                "--once",
            ],
        )
    });
    m.wait_state(&x, "StorageDealSealing");
    miner.pause();
    m.wait_state(&y, "StorageDealSealing");
    drop(m.droplet.take());
    m.start_droplet_again();
    assert_eq!(m.deal(&x)["StateName"], "StorageDealSealing");
    let miner = m.miner.as_ref().expect("test miner");
    miner.set_interval(Duration::from_millis(150));
    miner.resume();
    tests::procs::announce(&m.provider);
    let sealed = sealer.join().expect("sealer");
    assert!(sealed.starts_with("sealed sector"), "{sealed}");
    let ids: std::collections::BTreeSet<u64> = [&y, &x]
        .iter()
        .map(|p| {
            m.wait_state(p, "StorageDealActive")["DealID"]
                .as_u64()
                .expect("deal id")
        })
        .collect();
    assert_eq!(ids, [0, 1].into(), "each deal published once");
}

/// droplet killed after storing a proposal and before answering it (it holds its answers
/// back): droplet-client's CLI says the answer was lost, the deal waits at the client rather
/// than failing, the client asks droplet for its status once droplet is back, learns that it
/// holds the deal, and the deal goes on to Active on both sides. On Boost's protocol and on
/// go-fil-markets' (whose status is asked on the legacy status protocol).
#[test]
fn a_deal_whose_answer_was_lost_is_looked_up_with_the_provider_and_goes_on_to_active() {
    let mut m = setup_with("0");
    let size = m.piece_size.to_string();
    let mut proposals = Vec::new();
    for (version, duration) in [("1.2.1", "518400"), ("1.1.1", "518401")] {
        m.restart_droplet_with(&[("DROPLET_TEST_HOLD_ANSWERS", "1")]);
        let known: Vec<String> = m.deals().iter().map(proposal_of).collect();
        let extra = [
            "--manual-piece-cid",
            &m.piece,
            "--manual-piece-size",
            &size,
            "--protocol",
            version,
        ];
        let proposing = std::process::Command::new(tests::procs::binary("droplet-client"))
            .args(m.init_args(&m.root, "0.0000001", duration, &extra))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("droplet-client runs");
        let proposal = tests::procs::wait_for("droplet to store the deal", Duration::from_secs(60), None, || {
            m.deals().iter().map(proposal_of).find(|p| !known.contains(p))
        });
        // droplet dies with the client waiting for its answer.
        m.restart_droplet_with(&[]);
        let out = proposing.wait_with_output().expect("droplet-client ends");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{version}: {said}");
        assert!(
            said.contains("was lost") && said.contains(&proposal),
            "{version}: {said}"
        );
        let d = m.client_deal(&proposal);
        assert_eq!(d["Protocol"], format!("/fil/storage/mk/{version}"), "{d}");
        m.wait_state(&proposal, "StorageDealWaitingForData");
        // Accepted at the client too, once the tracker has asked droplet.
        m.wait_client_state(&proposal, 3);
        assert!(m.deal_cmd(&["import-data", &proposal, &m.car]).status.success());
        proposals.push(proposal);
    }
    publish_seal_and_activate(&m, &proposals);
}

/// droplet-client follows a deal the provider has not published to its start epoch: while the
/// provider cannot be reached the deal says so (it may have been published in time), and once
/// the provider answers that it never published the deal, the client fails it (the market
/// actor would refuse it now) instead of waiting for ever.
#[test]
fn an_unpublished_deal_past_its_start_epoch_is_failed_by_the_client_once_the_provider_answers() {
    let mut m = setup_with("0");
    let size = m.piece_size.to_string();
    m.restart_droplet_with(&[("DROPLET_TEST_HOLD_ANSWERS", "1")]);
    let extra = ["--manual-piece-cid", &m.piece, "--manual-piece-size", &size];
    let proposing = std::process::Command::new(tests::procs::binary("droplet-client"))
        .args(m.init_args(&m.root, "0.0000001", "518400", &extra))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("droplet-client runs");
    let proposal = tests::procs::wait_for("droplet to store the deal", Duration::from_secs(60), None, || {
        m.deals().first().map(proposal_of)
    });
    // droplet goes away with the client waiting for its answer, and stays away.
    drop(m.droplet.take());
    let out = proposing.wait_with_output().expect("droplet-client ends");
    assert!(String::from_utf8_lossy(&out.stderr).contains("was lost"), "{out:?}");

    // The chain passes the deal's start epoch.
    let start = m.client_deal(&proposal)["StartEpoch"].as_i64().expect("a start epoch");
    let mined = tests::procs::run(
        "droplet-devnet",
        &["--repo", &s(&m._net.repo), "mine", "--null-rounds", &start.to_string()],
    );
    assert!(mined.status.success(), "{mined:?}");
    let d = tests::procs::wait_for(
        "the client to say the provider is silent past the start epoch",
        Duration::from_secs(60),
        None,
        || {
            let d = m.client_deal(&proposal);
            d["Message"]
                .as_str()?
                .contains(&format!("since the deal's start epoch {start} passed"))
                .then_some(d)
        },
    );
    assert_ne!(d["State"], 11, "still waiting: it may have been published in time: {d}");

    // droplet is back, holding the deal unpublished (waiting for its data): the client fails it.
    m.start_droplet_again();
    tests::procs::announce(&m.provider);
    let d = tests::procs::wait_for("the client to fail the deal", Duration::from_secs(60), None, || {
        let d = m.client_deal(&proposal);
        (d["State"] == 11).then_some(d)
    });
    let message = d["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("start epoch {start} passed"))
            && message.contains("before the provider published it"),
        "{d}"
    );
}

fn proposal_of(d: &Value) -> String {
    d["ProposalCid"]["/"].as_str().unwrap_or_default().to_string()
}

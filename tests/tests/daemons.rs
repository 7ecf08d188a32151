//! droplet and droplet-client as real processes against the devnet (issue 5): the miner's
//! peer ID and addresses set on chain with droplet's commands, an ask set and queried by the
//! client, for every signer mode the devnet stands in for; both ask protocol versions
//! decoded strictly with their signatures checked; tokens and permissions on both APIs;
//! restarts that keep identity, config, miners and asks; one daemon per repo.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol, noise, tcp, yamux};
use market_p2p::{CborCodec, Frame, protocols};
use market_proto::jwt::{self, JwtPayload, Perm};
use market_types::storage::{AskRequest, AskRequestV0, AskResponse, AskResponseV0, StorageAsk};
use market_types::{Address, cbor};
use serde_json::{Value, json};
use tests::procs::{Devnet, Proc, run, run_ok, start_client, start_droplet, wait_for};

const MINER: &str = "t01000";

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

fn droplet(repo: &str, args: &[&str]) -> String {
    let mut all = vec!["--repo", repo];
    all.extend_from_slice(args);
    run_ok("droplet", &all)
}

/// Point the miner's on-chain peer ID and addresses at this droplet and wait for them.
fn announce(repo: &str) -> (PeerId, Multiaddr) {
    let (id, addr) = tests::procs::announce(repo);
    (id.parse().expect("peer id"), addr.parse().expect("multiaddr"))
}

/// Ask over exactly one protocol version with a bare libp2p host (no fallback).
async fn ask_over(protocol: &'static str, peer: PeerId, addr: Multiaddr, miner: Address) -> Vec<u8> {
    let proto = StreamProtocol::new(protocol);
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .expect("tcp")
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                CborCodec {
                    max_request: 4096,
                    max_response: 65536,
                    read_deadline: Duration::from_secs(10),
                },
                [(proto.clone(), ProtocolSupport::Outbound)],
                request_response::Config::default(),
            )
        })
        .expect("behaviour")
        .build();
    let bytes = if protocol == protocols::ASK_1_0_1 {
        cbor::to_vec(&AskRequestV0 { miner })
    } else {
        cbor::to_vec(&AskRequest { miner })
    };
    swarm
        .behaviour_mut()
        .send_request_with_addresses(&peer, Frame::new(proto, bytes), vec![addr]);
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. },
                    ..
                }) => return response,
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
                    panic!("ask over {protocol}: {error}")
                }
                _ => {}
            }
        }
    })
    .await
    .expect("answer in time");
    assert_eq!(answer.protocol.as_ref(), protocol);
    answer.bytes
}

fn worker_key(net: &Devnet) -> Address {
    let list = run_ok("droplet-devnet", &["--repo", &s(&net.repo), "wallet", "list"]);
    let line = list.lines().find(|l| l.ends_with("\tworker")).expect("worker key");
    market_types::address::parse(line.split('\t').next().expect("address")).expect("address")
}

/// Both protocol versions: strict decoding of Go's layouts, canonical bytes, worker signature.
async fn check_both_versions(peer: PeerId, addr: Multiaddr, worker: Address) -> StorageAsk {
    let miner = market_types::address::parse(MINER).expect("miner");
    let raw = ask_over(protocols::ASK_1_1_0, peer, addr.clone(), miner).await;
    let r: AskResponse = cbor::from_slice(&raw).expect("1.1.0 response decodes strictly");
    assert_eq!(cbor::to_vec(&r), raw, "1.1.0 answer is canonical");
    let signed = r.ask.expect("an ask");
    let ask = signed.ask.clone().expect("ask body");
    market_crypto::verify(
        signed.signature.as_ref().expect("signature"),
        &worker,
        &ask.signing_bytes(),
    )
    .expect("1.1.0 signature by the worker over the map encoding");

    let raw = ask_over(protocols::ASK_1_0_1, peer, addr, miner).await;
    let r: AskResponseV0 = cbor::from_slice(&raw).expect("1.0.1 response decodes strictly");
    assert_eq!(cbor::to_vec(&r), raw, "1.0.1 answer is canonical");
    let signed = r.ask.expect("an ask");
    let ask0: StorageAsk = signed.ask.clone().expect("ask body").into();
    assert_eq!(ask0, ask, "both versions carry the same ask");
    market_crypto::verify(
        signed.signature.as_ref().expect("signature"),
        &worker,
        &ask0.signing_bytes_v0(),
    )
    .expect("1.0.1 signature by the worker over the tuple encoding");
    ask
}

#[tokio::test(flavor = "multi_thread")]
async fn asks_set_with_droplet_are_queried_by_the_client_in_every_signer_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net = Devnet::start(dir.path());
    let worker = worker_key(&net);
    let (client, client_repo) = start_client(dir.path(), &net, None);

    for (i, mode) in ["wallet", "lotusnode", "gateway"].iter().enumerate() {
        let (proc, repo) = start_droplet(dir.path(), &format!("droplet-{mode}"), &net, mode);
        let (peer, addr) = announce(&repo);
        let price = format!("0.0{}fil", i + 1);
        droplet(
            &repo,
            &[
                "storage",
                "ask",
                "set",
                "--price",
                &price,
                "--verified-price",
                "0.5fil",
                "--min-piece-size",
                "512b",
                "--max-piece-size",
                "4MiB",
                MINER,
            ],
        );
        let get = droplet(&repo, &["storage", "ask", "get", MINER]);
        let row = get.lines().nth(1).expect("ask row");
        let cols: Vec<&str> = row.split('\t').collect();
        assert_eq!(
            &cols[..5],
            &[MINER, &format!("0.0{} FIL", i + 1), "0.5 FIL", "512 B", "4 MiB"],
            "{get}"
        );
        assert_eq!(cols[7], "0", "first ask of this repo");

        let out = run_ok(
            "droplet-client",
            &["--repo", &client_repo, "storage", "asks", "query", MINER],
        );
        assert_eq!(
            out,
            format!(
                "Ask: {MINER}\nPrice per GiB: 0.0{} FIL\nVerified Price per GiB: 0.5 FIL\nMax Piece size: 4 MiB\nMin Piece size: 512 B\n",
                i + 1
            ),
            "{mode}"
        );
        let ask = check_both_versions(peer, addr, worker).await;
        assert_eq!(ask.price, market_types::units::parse_fil(&price).expect("price"));
        assert_eq!(ask.expiry - ask.timestamp, 86_400, "asks last 720 hours");
        proc.stop();
    }
    // An unknown miner is a clear error, not a hang.
    let out = run(
        "droplet-client",
        &["--repo", &client_repo, "storage", "asks", "query", "t01001"],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a miner"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(client);
}

fn secret_of(repo: &str) -> Vec<u8> {
    let cfg: toml::Table =
        toml::from_str(&std::fs::read_to_string(Path::new(repo).join("config.toml")).expect("config")).expect("toml");
    hex::decode(cfg["API"]["PrivateKey"].as_str().expect("key")).expect("hex")
}

fn api_url(repo: &str, version: &str) -> String {
    let api = std::fs::read_to_string(Path::new(repo).join("api")).expect("api");
    let rest = api.trim().trim_start_matches("/ip4/");
    let (ip, port) = rest.split_once("/tcp/").expect("multiaddr");
    format!("http://{ip}:{port}/rpc/{version}")
}

async fn post(url: &str, token: Option<&str>, method: &str, params: &Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Each method: 401 without a token, refused one level too low, served at its level.
/// `params` gets the method and the results of the methods called before it.
async fn check_permissions(
    url: &str,
    secret: &[u8],
    namespace: &str,
    methods: &[market_proto::api::MethodSpec],
    params: impl Fn(&str, &std::collections::HashMap<&str, Value>) -> Value,
) {
    let mut results = std::collections::HashMap::new();
    for m in methods {
        let name = format!("{namespace}.{}", m.name);
        let p = params(m.name, &results);
        let (status, _) = post(url, None, &name, &p).await;
        assert_eq!(status, 401, "{name} without a token");
        if let Some(lower) = Perm::ALL.iter().rev().find(|x| **x < m.perm) {
            let t = jwt::sign(secret, &JwtPayload::new("tester", *lower));
            let (_, v) = post(url, Some(&t), &name, &p).await;
            assert_eq!(
                v["error"]["message"],
                format!("missing permission to invoke '{}' (need '{}')", m.name, m.perm),
                "{name} with {lower}"
            );
        }
        let t = jwt::sign(secret, &JwtPayload::new("tester", m.perm));
        let (_, v) = post(url, Some(&t), &name, &p).await;
        let code = v["error"]["code"].as_i64();
        assert!(
            v.get("result").is_some() || code == Some(1),
            "{name} with {}: {v}",
            m.perm
        );
        assert!(!matches!(code, Some(-32601 | -32602)), "{name}: {v}");
        results.insert(m.name, v["result"].clone());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn apis_need_tokens_and_daemons_keep_their_state_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net = Devnet::start(dir.path());
    let (proc, repo) = start_droplet(dir.path(), "droplet", &net, "wallet");
    let (client, client_repo) = start_client(dir.path(), &net, None);
    let (peer, _) = announce(&repo);

    // Permissions on droplet's API, on both paths.
    let secret = secret_of(&repo);
    let worker = worker_key(&net).to_string();
    for version in ["v0", "v1"] {
        check_permissions(&api_url(&repo, version), &secret, "VENUS_MARKET", market_proto::api::market::METHODS, |m, before| match m {
            "ActorUpsert" => json!([{"Addr": MINER, "Account": "devnet"}]),
            "ActorDelete" => json!(["t01001"]),
            "ActorList" | "MarketListStorageAsk" | "MarketListRetrievalAsk" | "NetAddrsListen" | "ID" | "Version" => json!([]),
            "ActorExist" | "ActorSectorSize" | "MarketGetAsk" | "MarketGetRetrievalAsk" => json!([MINER]),
            "MarketSetAsk" => json!([MINER, "0", "0", 86400, 256, 4194304]),
            "MarketSetRetrievalAsk" => json!([MINER, {"PricePerByte": "0", "UnsealPrice": "0", "PaymentInterval": 1048576, "PaymentIntervalIncrease": 1048576}]),
            "MessagerPushMessage" => json!([{"Version":0,"To":MINER,"From":worker,"Nonce":0,"Value":"0","GasLimit":0,"GasFeeCap":"0","GasPremium":"0","Method":0,"Params":null}, null]),
            "MessagerWaitMessage" => json!([before["MessagerPushMessage"], 0]),
            "MarketListIncompleteDeals" => json!([null]),
            "MarketGetDeal" => json!([{"/": market_types::chain::chain_cid(b"no such deal").to_string()}]),
            "DealsImportData" => json!([{"UUID": "8aa7d4a0-40bb-4b1a-b661-1e70b2de6a0c", "File": "/nonexistent"}, false]),
            "MarketPendingDeals" | "MarketPublishPendingDeals" => json!([]),
            "AssignDeals" => json!([{"Miner": 1000, "Number": 99}, 8388608, {}]),
            "ReleaseDeals" | "MarkDealsAsPacking" => json!([MINER, [12345]]),
            "GetUnPackedDeals" => json!([MINER, null]),
            "UpdateDealOnPacking" => json!([MINER, 12345, 1, 0]),
            "UpdateDealStatus" => json!([MINER, 12345, "Packing", 0]),
            "UpdateStorageDealStatus" => json!([{"/": market_types::chain::chain_cid(b"no such deal").to_string()}, 0, ""]),
            "DealsBatchImportData" => json!([{"Refs": [], "SkipCommP": false}]),
            "DealsImport" => json!([[]]),
            "MarketAddBalance" | "MarketReserveFunds" | "MarketWithdraw" => json!([worker, MINER, "0"]),
            "MarketGetReserved" => json!([MINER]),
            "MarketReleaseFunds" => json!([MINER, "0"]),
            "DealsSetPieceCidBlocklist" => json!([MINER, []]),
            "DealsSetMaxStartDelay" => json!([MINER, 1_209_600_000_000_000u64]),
            "DealsSetPublishMsgPeriod" => json!([MINER, 3_600_000_000_000u64]),
            "SectorSetExpectedSealDuration" => json!([MINER, 86_400_000_000_000u64]),
            "MarketSetMaxDealsPerPublishMsg" => json!([MINER, 8]),
            m if m.starts_with("DealsSetConsider") => json!([MINER, true]),
            m if m.starts_with("Deals") || m.starts_with("Sector") || m.starts_with("MarketMaxDeals") => json!([MINER]),
            other => panic!("no example params for {other}"),
        })
        .await;
        let no_deal = "8aa7d4a0-40bb-4b1a-b661-1e70b2de6a0c";
        check_permissions(
            &api_url(&repo, version),
            &secret,
            "VENUS_MARKET",
            market_proto::api::direct_deal::METHODS,
            |m, _| match m {
                "ImportDirectDeal" => json!([{"SkipCommP": false, "DealParams": []}]),
                "GetDirectDeal" => json!([no_deal]),
                "GetDirectDealByAllocationID" => json!([999_999]),
                "ListDirectDeals" => json!([{"Provider": MINER, "Client": "<empty>", "Asc": true}]),
                "UpdateDirectDealState" => json!([no_deal, 6]),
                "ReleaseDirectDeals" => json!([MINER, [999_999]]),
                other => panic!("no example params for {other}"),
            },
        )
        .await;
    }
    // …and on the client's.
    let client_secret = secret_of(&client_repo);
    check_permissions(
        &api_url(&client_repo, "v0"),
        &client_secret,
        "VENUS_MARKET_CLIENT",
        market_proto::api::market_client::METHODS,
        |m, before| match m {
            "ClientQueryAsk" => json!([peer.to_string(), MINER]),
            "ClientGetVerifiedDealDistribution" => json!([[MINER], "<empty>"]),
            // Refused by the daemon (no piece CID, nothing imported), but past the permission check.
            "ClientStatelessDeal" | "ClientStartDeal" => json!([{
                "Data": {"TransferType": "manual", "Root": {"/": market_types::chain::chain_cid(b"root").to_string()}},
                "Wallet": worker, "Miner": MINER, "EpochPrice": "0", "MinBlocksDuration": 518400,
                "ProviderCollateral": "0", "DealStartEpoch": 0, "FastRetrieval": true, "VerifiedDeal": false
            }]),
            // Each refused by the daemon (not manual), answered as a failed result.
            "ClientBatchDeal" => json!([[{
                "Data": {"TransferType": "graphsync", "Root": {"/": market_types::chain::chain_cid(b"root").to_string()}},
                "Wallet": worker, "Miner": MINER, "EpochPrice": "0", "MinBlocksDuration": 518400,
                "ProviderCollateral": "0", "DealStartEpoch": 0, "FastRetrieval": true, "VerifiedDeal": false
            }]]),
            // A zero-value send from the client's wallet to itself.
            "MessagerPushMessage" => json!([{"Version":0,"To":worker,"From":worker,"Nonce":0,"Value":"0","GasLimit":0,"GasFeeCap":"0","GasPremium":"0","Method":0,"Params":null}, null]),
            "ClientGetDealInfo" => json!([{"/": market_types::chain::chain_cid(b"no deal").to_string()}]),
            "ClientImport" => json!([{"Path": "/nonexistent/file", "IsCAR": false}]),
            "ClientRemoveImport" => json!([999]),
            "ClientDealStatusFromProvider" => json!([{"/": market_types::chain::chain_cid(b"no deal").to_string()}]),
            "MarketAddBalance" | "MarketReserveFunds" | "MarketWithdraw" => json!([worker, worker, "0"]),
            "MarketGetReserved" => json!([worker]),
            "MarketReleaseFunds" => json!([worker, "0"]),
            "MessagerWaitMessage" => json!([before["MarketAddBalance"], 0]),
            "ClientMinerQueryOffer" => {
                json!([MINER, {"/": market_types::chain::chain_cid(b"no data").to_string()}, null])
            }
            // Refused by the daemon (size 0), but past the permission check.
            "ClientRetrieve" => json!([{
                "Root": {"/": market_types::chain::chain_cid(b"root").to_string()}, "Piece": null,
                "DataSelector": null, "Size": 0, "Total": "0", "UnsealPrice": "0", "PaymentInterval": 0,
                "PaymentIntervalIncrease": 0, "Client": worker, "Miner": worker, "MinerPeer": null
            }]),
            "ClientRetrieveWait" | "ClientCancelRetrievalDeal" | "ClientRetrievalLog" => json!([999]),
            // Refused by the daemon (no such channel; a zero amount from a key it cannot sign
            // for), but past the permission check.
            "PaychGet" => json!([worker, worker, "0"]),
            "PaychVoucherList" | "PaychSettle" | "PaychCollect" | "PaychAvailableFunds" => json!([worker]),
            "PaychVoucherCreate" => json!([worker, "0", 0]),
            "PaychVoucherCheckValid" => json!([worker, some_voucher()]),
            "PaychVoucherAdd" => json!([worker, some_voucher(), null, "0"]),
            "ClientExport" => json!([
                {"Root": {"/": market_types::chain::chain_cid(b"root").to_string()}, "DealID": 999},
                {"Path": "/nonexistent/out", "IsCAR": false}
            ]),
            _ => json!([]),
        },
    )
    .await;
    // droplet's retrieval deal methods.
    check_permissions(
        &api_url(&repo, "v0"),
        &secret,
        "VENUS_MARKET",
        market_proto::api::retrieval::METHODS,
        |m, _| match m {
            "MarketListRetrievalDeals" => json!([{}]),
            "MarketGetRetrievalDeal" => json!([peer.to_string(), 1]),
            "GetRetrievalDealStatistic" => json!([MINER]),
            "PaychVoucherList" | "PaychSubmitVouchers" | "PaychSettle" | "PaychCollect" => json!([worker]),
            "PaychInboundList" => json!([]),
            "MarketSetRetrievalPaymentAddress" => json!([MINER, worker]),
            other => panic!("no example params for {other}"),
        },
    )
    .await;
    // droplet's data-transfer channel methods.
    check_permissions(
        &api_url(&repo, "v0"),
        &secret,
        "VENUS_MARKET",
        market_proto::api::transfers::METHODS,
        |m, _| match m {
            "MarketListDataTransfers" => json!([]),
            "MarketRestartDataTransfer" | "MarketCancelDataTransfer" => json!([1, peer.to_string(), false]),
            other => panic!("no example params for {other}"),
        },
    )
    .await;
    // droplet's IPNI methods (IPNI is off here: each says so).
    check_permissions(
        &api_url(&repo, "v0"),
        &secret,
        "VENUS_MARKET",
        market_proto::api::indexer::METHODS,
        |m, _| match m {
            "IndexerAnnounceAllDeals" => json!([MINER]),
            "IndexerListMultihashes" | "IndexerAnnounceDealRemoved" | "IndexerAnnounceDeal" => {
                json!([
                    base64::engine::general_purpose::STANDARD.encode(market_types::chain::chain_cid(b"x").to_bytes())
                ])
            }
            "IndexerAnnounceLatest" => json!([]),
            "IndexerAnnounceLatestHttp" => json!([["http://127.0.0.1:9/announce"]]),
            other => panic!("no example params for {other}"),
        },
    )
    .await;

    // The asks the restart must keep (set after the permission checks, which set their own).
    droplet(
        &repo,
        &[
            "storage",
            "ask",
            "set",
            "--price",
            "0.01fil",
            "--verified-price",
            "0",
            MINER,
        ],
    );
    droplet(&repo, &["retrieval", "ask", "set", "--unseal-price", "0.01fil", MINER]);

    // One daemon per repo.
    let second = run(
        "droplet",
        &[
            "--repo",
            &repo,
            "run",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--libp2p-listen",
            "/ip4/127.0.0.1/tcp/0",
        ],
    );
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("repo is locked"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let second = run(
        "droplet-client",
        &["--repo", &client_repo, "run", "--listen", "/ip4/127.0.0.1/tcp/0"],
    );
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("repo is locked"));

    // Restart both: same peer IDs, config, miners and asks.
    let before = (
        droplet(&repo, &["net", "id"]),
        droplet(&repo, &["actor", "list"]),
        droplet(&repo, &["storage", "ask", "list"]),
        droplet(&repo, &["retrieval", "ask", "list"]),
        std::fs::read_to_string(Path::new(&repo).join("config.toml")).expect("config"),
    );
    let client_log_id = |p: &Proc| {
        p.log()
            .lines()
            .find_map(|l| l.split("peer ID ").nth(1).map(str::to_string))
    };
    let client_id = client_log_id(&client).expect("client peer id in its log");
    let client_cfg = std::fs::read_to_string(Path::new(&client_repo).join("config.toml")).expect("config");
    proc.stop();
    client.stop();
    // Restarted with no flags: everything comes from the repo.
    let _ = std::fs::remove_file(Path::new(&repo).join("api"));
    let _ = std::fs::remove_file(Path::new(&client_repo).join("api"));
    let mut again = Proc::start("droplet", &["--repo", &repo, "run"], &dir.path().join("droplet-2.log"));
    let api = Path::new(&repo).join("api");
    wait_for("droplet restarted", Duration::from_secs(60), Some(&mut again), || {
        std::fs::read_to_string(&api).ok()
    });
    let after = (
        droplet(&repo, &["net", "id"]),
        droplet(&repo, &["actor", "list"]),
        droplet(&repo, &["storage", "ask", "list"]),
        droplet(&repo, &["retrieval", "ask", "list"]),
        std::fs::read_to_string(Path::new(&repo).join("config.toml")).expect("config"),
    );
    assert_eq!(before.0, after.0, "peer ID");
    assert_eq!(before.1, after.1, "miners");
    // The same ask (all but the remaining time, which moves with the chain).
    let ask_cols = |t: &str| {
        t.lines().nth(1).map(|l| {
            l.split('\t')
                .take(6)
                .chain(l.split('\t').skip(7))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(ask_cols(&before.2), ask_cols(&after.2), "storage ask");
    assert_eq!(before.3, after.3, "retrieval ask");
    assert_eq!(before.4, after.4, "config");

    let mut client2 = Proc::start(
        "droplet-client",
        &["--repo", &client_repo, "run"],
        &dir.path().join("client-2.log"),
    );
    let api = Path::new(&client_repo).join("api");
    wait_for(
        "droplet-client restarted",
        Duration::from_secs(60),
        Some(&mut client2),
        || std::fs::read_to_string(&api).ok(),
    );
    assert_eq!(client_log_id(&client2), Some(client_id), "client peer ID");
    assert_eq!(
        std::fs::read_to_string(Path::new(&client_repo).join("config.toml")).expect("config"),
        client_cfg
    );
    // And it still queries the restarted provider, once its new port is on chain (the
    // test listens on port 0; a provider keeps a fixed one).
    announce(&repo);
    let out = run_ok(
        "droplet-client",
        &["--repo", &client_repo, "storage", "asks", "query", MINER],
    );
    assert!(out.contains("Price per GiB: 0.01 FIL"), "{out}");
}

/// A voucher on no channel of ours (refused by the daemon, past the permission check).
fn some_voucher() -> serde_json::Value {
    let ch = market_types::Address::new_actor(b"no such channel");
    serde_json::to_value(market_types::chain::SignedVoucher {
        channel_addr: ch,
        time_lock_min: 0,
        time_lock_max: 0,
        secret_hash: market_types::bytes::Bytes(Vec::new()),
        extra: None,
        lane: 0,
        nonce: 1,
        amount: market_types::TokenAmount::from_atto(1u64),
        min_settle_height: 0,
        merges: Vec::new(),
        signature: None,
    })
    .expect("json")
}

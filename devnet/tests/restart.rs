//! The `droplet-devnet` binary: it serves on loopback, writes its API info, keeps its chain
//! across a crash (SIGKILL) and a restart, and refuses a second process on the same repo.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::messager::MessagerClient;
use market_proto::api::wallet::{MsgMeta, meta_type};
use market_proto::api_info::ApiInfo;
use market_types::chain::{
    ClientDealProposal, DealProposal, Message, PublishStorageDealsParams, TipSetKey, market_method,
};
use market_types::units::PaddedPieceSize;
use market_types::{Address, Bytes, DealLabel, TokenAmount, cbor};

/// Kills the devnet when the test ends, however it ends.
struct Devnet(Child);

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(repo: &Path) -> Devnet {
    let _ = std::fs::remove_file(repo.join("api"));
    let child = Command::new(env!("CARGO_BIN_EXE_droplet-devnet"))
        .args([
            "--repo",
            repo.to_str().expect("utf-8 path"),
            "run",
            "--listen",
            "127.0.0.1:0",
            "--block-time",
            "0",
        ])
        .env("DEVNET_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn droplet-devnet");
    let d = Devnet(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !repo.join("api").exists() {
        assert!(Instant::now() < deadline, "droplet-devnet did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    d
}

fn client(repo: &Path) -> jsonrpsee::http_client::HttpClient {
    let info = std::fs::read_to_string(repo.join("api-info/node")).expect("api info");
    let info = ApiInfo::parse(&info);
    assert!(
        info.addr.starts_with("/ip4/127.0.0.1/tcp/"),
        "loopback only: {}",
        info.addr
    );
    market_proto::client::http(&info, "v1", Duration::from_secs(30)).expect("client")
}

async fn mine(c: &jsonrpsee::http_client::HttpClient) {
    use jsonrpsee::core::client::ClientT;
    let _: serde_json::Value = c.request("Devnet.Mine", jsonrpsee::rpc_params![0]).await.expect("mine");
}

fn addr_of(repo: &Path, name: &str) -> Address {
    let names: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(repo.join("keystore/names.json")).expect("names")).expect("json");
    market_types::address::parse(&names[name]).expect("address")
}

fn message(from: Address, to: Address, method: u64, params: Vec<u8>, value: TokenAmount) -> Message {
    Message::to_send(from, to, method, params, value)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_devnet_restarts_with_its_chain_balances_and_deals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("devnet");
    let tsk = || Json(TipSetKey::default());
    let first = start(&repo);
    let c = client(&repo);
    let (client_addr, owner, worker) = (
        addr_of(&repo, "client"),
        addr_of(&repo, "owner"),
        addr_of(&repo, "worker"),
    );
    let market = Address::new_id(5);
    let miner = Address::new_id(1000);

    // Escrow for both sides, a published deal, and a messager record.
    for (from, who) in [(client_addr, client_addr), (owner, miner)] {
        let m = message(
            from,
            market,
            market_method::ADD_BALANCE,
            cbor::to_vec(&who),
            TokenAmount::from_whole(20),
        );
        c.mpool_push_message(Json(m), None).await.expect("add balance");
    }
    mine(&c).await;
    let c_piece = piece_store::commp::of_bytes(&[7u8; 1000]).expect("commP");
    let start_epoch = 2000;
    let proposal = DealProposal {
        piece_cid: piece_store::commp::piece_cid_v1(&c_piece.commp),
        piece_size: PaddedPieceSize(1024),
        verified_deal: false,
        client: client_addr,
        provider: miner,
        label: DealLabel::String("restart".into()),
        start_epoch,
        end_epoch: start_epoch + devnet::state::policy::DEAL_MIN_DURATION,
        storage_price_per_epoch: TokenAmount::from_atto(1_000),
        provider_collateral: TokenAmount::from_whole(1),
        client_collateral: TokenAmount::default(),
    };
    let sig = c
        .wallet_sign(
            Json(client_addr),
            Json(Bytes(proposal.signing_bytes())),
            Some(MsgMeta::new(meta_type::DEAL_PROPOSAL)),
        )
        .await
        .expect("sign")
        .0;
    let psd = cbor::to_vec(&PublishStorageDealsParams {
        deals: vec![ClientDealProposal {
            proposal,
            client_signature: sig,
        }],
    });
    let id = "bafk2bzacerestarttestid";
    c.push_message_with_id(
        id.into(),
        Json(message(
            worker,
            market,
            market_method::PUBLISH_STORAGE_DEALS,
            psd,
            TokenAmount::default(),
        )),
        None,
    )
    .await
    .expect("messager push");
    mine(&c).await;
    mine(&c).await;

    let head = c.chain_head().await.expect("head").0;
    let balance = c.wallet_balance(Json(client_addr)).await.expect("balance").0;
    let escrow = c
        .state_market_balance(Json(client_addr), tsk())
        .await
        .expect("escrow")
        .0;
    let deals = c.state_market_deals(tsk()).await.expect("deals").0;
    assert_eq!(deals.0.len(), 1, "the deal was published");
    let record = c.get_message_by_uid(id.into()).await.expect("record");
    assert_eq!(record.state, market_proto::api::messager::state::ON_CHAIN);

    // A second devnet on the same repo is refused while the first runs.
    let second = Command::new(env!("CARGO_BIN_EXE_droplet-devnet"))
        .args([
            "--repo",
            repo.to_str().expect("utf-8"),
            "run",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("second");
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use by another droplet-devnet"), "{err}");

    // Crash: SIGKILL, no clean shutdown.
    drop(first);
    let _again = start(&repo);
    let c = client(&repo);
    assert_eq!(
        c.chain_head().await.expect("head").0,
        head,
        "same head, same block CIDs"
    );
    for h in 0..=head.height() {
        let ts = c.chain_get_tipset_by_height(h, tsk()).await.expect("tipset").0;
        assert!(ts.height() <= h);
    }
    assert_eq!(c.wallet_balance(Json(client_addr)).await.expect("balance").0, balance);
    assert_eq!(
        c.state_market_balance(Json(client_addr), tsk())
            .await
            .expect("escrow")
            .0,
        escrow
    );
    assert_eq!(c.state_market_deals(tsk()).await.expect("deals").0, deals);
    let again = c.get_message_by_uid(id.into()).await.expect("record");
    assert_eq!(again.signed_cid.map(|x| x.0), record.signed_cid.map(|x| x.0));
    assert_eq!(again.height, record.height);

    // The chain goes on from where it was: nonces continue and blocks extend the old head.
    let m = message(client_addr, owner, 0, vec![], TokenAmount::from_whole(1));
    let signed = c.mpool_push_message(Json(m), None).await.expect("send after restart").0;
    assert_eq!(signed.message.nonce, 1, "the client's add-balance used nonce 0");
    mine(&c).await;
    let next = c.chain_head().await.expect("head").0;
    assert_eq!(next.height(), head.height() + 1);
    assert_eq!(next.parents(), head.key());
}

fn devnet_cmd(repo: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_droplet-devnet"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .output()
        .expect("run droplet-devnet")
}

#[test]
fn scripts_can_list_export_and_send() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("devnet");
    let child = Command::new(env!("CARGO_BIN_EXE_droplet-devnet"))
        .arg("--repo")
        .arg(&repo)
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--block-time",
            "100ms",
            "--sector-size",
            "2KiB",
        ])
        .env("DEVNET_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let _guard = Devnet(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !repo.join("api").exists() {
        assert!(Instant::now() < deadline, "droplet-devnet did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let node_info = std::fs::read_to_string(repo.join("api-info/node")).expect("node api info");
    let (token, addr) = node_info.trim().split_once(':').expect("TOKEN:MULTIADDR");
    assert_eq!(token.split('.').count(), 3, "a JWT");
    assert!(
        addr.starts_with("/ip4/127.0.0.1/tcp/") && addr.ends_with("/http"),
        "{addr}"
    );

    let list = devnet_cmd(&repo, &["wallet", "list"]);
    assert!(list.status.success());
    let list = String::from_utf8_lossy(&list.stdout);
    for name in ["client", "verified-client", "owner", "worker", "root"] {
        assert!(
            list.lines().any(|l| l.ends_with(&format!("\t{name}"))),
            "{name} in {list}"
        );
    }
    assert!(list.lines().all(|l| l.starts_with('t')), "testnet addresses: {list}");

    let export = devnet_cmd(&repo, &["wallet", "export", "worker"]);
    assert!(export.status.success());
    let info = market_crypto::KeyInfo::parse(&String::from_utf8_lossy(&export.stdout)).expect("lotus export format");
    let key = market_crypto::Key::from_info(&info).expect("key");
    assert_eq!(key.address(), addr_of(&repo, "worker"));
    let unknown = devnet_cmd(&repo, &["wallet", "export", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("neither an account name nor an address"));

    let fresh = market_crypto::Key::generate(market_crypto::KeyType::Bls)
        .address()
        .to_string();
    let sent = devnet_cmd(&repo, &["send", "--from", "client", &fresh, "2.5"]);
    let out = String::from_utf8_lossy(&sent.stdout);
    assert!(sent.status.success(), "{out} {}", String::from_utf8_lossy(&sent.stderr));
    assert!(out.contains("sent 2.5 FIL") && out.contains("exit code 0"), "{out}");
    let broke = devnet_cmd(&repo, &["send", "--from", &fresh, "client", "1000"]);
    assert!(!broke.status.success(), "a send beyond the balance fails");
    assert!(
        String::from_utf8_lossy(&broke.stderr).contains("key"),
        "{}",
        String::from_utf8_lossy(&broke.stderr)
    );

    let template = devnet_cmd(&repo, &["genesis-template"]);
    let text = String::from_utf8_lossy(&template.stdout);
    assert!(devnet::genesis::GenesisConfig::from_toml(&text).is_ok(), "{text}");
    let bad = devnet_cmd(
        &dir.path().join("other"),
        &["run", "--listen", "127.0.0.1:0", "--sector-size", "3MiB"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not one Filecoin supports"));
}

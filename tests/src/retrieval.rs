//! What the retrieval tests share: Active deals worth retrieving, a priced ask, droplet-client's
//! `retrieval retrieve`, and what the chain and droplet say was paid.

use std::path::Path;

use crate::market::{MINER, Market, s};
use crate::procs::{run, run_ok};

/// A multi-block UnixFS file imported into droplet-client and proposed online; its root and
/// the proposal CID.
pub fn propose_imported(m: &Market, file: &Path) -> (String, String) {
    let root = run_ok(
        "droplet-client",
        &["--repo", &m.client, "data", "import", "--quiet", &s(file)],
    )
    .trim()
    .to_string();
    let out = m.init_root(&root, "0.0000001", "180 days", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (root, String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// An offline deal of the market's CAR and an online deal of a 2.5 MiB file, both Active.
pub fn two_active_deals(m: &Market) -> (String, Vec<u8>) {
    let offline = m.propose();
    assert!(m.deal_cmd(&["import-data", &offline, &m.car]).status.success());
    let big: Vec<u8> = crate::gorand::GoRandStream::bytes(7, 5 << 19);
    let file = Path::new(&m.car).with_file_name("big.bin");
    std::fs::write(&file, &big).expect("write");
    let (root, online) = propose_imported(m, &file);
    m.publish_seal_and_activate(&[offline, online]);
    (root, big)
}

/// The payment interval of the tests' priced ask: droplet's credit (32 intervals, 512 KiB)
/// is then smaller than one of the test files' 1 MiB blocks, so a 2.5 MiB retrieval is paid for
/// in at least three payments however fast it runs.
pub const PAYMENT_INTERVAL: u64 = 16 << 10;

/// 1000 attoFIL a byte (the ask is per GiB), a payment every [`PAYMENT_INTERVAL`].
pub fn set_priced_ask(m: &Market) {
    m.droplet(&[
        "retrieval",
        "ask",
        "set",
        MINER,
        "--price",
        "0.000001073741824",
        "--payment-interval",
        &PAYMENT_INTERVAL.to_string(),
        "--payment-interval-increase",
        "0",
    ]);
}

pub fn retrieve(m: &Market, root: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let args = retrieve_args(m, root, out, extra);
    run("droplet-client", &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `droplet-client --repo <client> retrieval retrieve --provider <miner> <extra…> <root> <out>`.
pub fn retrieve_args(m: &Market, root: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--repo",
        m.client.as_str(),
        "retrieval",
        "retrieve",
        "--provider",
        MINER,
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend([root.to_string(), s(out)]);
    args
}

/// 10,000 GETs of `url(i)` (things droplet does not have), each answered 404, with droplet's
/// memory after the last 9,000 within 8 MiB of what it was after the first 1,000.
pub fn absent_requests_leave_memory_flat(droplet: &crate::procs::Proc, url: impl Fn(u32) -> String) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ask = |from: u32, to: u32| {
        rt.block_on(async {
            let http = reqwest::Client::new();
            for i in from..to {
                let r = http.get(url(i)).send().await.expect("answered");
                assert_eq!(r.status().as_u16(), 404, "{}", url(i));
            }
        })
    };
    ask(0, 1_000);
    let before = droplet.rss_kib();
    ask(1_000, 10_000);
    let after = droplet.rss_kib();
    assert!(
        after < before + 8 * 1024,
        "droplet grew from {before} KiB to {after} KiB over 9,000 requests for things it does not have"
    );
}

/// The client's `paych list`, and its first channel.
pub fn first_channel(m: &Market) -> (String, String) {
    let channels = m.client(&["paych", "list"]);
    let ch = channels
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("a channel")
        .to_string();
    (channels, ch)
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What the provider received over all its retrieval deals, in attoFIL.
pub fn total_received(m: &Market) -> u128 {
    let list = m.droplet(&["retrieval", "deal", "list"]);
    list.lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split_whitespace();
            let (receiver, id) = (f.next().expect("receiver"), f.next().expect("id"));
            let d: serde_json::Value =
                serde_json::from_str(&m.droplet(&["retrieval", "deal", "get", receiver, id])).expect("json");
            d["FundsReceived"]
                .as_str()
                .expect("funds")
                .parse::<u128>()
                .expect("number")
        })
        .sum()
}

/// One JSON-RPC call to `url` with bearer `token`; the whole answer (`result` or `error`).
pub fn rpc(url: &str, token: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    try_rpc(url, token, method, params).expect("a JSON-RPC answer")
}

/// [`rpc`], or None when the server does not answer.
fn try_rpc(url: &str, token: &str, method: &str, params: serde_json::Value) -> Option<serde_json::Value> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    })
}

/// One call to a daemon's JSON-RPC (`<namespace>.<method>`, admin token) from its repo's
/// `api` and `token` files; None while it is down.
fn daemon_rpc(repo: &str, namespace: &str, method: &str, params: serde_json::Value) -> Option<serde_json::Value> {
    let repo = Path::new(repo);
    let read = |f: &str| std::fs::read_to_string(repo.join(f)).ok();
    let info = market_proto::api_info::ApiInfo {
        token: read("token")?.trim().to_string(),
        addr: read("api")?.trim().to_string(),
    };
    let url = info.url("v0").ok()?.replacen("ws://", "http://", 1);
    try_rpc(&url, &info.token, &format!("{namespace}.{method}"), params)
}

/// One call to droplet-client's JSON-RPC (`VENUS_MARKET_CLIENT.<method>`, admin token).
pub fn client_rpc(m: &Market, method: &str, params: serde_json::Value) -> serde_json::Value {
    try_client_rpc(m, method, params).expect("droplet-client answers")
}

/// [`client_rpc`], or None while droplet-client is down.
pub fn try_client_rpc(m: &Market, method: &str, params: serde_json::Value) -> Option<serde_json::Value> {
    daemon_rpc(&m.client, "VENUS_MARKET_CLIENT", method, params)
}

/// One call to droplet's JSON-RPC (`VENUS_MARKET.<method>`, admin token); None while it is
/// down.
pub fn droplet_rpc(m: &Market, method: &str, params: serde_json::Value) -> Option<serde_json::Value> {
    daemon_rpc(&m.provider, "VENUS_MARKET", method, params)
}

/// One call to the devnet's lotus JSON-RPC.
pub fn chain_rpc(m: &Market, method: &str, params: serde_json::Value) -> serde_json::Value {
    let (url, token) = m.node();
    rpc(&url, &token, method, params)
}

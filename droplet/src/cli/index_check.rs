//! `droplet index check-deal-index`: are a miner's Active deals findable at an indexer? For
//! each deal (newest first, created since `--start`), the indexer's find API is asked for the
//! deal's payload CID (its label) and the answer checked for the miner's on-chain peer ID; with
//! `--try-announce`, a deal not found is withdrawn and advertised again. The payload → peer IDs
//! seen are kept in a JSON file (`<miner>_payload_cid_peer_ids.json`) so a rerun asks only for
//! what it has not seen, as droplet's command does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use droplet::repo::Repo;
use jsonrpsee::http_client::HttpClient;
use market_proto::Json;
use market_proto::api::indexer::MarketIndexerClient;
use market_proto::api::market::DealQuery;
use market_proto::api::market::clients::MarketDealsClient;
use market_proto::api_info::ApiInfo;
use market_proto::client::call_error;
use market_types::label::DealLabel;
use market_types::states::StorageDealStatus;
use market_types::{Address, Bytes};

/// The command's flags, as droplet's.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[arg(long)]
    miner: String,
    /// droplet's API (with --droplet-token); the repo's when not given.
    #[arg(long)]
    droplet_url: Option<String>,
    #[arg(long)]
    droplet_token: Option<String>,
    /// The full node (with --node-token); the repo's `[Node]` when not given.
    #[arg(long)]
    node_url: Option<String>,
    #[arg(long)]
    node_token: Option<String>,
    /// Check deals created from this day on (YYYY-MM-DD, UTC); 180 days ago by default.
    #[arg(long)]
    start: Option<String>,
    #[arg(short, long)]
    verbose: bool,
    #[arg(long, default_value = "https://cid.contact")]
    ipni_url: String,
    /// Withdraw and advertise again a deal the indexer does not have.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    try_announce: bool,
    /// Where the payload → peer IDs seen are kept.
    #[arg(long)]
    output: Option<String>,
}

/// Seconds since the epoch at the start of `YYYY-MM-DD` (UTC).
fn day_start(s: &str) -> Option<u64> {
    let mut it = s.trim().splitn(3, '-');
    let (y, m, d): (i64, i64, i64) = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400).ok()
}

/// The provider IDs an indexer's find API gives for a CID (none when it answers 404).
async fn providers_of(http: &reqwest::Client, base: &str, payload: &cid::Cid) -> Result<BTreeSet<String>> {
    let url = format!(
        "{}/multihash/{}",
        base.trim_end_matches('/'),
        bs58::encode(payload.hash().to_bytes()).into_string()
    );
    let resp = http
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .with_context(|| format!("asking {url}"))?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(BTreeSet::new());
    }
    if !resp.status().is_success() {
        return Err(anyhow!("{url}: find query failed: {}", resp.status()));
    }
    // An indexer's answer for one CID; a larger one is not a find response.
    const MAX_BODY: usize = 64 << 20;
    let mut resp = resp;
    let mut raw = Vec::new();
    while let Some(chunk) = resp.chunk().await.with_context(|| format!("reading {url}"))? {
        if raw.len() + chunk.len() > MAX_BODY {
            return Err(anyhow!("{url}: the answer is over {} MiB", MAX_BODY >> 20));
        }
        raw.extend_from_slice(&chunk);
    }
    let body: serde_json::Value =
        serde_json::from_slice(&raw).with_context(|| format!("{url}: not a find response"))?;
    let mut out = BTreeSet::new();
    for mr in body["MultihashResults"].as_array().into_iter().flatten() {
        for pr in mr["ProviderResults"].as_array().into_iter().flatten() {
            if let Some(id) = pr["Provider"]["ID"].as_str() {
                out.insert(id.to_string());
            }
        }
    }
    Ok(out)
}

pub async fn run(repo: &Repo, a: CheckArgs) -> Result<()> {
    let timeout = Duration::from_secs(120);
    let client = |url: Option<String>, token: Option<String>| -> Result<Option<HttpClient>> {
        match (url, token) {
            (Some(addr), token) => Ok(Some(market_proto::client::http(
                &ApiInfo {
                    token: token.unwrap_or_default(),
                    addr,
                },
                "v0",
                timeout,
            )?)),
            (None, _) => Ok(None),
        }
    };
    let api = match client(a.droplet_url.clone(), a.droplet_token.clone())? {
        Some(c) => c,
        None => super::daemon(repo)?,
    };
    let node = match client(a.node_url.clone(), a.node_token.clone())? {
        Some(c) => c,
        None => super::node(repo)?,
    };
    super::set_network(&node).await;
    let miner: Address = super::address(&a.miner)?;
    let start = match &a.start {
        Some(s) => {
            let t = day_start(s).ok_or_else(|| anyhow!("invalid start time({s}): want YYYY-MM-DD"))?;
            println!("check index from: {s}");
            t
        }
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .saturating_sub(180 * 86_400),
    };
    let mut deals = api
        .market_list_incomplete_deals(Some(DealQuery {
            miner: Some(Json(miner)),
            state: Some(StorageDealStatus::Active.code()),
            ..Default::default()
        }))
        .await
        .map_err(call_error)?;
    println!("found active market deals: {}", deals.len());
    deals.sort_by_key(|d| std::cmp::Reverse(d.created_at));

    let peer = super::miner_peer(&node, miner).await?.1.to_base58();

    let file = a
        .output
        .clone()
        .unwrap_or_else(|| format!("{}_payload_cid_peer_ids.json", a.miner));
    println!("payload cid peer ids file: {file}");
    let mut seen: BTreeMap<String, BTreeSet<String>> = match std::fs::read(&file) {
        Ok(raw) => serde_json::from_slice::<BTreeMap<String, BTreeMap<String, serde_json::Value>>>(&raw)
            .map(|m| m.into_iter().map(|(k, v)| (k, v.into_keys().collect())).collect())
            .unwrap_or_else(|e| {
                println!("unmarshal payload cid peer ids file {file} failed: {e}");
                BTreeMap::new()
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(anyhow!("read payload cid peer ids file {file} failed: {e}")),
    };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let (mut count, mut indexed) = (0u64, 0u64);
    for d in &deals {
        if d.created_at < start {
            continue;
        }
        let proposal = d.proposal_cid.0;
        let payload = match &d.proposal.0.proposal.label {
            DealLabel::String(s) => s.clone(),
            DealLabel::Bytes(_) => {
                println!("deal {proposal} label is not string");
                continue;
            }
        };
        count += 1;
        if !seen.contains_key(&payload) {
            let found = match payload.parse::<cid::Cid>() {
                Ok(c) => providers_of(&http, &a.ipni_url, &c).await,
                Err(e) => Err(anyhow!("payload cid {payload} of deal {proposal} is not a CID: {e}")),
            };
            match found {
                Ok(ids) => {
                    seen.insert(payload.clone(), ids);
                }
                Err(e) => {
                    println!("fill deal index failed: get index by miner {miner} payload cid {payload} failed: {e}");
                    continue;
                }
            }
        }
        if seen.get(&payload).is_some_and(|ids| ids.contains(&peer)) {
            indexed += 1;
            continue;
        }
        if a.verbose {
            println!("miner {miner} deal {proposal} not indexed, payload cid: {payload}");
        }
        if a.try_announce {
            println!("try announce deal {proposal}, {payload}");
            let ctx = Json(Bytes(proposal.to_bytes()));
            match api.indexer_announce_deal_removed(ctx.clone()).await {
                Ok(c) => println!("announce deal remove success, cid: {}", c.0),
                Err(e) => println!("announce deal remove failed: {}", call_error(e)),
            }
            match api.indexer_announce_deal(ctx).await {
                Ok(c) => println!(
                    "announce deal success, ad: {}",
                    c.map_or_else(|| "b".to_string(), |c| c.0.to_string())
                ),
                Err(e) => println!("announce deal failed: {}", call_error(e)),
            }
        }
    }
    let out: BTreeMap<&String, BTreeMap<&String, serde_json::Value>> = seen
        .iter()
        .map(|(k, v)| (k, v.iter().map(|p| (p, serde_json::json!({}))).collect()))
        .collect();
    match std::fs::write(&file, serde_json::to_vec(&out)?) {
        Ok(()) => println!("write payload cid peer ids to file success"),
        Err(e) => println!("write payload cid peer ids to file failed: {e}"),
    }
    println!("miner: {miner}, deal count: {count}, index count: {indexed}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::day_start;

    #[test]
    fn days_are_read_as_utc_midnights() {
        assert_eq!(day_start("1970-01-01"), Some(0));
        assert_eq!(day_start("2024-02-01"), Some(1_706_745_600));
        assert_eq!(day_start("2026-12-01"), Some(1_796_083_200));
        assert_eq!(day_start("2026-13-01"), None);
        assert_eq!(day_start("yesterday"), None);
    }
}

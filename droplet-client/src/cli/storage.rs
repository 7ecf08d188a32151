//! `droplet-client storage …`: through the client daemon's API.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;
use jsonrpsee::http_client::HttpClient;
use market_daemon::repo::Repo;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market_client::{DataRef, DealInfo, MarketClientClient, StartDealParams};
use market_proto::client::call_error;
use market_types::units::{format_fil, format_size};

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Providers' storage asks.
    #[command(subcommand)]
    Asks(AsksCommand),
    /// Storage deals.
    #[command(subcommand)]
    Deals(DealsCommand),
}

#[derive(Debug, Subcommand)]
pub enum DealsCommand {
    /// Propose a deal: `init <dataCid> <miner> <price> <duration>`. With `--manual-piece-cid`
    /// and `--manual-piece-size` the deal is offline (the provider imports the data with
    /// `droplet storage deal import-data`); otherwise the data must be imported here
    /// (`data import`) and the provider downloads its CAR over HTTP from this daemon, or from
    /// `--http-url`.
    Init(Box<InitArgs>),
    /// Offline deals for every row of a manifest (`data split`'s), spread over `--miner`s
    /// round-robin or, with `--filter`, within the FIL+ rules. Running it again skips rows
    /// already proposed.
    Batch(Box<super::batch::BatchArgs>),
    /// The client's deals.
    List {
        /// More columns: the deal UUID, protocol and bytes transferred.
        #[arg(short, long)]
        verbose: bool,
        /// Only offline deals.
        #[arg(long)]
        offline: bool,
        /// Include failed deals.
        #[arg(long)]
        show_failed: bool,
        /// Print the list again every few seconds.
        #[arg(long)]
        watch: bool,
        #[arg(long)]
        json: bool,
    },
    /// One deal, by proposal CID, as JSON.
    Get { proposal_cid: String },
    /// How the verified (FIL+) deals not yet ended are spread: a provider's total, unique data
    /// and duplication, or a client's over its providers (the FIL+ rules' measures).
    VerifiedDealStat {
        #[arg(long)]
        provider: Option<String>,
        /// The DataCap (client) address.
        #[arg(long)]
        client: Option<String>,
    },
    /// The offline deals the provider accepted and waits for the data of, as
    /// `proposalCID,pieceCID` rows: the manifest `droplet storage deal batch-import-data
    /// --manifest` reads (with the CARs named by piece CID in its `--car-dir`).
    Export {
        /// Write the rows to this file (with a header); without it, print a table.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
        /// At most this many rows in the file (0: all).
        #[arg(long, default_value_t = 0)]
        count: usize,
    },
    /// Ask the provider where a deal stands now (on the protocol the deal was made on).
    Status {
        /// The deal's proposal CID or UUID.
        #[arg(long = "deal-uuid", alias = "proposal-cid")]
        deal: String,
        #[arg(long)]
        json: bool,
    },
    /// One deal in detail, with its on-chain state once published.
    Inspect {
        #[arg(long, conflicts_with = "proposal_cid")]
        deal_id: Option<u64>,
        #[arg(long)]
        proposal_cid: Option<String>,
    },
    /// Deal counts and sizes by state.
    Stats {
        /// Only deals created within this long (a Go duration: 24h, 30m…).
        #[arg(long)]
        newer_than: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The data's root CID (the deal's label). Leave out all four arguments for the
    /// interactive prompts.
    pub(crate) data_cid: Option<String>,
    pub(crate) miner: Option<String>,
    /// Price per GiB per epoch, e.g. 0.0000001 (FIL) or "500000 attofil".
    pub(crate) price: Option<String>,
    /// Duration in epochs, or "180 days".
    pub(crate) duration: Option<String>,
    /// The piece CID of the data (`data commP`): makes the deal offline.
    #[arg(long)]
    pub(crate) manual_piece_cid: Option<String>,
    /// The unpadded piece size in bytes (`data commP`), e.g. 4064 or "3.969 KiB".
    #[arg(long)]
    pub(crate) manual_piece_size: Option<String>,
    /// The paying wallet (default: the daemon's --addr).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// The start epoch (default: eight days after the head).
    #[arg(long, default_value_t = 0)]
    pub(crate) start_epoch: i64,
    #[arg(long)]
    pub(crate) verified_deal: bool,
    /// Keep an unsealed copy for fast retrieval.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) fast_retrieval: bool,
    /// Provider collateral (default: the chain minimum plus 20 %).
    #[arg(long)]
    pub(crate) provider_collateral: Option<String>,
    /// Propose on this protocol only (`1.2.1`, `1.2.0`, `1.1.1`, `1.1.0`, `1.0.1` or the full
    /// ID); default: the newest the provider speaks.
    #[arg(long)]
    pub(crate) protocol: Option<String>,
    /// Online deal: the provider downloads the CAR from this URL instead of from this daemon.
    #[arg(long)]
    pub(crate) http_url: Option<String>,
    /// A header for the provider to send with `--http-url`, as `Name: value` (repeatable).
    #[arg(long = "http-header")]
    pub(crate) http_headers: Vec<String>,
    /// The byte size of the CAR at `--http-url` (default: the local import's).
    #[arg(long)]
    pub(crate) car_size: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AsksCommand {
    /// Fetch a miner's storage ask from its provider and check its signature.
    Query {
        miner: String,
        /// The provider's peer ID, when it differs from the one on chain.
        #[arg(long)]
        peerid: Option<String>,
    },
}

/// A client of the running daemon's API.
pub fn client_api(repo: &Repo) -> Result<HttpClient> {
    let info = repo.api_info("droplet-client")?;
    Ok(market_proto::client::http(&info, "v0", Duration::from_secs(120))?)
}

/// The full node in the repo's config; addresses print with its network's prefix from here on.
pub async fn node(repo: &Repo) -> Result<HttpClient> {
    let cfg = droplet_client::config::ClientConfig::load(&repo.config_path())
        .map_err(|e| anyhow!("{e} (start the daemon first, or pass the right --repo)"))?;
    let info = market_proto::api_info::ApiInfo {
        token: cfg.node.token,
        addr: cfg.node.url,
    };
    let node = market_proto::client::http(&info, "v1", Duration::from_secs(60))?;
    let mainnet = node.state_network_name().await.is_ok_and(|n| n == "mainnet");
    market_types::address::set_network(if mainnet {
        market_types::address::Network::Mainnet
    } else {
        market_types::address::Network::Testnet
    });
    Ok(node)
}

pub async fn run(repo: &Repo, cmd: StorageCommand) -> Result<()> {
    let api = client_api(repo)?;
    match cmd {
        StorageCommand::Asks(AsksCommand::Query { miner, peerid }) => {
            let m = market_types::address::parse(&miner).map_err(|e| anyhow!("{miner:?} is not an address: {e}"))?;
            set_network(repo).await;
            let ask = api
                .client_query_ask(peerid.unwrap_or_default(), Json(m))
                .await
                .map_err(call_error)?
                .0;
            println!("Ask: {}", ask.miner);
            println!("Price per GiB: {}", format_fil(&ask.price));
            println!("Verified Price per GiB: {}", format_fil(&ask.verified_price));
            println!("Max Piece size: {}", format_size(ask.max_piece_size.0));
            println!("Min Piece size: {}", format_size(ask.min_piece_size.0));
        }
        StorageCommand::Deals(DealsCommand::Init(a)) if a.data_cid.is_none() => {
            let node = node(repo).await?;
            let stdin = std::io::stdin();
            super::interactive::init(&api, &node, &mut stdin.lock(), *a).await?;
        }
        StorageCommand::Deals(DealsCommand::Init(a)) => {
            set_network(repo).await;
            let params = init_params(&api, *a).await?;
            let online = params.data.piece_cid.is_none() || !params.http_url.is_empty();
            // The daemon may top up the escrow (a message to wait for) before it proposes.
            let cid = market_daemon::progress::waiting("proposing the deal", async {
                if online {
                    api.client_start_deal(params).await
                } else {
                    api.client_stateless_deal(params).await
                }
            })
            .await
            .map_err(call_error)?
            .0;
            println!("{cid}");
        }
        StorageCommand::Deals(DealsCommand::Batch(a)) => {
            let node = node(repo).await?;
            super::batch::run(&api, &node, *a).await?;
        }
        StorageCommand::Deals(DealsCommand::VerifiedDealStat { provider, client }) => {
            use market_proto::api::market::MinerOrCommon;
            set_network(repo).await;
            let parse = |s: &str| market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"));
            let (provider, client) = match (provider, client) {
                (Some(p), _) => (Some(parse(&p)?), None),
                (None, Some(c)) => (None, Some(parse(&c)?)),
                (None, None) => anyhow::bail!("must pass --provider or --client"),
            };
            let dd = api
                .client_get_verified_deal_distribution(vec![MinerOrCommon(provider)], MinerOrCommon(client))
                .await
                .map_err(call_error)?;
            print!("{}", verified_deal_stat(&dd, provider, client));
        }
        StorageCommand::Deals(DealsCommand::Export { output, count }) => {
            set_network(repo).await;
            let waiting: Vec<_> = api
                .client_list_offline_deals()
                .await
                .map_err(call_error)?
                .into_iter()
                .filter(|d| {
                    d.state == market_types::states::StorageDealStatus::ProposalAccepted.code() && d.deal_id == 0
                })
                .collect();
            if waiting.is_empty() {
                println!("no deals need export");
                return Ok(());
            }
            match output {
                Some(path) => {
                    let take = if count == 0 { waiting.len() } else { count };
                    let mut text = String::from("proposalCID,pieceCID\n");
                    for d in waiting.iter().take(take) {
                        text.push_str(&format!("{},{}\n", d.proposal_cid.0, d.piece_cid.0));
                    }
                    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                    println!("{} deals written to {}", take.min(waiting.len()), path.display());
                }
                None => {
                    let mut rows = vec![vec!["ProposalCID".to_string(), "PieceCID".to_string()]];
                    rows.extend(
                        waiting
                            .iter()
                            .map(|d| vec![d.proposal_cid.0.to_string(), d.piece_cid.0.to_string()]),
                    );
                    print!("{}", market_daemon::cli::table(&rows));
                }
            }
        }
        StorageCommand::Deals(DealsCommand::List {
            verbose,
            offline,
            show_failed,
            watch,
            json,
        }) => {
            set_network(repo).await;
            loop {
                let deals: Vec<_> = api
                    .client_list_deals()
                    .await
                    .map_err(call_error)?
                    .into_iter()
                    .filter(|d| !offline || !d.online)
                    .filter(|d| show_failed || !failed(d.state))
                    .collect();
                if json {
                    println!("{}", serde_json::to_string_pretty(&deals)?);
                } else {
                    if watch {
                        print!("\x1b[2J\x1b[H");
                    }
                    print_deals(&deals, verbose);
                }
                if !watch {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
        StorageCommand::Deals(DealsCommand::Get { proposal_cid }) => {
            set_network(repo).await;
            let cid = proposal_cid
                .parse()
                .map_err(|e| anyhow!("proposal CID {proposal_cid:?}: {e}"))?;
            let info = api.client_get_deal_info(Json(cid)).await.map_err(call_error)?;
            println!("{}", serde_json::to_string_pretty(&info)?);
        }
        StorageCommand::Deals(DealsCommand::Status { deal, json }) => {
            set_network(repo).await;
            let cid = find_deal(&api, &deal).await?.proposal_cid;
            let st = api.client_deal_status_from_provider(cid).await.map_err(call_error)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                println!("got deal status response");
                println!("  Deal UUID:     {}", st.deal_uuid);
                println!("  Proposal CID:  {}", st.proposal_cid.0);
                println!("  Provider:      {} ({})", st.provider.0, st.protocol);
                println!("  Status:        {}", st.status);
                if !st.message.is_empty() {
                    println!("  {}:  {}", if st.failed { "Error  " } else { "Message" }, st.message);
                }
                if let Some(id) = st.deal_id {
                    println!("  Deal ID:       {id}");
                }
                if let Some(c) = &st.publish_cid {
                    println!("  Publish CID:   {}", c.0);
                }
                if st.transfer_size > 0 {
                    println!(
                        "  Transferred:   {} of {}",
                        format_size(st.bytes_received),
                        format_size(st.transfer_size)
                    );
                }
            }
        }
        StorageCommand::Deals(DealsCommand::Inspect { deal_id, proposal_cid }) => {
            let node = node(repo).await?;
            let deals = api.client_list_deals().await.map_err(call_error)?;
            let d = match (deal_id, proposal_cid) {
                (Some(id), _) => deals
                    .into_iter()
                    .find(|d| d.deal_id == id && on_chain(d.state))
                    .ok_or_else(|| anyhow!("no deal with deal ID {id}"))?,
                (None, Some(c)) => find_deal(&api, &c).await?,
                (None, None) => anyhow::bail!("give --deal-id or --proposal-cid"),
            };
            inspect(&node, &d).await;
        }
        StorageCommand::Deals(DealsCommand::Stats { newer_than }) => {
            set_network(repo).await;
            let cutoff = newer_than
                .as_deref()
                .map(|s| {
                    let d =
                        market_types::units::parse_go_duration(s).map_err(|e| anyhow!("--newer-than {s:?}: {e}"))?;
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    anyhow::Ok(droplet_client::deals::record::rfc3339(now.saturating_sub(d.as_secs())))
                })
                .transpose()?;
            let deals: Vec<DealInfo> = api
                .client_list_deals()
                .await
                .map_err(call_error)?
                .into_iter()
                .filter(|d| cutoff.as_ref().is_none_or(|c| &d.creation_time >= c))
                .collect();
            print!("{}", stats(&deals));
        }
    }
    Ok(())
}

fn on_chain(state: u64) -> bool {
    use market_types::states::StorageDealStatus as S;
    matches!(
        S::from_u64(state),
        Some(S::Staged | S::AwaitingPreCommit | S::Sealing | S::Active | S::Expired | S::Slashed)
    )
}

/// A deal by proposal CID or UUID.
async fn find_deal(api: &HttpClient, deal: &str) -> Result<DealInfo> {
    if let Ok(c) = deal.parse::<cid::Cid>() {
        return Ok(api.client_get_deal_info(Json(c)).await.map_err(call_error)?);
    }
    let uuid = deal
        .parse::<market_types::Uuid>()
        .map_err(|_| anyhow!("{deal:?} is neither a proposal CID nor a deal UUID"))?;
    api.client_list_deals()
        .await
        .map_err(call_error)?
        .into_iter()
        .find(|d| d.deal_uuid == uuid.to_string())
        .ok_or_else(|| anyhow!("no deal with UUID {uuid}"))
}

/// Counts and padded sizes per state, most deals first (lotus `deal-stats`).
fn stats(deals: &[DealInfo]) -> String {
    use market_types::states::StorageDealStatus as S;
    let mut by_state: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
    for d in deals {
        let name = S::from_u64(d.state).map_or_else(|| format!("state {}", d.state), |s| s.name().to_string());
        let e = by_state.entry(name).or_default();
        e.0 += 1;
        e.1 += d.size;
    }
    let total: u64 = deals.iter().map(|d| d.size).sum();
    let mut out = format!("Total: {} deals, {}\n", deals.len(), format_size(total));
    let mut rows: Vec<_> = by_state.into_iter().collect();
    rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    for (name, (n, size)) in rows {
        out.push_str(&format!("  {name}: {n} deals, {}\n", format_size(size)));
    }
    out
}

async fn inspect(node: &HttpClient, d: &DealInfo) {
    use market_types::states::StorageDealStatus as S;
    let state = S::from_u64(d.state).map_or_else(|| format!("state {}", d.state), |s| s.name().to_string());
    println!("Deal CID:      {}", d.proposal_cid.0);
    println!("Deal UUID:     {}", d.deal_uuid);
    println!("State:         {state}");
    if !d.message.is_empty() {
        println!("Message:       {}", d.message);
    }
    println!("Provider:      {}", d.provider.0);
    if let Some(c) = &d.client {
        println!("Client:        {}", c.0);
    }
    println!("Protocol:      {}", d.protocol);
    println!("Transfer:      {}", if d.online { "online (HTTP)" } else { "offline" });
    if let Some(r) = &d.data_ref {
        println!("Data root:     {}", r.root.0);
    }
    println!("Piece:         {} ({})", d.piece_cid.0, format_size(d.size));
    println!(
        "Price:         {} / epoch for {} epochs",
        format_fil(&d.price_per_epoch.0),
        d.duration
    );
    println!("Verified:      {}", d.verified);
    println!("Created:       {}", d.creation_time);
    if let Some(c) = &d.publish_cid {
        println!("Publish CID:   {}", c.0);
    }
    if !on_chain(d.state) {
        return;
    }
    println!("Deal ID:       {}", d.deal_id);
    use market_proto::api::full_node::FullNodeClient;
    match node
        .state_market_storage_deal(d.deal_id, Json(market_types::chain::TipSetKey::empty()))
        .await
    {
        Ok(m) => {
            let st = &m.0.state;
            let epoch = |e: i64| if e < 0 { "-".to_string() } else { e.to_string() };
            println!("On chain:");
            println!("  Start epoch:        {}", m.0.proposal.start_epoch);
            println!("  End epoch:          {}", m.0.proposal.end_epoch);
            println!("  Sector start epoch: {}", epoch(st.sector_start_epoch));
            println!("  Last updated epoch: {}", epoch(st.last_updated_epoch));
            println!("  Slash epoch:        {}", epoch(st.slash_epoch));
        }
        Err(e) => println!("On chain:      not in the market's state ({})", call_error(e)),
    }
}

/// Print addresses with the prefix of the network the daemon's node is on, as Go does.
async fn set_network(repo: &Repo) {
    let _ = node(repo).await;
}

fn failed(state: u64) -> bool {
    use market_types::states::StorageDealStatus as S;
    matches!(
        S::from_u64(state),
        Some(S::Failing | S::Rejecting | S::Error | S::ProposalRejected)
    )
}

/// The lotus `list-deals` table.
fn print_deals(deals: &[DealInfo], verbose: bool) {
    use market_types::states::StorageDealStatus as S;
    let mut rows = vec![{
        let mut h = vec![
            "DealCid",
            "DealId",
            "Provider",
            "State",
            "On Chain?",
            "Slashed?",
            "PieceCID",
            "Size",
            "Price",
            "Duration",
            "Verified",
        ];
        if verbose {
            h.extend(["DealUUID", "Protocol", "Transferred"]);
        }
        h.push("Message");
        h.into_iter().map(String::from).collect::<Vec<_>>()
    }];
    for d in deals {
        let state = S::from_u64(d.state);
        let on_chain = matches!(state, Some(S::Active | S::Expired | S::Slashed));
        let total = market_types::TokenAmount::from_atto(d.price_per_epoch.0.atto() * d.duration);
        let mut row = vec![
            d.proposal_cid.0.to_string(),
            d.deal_id.to_string(),
            d.provider.0.to_string(),
            state.map_or_else(|| format!("state {}", d.state), |s| s.name().to_string()),
            if on_chain { "Y" } else { "N" }.to_string(),
            if state == Some(S::Slashed) { "Y" } else { "N" }.to_string(),
            d.piece_cid.0.to_string(),
            format_size(d.size),
            format_fil(&total),
            d.duration.to_string(),
            d.verified.to_string(),
        ];
        if verbose {
            row.push(d.deal_uuid.clone());
            row.push(d.protocol.clone());
            row.push(if d.online {
                format!("{}/{}", format_size(d.bytes_received), format_size(d.transfer_size))
            } else {
                "offline".into()
            });
        }
        row.push(d.message.clone());
        rows.push(row);
    }
    print!("{}", market_daemon::cli::table(&rows));
}

pub(crate) async fn init_params(api: &HttpClient, a: InitArgs) -> Result<StartDealParams> {
    let (Some(data_cid), Some(miner), Some(price), Some(duration)) = (&a.data_cid, &a.miner, &a.price, &a.duration)
    else {
        return Err(anyhow!(
            "give <dataCid> <miner> <price> <duration>, or none of them for the interactive prompts"
        ));
    };
    let parse_addr = |s: &str| market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"));
    let wallet = match &a.from {
        Some(f) => parse_addr(f)?,
        None => api.default_address().await.map_err(call_error)?.0,
    };
    let (piece_cid, piece_size) = match (a.manual_piece_cid, a.manual_piece_size) {
        (Some(c), Some(s)) => (
            Some(Json(c.parse().map_err(|e| anyhow!("--manual-piece-cid {c:?}: {e}"))?)),
            market_types::units::parse_size(&s).map_err(|e| anyhow!("--manual-piece-size: {e}"))?,
        ),
        (None, None) => (None, 0),
        _ => {
            return Err(anyhow!(
                "give both --manual-piece-cid and --manual-piece-size, or neither"
            ));
        }
    };
    let mut http_headers = std::collections::BTreeMap::new();
    for h in &a.http_headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| anyhow!("--http-header {h:?}: write it as 'Name: value'"))?;
        http_headers.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(StartDealParams {
        data: DataRef {
            transfer_type: if piece_cid.is_some() && a.http_url.is_none() {
                "manual"
            } else {
                "http"
            }
            .into(),
            root: Json(data_cid.parse().map_err(|e| anyhow!("data CID {data_cid:?}: {e}"))?),
            piece_cid,
            piece_size,
            raw_block_size: 0,
        },
        wallet: Json(wallet),
        miner: Json(parse_addr(miner)?),
        epoch_price: Json(market_types::units::parse_fil(price).map_err(|e| anyhow!("price: {e}"))?),
        min_blocks_duration: market_types::units::parse_epochs(duration).map_err(|e| anyhow!("duration: {e}"))? as u64,
        provider_collateral: Json(match &a.provider_collateral {
            Some(c) => market_types::units::parse_fil(c).map_err(|e| anyhow!("--provider-collateral: {e}"))?,
            None => Default::default(),
        }),
        deal_start_epoch: a.start_epoch,
        fast_retrieval: a.fast_retrieval,
        verified_deal: a.verified_deal,
        protocol: a.protocol.unwrap_or_default(),
        http_url: a.http_url.unwrap_or_default(),
        http_headers,
        transfer_size: match &a.car_size {
            Some(s) => market_types::units::parse_size(s).map_err(|e| anyhow!("--car-size: {e}"))?,
            None => 0,
        },
    })
}

/// `verified-deal-stat`'s output, as droplet prints it: sizes as `<size> (<n> B)`, shares as
/// `%.2f%`; a provider's one row, or a client's totals and a row per provider.
fn verified_deal_stat(
    dd: &market_proto::api::market_client::DealDistribution,
    provider: Option<market_types::Address>,
    client: Option<market_types::Address>,
) -> String {
    use market_proto::api::market_client::ProviderDistribution;
    let size = |n: u64| format!("{} ({n} B)", market_types::units::format_size(n));
    let pct = |f: f64| format!("{:.2}%", 100.0 * f);
    let header = ["Provider", "Total", "Percentage", "Uniq", "DuplicationPercentage"]
        .map(String::from)
        .to_vec();
    let row = |pd: &ProviderDistribution, share: Option<f64>| {
        vec![
            pd.provider.0.to_string(),
            size(pd.total),
            share.map(pct).unwrap_or_default(),
            size(pd.uniq),
            pct(pd.duplication_percentage),
        ]
    };
    if let Some(p) = provider {
        return match dd.providers_distribution.iter().find(|pd| pd.provider.0 == p) {
            Some(pd) => market_daemon::cli::table(&[header, row(pd, None)]),
            None => format!("no verified deals with {p}\n"),
        };
    }
    let Some(rd) = dd.replicas_distribution.iter().find(|rd| Some(rd.client.0) == client) else {
        return format!(
            "no verified deals from {}\n",
            client.map(|c| c.to_string()).unwrap_or_default()
        );
    };
    let mut rows = vec![header];
    for pd in &rd.replicas_distribution {
        rows.push(row(pd, rd.replicas_percentage.get(&pd.provider.0.to_string()).copied()));
    }
    format!(
        "Client: {}\nTotal:  {}\nUniq:   {}\nDuplicationPercentage: {}\n{}\n",
        rd.client.0,
        size(rd.total),
        size(rd.uniq),
        pct(rd.duplication_percentage),
        market_daemon::cli::table(&rows)
    )
}

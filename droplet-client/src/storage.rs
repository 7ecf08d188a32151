//! `droplet-client storage …`: through the client daemon's API.

use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use market_daemon::repo::Repo;
use market_proto::Json;
use market_proto::api::market_client::{DataRef, MarketClientClient, StartDealParams};
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
    /// Propose a deal: `init <dataCid> <miner> <price> <duration>`. This build makes offline
    /// deals (`--manual-piece-cid` and `--manual-piece-size` from `data commP`); the provider
    /// imports the data with `droplet storage deal import-data`.
    Init {
        /// The data's root CID (the deal's label).
        data_cid: String,
        miner: String,
        /// Price per GiB per epoch, e.g. 0.0000001 (FIL) or "500000 attofil".
        price: String,
        /// Duration in epochs, or "180 days".
        duration: String,
        /// The piece CID of the data (`data commP`).
        #[arg(long)]
        manual_piece_cid: Option<String>,
        /// The unpadded piece size in bytes (`data commP`), e.g. 4064 or "3.969 KiB".
        #[arg(long)]
        manual_piece_size: Option<String>,
        /// The paying wallet (default: the daemon's --addr).
        #[arg(long)]
        from: Option<String>,
        /// The start epoch (default: eight days after the head).
        #[arg(long, default_value_t = 0)]
        start_epoch: i64,
        #[arg(long)]
        verified_deal: bool,
        /// Keep an unsealed copy for fast retrieval.
        #[arg(long, default_value_t = true)]
        fast_retrieval: bool,
        /// Provider collateral (default: the chain minimum plus 20 %).
        #[arg(long)]
        provider_collateral: Option<String>,
    },
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

pub async fn run(repo: &Repo, cmd: StorageCommand) -> Result<()> {
    let info = repo.api_info("droplet-client")?;
    let api = market_proto::client::http(&info, "v0", Duration::from_secs(120))?;
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
        StorageCommand::Deals(DealsCommand::Init {
            data_cid,
            miner,
            price,
            duration,
            manual_piece_cid,
            manual_piece_size,
            from,
            start_epoch,
            verified_deal,
            fast_retrieval,
            provider_collateral,
        }) => {
            set_network(repo).await;
            let (Some(piece), Some(size)) = (manual_piece_cid, manual_piece_size) else {
                return Err(anyhow!(
                    "this build proposes offline deals only: give --manual-piece-cid and --manual-piece-size (from `droplet-client data commP`)"
                ));
            };
            let parse_addr =
                |s: &str| market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"));
            let wallet = match from {
                Some(f) => parse_addr(&f)?,
                None => api.default_address().await.map_err(call_error)?.0,
            };
            let size = market_types::units::parse_size(&size).map_err(|e| anyhow!("--manual-piece-size: {e}"))?;
            let params = StartDealParams {
                data: DataRef {
                    transfer_type: "manual".into(),
                    root: Json(data_cid.parse().map_err(|e| anyhow!("data CID {data_cid:?}: {e}"))?),
                    piece_cid: Some(Json(
                        piece
                            .parse()
                            .map_err(|e| anyhow!("--manual-piece-cid {piece:?}: {e}"))?,
                    )),
                    piece_size: size,
                    raw_block_size: 0,
                },
                wallet: Json(wallet),
                miner: Json(parse_addr(&miner)?),
                epoch_price: Json(market_types::units::parse_fil(&price).map_err(|e| anyhow!("price: {e}"))?),
                min_blocks_duration: market_types::units::parse_epochs(&duration)
                    .map_err(|e| anyhow!("duration: {e}"))? as u64,
                provider_collateral: Json(match provider_collateral {
                    Some(c) => market_types::units::parse_fil(&c).map_err(|e| anyhow!("--provider-collateral: {e}"))?,
                    None => Default::default(),
                }),
                deal_start_epoch: start_epoch,
                fast_retrieval,
                verified_deal,
            };
            let cid = api.client_stateless_deal(params).await.map_err(call_error)?.0;
            println!("{cid}");
        }
    }
    Ok(())
}

/// Print addresses with the prefix of the network the daemon's node is on, as Go does.
async fn set_network(repo: &Repo) {
    use market_proto::api::full_node::FullNodeClient;
    let Ok(cfg) = droplet_client::config::ClientConfig::load(&repo.config_path()) else {
        return;
    };
    let info = market_proto::api_info::ApiInfo {
        token: cfg.node.token,
        addr: cfg.node.url,
    };
    let Ok(node) = market_proto::client::http(&info, "v1", Duration::from_secs(30)) else {
        return;
    };
    let mainnet = node.state_network_name().await.is_ok_and(|n| n == "mainnet");
    market_types::address::set_network(if mainnet {
        market_types::address::Network::Mainnet
    } else {
        market_types::address::Network::Testnet
    });
}

//! `droplet-client storage …`: through the client daemon's API.

use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use market_daemon::repo::Repo;
use market_proto::Json;
use market_proto::api::market_client::MarketClientClient;
use market_proto::client::call_error;
use market_types::units::{format_fil, format_size};

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Providers' storage asks.
    #[command(subcommand)]
    Asks(AsksCommand),
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
    }
    Ok(())
}

/// Print addresses with the prefix of the network the daemon's node is on, as Go does.
async fn set_network(repo: &Repo) {
    use market_proto::api::full_node::FullNodeClient;
    let Ok(cfg) = crate::config::ClientConfig::load(&repo.config_path()) else {
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

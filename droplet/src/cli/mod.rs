//! The command tree, as the Go droplet has it. Admin commands talk to the daemon through
//! `<repo>/api` and `<repo>/token`; a few also read the chain through the repo's `[Node]`.

mod actor;
mod ask;
mod cfg;
mod deal;
mod direct;
mod funds;
mod index;
mod index_check;
mod net;
mod paych;
mod pieces;
mod retrieval;
mod stats;
mod store;
mod transfers;

use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use droplet::chain::resolve_endpoints;
use droplet::config::Config;
use droplet::daemon::{RunFlags, run};
use droplet::repo::{Repo, expand_home};
use jsonrpsee::http_client::HttpClient;
use market_proto::api_info::ApiInfo;

/// Filecoin storage and retrieval market for storage providers (a drop-in for the Go droplet).
#[derive(Debug, Parser)]
#[command(
    name = "droplet",
    version,
    about,
    subcommand_required = true,
    long_about = "Filecoin storage and retrieval market for storage providers, compatible with the Go \
                  droplet (venus-market): same commands, config keys, JSON-RPC names and wire bytes."
)]
pub struct Cli {
    /// Repo directory: config.toml, api, token and the data store.
    #[arg(long, global = true, env = "DROPLET_PATH", default_value = "~/.droplet")]
    repo: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start the daemon.
    Run(Box<RunArgs>),
    /// Manage the miners this droplet serves.
    Actor {
        #[command(subcommand)]
        cmd: actor::ActorCmd,
    },
    /// Storage market: asks and deals.
    Storage {
        #[command(subcommand)]
        cmd: ask::StorageCmd,
    },
    /// Retrieval market: asks and deals.
    Retrieval {
        #[command(subcommand)]
        cmd: ask::RetrievalCmd,
    },
    /// Payment channels retrievals were paid through: vouchers, redeeming, settling.
    Paych {
        #[command(subcommand)]
        cmd: paych::PaychCmd,
    },
    /// Data-transfer channels being served or received: list, cancel.
    DataTransfers {
        #[command(subcommand)]
        cmd: transfers::TransfersCmd,
    },
    /// Market escrow of the miners: balances, add, withdraw, settle deals.
    ActorFunds {
        #[command(subcommand)]
        cmd: funds::FundsCmd,
    },
    /// The daemon's libp2p identity and addresses.
    Net {
        #[command(subcommand)]
        cmd: net::NetCmd,
    },
    /// The piece index: pieces, payload CIDs, and the deals and blocks in each.
    Pieces {
        #[command(subcommand)]
        cmd: pieces::PiecesCmd,
    },
    /// IPNI: the advertisements indexers learn this droplet's deals from.
    Index {
        #[command(subcommand)]
        cmd: index::IndexCmd,
    },
    /// The piece stores deals' pieces are kept in.
    PieceStorage {
        #[command(subcommand)]
        cmd: pieces::PieceStorageCmd,
    },
    /// Statistics of the network read from the node: providers' power and software, deals.
    Stats {
        #[command(subcommand)]
        cmd: stats::StatsCmd,
    },
    /// The daemon's store: where its records are, and moving them between RocksDB and a
    /// MySQL/MariaDB or PostgreSQL database (with the daemon stopped).
    Store {
        #[command(subcommand)]
        cmd: store::StoreCmd,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// API listen address (multiaddr).
    #[arg(long)]
    listen: Option<String>,
    /// Full node (venus or lotus) URL or multiaddr.
    #[arg(long)]
    node_url: Option<String>,
    /// sophon-auth URL.
    #[arg(long)]
    auth_url: Option<String>,
    /// sophon-messager URL.
    #[arg(long)]
    messager_url: Option<String>,
    /// sophon-gateway URL (signer type gateway).
    #[arg(long)]
    gateway_url: Option<String>,
    /// Chain service URL: fills the node, messager and auth URLs left empty.
    #[arg(long)]
    cs_url: Option<String>,
    /// Chain service token: the token for the chain services given here.
    #[arg(long)]
    cs_token: Option<String>,
    /// gateway, wallet or lotusnode.
    #[arg(long)]
    signer_type: Option<String>,
    #[arg(long)]
    signer_url: Option<String>,
    #[arg(long)]
    signer_token: Option<String>,
    /// A filesystem piece storage directory.
    #[arg(long = "piecestorage")]
    piece_storage: Option<String>,
    /// A miner to serve, `t01000:account` (repeatable).
    #[arg(long = "miner")]
    miners: Vec<String>,
    /// Not supported (RocksDB is the store); refused with an explanation.
    #[arg(long)]
    mysql_dsn: Option<String>,
    /// libp2p listen multiaddrs (repeatable; replaces [Libp2p] ListenAddresses). droplet-rs only.
    #[arg(long = "libp2p-listen")]
    libp2p_listen: Vec<String>,
}

pub async fn dispatch(cli: Cli) -> Result<()> {
    let repo = Repo::new(expand_home(&cli.repo));
    match cli.cmd {
        Cmd::Run(a) => {
            let flags = RunFlags {
                listen: a.listen,
                node_url: a.node_url,
                auth_url: a.auth_url,
                messager_url: a.messager_url,
                gateway_url: a.gateway_url,
                cs_url: a.cs_url,
                cs_token: a.cs_token,
                signer_type: a.signer_type,
                signer_url: a.signer_url,
                signer_token: a.signer_token,
                piece_storage: a.piece_storage,
                miners: a.miners,
                mysql_dsn: a.mysql_dsn,
                libp2p_listen: a.libp2p_listen,
            };
            run(repo, flags).await
        }
        Cmd::Actor { cmd } => actor::run(&repo, cmd).await,
        Cmd::Storage { cmd } => ask::storage(&repo, cmd).await,
        Cmd::Retrieval { cmd } => ask::retrieval(&repo, cmd).await,
        Cmd::Net { cmd } => net::run(&repo, cmd).await,
        Cmd::Paych { cmd } => paych::run(&repo, cmd).await,
        Cmd::ActorFunds { cmd } => funds::run(&repo, cmd).await,
        Cmd::DataTransfers { cmd } => transfers::run(&repo, cmd).await,
        Cmd::Pieces { cmd } => pieces::pieces(&repo, cmd).await,
        Cmd::PieceStorage { cmd } => pieces::piece_storage(&repo, cmd).await,
        Cmd::Index { cmd } => index::run(&repo, cmd).await,
        Cmd::Stats { cmd } => stats::run(&repo, cmd).await,
        Cmd::Store { cmd } => store::run(&repo, cmd),
    }
}

/// A client of the running daemon's API.
pub fn daemon(repo: &Repo) -> Result<HttpClient> {
    let info = repo.api_info("droplet")?;
    Ok(market_proto::client::http(&info, "v0", Duration::from_secs(120))?)
}

/// A client of the full node named in the repo's config.
pub fn node(repo: &Repo) -> Result<HttpClient> {
    let path = repo.config_path();
    if !path.exists() {
        anyhow::bail!(
            "{} does not exist: start the daemon first (`droplet run`) or pass the right --repo",
            path.display()
        );
    }
    let mut cfg = Config::load(&path)?;
    resolve_endpoints(&mut cfg);
    let info = ApiInfo {
        token: cfg.node.token,
        addr: cfg.node.url,
    };
    Ok(market_proto::client::http(&info, "v1", Duration::from_secs(60))?)
}

/// Set the address prefix from the node's network name, as the daemon does.
pub async fn set_network(node: &HttpClient) {
    use market_proto::api::full_node::FullNodeClient;
    let mainnet = node.state_network_name().await.is_ok_and(|n| n == "mainnet");
    market_types::address::set_network(if mainnet {
        market_types::address::Network::Mainnet
    } else {
        market_types::address::Network::Testnet
    });
}

/// A miner's on-chain info and peer ID; an error saying how to set one when it has none.
pub async fn miner_peer(
    node: &HttpClient,
    miner: market_types::Address,
) -> Result<(market_types::chain::MinerInfo, libp2p::PeerId)> {
    use market_proto::api::full_node::FullNodeClient;
    let info = node
        .state_miner_info(
            market_proto::Json(miner),
            market_proto::Json(market_types::chain::TipSetKey::empty()),
        )
        .await
        .map_err(market_proto::client::call_error)?
        .0;
    let peer = info
        .peer_id
        .as_ref()
        .and_then(|p| libp2p::PeerId::from_bytes(&p.0).ok())
        .ok_or_else(|| {
            anyhow::anyhow!("miner {miner} has no peer ID on chain (set it with `droplet actor set-peer-id`)")
        })?;
    Ok((info, peer))
}

/// A libp2p host of the command's own (a fresh key, no listener) for dialling miners.
pub async fn cli_host() -> Result<market_p2p::Host> {
    Ok(market_p2p::Host::start(
        market_p2p::HostConfig {
            keypair: libp2p::identity::Keypair::generate_ed25519(),
            listen: Vec::new(),
            announce: Vec::new(),
            agent: format!("droplet{}", env!("CARGO_PKG_VERSION")),
            request_timeout: Duration::from_secs(30),
        },
        Default::default(),
    )
    .await?)
}

/// The miner's libp2p addresses on chain (the ones that decode); an error naming the fix when
/// there are none.
pub fn miner_addrs(
    miner: market_types::Address,
    info: &market_types::chain::MinerInfo,
) -> Result<Vec<libp2p::Multiaddr>> {
    let addrs: Vec<libp2p::Multiaddr> = info
        .multiaddrs
        .iter()
        .filter_map(|a| libp2p::Multiaddr::try_from(a.0.clone()).ok())
        .collect();
    if addrs.is_empty() {
        anyhow::bail!("miner {miner} has no addresses on chain (set them with `droplet actor set-addrs`)");
    }
    Ok(addrs)
}

/// Parse an address argument.
pub fn address(s: &str) -> Result<market_types::Address> {
    market_types::address::parse(s).map_err(|e| anyhow::anyhow!("{s:?} is not an address: {e}"))
}

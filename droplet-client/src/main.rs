//! `droplet-client`: the data owner's market daemon and CLI.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::{data, datacap, funds, paych, retrieval, storage};
use droplet_client::daemon;

/// Filecoin storage and retrieval market for data owners (a drop-in for the Go droplet-client).
#[derive(Debug, Parser)]
#[command(
    name = "droplet-client",
    version,
    about,
    subcommand_required = true,
    long_about = "Filecoin storage and retrieval market for data owners, compatible with the Go \
                  droplet-client: same commands, config keys, JSON-RPC names and wire bytes."
)]
struct Cli {
    /// Repo directory: config.toml, api, token, imports and the data store.
    #[arg(
        long,
        global = true,
        env = "DROPLET_CLIENT_PATH",
        default_value = "~/.droplet-client"
    )]
    repo: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the client daemon.
    Run(Box<RunArgs>),
    /// Prepare data: CARs and piece commitments.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Storage market: providers' asks and deals.
    #[command(subcommand)]
    Storage(storage::StorageCommand),
    /// Retrieval market: query providers and retrieve data.
    #[command(subcommand)]
    Retrieval(retrieval::RetrievalCommand),
    /// Payment channels retrievals pay through.
    #[command(subcommand)]
    Paych(paych::PaychCommand),
    /// The client's market escrow.
    #[command(subcommand)]
    ActorFunds(funds::FundsCommand),
    /// Direct data onboarding: DataCap allocated to a provider for pieces, no deal proposal.
    #[command(subcommand)]
    DirectDeal(datacap::DirectDealCommand),
    /// DataCap allocations and claims in the verified registry.
    #[command(subcommand)]
    Datacap(datacap::DatacapCommand),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// API listen address (multiaddr).
    #[arg(long)]
    listen: Option<String>,
    /// Full node (venus or lotus) URL or multiaddr.
    #[arg(long)]
    node_url: Option<String>,
    #[arg(long)]
    node_token: Option<String>,
    /// sophon-messager URL (optional).
    #[arg(long)]
    messager_url: Option<String>,
    #[arg(long)]
    messager_token: Option<String>,
    /// Token for the chain services whose own token is not given.
    #[arg(long)]
    auth_token: Option<String>,
    /// wallet (venus-wallet) or lotusnode.
    #[arg(long)]
    signer_type: Option<String>,
    #[arg(long)]
    signer_url: Option<String>,
    #[arg(long)]
    signer_token: Option<String>,
    /// The client's default wallet address.
    #[arg(long)]
    addr: Option<String>,
    /// libp2p listen multiaddrs (repeatable; replaces [Libp2p] ListenAddresses). droplet-rs only.
    #[arg(long = "libp2p-listen")]
    libp2p_listen: Vec<String>,
    /// The base URL providers download online deals' data from, when the API's own address
    /// is not reachable for them (a proxy, a public address). droplet-rs only.
    #[arg(long)]
    deal_data_url: Option<String>,
}

fn main() -> ExitCode {
    market_daemon::malloc::limit_arenas();
    let cli = Cli::parse();
    market_daemon::cli::quiet_on_broken_pipe();
    market_daemon::api_server::init_logging();
    let repo = market_daemon::repo::Repo::new(market_daemon::repo::expand_home(&cli.repo));
    let result = match cli.command {
        Command::Data(cmd) => data::run(&repo, cmd),
        Command::Run(a) => runtime().and_then(|rt| {
            let flags = daemon::RunFlags {
                listen: a.listen,
                node_url: a.node_url,
                node_token: a.node_token,
                messager_url: a.messager_url,
                messager_token: a.messager_token,
                auth_token: a.auth_token,
                signer_type: a.signer_type,
                signer_url: a.signer_url,
                signer_token: a.signer_token,
                addr: a.addr,
                libp2p_listen: a.libp2p_listen,
                deal_data_url: a.deal_data_url,
            };
            rt.block_on(daemon::run(repo, flags))
        }),
        Command::Storage(cmd) => runtime().and_then(|rt| rt.block_on(storage::run(&repo, cmd))),
        Command::Retrieval(cmd) => runtime().and_then(|rt| rt.block_on(retrieval::run(&repo, cmd))),
        Command::Paych(cmd) => runtime().and_then(|rt| rt.block_on(paych::run(&repo, cmd))),
        Command::ActorFunds(cmd) => runtime().and_then(|rt| rt.block_on(funds::run(&repo, cmd))),
        Command::DirectDeal(datacap::DirectDealCommand::Allocate(a)) => runtime().and_then(|rt| {
            rt.block_on(async {
                let (api, node) = (storage::client_api(&repo)?, storage::node(&repo).await?);
                datacap::allocate(&api, &node, *a).await
            })
        }),
        Command::Datacap(cmd) => runtime().and_then(|rt| {
            rt.block_on(async {
                let (api, node) = (storage::client_api(&repo)?, storage::node(&repo).await?);
                datacap::run(&api, &node, cmd).await
            })
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// The error and its causes on one line, skipping a cause whose text the message already
/// carries (library errors often include their source in their own message).
fn report(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

//! `droplet-devnet`: run a local Filecoin chain for droplet and droplet-client, and help
//! scripts use it (`wallet list|export`, `send`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use devnet::genesis::GenesisConfig;
use devnet::keystore::{Keystore, write_private};
use devnet::node::Node;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api_info::ApiInfo;
use market_proto::jwt::Perm;
use market_types::chain::Message;
use market_types::units::{format_fil, parse_fil, parse_go_duration};
use market_types::{Address, Bytes, TokenAmount};

#[derive(Parser)]
#[command(
    name = "droplet-devnet",
    version,
    about = "A local Filecoin chain with the venus/lotus JSON-RPC and the real market rules"
)]
struct Cli {
    /// The devnet's directory (chain database, keystore, tokens, API info).
    #[arg(
        long,
        global = true,
        env = "DROPLET_DEVNET_REPO",
        default_value = "~/.droplet-devnet"
    )]
    repo: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the chain (creating its genesis on first start) and serve its APIs.
    Run {
        /// Address to listen on; keep it on loopback unless you mean otherwise.
        #[arg(long, default_value = "127.0.0.1:1234")]
        listen: SocketAddr,
        /// Time between blocks, e.g. 2s, 500ms; 0 mines only on `Devnet.Mine`.
        #[arg(long, default_value = "2s")]
        block_time: String,
        /// Genesis TOML (first start only); see `droplet-devnet genesis-template`.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Sector size of the genesis miners (first start only), e.g. 2KiB, 8MiB, 32GiB.
        #[arg(long)]
        sector_size: Option<String>,
        /// Network name (first start only); `mainnet` makes addresses print with `f`.
        #[arg(long)]
        network_name: Option<String>,
        /// Epochs between pre-commit and prove-commit (first start only; 150 on mainnet).
        #[arg(long)]
        challenge_delay: Option<i64>,
        /// Epochs between a payment channel's Settle and Collect (first start only; 1440 on
        /// mainnet).
        #[arg(long)]
        settle_delay: Option<i64>,
    },
    /// Seal deals as damocles would: pull them from droplet, check the pieces, pre-commit and
    /// prove sectors on this devnet (needs the miner's worker key in the devnet wallet). The
    /// pieces are kept; unless `--once`, droplet's unseal requests for them are answered too
    /// (its market event stream), uploading the piece back to droplet's piece storage.
    Seal {
        /// droplet's API info, `TOKEN:/ip4/127.0.0.1/tcp/PORT`.
        #[arg(long)]
        droplet: String,
        #[arg(long, default_value = "t01000")]
        miner: String,
        /// Seconds between asks for deals.
        #[arg(long, default_value_t = 1)]
        interval: u64,
        /// Seal one sector (if there are deals) and exit.
        #[arg(long)]
        once: bool,
    },
    /// Print the default genesis as TOML, to edit and pass to `run --genesis`.
    GenesisTemplate,
    /// The devnet's keys.
    Wallet {
        #[command(subcommand)]
        cmd: WalletCmd,
    },
    /// Mine tipsets now (for a devnet run with `--block-time 0`, which mines only on demand).
    Mine {
        /// How many tipsets.
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// Empty epochs before each.
        #[arg(long, default_value_t = 0)]
        null_rounds: u64,
    },
    /// Send FIL through the running devnet and wait for it to land.
    Send {
        /// Sender: an account name (client, owner, …) or address; the default address if omitted.
        #[arg(long)]
        from: Option<String>,
        /// Recipient address (or account name).
        to: String,
        /// Amount, e.g. 10 or "10 FIL" or 0.5.
        amount: String,
    },
}

#[derive(Subcommand)]
enum WalletCmd {
    /// Addresses with their names and key types.
    List,
    /// Print a key as `lotus wallet export` does (hex of the KeyInfo JSON).
    Export {
        /// Account name or address.
        who: String,
    },
}

fn repo_path(s: &str) -> PathBuf {
    if let Some(rest) = s.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(s)
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("DEVNET_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    // A devnet is a test network: addresses print with `t`, as droplet prints them once it
    // has asked `StateNetworkName`.
    market_types::address::set_network(market_types::address::Network::Testnet);
    let repo = repo_path(&cli.repo);
    let result = match cli.cmd {
        Cmd::Run {
            listen,
            block_time,
            genesis,
            sector_size,
            network_name,
            challenge_delay,
            settle_delay,
        } => {
            let overrides = Overrides {
                sector_size,
                network_name,
                challenge_delay,
                settle_delay,
            };
            run(&repo, listen, &block_time, genesis.as_deref(), overrides)
        }
        Cmd::GenesisTemplate => {
            print!("{}", GenesisConfig::default().to_toml());
            Ok(())
        }
        Cmd::Wallet { cmd: WalletCmd::List } => wallet_list(&repo),
        Cmd::Wallet {
            cmd: WalletCmd::Export { who },
        } => wallet_export(&repo, &who),
        Cmd::Send { from, to, amount } => send(&repo, from.as_deref(), &to, &amount),
        Cmd::Mine { count, null_rounds } => mine(&repo, count, null_rounds),
        Cmd::Seal {
            droplet,
            miner,
            interval,
            once,
        } => seal(&repo, &droplet, &miner, interval, once),
    };
    if let Err(e) = result {
        eprintln!("droplet-devnet: {e:#}");
        std::process::exit(1);
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Genesis settings given as flags; they win over the TOML.
struct Overrides {
    sector_size: Option<String>,
    network_name: Option<String>,
    challenge_delay: Option<i64>,
    settle_delay: Option<i64>,
}

fn run(repo: &Path, listen: SocketAddr, block_time: &str, genesis: Option<&Path>, overrides: Overrides) -> Result<()> {
    let every = if block_time.trim() == "0" {
        None
    } else {
        let d = parse_go_duration(block_time).map_err(|e| anyhow::anyhow!("--block-time: {e}"))?;
        if d < Duration::from_millis(50) {
            bail!("--block-time {block_time} is too short (at least 50ms, or 0 to mine on demand)");
        }
        Some(d)
    };
    let config = match genesis {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading genesis {}", p.display()))?;
            GenesisConfig::from_toml(&text).with_context(|| format!("genesis {}", p.display()))?
        }
        None => GenesisConfig::default(),
    };
    let mut config = config;
    if let Some(size) = overrides.sector_size {
        for m in &mut config.miners {
            m.sector_size = size.clone();
        }
    }
    if let Some(name) = overrides.network_name {
        config.network_name = name;
    }
    if let Some(d) = overrides.challenge_delay {
        config.pre_commit_challenge_delay = Some(d);
    }
    if let Some(d) = overrides.settle_delay {
        config.paych_settle_delay = Some(d);
    }
    config.validate()?;
    let node = Node::open(repo, config)?;
    if node.genesis().config.network_name == "mainnet" {
        market_types::address::set_network(market_types::address::Network::Mainnet);
    }
    let rt = runtime()?;
    rt.block_on(async move {
        let server = devnet::http::serve(node.clone(), listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = server.addr;
        write_api_files(repo, &node, addr)?;
        print_banner(repo, &node, addr);
        let timer = every.map(|d| node.run_timer(d));
        shutdown_signal().await;
        eprintln!("droplet-devnet: stopping at height {}", node.with_chain(|c| c.height()));
        if let Some(t) = timer {
            t.abort();
        }
        server.stop();
        Ok::<_, anyhow::Error>(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn multiaddr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("/ip4/{}/tcp/{}/http", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("/ip6/{}/tcp/{}/http", a.ip(), a.port()),
    }
}

/// The services the devnet stands in for, each with the file its API info is written to.
const SERVICES: &[(&str, &str)] = &[
    ("node", "FULLNODE_API_INFO"),
    ("messager", "MESSAGER_API_INFO"),
    ("wallet", "WALLET_API_INFO"),
    ("gateway", "GATEWAY_API_INFO"),
    ("auth", "AUTH_API_INFO"),
];

fn write_api_files(repo: &Path, node: &Node, addr: SocketAddr) -> Result<()> {
    let ma = multiaddr(addr);
    let admin = node.token(Perm::Admin);
    let info_dir = repo.join("api-info");
    let tokens_dir = repo.join("tokens");
    std::fs::create_dir_all(&info_dir)?;
    std::fs::create_dir_all(&tokens_dir)?;
    for (name, _) in SERVICES {
        write_private(&info_dir.join(name), format!("{admin}:{ma}\n").as_bytes())?;
    }
    for perm in Perm::ALL {
        write_private(&tokens_dir.join(perm.as_str()), node.token(perm).as_bytes())?;
    }
    write_private(&repo.join("token"), admin.as_bytes())?;
    // Written last: tools wait for this file to know the devnet is serving.
    write_private(&repo.join("api"), ma.as_bytes())?;
    Ok(())
}

fn print_banner(repo: &Path, node: &Node, addr: SocketAddr) {
    let ma = multiaddr(addr);
    let admin = node.token(Perm::Admin);
    let (network, height, miners) = node.with_chain(|c| {
        let miners: Vec<String> = c
            .state
            .miners()
            .map(|(id, m)| {
                let name = |id: u64| {
                    c.state
                        .account_key(&Address::new_id(id))
                        .map_or_else(|| format!("f0{id}"), |a| a.to_string())
                };
                format!(
                    "t0{id} (owner {}, worker {}, sector size {})",
                    name(m.owner),
                    name(m.worker),
                    m.sector_size
                )
            })
            .collect();
        (c.state.network_name.clone(), c.height(), miners)
    });
    println!(
        "droplet-devnet: network {network}, height {height}, serving on {addr}, repo {}",
        repo.display()
    );
    for (_, var) in SERVICES {
        println!("{var}={admin}:{ma}");
    }
    for m in miners {
        println!("miner {m}");
    }
    for (name, a) in &node.genesis().addresses {
        println!("account {name} {a}");
    }
    let first_miner = node
        .with_chain(|c| c.state.miners().next().map(|(id, _)| id))
        .unwrap_or(1000);
    println!();
    println!("start droplet against it with:");
    println!(
        "  droplet run --node-url {ma} --auth-url http://{addr} --messager-url {ma} --cs-token {admin} \\\n    --signer-type wallet --signer-url {ma} --signer-token {admin} --miner t0{first_miner}:devnet"
    );
}

fn wallet_list(repo: &Path) -> Result<()> {
    let ks = Keystore::open(&repo.join("keystore"))?;
    for a in ks.addresses() {
        let kt = ks.get(a).map(|k| k.key_type().as_str()).unwrap_or("");
        println!("{a}\t{kt}\t{}", ks.name_of(a).unwrap_or(""));
    }
    Ok(())
}

fn wallet_export(repo: &Path, who: &str) -> Result<()> {
    let ks = Keystore::open(&repo.join("keystore"))?;
    let addr = ks
        .resolve(who)
        .with_context(|| format!("{who:?} is neither an account name nor an address"))?;
    let key = ks
        .get(&addr)
        .with_context(|| format!("the devnet holds no key for {addr}"))?;
    println!("{}", key.info().to_hex());
    Ok(())
}

fn node_client(repo: &Path) -> Result<jsonrpsee::http_client::HttpClient> {
    let path = repo.join("api-info").join("node");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (is `droplet-devnet run` running with this --repo?)",
            path.display()
        )
    })?;
    Ok(market_proto::client::http(
        &ApiInfo::parse(&text),
        "v1",
        Duration::from_secs(120),
    )?)
}

fn send(repo: &Path, from: Option<&str>, to: &str, amount: &str) -> Result<()> {
    let ks = Keystore::open(&repo.join("keystore"))?;
    let to = ks
        .resolve(to)
        .with_context(|| format!("recipient {to:?} is neither an account name nor an address"))?;
    let value: TokenAmount = parse_fil(amount).map_err(|e| anyhow::anyhow!("amount: {e}"))?;
    let client = node_client(repo)?;
    runtime()?.block_on(async move {
        let from = match from {
            Some(f) => ks
                .resolve(f)
                .with_context(|| format!("sender {f:?} is neither an account name nor an address"))?,
            None => client.wallet_default_address().await?.0,
        };
        let msg = Message::to_send(from, to, 0, Bytes::default().0, value.clone());
        let signed = client.mpool_push_message(Json(msg), None).await?.0;
        let cid = signed.cid();
        let lookup = client.state_wait_msg(Json(cid), 0, -1, true).await?.0;
        println!(
            "sent {} from {from} to {to}: message {cid}, height {}, exit code {}",
            format_fil(&value),
            lookup.height,
            lookup.receipt.exit_code
        );
        if lookup.receipt.exit_code != 0 {
            bail!("the send failed on chain with exit code {}", lookup.receipt.exit_code);
        }
        Ok(())
    })
}

fn mine(repo: &Path, count: u64, null_rounds: u64) -> Result<()> {
    use devnet::rpc::DevnetClient;
    let client = node_client(repo)?;
    runtime()?.block_on(async move {
        for _ in 0..count {
            let ts = client.mine(null_rounds).await.context("Devnet.Mine")?.0;
            println!("mined height {}", ts.height());
        }
        Ok(())
    })
}

fn seal(repo: &Path, droplet: &str, miner: &str, interval: u64, once: bool) -> Result<()> {
    let miner = market_types::address::parse(miner).with_context(|| format!("--miner {miner:?}"))?;
    let node = node_client(repo)?;
    let info = ApiInfo::parse(droplet);
    runtime()?.block_on(async move {
        let sealer = devnet::sealer::Sealer::new(node, &info, miner, repo.join("sealed"))?;
        // A running sealer also unseals what it sealed, when droplet asks.
        if !once {
            tokio::spawn(devnet::unsealer::Unsealer::new(&sealer, info.clone()).run());
        }
        let next_path = repo.join("sealer-next-sector");
        let mut next: u64 = std::fs::read_to_string(&next_path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            // Sector numbers start at 0, as a real miner's do.
            .unwrap_or(0);
        loop {
            match sealer.seal_one(next).await {
                Ok(Some(s)) => {
                    if s.allocation_ids.is_empty() {
                        println!("sealed sector {} with deals {:?}", s.sector, s.deal_ids);
                    } else {
                        println!(
                            "sealed sector {} with deals {:?} and allocations {:?}",
                            s.sector, s.deal_ids, s.allocation_ids
                        );
                    }
                    next += 1;
                    write_private(&next_path, next.to_string().as_bytes())?;
                }
                Ok(None) => {}
                Err(e) => eprintln!("droplet-devnet seal: sector {next}: {e}"),
            }
            if once {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(interval)).await;
        }
    })
}

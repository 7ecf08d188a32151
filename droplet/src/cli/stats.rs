//! `droplet stats power|deals`: the network as the node sees it, as droplet prints it.
//!
//! - `power`: every miner with power (with the minimum, or any with `--min-power`) is dialled
//!   at its on-chain peer and addresses, and its identify agent read; the venus-market ones
//!   (agent naming venus or droplet) are counted and their power summed. `--list` prints a
//!   table, `--json` a map by miner. Miners are asked 50 at a time.
//! - `deals`: the market actor's deals in a sector and not slashed, counted and summed.

use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;
use droplet::repo::Repo;
use futures::StreamExt;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::client::call_error;
use market_types::chain::{Claim, TipSetKey};
use market_types::units::format_size;
use market_types::{Address, BigInt};

use super::{node, set_network};

#[derive(Debug, Subcommand)]
pub enum StatsCmd {
    /// How many storage providers run a venus market, and their power.
    Power {
        /// Say what is done with each miner.
        #[arg(short, long, alias = "debug")]
        verbose: bool,
        /// A table of the miners with the minimum power (and the others with --min-power).
        #[arg(long)]
        list: bool,
        /// The same as JSON.
        #[arg(long)]
        json: bool,
        /// Include miners without the minimum power.
        #[arg(long)]
        min_power: bool,
    },
    /// Active market deals: how many, and their size.
    Deals,
}

/// How many miners are asked at once.
const PARALLEL: usize = 50;

struct Miner {
    addr: Address,
    power: Claim,
    has_min_power: bool,
    agent: Option<String>,
}

fn is_venus(agent: &str) -> bool {
    let a = agent.to_ascii_lowercase();
    a.contains("venus") || a.contains("droplet")
}

fn positive(b: &BigInt) -> bool {
    b > &BigInt::from(0)
}

pub async fn run(repo: &Repo, cmd: StatsCmd) -> Result<()> {
    let node = node(repo)?;
    set_network(&node).await;
    let tsk = || Json(TipSetKey::empty());
    match cmd {
        StatsCmd::Deals => {
            let deals = node.state_market_deals(tsk()).await.map_err(call_error)?.0;
            let active: Vec<_> = deals
                .0
                .values()
                .filter(|d| d.state.sector_start_epoch > -1 && d.state.slash_epoch == -1)
                .collect();
            let size: u64 = active.iter().map(|d| d.proposal.piece_size.0).sum();
            println!("Total deals:  {}", active.len());
            println!("Total deal size:  {}", format_size(size));
        }
        StatsCmd::Power {
            verbose,
            list,
            json,
            min_power,
        } => {
            let miners = node.state_list_miners(tsk()).await.map_err(call_error)?.0;
            if verbose {
                println!("Total SPs on chain:  {}", miners.len());
            }
            let node_ref = &node;
            let mut infos: Vec<Miner> = futures::stream::iter(miners)
                .map(|addr| async move {
                    let p = node_ref
                        .state_miner_power(Json(addr), Json(TipSetKey::empty()))
                        .await
                        .map_err(|e| anyhow::anyhow!("the power of {addr}: {}", call_error(e)))?
                        .0;
                    anyhow::Ok(Miner {
                        addr,
                        power: p.miner_power,
                        has_min_power: p.has_min_power,
                        agent: None,
                    })
                })
                .buffer_unordered(PARALLEL)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_>>()?;
            infos.sort_by_key(|m| m.addr.to_string());
            let host = super::cli_host().await?;
            let asked: Vec<usize> = (0..infos.len())
                .filter(|&i| positive(&infos[i].power.raw_byte_power) && (infos[i].has_min_power || min_power))
                .collect();
            let agents: Vec<(usize, Result<Option<String>>)> = futures::stream::iter(asked)
                .map(|i| {
                    let (host, node, addr) = (&host, &node, infos[i].addr);
                    async move {
                        let agent = async {
                            let (info, peer) = super::miner_peer(node, addr).await?;
                            let addrs = super::miner_addrs(addr, &info)?;
                            let dial = host.agent_version(peer, addrs, Duration::from_secs(5));
                            match tokio::time::timeout(Duration::from_secs(20), dial).await {
                                Ok(r) => Ok(r?),
                                Err(_) => anyhow::bail!("connecting to {addr}'s peer {peer}: timed out"),
                            }
                        }
                        .await;
                        (i, agent)
                    }
                })
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
            for (i, a) in agents {
                match a {
                    Ok(agent) => {
                        if verbose {
                            println!("{}: user agent {}", infos[i].addr, agent.as_deref().unwrap_or("(none)"));
                        }
                        infos[i].agent = agent;
                    }
                    Err(e) if verbose => println!("warn: {e:#}"),
                    Err(_) => {}
                }
            }
            let shown: Vec<&Miner> = infos
                .iter()
                .filter(|m| m.has_min_power || (min_power && positive(&m.power.raw_byte_power)))
                .collect();
            if list {
                println!("Miner\tAgent\tQualityAdjPower\tRawBytePower\tHasMinPower");
                for m in &shown {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        m.addr,
                        m.agent.as_deref().unwrap_or("unknown"),
                        m.power.quality_adj_power,
                        m.power.raw_byte_power,
                        m.has_min_power
                    );
                }
            } else if json {
                let map: serde_json::Map<String, serde_json::Value> = shown
                    .iter()
                    .map(|m| {
                        (
                            m.addr.to_string(),
                            serde_json::json!({
                                "Agent": m.agent.as_deref().unwrap_or("unknown"),
                                "Power": {
                                    "RawBytePower": m.power.raw_byte_power.to_string(),
                                    "QualityAdjPower": m.power.quality_adj_power.to_string(),
                                },
                                "HasMinPower": m.has_min_power,
                            }),
                        )
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&map)?);
            } else {
                let venus: Vec<&Miner> = infos
                    .iter()
                    .filter(|m| m.agent.as_deref().is_some_and(is_venus))
                    .collect();
                let sum = |f: fn(&Claim) -> &BigInt| -> BigInt { venus.iter().map(|m| f(&m.power).clone()).sum() };
                let bytes = |b: BigInt| u64::try_from(b).map(format_size).unwrap_or_else(|e| e.to_string());
                println!();
                println!("Total venus nodes: {}", venus.len());
                println!("Total venus raw power: {}", bytes(sum(|c| &c.raw_byte_power)));
                println!(
                    "Total venus quality adj power: {}",
                    bytes(sum(|c| &c.quality_adj_power))
                );
                println!(
                    "Total SPs with minimum power:  {}",
                    infos.iter().filter(|m| m.has_min_power).count()
                );
            }
        }
    }
    Ok(())
}

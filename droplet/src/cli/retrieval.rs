//! `droplet retrieval deal …`: the provider's retrieval deals.

use anyhow::{Context, Result};
use clap::Subcommand;
use market_daemon::repo::Repo;
use market_proto::api::retrieval::{MarketRetrievalClient, RetrievalDealQueryParams};
use market_proto::client::call_error;
use market_types::states::RetrievalDealStatus as S;
use market_types::units::{format_fil, format_size};

use super::{daemon, node, set_network};

#[derive(Debug, Subcommand)]
pub enum RetrievalDealCmd {
    /// Every retrieval deal, newest first.
    List {
        /// Leave out failed, rejected and cancelled deals.
        #[arg(long)]
        discard_failed: bool,
    },
    /// One deal, as JSON: `get <receiver peer> <deal id>`.
    Get { receiver: String, deal_id: u64 },
    /// Every retrieval deal status, with its number.
    Statuses,
}

#[derive(Debug, Subcommand)]
pub enum SelectionCmd {
    /// Show which retrieval deals are considered.
    List { miner: String },
    /// Consider online and offline retrieval deals again.
    Reset { miner: String },
    /// Reject retrieval deals of a kind.
    Reject {
        miner: String,
        #[arg(long)]
        online: bool,
        #[arg(long)]
        offline: bool,
    },
}

/// `droplet retrieval selection …`: `ConsiderOnlineRetrievalDeals` and
/// `ConsiderOfflineRetrievalDeals` of a miner (or `common`), saved to config.toml.
pub async fn selection(repo: &Repo, cmd: SelectionCmd) -> Result<()> {
    use market_proto::api::market::clients::*;
    let api = daemon(repo)?;
    let set = |m, online: Option<bool>, offline: Option<bool>| {
        let api = api.clone();
        async move {
            if let Some(b) = online {
                api.deals_set_consider_online_retrieval_deals(m, b)
                    .await
                    .map_err(call_error)?;
            }
            if let Some(b) = offline {
                api.deals_set_consider_offline_retrieval_deals(m, b)
                    .await
                    .map_err(call_error)?;
            }
            Ok::<(), anyhow::Error>(())
        }
    };
    match cmd {
        SelectionCmd::List { miner } => {
            let m = super::cfg::miner(&miner)?;
            let online = api.deals_consider_online_retrieval_deals(m).await.map_err(call_error)?;
            let offline = api
                .deals_consider_offline_retrieval_deals(m)
                .await
                .map_err(call_error)?;
            println!("considering online retrieval deals: {online}");
            println!("considering offline retrieval deals: {offline}");
        }
        SelectionCmd::Reset { miner } => set(super::cfg::miner(&miner)?, Some(true), Some(true)).await?,
        SelectionCmd::Reject { miner, online, offline } => {
            if !(online || offline) {
                anyhow::bail!("say what to reject: --online and/or --offline");
            }
            let m = super::cfg::miner(&miner)?;
            set(m, online.then_some(false), offline.then_some(false)).await?;
        }
    }
    Ok(())
}

pub async fn deal(repo: &Repo, cmd: RetrievalDealCmd) -> Result<()> {
    if let Ok(n) = node(repo) {
        set_network(&n).await;
    }
    match cmd {
        RetrievalDealCmd::Statuses => {
            for s in S::ALL {
                println!("{:>2} {}", s.code(), s.name());
            }
        }
        RetrievalDealCmd::List { discard_failed } => {
            let api = daemon(repo)?;
            let deals = api
                .market_list_retrieval_deals(RetrievalDealQueryParams {
                    discard_failed_deal: discard_failed,
                    ..Default::default()
                })
                .await
                .map_err(call_error)?;
            println!(
                "{:<54} {:<20} {:<62} {:<30} {:>14} {:>10} {:>12} {:>10}  Message",
                "Receiver", "DealID", "Payload", "State", "PricePerByte", "BytesSent", "Paied", "Interval"
            );
            for d in deals {
                let state = S::from_u64(d.status).map(|s| s.name()).unwrap_or("unknown");
                println!(
                    "{:<54} {:<20} {:<62} {:<30} {:>14} {:>10} {:>12} {:>10}  {}",
                    d.receiver,
                    d.deal_proposal.id,
                    d.deal_proposal.payload_cid.to_string(),
                    state,
                    format_fil(&d.deal_proposal.params.price_per_byte),
                    format_size(d.total_sent),
                    format_fil(&d.funds_received.0),
                    d.current_interval,
                    d.message
                );
            }
        }
        RetrievalDealCmd::Get { receiver, deal_id } => {
            let api = daemon(repo)?;
            let d = api
                .market_get_retrieval_deal(receiver, deal_id)
                .await
                .map_err(call_error)?;
            println!("{}", serde_json::to_string_pretty(&d)?);
        }
    }
    Ok(())
}

/// `droplet retrieval protocols <miner>`: the miner's peer and addresses from the chain, then
/// its answer on `/fil/retrieval/transports/1.0.0`, from a host of this command's own.
pub async fn protocols(repo: &Repo, miner: &str) -> Result<()> {
    let m = super::address(miner)?;
    let node = node(repo)?;
    set_network(&node).await;
    let (info, peer) = super::miner_peer(&node, m).await?;
    let addrs = super::miner_addrs(m, &info)?;
    let host = super::cli_host().await?;
    host.connect(peer, addrs)
        .await
        .with_context(|| format!("connecting to miner {m}'s peer {peer}"))?;
    let answer = market_p2p::transports::query(&host.stream_control(), peer).await?;
    println!("miner {m}, peer {peer}:");
    for p in answer.protocols {
        println!("  {}", p.name);
        for a in p.addresses {
            match libp2p::Multiaddr::try_from(a.0.clone()) {
                Ok(ma) => println!("    {ma}"),
                Err(_) => println!("    <undecodable {} bytes>", a.0.len()),
            }
        }
    }
    Ok(())
}

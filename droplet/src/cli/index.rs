//! `droplet index …`: the IPNI advertisements, as droplet's commands (`cli/index.go`).

use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use droplet::repo::Repo;
use market_proto::Json;
use market_proto::api::indexer::MarketIndexerClient;
use market_proto::client::call_error;
use market_types::Bytes;

#[derive(Debug, Subcommand)]
pub enum IndexCmd {
    /// Advertise every active deal of a miner that is not advertised yet, and announce.
    AnnounceAll {
        #[arg(long)]
        miner: String,
        /// Try again after a failure, every --interval minutes, up to --retry times.
        #[arg(long)]
        r#loop: bool,
        #[arg(long, default_value_t = 30)]
        interval: u64,
        #[arg(long, default_value_t = 20)]
        retry: u32,
    },
    /// The multihashes a deal's advertisement lists (by proposal CID or deal UUID).
    ListMultihashes { id: String },
    /// Announce the latest advertisement again to the configured indexers.
    AnnounceLatest,
    /// Announce the latest advertisement to indexers over HTTP.
    AnnounceLatestHttp {
        /// Announce URLs (the config's DirectAnnounceURLs when none).
        #[arg(long = "announce-url")]
        announce_url: Vec<String>,
    },
    /// Publish a removal advertisement for a deal (proposal CID or deal UUID).
    AnnounceRemoveDeal { id: String },
    /// Publish an advertisement for a deal (proposal CID or deal UUID).
    AnnounceDeal { id: String },
    /// Check that a miner's Active deals are findable at an indexer (and advertise again those
    /// that are not).
    CheckDealIndex(super::index_check::CheckArgs),
}

/// A proposal CID's bytes, or a deal UUID's 16 bytes, as droplet's commands take them.
fn context_id(id: &str) -> Result<Vec<u8>> {
    if let Ok(u) = id.parse::<market_types::Uuid>() {
        return Ok(u.as_bytes().to_vec());
    }
    id.parse::<cid::Cid>()
        .map(|c| c.to_bytes())
        .map_err(|_| anyhow!("could not parse '{id}' as deal uuid or proposal cid"))
}

pub async fn run(repo: &Repo, cmd: IndexCmd) -> Result<()> {
    let api = || super::daemon(repo);
    match cmd {
        IndexCmd::CheckDealIndex(args) => super::index_check::run(repo, args).await?,
        IndexCmd::AnnounceAll {
            miner,
            r#loop,
            interval,
            retry,
        } => {
            let miner = super::address(&miner)?;
            let mut tries = 0;
            loop {
                match api()?.indexer_announce_all_deals(Json(miner)).await {
                    Ok(()) => return Ok(()),
                    Err(e) if r#loop && tries + 1 < retry => {
                        tries += 1;
                        println!(
                            "index announce all deals failed, count: {tries}, err: {}",
                            call_error(e)
                        );
                        println!("after {interval} minutes try again");
                        tokio::time::sleep(Duration::from_secs(interval.saturating_mul(60))).await;
                    }
                    Err(e) => return Err(call_error(e).into()),
                }
            }
        }
        IndexCmd::ListMultihashes { id } => {
            let mhs = api()?
                .indexer_list_multihashes(Json(Bytes(context_id(&id)?)))
                .await
                .map_err(call_error)?;
            println!("Found {} multihashes for deal with ID {id}:", mhs.len());
            for mh in mhs {
                println!("  {}", bs58::encode(&mh.0.0).into_string());
            }
        }
        IndexCmd::AnnounceLatest => {
            let c = api()?.indexer_announce_latest().await.map_err(call_error)?;
            println!("Announced advertisement with cid {}", shown(c));
        }
        IndexCmd::AnnounceLatestHttp { announce_url } => {
            let c = api()?
                .indexer_announce_latest_http(Some(announce_url))
                .await
                .map_err(call_error)?;
            println!("Announced advertisement to indexers over http with cid {}", shown(c));
        }
        IndexCmd::AnnounceRemoveDeal { id } => {
            let c = api()?
                .indexer_announce_deal_removed(Json(Bytes(context_id(&id)?)))
                .await
                .map_err(|e| anyhow!("failed to send removal ad: {}", call_error(e)))?;
            println!("Announced the removal Ad with cid {}", c.0);
        }
        IndexCmd::AnnounceDeal { id } => {
            match api()?
                .indexer_announce_deal(Json(Bytes(context_id(&id)?)))
                .await
                .map_err(|e| anyhow!("announcing deal failed: {}", call_error(e)))?
            {
                Some(c) => println!("Announced the  deal with Ad cid {}", c.0),
                None => println!("deal already announced"),
            }
        }
    }
    Ok(())
}

fn shown(c: Option<Json<cid::Cid>>) -> String {
    c.map_or_else(|| "b".to_string(), |c| c.0.to_string())
}

//! `droplet storage cfg …`: per-miner deal acceptance settings, saved to config.toml by the
//! daemon. A miner address changes that miner's own settings; `common` changes
//! `[CommonProvider]`, which every miner without its own value follows.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;
use droplet::repo::Repo;
use jsonrpsee::http_client::HttpClient;
use market_proto::Json;
use market_proto::api::market::MinerOrCommon;
use market_proto::api::market::clients::*;
use market_proto::client::call_error;
use market_types::units::{format_go_duration, parse_go_duration};

use super::{address, daemon};

#[derive(Debug, Subcommand)]
pub enum CfgCmd {
    /// Which storage deals are considered.
    Selection {
        #[command(subcommand)]
        cmd: SelectionCmd,
    },
    /// Piece CIDs whose deals are rejected.
    BlockList {
        #[command(subcommand)]
        cmd: BlockListCmd,
    },
    /// How long sealing is expected to take: deals starting sooner are rejected.
    SealDuration {
        #[command(subcommand)]
        cmd: DurationCmd,
    },
    /// How far in the future a deal's start epoch may be.
    MaxStartDelay {
        #[command(subcommand)]
        cmd: DurationCmd,
    },
    /// How long to wait for more deals before publishing a batch.
    PublishPeriod {
        #[command(subcommand)]
        cmd: DurationCmd,
    },
}

#[derive(Debug, Subcommand)]
pub enum SelectionCmd {
    /// Show what is considered.
    List { miner: String },
    /// Consider every kind of deal again.
    Reset { miner: String },
    /// Reject a kind of deal.
    Reject {
        miner: String,
        #[arg(long)]
        online: bool,
        #[arg(long)]
        offline: bool,
        #[arg(long)]
        verified: bool,
        #[arg(long)]
        unverified: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlockListCmd {
    /// Print the blocked piece CIDs.
    Get { miner: String },
    /// Replace the list with the piece CIDs in a file, one per line (stdin when no file or `-`).
    Set { miner: String, file: Option<String> },
    /// Empty the list.
    Reset { miner: String },
}

#[derive(Debug, Subcommand)]
pub enum DurationCmd {
    Get {
        miner: String,
    },
    /// Set it, as a Go duration: 1h, 30m, 24h0m0s…
    Set {
        miner: String,
        duration: String,
    },
}

pub(super) fn miner(s: &str) -> Result<MinerOrCommon> {
    if s == "common" {
        return Ok(MinerOrCommon(None));
    }
    Ok(MinerOrCommon(Some(address(s)?)))
}

fn go_duration(s: &str) -> Result<i64> {
    let d = parse_go_duration(s).map_err(|e| anyhow!("could not parse duration {s:?}: {e}"))?;
    i64::try_from(d.as_nanos()).context("duration too long")
}

fn show(ns: i64) -> String {
    format_go_duration(Duration::from_nanos(ns.max(0) as u64))
}

pub async fn run(repo: &Repo, cmd: CfgCmd) -> Result<()> {
    let api = daemon(repo)?;
    match cmd {
        CfgCmd::Selection { cmd } => selection(&api, cmd).await,
        CfgCmd::BlockList { cmd } => block_list(&api, cmd).await,
        CfgCmd::SealDuration { cmd } => match cmd {
            DurationCmd::Get { miner: m } => {
                let ns = api
                    .sector_get_expected_seal_duration(miner(&m)?)
                    .await
                    .map_err(call_error)?;
                println!("seal-duration:  {}", show(ns));
                Ok(())
            }
            DurationCmd::Set { miner: m, duration } => Ok(api
                .sector_set_expected_seal_duration(miner(&m)?, go_duration(&duration)?)
                .await
                .map_err(call_error)?),
        },
        CfgCmd::MaxStartDelay { cmd } => match cmd {
            DurationCmd::Get { miner: m } => {
                let ns = api.deals_max_start_delay(miner(&m)?).await.map_err(call_error)?;
                println!("max start delay:  {}", show(ns));
                Ok(())
            }
            DurationCmd::Set { miner: m, duration } => Ok(api
                .deals_set_max_start_delay(miner(&m)?, go_duration(&duration)?)
                .await
                .map_err(call_error)?),
        },
        CfgCmd::PublishPeriod { cmd } => match cmd {
            DurationCmd::Get { miner: m } => {
                let ns = api.deals_publish_msg_period(miner(&m)?).await.map_err(call_error)?;
                println!("publish msg period:  {}", show(ns));
                Ok(())
            }
            DurationCmd::Set { miner: m, duration } => Ok(api
                .deals_set_publish_msg_period(miner(&m)?, go_duration(&duration)?)
                .await
                .map_err(call_error)?),
        },
    }
}

async fn selection(api: &HttpClient, cmd: SelectionCmd) -> Result<()> {
    match cmd {
        SelectionCmd::List { miner: m } => {
            let m = miner(&m)?;
            let online = api.deals_consider_online_storage_deals(m).await.map_err(call_error)?;
            let offline = api.deals_consider_offline_storage_deals(m).await.map_err(call_error)?;
            let verified = api.deals_consider_verified_storage_deals(m).await.map_err(call_error)?;
            let unverified = api
                .deals_consider_unverified_storage_deals(m)
                .await
                .map_err(call_error)?;
            println!("considering online storage deals: {online}");
            println!("considering offline storage deals: {offline}");
            println!("considering verified storage deals: {verified}");
            println!("considering unverified storage deals: {unverified}");
        }
        SelectionCmd::Reset { miner: m } => {
            set_selection(api, miner(&m)?, [true; 4], true).await?;
        }
        SelectionCmd::Reject {
            miner: m,
            online,
            offline,
            verified,
            unverified,
        } => {
            if !(online || offline || verified || unverified) {
                anyhow::bail!("say what to reject: --online, --offline, --verified and/or --unverified");
            }
            set_selection(api, miner(&m)?, [online, offline, verified, unverified], false).await?;
        }
    }
    Ok(())
}

/// Set each of online, offline, verified, unverified (in that order) that `which` marks to
/// `to`.
async fn set_selection(api: &HttpClient, m: MinerOrCommon, which: [bool; 4], to: bool) -> Result<()> {
    if which[0] {
        api.deals_set_consider_online_storage_deals(m, to)
            .await
            .map_err(call_error)?;
    }
    if which[1] {
        api.deals_set_consider_offline_storage_deals(m, to)
            .await
            .map_err(call_error)?;
    }
    if which[2] {
        api.deals_set_consider_verified_storage_deals(m, to)
            .await
            .map_err(call_error)?;
    }
    if which[3] {
        api.deals_set_consider_unverified_storage_deals(m, to)
            .await
            .map_err(call_error)?;
    }
    Ok(())
}

async fn block_list(api: &HttpClient, cmd: BlockListCmd) -> Result<()> {
    match cmd {
        BlockListCmd::Get { miner: m } => {
            for c in api.deals_piece_cid_blocklist(miner(&m)?).await.map_err(call_error)? {
                println!("{}", c.0);
            }
        }
        BlockListCmd::Set { miner: m, file } => {
            let reader: Box<dyn BufRead> = match file.as_deref() {
                None | Some("-") => Box::new(std::io::stdin().lock()),
                Some(f) => Box::new(std::io::BufReader::new(
                    std::fs::File::open(f).with_context(|| format!("opening {f}"))?,
                )),
            };
            let mut cids = Vec::new();
            for (n, line) in reader.lines().enumerate() {
                let line = line?;
                let t = line.trim();
                if t.is_empty() {
                    continue;
                }
                let c = t
                    .parse()
                    .map_err(|e| anyhow!("line {}: {t:?} is not a CID: {e}", n + 1))?;
                cids.push(Json(c));
            }
            let count = cids.len();
            api.deals_set_piece_cid_blocklist(miner(&m)?, cids)
                .await
                .map_err(call_error)?;
            println!("{count} piece CID(s) blocked");
        }
        BlockListCmd::Reset { miner: m } => {
            api.deals_set_piece_cid_blocklist(miner(&m)?, Vec::new())
                .await
                .map_err(call_error)?;
        }
    }
    Ok(())
}

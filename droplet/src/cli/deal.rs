//! `droplet storage deal …`.

use anyhow::{Result, anyhow};
use clap::Subcommand;
use droplet::repo::Repo;
use market_proto::Json;
use market_proto::api::market::{DealQuery, ImportDataRef, MarketClient, MinerDeal};
use market_proto::client::call_error;
use market_types::states::StorageDealStatus;
use market_types::units::{format_fil, format_size};

use super::{address, daemon, node, set_network};

#[derive(Debug, Subcommand)]
pub enum DealCmd {
    /// The provider's storage deals, newest first.
    List {
        #[arg(long)]
        miner: Option<String>,
        /// A state name (StorageDealWaitingForData or WaitingForData) or number.
        #[arg(long)]
        state: Option<String>,
        /// Leave out failed and rejected deals.
        #[arg(long)]
        discard_failed: bool,
        #[arg(long)]
        json: bool,
    },
    /// One deal by proposal CID.
    Get {
        #[arg(long = "proposal-cid")]
        proposal_cid: String,
        #[arg(long)]
        json: bool,
    },
    /// The storage deal states with their numbers.
    States,
    /// Import an offline deal's data: `import-data <proposalCid|uuid> <file>`.
    ImportData {
        deal: String,
        file: String,
        /// Do not check the data's commP against the proposal.
        #[arg(long)]
        skip_commp: bool,
    },
    /// Deals waiting to be published.
    PendingPublish {
        /// Publish them now.
        #[arg(long)]
        publish_now: bool,
    },
}

fn parse_state(s: &str) -> Result<u64> {
    if let Ok(n) = s.parse::<u64>() {
        return StorageDealStatus::from_u64(n)
            .map(|x| x.code())
            .ok_or_else(|| anyhow!("no deal state {n}"));
    }
    let full = if s.starts_with("StorageDeal") {
        s.to_string()
    } else {
        format!("StorageDeal{s}")
    };
    StorageDealStatus::parse(&full)
        .map(|x| x.code())
        .ok_or_else(|| anyhow!("unknown deal state {s:?} (see `droplet storage deal states`)"))
}

pub async fn run(repo: &Repo, cmd: DealCmd) -> Result<()> {
    if let Ok(n) = node(repo) {
        set_network(&n).await;
    }
    let api = daemon(repo)?;
    match cmd {
        DealCmd::List {
            miner,
            state,
            discard_failed,
            json,
        } => {
            let query = DealQuery {
                miner: miner.as_deref().map(address).transpose()?.map(Json),
                state: state.as_deref().map(parse_state).transpose()?,
                discard_failed,
            };
            let deals = api
                .market_list_incomplete_deals(Some(query))
                .await
                .map_err(call_error)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&deals)?);
                return Ok(());
            }
            println!("ProposalCid\tDealId\tState\tPieceState\tClient\tProvider\tSize\tPrice\tDuration\tMessage");
            for d in &deals {
                println!("{}", row(d));
            }
        }
        DealCmd::Get { proposal_cid, json } => {
            let c = proposal_cid
                .parse()
                .map_err(|e| anyhow!("{proposal_cid:?} is not a CID: {e}"))?;
            let d = api.market_get_deal(Json(c)).await.map_err(call_error)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                let p = &d.proposal.0.proposal;
                println!("Proposal CID:   {}", d.proposal_cid.0);
                println!("Deal UUID:      {}", d.uuid.0);
                println!("State:          {}", d.state_name);
                if !d.message.is_empty() {
                    println!("Message:        {}", d.message);
                }
                println!("Deal ID:        {}", d.deal_id);
                println!("Piece:          {} ({})", p.piece_cid, format_size(p.piece_size.0));
                println!("Client:         {}", p.client);
                println!("Provider:       {}", p.provider);
                println!("Price:          {} / epoch", format_fil(&p.storage_price_per_epoch));
                println!("Epochs:         {} to {}", p.start_epoch, p.end_epoch);
                println!("Offline:        {}", d.offline);
                println!("Piece status:   {}", d.piece_status);
            }
        }
        DealCmd::ImportData { deal, file, skip_commp } => {
            let (uuid, proposal_cid) = match deal.parse::<market_types::Uuid>() {
                Ok(u) => (Some(Json(u)), None),
                Err(_) => (
                    None,
                    Some(Json(deal.parse().map_err(|e| {
                        anyhow!("{deal:?} is neither a deal UUID nor a proposal CID: {e}")
                    })?)),
                ),
            };
            let abs = std::fs::canonicalize(&file).map_err(|e| anyhow!("{file}: {e}"))?;
            let data = ImportDataRef {
                proposal_cid,
                uuid,
                file: abs.to_string_lossy().into_owned(),
            };
            api.deals_import_data(data, skip_commp).await.map_err(call_error)?;
            println!("importing {file} for deal {deal}");
        }
        DealCmd::PendingPublish { publish_now } => {
            if publish_now {
                api.market_publish_pending_deals().await.map_err(call_error)?;
                println!("triggered deal publishing");
            }
            for p in api.market_pending_deals().await.map_err(call_error)? {
                println!("{}: {} deal(s) waiting", p.miner.0, p.deals.len());
                for d in p.deals {
                    println!("  {}", d.0);
                }
            }
        }
        DealCmd::States => {
            for n in 0..=30 {
                if let Some(s) = StorageDealStatus::from_u64(n) {
                    println!("{n}\t{}", s.name());
                }
            }
        }
    }
    Ok(())
}

fn row(d: &MinerDeal) -> String {
    let p = &d.proposal.0.proposal;
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        d.proposal_cid.0,
        d.deal_id,
        d.state_name,
        d.piece_status,
        p.client,
        p.provider,
        format_size(p.piece_size.0),
        format_fil(&p.storage_price_per_epoch),
        p.duration(),
        d.message
    )
}

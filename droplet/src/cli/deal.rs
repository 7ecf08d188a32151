//! `droplet storage deal …`.

use anyhow::{Result, anyhow};
use clap::Subcommand;
use droplet::repo::Repo;
use market_proto::Json;
use market_proto::api::market::{DealQuery, ImportDataRef, ImportDataRefs, MarketClient, MinerDeal};
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
    /// Import many offline deals' data: `--proposals <proposalCid|uuid>,<file>` (repeatable), or
    /// `--manifest` (CSV of proposalCID,pieceCID, as `droplet-client storage deals export` writes)
    /// with `--car-dir` holding `<pieceCID>.car`.
    BatchImportData {
        #[arg(long, num_args = 1..)]
        proposals: Vec<String>,
        #[arg(long, conflicts_with = "proposals", requires = "car_dir")]
        manifest: Option<String>,
        #[arg(long)]
        car_dir: Option<String>,
        #[arg(long)]
        skip_commp: bool,
    },
    /// Set a deal's state or piece status by hand (repairs only: nothing else happens).
    Update {
        #[arg(long = "proposalcid")]
        proposal_cid: String,
        /// A state name or number (see `storage deal states`).
        #[arg(long)]
        state: Option<String>,
        /// Undefine, Assigned, Packing or Proving.
        #[arg(long)]
        piece_state: Option<String>,
        /// Without it, only show what would change.
        #[arg(long)]
        really_do_it: bool,
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
            let data = deal_ref(&deal, absolute(&file)?)?;
            api.deals_import_data(data, skip_commp).await.map_err(call_error)?;
            println!("importing {file} for deal {deal}");
        }
        DealCmd::BatchImportData {
            proposals,
            manifest,
            car_dir,
            skip_commp,
        } => {
            let refs = match (manifest, car_dir) {
                (Some(m), Some(dir)) => manifest_refs(&m, &dir)?,
                _ => proposals
                    .iter()
                    .flat_map(|p| p.split_whitespace())
                    .map(pair_ref)
                    .collect::<Result<_>>()?,
            };
            if refs.is_empty() {
                anyhow::bail!("nothing to import: give --proposals <proposal>,<file> or --manifest and --car-dir");
            }
            let total = refs.len();
            let results = api
                .deals_batch_import_data(ImportDataRefs { refs, skip_commp })
                .await
                .map_err(call_error)?;
            let failed = results.iter().filter(|r| !r.message.is_empty()).count();
            for r in &results {
                if r.message.is_empty() {
                    println!("{}: importing", r.target);
                } else {
                    println!("{}: failed: {}", r.target, r.message);
                }
            }
            println!("{} of {total} imports started", total - failed);
            if failed > 0 {
                anyhow::bail!("{failed} import(s) failed");
            }
        }
        DealCmd::Update {
            proposal_cid,
            state,
            piece_state,
            really_do_it,
        } => {
            let c = proposal_cid
                .parse()
                .map_err(|e| anyhow!("{proposal_cid:?} is not a CID: {e}"))?;
            let d = api.market_get_deal(Json(c)).await.map_err(call_error)?;
            let new_state = state.as_deref().map(parse_state).transpose()?;
            if new_state.is_none() && piece_state.is_none() {
                anyhow::bail!("nothing to change: give --state and/or --piece-state");
            }
            let state_name = |n: u64| StorageDealStatus::from_u64(n).map_or("?", |s| s.name());
            println!(
                "deal {}: state {} -> {}, piece status {} -> {}",
                d.proposal_cid.0,
                d.state_name,
                new_state.map_or(d.state_name.as_str(), state_name),
                d.piece_status,
                piece_state.as_deref().unwrap_or(&d.piece_status)
            );
            if !really_do_it {
                println!(
                    "nothing changed: pass --really-do-it to apply (droplet does nothing else about the new state)"
                );
                return Ok(());
            }
            api.update_storage_deal_status(Json(c), new_state.unwrap_or(0), piece_state.unwrap_or_default())
                .await
                .map_err(call_error)?;
            println!("updated");
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

/// A deal reference by proposal CID or UUID.
fn deal_ref(deal: &str, file: String) -> Result<ImportDataRef> {
    let (uuid, proposal_cid) = match deal.parse::<market_types::Uuid>() {
        Ok(u) => (Some(Json(u)), None),
        Err(_) => (
            None,
            Some(Json(deal.parse().map_err(|e| {
                anyhow!("{deal:?} is neither a deal UUID nor a proposal CID: {e}")
            })?)),
        ),
    };
    Ok(ImportDataRef {
        proposal_cid,
        uuid,
        file,
    })
}

fn absolute(file: &str) -> Result<String> {
    Ok(std::fs::canonicalize(file)
        .map_err(|e| anyhow!("{file}: {e}"))?
        .to_string_lossy()
        .into_owned())
}

/// `<proposal>,<file>`.
fn pair_ref(pair: &str) -> Result<ImportDataRef> {
    let (deal, file) = pair
        .split_once(',')
        .ok_or_else(|| anyhow!("{pair:?}: expected <proposalCid|uuid>,<file>"))?;
    deal_ref(deal.trim(), absolute(file.trim())?)
}

/// A CSV of proposalCID,pieceCID (a header line is skipped); each deal's CAR is
/// `<dir>/<pieceCID>.car` (or `<dir>/<pieceCID>`).
fn manifest_refs(manifest: &str, dir: &str) -> Result<Vec<ImportDataRef>> {
    let text = std::fs::read_to_string(manifest).map_err(|e| anyhow!("{manifest}: {e}"))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() < 2 || fields[0].is_empty() {
            continue;
        }
        if n == 0 && fields[0].parse::<cid::Cid>().is_err() {
            continue;
        }
        let piece = fields[1];
        let car = [format!("{piece}.car"), piece.to_string()]
            .into_iter()
            .map(|f| std::path::Path::new(dir).join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| anyhow!("{manifest} line {}: no {piece}.car in {dir}", n + 1))?;
        out.push(deal_ref(fields[0], absolute(&car.to_string_lossy())?)?);
    }
    Ok(out)
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

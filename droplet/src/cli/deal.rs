//! `droplet storage deal …`.

use anyhow::{Result, anyhow};
use clap::Subcommand;
use droplet::repo::Repo;
use market_proto::Json;
use market_proto::api::market::clients::*;
use market_proto::api::market::{DealQuery, ImportDataRef, ImportDataRefs, MinerDeal, Page};
use market_proto::client::call_error;
use market_types::states::StorageDealStatus;
use market_types::units::{format_fil, format_size};

use super::{address, daemon, node, set_network};

/// Deals imported by one `DealsBatchImportData` call of `batch-import-data`.
const IMPORT_CALL: usize = 256;

#[derive(Debug, Subcommand)]
pub enum DealCmd {
    /// The provider's storage deals, newest first.
    List {
        #[arg(long)]
        miner: Option<String>,
        /// A state name (StorageDealWaitingForData or WaitingForData) or number.
        #[arg(long)]
        state: Option<String>,
        /// The client's peer ID.
        #[arg(long)]
        client: Option<String>,
        /// Leave out failed and rejected deals.
        #[arg(long)]
        discard_failed: bool,
        /// More columns: creation time, verified, add-funds and publish messages, message.
        #[arg(short, long)]
        verbose: bool,
        /// Print the list again as deals change.
        #[arg(long)]
        watch: bool,
        /// Oldest first.
        #[arg(long)]
        oldest: bool,
        /// Deals to skip.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Deals to show (0: all).
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// One deal, by proposal CID or on-chain deal ID.
    Get {
        #[arg(long = "proposal-cid", conflicts_with = "deal_id")]
        proposal_cid: Option<String>,
        #[arg(long = "deal-id")]
        deal_id: Option<u64>,
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
    /// with `--car-dir` holding `<pieceCID>.car`. Sent 256 deals a call, each call's collateral
    /// set aside with one deposit per miner.
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
    /// Take over deals from lotus-miner (`lotus-miner storage-deals list` as JSON: the
    /// `MarketListIncompleteDeals` answer), boost (its GraphQL `deals` answer) or the Go
    /// droplet's MySQL database (its `storage_deals` table, read in place): deals waiting for
    /// their data and published ones, by default the WaitingForData and Active ones (from
    /// droplet-mysql, every state a deal can be taken in).
    ImportDeal {
        /// The dump; with `--from droplet-mysql`, the Go droplet's `[Mysql] ConnectionString`.
        file: String,
        /// `lotus-miner`, `boost` or `droplet-mysql`.
        #[arg(long, default_value = "lotus-miner")]
        from: String,
        /// Where the pieces' CAR files are (`<dir>/<pieceCid>`), for the payload size of boost
        /// deals that lack it. To serve the pieces, add the directory as a piece store
        /// (`droplet piece-storage add-fs --read-only`): imported deals' pieces are indexed from it.
        #[arg(long, value_delimiter = ',')]
        car_dirs: Vec<String>,
        /// The states to take (numbers, see `storage deal states`; default 7 and 18).
        #[arg(long, value_delimiter = ',')]
        states: Vec<u64>,
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
            client,
            discard_failed,
            verbose,
            watch,
            oldest,
            offset,
            limit,
            json,
        } => {
            let query = DealQuery {
                miner: miner.as_deref().map(address).transpose()?.map(Json),
                state: state.as_deref().map(parse_state).transpose()?,
                discard_failed,
                client: client.unwrap_or_default(),
                page: Page { offset, limit },
                asc: oldest,
                ..Default::default()
            };
            loop {
                let deals = api
                    .market_list_incomplete_deals(Some(query.clone()))
                    .await
                    .map_err(call_error)?;
                if watch {
                    print!("\x1b[2J\x1b[H");
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&deals)?);
                } else {
                    print!("{}", deal_table(&deals, verbose));
                }
                if !watch {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
        DealCmd::Get {
            proposal_cid,
            deal_id,
            json,
        } => {
            let d = match (proposal_cid, deal_id) {
                (Some(proposal_cid), _) => {
                    let c = proposal_cid
                        .parse()
                        .map_err(|e| anyhow!("{proposal_cid:?} is not a CID: {e}"))?;
                    api.market_get_deal(Json(c)).await.map_err(call_error)?
                }
                (None, Some(id)) => {
                    let query = DealQuery {
                        deal_id: id,
                        ..Default::default()
                    };
                    api.market_list_incomplete_deals(Some(query))
                        .await
                        .map_err(call_error)?
                        .into_iter()
                        .find(|d| d.deal_id == id && d.publish_msg.is_some())
                        .ok_or_else(|| anyhow!("deal {id} not found"))?
                }
                (None, None) => anyhow::bail!("give --proposal-cid or --deal-id"),
            };
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
            market_daemon::progress::waiting(
                "droplet importing the deal's data",
                api.deals_import_data(data, skip_commp),
            )
            .await
            .map_err(call_error)?;
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
            // In calls of IMPORT_CALL deals: each is one batch to the daemon (its collateral
            // reserved with one deposit per miner), short enough to answer well within the
            // request timeout whatever the manifest's length, and the progress shows between
            // them.
            let mut progress =
                market_daemon::progress::Progress::items("droplet importing deals' data", total as u64, "deals");
            let mut results = Vec::with_capacity(total);
            for call in refs.chunks(IMPORT_CALL) {
                let refs = call.to_vec();
                let done = api
                    .deals_batch_import_data(ImportDataRefs { refs, skip_commp })
                    .await
                    .map_err(call_error)?;
                results.extend(done);
                progress.set(results.len() as u64);
            }
            progress.finish();
            let failed = results.iter().filter(|r| !r.message.is_empty()).count();
            // droplet's lines: failures first, then successes.
            for r in results.iter().filter(|r| !r.message.is_empty()) {
                println!("import data failed, deal: {}, error: {}", r.target, r.message);
            }
            for r in results.iter().filter(|r| r.message.is_empty()) {
                println!("import data success: {}", r.target);
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
        DealCmd::ImportDeal {
            file,
            from,
            car_dirs,
            states,
        } => import_deals(&api, &file, &from, &car_dirs, &states).await?,
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

/// The deal table, with Go droplet's columns (more with `verbose`).
fn deal_table(deals: &[MinerDeal], verbose: bool) -> String {
    let mut header = vec![
        "ProposalCid",
        "DealId",
        "State",
        "PieceState",
        "Client",
        "Provider",
        "Size",
        "Price",
        "Duration",
    ];
    if verbose {
        header.splice(0..0, ["Creation", "Verified"]);
        header.extend(["AddFundCid", "PublishCid"]);
    }
    header.push("Message");
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    for d in deals {
        let p = &d.proposal.0.proposal;
        let total = market_types::TokenAmount::from_atto(p.storage_price_per_epoch.atto() * p.duration());
        let mut row = Vec::new();
        if verbose {
            row.push(market_types::units::rfc3339(d.created_at));
            row.push(p.verified_deal.to_string());
        }
        row.extend([
            d.proposal_cid.0.to_string(),
            d.deal_id.to_string(),
            d.state_name.clone(),
            d.piece_status.clone(),
            p.client.to_string(),
            p.provider.to_string(),
            format_size(p.piece_size.0),
            format_fil(&total),
            p.duration().to_string(),
        ]);
        if verbose {
            let cid = |c: &Option<Json<cid::Cid>>| c.as_ref().map(|c| c.0.to_string()).unwrap_or_default();
            row.push(cid(&d.add_funds_msg));
            row.push(cid(&d.publish_msg));
        }
        row.push(d.message.clone());
        rows.push(row);
    }
    market_daemon::cli::table(&rows)
}

/// `storage deal import-deal`: read the dump, keep the deals in the wanted states, say which
/// are already here, and hand the rest to `DealsImport` (which takes all or none).
async fn import_deals(
    api: &jsonrpsee::http_client::HttpClient,
    file: &str,
    from: &str,
    car_dirs: &[String],
    states: &[u64],
) -> Result<()> {
    use droplet::deals::dumps;
    let entries = if from == "droplet-mysql" {
        droplet_mysql_deals(file)?
    } else {
        let raw = std::fs::read(file).map_err(|e| anyhow!("reading the deal file {file}: {e}"))?;
        match from {
            "lotus-miner" => dumps::lotus_miner(&raw),
            "boost" => dumps::boost(&raw),
            other => {
                return Err(anyhow!(
                    "--from {other:?}: it can only be lotus-miner, boost or droplet-mysql"
                ));
            }
        }
        .map_err(|e| anyhow!("{file}: {e}"))?
    };
    let wanted: Vec<u64> = if from == "droplet-mysql" && states.is_empty() {
        // A database moved over: every deal that can be carried on here keeps its state.
        [
            StorageDealStatus::WaitingForData,
            StorageDealStatus::Staged,
            StorageDealStatus::AwaitingPreCommit,
            StorageDealStatus::Sealing,
            StorageDealStatus::Finalizing,
            StorageDealStatus::Active,
            StorageDealStatus::Expired,
            StorageDealStatus::Slashed,
        ]
        .map(|s| s.code())
        .to_vec()
    } else if states.is_empty() {
        vec![
            StorageDealStatus::Active.code(),
            StorageDealStatus::WaitingForData.code(),
        ]
    } else {
        states.to_vec()
    };
    let mut deals = Vec::new();
    for e in entries {
        match e {
            Ok(mut d) if wanted.contains(&d.state) => {
                if d.payload_size == 0
                    && let Some(size) = payload_size(car_dirs, &d.proposal.0.proposal.piece_cid.to_string())
                {
                    d.payload_size = size;
                }
                deals.push(d)
            }
            Ok(d) if from == "droplet-mysql" => println!(
                "deal {} is in {}: not taken (finish it in the old market, or name its state with --states)",
                d.proposal_cid.0,
                StorageDealStatus::from_u64(d.state).map_or("an unknown state", |s| s.name())
            ),
            Ok(_) => {}
            Err((cid, e)) => println!("parse {cid} deal failed: {e}"),
        }
    }
    let here: std::collections::HashSet<String> = api
        .market_list_incomplete_deals(None)
        .await
        .map_err(call_error)?
        .into_iter()
        .map(|d| d.proposal_cid.0.to_string())
        .collect();
    let (already, new): (Vec<_>, Vec<_>) = deals
        .into_iter()
        .partition(|d| here.contains(&d.proposal_cid.0.to_string()));
    for d in &already {
        println!("deal {} is already here: left as it is", d.proposal_cid.0);
    }
    if new.is_empty() {
        println!("import 0 deals success");
        return Ok(());
    }
    let n = new.len();
    api.deals_import(new)
        .await
        .map_err(|e| anyhow!("import deals failed: {}", call_error(e)))?;
    println!("import {n} deals success");
    Ok(())
}

/// The deals in the Go droplet's MySQL database at `dsn`, read in place (nothing is written
/// there).
fn droplet_mysql_deals(dsn: &str) -> Result<Vec<droplet::deals::dumps::Entry>> {
    use droplet::deals::dumps;
    use droplet::store::sql::{Sql, SqlConfig};
    let sql = Sql::connect(&SqlConfig {
        connection: dsn.to_string(),
        max_open: 2,
        max_idle: 2,
        max_lifetime: None,
        debug: false,
    })?;
    let rows = sql
        .text_rows(&dumps::droplet_mysql_query())
        .map_err(|e| anyhow!("reading droplet's storage_deals table on {}: {e}", sql.describe()))?;
    Ok(dumps::droplet_mysql(&rows))
}

/// The size of `<dir>/<pieceCid>` in the first directory that has it.
fn payload_size(dirs: &[String], piece: &str) -> Option<u64> {
    dirs.iter()
        .find_map(|d| std::fs::metadata(std::path::Path::new(d).join(piece)).ok())
        .map(|m| m.len())
}

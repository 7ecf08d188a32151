//! `droplet storage direct-deal …`: pieces a client allocated DataCap for, imported against
//! their allocations (droplet's commands and columns).

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use droplet::repo::Repo;
use market_fsm::storage::direct::DirectDealState;
use market_proto::Json;
use market_proto::api::direct_deal::{
    DirectDeal, DirectDealParam, DirectDealParams, DirectDealQueryParams, MarketDirectDealsClient,
};
use market_proto::api::market::MinerOrCommon;
use market_proto::client::call_error;
use market_types::{Cid, Uuid};

use super::{address, daemon, node, set_network};

#[derive(Debug, Subcommand)]
pub enum DirectDealCmd {
    /// Import one piece against its allocation: `import-deal <pieceCid> <file>`. The file
    /// goes into piece storage (checked against the piece) unless piece storage has it.
    ImportDeal {
        piece_cid: String,
        file: PathBuf,
        #[arg(long)]
        allocation_id: u64,
        /// The client that made the allocation.
        #[arg(long)]
        client: String,
        /// The data's byte size (needed with --skip-commp when the piece is not stored).
        #[arg(long, default_value_t = 0)]
        payload_size: u64,
        #[arg(long)]
        payload_cid: Option<String>,
        #[arg(long)]
        skip_commp: bool,
        /// The deal's start epoch (default: 30 days after the head, as droplet's).
        #[arg(long)]
        start_epoch: Option<i64>,
    },
    /// Import many: `--allocation-info id:pieceCid:client` (repeatable) or `--allocation-file`
    /// (the CSV `droplet-client direct-deal allocate` writes). The pieces must be in piece
    /// storage, or their files in `--car-dir` named by piece CID.
    ImportDeals {
        #[arg(long = "allocation-info")]
        allocation_info: Vec<String>,
        #[arg(long)]
        allocation_file: Option<PathBuf>,
        /// Where the pieces' files are, as `<pieceCid>` or `<pieceCid>.car`.
        #[arg(long)]
        car_dir: Option<PathBuf>,
        #[arg(long)]
        skip_commp: bool,
        #[arg(long)]
        start_epoch: Option<i64>,
    },
    /// The direct deals, newest first.
    List {
        #[arg(long)]
        miner: Option<String>,
        #[arg(long)]
        client: Option<String>,
        /// Only this state (1 allocated … 6 error).
        #[arg(long)]
        state: Option<u64>,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        asc: bool,
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long, default_value_t = 0)]
        limit: usize,
    },
    /// One direct deal.
    Get {
        #[arg(long, conflicts_with = "allocation_id")]
        id: Option<String>,
        #[arg(long)]
        allocation_id: Option<u64>,
    },
    /// Set a direct deal's state by hand (1 allocated … 6 error).
    UpdateState {
        id: String,
        #[arg(long)]
        state: u64,
    },
}

/// Epochs a direct deal starts after the head unless told (droplet's 30 days).
const DEFAULT_START: i64 = 30 * 2880;

pub async fn run(repo: &Repo, cmd: DirectDealCmd) -> Result<()> {
    let node = node(repo)?;
    set_network(&node).await;
    let api = daemon(repo)?;
    match cmd {
        DirectDealCmd::ImportDeal {
            piece_cid,
            file,
            allocation_id,
            client,
            payload_size,
            payload_cid,
            skip_commp,
            start_epoch,
        } => {
            let file = std::fs::canonicalize(&file).with_context(|| format!("{}", file.display()))?;
            let start = start_or_default(&node, start_epoch).await?;
            let param = param(
                &node,
                allocation_id,
                cid(&piece_cid)?,
                &client,
                start,
                payload_size,
                payload_cid.as_deref().map(cid).transpose()?,
                file.display().to_string(),
            )
            .await?;
            import(&api, vec![param], skip_commp).await?;
            println!("import deal success, allocation id: {allocation_id}");
        }
        DirectDealCmd::ImportDeals {
            allocation_info,
            allocation_file,
            car_dir,
            skip_commp,
            start_epoch,
        } => {
            let mut rows: Vec<(u64, Cid, String, u64, Option<Cid>)> = Vec::new();
            for info in &allocation_info {
                let parts: Vec<&str> = info.split(':').collect();
                let [id, piece, client] = parts[..] else {
                    bail!("--allocation-info {info:?}: write it as allocationId:pieceCid:client");
                };
                rows.push((
                    id.parse().map_err(|e| anyhow!("{info:?}: {e}"))?,
                    cid(piece)?,
                    client.into(),
                    0,
                    None,
                ));
            }
            if let Some(f) = &allocation_file {
                let text = std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?;
                for (n, line) in text.lines().enumerate() {
                    if line.contains("AllocationID") || line.trim().is_empty() {
                        continue;
                    }
                    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
                    let parsed = (|| -> Result<(u64, Cid, String, u64, Option<Cid>)> {
                        let id = fields.first().ok_or_else(|| anyhow!("no allocation ID"))?.parse()?;
                        let piece = cid(fields.get(1).ok_or_else(|| anyhow!("no piece CID"))?)?;
                        let client = fields.get(2).ok_or_else(|| anyhow!("no client"))?.to_string();
                        let size = fields
                            .get(3)
                            .filter(|s| !s.is_empty())
                            .map(|s| s.parse())
                            .transpose()?
                            .unwrap_or(0);
                        let payload = fields.get(4).filter(|s| !s.is_empty()).map(|s| cid(s)).transpose()?;
                        Ok((id, piece, client, size, payload))
                    })();
                    match parsed {
                        Ok(r) => rows.push(r),
                        Err(e) => println!("{} line {}: skipped: {e:#}", f.display(), n + 1),
                    }
                }
            }
            if rows.is_empty() {
                bail!("no allocations: give --allocation-info or --allocation-file");
            }
            let start = start_or_default(&node, start_epoch).await?;
            let mut params = Vec::with_capacity(rows.len());
            for (id, piece, client, size, payload) in rows {
                let file = car_dir
                    .as_ref()
                    .and_then(|d| {
                        [format!("{piece}"), format!("{piece}.car")]
                            .into_iter()
                            .map(|n| d.join(n))
                            .find(|p| p.is_file())
                    })
                    .map(|p| std::fs::canonicalize(&p).map(|p| p.display().to_string()))
                    .transpose()?
                    .unwrap_or_default();
                params.push(param(&node, id, piece, &client, start, size, payload, file).await?);
            }
            let n = params.len();
            import(&api, params, skip_commp).await?;
            println!("{n} direct deals imported");
        }
        DirectDealCmd::List {
            miner,
            client,
            state,
            asc,
            offset,
            limit,
        } => {
            let q = DirectDealQueryParams {
                provider: MinerOrCommon(miner.as_deref().map(address).transpose()?),
                client: MinerOrCommon(client.as_deref().map(address).transpose()?),
                state,
                offset,
                limit,
                asc,
            };
            let deals = api.list_direct_deals(q).await.map_err(call_error)?;
            let mut rows = vec![
                [
                    "Creation",
                    "ID",
                    "AllocationId",
                    "PieceCid",
                    "State",
                    "Client",
                    "Provider",
                    "Size",
                    "Message",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for d in deals {
                rows.push(vec![
                    market_types::units::rfc3339(d.created_at),
                    d.id.0.to_string(),
                    d.allocation_id.to_string(),
                    d.piece_cid.0.to_string(),
                    state_name(d.state),
                    d.client.0.to_string(),
                    d.provider.0.to_string(),
                    d.piece_size.to_string(),
                    d.message.clone(),
                ]);
            }
            print!("{}", market_daemon::cli::table(&rows));
        }
        DirectDealCmd::Get { id, allocation_id } => {
            let d = match (id, allocation_id) {
                (Some(id), _) => {
                    let u: Uuid = id.parse().map_err(|e| anyhow!("{id:?} is not a UUID: {e}"))?;
                    api.get_direct_deal(Json(u)).await.map_err(call_error)?
                }
                (None, Some(a)) => api.get_direct_deal_by_allocation_id(a).await.map_err(call_error)?,
                (None, None) => bail!("give --id or --allocation-id"),
            };
            print!("{}", describe(&d));
        }
        DirectDealCmd::UpdateState { id, state } => {
            let u: Uuid = id.parse().map_err(|e| anyhow!("{id:?} is not a UUID: {e}"))?;
            if DirectDealState::from_code(state).is_none() {
                bail!(
                    "--state {state}: one of 1 (allocated), 2 (sealing), 3 (active), 4 (expired), 5 (slashed), 6 (error)"
                );
            }
            api.update_direct_deal_state(Json(u), state).await.map_err(call_error)?;
            println!("deal {u} is now {}", state_name(state));
        }
    }
    Ok(())
}

fn cid(s: &str) -> Result<Cid> {
    s.parse().map_err(|e| anyhow!("{s:?} is not a CID: {e}"))
}

fn state_name(n: u64) -> String {
    DirectDealState::from_code(n).map_or_else(|| format!("state {n}"), |s| s.name().to_string())
}

async fn start_or_default(node: &jsonrpsee::http_client::HttpClient, start: Option<i64>) -> Result<i64> {
    use market_proto::api::full_node::FullNodeClient;
    match start {
        Some(s) => Ok(s),
        None => Ok(node.chain_head().await.map_err(call_error)?.0.height() + DEFAULT_START),
    }
}

/// One deal's parameters; its end is the start plus the allocation's minimum term (as
/// droplet's), read from the chain.
#[allow(clippy::too_many_arguments)]
async fn param(
    node: &jsonrpsee::http_client::HttpClient,
    allocation_id: u64,
    piece: Cid,
    client: &str,
    start: i64,
    payload_size: u64,
    payload_cid: Option<Cid>,
    file_path: String,
) -> Result<DirectDealParam> {
    use market_proto::api::full_node::FullNodeClient;
    let client = address(client)?;
    let allocation = node
        .state_get_allocation(
            Json(client),
            allocation_id,
            Json(market_types::chain::TipSetKey::empty()),
        )
        .await
        .map_err(call_error)?
        .ok_or_else(|| anyhow!("{client} has no allocation {allocation_id} on chain"))?
        .0;
    if allocation.expiration < start {
        bail!(
            "allocation {allocation_id} expires at epoch {}, before the start epoch {start}: give an earlier --start-epoch",
            allocation.expiration
        );
    }
    Ok(DirectDealParam {
        payload_size,
        payload_cid: payload_cid.map(Json),
        deal_uuid: Json(Uuid::new_v4()),
        allocation_id,
        piece_cid: Json(piece),
        client: Json(client),
        start_epoch: start,
        end_epoch: start + allocation.term_min,
        file_path,
    })
}

async fn import(
    api: &jsonrpsee::http_client::HttpClient,
    params: Vec<DirectDealParam>,
    skip_commp: bool,
) -> Result<()> {
    let what = format!("droplet importing {} direct deals", params.len());
    market_daemon::progress::waiting(
        &what,
        api.import_direct_deal(DirectDealParams {
            skip_commp,
            deal_params: params,
        }),
    )
    .await
    .map_err(call_error)?;
    Ok(())
}

/// droplet's `get`: key and value lines.
fn describe(d: &DirectDeal) -> String {
    let lines = [
        ("Creation", market_types::units::rfc3339(d.created_at)),
        ("ID", d.id.0.to_string()),
        ("PieceCID", d.piece_cid.0.to_string()),
        ("PieceSize", d.piece_size.to_string()),
        ("Client", d.client.0.to_string()),
        ("Provider", d.provider.0.to_string()),
        ("AllocationID", d.allocation_id.to_string()),
        ("State", state_name(d.state)),
        ("Message", d.message.clone()),
        ("SectorID", d.sector_id.to_string()),
        ("Offset", d.offset.to_string()),
        ("Length", d.length.to_string()),
        ("PayloadSize", d.payload_size.to_string()),
        (
            "PayloadCID",
            d.payload_cid.as_ref().map(|c| c.0.to_string()).unwrap_or_default(),
        ),
        ("StartEpoch", d.start_epoch.to_string()),
        ("EndEpoch", d.end_epoch.to_string()),
    ];
    lines.iter().map(|(k, v)| format!("{k:<14}{v}\n")).collect()
}

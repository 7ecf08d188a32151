//! DataCap spent without deal proposals (direct data onboarding): `direct-deal allocate`
//! moves DataCap into the verified registry with allocation requests for a provider, one
//! message through this daemon's messager, and writes the new allocations as droplet's CSV
//! (read from the message's receipt, not from a before/after diff of the chain as droplet
//! does, which another message could race); `datacap list-allocation|list-claim` show the
//! registry's tables; `datacap extend` lengthens claims' terms.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use jsonrpsee::http_client::HttpClient;
use market_proto::Json;
use market_proto::api::direct_deal::{DirectDealParam, DirectDealParams, MarketDirectDealsClient};
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market_client::MarketClientClient;
use market_proto::client::call_error;
use market_types::actors::{
    AllocationRequest, AllocationRequests, AllocationsResponse, BatchReturn, ClaimTerm, DATACAP_TOKEN_PRECISION,
    ExtendClaimTermsParams, MAXIMUM_VERIFIED_ALLOCATION_TERM, TransferParams, TransferReturn, datacap_method,
    verifreg_method,
};
use market_types::chain::{Message, TipSetKey};
use market_types::units::UnpaddedPieceSize;
use market_types::{Address, BigInt, Bytes, Cid, TokenAmount, cbor};

/// The verified registry (f06) and the DataCap actor (f07).
const VERIFREG: u64 = 6;
const DATACAP: u64 = 7;

#[derive(Debug, clap::Subcommand)]
pub enum DirectDealCommand {
    /// Allocate DataCap to a provider for pieces (from a manifest): the provider then
    /// imports them as direct deals and its sealer claims the allocations.
    Allocate(Box<AllocateArgs>),
}

#[derive(Debug, clap::Args)]
pub struct AllocateArgs {
    /// The provider the allocations are for.
    #[arg(long, short = 'm')]
    miner: String,
    /// The wallet whose DataCap is spent (default: the daemon's --addr).
    #[arg(long)]
    wallet: Option<String>,
    /// The shortest term the provider must keep the data (epochs).
    #[arg(long = "term-min", visible_alias = "tmin", default_value_t = 518_400)]
    term_min: i64,
    /// The longest term the provider may keep the data for the DataCap (epochs).
    #[arg(long = "term-max", visible_alias = "tmax", default_value_t = 5_256_000)]
    term_max: i64,
    /// Epochs from now within which the provider must claim the allocations.
    #[arg(long, default_value_t = 172_800)]
    expiration: i64,
    /// The pieces: a manifest (`data split`'s, or droplet's 4-column form).
    #[arg(long, conflicts_with = "piece_info")]
    manifest: Option<PathBuf>,
    /// A piece as `pieceCid=pieceSize=payloadCid=payloadSize` (repeatable).
    #[arg(long = "piece-info", hide = true)]
    piece_info: Vec<String>,
    /// The sizes given are padded piece sizes.
    #[arg(long)]
    piece_size_padded: bool,
    /// Print only the allocation IDs.
    #[arg(long)]
    quiet: bool,
    /// Where to write the allocations (droplet's CSV, for `droplet storage direct-deal
    /// import-deals --allocation-file`).
    #[arg(long, default_value = "allocation.csv")]
    output_allocation_to_file: PathBuf,
    /// The provider's droplet API (a multiaddr or URL): the allocations are imported there as
    /// direct deals once made (`ImportDirectDeal`).
    #[arg(long)]
    droplet_url: Option<String>,
    /// The token for --droplet-url (write permission).
    #[arg(long, requires = "droplet_url")]
    droplet_token: Option<String>,
    /// The direct deals' start epoch for --droplet-url (default: 30 days after the head, as
    /// droplet's); each ends a minimum term later.
    #[arg(long, requires = "droplet_url")]
    start_epoch: Option<i64>,
}

#[derive(Debug, clap::Subcommand)]
pub enum DatacapCommand {
    /// A client's allocations not yet claimed.
    ListAllocation {
        client: String,
        /// Only those for this provider.
        #[arg(long)]
        provider: Option<String>,
    },
    /// A provider's claims.
    ListClaim {
        provider: String,
        /// Only those of this client.
        #[arg(long)]
        client: Option<String>,
    },
    /// Lengthen the maximum term of claims this wallet made (ExtendClaimTerms).
    Extend {
        /// The provider holding the claims.
        provider: String,
        /// The new maximum term (epochs from the claim's start; at most five years).
        #[arg(long)]
        max_term: i64,
        /// The claims to extend.
        #[arg(long = "claimId")]
        claim_ids: Vec<u64>,
        /// Every claim of this wallet at the provider that can be extended.
        #[arg(long, conflicts_with = "claim_ids")]
        auto: bool,
        /// With --auto, only claims ending within this many epochs.
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        expiration_cutoff: i64,
        /// Claims per message.
        #[arg(long, default_value_t = 300)]
        max_claims: usize,
        /// The claims' client wallet (default: the daemon's --addr).
        #[arg(long)]
        from: Option<String>,
    },
}

/// A piece to allocate for.
#[derive(Debug, Clone)]
struct Piece {
    piece: Cid,
    /// Padded.
    size: u64,
    payload: Option<Cid>,
    payload_size: u64,
}

fn parse_addr(s: &str) -> Result<Address> {
    market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"))
}

fn tsk() -> Json<TipSetKey> {
    Json(TipSetKey::empty())
}

fn pieces_of(a: &AllocateArgs) -> Result<Vec<Piece>> {
    let padded = |size: u64| -> Result<u64> {
        if a.piece_size_padded {
            Ok(size)
        } else {
            let u = UnpaddedPieceSize(size);
            u.validate().map_err(|e| anyhow!("piece size {size}: {}", e.0))?;
            Ok(u.padded().0)
        }
    };
    if let Some(m) = &a.manifest {
        let rows = piece_store::split::manifest::load(m)?;
        return rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let piece = r
                    .piece_cid
                    .ok_or_else(|| anyhow!("{} row {i} has no piece CID", m.display()))?;
                Ok(Piece {
                    piece,
                    size: padded(r.piece_size)?,
                    payload: Some(r.payload_cid),
                    payload_size: r.payload_size,
                })
            })
            .collect();
    }
    a.piece_info
        .iter()
        .map(|s| {
            let parts: Vec<&str> = s.split('=').collect();
            let [piece, size, payload, payload_size] = parts[..] else {
                bail!("--piece-info {s:?}: write it as pieceCid=pieceSize=payloadCid=payloadSize");
            };
            Ok(Piece {
                piece: piece
                    .parse()
                    .map_err(|e| anyhow!("--piece-info piece CID {piece:?}: {e}"))?,
                size: padded(size.parse().map_err(|e| anyhow!("--piece-info size {size:?}: {e}"))?)?,
                payload: Some(
                    payload
                        .parse()
                        .map_err(|e| anyhow!("--piece-info payload CID {payload:?}: {e}"))?,
                ),
                payload_size: payload_size
                    .parse()
                    .map_err(|e| anyhow!("--piece-info payload size {payload_size:?}: {e}"))?,
            })
        })
        .collect()
}

/// `ImportDirectDeal` at a provider's droplet, commP not checked again (as droplet's).
async fn import_at(url: &str, token: &str, deals: Vec<DirectDealParam>) -> Result<()> {
    let info = market_proto::api_info::ApiInfo {
        token: token.to_string(),
        addr: url.to_string(),
    };
    let droplet = market_proto::client::http(&info, "v1", std::time::Duration::from_secs(300))
        .map_err(|e| anyhow!("--droplet-url {url}: {e}"))?;
    droplet
        .import_direct_deal(DirectDealParams {
            skip_commp: true,
            deal_params: deals,
        })
        .await
        .map_err(call_error)?;
    Ok(())
}

pub async fn allocate(api: &HttpClient, node: &HttpClient, a: AllocateArgs) -> Result<()> {
    let pieces = pieces_of(&a)?;
    if pieces.is_empty() {
        bail!("no pieces: give --manifest");
    }
    let miner = parse_addr(&a.miner)?;
    let wallet = match &a.wallet {
        Some(w) => parse_addr(w)?,
        None => api.default_address().await.map_err(call_error)?.0,
    };
    let provider = node.state_lookup_id(Json(miner), tsk()).await.map_err(call_error)?.0;
    let provider_id = provider.id().map_err(|_| anyhow!("{miner} has no actor ID"))?;
    let info = node.state_miner_info(Json(miner), tsk()).await.map_err(call_error)?.0;
    let total: u64 = pieces.iter().map(|p| p.size).sum();
    for p in &pieces {
        if p.size > info.sector_size {
            bail!(
                "piece {} ({} bytes padded) is larger than {miner}'s sectors ({})",
                p.piece,
                p.size,
                info.sector_size
            );
        }
    }
    let datacap = node
        .state_verified_client_status(Json(wallet), tsk())
        .await
        .map_err(call_error)?
        .map(|b| b.0)
        .unwrap_or_default();
    if datacap < BigInt::from(total) {
        bail!("{wallet} has {datacap} bytes of DataCap; the pieces need {total}");
    }
    let head = node.chain_head().await.map_err(call_error)?.0.height();
    // The import's start is checked before any DataCap is spent: an allocation must still be
    // claimable at the deal's start.
    let start = a.start_epoch.unwrap_or(head + 30 * market_types::units::EPOCHS_IN_DAY);
    if a.droplet_url.is_some() && head + a.expiration < start {
        bail!(
            "the allocations expire at epoch {}, before the direct deals' start epoch {start}: \
             give an earlier --start-epoch or a longer --expiration",
            head + a.expiration
        );
    }
    let requests = AllocationRequests {
        allocations: pieces
            .iter()
            .map(|p| AllocationRequest {
                provider: provider_id,
                data: p.piece,
                size: p.size,
                term_min: a.term_min,
                term_max: a.term_max,
                expiration: head + a.expiration,
            })
            .collect(),
        extensions: Vec::new(),
    };
    let params = TransferParams {
        to: Address::new_id(VERIFREG),
        amount: TokenAmount::from_atto(BigInt::from(total) * BigInt::from(DATACAP_TOKEN_PRECISION)),
        operator_data: Bytes(cbor::to_vec(&requests)),
    };
    let msg = Message::to_send(
        wallet,
        Address::new_id(DATACAP),
        datacap_method::TRANSFER_EXPORTED,
        cbor::to_vec(&params),
        TokenAmount::default(),
    );
    let id = api.messager_push_message(Json(msg), None).await.map_err(call_error)?.0;
    if !a.quiet {
        println!("submitted data cap allocation message: {id}");
        println!("waiting for message to be included in a block");
    }
    let lookup = api.messager_wait_message(Json(id), 1).await.map_err(call_error)?.0;
    if lookup.receipt.exit_code != 0 {
        bail!(
            "the allocation message failed with exit code {}: nothing was allocated",
            lookup.receipt.exit_code
        );
    }
    let ret: TransferReturn =
        cbor::from_slice(&lookup.receipt.return_data.0).context("the DataCap transfer's return")?;
    let resp: AllocationsResponse =
        cbor::from_slice(&ret.recipient_data.0).context("the verified registry's answer")?;
    if resp.new_allocations.len() != pieces.len() {
        bail!(
            "the registry made {} allocations for {} pieces",
            resp.new_allocations.len(),
            pieces.len()
        );
    }
    let client = node.state_lookup_id(Json(wallet), tsk()).await.map_err(call_error)?.0;
    let mut rows: Vec<(u64, &Piece)> = resp.new_allocations.iter().copied().zip(&pieces).collect();
    rows.sort_by_key(|(id, _)| *id);
    let mut csv = String::from("AllocationID,PieceCID,Client,PayloadSize,PayloadCID\n");
    for (id, p) in &rows {
        let payload = p.payload.map(|c| c.to_string()).unwrap_or_default();
        csv.push_str(&format!("{id},{},{client},{},{payload}\n", p.piece, p.payload_size));
    }
    std::fs::write(&a.output_allocation_to_file, csv)
        .with_context(|| format!("writing {}", a.output_allocation_to_file.display()))?;
    if let Some(url) = &a.droplet_url {
        let deals = rows
            .iter()
            .map(|(id, p)| DirectDealParam {
                payload_size: p.payload_size,
                payload_cid: p.payload.map(Json),
                deal_uuid: Json(market_types::Uuid::new_v4()),
                allocation_id: *id,
                piece_cid: Json(p.piece),
                client: Json(client),
                start_epoch: start,
                end_epoch: start + a.term_min,
                file_path: String::new(),
            })
            .collect();
        import_at(url, a.droplet_token.as_deref().unwrap_or_default(), deals)
            .await
            .with_context(|| {
                format!(
                    "the allocations are made and written to {}, but importing them into {url} failed; \
                     import them with `droplet storage direct-deal import-deals --allocation-file`",
                    a.output_allocation_to_file.display()
                )
            })?;
        if !a.quiet {
            println!("{} direct deals imported into {url}", rows.len());
        }
    }
    if a.quiet {
        for (id, _) in &rows {
            println!("{id}");
        }
        return Ok(());
    }
    let mut table = vec![
        [
            "AllocationID",
            "Client",
            "Miner",
            "PieceCid",
            "PieceSize",
            "TermMin",
            "TermMax",
            "Expiration",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (id, p) in &rows {
        table.push(vec![
            id.to_string(),
            client.to_string(),
            provider.to_string(),
            p.piece.to_string(),
            p.size.to_string(),
            a.term_min.to_string(),
            a.term_max.to_string(),
            (head + a.expiration).to_string(),
        ]);
    }
    print!("{}", market_daemon::cli::table(&table));
    println!("allocations written to {}", a.output_allocation_to_file.display());
    Ok(())
}

pub async fn run(api: &HttpClient, node: &HttpClient, cmd: DatacapCommand) -> Result<()> {
    match cmd {
        DatacapCommand::ListAllocation { client, provider } => {
            let client = parse_addr(&client)?;
            let provider = actor_id(node, provider.as_deref()).await?;
            let all = node
                .state_get_allocations(Json(client), tsk())
                .await
                .map_err(call_error)?;
            let mut rows: Vec<_> = all
                .into_iter()
                .filter_map(|(id, a)| Some((id.parse::<u64>().ok()?, a.0)))
                .filter(|(_, a)| provider.is_none_or(|p| p == a.provider))
                .collect();
            rows.sort_by_key(|(id, _)| *id);
            let mut table = vec![
                [
                    "AllocationID",
                    "Client",
                    "Provider",
                    "Expiration",
                    "Size",
                    "TermMin",
                    "TermMax",
                    "Data",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for (id, a) in rows {
                table.push(vec![
                    id.to_string(),
                    Address::new_id(a.client).to_string(),
                    Address::new_id(a.provider).to_string(),
                    a.expiration.to_string(),
                    a.size.to_string(),
                    a.term_min.to_string(),
                    a.term_max.to_string(),
                    a.data.to_string(),
                ]);
            }
            print!("{}", market_daemon::cli::table(&table));
        }
        DatacapCommand::ListClaim { provider, client } => {
            let provider = parse_addr(&provider)?;
            let client = actor_id(node, client.as_deref()).await?;
            let mut rows = claims(node, provider).await?;
            rows.retain(|(_, c)| client.is_none_or(|cl| cl == c.client));
            let mut table = vec![
                [
                    "ClaimID",
                    "Provider",
                    "Client",
                    "Expiration",
                    "Size",
                    "TermMin",
                    "TermMax",
                    "TermStart",
                    "Sector",
                    "Data",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for (id, c) in rows {
                table.push(vec![
                    id.to_string(),
                    Address::new_id(c.provider).to_string(),
                    Address::new_id(c.client).to_string(),
                    (c.term_start + c.term_max).to_string(),
                    c.size.to_string(),
                    c.term_min.to_string(),
                    c.term_max.to_string(),
                    c.term_start.to_string(),
                    c.sector.to_string(),
                    c.data.to_string(),
                ]);
            }
            print!("{}", market_daemon::cli::table(&table));
        }
        DatacapCommand::Extend {
            provider,
            max_term,
            claim_ids,
            auto,
            expiration_cutoff,
            max_claims,
            from,
        } => {
            extend(
                api,
                node,
                &provider,
                max_term,
                claim_ids,
                auto,
                expiration_cutoff,
                max_claims,
                from,
            )
            .await?;
        }
    }
    Ok(())
}

/// The actor ID of an optional address given on the command line.
async fn actor_id(node: &HttpClient, addr: Option<&str>) -> Result<Option<u64>> {
    let Some(a) = addr else { return Ok(None) };
    let id = node
        .state_lookup_id(Json(parse_addr(a)?), tsk())
        .await
        .map_err(call_error)?
        .0;
    id.id().map(Some).map_err(|_| anyhow!("{a} has no actor ID"))
}

async fn claims(node: &HttpClient, provider: Address) -> Result<Vec<(u64, market_types::actors::Claim)>> {
    let all = node.state_get_claims(Json(provider), tsk()).await.map_err(call_error)?;
    let mut rows: Vec<_> = all
        .into_iter()
        .filter_map(|(id, c)| Some((id.parse::<u64>().ok()?, c.0)))
        .collect();
    rows.sort_by_key(|(id, _)| *id);
    Ok(rows)
}

#[allow(clippy::too_many_arguments)]
async fn extend(
    api: &HttpClient,
    node: &HttpClient,
    provider: &str,
    max_term: i64,
    claim_ids: Vec<u64>,
    auto: bool,
    expiration_cutoff: i64,
    max_claims: usize,
    from: Option<String>,
) -> Result<()> {
    if max_term > MAXIMUM_VERIFIED_ALLOCATION_TERM {
        bail!("--max-term {max_term} is over the five-year maximum of {MAXIMUM_VERIFIED_ALLOCATION_TERM} epochs");
    }
    if !auto && claim_ids.is_empty() {
        bail!("give --claimId (repeatable) or --auto");
    }
    let provider = parse_addr(provider)?;
    let Ok(provider_id) = provider.id() else {
        bail!("give the provider as an ID address (f0…), not {provider}");
    };
    let from = match from {
        Some(f) => parse_addr(&f)?,
        None => api.default_address().await.map_err(call_error)?.0,
    };
    let client_id = node
        .state_lookup_id(Json(from), tsk())
        .await
        .map_err(call_error)?
        .0
        .id()
        .map_err(|_| anyhow!("{from} has no actor ID"))?;
    let head = node.chain_head().await.map_err(call_error)?.0.height();
    let all = claims(node, provider).await?;
    let mut terms = Vec::new();
    for (id, c) in &all {
        if !auto && !claim_ids.contains(id) {
            continue;
        }
        let why_not = if c.client != client_id {
            Some(format!("client f0{} is not {from}", c.client))
        } else if c.term_max >= max_term {
            Some(format!("its term max {} is not below {max_term}", c.term_max))
        } else if c.term_start + c.term_max <= head {
            Some("it has ended".into())
        } else if auto && expiration_cutoff >= 0 && c.term_start + c.term_max - head > expiration_cutoff {
            Some("it ends after the cutoff".into())
        } else {
            None
        };
        match why_not {
            Some(why) if !auto => println!("claim {id} skipped: {why}"),
            Some(_) => {}
            None => terms.push(ClaimTerm {
                provider: provider_id,
                claim_id: *id,
                term_max: max_term,
            }),
        }
    }
    for id in &claim_ids {
        if !all.iter().any(|(c, _)| c == id) {
            println!("claim {id} skipped: {provider} has no such claim");
        }
    }
    if terms.is_empty() {
        println!("no claim need extend");
        return Ok(());
    }
    for chunk in terms.chunks(max_claims.max(1)) {
        let params = ExtendClaimTermsParams { terms: chunk.to_vec() };
        let msg = Message::to_send(
            from,
            Address::new_id(VERIFREG),
            verifreg_method::EXTEND_CLAIM_TERMS,
            cbor::to_vec(&params),
            TokenAmount::default(),
        );
        let id = api.messager_push_message(Json(msg), None).await.map_err(call_error)?.0;
        println!("wait message: {id}");
        let lookup = api.messager_wait_message(Json(id), 1).await.map_err(call_error)?.0;
        if lookup.receipt.exit_code != 0 {
            bail!("ExtendClaimTerms failed with exit code {}", lookup.receipt.exit_code);
        }
        let ret: BatchReturn = cbor::from_slice(&lookup.receipt.return_data.0).context("ExtendClaimTerms' return")?;
        println!("{} claims extended to term max {max_term}", ret.success_count);
        if !ret.fail_codes.is_empty() {
            let mut table = vec![vec!["ClaimID".to_string(), "ErrorCode".to_string()]];
            for f in &ret.fail_codes {
                let claim = chunk
                    .get(f.idx as usize)
                    .map_or_else(|| "?".into(), |t| t.claim_id.to_string());
                table.push(vec![claim, f.code.to_string()]);
            }
            print!("{}", market_daemon::cli::table(&table));
        }
    }
    Ok(())
}

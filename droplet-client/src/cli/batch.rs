//! `droplet-client storage deals batch`: an offline deal per manifest row, spread over the
//! given miners (round-robin, or within the FIL+ rules with `--filter`), proposed one row at a
//! time through `ClientBatchDeal` so that each deal is stored before it is sent and each
//! row's result shows as it comes. Rows whose piece already has a live deal from this wallet
//! with one of the miners are skipped, so a batch stopped half way is finished by running it
//! again.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use jsonrpsee::http_client::HttpClient;
use market_fsm::storage::distribution::{ClientShare, FilPlusRules, ProviderShare};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market::MinerOrCommon;
use market_proto::api::market_client::{DataRef, DealDistribution, MarketClientClient, StartDealParams};
use market_proto::client::call_error;
use market_types::chain::TipSetKey;
use market_types::states::StorageDealStatus as S;
use market_types::units::{PaddedPieceSize, UnpaddedPieceSize};
use market_types::{Address, Cid};
use piece_store::split::manifest;

/// The shortest deal the market actor takes (`DealDurationBounds` minimum, 180 days).
const MIN_DURATION: u64 = 518_400;

#[derive(Debug, clap::Args)]
pub struct BatchArgs {
    /// Price per GiB per epoch: must be 0 (batch deals are verified or free).
    price: String,
    /// Duration in epochs, or "180 days".
    duration: String,
    /// A miner to propose to (repeat for several).
    #[arg(long = "miner", required = true)]
    miners: Vec<String>,
    /// The manifest: graphsplit's (`data split`), or droplet's 4-column form.
    #[arg(long)]
    manifest: PathBuf,
    /// The paying wallet (default: the daemon's --addr).
    #[arg(long)]
    from: Option<String>,
    /// The start epoch (default: eight days after the head).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    start_epoch: i64,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    fast_retrieval: bool,
    /// Verified (FIL+) deals; default: whether the wallet has DataCap.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    verified_deal: Option<bool>,
    /// Provider collateral in FIL (default: the chain minimum plus 20 %).
    #[arg(long)]
    provider_collateral: Option<String>,
    /// The first manifest row (0-based, header not counted).
    #[arg(long, default_value_t = 0)]
    start_index: usize,
    /// The row to stop before (0: the end).
    #[arg(long, default_value_t = 0)]
    end_index: usize,
    /// Choose each row's miner within the FIL+ rules (20% duplication per provider, 25% of
    /// the client's verified data per provider) instead of round-robin.
    #[arg(long)]
    filter: bool,
}

/// What a run did, for the summary line.
#[derive(Debug, Default)]
struct Tally {
    proposed: BTreeMap<Address, usize>,
    skipped: usize,
    failed: usize,
}

pub async fn run(api: &HttpClient, node: &HttpClient, a: BatchArgs) -> Result<()> {
    let price = market_types::units::parse_fil(&a.price).map_err(|e| anyhow!("price: {e}"))?;
    if !price.is_zero() {
        bail!("you must provide a 'price' of 0: batch deals are offline deals for free (verified) storage");
    }
    let duration = market_types::units::parse_epochs(&a.duration).map_err(|e| anyhow!("duration: {e}"))?;
    let duration = u64::try_from(duration).map_err(|_| anyhow!("duration {duration} is negative"))?;
    if duration < MIN_DURATION {
        bail!("duration {duration} is shorter than the market's minimum of {MIN_DURATION} epochs (180 days)");
    }
    let parse = |s: &str| market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"));
    let miners = a.miners.iter().map(|m| parse(m)).collect::<Result<Vec<_>>>()?;
    let from = match &a.from {
        Some(f) => parse(f)?,
        None => api.default_address().await.map_err(call_error)?.0,
    };
    let collateral = match &a.provider_collateral {
        Some(c) => market_types::units::parse_fil(c).map_err(|e| anyhow!("--provider-collateral: {e}"))?,
        None => Default::default(),
    };
    let rows = manifest::load(&a.manifest)?;
    let end = if a.end_index == 0 {
        rows.len()
    } else {
        a.end_index.min(rows.len())
    };
    if a.start_index >= end {
        bail!(
            "no rows between --start-index {} and {end} ({} rows in the manifest)",
            a.start_index,
            rows.len()
        );
    }

    let tsk = || Json(TipSetKey::empty());
    let datacap = node
        .state_verified_client_status(Json(from), tsk())
        .await
        .map_err(call_error)?
        .map(|b| b.0.to_string().parse::<u128>().unwrap_or(u128::MAX));
    let verified = a.verified_deal.unwrap_or(datacap.is_some());
    if verified && datacap.is_none() {
        bail!("{from} has no DataCap, so its deals cannot be verified: leave out --verified-deal");
    }
    if a.filter && !verified {
        bail!("--filter applies the FIL+ rules, which are for verified deals");
    }
    let mut datacap = datacap.unwrap_or(0);
    let mut rules = if a.filter {
        let dd = api
            .client_get_verified_deal_distribution(
                miners.iter().map(|m| MinerOrCommon(Some(*m))).collect(),
                MinerOrCommon(Some(from)),
            )
            .await
            .map_err(call_error)?;
        Some(rules_of(&dd, from))
    } else {
        None
    };

    // Pieces this wallet already has a live deal for, per miner: those rows are done.
    let mut live: HashMap<(Address, Cid), Cid> = HashMap::new();
    for d in api.client_list_deals().await.map_err(call_error)? {
        let failed = matches!(
            S::from_u64(d.state),
            Some(S::Failing | S::Rejecting | S::Error | S::ProposalRejected | S::Expired | S::Slashed)
        );
        if !failed && d.client.as_ref().is_some_and(|c| c.0 == from) {
            live.insert((d.provider.0, d.piece_cid.0), d.proposal_cid.0);
        }
    }

    let mut tally = Tally::default();
    for (i, row) in rows.iter().enumerate().take(end).skip(a.start_index) {
        let Some(piece) = row.piece_cid else {
            bail!(
                "{} row {i} has no piece CID: split the data with `droplet-client data split` (graphsplit --calc-commp)",
                a.manifest.display()
            );
        };
        if let Some((m, prop)) = miners.iter().find_map(|m| live.get(&(*m, piece)).map(|p| (m, p))) {
            println!("skip row {i}: piece {piece} is already proposed to {m} (proposal {prop})");
            tally.skipped += 1;
            continue;
        }
        let unpadded = UnpaddedPieceSize(row.piece_size);
        unpadded
            .validate()
            .map_err(|e| anyhow!("row {i}: piece size {}: {}", row.piece_size, e.0))?;
        let padded: PaddedPieceSize = unpadded.padded();
        if verified && datacap < padded.0 as u128 {
            println!("datacap {datacap} less than piece size {}", padded.0);
            break;
        }
        let miner = match &rules {
            Some(r) => match r.choose(&miners, &piece, padded.0) {
                Ok(m) => m,
                Err(refusals) => {
                    println!("select all miners failed for row {i} (piece {piece}):");
                    for r in refusals {
                        println!("  {r}");
                    }
                    summary(&tally);
                    bail!("the FIL+ rules refuse row {i} at every miner given; add miners or stop here");
                }
            },
            None => miners[i % miners.len()],
        };
        let params = StartDealParams {
            data: DataRef {
                transfer_type: "manual".into(),
                root: Json(row.payload_cid),
                piece_cid: Some(Json(piece)),
                piece_size: row.piece_size,
                raw_block_size: row.payload_size,
            },
            wallet: Json(from),
            miner: Json(miner),
            epoch_price: Json(Default::default()),
            min_blocks_duration: duration,
            provider_collateral: Json(collateral.clone()),
            deal_start_epoch: if a.start_epoch < 0 { 0 } else { a.start_epoch },
            fast_retrieval: a.fast_retrieval,
            verified_deal: verified,
            protocol: String::new(),
            http_url: String::new(),
            http_headers: Default::default(),
            transfer_size: 0,
        };
        let res = api.client_batch_deal(vec![params]).await.map_err(call_error)?;
        let Some(r) = res.results.into_iter().next() else {
            bail!("the daemon answered no result for row {i}");
        };
        match r.proposal_cid {
            Some(cid) => {
                println!("create deal success, proposal cid: {}  (row {i}, {miner})", cid.0);
                live.insert((miner, piece), cid.0);
                *tally.proposed.entry(miner).or_default() += 1;
                if verified {
                    datacap -= padded.0 as u128;
                }
                if let Some(r) = &mut rules {
                    r.add(&miner, &piece, padded.0);
                }
            }
            None => {
                println!(
                    "create deal failed, playload cid: {}, error: {}  (row {i}, {miner})",
                    row.payload_cid, r.message
                );
                tally.failed += 1;
            }
        }
    }
    summary(&tally);
    if tally.failed > 0 {
        bail!(
            "{} deals failed; run the same command again to retry them",
            tally.failed
        );
    }
    Ok(())
}

fn summary(t: &Tally) {
    let per: Vec<String> = t.proposed.iter().map(|(m, n)| format!("{m}: {n}")).collect();
    println!(
        "{} deals proposed ({}), {} skipped as already proposed, {} failed",
        t.proposed.values().sum::<usize>(),
        if per.is_empty() {
            "none".to_string()
        } else {
            per.join(", ")
        },
        t.skipped,
        t.failed
    );
}

/// The rules' inputs from `ClientGetVerifiedDealDistribution`'s answer.
fn rules_of(dd: &DealDistribution, client: Address) -> FilPlusRules {
    let share = |pd: &market_proto::api::market_client::ProviderDistribution| ProviderShare {
        total: pd.total,
        uniq: pd.uniq,
        pieces: pd.uniq_pieces.clone(),
    };
    let providers = dd
        .providers_distribution
        .iter()
        .map(|pd| (pd.provider.0, share(pd)))
        .collect();
    let client = dd
        .replicas_distribution
        .iter()
        .find(|rd| rd.client.0 == client)
        .map(|rd| ClientShare {
            total: rd.total,
            uniq: rd.uniq,
            providers: rd
                .replicas_distribution
                .iter()
                .map(|pd| (pd.provider.0, share(pd)))
                .collect(),
        })
        .unwrap_or_default();
    FilPlusRules { providers, client }
}

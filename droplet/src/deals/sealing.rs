//! Handing deals to the sealer (its pull API: `AssignDeals`, `ReleaseDeals`) and following
//! them on chain until they are active (the tracker).
//!
//! On current network versions a deal that misses its start epoch, or whose sector is
//! terminated, is removed from the market's state: the tracker classifies that as Expired or
//! Slashed from what it last knew, not as an error.

use std::sync::Arc;
use std::time::Duration;

use market_fsm::storage::provider::{Event, PieceStatus};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market::{DealInfoIncludePath, DealInfoV2, GetDealSpec, SectorId};
use market_proto::client::{DealLookupError, classify_deal_lookup};
use market_types::chain::{DealState, TipSetKey};
use market_types::states::StorageDealStatus as S;
use market_types::{Address, Uuid};

use super::record::DealRecord;
use super::runner::{DealError, DealRunner};
use super::store::DealStore;
use crate::chain::{Chain, ChainError};
use crate::direct::{DirectDeals, DirectError};
use crate::store::StoreError;

/// The deals a sealer may take: waiting for pre-commit, not yet assigned, not past their
/// start, within the spec's piece sizes and sector expiration; largest first, then earliest
/// start.
fn waiting<'a>(candidates: &'a [DealRecord], spec: &GetDealSpec, head: i64) -> Vec<&'a DealRecord> {
    let mut ds: Vec<&DealRecord> = candidates
        .iter()
        .filter(|d| d.status() == S::AwaitingPreCommit && d.deal.piece_status == PieceStatus::Undefine)
        .filter(|d| d.proposal().start_epoch > head)
        .filter(|d| {
            let size = d.proposal().piece_size.0;
            (spec.min_piece_size == 0 || size >= spec.min_piece_size)
                && (spec.max_piece_size == 0 || size <= spec.max_piece_size)
        })
        .filter(|d| spec.sector_expiration.is_none_or(|exp| d.proposal().end_epoch <= exp))
        .collect();
    ds.sort_by(|a, b| {
        let (pa, pb) = (&a.proposal(), &b.proposal());
        pb.piece_size
            .0
            .cmp(&pa.piece_size.0)
            .then(pa.start_epoch.cmp(&pb.start_epoch))
    });
    ds
}

/// Lay pieces into a sector in the order given, each at an offset aligned to its (power of
/// two) size, leaving out what no longer fits, up to `max_piece` pieces (0: no limit).
pub fn align<T>(
    items: impl IntoIterator<Item = T>,
    size: impl Fn(&T) -> u64,
    sector_size: u64,
    max_piece: u64,
) -> Vec<(T, u64)> {
    let max = if max_piece == 0 {
        usize::MAX
    } else {
        usize::try_from(max_piece).unwrap_or(usize::MAX)
    };
    let mut offset = 0u64;
    let mut out = Vec::new();
    for item in items {
        let size = size(&item);
        if size == 0 || out.len() == max {
            continue;
        }
        let aligned = offset.div_ceil(size).saturating_mul(size);
        if aligned.saturating_add(size) > sector_size {
            continue;
        }
        out.push((item, aligned));
        offset = aligned + size;
    }
    out
}

/// Pick deals for a sector from [`waiting`] ones, each at an offset aligned to its size, while
/// they fit.
pub fn pack(candidates: &[DealRecord], sector_size: u64, spec: &GetDealSpec, head: i64) -> Vec<(DealRecord, u64)> {
    align(
        waiting(candidates, spec, head).into_iter().cloned(),
        |d| d.proposal().piece_size.0,
        sector_size,
        spec.max_piece,
    )
}

/// Why a sealer call or a tracker round failed.
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error(transparent)]
    Deal(#[from] DealError),
    #[error("reading deals: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("miner {miner} has no deal with deal ID {id}")]
    NoDealId { miner: Address, id: u64 },
    #[error(transparent)]
    Direct(#[from] DirectError),
}

/// `AssignDeals`: the miner's direct deals that fit the sector, as droplet does, else its
/// deals with the market (a sector holds one kind or the other).
pub async fn assign(
    runner: &Arc<DealRunner>,
    deals: &DealStore,
    direct: &DirectDeals,
    chain: &Chain,
    sector: SectorId,
    sector_size: u64,
    spec: &GetDealSpec,
) -> Result<Vec<DealInfoV2>, SealingError> {
    let miner = Address::new_id(sector.miner);
    let head = chain.head_height().await?;
    let direct = crate::direct::sealing::assign(direct, miner, sector.number, sector_size, spec, head)?;
    if !direct.is_empty() {
        return Ok(direct);
    }
    let (head, mine) = head_and_waiting(deals, chain, miner).await?;
    let picked = pack(&mine, sector_size, spec, head);
    let mut out = Vec::new();
    for (d, offset) in picked {
        let p = d.proposal();
        runner
            .event(
                d.uuid,
                Event::Assigned {
                    sector: sector.number,
                    offset,
                },
            )
            .await?;
        out.push(DealInfoV2 {
            deal_id: d.deal.deal_id.unwrap_or(0),
            publish_cid: d.deal.publish_msg.map(Json),
            allocation_id: 0,
            piece_cid: Json(p.piece_cid),
            piece_size: p.piece_size.0,
            client: Json(p.client),
            provider: Json(p.provider),
            offset,
            length: p.piece_size.0,
            payload_size: payload_size(&d),
            start_epoch: p.start_epoch,
            end_epoch: p.end_epoch,
        });
    }
    Ok(out)
}

fn payload_size(d: &DealRecord) -> u64 {
    d.deal
        .inbound_path
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len())
}

/// The chain head and the miner's deals waiting for pre-commit (read through the state index).
async fn head_and_waiting(
    deals: &DealStore,
    chain: &Chain,
    miner: Address,
) -> Result<(i64, Vec<DealRecord>), SealingError> {
    let head = chain.head_height().await?;
    let mine = deals
        .read(|s| s.in_states(&[S::AwaitingPreCommit]))
        .await?
        .into_iter()
        .filter(|d| d.proposal().provider == miner)
        .collect();
    Ok((head, mine))
}

/// `GetUnPackedDeals` (the legacy sealer's pull): what [`waiting`] lists, up to the spec's
/// piece count and total size, without changing anything.
pub async fn unpacked(
    deals: &DealStore,
    chain: &Chain,
    miner: Address,
    spec: &GetDealSpec,
) -> Result<Vec<DealInfoIncludePath>, SealingError> {
    let (head, mine) = head_and_waiting(deals, chain, miner).await?;
    let mut total = 0u64;
    let mut out = Vec::new();
    for d in waiting(&mine, spec, head) {
        let p = d.proposal();
        if spec.max_piece != 0 && out.len() as u64 == spec.max_piece {
            break;
        }
        if spec.max_piece_size != 0 && total + p.piece_size.0 > spec.max_piece_size && !out.is_empty() {
            continue;
        }
        total += p.piece_size.0;
        out.push(DealInfoIncludePath {
            proposal: Json(p.clone()),
            offset: d.deal.offset.unwrap_or(0),
            length: p.piece_size.0,
            payload_size: payload_size(d),
            deal_id: d.deal.deal_id.unwrap_or(0),
            total_storage_fee: Json(p.total_storage_fee()),
            fast_retrieval: d.fast_retrieval,
            publish_cid: d.deal.publish_msg.map(Json),
        });
    }
    Ok(out)
}

/// The miner's deals with these on-chain deal IDs, in the order asked; an error names the
/// first ID the miner has no deal for.
pub fn by_deal_ids(deals: &DealStore, miner: Address, ids: &[u64]) -> Result<Vec<DealRecord>, SealingError> {
    ids.iter()
        .map(|&id| {
            deals
                .by_deal_id(id)?
                .filter(|d| d.proposal().provider == miner)
                .ok_or(SealingError::NoDealId { miner, id })
        })
        .collect()
}

/// `ReleaseDeals`.
pub async fn release(
    runner: &Arc<DealRunner>,
    deals: &DealStore,
    miner: Address,
    ids: &[u64],
) -> Result<(), SealingError> {
    for &id in ids {
        if let Some(d) = deals.by_deal_id(id)?
            && d.proposal().provider == miner
            && d.deal.piece_status == PieceStatus::Assigned
        {
            runner.event(d.uuid, Event::Released).await?;
        }
    }
    Ok(())
}

/// Follow deals waiting for pre-commit, sealing and active on chain, every `every`.
pub fn track(runner: Arc<DealRunner>, deals: DealStore, chain: Arc<Chain>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = track_once(&runner, &deals, &chain).await {
                tracing::warn!(error = %e, "deal tracker");
            }
        }
    });
}

/// What the chain's answer about a tracked deal means for it.
fn tracked_event(status: S, head: i64, end_epoch: i64, lookup: &Result<DealState, DealLookupError>) -> Tracked {
    match lookup {
        Ok(st) if st.slash_epoch > -1 => Tracked::Event(Event::Slashed),
        Ok(st) if st.sector_start_epoch > -1 && status != S::Active => Tracked::Event(Event::Activated),
        Ok(_) if status == S::Active && head > end_epoch => Tracked::Event(Event::Expired),
        Ok(_) if status == S::AwaitingPreCommit => Tracked::CheckPreCommit,
        Ok(_) => Tracked::Nothing,
        // Gone from state: timed out before activation, terminated, or finished.
        Err(DealLookupError::NotFound(_)) => Tracked::Event(match status {
            S::Active if head <= end_epoch => Event::Slashed,
            _ => Event::Expired,
        }),
        // The node could not say (unreachable, a missing tipset or block): nothing changes.
        Err(DealLookupError::Call(_)) => Tracked::Nothing,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Tracked {
    Event(Event),
    CheckPreCommit,
    Nothing,
}

async fn track_once(runner: &Arc<DealRunner>, deals: &DealStore, chain: &Chain) -> Result<(), SealingError> {
    let head = chain.head_height().await?;
    const TRACKED: [S; 3] = [S::AwaitingPreCommit, S::Sealing, S::Active];
    let uuids = deals.read(|s| s.uuids_in_states(&TRACKED)).await?;
    // A page of records at a time: a market with many Active deals does not hold them all in
    // memory at each pass.
    for page in uuids.chunks(TRACKER_PAGE) {
        let page = page.to_vec();
        for d in deals.read(move |s| Ok(s.load_in_states(page, &TRACKED))).await? {
            // Another droplet on a shared database tracks its own miners' deals.
            if !runner.owns(&d.proposal().provider) {
                continue;
            }
            track_deal(runner, chain, head, d).await;
        }
    }
    Ok(())
}

/// How many deal records the tracker loads at once.
const TRACKER_PAGE: usize = 256;

/// One tracked deal: its state on chain, and the event that follows from it.
async fn track_deal(runner: &Arc<DealRunner>, chain: &Chain, head: i64, d: DealRecord) {
    let tsk = || Json(TipSetKey::empty());
    let status = d.status();
    let m = &d.deal;
    let Some(deal_id) = m.deal_id else { return };
    let p = d.proposal();
    let lookup = chain
        .node
        .state_market_storage_deal(deal_id, tsk())
        .await
        .map(|on_chain| on_chain.0.state)
        .map_err(|e| classify_deal_lookup(e, deal_id));
    if let Err(DealLookupError::Call(e)) = &lookup {
        tracing::warn!(deal_id, error = %e, "deal tracker: cannot read the deal");
    }
    let event = match tracked_event(status, head, p.end_epoch, &lookup) {
        Tracked::Event(e) => Some(e),
        Tracked::CheckPreCommit if matches!(m.piece_status, PieceStatus::Assigned | PieceStatus::Packing) => {
            precommitted(chain, p.provider, m.sector, deal_id)
                .await
                .map(|sector| Event::PreCommitted { sector })
        }
        Tracked::CheckPreCommit | Tracked::Nothing => None,
    };
    if let Some(e) = event {
        tracing::info!(uuid = %d.uuid, deal_id, event = ?e, "deal tracker");
        apply(runner, d.uuid, e).await;
    }
}

async fn precommitted(chain: &Chain, miner: Address, sector: Option<u64>, deal_id: u64) -> Option<u64> {
    let sector = sector?;
    let pc = chain
        .node
        .state_sector_precommit_info(Json(miner), sector, Json(TipSetKey::empty()))
        .await
        .ok()??;
    pc.0.info.deal_ids.contains(&deal_id).then_some(sector)
}

async fn apply(runner: &Arc<DealRunner>, uuid: Uuid, e: Event) {
    if let Err(err) = runner.event(uuid, e).await {
        tracing::warn!(%uuid, error = %err, "tracker event not applied");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal(size: u64, start: i64, status: S, piece: &str) -> DealRecord {
        let piece = PieceStatus::parse(piece).expect("piece status");
        crate::deals::record::tests::record(size, start, status, piece)
    }

    #[test]
    fn only_the_node_s_deal_not_found_answer_ends_a_deal() {
        use jsonrpsee::core::client::Error;
        use jsonrpsee::types::ErrorObject;
        let answer = |msg: &str| {
            Err(classify_deal_lookup(
                Error::Call(ErrorObject::owned(1, msg.to_string(), None::<()>)),
                9,
            ))
        };
        let gone = answer(
            "deal 9 not found - deal may not have completed sealing before deal proposal start epoch, or deal may have been slashed",
        );
        assert_eq!(tracked_event(S::Active, 10, 100, &gone), Tracked::Event(Event::Slashed));
        assert_eq!(
            tracked_event(S::Active, 101, 100, &gone),
            Tracked::Event(Event::Expired)
        );
        assert_eq!(
            tracked_event(S::AwaitingPreCommit, 10, 100, &gone),
            Tracked::Event(Event::Expired)
        );
        for hiccup in [
            "loading tipset {bafy}: tipset not found",
            "failed to load message bafy: blockstore: block not found",
        ] {
            for status in [S::Active, S::Sealing, S::AwaitingPreCommit] {
                assert_eq!(
                    tracked_event(status, 10, 100, &answer(hiccup)),
                    Tracked::Nothing,
                    "{hiccup} in {status:?}"
                );
            }
        }
        let on_chain = |start: i64, slash: i64| {
            Ok(DealState {
                sector_number: 0,
                sector_start_epoch: start,
                last_updated_epoch: -1,
                slash_epoch: slash,
            })
        };
        assert_eq!(
            tracked_event(S::Sealing, 10, 100, &on_chain(5, -1)),
            Tracked::Event(Event::Activated)
        );
        assert_eq!(
            tracked_event(S::Active, 10, 100, &on_chain(5, 8)),
            Tracked::Event(Event::Slashed)
        );
        assert_eq!(
            tracked_event(S::AwaitingPreCommit, 10, 100, &on_chain(-1, -1)),
            Tracked::CheckPreCommit
        );
    }

    #[test]
    fn packing_takes_largest_first_aligned_and_only_what_fits() {
        let ds = vec![
            deal(1024, 100, S::AwaitingPreCommit, "Undefine"),
            deal(4096, 200, S::AwaitingPreCommit, "Undefine"),
            deal(2048, 100, S::AwaitingPreCommit, "Undefine"),
            deal(2048, 50, S::AwaitingPreCommit, "Assigned"),
            deal(2048, 50, S::Sealing, "Undefine"),
            deal(1024, 5, S::AwaitingPreCommit, "Undefine"),
        ];
        let picked = pack(&ds, 8192, &GetDealSpec::default(), 10);
        let got: Vec<(u64, u64)> = picked
            .iter()
            .map(|(d, off)| (d.proposal().piece_size.0, *off))
            .collect();
        assert_eq!(
            got,
            vec![(4096, 0), (2048, 4096), (1024, 6144)],
            "the deal starting at 5 has passed its start"
        );
        let limited = pack(
            &ds,
            8192,
            &GetDealSpec {
                max_piece: 1,
                ..Default::default()
            },
            10,
        );
        assert_eq!(limited.len(), 1);
        let small_sector = pack(&ds, 2048, &GetDealSpec::default(), 10);
        assert_eq!(
            small_sector
                .iter()
                .map(|(d, _)| d.proposal().piece_size.0)
                .collect::<Vec<_>>(),
            vec![2048]
        );
    }
}

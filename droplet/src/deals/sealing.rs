//! Handing deals to the sealer (its pull API: `AssignDeals`, `ReleaseDeals`) and following
//! them on chain until they are active (the tracker).
//!
//! On current network versions a deal that misses its start epoch, or whose sector is
//! terminated, is removed from the market's state: the tracker classifies that as Expired or
//! Slashed from what it last knew, not as an error.

use std::sync::Arc;
use std::time::Duration;

use market_fsm::provider::{Event, PieceStatus};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market::{DealInfoIncludePath, DealInfoV2, GetDealSpec, SectorId};
use market_types::chain::TipSetKey;
use market_types::states::StorageDealStatus as S;
use market_types::{Address, Uuid};

use super::record::{DealRecord, DealRecordExt};
use super::runner::DealRunner;
use super::store::DealStore;
use crate::chain::Chain;

/// The deals a sealer may take: waiting for pre-commit, not yet assigned, not past their
/// start, within the spec's piece sizes and sector expiration; largest first, then earliest
/// start.
fn waiting<'a>(candidates: &'a [DealRecord], spec: &GetDealSpec, head: i64) -> Vec<&'a DealRecord> {
    let mut ds: Vec<&DealRecord> = candidates
        .iter()
        .filter(|d| d.status() == S::AwaitingPreCommit && d.machine().piece_status == PieceStatus::Undefine)
        .filter(|d| d.proposal.0.proposal.start_epoch > head)
        .filter(|d| {
            let size = d.proposal.0.proposal.piece_size.0;
            (spec.min_piece_size == 0 || size >= spec.min_piece_size)
                && (spec.max_piece_size == 0 || size <= spec.max_piece_size)
        })
        .filter(|d| {
            spec.sector_expiration
                .is_none_or(|exp| d.proposal.0.proposal.end_epoch <= exp)
        })
        .collect();
    ds.sort_by(|a, b| {
        let (pa, pb) = (&a.proposal.0.proposal, &b.proposal.0.proposal);
        pb.piece_size
            .0
            .cmp(&pa.piece_size.0)
            .then(pa.start_epoch.cmp(&pb.start_epoch))
    });
    ds
}

/// Pick deals for a sector from [`waiting`] ones, each at an offset aligned to its size, while
/// they fit.
pub fn pack(candidates: &[DealRecord], sector_size: u64, spec: &GetDealSpec, head: i64) -> Vec<(DealRecord, u64)> {
    let ds = waiting(candidates, spec, head);
    let max = if spec.max_piece == 0 {
        usize::MAX
    } else {
        spec.max_piece as usize
    };
    let mut offset = 0u64;
    let mut out = Vec::new();
    for d in ds {
        let size = d.proposal.0.proposal.piece_size.0;
        let aligned = offset.div_ceil(size) * size;
        if aligned + size > sector_size || out.len() == max {
            continue;
        }
        out.push((d.clone(), aligned));
        offset = aligned + size;
    }
    out
}

/// `AssignDeals`.
pub async fn assign(
    runner: &Arc<DealRunner>,
    deals: &DealStore,
    chain: &Chain,
    sector: SectorId,
    sector_size: u64,
    spec: &GetDealSpec,
) -> Result<Vec<DealInfoV2>, String> {
    let (head, mine) = head_and_mine(deals, chain, Address::new_id(sector.miner)).await?;
    let picked = pack(&mine, sector_size, spec, head);
    let mut out = Vec::new();
    for (d, offset) in picked {
        let p = &d.proposal.0.proposal;
        runner
            .event(
                d.uuid.0,
                Event::Assigned {
                    sector: sector.number,
                    offset,
                },
            )
            .await?;
        out.push(DealInfoV2 {
            deal_id: d.deal_id,
            publish_cid: d.publish_msg.clone(),
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
    std::fs::metadata(&d.inbound_path).map_or(0, |m| m.len())
}

async fn head_and_mine(deals: &DealStore, chain: &Chain, miner: Address) -> Result<(i64, Vec<DealRecord>), String> {
    let head = chain.head_height().await.map_err(|e| e.to_string())?;
    let mine = deals
        .list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|d| d.proposal.0.proposal.provider == miner)
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
) -> Result<Vec<DealInfoIncludePath>, String> {
    let (head, mine) = head_and_mine(deals, chain, miner).await?;
    let mut total = 0u64;
    let mut out = Vec::new();
    for d in waiting(&mine, spec, head) {
        let p = &d.proposal.0.proposal;
        if spec.max_piece != 0 && out.len() as u64 == spec.max_piece {
            break;
        }
        if spec.max_piece_size != 0 && total + p.piece_size.0 > spec.max_piece_size && !out.is_empty() {
            continue;
        }
        total += p.piece_size.0;
        let m = d.machine();
        out.push(DealInfoIncludePath {
            proposal: Json(p.clone()),
            offset: m.offset.unwrap_or(0),
            length: p.piece_size.0,
            payload_size: payload_size(d),
            deal_id: d.deal_id,
            total_storage_fee: Json(p.total_storage_fee()),
            fast_retrieval: d.fast_retrieval,
            publish_cid: d.publish_msg.clone(),
        });
    }
    Ok(out)
}

/// The miner's deals with these on-chain deal IDs, in the order asked; an error names the
/// first ID the miner has no deal for.
pub fn by_deal_ids(deals: &DealStore, miner: Address, ids: &[u64]) -> Result<Vec<DealRecord>, String> {
    let mine: Vec<DealRecord> = deals
        .list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|d| d.proposal.0.proposal.provider == miner)
        .collect();
    ids.iter()
        .map(|id| {
            mine.iter()
                .find(|d| d.machine().deal_id == Some(*id))
                .cloned()
                .ok_or_else(|| format!("miner {miner} has no deal with deal ID {id}"))
        })
        .collect()
}

/// `ReleaseDeals`.
pub async fn release(runner: &Arc<DealRunner>, deals: &DealStore, miner: Address, ids: &[u64]) -> Result<(), String> {
    for d in deals.list().map_err(|e| e.to_string())? {
        let m = d.machine();
        if d.proposal.0.proposal.provider == miner
            && m.deal_id.is_some_and(|id| ids.contains(&id))
            && m.piece_status == PieceStatus::Assigned
        {
            runner.event(d.uuid.0, Event::Released).await?;
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

async fn track_once(runner: &Arc<DealRunner>, deals: &DealStore, chain: &Chain) -> Result<(), String> {
    let head = chain.head_height().await.map_err(|e| e.to_string())?;
    let tsk = || Json(TipSetKey::empty());
    for d in deals.list().map_err(|e| e.to_string())? {
        let status = d.status();
        if !matches!(status, S::AwaitingPreCommit | S::Sealing | S::Active) {
            continue;
        }
        let m = d.machine();
        let Some(deal_id) = m.deal_id else { continue };
        let p = &d.proposal.0.proposal;
        let event = match chain.node.state_market_storage_deal(deal_id, tsk()).await {
            Ok(on_chain) => {
                let st = on_chain.0.state;
                if st.slash_epoch > -1 {
                    Some(Event::Slashed)
                } else if st.sector_start_epoch > -1 && status != S::Active {
                    Some(Event::Activated)
                } else if status == S::Active && head > p.end_epoch {
                    Some(Event::Expired)
                } else if status == S::AwaitingPreCommit
                    && matches!(m.piece_status, PieceStatus::Assigned | PieceStatus::Packing)
                {
                    precommitted(chain, p.provider, m.sector, deal_id)
                        .await
                        .map(|sector| Event::PreCommitted { sector })
                } else {
                    None
                }
            }
            // Gone from state: timed out before activation, terminated, or finished. Any
            // other failure (the node unreachable, say) says nothing about the deal.
            Err(e) => {
                let e = market_proto::client::CallError::from(e).0;
                if !e.contains("not found") {
                    tracing::warn!(deal_id, error = %e, "deal tracker: cannot read the deal");
                    continue;
                }
                Some(match status {
                    S::Active if head <= p.end_epoch => Event::Slashed,
                    _ => Event::Expired,
                })
            }
        };
        if let Some(e) = event {
            tracing::info!(uuid = %d.uuid.0, deal_id, event = ?e, "deal tracker");
            apply(runner, d.uuid.0, e).await;
        }
    }
    Ok(())
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
        let raw = format!(
            r#"{{"DealUUID":"{}","ProposalCid":{{"/":"bafy2bzaceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}},
            "ClientDealProposal":{{"Proposal":{{"PieceCID":{{"/":"baga6ea4seaqhagmu63kq7jsfkzqmkdm2jsop7vmfe5rjbs6ba2jtzopcizssanq"}},"PieceSize":{size},"VerifiedDeal":false,"Client":"t01001","Provider":"t01000","Label":"","StartEpoch":{start},"EndEpoch":{},"StoragePricePerEpoch":"0","ProviderCollateral":"0","ClientCollateral":"0"}},"ClientSignature":{{"Type":1,"Data":""}}}},
            "Client":"","IsOffline":true,"Transfer":{{"Size":0,"Type":"","Params":"","ClientID":""}},"PayloadCID":{{"/":"bafy2bzaceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}},
            "FastRetrieval":true,"State":{},"StateName":"","Message":"","PieceStatus":"{piece}","FundsReserved":"0","AddFundsCid":null,"PublishCid":null,
            "DealID":1,"SectorNumber":0,"Offset":0,"InboundCAR":"","NBytesReceived":0,"CreatedAt":0,"UpdatedAt":0}}"#,
            Uuid::new_v4(),
            start + 600_000,
            status.code()
        );
        serde_json::from_str(&raw).expect("record")
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
            .map(|(d, off)| (d.proposal.0.proposal.piece_size.0, *off))
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
                .map(|(d, _)| d.proposal.0.proposal.piece_size.0)
                .collect::<Vec<_>>(),
            vec![2048]
        );
    }
}

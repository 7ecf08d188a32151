//! Handing direct deals to the sealer: `AssignDeals` gives a sector the miner's direct deals
//! that fit it, each with its allocation (the sealer claims it when it proves the sector);
//! `ReleaseDirectDeals` takes them back when the sector fails.

use market_fsm::storage::direct::DirectDealState as D;
use market_proto::api::direct_deal::DirectDeal;
use market_proto::api::market::{DealInfoV2, GetDealSpec};
use market_types::Address;

use super::{DirectDeals, DirectError};
use crate::deals::sealing::align;

/// The deals a sealer may take: the miner's, waiting for a sector, not past their start,
/// within the spec's piece sizes and sector expiration; largest first, then earliest start.
fn waiting(candidates: Vec<DirectDeal>, miner: Address, spec: &GetDealSpec, head: i64) -> Vec<DirectDeal> {
    let mut ds: Vec<DirectDeal> = candidates
        .into_iter()
        .filter(|d| d.state == D::Allocated.code() && d.provider.0 == miner)
        .filter(|d| d.start_epoch > head)
        .filter(|d| {
            (spec.min_piece_size == 0 || d.piece_size >= spec.min_piece_size)
                && (spec.max_piece_size == 0 || d.piece_size <= spec.max_piece_size)
        })
        .filter(|d| spec.sector_expiration.is_none_or(|exp| d.end_epoch <= exp))
        .collect();
    ds.sort_by(|a, b| {
        b.piece_size
            .cmp(&a.piece_size)
            .then(a.start_epoch.cmp(&b.start_epoch))
            .then(a.allocation_id.cmp(&b.allocation_id))
    });
    ds
}

/// What the sealer is told of a direct deal: its allocation, no deal ID.
pub fn deal_info(d: &DirectDeal) -> DealInfoV2 {
    DealInfoV2 {
        deal_id: 0,
        publish_cid: None,
        allocation_id: d.allocation_id,
        piece_cid: d.piece_cid.clone(),
        piece_size: d.piece_size,
        client: d.client.clone(),
        provider: d.provider.clone(),
        offset: d.offset,
        length: d.piece_size,
        payload_size: d.payload_size,
        start_epoch: d.start_epoch,
        end_epoch: d.end_epoch,
    }
}

/// Assign the miner's waiting direct deals that fit to sector `number`: each is stored in
/// state Sealing with its sector and offset (all in one write) before the sealer hears of it.
pub fn assign(
    deals: &DirectDeals,
    miner: Address,
    number: u64,
    sector_size: u64,
    spec: &GetDealSpec,
    head: i64,
) -> Result<Vec<DealInfoV2>, DirectError> {
    deals.update(|me| {
        let candidates = waiting(me.in_states(&[D::Allocated])?, miner, spec, head);
        let picked = align(candidates, |d| d.piece_size, sector_size, spec.max_piece);
        let mut changed = Vec::with_capacity(picked.len());
        let mut infos = Vec::with_capacity(picked.len());
        for (mut d, offset) in picked {
            d.state = D::Sealing.code();
            d.sector_id = number;
            d.offset = offset;
            d.length = d.piece_size;
            infos.push(deal_info(&d));
            tracing::info!(
                allocation = d.allocation_id,
                sector = number,
                offset,
                "direct deal assigned"
            );
            changed.push(d);
        }
        Ok((changed, infos))
    })
}

/// `ReleaseDirectDeals`: the miner's deals of these allocations, being sealed, wait for a
/// sector again. One that expired meanwhile is left as it is; any other state, an unknown
/// allocation or another miner's deal refuses the whole call, changing nothing.
pub fn release(deals: &DirectDeals, miner: Address, allocations: &[u64]) -> Result<(), DirectError> {
    deals.update(|me| {
        let mut changed = Vec::new();
        for &allocation in allocations {
            let mut d = me
                .by_allocation(allocation)?
                .ok_or(DirectError::NoAllocation(allocation))?;
            if d.provider.0 != miner {
                return Err(DirectError::OtherMiner {
                    allocation,
                    provider: d.provider.0.to_string(),
                    miner: miner.to_string(),
                });
            }
            match D::from_code(d.state) {
                Some(D::Sealing) => {
                    d.state = D::Allocated.code();
                    d.sector_id = 0;
                    d.offset = 0;
                    d.length = 0;
                    tracing::info!(allocation, "direct deal released by the sealer");
                    changed.push(d);
                }
                Some(D::Expired) => {}
                _ => {
                    return Err(DirectError::NotSealing {
                        allocation,
                        state: d.state,
                    });
                }
            }
        }
        Ok((changed, ()))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use market_daemon::store::Store;
    use market_proto::Json;
    use market_types::{Cid, Uuid};

    use super::*;

    fn deal(allocation: u64, size: u64, start: i64, miner: u64) -> DirectDeal {
        let piece: Cid = "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"
            .parse()
            .expect("cid");
        DirectDeal {
            id: Json(Uuid::new_v4()),
            piece_cid: Json(piece),
            piece_size: size,
            client: Json(Address::new_id(1100)),
            provider: Json(Address::new_id(miner)),
            payload_size: size / 2,
            payload_cid: None,
            state: D::Allocated.code(),
            allocation_id: allocation,
            claim_id: 0,
            sector_id: 0,
            offset: 0,
            length: 0,
            start_epoch: start,
            end_epoch: start + 518_400,
            message: String::new(),
            created_at: 1,
            updated_at: 1,
        }
    }

    fn table(ds: &[DirectDeal]) -> (tempfile::TempDir, DirectDeals) {
        let dir = tempfile::tempdir().expect("tmp");
        let deals = DirectDeals::new(Arc::new(Store::open(&dir.path().join("db")).expect("store")));
        for d in ds {
            deals.insert(d).expect("insert");
        }
        (dir, deals)
    }

    #[test]
    fn a_sector_takes_the_miner_s_waiting_deals_largest_first_and_release_gives_them_back() {
        let miner = Address::new_id(1000);
        let (_dir, deals) = table(&[
            deal(1, 1024, 100, 1000),
            deal(2, 4096, 200, 1000),
            deal(3, 2048, 100, 1000),
            deal(4, 2048, 100, 1001),
            deal(5, 1024, 5, 1000),
        ]);
        let got = assign(&deals, miner, 7, 8192, &GetDealSpec::default(), 10).expect("assign");
        let laid: Vec<(u64, u64, u64)> = got.iter().map(|d| (d.allocation_id, d.offset, d.deal_id)).collect();
        assert_eq!(
            laid,
            vec![(2, 0, 0), (3, 4096, 0), (1, 6144, 0)],
            "another miner's deal and one past its start stay"
        );
        let d = deals.by_allocation(3).expect("read").expect("deal");
        assert_eq!((d.state, d.sector_id, d.offset, d.length), (2, 7, 4096, 2048));
        assert!(
            assign(&deals, miner, 8, 8192, &GetDealSpec::default(), 10)
                .expect("assign")
                .is_empty(),
            "assigned deals are not handed out twice"
        );

        // Released: waiting again, without a sector. Another miner's or a waiting deal is refused.
        assert!(matches!(
            release(&deals, Address::new_id(1001), &[2]),
            Err(DirectError::OtherMiner { allocation: 2, .. })
        ));
        assert!(matches!(
            release(&deals, miner, &[2, 5]),
            Err(DirectError::NotSealing {
                allocation: 5,
                state: 1
            })
        ));
        assert_eq!(
            deals.by_allocation(2).expect("read").expect("deal").state,
            2,
            "nothing changed"
        );
        assert!(matches!(
            release(&deals, miner, &[9]),
            Err(DirectError::NoAllocation(9))
        ));
        deals
            .set_state(&deals.by_allocation(1).expect("read").expect("deal").id.0, D::Expired)
            .expect("set");
        release(&deals, miner, &[2, 3, 1]).expect("release");
        let d = deals.by_allocation(3).expect("read").expect("deal");
        assert_eq!((d.state, d.sector_id, d.offset, d.length), (1, 0, 0, 0));
        assert_eq!(
            deals.by_allocation(1).expect("read").expect("deal").state,
            4,
            "the expired one is left"
        );
        let again = assign(
            &deals,
            miner,
            9,
            4096,
            &GetDealSpec {
                max_piece: 1,
                ..Default::default()
            },
            10,
        )
        .expect("assign");
        assert_eq!(again.iter().map(|d| d.allocation_id).collect::<Vec<_>>(), vec![2]);
    }
}

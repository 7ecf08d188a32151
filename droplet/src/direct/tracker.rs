//! Following direct deals on chain: a deal waiting for or in a sector becomes Active when its
//! allocation is claimed (the claim's sector recorded); one still unclaimed after its start
//! epoch, or whose allocation is gone unclaimed, expires; an Active deal ends when its claim's
//! term does (droplet calls that "slashed"). The decisions are market-fsm's
//! ([`market_fsm::storage::direct::follow`]); this reads the chain and stores the outcome.
//! Unlike droplet, which checks terms once a day, every state is checked each round.

use std::sync::Arc;
use std::time::Duration;

use market_fsm::storage::direct::{DirectDealState as D, OnChain, follow};
use market_proto::Json;
use market_proto::api::direct_deal::DirectDeal;
use market_proto::api::full_node::FullNodeClient;
use market_types::actors::Claim;
use market_types::chain::TipSetKey;

use super::{DirectDeals, DirectError};
use crate::chain::{Chain, ChainError};

/// Why a round stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error(transparent)]
    Direct(#[from] DirectError),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// Follow direct deals every `every` (the first round at once).
pub fn track(deals: DirectDeals, chain: Arc<Chain>, leases: Arc<crate::lease::Leases>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match track_once(&deals, &chain, &leases).await {
                Ok(n) if n > 0 => tracing::info!(changed = n, "direct deal tracker"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "direct deal tracker"),
            }
        }
    });
}

/// What the chain says of a deal's allocation, and its claim when there is one.
async fn read_chain(chain: &Chain, d: &DirectDeal) -> Result<(OnChain, Option<Claim>), jsonrpsee::core::client::Error> {
    let tsk = || Json(TipSetKey::empty());
    // The allocation first, then the claim: a claim made between the two reads is seen.
    if d.state != D::Active.code()
        && chain
            .node
            .state_get_allocation(d.client.clone(), d.allocation_id, tsk())
            .await?
            .is_some()
    {
        return Ok((OnChain::Allocated, None));
    }
    let claim = chain
        .node
        .state_get_claim(d.provider.clone(), d.allocation_id, tsk())
        .await?
        .map(|c| c.0)
        // The claim of an allocation carries its ID; one of other data is not this deal's.
        .filter(|c| c.data == d.piece_cid.0);
    Ok(match claim {
        Some(c) => (
            OnChain::Claimed {
                term_start: c.term_start,
                term_max: c.term_max,
            },
            Some(c),
        ),
        None => (OnChain::Gone, None),
    })
}

/// Why a deal moved, for its message.
fn why(to: D, d: &DirectDeal, chain: OnChain) -> String {
    match (to, chain) {
        (D::Active, _) => String::new(),
        (D::Expired, OnChain::Allocated) => format!("not claimed by its start epoch {}", d.start_epoch),
        (D::Expired, _) => "its allocation is gone from the chain, unclaimed".into(),
        (D::Slashed, OnChain::Claimed { term_start, term_max }) => {
            format!("its claim's term ended at epoch {}", term_start + term_max)
        }
        (D::Slashed, _) => "its claim is gone from the chain".into(),
        _ => String::new(),
    }
}

/// One round; how many deals changed.
/// Only the deals of miners this droplet acts for (all of them unless droplets share a database).
pub async fn track_once(
    deals: &DirectDeals,
    chain: &Chain,
    leases: &crate::lease::Leases,
) -> Result<usize, TrackError> {
    let head = chain.head_height().await?;
    let tracked = deals
        .in_states(&[D::Allocated, D::Sealing, D::Active])
        .map_err(DirectError::from)?
        .into_iter()
        .filter(|d| leases.owns(&d.provider.0));
    let mut changed = 0;
    for d in tracked {
        let Some(state) = D::from_code(d.state) else { continue };
        let (on_chain, claim) = match read_chain(chain, &d).await {
            Ok(r) => r,
            Err(e) => {
                // The node could not say: nothing changes this round.
                tracing::warn!(allocation = d.allocation_id, error = %e, "direct deal tracker: cannot read the chain");
                continue;
            }
        };
        let Some(to) = follow(state, d.start_epoch, head, on_chain) else {
            continue;
        };
        let message = why(to, &d, on_chain);
        let moved = deals.update(|me| {
            // Changed meanwhile (the sealer or the operator): left for the next round.
            let Some(mut now) = me.get(&d.id.0)?.filter(|now| now.state == d.state) else {
                return Ok((Vec::new(), false));
            };
            now.state = to.code();
            now.message = message;
            if let Some(c) = &claim {
                now.sector_id = c.sector;
                now.claim_id = d.allocation_id;
            }
            Ok((vec![now], true))
        })?;
        if moved {
            changed += 1;
            tracing::info!(
                allocation = d.allocation_id,
                from = state.name(),
                to = to.name(),
                "direct deal"
            );
        }
    }
    Ok(changed)
}

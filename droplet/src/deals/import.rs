//! Taking over deals from another market (`DealsImport`, `droplet storage deal import-deal`):
//! each deal as droplet's `MinerDeal` (what lotus-miner's `MarketListIncompleteDeals`, a boost
//! dump read by the CLI, or another droplet give) checked and turned into a record. Only deals
//! that wait for something outside are taken — offline deals waiting for their data, and
//! published deals (the sealer and the chain tracker carry them on); a deal mid-way through a
//! step of the old market (transferring, funding, publishing) is refused, since its step
//! cannot be resumed here.

use market_fsm::storage::provider::{PieceStatus, ProviderDeal};
use market_proto::api::market::MinerDeal;
use market_types::boost::Transfer;
use market_types::states::StorageDealStatus as S;
use market_types::{Address, Uuid};

use super::record::DealRecord;

/// Why a deal is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("miner {0} is not served by this droplet (add it with `droplet actor upsert`)")]
    NotServed(Address),
    #[error("state {0} is not a storage deal state")]
    UnknownState(u64),
    #[error(
        "a deal in {0} is mid-way through a step of the old market that cannot be resumed here: finish it there, \
         or import it once it waits for its data or is published"
    )]
    InFlight(&'static str),
    #[error("no payload root (`Ref.Root`)")]
    NoRoot,
    #[error("the proposal and signature do not give the proposal CID {0} (the dump is damaged)")]
    CidMismatch(String),
    #[error(
        "the dump has no client signature, and droplet cannot publish an unsigned proposal: finish the deal in the \
         old market (boost's GraphQL does not export signatures; a lotus-miner dump has them)"
    )]
    Unsigned,
    #[error("piece status {0:?} is not Undefine, Assigned, Packing or Proving")]
    PieceStatus(String),
}

/// The states a deal is taken in.
fn takeable(s: S) -> bool {
    matches!(
        s,
        S::WaitingForData
            | S::Staged
            | S::AwaitingPreCommit
            | S::Sealing
            | S::Finalizing
            | S::Active
            | S::Expired
            | S::Slashed
    )
}

fn published(s: S) -> bool {
    takeable(s) && s != S::WaitingForData
}

/// The record of an imported deal, or why it is refused. `created` (Unix seconds) is used when
/// the deal says nothing of its creation.
pub fn record_of(m: &MinerDeal, served: &[Address], created: u64) -> Result<DealRecord, Refusal> {
    let mut proposal = m.proposal.0.clone();
    let p = &proposal.proposal;
    if !served.contains(&p.provider) {
        return Err(Refusal::NotServed(p.provider));
    }
    let status = S::from_u64(m.state).ok_or(Refusal::UnknownState(m.state))?;
    if !takeable(status) {
        return Err(Refusal::InFlight(status.name()));
    }
    let root = m
        .data_ref
        .as_ref()
        .map(|r| r.root.0)
        .or(m.data_root.as_ref().map(|c| c.0));
    let root = root.ok_or(Refusal::NoRoot)?;
    let signed = !proposal.client_signature.data.is_empty();
    if signed {
        super::record::restore_empty_label(&mut proposal, &m.proposal_cid.0);
        if proposal.proposal_cid() != m.proposal_cid.0 {
            return Err(Refusal::CidMismatch(m.proposal_cid.0.to_string()));
        }
    } else if !published(status) {
        return Err(Refusal::Unsigned);
    }
    let piece_status = match m.piece_status.as_str() {
        "" | "Undefine" if matches!(status, S::Active | S::Slashed) => PieceStatus::Proving,
        "" => PieceStatus::Undefine,
        other => PieceStatus::parse(other).ok_or_else(|| Refusal::PieceStatus(other.to_string()))?,
    };
    let in_sector = m.sector != 0 || matches!(piece_status, PieceStatus::Packing | PieceStatus::Proving);
    let size = if m.payload_size > 0 {
        m.payload_size
    } else {
        m.data_ref.as_ref().map(|r| r.raw_block_size).unwrap_or(0)
    };
    let created_at = market_types::units::parse_rfc3339(&m.creation_time)
        .or((m.created_at > 0).then_some(m.created_at))
        .unwrap_or(created);
    let provider_collateral = proposal.proposal.provider_collateral.clone();
    Ok(DealRecord {
        uuid: if m.uuid.0.is_nil() { Uuid::new_v4() } else { m.uuid.0 },
        proposal_cid: m.proposal_cid.0,
        proposal,
        client_peer: m.client_peer.clone(),
        transfer: Transfer {
            size,
            ..Transfer::offline()
        },
        data_root: root,
        fast_retrieval: m.fast_retrieval,
        deal: ProviderDeal {
            status,
            message: m.message.clone(),
            piece_status,
            online: false,
            provider_collateral,
            // The old market's ledger stays behind: what it held is on chain or released.
            funds_reserved: Default::default(),
            add_funds_msg: m.add_funds_msg.as_ref().map(|c| c.0),
            publish_msg: m.publish_msg.as_ref().map(|c| c.0),
            deal_id: published(status).then_some(m.deal_id),
            sector: (published(status) && in_sector).then_some(m.sector),
            offset: (published(status) && in_sector).then_some(m.offset),
            inbound_path: None,
            transferred: 0,
            transfer_attempts: 0,
        },
        created_at,
        updated_at: created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deals::record::tests::record;

    fn api_of(d: &DealRecord) -> MinerDeal {
        d.to_api("12D3KooWold")
    }

    #[test]
    fn published_and_waiting_deals_are_taken_as_they_stand() {
        let served = [Address::new_id(1000)];
        let mut active = record(2048, 100, S::Active, PieceStatus::Proving);
        active.deal.sector = Some(0);
        active.deal.offset = Some(0);
        active.deal.deal_id = Some(0);
        let back = record_of(&api_of(&active), &served, 5).expect("taken");
        assert_eq!(back.deal.status, S::Active);
        assert_eq!(
            (back.deal.deal_id, back.deal.sector, back.deal.piece_status),
            (Some(0), Some(0), PieceStatus::Proving),
            "deal 0 in sector 0 stays so"
        );
        assert_eq!(
            (back.uuid, back.proposal_cid, back.data_root),
            (active.uuid, active.proposal_cid, active.data_root)
        );
        assert!(!back.deal.online);

        let mut waiting = record(2048, 100, S::WaitingForData, PieceStatus::Undefine);
        waiting.deal.deal_id = None;
        let mut m = api_of(&waiting);
        m.uuid.0 = Uuid::nil();
        m.creation_time = "2023-06-07T15:35:19.485691+08:00".into();
        let back = record_of(&m, &served, 5).expect("taken");
        assert!(!back.uuid.is_nil(), "a lotus-miner deal gets a UUID");
        assert_eq!((back.deal.deal_id, back.deal.sector), (None, None));
        assert_eq!(back.created_at, 1_686_123_319);
    }

    #[test]
    fn deals_that_cannot_be_carried_on_are_refused_with_the_reason() {
        let served = [Address::new_id(1000)];
        let d = record(2048, 100, S::WaitingForData, PieceStatus::Undefine);
        assert_eq!(
            record_of(&api_of(&d), &[Address::new_id(1001)], 0),
            Err(Refusal::NotServed(Address::new_id(1000)))
        );
        let mut m = api_of(&d);
        m.state = S::Transferring.code();
        assert_eq!(
            record_of(&m, &served, 0),
            Err(Refusal::InFlight("StorageDealTransferring"))
        );
        let mut m = api_of(&d);
        m.state = 99;
        assert_eq!(record_of(&m, &served, 0), Err(Refusal::UnknownState(99)));
        let mut m = api_of(&d);
        m.proposal.0.proposal.end_epoch += 1;
        assert!(matches!(record_of(&m, &served, 0), Err(Refusal::CidMismatch(_))));
        let mut m = api_of(&d);
        m.proposal.0.client_signature.data.clear();
        assert_eq!(
            record_of(&m, &served, 0),
            Err(Refusal::Unsigned),
            "boost's dump of a waiting deal"
        );
        m.state = S::Active.code();
        assert!(
            record_of(&m, &served, 0).is_ok(),
            "an unsigned published deal is followed on chain"
        );
        let mut m = api_of(&d);
        m.data_ref = None;
        m.data_root = None;
        assert_eq!(record_of(&m, &served, 0), Err(Refusal::NoRoot));
    }
}

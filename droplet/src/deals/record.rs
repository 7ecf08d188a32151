//! A provider deal as droplet stores it and shows it over its API: the client's signed
//! proposal, how the data comes, and the state machine's view of the deal.

use market_fsm::provider::{PieceStatus, ProviderDeal};
use market_proto::Json;
pub use market_proto::api::market::MinerDeal as DealRecord;
use market_types::states::StorageDealStatus;

fn published(state: u64) -> bool {
    matches!(
        StorageDealStatus::from_u64(state),
        Some(
            StorageDealStatus::Staged
                | StorageDealStatus::AwaitingPreCommit
                | StorageDealStatus::Sealing
                | StorageDealStatus::Active
                | StorageDealStatus::Expired
                | StorageDealStatus::Slashed
        )
    )
}

fn piece_status(s: &str) -> PieceStatus {
    match s {
        "Assigned" => PieceStatus::Assigned,
        "Packing" => PieceStatus::Packing,
        "Proving" => PieceStatus::Proving,
        _ => PieceStatus::Undefine,
    }
}

/// The provider deal machine and the stored record, both ways.
pub trait DealRecordExt {
    fn machine(&self) -> ProviderDeal;
    fn apply(&mut self, d: &ProviderDeal, now: u64);
    fn status(&self) -> StorageDealStatus;
}

impl DealRecordExt for DealRecord {
    /// The state machine's view.
    fn machine(&self) -> ProviderDeal {
        ProviderDeal {
            status: StorageDealStatus::from_u64(self.state).unwrap_or(StorageDealStatus::Error),
            message: self.message.clone(),
            piece_status: piece_status(&self.piece_status),
            online: !self.offline,
            provider_collateral: self.proposal.0.proposal.provider_collateral.clone(),
            funds_reserved: self.funds_reserved.0.clone(),
            add_funds_msg: self.add_funds_msg.as_ref().map(|c| c.0),
            publish_msg: self.publish_msg.as_ref().map(|c| c.0),
            // Deal IDs start at 0 on a new network: the state says whether it was published.
            deal_id: (self.deal_id != 0 || published(self.state)).then_some(self.deal_id),
            sector: (self.sector != 0).then_some(self.sector),
            offset: (self.offset != 0 || self.sector != 0).then_some(self.offset),
            inbound_path: (!self.inbound_path.is_empty()).then(|| self.inbound_path.clone()),
            transferred: self.transferred,
        }
    }

    /// Take the machine's new view.
    fn apply(&mut self, d: &ProviderDeal, now: u64) {
        self.state = d.status.code();
        self.state_name = d.status.name().to_string();
        self.message = d.message.clone();
        self.piece_status = d.piece_status.as_str().to_string();
        self.funds_reserved = Json(d.funds_reserved.clone());
        self.add_funds_msg = d.add_funds_msg.map(Json);
        self.publish_msg = d.publish_msg.map(Json);
        self.deal_id = d.deal_id.unwrap_or(0);
        self.sector = d.sector.unwrap_or(0);
        self.offset = d.offset.unwrap_or(0);
        self.inbound_path = d.inbound_path.clone().unwrap_or_default();
        self.transferred = d.transferred;
        self.updated_at = now;
    }

    fn status(&self) -> StorageDealStatus {
        StorageDealStatus::from_u64(self.state).unwrap_or(StorageDealStatus::Error)
    }
}

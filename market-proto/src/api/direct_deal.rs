//! Direct deals on droplet's API (venus-shared `DirectDeal`, `DirectDealParams`,
//! `DirectDealQueryParams`; `ImportDirectDeal`, `GetDirectDeal`, `GetDirectDealByAllocationID`,
//! `ListDirectDeals`, `UpdateDirectDealState`, `ReleaseDirectDeals`): pieces a client allocated DataCap for, imported
//! by the provider against their allocations.

use cid::Cid;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use market_types::units::ChainEpoch;
use market_types::{Address, Uuid};
use serde::{Deserialize, Serialize};

use super::market::MinerOrCommon;
use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// A direct deal as droplet keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DirectDeal {
    #[serde(rename = "ID")]
    pub id: Json<Uuid>,
    #[serde(rename = "PieceCID")]
    pub piece_cid: Json<Cid>,
    /// Padded.
    pub piece_size: u64,
    pub client: Json<Address>,
    pub provider: Json<Address>,
    /// Bytes of the piece's data (the CAR) before padding.
    pub payload_size: u64,
    #[serde(rename = "PayloadCID", default)]
    pub payload_cid: Option<Json<Cid>>,
    /// droplet's `DirectDealState` number (1 allocated … 6 error).
    pub state: u64,
    #[serde(rename = "AllocationID")]
    pub allocation_id: u64,
    #[serde(rename = "ClaimID", default)]
    pub claim_id: u64,
    #[serde(rename = "SectorID", default)]
    pub sector_id: u64,
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub length: u64,
    pub start_epoch: ChainEpoch,
    pub end_epoch: ChainEpoch,
    #[serde(default)]
    pub message: String,
    /// Unix seconds.
    pub created_at: u64,
    pub updated_at: u64,
}

/// One deal to import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DirectDealParam {
    #[serde(default)]
    pub payload_size: u64,
    #[serde(rename = "PayloadCID", default)]
    pub payload_cid: Option<Json<Cid>>,
    #[serde(rename = "DealUUID")]
    pub deal_uuid: Json<Uuid>,
    #[serde(rename = "AllocationID")]
    pub allocation_id: u64,
    #[serde(rename = "PieceCID")]
    pub piece_cid: Json<Cid>,
    pub client: Json<Address>,
    pub start_epoch: ChainEpoch,
    pub end_epoch: ChainEpoch,
    /// droplet-rs: the piece's data on the daemon's machine, put into piece storage (checked
    /// against the piece) when piece storage does not have it (boost's `FilePath`). Go droplet
    /// neither sends nor reads it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_path: String,
}

/// `ImportDirectDeal`'s argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DirectDealParams {
    #[serde(rename = "SkipCommP", default)]
    pub skip_commp: bool,
    pub deal_params: Vec<DirectDealParam>,
}

/// `ListDirectDeals`' filter and page (an undefined provider or client matches any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DirectDealQueryParams {
    pub provider: MinerOrCommon,
    pub client: MinerOrCommon,
    #[serde(default)]
    pub state: Option<u64>,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub limit: usize,
    #[serde(default)]
    pub asc: bool,
}

#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketDirectDeals {
    /// Import deals against their allocations; each is checked on its own, and the failures
    /// are returned together, naming each allocation.
    #[method(name = "ImportDirectDeal")]
    async fn import_direct_deal(&self, params: DirectDealParams) -> RpcResult<()>;

    #[method(name = "GetDirectDeal")]
    async fn get_direct_deal(&self, id: Json<Uuid>) -> RpcResult<DirectDeal>;

    #[method(name = "GetDirectDealByAllocationID")]
    async fn get_direct_deal_by_allocation_id(&self, id: u64) -> RpcResult<DirectDeal>;

    #[method(name = "ListDirectDeals")]
    async fn list_direct_deals(&self, query: DirectDealQueryParams) -> RpcResult<Vec<DirectDeal>>;

    /// Set a deal's state by hand.
    #[method(name = "UpdateDirectDealState")]
    async fn update_direct_deal_state(&self, id: Json<Uuid>, state: u64) -> RpcResult<()>;

    /// The sealer gives back the direct deals of these allocations (their sector failed):
    /// they wait for a sector again.
    #[method(name = "ReleaseDirectDeals")]
    async fn release_direct_deals(&self, miner: Json<Address>, allocations: Vec<u64>) -> RpcResult<()>;
}

pub const METHODS: &[MethodSpec] = &[
    spec("ImportDirectDeal", Perm::Write, 1),
    spec("GetDirectDeal", Perm::Read, 1),
    spec("GetDirectDealByAllocationID", Perm::Read, 1),
    spec("ListDirectDeals", Perm::Read, 1),
    spec("UpdateDirectDealState", Perm::Write, 2),
    spec("ReleaseDirectDeals", Perm::Write, 2),
];

//! droplet-client's own API (`VENUS_MARKET_CLIENT.*` on `/rpc/v0`): the part served so far.
//! Names and permissions as in `venus-shared/api/market/client` (droplet-inventory §2.2).

use cid::Cid;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use market_types::storage::StorageAsk;
use market_types::{Address, TokenAmount};
use serde::{Deserialize, Serialize};

use super::market::VersionInfo;
use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// Where a deal's data is (lotus `storagemarket.DataRef`). `PieceSize` is unpadded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRef {
    #[serde(rename = "TransferType")]
    pub transfer_type: String,
    #[serde(rename = "Root")]
    pub root: Json<Cid>,
    #[serde(rename = "PieceCid", default)]
    pub piece_cid: Option<Json<Cid>>,
    #[serde(rename = "PieceSize", default)]
    pub piece_size: u64,
    #[serde(rename = "RawBlockSize", default)]
    pub raw_block_size: u64,
}

/// `ClientStartDeal` / `ClientStatelessDeal` parameters (lotus `StartDealParams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartDealParams {
    #[serde(rename = "Data")]
    pub data: DataRef,
    #[serde(rename = "Wallet")]
    pub wallet: Json<Address>,
    #[serde(rename = "Miner")]
    pub miner: Json<Address>,
    /// attoFIL per GiB per epoch.
    #[serde(rename = "EpochPrice")]
    pub epoch_price: Json<TokenAmount>,
    #[serde(rename = "MinBlocksDuration")]
    pub min_blocks_duration: u64,
    /// Zero: the chain's minimum plus 20 %.
    #[serde(rename = "ProviderCollateral")]
    pub provider_collateral: Json<TokenAmount>,
    /// Zero or negative: eight days after the head.
    #[serde(rename = "DealStartEpoch")]
    pub deal_start_epoch: i64,
    #[serde(rename = "FastRetrieval")]
    pub fast_retrieval: bool,
    #[serde(rename = "VerifiedDeal")]
    pub verified_deal: bool,
}

#[rpc(server, client, namespace = "VENUS_MARKET_CLIENT", namespace_separator = ".")]
pub trait MarketClient {
    /// Fetch `miner`'s storage ask from `peer` (a peer ID string), verified against the
    /// miner's worker key.
    #[method(name = "ClientQueryAsk")]
    async fn client_query_ask(&self, peer: String, miner: Json<Address>) -> RpcResult<Json<StorageAsk>>;

    /// Propose an offline ("manual") deal: funds are reserved in the client's escrow, the
    /// proposal is signed and sent on `/fil/storage/mk/1.2.1`; returns the proposal CID once
    /// the provider accepts it.
    #[method(name = "ClientStatelessDeal")]
    async fn client_stateless_deal(&self, params: StartDealParams) -> RpcResult<Json<Cid>>;

    #[method(name = "DefaultAddress")]
    async fn default_address(&self) -> RpcResult<Json<Address>>;

    #[method(name = "Version")]
    async fn version(&self) -> RpcResult<VersionInfo>;
}

pub const METHODS: &[MethodSpec] = &[
    spec("ClientQueryAsk", Perm::Read, 2),
    spec("ClientStatelessDeal", Perm::Write, 1),
    spec("DefaultAddress", Perm::Read, 0),
    spec("Version", Perm::Read, 0),
];

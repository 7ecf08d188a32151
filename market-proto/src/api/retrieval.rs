//! droplet's retrieval deal API (`VENUS_MARKET.MarketListRetrievalDeals` and friends): a
//! trait of its own, merged into the `VENUS_MARKET` namespace. Names, parameters and
//! permissions as in venus-shared `api/market/v1`; the deal is droplet's `ProviderDealState`
//! (with the piece and miner that serve it).

use std::collections::BTreeMap;

use cid::Cid;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use market_types::chain::SignedVoucher;
use market_types::retrieval::RetrievalDealProposal;
use market_types::{Address, TokenAmount};
use serde::{Deserialize, Serialize};

use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// A transfer channel as droplet's API shows it (peer IDs as text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelRef {
    pub initiator: String,
    pub responder: String,
    #[serde(rename = "ID")]
    pub id: u64,
}

/// A provider's retrieval deal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalDeal {
    pub deal_proposal: RetrievalDealProposal,
    /// The client's peer ID.
    pub receiver: String,
    #[serde(rename = "ChannelID")]
    pub channel_id: Option<ChannelRef>,
    /// go-fil-markets `DealStatus`.
    pub status: u64,
    pub message: String,
    pub total_sent: u64,
    pub funds_received: Json<TokenAmount>,
    pub current_interval: u64,
    #[serde(rename = "PieceCID")]
    pub piece_cid: Json<Cid>,
    pub miner: Json<Address>,
    /// The storage deal whose piece serves the data.
    pub sel_storage_proposal_cid: String,
    pub legacy_protocol: bool,
    /// Unix seconds.
    pub created_at: u64,
    pub updated_at: u64,
}

/// A page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Page {
    #[serde(default)]
    pub offset: u64,
    /// 0: no limit.
    #[serde(default)]
    pub limit: u64,
}

/// `MarketListRetrievalDeals`' filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalDealQueryParams {
    #[serde(default)]
    pub receiver: String,
    #[serde(default, rename = "PayloadCID")]
    pub payload_cid: Option<Json<Cid>>,
    #[serde(default)]
    pub status: Option<u64>,
    #[serde(default)]
    pub discard_failed_deal: bool,
    #[serde(default)]
    pub page: Page,
}

/// Deal counts by status (`GetRetrievalDealStatistic`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalDealStatistic {
    pub deals_status: BTreeMap<String, u64>,
}

/// A payment channel paying this provider, with what its vouchers are worth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InboundChannel {
    pub channel: Json<Address>,
    pub from: Json<Address>,
    pub to: Json<Address>,
    pub lanes: u64,
    /// The best vouchers of all lanes, summed.
    pub best: Json<TokenAmount>,
    /// What of it was submitted on chain.
    pub submitted: Json<TokenAmount>,
    /// The channel's balance and settling epoch on chain (None: the channel is gone,
    /// collected).
    pub balance: Option<Json<TokenAmount>>,
    pub settling_at: Option<i64>,
}

#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketRetrieval {
    #[method(name = "MarketListRetrievalDeals")]
    async fn market_list_retrieval_deals(&self, params: RetrievalDealQueryParams) -> RpcResult<Vec<RetrievalDeal>>;

    /// One deal by the client's peer ID and the deal ID.
    #[method(name = "MarketGetRetrievalDeal")]
    async fn market_get_retrieval_deal(&self, receiver: String, deal_id: u64) -> RpcResult<RetrievalDeal>;

    /// Deal counts by status name, for one miner (or all, with an empty address).
    #[method(name = "GetRetrievalDealStatistic")]
    async fn get_retrieval_deal_statistic(&self, miner: Option<Json<Address>>) -> RpcResult<RetrievalDealStatistic>;

    /// Set `RetrievalPaymentAddress` of `miner` (a key address this droplet's signer holds);
    /// saved to config.toml (droplet-rs: droplet only reads it from the file).
    #[method(name = "MarketSetRetrievalPaymentAddress")]
    async fn market_set_retrieval_payment_address(&self, miner: Json<Address>, addr: Json<Address>) -> RpcResult<()>;

    /// The best voucher of each lane of an inbound channel.
    #[method(name = "PaychVoucherList")]
    async fn paych_voucher_list(&self, channel: Json<Address>) -> RpcResult<Vec<SignedVoucher>>;

    /// Inbound payment channels (droplet-rs).
    #[method(name = "PaychInboundList")]
    async fn paych_inbound_list(&self) -> RpcResult<Vec<InboundChannel>>;

    /// Submit the best voucher of every lane not yet submitted (`UpdateChannelState` from
    /// the payee); the messages' CIDs (droplet-rs).
    #[method(name = "PaychSubmitVouchers")]
    async fn paych_submit_vouchers(&self, channel: Json<Address>) -> RpcResult<Vec<Json<Cid>>>;

    /// Settle an inbound channel (droplet-rs).
    #[method(name = "PaychSettle")]
    async fn paych_settle(&self, channel: Json<Address>) -> RpcResult<Json<Cid>>;

    /// Collect a settled inbound channel (droplet-rs).
    #[method(name = "PaychCollect")]
    async fn paych_collect(&self, channel: Json<Address>) -> RpcResult<Json<Cid>>;
}

pub const METHODS: &[MethodSpec] = &[
    spec("MarketListRetrievalDeals", Perm::Read, 1),
    spec("MarketGetRetrievalDeal", Perm::Read, 2),
    spec("GetRetrievalDealStatistic", Perm::Read, 1),
    spec("MarketSetRetrievalPaymentAddress", Perm::Admin, 2),
    spec("PaychVoucherList", Perm::Read, 1),
    spec("PaychInboundList", Perm::Read, 0),
    spec("PaychSubmitVouchers", Perm::Sign, 1),
    spec("PaychSettle", Perm::Sign, 1),
    spec("PaychCollect", Perm::Sign, 1),
];

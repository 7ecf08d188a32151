//! droplet's IPNI API (`VENUS_MARKET.Indexer*`), merged into the `VENUS_MARKET` namespace like
//! [`super::market`]. Names, parameters and permissions as in venus-shared (droplet-inventory
//! §2.1): a context ID is the proposal CID's bytes (or a deal UUID's 16 bytes), multihashes
//! are byte strings; Go's `[]byte` travels as base64.

use cid::Cid;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use market_types::{Address, Bytes};

use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketIndexer {
    /// Advertise every active deal of `miner` not advertised yet.
    #[method(name = "IndexerAnnounceAllDeals")]
    async fn indexer_announce_all_deals(&self, miner: Json<Address>) -> RpcResult<()>;

    /// The multihashes a deal's advertisement lists.
    #[method(name = "IndexerListMultihashes")]
    async fn indexer_list_multihashes(&self, context_id: Json<Bytes>) -> RpcResult<Vec<Json<Bytes>>>;

    /// Announce the head of the chain again to the configured indexers.
    #[method(name = "IndexerAnnounceLatest")]
    async fn indexer_announce_latest(&self) -> RpcResult<Option<Json<Cid>>>;

    /// Announce the head of the chain to `urls` (the configured ones when empty).
    #[method(name = "IndexerAnnounceLatestHttp")]
    async fn indexer_announce_latest_http(&self, urls: Option<Vec<String>>) -> RpcResult<Option<Json<Cid>>>;

    /// Publish a removal advertisement for a deal.
    #[method(name = "IndexerAnnounceDealRemoved")]
    async fn indexer_announce_deal_removed(&self, context_id: Json<Bytes>) -> RpcResult<Json<Cid>>;

    /// Advertise a deal; `null` when it is advertised already.
    #[method(name = "IndexerAnnounceDeal")]
    async fn indexer_announce_deal(&self, context_id: Json<Bytes>) -> RpcResult<Option<Json<Cid>>>;
}

pub const METHODS: &[MethodSpec] = &[
    spec("IndexerAnnounceAllDeals", Perm::Admin, 1),
    spec("IndexerListMultihashes", Perm::Read, 1),
    spec("IndexerAnnounceLatest", Perm::Admin, 0),
    spec("IndexerAnnounceLatestHttp", Perm::Admin, 1),
    spec("IndexerAnnounceDealRemoved", Perm::Admin, 1),
    spec("IndexerAnnounceDeal", Perm::Admin, 1),
];

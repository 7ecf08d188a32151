//! droplet-client's own API (`VENUS_MARKET_CLIENT.*` on `/rpc/v0`): the part served so far.
//! Names and permissions as in `venus-shared/api/market/client` (droplet-inventory §2.2).

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use market_types::Address;
use market_types::storage::StorageAsk;

use super::market::VersionInfo;
use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

#[rpc(server, client, namespace = "VENUS_MARKET_CLIENT", namespace_separator = ".")]
pub trait MarketClient {
    /// Fetch `miner`'s storage ask from `peer` (a peer ID string), verified against the
    /// miner's worker key.
    #[method(name = "ClientQueryAsk")]
    async fn client_query_ask(&self, peer: String, miner: Json<Address>) -> RpcResult<Json<StorageAsk>>;

    #[method(name = "DefaultAddress")]
    async fn default_address(&self) -> RpcResult<Json<Address>>;

    #[method(name = "Version")]
    async fn version(&self) -> RpcResult<VersionInfo>;
}

pub const METHODS: &[MethodSpec] = &[
    spec("ClientQueryAsk", Perm::Read, 2),
    spec("DefaultAddress", Perm::Read, 0),
    spec("Version", Perm::Read, 0),
];

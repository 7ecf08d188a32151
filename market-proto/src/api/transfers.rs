//! droplet's data-transfer channel API (`VENUS_MARKET.MarketListDataTransfers` and friends),
//! merged into the `VENUS_MARKET` namespace. Names, parameters and permissions as in
//! venus-shared `api/market/v1`; a channel is lotus' `DataTransferChannel`.

use cid::Cid;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};

use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// A data-transfer channel (lotus `api.DataTransferChannel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataTransferChannel {
    #[serde(rename = "TransferID")]
    pub transfer_id: u64,
    /// go-data-transfer's `Status` number.
    #[serde(rename = "Status")]
    pub status: u64,
    #[serde(rename = "BaseCID")]
    pub base_cid: Json<Cid>,
    #[serde(rename = "IsInitiator")]
    pub is_initiator: bool,
    #[serde(rename = "IsSender")]
    pub is_sender: bool,
    /// The voucher as JSON text.
    #[serde(rename = "Voucher")]
    pub voucher: String,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "OtherPeer")]
    pub other_peer: String,
    #[serde(rename = "Transferred")]
    pub transferred: u64,
    #[serde(rename = "Stages")]
    pub stages: Option<serde_json::Value>,
}

#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketTransfers {
    /// The channels droplet is serving or receiving.
    #[method(name = "MarketListDataTransfers")]
    async fn market_list_data_transfers(&self) -> RpcResult<Vec<DataTransferChannel>>;

    /// Restart a channel (only its initiator can: droplet's are opened by clients, which
    /// restart them).
    #[method(name = "MarketRestartDataTransfer")]
    async fn market_restart_data_transfer(
        &self,
        transfer_id: u64,
        other_peer: String,
        is_initiator: bool,
    ) -> RpcResult<()>;

    /// Cancel a channel droplet is serving or receiving.
    #[method(name = "MarketCancelDataTransfer")]
    async fn market_cancel_data_transfer(
        &self,
        transfer_id: u64,
        other_peer: String,
        is_initiator: bool,
    ) -> RpcResult<()>;
}

pub const METHODS: &[MethodSpec] = &[
    spec("MarketListDataTransfers", Perm::Admin, 0),
    spec("MarketRestartDataTransfer", Perm::Admin, 3),
    spec("MarketCancelDataTransfer", Perm::Admin, 3),
];

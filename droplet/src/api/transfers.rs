//! `MarketListDataTransfers`, `MarketCancelDataTransfer`, `MarketRestartDataTransfer`: the
//! data-transfer channels droplet serves (retrievals) or receives (pushed storage deal data).

use jsonrpsee::core::RpcResult;
use market_proto::Json;
use market_proto::api::handler_error;
use market_proto::api::transfers::{DataTransferChannel, MarketTransfersServer};
use market_types::retrieval::{RetrievalDealProposal, VOUCHER_DEAL_PROPOSAL};

use super::Api;

/// A channel's voucher as JSON text: a retrieval proposal in full, else its type.
fn voucher_json(v: &data_transfer::message::TypedVoucher) -> String {
    if v.kind == VOUCHER_DEAL_PROPOSAL
        && let Ok(p) = v.node.decode::<RetrievalDealProposal>()
        && let Ok(s) = serde_json::to_string(&p)
    {
        return s;
    }
    serde_json::json!({ "Type": v.kind }).to_string()
}

fn peer(s: &str) -> RpcResult<libp2p::PeerId> {
    s.parse()
        .map_err(|e| handler_error(format!("{s:?} is not a peer ID: {e}")))
}

#[jsonrpsee::core::async_trait]
impl MarketTransfersServer for Api {
    async fn market_list_data_transfers(&self) -> RpcResult<Vec<DataTransferChannel>> {
        Ok(self
            .transfers
            .channels()
            .into_iter()
            .map(|c| DataTransferChannel {
                transfer_id: c.transfer_id,
                status: c.status,
                base_cid: Json(c.base_cid),
                is_initiator: c.is_initiator,
                is_sender: c.is_sender,
                voucher: voucher_json(&c.voucher),
                message: String::new(),
                other_peer: c.other_peer.to_string(),
                transferred: c.transferred,
                stages: None,
            })
            .collect())
    }

    async fn market_restart_data_transfer(
        &self,
        transfer_id: u64,
        other_peer: String,
        is_initiator: bool,
    ) -> RpcResult<()> {
        let _ = peer(&other_peer)?;
        let _ = is_initiator;
        Err(handler_error(format!(
            "channel {transfer_id} with {other_peer} was opened by the client, and only its opener restarts a \
             channel: droplet-client restarts a cut retrieval by itself; cancel the channel here if it is stuck"
        )))
    }

    async fn market_cancel_data_transfer(
        &self,
        transfer_id: u64,
        other_peer: String,
        is_initiator: bool,
    ) -> RpcResult<()> {
        let p = peer(&other_peer)?;
        if is_initiator {
            return Err(handler_error(format!(
                "droplet opened no channel {transfer_id} with {other_peer}: its channels are opened by clients (leave out --initiator)"
            )));
        }
        self.transfers
            .cancel_channel(p, transfer_id)
            .await
            .map_err(|e| handler_error(e.to_string()))
    }
}

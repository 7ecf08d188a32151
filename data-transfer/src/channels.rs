//! The channels a host is running, as an operator sees them (droplet's `data-transfers list`),
//! and cancelling one by hand. Statuses are go-data-transfer's numbers and names.

use cid::Cid;
use libp2p::PeerId;
use market_types::datatransfer::message_type;

use crate::message::{self, TypedVoucher};
use crate::service::DataTransfer;
use crate::{lock, network};

/// go-data-transfer's channel statuses (`datatransfer.Status`).
pub mod status {
    pub const REQUESTED: u64 = 0;
    pub const ONGOING: u64 = 1;
    pub const TRANSFER_FINISHED: u64 = 2;
    pub const RESPONDER_COMPLETED: u64 = 3;
    pub const FINALIZING: u64 = 4;
    pub const COMPLETING: u64 = 5;
    pub const COMPLETED: u64 = 6;
    pub const FAILING: u64 = 7;
    pub const FAILED: u64 = 8;
    pub const CANCELLING: u64 = 9;
    pub const CANCELLED: u64 = 10;
    pub const INITIATOR_PAUSED: u64 = 11;
    pub const RESPONDER_PAUSED: u64 = 12;
    pub const BOTH_PAUSED: u64 = 13;
    pub const RESPONDER_FINALIZING: u64 = 14;
    pub const RESPONDER_FINALIZING_TRANSFER_FINISHED: u64 = 15;
    pub const CHANNEL_NOT_FOUND_ERROR: u64 = 16;

    /// go-data-transfer's name of status `n`.
    pub fn name(n: u64) -> &'static str {
        const NAMES: [&str; 17] = [
            "Requested",
            "Ongoing",
            "TransferFinished",
            "ResponderCompleted",
            "Finalizing",
            "Completing",
            "Completed",
            "Failing",
            "Failed",
            "Cancelling",
            "Cancelled",
            "InitiatorPaused",
            "ResponderPaused",
            "BothPaused",
            "ResponderFinalizing",
            "ResponderFinalizingTransferFinished",
            "ChannelNotFoundError",
        ];
        NAMES.get(n as usize).copied().unwrap_or("Unknown")
    }
}

/// One running channel.
#[derive(Debug, Clone)]
pub struct ChannelView {
    pub transfer_id: u64,
    /// The peer at the other end.
    pub other_peer: PeerId,
    /// Whether this host opened the channel.
    pub is_initiator: bool,
    /// Whether this host sends the data.
    pub is_sender: bool,
    pub base_cid: Cid,
    pub voucher: TypedVoucher,
    pub status: u64,
    /// Bytes sent or received so far.
    pub transferred: u64,
}

/// Why a channel could not be cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no running channel {transfer_id} with {peer} (see the channel list for the running ones)")]
    NotFound { peer: PeerId, transfer_id: u64 },
    #[error(transparent)]
    Send(#[from] network::SendError),
}

impl DataTransfer {
    /// The channels this host serves or receives: pulls it responds to (retrievals) and pushes
    /// it receives (online storage deals), oldest transfer IDs first.
    pub fn channels(&self) -> Vec<ChannelView> {
        let inner = &self.inner;
        let mut out = Vec::new();
        {
            let channels = lock(&inner.channels);
            for r in channels.by_transfer.values() {
                out.push(ChannelView {
                    transfer_id: r.transfer_id,
                    other_peer: r.channel.peer,
                    is_initiator: false,
                    is_sender: true,
                    base_cid: r.channel.root,
                    voucher: r.channel.voucher.clone(),
                    status: if r.paused {
                        status::RESPONDER_PAUSED
                    } else {
                        status::ONGOING
                    },
                    transferred: r.channel.sent,
                });
            }
            for ((_, xfer), ch) in &channels.finalizing {
                out.push(ChannelView {
                    transfer_id: *xfer,
                    other_peer: ch.peer,
                    is_initiator: false,
                    is_sender: true,
                    base_cid: ch.root,
                    voucher: ch.voucher.clone(),
                    status: status::RESPONDER_FINALIZING,
                    transferred: ch.sent,
                });
            }
        }
        for r in lock(&inner.receiving).values() {
            out.push(ChannelView {
                transfer_id: r.channel.transfer_id,
                other_peer: r.channel.peer,
                is_initiator: false,
                is_sender: false,
                base_cid: r.channel.root,
                voucher: r.channel.voucher.clone(),
                status: status::ONGOING,
                transferred: r.received,
            });
        }
        out.sort_by_key(|c| (c.transfer_id, c.other_peer.to_bytes()));
        out
    }

    /// Cancel the channel `transfer_id` with `peer` that this host serves or receives: its
    /// graphsync response or request is cancelled and the peer is told on the stream.
    pub async fn cancel_channel(&self, peer: PeerId, transfer_id: u64) -> Result<(), CancelError> {
        let inner = &self.inner;
        let gs = self.graphsync();
        let serving = lock(&inner.channels)
            .by_transfer
            .get(&(peer, transfer_id))
            .map(|r| r.request);
        let finalizing = lock(&inner.channels).finalizing.remove(&(peer, transfer_id)).is_some();
        let receiving = lock(&inner.receiving).remove(&(peer, transfer_id)).map(|r| r.request);
        if serving.is_none() && !finalizing && receiving.is_none() {
            return Err(CancelError::NotFound { peer, transfer_id });
        }
        if let Some(request) = serving {
            gs.cancel_response(peer, request);
        }
        if let Some(request) = receiving {
            gs.cancel_request(peer, request);
        }
        let msg = message::response(message_type::CANCEL, transfer_id, false, false, None);
        network::send(&inner.control, peer, &msg).await?;
        Ok(())
    }
}

//! The data-transfer messages a pull channel exchanges, built with go-data-transfer's empty
//! fields (`message1_1prime`): no voucher is `Vouch: null, VTyp: ""`, requests other than New
//! and Restart carry `BCid: null, Stor: null`, `RestartChannel` is `["", "", 0]` unless the
//! type is 7, Update and Cancel responses carry `Acpt: false`.

use cid::Cid;
use graphsync::Extensions;
use market_types::bytes::{PeerId as RawPeerId, PeerIdText};
use market_types::cbor::DecodeError;
use market_types::datatransfer::{
    ChannelId, EXTENSION, EXTENSION_INCOMING_REQUEST, EXTENSION_OUTGOING_BLOCK, TransferMessage, TransferRequest,
    TransferResponse, message_type,
};
use market_types::ipld::RawCbor;

/// A voucher or voucher result: its type name and its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedVoucher {
    pub kind: String,
    pub node: RawCbor,
}

/// A channel's ID from libp2p peer IDs.
pub fn channel_id(initiator: &libp2p::PeerId, responder: &libp2p::PeerId, id: u64) -> ChannelId {
    ChannelId {
        initiator: PeerIdText(RawPeerId(initiator.to_bytes())),
        responder: PeerIdText(RawPeerId(responder.to_bytes())),
        id,
    }
}

fn zero_channel() -> ChannelId {
    ChannelId {
        initiator: PeerIdText::default(),
        responder: PeerIdText::default(),
        id: 0,
    }
}

/// A New (or, with `restart`, Restart) pull request.
pub fn pull_request(
    transfer_id: u64,
    root: Cid,
    selector: RawCbor,
    voucher: &TypedVoucher,
    restart: bool,
) -> TransferMessage {
    request(TransferRequest {
        base_cid: Some(root),
        partial: false,
        paused: false,
        pull: true,
        selector: Some(selector),
        message_type: if restart {
            message_type::RESTART
        } else {
            message_type::NEW
        },
        voucher_type: voucher.kind.clone(),
        voucher: Some(voucher.node.clone()),
        transfer_id,
        restart_channel: zero_channel(),
    })
}

/// A voucher (payment) for a running channel.
pub fn voucher_request(transfer_id: u64, voucher: &TypedVoucher) -> TransferMessage {
    stream_request(message_type::VOUCHER, transfer_id, Some(voucher))
}

/// A cancel from the initiator.
pub fn cancel_request(transfer_id: u64) -> TransferMessage {
    stream_request(message_type::CANCEL, transfer_id, None)
}

/// A request for a running channel: no base CID, no selector.
fn stream_request(message_type: u64, transfer_id: u64, voucher: Option<&TypedVoucher>) -> TransferMessage {
    request(TransferRequest {
        base_cid: None,
        partial: false,
        paused: false,
        pull: false,
        selector: None,
        message_type,
        voucher_type: voucher.map(|v| v.kind.clone()).unwrap_or_default(),
        voucher: voucher.map(|v| v.node.clone()),
        transfer_id,
        restart_channel: zero_channel(),
    })
}

fn request(r: TransferRequest) -> TransferMessage {
    TransferMessage {
        is_request: true,
        request: Some(r),
        response: None,
    }
}

/// A response of `message_type` (New, VoucherResult, Complete, Restart…).
pub fn response(
    message_type: u64,
    transfer_id: u64,
    accepted: bool,
    paused: bool,
    result: Option<&TypedVoucher>,
) -> TransferMessage {
    TransferMessage {
        is_request: false,
        request: None,
        response: Some(TransferResponse {
            accepted,
            paused,
            message_type,
            voucher_result: result.map(|r| r.node.clone()),
            voucher_type: result.map(|r| r.kind.clone()).unwrap_or_default(),
            transfer_id,
        }),
    }
}

/// The Update a responder sends when it pauses or resumes (`Acpt: false`, no result).
pub fn update_response(transfer_id: u64, paused: bool) -> TransferMessage {
    response(message_type::UPDATE, transfer_id, false, paused, None)
}

/// The data-transfer message a graphsync request or response carries, if any: the specific
/// name first (`incoming-request` / `outgoing-block`), then the general one.
pub fn from_extensions(ext: &Extensions, specific: &str) -> Option<Result<TransferMessage, DecodeError>> {
    let value = ext.get(specific).or_else(|| ext.get(EXTENSION))?;
    Some(match value {
        Some(node) => node.decode::<TransferMessage>(),
        None => Err(DecodeError::Missing {
            ty: "graphsync extension",
            field: "data-transfer message",
        }),
    })
}

/// A responder's answer to a graphsync request: under both names, as go-data-transfer sends it.
pub fn incoming_request_extensions(msg: &TransferMessage) -> Vec<(String, RawCbor)> {
    let node = RawCbor::from_value(msg);
    vec![
        (EXTENSION_INCOMING_REQUEST.into(), node.clone()),
        (EXTENSION.into(), node),
    ]
}

/// A responder's message on an outgoing block (its pause): under both names.
pub fn outgoing_block_extensions(msg: &TransferMessage) -> Vec<(String, RawCbor)> {
    let node = RawCbor::from_value(msg);
    vec![
        (EXTENSION_OUTGOING_BLOCK.into(), node.clone()),
        (EXTENSION.into(), node),
    ]
}

/// A message under the general name only.
pub fn general_extension(msg: &TransferMessage) -> Vec<(String, RawCbor)> {
    vec![(EXTENSION.into(), RawCbor::from_value(msg))]
}

/// The transfer IDs of one process: a time counter, as go-data-transfer's (UnixNano at start,
/// then one more per channel).
#[derive(Debug)]
pub struct TransferIds(std::sync::atomic::AtomicU64);

impl Default for TransferIds {
    fn default() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        TransferIds(std::sync::atomic::AtomicU64::new(now))
    }
}

impl TransferIds {
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use market_types::ipld::all_selector;

    #[test]
    fn empty_fields_are_go_data_transfers() {
        let cid: Cid = "bafkqaaa".parse().expect("cid");
        let v = TypedVoucher {
            kind: "RetrievalDealProposal/1".into(),
            node: RawCbor::from_value(&1u64),
        };
        let m = pull_request(7, cid, all_selector(), &v, false);
        let r = m.request.as_ref().expect("request");
        assert!(r.pull && r.voucher.is_some() && r.restart_channel.id == 0);
        let pay = voucher_request(7, &v);
        let r = pay.request.as_ref().expect("request");
        assert_eq!((r.base_cid, r.selector.is_none(), r.message_type), (None, true, 4));
        let u = update_response(7, true);
        let r = u.response.as_ref().expect("response");
        assert_eq!(
            (
                r.accepted,
                r.paused,
                r.voucher_type.as_str(),
                r.voucher_result.is_none()
            ),
            (false, true, "", true)
        );
        // Round trip through a graphsync extension, read under either name.
        let mut ext = Extensions::new();
        for (k, v) in incoming_request_extensions(&u) {
            ext.insert(k, Some(v));
        }
        assert_eq!(from_extensions(&ext, EXTENSION_INCOMING_REQUEST), Some(Ok(u.clone())));
        assert_eq!(from_extensions(&ext, EXTENSION_OUTGOING_BLOCK), Some(Ok(u)));
    }
}

//! Push channels, as go-fil-markets' online storage deals use them: the client (the data's
//! sender) announces a New with `Pull: false` on `/fil/datatransfer/1.2.0`; the provider
//! validates it and opens a graphsync request *to the client*, carrying its answer in the
//! request's extension; the client's graphsync serves that request only because it answers a
//! push of its own; when the provider has every block it sends a Complete on the stream.

use std::collections::HashMap;
use std::sync::Arc;

use cid::Cid;
use graphsync::net::{RequestEvent, ResponseEnd, Validation};
use graphsync::{Extensions, RequestId, ResponseStatus};
use libp2p::PeerId;
use market_types::datatransfer::{TransferMessage, TransferRequest, message_type};
use market_types::ipld::RawCbor;
use tokio::sync::mpsc;

use crate::client::ClientEvent;
use crate::lock;
use crate::message::{self, TypedVoucher};
use crate::provider::ValidationResult;
use crate::service::Inner;

/// A push as the receiving side's validator sees it.
#[derive(Debug, Clone)]
pub struct PushChannel {
    pub peer: PeerId,
    pub transfer_id: u64,
    pub root: Cid,
    pub selector: RawCbor,
    pub voucher: TypedVoucher,
}

/// A push being received: its graphsync request to the sender and the bytes received.
#[derive(Debug)]
pub(crate) struct Receiving {
    pub channel: PushChannel,
    pub request: RequestId,
    pub received: u64,
}

/// A push of ours being sent.
#[derive(Debug)]
pub struct Push {
    pub peer: PeerId,
    pub transfer_id: u64,
    /// Accepted (or Rejected), then TransferFinished when our graphsync response to the
    /// receiver's request ends, then Completed when the receiver confirms.
    pub events: mpsc::UnboundedReceiver<ClientEvent>,
}

/// The sending side's open pushes.
#[derive(Debug, Default)]
pub(crate) struct Pushes {
    pub by_transfer: HashMap<(PeerId, u64), mpsc::UnboundedSender<ClientEvent>>,
    pub by_request: HashMap<(PeerId, RequestId), u64>,
}

/// The New announcing a push.
pub(crate) fn push_request(transfer_id: u64, root: Cid, selector: RawCbor, voucher: &TypedVoucher) -> TransferMessage {
    let mut msg = message::pull_request(transfer_id, root, selector, voucher, false);
    if let Some(r) = msg.request.as_mut() {
        r.pull = false;
    }
    msg
}

/// Sending side: a graphsync request whose data-transfer message is a response — the receiver
/// answering one of our pushes. Served only if it answers an open push.
pub(crate) fn incoming_answer(inner: &Inner, peer: &PeerId, id: RequestId, msg: &TransferMessage) -> Validation {
    let Some(resp) = &msg.response else {
        return Validation::reject(ResponseStatus::RequestRejected);
    };
    let mut pushes = lock(&inner.pushes);
    let Some(events) = pushes.by_transfer.get(&(*peer, resp.transfer_id)).cloned() else {
        return Validation::reject(ResponseStatus::RequestRejected);
    };
    for ev in crate::client::response_events(msg) {
        let _ = events.send(ev);
    }
    if !resp.accepted {
        pushes.by_transfer.remove(&(*peer, resp.transfer_id));
        return Validation::reject(ResponseStatus::RequestRejected);
    }
    pushes.by_request.insert((*peer, id), resp.transfer_id);
    Validation::accept()
}

/// Sending side: our response to the receiver's request ended.
pub(crate) fn response_finished(inner: &Inner, peer: &PeerId, id: RequestId, end: ResponseEnd) -> bool {
    let mut pushes = lock(&inner.pushes);
    let Some(xfer) = pushes.by_request.remove(&(*peer, id)) else {
        return false;
    };
    if let Some(events) = pushes.by_transfer.get(&(*peer, xfer)) {
        let result = match end {
            ResponseEnd::Sent(s) if s.is_success() => Ok(s),
            ResponseEnd::Sent(s) => Err(graphsync::net::RequestError::Status(s)),
            _ => Err(graphsync::net::RequestError::Cancelled),
        };
        let _ = events.send(ClientEvent::TransferFinished(result));
    }
    true
}

/// Sending side: a message on the stream for one of our pushes (a refusal, a Complete).
pub(crate) fn on_response(inner: &Inner, peer: PeerId, msg: &TransferMessage) -> bool {
    let Some(resp) = &msg.response else { return false };
    let mut pushes = lock(&inner.pushes);
    let Some(events) = pushes.by_transfer.get(&(peer, resp.transfer_id)).cloned() else {
        return false;
    };
    let events_of = crate::client::response_events(msg);
    let over = events_of.iter().any(|e| {
        matches!(
            e,
            ClientEvent::Completed { .. } | ClientEvent::Rejected(_) | ClientEvent::Cancelled
        )
    });
    for ev in events_of {
        let _ = events.send(ev);
    }
    if over {
        pushes.by_transfer.remove(&(peer, resp.transfer_id));
    }
    true
}

/// Receiving side: a push announced on the stream. Validate it; if accepted, pull the data
/// with a graphsync request carrying the answer; otherwise answer on the stream.
pub(crate) fn on_announce(inner: &Arc<Inner>, peer: PeerId, req: TransferRequest) {
    let (Some(root), Some(selector), Some(voucher)) = (req.base_cid, req.selector.clone(), req.voucher.clone()) else {
        return;
    };
    let channel = PushChannel {
        peer,
        transfer_id: req.transfer_id,
        root,
        selector: selector.clone(),
        voucher: TypedVoucher {
            kind: req.voucher_type.clone(),
            node: voucher,
        },
    };
    let sink = inner.push_sink.read().unwrap_or_else(|e| e.into_inner()).clone();
    let decision = match &sink {
        Some(_) => inner.validator.validate_push(&channel),
        None => ValidationResult::default(),
    };
    let answer = message::response(
        message_type::NEW,
        req.transfer_id,
        decision.accepted,
        false,
        decision.result.as_ref(),
    );
    let (Some(sink), true) = (sink, decision.accepted) else {
        inner.send_later(peer, answer);
        return;
    };
    let Some(gs) = inner.gs.get() else { return };
    let mut ext = Extensions::new();
    for (name, value) in message::general_extension(&answer) {
        ext.insert(name, Some(value));
    }
    let mut requesting = match gs.request(peer, graphsync::block_cid(&root), selector, ext, sink) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(%peer, "data-transfer: cannot pull a pushed DAG: {e}");
            return;
        }
    };
    let key = (peer, channel.transfer_id);
    lock(&inner.receiving).insert(
        key,
        Receiving {
            channel: channel.clone(),
            request: requesting.id,
            received: 0,
        },
    );
    let inner = inner.clone();
    tokio::spawn(async move {
        while let Some(ev) = requesting.events.recv().await {
            if let RequestEvent::Block {
                size, received: true, ..
            } = ev
                && let Some(r) = lock(&inner.receiving).get_mut(&key)
            {
                r.received += size as u64;
            }
            if let RequestEvent::Finished(end) = ev {
                lock(&inner.receiving).remove(&key);
                let ok = end.is_ok();
                let result = inner.validator.push_finished(&channel, end);
                if ok {
                    let msg = message::response(
                        message_type::COMPLETE,
                        channel.transfer_id,
                        true,
                        false,
                        result.as_ref(),
                    );
                    inner.send_later(peer, msg);
                }
                break;
            }
        }
    });
}

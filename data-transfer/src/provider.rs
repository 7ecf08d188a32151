//! The responding side of pull channels, as graphsync hooks: a request carrying a data-transfer
//! New (or Restart) is validated by the application's [`Validator`]; an accepted one is
//! answered in the first response (both extension names), paused when the validator asks,
//! paused again each time the bytes sent reach the data limit, resumed when a voucher is
//! accepted, and followed by a Complete on `/fil/datatransfer/1.2.0` when graphsync is done.
//! A request without a data-transfer message is refused (status 30), as droplet refuses it.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use cid::Cid;
use graphsync::net::{BlockAction, Hooks, IncomingRequest, QueuedBlock, ResponseEnd, Validation};
use graphsync::{RequestId, ResponseStatus};
use libp2p::PeerId;
use market_types::datatransfer::{ChannelId, EXTENSION_INCOMING_REQUEST, TransferMessage, message_type};
use market_types::ipld::RawCbor;

use crate::lock;
use crate::message::{self, TypedVoucher};
use crate::service::Inner;

/// What the application decides about a voucher.
#[derive(Debug, Clone, Default)]
pub struct ValidationResult {
    pub accepted: bool,
    /// Sent back with the decision.
    pub result: Option<TypedVoucher>,
    /// Hold the data until a later voucher.
    pub force_pause: bool,
    /// Pause once this many bytes have been sent in all (0: no limit).
    pub data_limit: u64,
    /// Call [`Validator::payment_due`] once this many bytes have been sent in all, without
    /// pausing (0: never). A provider that asks for a payment before it stops for it says
    /// where here.
    pub payment_due_at: u64,
}

/// A voucher decision still being made.
pub type PendingDecision = futures::future::BoxFuture<'static, ValidationResult>;

/// A pull channel as the validator sees it.
#[derive(Debug, Clone)]
pub struct PullChannel {
    pub id: ChannelId,
    pub peer: PeerId,
    pub root: Cid,
    pub selector: RawCbor,
    pub voucher: TypedVoucher,
    /// Bytes sent so far (for a restarted pull: with those of the blocks the client holds
    /// from before, which are not sent again).
    pub sent: u64,
}

/// The application's rules for pull channels (the retrieval market's provider).
pub trait Validator: Send + Sync + 'static {
    /// A new pull (or a restart of one, `restart`).
    fn validate_pull(&self, channel: &PullChannel, restart: bool) -> ValidationResult;
    /// A voucher (a payment) for a running channel.
    fn validate_voucher(&self, channel: &PullChannel, voucher: &TypedVoucher) -> ValidationResult;
    /// The same decision when it needs IO (chain reads): the channel waits for it. By default
    /// the synchronous [`Validator::validate_voucher`].
    fn validate_voucher_later(&self, channel: &PullChannel, voucher: &TypedVoucher) -> PendingDecision {
        let decision = self.validate_voucher(channel, voucher);
        Box::pin(async move { decision })
    }
    /// The channel reached the `data_limit` a decision named: whether it pauses (by default
    /// it does) or goes on with new limits, and a result to send the client (what it owes).
    /// Asked with the provider's channels locked, so that no voucher's decision is applied
    /// while this one is made: keep it short.
    fn data_limit_reached(&self, _channel: &PullChannel) -> ValidationResult {
        ValidationResult {
            accepted: true,
            force_pause: true,
            ..ValidationResult::default()
        }
    }
    /// The channel passed the `payment_due_at` a decision named: the same decision as
    /// [`Validator::data_limit_reached`] (by default it goes on, as it was, asking nothing).
    fn payment_due(&self, channel: &PullChannel) -> ValidationResult {
        let _ = channel;
        ValidationResult {
            accepted: true,
            ..ValidationResult::default()
        }
    }
    /// Everything was sent: the result for the Complete message.
    fn completed(&self, channel: &PullChannel) -> Option<TypedVoucher>;
    /// Asked right after [`Validator::completed`]: whether the channel still waits for a last
    /// voucher (the Complete then says paused, and the voucher's accepted result goes out in a
    /// second Complete).
    fn awaits_last_payment(&self, _channel: &PullChannel) -> bool {
        false
    }
    /// The channel ended otherwise (cancelled, failed, network).
    fn ended(&self, _channel: &PullChannel, _end: ResponseEnd) {}
    /// A push announced to us (we would receive the data). Refused unless implemented.
    fn validate_push(&self, _channel: &crate::push::PushChannel) -> ValidationResult {
        ValidationResult::default()
    }
    /// A push we accepted has ended (all blocks received, or the transfer failed); the result
    /// for the Complete sent on success.
    fn push_finished(
        &self,
        _channel: &crate::push::PushChannel,
        _end: Result<ResponseStatus, graphsync::net::RequestError>,
    ) -> Option<TypedVoucher> {
        None
    }
}

/// A validator for a host that only pulls: every pull and push asked of it is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServesNothing;

impl Validator for ServesNothing {
    fn validate_pull(&self, _: &PullChannel, _: bool) -> ValidationResult {
        ValidationResult::default()
    }

    fn validate_voucher(&self, _: &PullChannel, _: &TypedVoucher) -> ValidationResult {
        ValidationResult::default()
    }

    fn completed(&self, _: &PullChannel) -> Option<TypedVoucher> {
        None
    }
}

/// A running pull channel on the responding side.
#[derive(Debug)]
pub(crate) struct Responding {
    pub channel: PullChannel,
    pub transfer_id: u64,
    pub request: RequestId,
    pub data_limit: u64,
    pub payment_due_at: u64,
    pub paused: bool,
}

/// The provider's channels, by (initiator, transfer ID), and graphsync requests to them.
#[derive(Debug, Default)]
pub(crate) struct Channels {
    pub by_transfer: HashMap<(PeerId, u64), Responding>,
    pub by_request: HashMap<(PeerId, RequestId), u64>,
    /// Channels whose data is all sent, waiting for their last voucher.
    pub finalizing: HashMap<(PeerId, u64), PullChannel>,
}

/// The graphsync hooks of a data-transfer service.
pub(crate) struct DtHooks {
    pub inner: Weak<Inner>,
}

impl Hooks for DtHooks {
    fn incoming_request(&self, peer: &PeerId, request: &IncomingRequest) -> Validation {
        let Some(inner) = self.inner.upgrade() else {
            return Validation::reject(ResponseStatus::RequestRejected);
        };
        let msg = match message::from_extensions(&request.extensions, EXTENSION_INCOMING_REQUEST) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                tracing::info!(%peer, "data-transfer: undecodable message in a graphsync request: {e}");
                return Validation::reject(ResponseStatus::RequestFailedUnknown);
            }
            None => return Validation::reject(ResponseStatus::RequestRejected),
        };
        if !msg.is_request {
            return crate::push::incoming_answer(&inner, peer, request.id, &msg);
        }
        let Some(req) = msg
            .request
            .filter(|r| r.pull && (r.message_type == message_type::NEW || r.message_type == message_type::RESTART))
        else {
            return Validation::reject(ResponseStatus::RequestRejected);
        };
        let restart = req.message_type == message_type::RESTART;
        let (Some(voucher), Some(base)) = (req.voucher.clone(), req.base_cid) else {
            return Validation::reject(ResponseStatus::RequestFailedUnknown);
        };
        let channel = PullChannel {
            id: message::channel_id(peer, &inner.local, req.transfer_id),
            peer: *peer,
            root: base,
            selector: request.selector.clone(),
            voucher: TypedVoucher {
                kind: req.voucher_type.clone(),
                node: voucher,
            },
            sent: 0,
        };
        let decision = if graphsync::block_cid(&base) == request.root {
            inner.validator.validate_pull(&channel, restart)
        } else {
            ValidationResult::default()
        };
        let answer = message::response(
            req.message_type,
            req.transfer_id,
            decision.accepted,
            decision.accepted && decision.force_pause,
            decision.result.as_ref(),
        );
        let mut validation = Validation::accept();
        validation.extensions = message::incoming_request_extensions(&answer);
        if !decision.accepted {
            // go-data-transfer ends a refused request with a hook error.
            validation.reject = Some(ResponseStatus::RequestFailedUnknown);
            return validation;
        }
        validation.pause = decision.force_pause;
        let mut channels = lock(&inner.channels);
        channels.by_request.insert((*peer, request.id), req.transfer_id);
        channels.by_transfer.insert(
            (*peer, req.transfer_id),
            Responding {
                channel,
                transfer_id: req.transfer_id,
                request: request.id,
                data_limit: decision.data_limit,
                payment_due_at: decision.payment_due_at,
                paused: decision.force_pause,
            },
        );
        validation
    }

    fn outgoing_block(&self, peer: &PeerId, id: RequestId, block: &QueuedBlock) -> BlockAction {
        let Some(inner) = self.inner.upgrade() else {
            return BlockAction::default();
        };
        let mut channels = lock(&inner.channels);
        let Some(xfer) = channels.by_request.get(&(*peer, id)).copied() else {
            return BlockAction::default();
        };
        let Some(ch) = channels.by_transfer.get_mut(&(*peer, xfer)) else {
            return BlockAction::default();
        };
        ch.channel.sent += if block.held_by_requester {
            block.size
        } else {
            block.size_on_wire
        } as u64;
        if ch.paused {
            return BlockAction::default();
        }
        let sent = ch.channel.sent;
        let limit = ch.data_limit != 0 && sent >= ch.data_limit;
        let due = ch.payment_due_at != 0 && sent >= ch.payment_due_at;
        if !limit && !due {
            return BlockAction::default();
        }
        // Decided with the channels locked: a voucher's decision applied meanwhile would act
        // on limits this one is about to replace.
        let decision = if limit {
            inner.validator.data_limit_reached(&ch.channel)
        } else {
            inner.validator.payment_due(&ch.channel)
        };
        let pause = decision.force_pause || !decision.accepted;
        if pause {
            ch.paused = true;
        } else {
            ch.data_limit = decision.data_limit;
            ch.payment_due_at = decision.payment_due_at;
        }
        drop(channels);
        if let Some(result) = &decision.result {
            let msg = message::response(message_type::VOUCHER_RESULT, xfer, true, pause, Some(result));
            inner.send_later(*peer, msg);
        }
        if !pause {
            return BlockAction::default();
        }
        BlockAction {
            extensions: message::outgoing_block_extensions(&message::update_response(xfer, true)),
            pause: true,
        }
    }

    fn request_updated(
        &self,
        peer: &PeerId,
        id: RequestId,
        extensions: &graphsync::Extensions,
    ) -> Vec<(String, RawCbor)> {
        let Some(inner) = self.inner.upgrade() else {
            return Vec::new();
        };
        let Some(Ok(msg)) = message::from_extensions(extensions, crate::EXTENSION) else {
            return Vec::new();
        };
        let xfer = lock(&inner.channels).by_request.get(&(*peer, id)).copied();
        match (xfer, msg.request) {
            (Some(_), Some(req)) if req.message_type == message_type::VOUCHER => {
                on_voucher(&inner, *peer, &req.voucher_type, req.voucher, req.transfer_id, true)
            }
            _ => Vec::new(),
        }
    }

    fn response_finished(&self, peer: &PeerId, id: RequestId, end: ResponseEnd) {
        let Some(inner) = self.inner.upgrade() else { return };
        if crate::push::response_finished(&inner, peer, id, end) {
            return;
        }
        let ch = {
            let mut channels = lock(&inner.channels);
            let Some(xfer) = channels.by_request.remove(&(*peer, id)) else {
                return;
            };
            // A restart may have replaced the channel with a newer request: leave that one.
            match channels.by_transfer.get(&(*peer, xfer)) {
                Some(ch) if ch.request == id => channels.by_transfer.remove(&(*peer, xfer)),
                _ => None,
            }
        };
        let Some(ch) = ch else { return };
        match end {
            ResponseEnd::Sent(s) if s.is_success() => {
                let result = inner.validator.completed(&ch.channel);
                let waits = inner.validator.awaits_last_payment(&ch.channel);
                if waits {
                    lock(&inner.channels)
                        .finalizing
                        .insert((*peer, ch.transfer_id), ch.channel.clone());
                }
                let msg = message::response(message_type::COMPLETE, ch.transfer_id, true, waits, result.as_ref());
                inner.send_later(*peer, msg);
            }
            other => inner.validator.ended(&ch.channel, other),
        }
    }
}

/// A voucher for channel (`peer`, `xfer`): validated (perhaps after chain reads) on a task of
/// its own, then the channel resumes, stays paused, completes or is refused. Nothing is
/// answered in the graphsync update itself: a resume carries its answer in the unpause.
pub(crate) fn on_voucher(
    inner: &Arc<Inner>,
    peer: PeerId,
    kind: &str,
    voucher: Option<RawCbor>,
    xfer: u64,
    _in_update: bool,
) -> Vec<(String, RawCbor)> {
    let Some(node) = voucher else { return Vec::new() };
    let voucher = TypedVoucher {
        kind: kind.to_string(),
        node,
    };
    let snapshot = {
        let channels = lock(&inner.channels);
        match channels.by_transfer.get(&(peer, xfer)) {
            Some(ch) => ch.channel.clone(),
            None => match channels.finalizing.get(&(peer, xfer)) {
                Some(ch) => ch.clone(),
                None => {
                    tracing::info!(%peer, xfer, "data-transfer: voucher for an unknown channel");
                    return Vec::new();
                }
            },
        }
    };
    let pending = inner.validator.validate_voucher_later(&snapshot, &voucher);
    let inner = inner.clone();
    tokio::spawn(async move {
        let decision = pending.await;
        apply_voucher_decision(&inner, peer, xfer, decision).await;
    });
    Vec::new()
}

/// Act on a voucher's decision for channel (`peer`, `xfer`).
pub(crate) async fn apply_voucher_decision(inner: &Arc<Inner>, peer: PeerId, xfer: u64, decision: ValidationResult) {
    let answer = |message_type: u64, paused: bool| {
        message::response(message_type, xfer, decision.accepted, paused, decision.result.as_ref())
    };
    let finalizing = lock(&inner.channels).finalizing.contains_key(&(peer, xfer));
    if finalizing {
        if decision.accepted && decision.force_pause {
            inner.send_later(peer, answer(message_type::VOUCHER_RESULT, true));
            return;
        }
        lock(&inner.channels).finalizing.remove(&(peer, xfer));
        let kind = if decision.accepted {
            message_type::COMPLETE
        } else {
            message_type::VOUCHER_RESULT
        };
        inner.send_later(peer, answer(kind, false));
        return;
    }
    let running = {
        let mut channels = lock(&inner.channels);
        let Some(ch) = channels.by_transfer.get_mut(&(peer, xfer)) else {
            return;
        };
        let mut resume = false;
        if decision.accepted {
            ch.data_limit = decision.data_limit;
            ch.payment_due_at = decision.payment_due_at;
            resume = ch.paused && !decision.force_pause;
            if resume {
                ch.paused = false;
            }
        }
        (resume, ch.request)
    };
    let (resume, request) = running;
    let gs = inner.gs.get();
    if !decision.accepted {
        // The reason first, then the cancel: the requester stops listening once it is cut off.
        if let Err(e) = crate::network::send(&inner.control, peer, &answer(message_type::VOUCHER_RESULT, false)).await {
            tracing::warn!(%peer, "data-transfer: {e}");
        }
        if let Some(gs) = gs {
            gs.cancel_response(peer, request);
        }
    } else if resume {
        if let Some(gs) = gs {
            gs.unpause_response(
                peer,
                request,
                message::general_extension(&answer(message_type::VOUCHER_RESULT, false)),
            );
        }
    } else {
        inner.send_later(peer, answer(message_type::VOUCHER_RESULT, decision.force_pause));
    }
}

/// A provider-side request on `/fil/datatransfer/1.2.0` (a voucher, a cancel).
pub(crate) fn on_request(inner: &Arc<Inner>, peer: PeerId, msg: TransferMessage) {
    let Some(req) = msg.request else { return };
    match req.message_type {
        message_type::NEW if !req.pull => crate::push::on_announce(inner, peer, req),
        message_type::VOUCHER => {
            on_voucher(inner, peer, &req.voucher_type, req.voucher, req.transfer_id, false);
        }
        message_type::CANCEL => {
            let request = lock(&inner.channels)
                .by_transfer
                .get(&(peer, req.transfer_id))
                .map(|ch| ch.request);
            if let (Some(request), Some(gs)) = (request, inner.gs.get()) {
                gs.cancel_response(peer, request);
            }
        }
        other => tracing::info!(%peer, "data-transfer: request type {other} on the stream is not handled"),
    }
}

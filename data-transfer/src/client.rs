//! The requesting side of a pull channel: the graphsync request carries the New; the
//! responder's answers come in graphsync extensions and on `/fil/datatransfer/1.2.0`, and are
//! merged here into one stream of events.

use graphsync::net::{RequestError, RequestEvent};
use graphsync::{Extensions, ResponseStatus};
use libp2p::PeerId;
use market_types::datatransfer::{
    ChannelId, EXTENSION_INCOMING_REQUEST, EXTENSION_OUTGOING_BLOCK, TransferMessage, TransferResponse, message_type,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::message::TypedVoucher;

/// What the holder of a pull channel hears, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The responder accepted the pull (with its voucher result).
    Accepted(Option<TypedVoucher>),
    /// The responder refused it; the channel is over.
    Rejected(Option<TypedVoucher>),
    /// A voucher result (what is owed, a payment's outcome) and whether the responder holds the
    /// data paused.
    VoucherResult {
        accepted: bool,
        paused: bool,
        result: Option<TypedVoucher>,
    },
    /// The responder paused (a data limit) or resumed.
    Paused,
    Resumed,
    /// A verified block, in selector order.
    Block {
        link: graphsync::Cid,
        size: usize,
        received: bool,
    },
    /// All blocks arrived (graphsync finished) or the transfer failed.
    TransferFinished(Result<ResponseStatus, RequestError>),
    /// The responder's Complete, with its final result; the channel is over once this and
    /// `TransferFinished` have both come. A paused Complete means the responder is
    /// finalizing (it waits for a last voucher; another Complete follows): the channel stays
    /// open, and the application reads the result to know what is asked.
    Completed {
        accepted: bool,
        paused: bool,
        result: Option<TypedVoucher>,
    },
    /// The responder cancelled.
    Cancelled,
}

/// A pull channel being received.
#[derive(Debug)]
pub struct Pull {
    pub id: ChannelId,
    pub peer: PeerId,
    pub transfer_id: u64,
    pub request: graphsync::RequestId,
    pub events: mpsc::Receiver<ClientEvent>,
    /// What was proposed, kept for a restart.
    pub root: cid::Cid,
    pub selector: market_types::ipld::RawCbor,
    pub voucher: TypedVoucher,
    /// Link loads this attempt verified (received, found locally or missing); each attempt
    /// walks from the first block again.
    pub loads: Arc<AtomicU64>,
    /// Loads the responder was asked not to send on this attempt (a restart's
    /// `graphsync/do-not-send-first-blocks`).
    pub skipped: u64,
}

impl Pull {
    /// Loads known verified, over every attempt: what a restart asks not to send again.
    pub fn verified(&self) -> u64 {
        self.loads.load(Ordering::SeqCst).max(self.skipped)
    }
}

fn result_of(r: &TransferResponse) -> Option<TypedVoucher> {
    match (&r.voucher_result, r.voucher_type.is_empty()) {
        (Some(node), false) => Some(TypedVoucher {
            kind: r.voucher_type.clone(),
            node: node.clone(),
        }),
        _ => None,
    }
}

/// The events a responder's data-transfer message means for the requester.
pub(crate) fn response_events(msg: &TransferMessage) -> Vec<ClientEvent> {
    let Some(r) = &msg.response else { return Vec::new() };
    let result = result_of(r);
    match r.message_type {
        message_type::NEW | message_type::RESTART => {
            if !r.accepted {
                return vec![ClientEvent::Rejected(result)];
            }
            let mut out = vec![ClientEvent::Accepted(result)];
            if r.paused {
                out.push(ClientEvent::Paused);
            }
            out
        }
        message_type::UPDATE => vec![if r.paused {
            ClientEvent::Paused
        } else {
            ClientEvent::Resumed
        }],
        message_type::VOUCHER_RESULT => vec![ClientEvent::VoucherResult {
            accepted: r.accepted,
            paused: r.paused,
            result,
        }],
        message_type::COMPLETE => vec![ClientEvent::Completed {
            accepted: r.accepted,
            paused: r.paused,
            result,
        }],
        message_type::CANCEL => vec![ClientEvent::Cancelled],
        _ => Vec::new(),
    }
}

/// Data-transfer messages in a graphsync response's extensions (the answer to the request,
/// then a message on an outgoing block, each under its specific or the general name).
fn extension_messages(ext: &Extensions) -> Vec<TransferMessage> {
    let mut out = Vec::new();
    let specific = [EXTENSION_INCOMING_REQUEST, EXTENSION_OUTGOING_BLOCK];
    let mut general_used = false;
    for name in specific {
        if let Some(Some(Ok(m))) = ext.get(name).map(|v| v.map(|v| v.decode::<TransferMessage>())) {
            out.push(m);
            general_used = true;
        }
    }
    if let (false, Some(Ok(m))) = (general_used, crate::message::from_extensions(ext, crate::EXTENSION)) {
        out.push(m);
    }
    out
}

/// Merge a pull's graphsync events and its `/fil/datatransfer/1.2.0` messages until the
/// channel is over. Returns true when the channel ended for good (completed, refused or
/// cancelled by the responder), false when its transfer failed and it can be restarted.
pub(crate) async fn run(
    mut gs_events: mpsc::Receiver<RequestEvent>,
    mut dt: mpsc::Receiver<TransferMessage>,
    out: mpsc::Sender<ClientEvent>,
    loads: Arc<AtomicU64>,
) -> bool {
    let (mut transfer_done, mut completed) = (false, false);
    let mut over = false;
    // After a failed transfer, a moment for the responder's reason on the stream (it cancels
    // the graphsync response right after sending it).
    let mut grace: Option<tokio::time::Instant> = None;
    while !(transfer_done && completed) {
        let events = tokio::select! {
            _ = tokio::time::sleep_until(grace.unwrap_or_else(tokio::time::Instant::now)), if grace.is_some() => {
                completed = true;
                Vec::new()
            }
            ev = gs_events.recv(), if !transfer_done => match ev {
                Some(RequestEvent::Extensions(ext)) => {
                    extension_messages(&ext).iter().flat_map(response_events).collect()
                }
                Some(RequestEvent::Block { link, size, received }) => {
                    loads.fetch_add(1, Ordering::SeqCst);
                    vec![ClientEvent::Block { link, size, received }]
                }
                Some(RequestEvent::Missing(_)) => {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Vec::new()
                }
                Some(RequestEvent::Paused) => Vec::new(),
                Some(RequestEvent::Finished(r)) => {
                    transfer_done = true;
                    let failed = r.is_err();
                    let ev = vec![ClientEvent::TransferFinished(r)];
                    if failed && !completed {
                        grace = Some(tokio::time::Instant::now() + std::time::Duration::from_millis(500));
                    }
                    ev
                }
                None => {
                    transfer_done = true;
                    completed = true;
                    vec![ClientEvent::TransferFinished(Err(RequestError::Stopped))]
                }
            },
            msg = dt.recv() => match msg {
                Some(m) => response_events(&m),
                None => {
                    completed = true;
                    Vec::new()
                }
            },
        };
        for ev in events {
            match &ev {
                ClientEvent::Completed { paused: false, .. } => {
                    completed = true;
                    over = true;
                }
                ClientEvent::Rejected(_) | ClientEvent::Cancelled => {
                    completed = true;
                    transfer_done = true;
                    over = true;
                }
                _ => {}
            }
            if out.send(ev).await.is_err() {
                return over;
            }
        }
    }
    over
}

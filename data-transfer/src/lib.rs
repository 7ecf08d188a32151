//! go-data-transfer 1.2.0 over graphsync: the channels Filecoin retrieval (pull) rides on.
//!
//! - [`message`]: building and reading the `TransferMessage1_1` a channel exchanges, and where
//!   each one travels (a graphsync extension, or a stream of `/fil/datatransfer/1.2.0`);
//! - [`network`]: the `/fil/datatransfer/1.2.0` streams (one message per stream, as
//!   go-data-transfer writes them);
//! - [`provider`]: the responding side of pull channels as graphsync hooks: vouchers are
//!   validated by the application's [`provider::Validator`], the response pauses at the data
//!   limit the validator sets, resumes on an accepted voucher, and ends with a Complete;
//! - [`client`]: the requesting side: open a pull, follow its events, send vouchers;
//! - [`channels`]: the running channels as an operator lists and cancels them.
//!
//! Voucher types are opaque here: the retrieval market plugs its validators in.

pub mod channels;
pub mod client;
pub mod message;
pub mod network;
pub mod provider;
pub mod push;
pub mod service;
pub mod store;

pub use service::{DataTransfer, DataTransferError};

pub use market_types::datatransfer::{
    ChannelId, EXTENSION, EXTENSION_INCOMING_REQUEST, EXTENSION_OUTGOING_BLOCK, PROTOCOL, TransferMessage,
    TransferRequest, TransferResponse,
};

/// A lock whose poisoning (a panic while held) leaves plain data: go on with it.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

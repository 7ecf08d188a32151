//! Graphsync 2.0.0, the IPLD-selector transfer protocol go-data-transfer and lassie retrieve
//! over, independent of Filecoin.
//!
//! Layers, each usable alone:
//! - [`message`]: the wire messages (`{"gs2": {req, rsp, blk}}` in dag-cbor) and their
//!   length-prefixed frame, byte-identical with go-graphsync's `message/v2`;
//! - [`ipld`], [`selector`], [`walk`]: the data model of dag-pb, dag-cbor and raw blocks, IPLD
//!   selectors, and a selector walk without IO in go-ipld-prime's order;
//! - [`responder`] and [`requester`]: the two sides' decisions without IO (what is sent, how
//!   it is batched, what status it carries; how a response is checked against the walk);
//! - [`net`]: the shell over libp2p streams (one-way streams, as go-graphsync uses them),
//!   with block sources and sinks ([`store`]), hooks, pause, cancel and memory limits.

pub mod ipld;
pub mod message;
pub mod net;
pub mod requester;
pub mod responder;
pub mod selector;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod unixfs;
pub mod walk;

pub use message::{
    Block, Extensions, LinkAction, Message, MessageError, MetadataEntry, Request, RequestId, RequestKind, Response,
    ResponseStatus,
};
pub use selector::Selector;
pub use store::{BlockSink, BlockSource, MemoryStore};

/// The protocol ID.
pub const PROTOCOL: &str = "/ipfs/graphsync/2.0.0";

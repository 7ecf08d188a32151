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

/// A block's CID as graphsync names blocks: a digest of up to 128 bytes, because an inlined
/// identity CID (go-unixfs inlines blocks of up to 126 bytes, as lotus and venus import data)
/// is longer than the 64 of [`cid::Cid`].
pub type Cid = cid::CidGeneric<128>;

/// `c` as a block CID (every [`cid::Cid`] is one).
pub fn block_cid(c: &cid::Cid) -> Cid {
    Cid::try_from(c.to_bytes().as_slice()).expect("a 64-byte digest fits in 128")
}

/// `c` as a [`cid::Cid`], when its digest fits (all but long identity CIDs).
pub fn narrow_cid(c: &Cid) -> Option<cid::Cid> {
    cid::Cid::try_from(c.to_bytes().as_slice()).ok()
}

/// The protocol ID.
pub const PROTOCOL: &str = "/ipfs/graphsync/2.0.0";

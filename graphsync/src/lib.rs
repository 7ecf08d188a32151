//! Graphsync 2.0.0, the IPLD-selector transfer protocol go-data-transfer and lassie retrieve
//! over, independent of Filecoin.
//!
//! - [`message`]: the wire messages (`{"gs2": {req, rsp, blk}}` in dag-cbor), with a
//!   length-prefixed frame, byte-identical with go-graphsync's `message/v2`.
//!
//! The requester, the responder and the libp2p behaviour come next (issue 16).

pub mod message;
#[cfg(feature = "testing")]
pub mod testing;

pub use message::{
    Block, Extensions, LinkAction, Message, MessageError, MetadataEntry, Request, RequestId, RequestKind, Response,
    ResponseStatus,
};

/// The protocol ID.
pub const PROTOCOL: &str = "/ipfs/graphsync/2.0.0";

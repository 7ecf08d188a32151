//! The provider side of IPNI, the InterPlanetary Network Indexer, without IO.
//!
//! A provider keeps a chain of signed advertisements, each saying that the multihashes in an
//! entries chain are (or are no longer) retrievable from it under a context ID, with metadata
//! naming the transports. An indexer learns of a new head from an announcement, fetches the
//! signed head and the blocks from the provider's publisher, and walks back to what it has.
//! Everything here is as go-libipni encodes it, so indexers (storetheindex, cid.contact) and
//! clients (lassie, Spark) read it.
//!
//! - [`schema`]: advertisements and entry chunks, their dag-json blocks and signatures;
//! - [`entries`]: multihashes into a chain of chunks;
//! - [`metadata`]: the retrieval transports (graphsync-filecoinv1, the trustless gateway);
//! - [`chain`]: the next advertisement of a chain, and when one is needed;
//! - [`head`]: the signed head a publisher serves; [`announce`]: the announce message.

pub mod announce;
mod cbor;
pub mod chain;
pub mod dagjson;
pub mod entries;
pub mod head;
pub mod metadata;
pub mod schema;

pub use chain::{Advertised, Identity, PutDecision, decide_put};
pub use schema::{Advertisement, block_cid, no_entries};

/// The topic go-libipni puts in a signed head when none is configured.
pub const DEFAULT_TOPIC: &str = "/indexer/ingest/mainnet";
/// Where an ipnisync publisher serves the chain (`head` and `<cid>` below it).
pub const IPNI_PATH: &str = "/ipni/v1/ad";

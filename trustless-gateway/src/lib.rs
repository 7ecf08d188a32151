//! The IPFS trustless gateway (`GET`/`HEAD /ipfs/{cid}[/path]`) without IO, as lassie, frisbii
//! and booster-http speak it:
//!
//! - [`request`]: a request parsed as go-trustless-utils parses it (format, CAR parameters,
//!   scope, byte range, path), its entity tag and the URL a client sends;
//! - [`selector`]: the IPLD selector the request means, walked by the `graphsync` crate's
//!   walk, so the blocks and their order are the ones a Go verifier expects;
//! - [`serve`]: resolving the path before answering (404 for a missing root or path, 400 for
//!   a byte range outside the entity) and streaming the CAR, block by block, from any
//!   [`graphsync::BlockSource`];
//! - [`verify`]: a client's check of a CAR response against the same walk.

pub mod request;
pub mod selector;
pub mod serve;
pub mod verify;

pub use request::{ByteRange, Format, Request, RequestError, Scope};
pub use serve::{Resolved, ServeError, resolve, stream_car};

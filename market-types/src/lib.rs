//! Every value that crosses a wire or lands in a store, encoded exactly as the Go market
//! implementations (go-fil-markets, boost, droplet, go-state-types, lotus) encode it.
//!
//! - [`cbor`]: the strict cbor-gen-compatible codec and the traits every wire type implements.
//! - [`json`]: Lotus JSON, for the JSON-RPC APIs.
//! - Leaf values: [`address`], [`bigint`], [`signature`], [`bytes`], [`label`], [`ipld`], [`units`].
//! - Messages by protocol: [`chain`], [`storage`] (legacy storage market), [`boost`] (1.2.x),
//!   [`retrieval`], [`datatransfer`]; state enums in [`states`].
//!
//! No IO, no clocks, no randomness: this crate only describes and converts values.

pub mod macros;

pub mod actors;
pub mod address;
pub mod bigint;
pub mod boost;
pub mod bytes;
pub mod cbor;
pub mod chain;
pub mod datatransfer;
pub mod ipld;
pub mod json;
pub mod label;
pub mod policy;
pub mod retrieval;
pub mod signature;
pub mod states;
pub mod storage;
pub mod units;

#[cfg(feature = "testing")]
pub mod testing;

pub use address::Address;
pub use bigint::{BigInt, TokenAmount};
pub use bytes::{Bytes, PeerId, Uuid};
pub use cid::Cid;
pub use label::DealLabel;
pub use signature::{SigType, Signature};

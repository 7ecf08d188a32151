//! Storage deals on the provider side: the stored record, the store, and taking proposals
//! and status requests over libp2p. (Data import, funds, publishing, hand-off and tracking
//! follow.)

pub mod accept;
pub mod legacy;
pub mod record;
pub mod runner;
pub mod sealing;
pub mod store;
pub mod transfer;

pub use record::{DealRecord, DealRecordExt};
pub use store::DealStore;

//! The retrieval market, provider side: the query protocol, the deal validator over
//! data-transfer, blocks from piece storage, and the deal records.
//!
//! - `lookup`: which piece serves a payload and on what terms.
//! - `query`: `/fil/retrieval/qry/1.0.0`.
//! - `provider`: the data-transfer validator and the deal machine's shell.
//! - `source`: graphsync's block source over the piece index and piece storage.
//! - `unseal`: a piece put in piece storage before it is served, unsealed by a sealer if
//!   needed.
//! - `record`: the deal records.
//! - `vouchers`: payments checked against the chain's payment channels, kept per lane.
//! - `redeem`: submitting the best vouchers, settling and collecting; automatically for
//!   channels the payer settles.

pub mod lookup;
pub mod provider;
pub mod query;
pub mod record;
pub mod redeem;
pub mod source;
pub mod unseal;
pub mod vouchers;

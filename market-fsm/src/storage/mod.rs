//! The storage market's machines and decisions (retrieval's stand beside this module).
//!
//! - `checks`: the provider's acceptance checks, a pure function of the proposal, the chain
//!   facts and the miner's policy.
//! - `provider` and `client`: the two sides' storage deal, `(state, event) -> (state, actions)`.
//! - `publish`: per-miner publish batching (period, deal count, message size), the re-check of
//!   a due batch, and deal IDs from a landed message.
//! - `funds`: the collateral ledger that decides when an AddBalance is needed.
//! - `transition`: the error both machines give for an event that does not fit.

pub mod checks;
pub mod client;
pub mod direct;
pub mod distribution;
pub mod funds;
pub mod provider;
pub mod publish;
pub mod transition;

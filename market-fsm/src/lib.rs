//! Sans-IO state machines of the market and the decisions they rest on.
//!
//! - `checks`: the provider's acceptance checks, a pure function of the proposal, the chain
//!   facts and the miner's policy.
//! - `provider` and `client`: the two sides' storage deal, `(state, event) -> (state, actions)`.
//! - `publish`: per-miner publish batching (period, deal count, message size).
//! - `funds`: the collateral ledger that decides when an AddBalance is needed.
//!
//! No IO, no clock, no randomness: the daemons persist the new state and its actions, perform
//! the actions, and feed the results back as events.

pub mod checks;
pub mod client;
pub mod funds;
pub mod provider;
pub mod publish;
pub mod transition;

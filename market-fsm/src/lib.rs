//! Sans-IO state machines of the market and the decisions they rest on.
//!
//! - `storage`: the storage deal on both sides, its acceptance checks, publish batching and
//!   the collateral ledger.
//! - `retrieval`: the provider's retrieval deal and the payment-interval arithmetic.
//!
//! No IO, no clock, no randomness: the daemons persist the new state and its actions, perform
//! the actions, and feed the results back as events. Time comes in as values (`now_ms`), and
//! a machine that waits says until when (`due_ms`, `after_ms`), in the quinn-proto manner.

pub mod retrieval;
pub mod storage;

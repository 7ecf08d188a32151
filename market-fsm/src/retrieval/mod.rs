//! The retrieval market's machines and the payment arithmetic they rest on.
//!
//! - `payment`: go-fil-markets' interval arithmetic (`NextInterval`, `IntervalLowerBound`,
//!   `OutstandingBalance`), exact to the attoFIL, without Go's endless loop on a zero interval.
//! - `provider`: the provider's retrieval deal, `(state, event) -> (state, actions)`, with
//!   go-fil-markets' status numbers and names.

pub mod payment;
pub mod provider;

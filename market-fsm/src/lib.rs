//! Sans-IO state machines of the market: storage deal (provider and client), retrieval deal
//! (provider and client), publish batching and fund reservation.
//!
//! Each machine is a pure function `(state, event) -> (state, actions)`: no IO, no clock, no
//! randomness. The daemons persist the new state and its actions, then perform the actions and
//! feed the results back as events.
//!
//! Empty until the storage-deal issue: the machines are written with the deal flow they drive.

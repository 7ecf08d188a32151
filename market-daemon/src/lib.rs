//! What droplet and droplet-client share as daemons: the repo layout and its secrets, the
//! config sections both have and config loading that tolerates unknown keys,
//! the embedded store and the stop signal.

pub mod config;
pub mod repo;
pub mod signal;
pub mod store;

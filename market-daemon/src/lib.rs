//! What droplet and droplet-client share as daemons: the repo layout and its secrets, the
//! config sections both have and config loading that tolerates unknown keys,
//! the embedded store, the stop signal, and serving the API
//! (with the `api` and `token` files); and the CLIs' progress on long work.

pub mod api_server;
pub mod cli;
pub mod config;
pub mod funds;
pub mod malloc;
pub mod metrics;
pub mod progress;
pub mod repo;
pub mod signal;
/// The daemons' store (RocksDB, or SQL with market-store's `sql` feature).
pub use market_store as store;

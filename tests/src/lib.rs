//! End-to-end tests: they start `droplet-devnet`, `droplet` and `droplet-client` as real
//! processes on loopback, in temporary repos, and clean them up.
//!
//! The shared harness lives here; the tests are in `tests/` and in each binary's `tests/`.

pub mod browser;
pub mod car;
pub mod cli;
pub mod crash;
pub mod gopeers;
pub mod market;
pub mod memory;
pub mod procs;
pub mod retrieval;
pub mod soak;

pub use test_databases as sqlserver;

/// The market store's settings for a test database at `dsn`: a small pool, no statement log.
pub fn sql_config(dsn: &str) -> market_store::sql::SqlConfig {
    market_store::sql::SqlConfig {
        connection: dsn.to_string(),
        max_open: 10,
        max_idle: 10,
        max_lifetime: None,
        debug: false,
    }
}
pub use test_inputs::{gorand, unixfs_inputs};

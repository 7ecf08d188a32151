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
pub use test_inputs::{gorand, unixfs_inputs};

//! droplet-client, the data owner's market daemon: its config, the daemon and its API, asking
//! providers for their asks, local imports, and proposing and following deals. `main.rs` is the CLI over these.

pub mod asks;
pub mod config;
pub mod daemon;
pub mod deals;
pub mod imports;
pub mod metrics;
pub mod paych;
pub mod retrieval;

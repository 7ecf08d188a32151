//! droplet, the storage provider's market daemon: its config, repo and store, the chain
//! side (node, signer, messages), the served miners, asks, the JSON-RPC API and the daemon
//! that wires them. `main.rs` is the CLI over these.

pub mod api;
pub mod asks;
pub mod chain;
pub mod config;
pub mod daemon;
pub mod deals;
pub mod direct;
pub mod http;
pub mod indexprovider;
pub mod lease;
pub mod market_events;
pub mod metrics;
pub mod miners;
pub mod pieces;
pub mod resource;
pub mod retrieval;
pub mod ui;

pub use market_daemon::{repo, store};

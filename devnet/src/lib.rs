//! droplet-devnet: a local Filecoin chain that speaks the venus/lotus JSON-RPC and enforces
//! the market actor's rules, so the whole market runs and is tested on one machine.
//!
//! Layers, bottom up: `state` (actors and their rules, no IO), `chain` (message pool, blocks,
//! lookup, replay), `genesis` (what the chain starts with), `store` and `keystore` (RocksDB
//! and key files), `node` (the chain behind a lock, persistence, wallet, messager records),
//! `rpc` and `http` (the JSON-RPC and REST surfaces).

pub mod chain;
pub mod genesis;
pub mod http;
pub mod keystore;
pub mod node;
pub mod rpc;
pub mod sealer;
pub mod state;
pub mod store;
pub mod unsealer;

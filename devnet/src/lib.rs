//! A local Filecoin chain serving the venus/lotus JSON-RPC (and messager, wallet, auth) and
//! enforcing the market-actor rules, so the market runs and is tested on one machine.
//!
//! - [`state`]: the chain state and its transition (actors, message execution, cron), pure.

pub mod chain;
pub mod state;

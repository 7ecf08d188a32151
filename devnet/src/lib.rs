//! A local Filecoin chain serving the venus/lotus JSON-RPC (and messager, wallet, auth) and
//! enforcing the market-actor rules, so the market runs and is tested on one machine.
//!
//! Empty until the devnet issue.

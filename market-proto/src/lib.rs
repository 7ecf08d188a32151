//! Everything that crosses a process boundary, with no business logic: the JSON-RPC API
//! definitions we serve and the remote ones we call (full node, messager, wallet, gateway),
//! serving them with venus's token rules, API-info parsing and JWT. (libp2p protocol codecs
//! arrive with the daemon issue.)

pub mod api;
pub mod api_info;
pub mod auth;
pub mod client;
pub mod files;
pub mod jwt;
pub mod messages;
pub mod p2p;
pub mod server;
pub mod signer;

pub use api::Json;

//! The JSON-RPC half of what crosses a process boundary, with no business logic: the API
//! definitions we serve and the remote ones we call (full node, messager, wallet, gateway,
//! sophon-auth), serving them with venus's token rules, API-info parsing, JWT, the signer and
//! the two ways messages are sent. The libp2p half is the `market-p2p` crate.

pub mod api;
pub mod api_info;
pub mod auth;
pub mod client;
pub mod files;
pub mod jwt;
pub mod messages;
pub mod server;
pub mod signer;

pub use api::Json;

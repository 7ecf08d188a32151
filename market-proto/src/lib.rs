//! Everything that crosses a process boundary, with no business logic: libp2p protocol codecs
//! (limits, deadlines), the JSON-RPC API definitions we serve and the remote ones we call (full
//! node, messager, wallet, gateway, auth), API-info parsing and JWT.
//!
//! Empty until the daemon and devnet issues, which define these APIs once for both sides.

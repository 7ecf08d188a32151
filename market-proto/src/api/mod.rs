//! The JSON-RPC APIs, each defined once as a `jsonrpsee` trait: the server side is implemented
//! by the devnet (and later droplet), the client side is what the daemons call.
//!
//! Every parameter and result that has a Lotus JSON form travels as [`Json<T>`], so the wire
//! shapes are the ones in `market_types::json`. Each API also has a permission table: the
//! least permission a token needs to call each method.

pub mod full_node;
pub mod gateway;
pub mod market;
pub mod market_client;
pub mod messager;
pub mod wallet;

use jsonrpsee::types::ErrorObjectOwned;

pub use market_types::json::Json;

use crate::jwt::Perm;

/// go-jsonrpc's code for a handler error.
pub const HANDLER_ERROR: i32 = 1;

/// A handler error as a Go server reports it: code 1 and the message.
pub fn handler_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(HANDLER_ERROR, message.into(), None::<()>)
}

/// One method's entry in an API's table: its name (without namespace), the least permission
/// a token needs, and how many positional parameters it takes at most (go-jsonrpc refuses
/// more with "wrong param count"; jsonrpsee alone would ignore them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSpec {
    pub name: &'static str,
    pub perm: Perm,
    pub params: usize,
}

/// Shorthand for table entries.
pub const fn spec(name: &'static str, perm: Perm, params: usize) -> MethodSpec {
    MethodSpec { name, perm, params }
}

/// Permission and parameter count of every method an endpoint serves, by full name.
/// Methods not in the table need admin.
#[derive(Debug, Clone, Default)]
pub struct MethodTable {
    entries: std::collections::HashMap<String, MethodSpec>,
}

impl MethodTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) `namespace.Method` entries.
    pub fn with(mut self, namespace: &str, entries: &[MethodSpec]) -> Self {
        for e in entries {
            self.entries.insert(format!("{namespace}.{}", e.name), *e);
        }
        self
    }

    /// The permission `method` needs (admin when the table does not list it).
    pub fn required(&self, method: &str) -> Perm {
        self.entries.get(method).map_or(Perm::Admin, |e| e.perm)
    }

    /// The most parameters `method` takes, when the table lists it.
    pub fn max_params(&self, method: &str) -> Option<usize> {
        self.entries.get(method).map(|e| e.params)
    }

    pub fn contains(&self, method: &str) -> bool {
        self.entries.contains_key(method)
    }
}

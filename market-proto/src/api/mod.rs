//! The JSON-RPC APIs, each defined once as a `jsonrpsee` trait: the server side is implemented
//! by the devnet (and later droplet), the client side is what the daemons call.
//!
//! Every parameter and result that has a Lotus JSON form travels as [`Json<T>`], so the wire
//! shapes are the ones in `market_types::json`. Each API also has a permission table: the
//! least permission a token needs to call each method.

pub mod direct_deal;
pub mod full_node;
pub mod gateway;
pub mod indexer;
pub mod market;
pub mod market_client;
pub mod market_event;
pub mod messager;
pub mod pieces;
pub mod retrieval;
pub mod transfers;
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

/// Every method `module` serves must have an entry in `table` (an unlisted method would need
/// admin, which hides a missing entry until a user with a read token trips over it). The
/// method names that have none, when any.
pub fn check_permissions<C>(module: &jsonrpsee::RpcModule<C>, table: &MethodTable) -> Result<(), Vec<String>> {
    let mut missing: Vec<String> = module
        .method_names()
        .filter(|m| !table.contains(m))
        .map(str::to_string)
        .collect();
    missing.sort();
    if missing.is_empty() { Ok(()) } else { Err(missing) }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_served_method_without_a_permission_entry_is_named() {
        let mut module = jsonrpsee::RpcModule::new(());
        for name in ["VENUS_MARKET.ActorList", "VENUS_MARKET.PiecesListPieces"] {
            module
                .register_method(name, |_, _, _| serde_json::Value::Null)
                .expect("registers");
        }
        let table = MethodTable::new().with("VENUS_MARKET", &[spec("ActorList", Perm::Read, 0)]);
        assert_eq!(
            check_permissions(&module, &table),
            Err(vec!["VENUS_MARKET.PiecesListPieces".to_string()])
        );
        let full = table.with("VENUS_MARKET", pieces::METHODS);
        assert_eq!(check_permissions(&module, &full), Ok(()));
    }
}

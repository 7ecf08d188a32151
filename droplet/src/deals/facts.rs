//! What the proposal checks read from the chain, read once per head: the chain's state cannot
//! change until the head does, so every answer read at one tipset is kept for that tipset and
//! dropped when a new head is seen (the head itself is read again after [`HEAD_FOR`]). A burst
//! of proposals costs the node one read per distinct question per epoch instead of five reads
//! per proposal; key addresses (f1, f3) are their own account key and are never looked up, and
//! an ID address's key never changes, so it is kept across heads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonrpsee::http_client::HttpClient;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_types::address::Protocol;
use market_types::chain::{DealCollateralBounds, MarketBalance, TipSetKey};
use market_types::{Address, BigInt};

/// How long a head read is used before the node is asked again. A proposal checked against a
/// head this old at most is checked as it would have been a moment earlier.
pub const HEAD_FOR: Duration = Duration::from_millis(250);

/// At most this many entries per table; beyond it a table starts again (outside input must not
/// grow memory without bound).
const MAX_ENTRIES: usize = 100_000;

type CallResult<T> = Result<T, jsonrpsee::core::client::Error>;

/// One answer, read by the first proposal that asks while the others wait for it.
type Cell<V> = Arc<tokio::sync::OnceCell<V>>;

#[derive(Default)]
struct AtHead {
    key: TipSetKey,
    height: i64,
    read_at: Option<Instant>,
    bounds: HashMap<(u64, bool), Cell<DealCollateralBounds>>,
    balances: HashMap<Address, Cell<MarketBalance>>,
    datacap: HashMap<Address, Cell<Option<BigInt>>>,
}

/// The chain reads of the proposal checks, kept per head.
pub struct ChainFacts {
    node: HttpClient,
    at: Mutex<AtHead>,
    keys: Mutex<HashMap<Address, Address>>,
}

impl std::fmt::Debug for ChainFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainFacts")
    }
}

impl ChainFacts {
    pub fn new(node: HttpClient) -> Self {
        ChainFacts {
            node,
            at: Mutex::new(AtHead::default()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn at(&self) -> std::sync::MutexGuard<'_, AtHead> {
        self.at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The head's key and height, read from the node at most every [`HEAD_FOR`] (every time
    /// if `fresh`); a new tipset drops what was read at the old one.
    pub async fn head(&self, fresh: bool) -> CallResult<(TipSetKey, i64)> {
        if !fresh {
            let at = self.at();
            if at.read_at.is_some_and(|t| t.elapsed() < HEAD_FOR) {
                return Ok((at.key.clone(), at.height));
            }
        }
        let ts = self.node.chain_head().await?.0;
        let key = ts.key();
        let mut at = self.at();
        if at.key != key {
            *at = AtHead {
                key: key.clone(),
                height: ts.height(),
                ..AtHead::default()
            };
        }
        at.read_at = Some(Instant::now());
        Ok((key, ts.height()))
    }

    /// The answer kept for `k` at head `key`, else `read`'s (one read for all who ask at
    /// once; a failed read is not kept). Read at a head already left behind, nothing is kept.
    async fn once<K, V, Fut>(
        &self,
        key: &TipSetKey,
        table: impl FnOnce(&mut AtHead) -> &mut HashMap<K, Cell<V>>,
        k: K,
        read: impl FnOnce() -> Fut,
    ) -> CallResult<V>
    where
        K: std::hash::Hash + Eq,
        V: Clone,
        Fut: std::future::Future<Output = CallResult<V>>,
    {
        let cell = {
            let mut at = self.at();
            if at.key == *key {
                let m = table(&mut at);
                if m.len() >= MAX_ENTRIES && !m.contains_key(&k) {
                    m.clear();
                }
                Some(m.entry(k).or_default().clone())
            } else {
                None
            }
        };
        match cell {
            Some(c) => c.get_or_try_init(read).await.cloned(),
            None => read().await,
        }
    }

    pub async fn collateral_bounds(
        &self,
        key: &TipSetKey,
        size: u64,
        verified: bool,
    ) -> CallResult<DealCollateralBounds> {
        self.once(
            key,
            |at| &mut at.bounds,
            (size, verified),
            || async {
                Ok(self
                    .node
                    .state_deal_provider_collateral_bounds(size, verified, Json(key.clone()))
                    .await?
                    .0)
            },
        )
        .await
    }

    pub async fn market_balance(&self, key: &TipSetKey, addr: &Address) -> CallResult<MarketBalance> {
        self.once(
            key,
            |at| &mut at.balances,
            *addr,
            || async { Ok(self.node.state_market_balance(Json(*addr), Json(key.clone())).await?.0) },
        )
        .await
    }

    pub async fn datacap(&self, key: &TipSetKey, addr: &Address) -> CallResult<Option<BigInt>> {
        self.once(
            key,
            |at| &mut at.datacap,
            *addr,
            || async {
                Ok(self
                    .node
                    .state_verified_client_status(Json(*addr), Json(key.clone()))
                    .await?
                    .map(|c| c.0))
            },
        )
        .await
    }

    /// The key address that signs for `addr`: itself for a key address, else the chain's
    /// answer, kept (an account's key never changes).
    pub async fn account_key(&self, addr: &Address) -> CallResult<Address> {
        if matches!(addr.protocol(), Protocol::Secp256k1 | Protocol::BLS) {
            return Ok(*addr);
        }
        if let Some(k) = self.keys.lock().unwrap_or_else(|e| e.into_inner()).get(addr) {
            return Ok(*k);
        }
        let k = self
            .node
            .state_account_key(Json(*addr), Json(TipSetKey::empty()))
            .await?
            .0;
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_ENTRIES {
            keys.clear();
        }
        keys.insert(*addr, k);
        Ok(k)
    }
}

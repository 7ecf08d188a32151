//! A running devnet: the chain behind a lock, its persistence, the wallet, the messager's
//! records, and head-change notification. The RPC layer (`rpc.rs`) is a thin shell over this.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use market_crypto::{Key, KeyType};
use market_proto::api::messager::{MessagerMessage, state as msg_state};
use market_proto::api::wallet::{MsgMeta, meta_type};
use market_proto::jwt::{self, JwtPayload, Perm};
use market_types::chain::{Message, MessageSendSpec, MsgLookup, SignedMessage, TipSet};
use market_types::units::ChainEpoch;
use market_types::{Address, Cid, Signature, TokenAmount, cbor};
use tokio::sync::watch;

use crate::chain::Chain;
use crate::genesis::{Genesis, GenesisConfig, GenesisError};
use crate::keystore::{Keystore, KeystoreError, write_private};
use crate::store::{Store, StoreError};

/// Why the node could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    #[error(
        "replaying the stored chain: {0} (the repo was written by an incompatible devnet; start with a fresh --repo)"
    )]
    Replay(#[from] crate::chain::ReplayError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Rejected(String),
}

/// A messager record: the id a client chose and the signed message it became.
#[derive(Debug, Clone)]
struct MessagerEntry {
    signed: SignedMessage,
    created_at: u64,
}

struct Inner {
    chain: Chain,
    keystore: Keystore,
    messager: BTreeMap<String, MessagerEntry>,
}

/// The devnet node.
pub struct Node {
    inner: Mutex<Inner>,
    store: Option<Store>,
    head: watch::Sender<ChainEpoch>,
    genesis: Genesis,
    secret: Vec<u8>,
    /// Methods made to fail (`Devnet.FailMethod`): calls left to fail, by full name.
    faults: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("store", &self.store).finish()
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Node {
    /// A node in memory only (tests): fresh keys, nothing written.
    pub fn ephemeral(config: GenesisConfig) -> Result<Arc<Node>, NodeError> {
        let (genesis, keys) = Genesis::create(config, now_secs())?;
        let mut keystore = Keystore::in_memory();
        for (name, key) in keys {
            keystore.insert(key, Some(&name))?;
        }
        let secret = jwt::new_secret().to_vec();
        Self::assemble(genesis, keystore, None, secret)
    }

    /// Open the devnet in `repo`, creating its genesis from `config` on first start; later
    /// starts rebuild the stored chain and ignore `config`.
    pub fn open(repo: &Path, config: GenesisConfig) -> Result<Arc<Node>, NodeError> {
        std::fs::create_dir_all(repo).map_err(io_err(repo))?;
        let store = Store::open(&repo.join("chain.db"))?;
        let mut keystore = Keystore::open(&repo.join("keystore"))?;
        let genesis = match store.genesis()? {
            Some(g) => {
                if g.config != config {
                    tracing::info!("the repo already holds a chain; its own genesis is used");
                }
                g
            }
            None => {
                let (g, keys) = Genesis::create(config, now_secs())?;
                for (name, key) in keys {
                    keystore.insert(key, Some(&name))?;
                }
                store.put_genesis(&g)?;
                g
            }
        };
        let secret_path = repo.join("secret");
        let secret = match std::fs::read(&secret_path) {
            Ok(s) if !s.is_empty() => s,
            _ => {
                let s = jwt::new_secret().to_vec();
                write_private(&secret_path, &s)?;
                s
            }
        };
        Self::assemble(genesis, keystore, Some(store), secret)
    }

    fn assemble(
        genesis: Genesis,
        keystore: Keystore,
        store: Option<Store>,
        secret: Vec<u8>,
    ) -> Result<Arc<Node>, NodeError> {
        let mut chain = Chain::new(genesis.state()?, genesis.timestamp);
        let mut messager = BTreeMap::new();
        if let Some(store) = &store {
            let blocks = store.blocks()?;
            let n = blocks.len();
            for (_, block) in blocks {
                chain.replay(&block)?;
            }
            for (id, raw) in store.messager_records()? {
                match decode_entry(&raw) {
                    Some(e) => {
                        messager.insert(id, e);
                    }
                    None => tracing::warn!(%id, "skipping a damaged messager record"),
                }
            }
            if n > 0 {
                tracing::info!(blocks = n, height = chain.height(), "replayed the stored chain");
            }
            // The message pool is not stored: put back the messager's messages a crash
            // caught before they were mined (those whose nonce has passed are dropped).
            for (id, e) in &messager {
                if chain.search(&e.signed.cid()).is_none()
                    && let Err(err) = chain.push(e.signed.clone())
                {
                    tracing::warn!(%id, error = %err, "a queued message could not be re-pooled");
                }
            }
        }
        let (head, _) = watch::channel(chain.height());
        Ok(Arc::new(Node {
            inner: Mutex::new(Inner {
                chain,
                keystore,
                messager,
            }),
            store,
            head,
            genesis,
            secret,
            faults: Mutex::new(HashMap::new()),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock would be a bug; keep serving the last good state.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The HS256 secret tokens are signed with.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Make the next `count` calls of `method` (its full name, `Filecoin.StateMarketBalance`)
    /// answer an error; 0 ends a fault. Not persisted: a restart ends them all.
    pub fn fail_method(&self, method: &str, count: u64) {
        let mut f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        if count == 0 {
            f.remove(method);
        } else {
            f.insert(method.to_string(), count);
        }
    }

    /// Whether this call of `method` is one made to fail (counted).
    pub fn take_fault(&self, method: &str) -> bool {
        let mut f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        match f.get_mut(method) {
            Some(left) => {
                *left -= 1;
                if *left == 0 {
                    f.remove(method);
                }
                true
            }
            None => false,
        }
    }

    /// A token for `perm`.
    pub fn token(&self, perm: Perm) -> String {
        jwt::sign(&self.secret, &JwtPayload::new("devnet", perm))
    }

    /// Run `f` on the chain.
    pub fn with_chain<R>(&self, f: impl FnOnce(&Chain) -> R) -> R {
        f(&self.lock().chain)
    }

    /// Run `f` on the wallet.
    pub fn with_keystore<R>(&self, f: impl FnOnce(&mut Keystore) -> R) -> R {
        f(&mut self.lock().keystore)
    }

    /// Head heights as they change.
    pub fn subscribe(&self) -> watch::Receiver<ChainEpoch> {
        self.head.subscribe()
    }

    /// Mine the next tipset after `null_rounds` empty epochs; the block is stored before
    /// anyone hears of it.
    pub fn mine(&self, null_rounds: u64) -> Result<TipSet, NodeError> {
        let (height, head) = {
            let mut inner = self.lock();
            let next = inner.chain.height() + 1 + null_rounds as ChainEpoch;
            let timestamp = self.genesis.timestamp + next as u64 * 30;
            let block = inner.chain.mine(null_rounds, timestamp);
            if let Some(store) = &self.store {
                store.put_block(block.header.height, &block)?;
            }
            (inner.chain.height(), inner.chain.head())
        };
        self.head.send_replace(height);
        Ok(head)
    }

    /// Mine on a timer until the returned task is aborted.
    pub fn run_timer(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let node = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = node.mine(0) {
                    tracing::error!(error = %e, "mining stopped: the block could not be stored");
                    return;
                }
            }
        })
    }

    // ------------------------------------------------------------ messages

    /// Fill in what `GasEstimateMessageGas` fills: gas limit (used gas + 25 %), premium and
    /// fee cap, keeping values the caller set and capping the fee at `spec.MaxFee`.
    pub fn estimate_gas(&self, mut msg: Message, spec: Option<&MessageSendSpec>) -> Message {
        let inner = self.lock();
        let st = &inner.chain.state;
        if msg.gas_limit <= 0 {
            msg.gas_limit = st.gas_used(&msg) * 5 / 4;
        }
        if msg.gas_premium.is_zero() {
            msg.gas_premium = TokenAmount::from_atto(1_000);
        }
        if msg.gas_fee_cap.is_zero() {
            msg.gas_fee_cap = &st.policy.base_fee * 2u64 + &msg.gas_premium;
        }
        if let Some(max) = spec.map(|s| &s.max_fee).filter(|m| !m.is_zero()) {
            let total = &msg.gas_fee_cap * msg.gas_limit as u64;
            if &total > max {
                msg.gas_fee_cap = max.div_floor(msg.gas_limit as u64);
                if msg.gas_premium > msg.gas_fee_cap {
                    msg.gas_premium = msg.gas_fee_cap.clone();
                }
            }
        }
        msg
    }

    /// Check and pool a signed message.
    pub fn push(&self, signed: SignedMessage) -> Result<Cid, NodeError> {
        self.lock()
            .chain
            .push(signed)
            .map_err(|e| NodeError::Rejected(e.to_string()))
    }

    /// Estimate gas, take the next nonce, sign with a key this node holds, and pool it
    /// (`MpoolPushMessage`).
    pub fn sign_and_push(&self, msg: Message, spec: Option<&MessageSendSpec>) -> Result<SignedMessage, NodeError> {
        let mut msg = self.estimate_gas(msg, spec);
        let mut inner = self.lock();
        let key_addr = inner.chain.state.account_key(&msg.from).unwrap_or(msg.from);
        let key = inner
            .keystore
            .get(&key_addr)
            .ok_or_else(|| NodeError::Rejected(format!("the devnet wallet has no key for {}", msg.from)))?;
        msg.from = key_addr;
        msg.nonce = inner.chain.next_nonce(&key_addr);
        let signed = SignedMessage {
            signature: key.sign(&msg.cid().to_bytes()),
            message: msg,
        };
        inner
            .chain
            .push(signed.clone())
            .map_err(|e| NodeError::Rejected(e.to_string()))?;
        Ok(signed)
    }

    /// Where a message landed, once it has `confidence` tipsets on top.
    pub fn lookup(&self, cid: &Cid, confidence: u64) -> Option<MsgLookup> {
        let inner = self.lock();
        let l = inner.chain.search(cid)?;
        (inner.chain.confidence(l.height) >= confidence as i64).then_some(l)
    }

    /// Wait for a message to land with `confidence` (`StateWaitMsg`).
    pub async fn wait(&self, cid: &Cid, confidence: u64) -> MsgLookup {
        let mut rx = self.subscribe();
        loop {
            if let Some(l) = self.lookup(cid, confidence) {
                return l;
            }
            if rx.changed().await.is_err() {
                // The node is shutting down; wait for the caller to go away.
                std::future::pending::<()>().await;
            }
        }
    }

    // ------------------------------------------------------------ wallet

    /// Sign `data` with the key of `addr`. With a `message` MsgMeta, the data must be the CID
    /// of the message in `Extra`, as venus-wallet insists.
    pub fn sign(&self, addr: &Address, data: &[u8], meta: Option<&MsgMeta>) -> Result<Signature, NodeError> {
        if let Some(m) = meta.filter(|m| m.meta_type == meta_type::MESSAGE) {
            let extra = m
                .extra
                .as_ref()
                .ok_or_else(|| NodeError::Rejected("MsgMeta of type message needs Extra (the CBOR message)".into()))?;
            let msg: Message = cbor::from_slice(&extra.0.0)
                .map_err(|e| NodeError::Rejected(format!("MsgMeta Extra is not a message: {e}")))?;
            if msg.cid().to_bytes() != data {
                return Err(NodeError::Rejected(
                    "the data to sign is not the CID of the message in MsgMeta Extra".into(),
                ));
            }
        }
        let inner = self.lock();
        let key_addr = inner.chain.state.account_key(addr).unwrap_or(*addr);
        let key = inner
            .keystore
            .get(&key_addr)
            .ok_or_else(|| NodeError::Rejected(format!("key not found for {addr}")))?;
        Ok(key.sign(data))
    }

    pub fn has_key(&self, addr: &Address) -> bool {
        let inner = self.lock();
        let key_addr = inner.chain.state.account_key(addr).unwrap_or(*addr);
        inner.keystore.get(&key_addr).is_some()
    }

    pub fn new_key(&self, key_type: KeyType) -> Result<Address, NodeError> {
        Ok(self.lock().keystore.insert(Key::generate(key_type), None)?)
    }

    // ------------------------------------------------------------ messager

    /// Queue a message under a caller-chosen id; pushing the same id again returns it.
    /// sophon-messager's `PushMessageWithId`: gas is estimated within the send spec's
    /// `MaxFee`, as the messager does.
    pub fn messager_push(&self, id: &str, msg: Message, spec: Option<&MessageSendSpec>) -> Result<String, NodeError> {
        if id.is_empty() {
            return Err(NodeError::Rejected("message id must not be empty".into()));
        }
        if self.lock().messager.contains_key(id) {
            return Ok(id.to_string());
        }
        let signed = self.sign_and_push(msg, spec)?;
        let entry = MessagerEntry {
            signed,
            created_at: now_secs(),
        };
        if let Some(store) = &self.store {
            store.put_messager(id, &encode_entry(&entry))?;
        }
        self.lock().messager.insert(id.to_string(), entry);
        Ok(id.to_string())
    }

    pub fn messager_get(&self, id: &str) -> Option<MessagerMessage> {
        let inner = self.lock();
        let e = inner.messager.get(id)?;
        let cid = e.signed.cid();
        let lookup = inner.chain.search(&cid);
        let (state, height, confidence, receipt, tsk) = match &lookup {
            Some(l) => (
                msg_state::ON_CHAIN,
                l.height,
                inner.chain.confidence(l.height),
                Some(market_proto::Json(l.receipt.clone())),
                Some(market_proto::Json(l.tipset.clone())),
            ),
            None => (msg_state::FILL, 0, 0, None, None),
        };
        let created = e.created_at.to_string();
        Some(MessagerMessage {
            id: id.to_string(),
            unsigned_cid: Some(market_proto::Json(e.signed.message.cid())),
            signed_cid: Some(market_proto::Json(cid)),
            message: market_proto::Json(e.signed.message.clone()),
            signature: Some(market_proto::Json(e.signed.signature.clone())),
            height,
            confidence,
            receipt,
            tipset_key: tsk,
            meta: None,
            wallet_name: "devnet".into(),
            state,
            error_msg: String::new(),
            created_at: created.clone(),
            updated_at: created,
        })
    }
}

fn encode_entry(e: &MessagerEntry) -> Vec<u8> {
    cbor::to_vec(&(e.signed.clone(), e.created_at))
}

fn decode_entry(raw: &[u8]) -> Option<MessagerEntry> {
    let (signed, created_at): (SignedMessage, u64) = cbor::from_slice(raw).ok()?;
    Some(MessagerEntry { signed, created_at })
}

//! What droplet reaches on the chain side: the full node, the signer, and the way messages
//! go out (messager or direct), built from the config with the Go droplet's rules.

use std::time::Duration;

use jsonrpsee::core::async_trait;
use jsonrpsee::http_client::HttpClient;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api_info::ApiInfo;
use market_proto::auth::AuthClient;
use market_proto::messages::MessageSender;
use market_proto::messages::SendError;
use market_proto::signer::{Signer, SignerType};
use market_types::chain::{MarketBalance, Message, MinerInfo, MsgLookup, TipSetKey};
use market_types::{Address, Cid, TokenAmount};

use crate::config::Config;

/// Why the chain side could not be set up or answered.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("config: {0}")]
    Config(String),
    #[error("cannot reach the full node at {url}: {reason} (check [Node] Url and Token, or --node-url)")]
    Unreachable { url: String, reason: String },
    #[error("full node: {0}")]
    Node(String),
    /// The node was not reached (refused, cut, timed out): ask again once it is back.
    #[error("cannot reach the full node: {0}")]
    Unavailable(String),
}

impl ChainError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ChainError::Unavailable(_))
    }
}

/// A node call's error: unreached, or the node's answer about `what`.
pub fn node_error(what: impl std::fmt::Display, e: jsonrpsee::core::client::Error) -> ChainError {
    if market_proto::messages::unreached(&e) {
        ChainError::Unavailable(format!("{what}: {e}"))
    } else {
        ChainError::Node(format!("{what}: {}", market_proto::client::CallError::from(e)))
    }
}

/// Resolve `[ChainService]` into empty `[Node]`, `[Messager]` and `[AuthNode]`, as droplet
/// does; a lotus-node signer uses neither messager nor sophon-auth.
pub fn resolve_endpoints(cfg: &mut Config) {
    let cs = cfg.chain_service.clone();
    if !cs.url.is_empty() {
        for ep in [&mut cfg.node, &mut cfg.messager] {
            if ep.url.is_empty() {
                ep.url = cs.url.clone();
            }
        }
        if cfg.auth_node.url.is_empty() {
            cfg.auth_node.url = market_proto::api_info::http_base(&cs.url).unwrap_or(cs.url.clone());
        }
    }
    if !cs.token.is_empty() {
        for ep in [&mut cfg.node, &mut cfg.messager, &mut cfg.auth_node] {
            if ep.token.is_empty() {
                ep.token = cs.token.clone();
            }
        }
    }
    if cfg.signer.signer_type == "lotusnode" {
        cfg.messager = Default::default();
        cfg.auth_node.token.clear();
    }
}

/// The connected chain side.
#[derive(Debug)]
pub struct Chain {
    pub node: HttpClient,
    pub signer: Signer,
    pub sender: MessageSender,
    pub auth: Option<AuthClient>,
    pub network: String,
}

impl Chain {
    /// Check the config and connect; the node must answer.
    pub async fn connect(cfg: &Config) -> Result<Chain, ChainError> {
        let bad = |m: &str| ChainError::Config(m.to_string());
        if cfg.node.url.is_empty() {
            return Err(bad("no full node: set [Node] Url (or --node-url / --cs-url)"));
        }
        if cfg.signer.url.is_empty() {
            return Err(bad("no signer: set [Signer] Url (or --signer-url)"));
        }
        let kind = SignerType::parse(&cfg.signer.signer_type).ok_or_else(|| {
            ChainError::Config(format!(
                "[Signer] Type {:?} is not one of gateway, wallet, lotusnode",
                cfg.signer.signer_type
            ))
        })?;
        let auth = if cfg.auth_node.url.is_empty() || kind == SignerType::Wallet {
            None
        } else {
            if cfg.auth_node.token.is_empty() {
                return Err(bad("[AuthNode] Url is set but Token is empty"));
            }
            Some(
                AuthClient::new(&cfg.auth_node.url, &cfg.auth_node.token)
                    .map_err(|e| ChainError::Config(e.to_string()))?,
            )
        };
        let info = ApiInfo {
            token: cfg.node.token.clone(),
            addr: cfg.node.url.clone(),
        };
        let node = market_proto::client::http(&info, "v1", Duration::from_secs(120))
            .map_err(|e| ChainError::Config(format!("[Node] Url: {e}")))?;
        let url = info.url("v1").unwrap_or_default();
        let network = node.state_network_name().await.map_err(|e| ChainError::Unreachable {
            url,
            reason: e.to_string(),
        })?;
        let signer = Signer::connect(kind, &cfg.signer.url, &cfg.signer.token, auth.clone())
            .map_err(|e| ChainError::Config(format!("[Signer]: {e}")))?;
        let sender = MessageSender::connect(node.clone(), signer.clone(), &cfg.messager.url, &cfg.messager.token)
            .map_err(|e| ChainError::Config(format!("[Messager] Url: {e}")))?;
        Ok(Chain {
            node,
            signer,
            sender,
            auth,
            network,
        })
    }

    pub async fn miner_info(&self, miner: &Address) -> Result<MinerInfo, ChainError> {
        self.node
            .state_miner_info(Json(*miner), Json(TipSetKey::empty()))
            .await
            .map(|m| m.0)
            .map_err(|e| node_error(format_args!("miner {miner}"), e))
    }

    /// The key address of an account (ID addresses resolve through the chain).
    pub async fn account_key(&self, addr: &Address) -> Result<Address, ChainError> {
        self.node
            .state_account_key(Json(*addr), Json(TipSetKey::empty()))
            .await
            .map(|a| a.0)
            .map_err(|e| node_error(format_args!("key of {addr}"), e))
    }

    pub async fn head_height(&self) -> Result<i64, ChainError> {
        self.node
            .chain_head()
            .await
            .map(|t| t.0.height())
            .map_err(|e| node_error("the chain head", e))
    }
}

/// What the deal runner needs from the chain side. [`Chain`] answers from the node, the
/// messager and the signer; tests put an in-process fake in its place.
#[async_trait]
pub trait DealChain: Send + Sync + std::fmt::Debug {
    async fn head_height(&self) -> Result<i64, ChainError>;
    async fn miner_info(&self, miner: &Address) -> Result<MinerInfo, ChainError>;
    async fn market_balance(&self, addr: &Address) -> Result<MarketBalance, ChainError>;
    /// A message on chain by its CID.
    async fn message(&self, cid: &Cid) -> Result<Message, ChainError>;
    async fn lookup_id(&self, addr: &Address) -> Result<Address, ChainError>;
    async fn wallet_balance(&self, addr: &Address) -> Result<TokenAmount, ChainError>;
    /// Send a message paying at most `max_fee` for gas (`None`: no cap).
    async fn push(&self, msg: Message, max_fee: Option<TokenAmount>) -> Result<Cid, SendError>;
    /// Wait until a sent message (a chain CID or a messager id) is on chain.
    async fn wait(&self, id: &Cid) -> Result<MsgLookup, SendError>;
}

fn node_err(what: String) -> impl FnOnce(jsonrpsee::core::client::Error) -> ChainError {
    move |e| node_error(what, e)
}

#[async_trait]
impl DealChain for Chain {
    async fn head_height(&self) -> Result<i64, ChainError> {
        Chain::head_height(self).await
    }

    async fn miner_info(&self, miner: &Address) -> Result<MinerInfo, ChainError> {
        Chain::miner_info(self, miner).await
    }

    async fn market_balance(&self, addr: &Address) -> Result<MarketBalance, ChainError> {
        self.node
            .state_market_balance(Json(*addr), Json(TipSetKey::empty()))
            .await
            .map(|b| b.0)
            .map_err(node_err(format!("market balance of {addr}")))
    }

    async fn message(&self, cid: &Cid) -> Result<Message, ChainError> {
        self.node
            .chain_get_message(Json(*cid))
            .await
            .map(|m| m.0)
            .map_err(node_err(format!("message {cid}")))
    }

    async fn lookup_id(&self, addr: &Address) -> Result<Address, ChainError> {
        self.node
            .state_lookup_id(Json(*addr), Json(TipSetKey::empty()))
            .await
            .map(|a| a.0)
            .map_err(node_err(format!("ID of {addr}")))
    }

    async fn wallet_balance(&self, addr: &Address) -> Result<TokenAmount, ChainError> {
        self.node
            .wallet_balance(Json(*addr))
            .await
            .map(|b| b.0)
            .map_err(node_err(format!("balance of {addr}")))
    }

    async fn push(&self, msg: Message, max_fee: Option<TokenAmount>) -> Result<Cid, SendError> {
        self.sender.push_capped(msg, max_fee).await
    }

    async fn wait(&self, id: &Cid) -> Result<MsgLookup, SendError> {
        self.sender.wait(id, 0, &self.node).await
    }
}

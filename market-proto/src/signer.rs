//! The three signers droplet can use (`[Signer] Type`): sophon-gateway, venus-wallet and a
//! lotus node. Every signature that comes back is verified against the key before it is
//! used, so a misconfigured signer fails here and not on chain.

use std::time::Duration;

use market_types::{Address, Bytes, Signature};

use crate::Json;
use crate::api::full_node::LotusSignerClient;
use crate::api::gateway::GatewayClient;
use crate::api::wallet::{MsgMeta, VenusWalletClient};
use crate::api_info::ApiInfo;
use crate::auth::AuthClient;
use crate::client::{ConnectError, http};

/// `[Signer] Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerType {
    Gateway,
    Wallet,
    LotusNode,
}

impl SignerType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "gateway" => Some(SignerType::Gateway),
            "wallet" => Some(SignerType::Wallet),
            "lotusnode" => Some(SignerType::LotusNode),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SignerType::Gateway => "gateway",
            SignerType::Wallet => "wallet",
            SignerType::LotusNode => "lotusnode",
        }
    }

    /// The API version each signer serves on: gateway v2, venus-wallet v0, lotus v1.
    fn api_version(self) -> &'static str {
        match self {
            SignerType::Gateway => "v2",
            SignerType::Wallet => "v0",
            SignerType::LotusNode => "v1",
        }
    }
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{kind} signer: {reason}")]
    Call { kind: &'static str, reason: String },
    #[error("{kind} signer returned a signature that does not verify for {addr}: {reason}")]
    BadSignature {
        kind: &'static str,
        addr: Address,
        reason: String,
    },
}

/// A connected signer.
#[derive(Debug, Clone)]
pub struct Signer {
    kind: SignerType,
    client: jsonrpsee::http_client::HttpClient,
    auth: Option<AuthClient>,
}

impl Signer {
    /// Connect to a signer; the gateway also asks sophon-auth (when given) for the accounts
    /// bound to each address.
    pub fn connect(kind: SignerType, url: &str, token: &str, auth: Option<AuthClient>) -> Result<Self, SignerError> {
        let info = ApiInfo {
            token: token.to_string(),
            addr: url.to_string(),
        };
        let client = http(&info, kind.api_version(), Duration::from_secs(60))?;
        Ok(Signer { kind, client, auth })
    }

    pub fn kind(&self) -> SignerType {
        self.kind
    }

    fn call_err(&self, e: impl std::fmt::Display) -> SignerError {
        SignerError::Call {
            kind: self.kind.as_str(),
            reason: e.to_string(),
        }
    }

    async fn accounts(&self, addr: &Address) -> Result<Vec<String>, SignerError> {
        match &self.auth {
            Some(a) => a.users_by_signer(&addr.to_string()).await.map_err(|e| self.call_err(e)),
            None => Ok(Vec::new()),
        }
    }

    /// Whether the signer holds the key of `addr` (a key address).
    pub async fn has(&self, addr: &Address) -> Result<bool, SignerError> {
        let a = Json(*addr);
        match self.kind {
            SignerType::Wallet => VenusWalletClient::wallet_has(&self.client, a).await,
            SignerType::LotusNode => LotusSignerClient::wallet_has(&self.client, a).await,
            SignerType::Gateway => {
                let accounts = self.accounts(addr).await?;
                GatewayClient::wallet_has(&self.client, a, accounts).await
            }
        }
        .map_err(|e| self.call_err(e))
    }

    /// Sign `data` with the key of `addr` (a key address), saying what it is in `meta`.
    pub async fn sign(&self, addr: &Address, data: &[u8], meta: MsgMeta) -> Result<Signature, SignerError> {
        let a = Json(*addr);
        let d = Json(Bytes(data.to_vec()));
        let sig = match self.kind {
            SignerType::Wallet => VenusWalletClient::wallet_sign(&self.client, a, d, meta).await,
            SignerType::LotusNode => LotusSignerClient::wallet_sign(&self.client, a, d).await,
            SignerType::Gateway => {
                let accounts = self.accounts(addr).await?;
                GatewayClient::wallet_sign(&self.client, a, accounts, d, meta).await
            }
        }
        .map_err(|e| self.call_err(e))?
        .0;
        market_crypto::verify(&sig, addr, data).map_err(|e| SignerError::BadSignature {
            kind: self.kind.as_str(),
            addr: *addr,
            reason: e.to_string(),
        })?;
        Ok(sig)
    }
}

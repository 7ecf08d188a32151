//! venus-wallet (`Filecoin.*` on `/rpc/v0`, `Signer.Type = "wallet"`) and what a signature
//! request says about the bytes it signs.

use jsonrpsee::proc_macros::rpc;
use market_types::{Address, Bytes, Signature};
use serde::{Deserialize, Serialize};

use super::Json;

/// What is being signed (`venus-shared/types/msg_meta.go`): `Type` is one of `message`,
/// `dealproposal`, `clientdeal`, `storageask`, `askresponse`, `networkresposne` (sic),
/// `providerdealstate`, `signedvoucher`, `unknown`, …; `Extra` carries the CBOR message for
/// `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgMeta {
    #[serde(rename = "Type")]
    pub meta_type: String,
    #[serde(rename = "Extra", default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Json<Bytes>>,
}

impl MsgMeta {
    pub fn new(meta_type: &str) -> Self {
        MsgMeta {
            meta_type: meta_type.to_string(),
            extra: None,
        }
    }

    pub fn with_extra(meta_type: &str, extra: Vec<u8>) -> Self {
        MsgMeta {
            meta_type: meta_type.to_string(),
            extra: Some(Json(Bytes(extra))),
        }
    }
}

/// The MsgMeta types venus-wallet knows.
pub mod meta_type {
    pub const MESSAGE: &str = "message";
    pub const DEAL_PROPOSAL: &str = "dealproposal";
    pub const CLIENT_DEAL: &str = "clientdeal";
    pub const STORAGE_ASK: &str = "storageask";
    pub const ASK_RESPONSE: &str = "askresponse";
    pub const NETWORK_RESPONSE: &str = "networkresposne";
    pub const PROVIDER_DEAL_STATE: &str = "providerdealstate";
    pub const SIGNED_VOUCHER: &str = "signedvoucher";
    pub const UNKNOWN: &str = "unknown";
}

/// venus-wallet's signing API: the three-argument `WalletSign`.
#[rpc(client, namespace = "Filecoin", namespace_separator = ".")]
pub trait VenusWallet {
    #[method(name = "WalletHas")]
    async fn wallet_has(&self, addr: Json<Address>) -> RpcResult<bool>;

    #[method(name = "WalletSign")]
    async fn wallet_sign(&self, addr: Json<Address>, data: Json<Bytes>, meta: MsgMeta) -> RpcResult<Json<Signature>>;

    #[method(name = "WalletList")]
    async fn wallet_list(&self) -> RpcResult<Json<Vec<Address>>>;
}

//! sophon-messager (`Message.*` on `/rpc/v0`): the two methods droplet uses.

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use market_types::chain::{Message, MessageReceipt, TipSetKey};
use market_types::json::Value;
use market_types::{Cid, Signature};
use serde::{Deserialize, Serialize};

use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// A message's state in the messager (`venus-shared/types/messager/message.go`).
pub mod state {
    pub const UNKNOWN: i64 = 0;
    pub const UNFILL: i64 = 1;
    pub const FILL: i64 = 2;
    pub const ON_CHAIN: i64 = 3;
    pub const FAILED: i64 = 4;
    pub const NONCE_CONFLICT: i64 = 5;
}

/// `GetMessageByUid` result: the message (its fields flattened, as Go embeds it) and where
/// it is in the messager's pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessagerMessage {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "UnsignedCid", default)]
    pub unsigned_cid: Option<Json<Cid>>,
    #[serde(rename = "SignedCid", default)]
    pub signed_cid: Option<Json<Cid>>,
    #[serde(flatten)]
    pub message: Json<Message>,
    #[serde(rename = "Signature", default)]
    pub signature: Option<Json<Signature>>,
    #[serde(rename = "Height", default)]
    pub height: i64,
    #[serde(rename = "Confidence", default)]
    pub confidence: i64,
    #[serde(rename = "Receipt", default)]
    pub receipt: Option<Json<MessageReceipt>>,
    #[serde(rename = "TipSetKey", default)]
    pub tipset_key: Option<Json<TipSetKey>>,
    #[serde(rename = "Meta", default)]
    pub meta: Option<Value>,
    #[serde(rename = "WalletName", default)]
    pub wallet_name: String,
    #[serde(rename = "State", default)]
    pub state: i64,
    #[serde(rename = "ErrorMsg", default)]
    pub error_msg: String,
    #[serde(rename = "CreatedAt", default)]
    pub created_at: String,
    #[serde(rename = "UpdatedAt", default)]
    pub updated_at: String,
}

#[rpc(server, client, namespace = "Message", namespace_separator = ".")]
pub trait Messager {
    /// Queue `msg` under `id` (a CID string the caller made); the messager estimates gas,
    /// assigns the nonce, signs and pushes it. Returns the id.
    #[method(name = "PushMessageWithId")]
    async fn push_message_with_id(&self, id: String, msg: Json<Message>, spec: Option<Value>) -> RpcResult<String>;

    #[method(name = "GetMessageByUid")]
    async fn get_message_by_uid(&self, id: String) -> RpcResult<MessagerMessage>;
}

pub const METHODS: &[MethodSpec] = &[
    spec("PushMessageWithId", Perm::Write, 3),
    spec("GetMessageByUid", Perm::Read, 1),
];

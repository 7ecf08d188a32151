//! Sending messages to the chain the two ways droplet does (`mix_msgclient.go`): through
//! sophon-messager when one is configured (`PushMessageWithId`, then polling
//! `GetMessageByUid`), or directly (`StateAccountKey` → `GasEstimateMessageGas` →
//! `MpoolGetNonce` → sign → `MpoolPush`, then `StateWaitMsg`).
//!
//! A messager id is a CID too: raw codec, blake2b-256 of a fresh UUID; chain CIDs are dag-cbor.
//! [`is_messager_id`] tells them apart, so either can be stored as "the message" of a deal.

use std::time::Duration;

use cid::Cid;
use jsonrpsee::http_client::HttpClient;
use market_types::chain::{Message, MessageSendSpec, MsgLookup, SignedMessage, TipSetKey};
use tokio::sync::Mutex;

use crate::Json;
use crate::api::full_node::FullNodeClient;
use crate::api::messager::{MessagerClient, state};
use crate::api::wallet::{MsgMeta, meta_type};
use crate::signer::{Signer, SignerError};

const RAW: u64 = 0x55;
const BLAKE2B_256: u64 = 0xb220;

/// Why a message could not be sent or followed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The node or the messager could not be reached (refused, cut, timed out): nothing was
    /// answered, so the call can be made again once it is back.
    #[error("cannot reach the {service}: {reason}")]
    Unavailable { service: &'static str, reason: String },
    #[error("full node: {0}")]
    Node(String),
    #[error("messager: {0}")]
    Messager(String),
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error("message {id} failed in the messager: {reason}")]
    Failed { id: Cid, reason: String },
}

impl SendError {
    /// Whether the service was not reached (try again later) rather than answering.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, SendError::Unavailable { .. })
    }
}

/// Whether a JSON-RPC call failed without an answer: the connection refused or cut, or no
/// answer in time.
pub fn unreached(e: &jsonrpsee::core::client::Error) -> bool {
    use jsonrpsee::core::client::Error as E;
    matches!(e, E::Transport(_) | E::RequestTimeout | E::RestartNeeded(_))
}

/// A call's error as a [`SendError`]: unreached, or the service's answer as `answered`.
fn classify(
    service: &'static str,
    answered: fn(String) -> SendError,
) -> impl Fn(jsonrpsee::core::client::Error) -> SendError + Copy {
    move |e| {
        if unreached(&e) {
            SendError::Unavailable {
                service,
                reason: e.to_string(),
            }
        } else {
            answered(e.to_string())
        }
    }
}

/// How long a wait pauses after the node or messager could not be reached, at most.
const UNREACHED_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);

/// A fresh messager id.
pub fn new_messager_id() -> Cid {
    let uuid = uuid::Uuid::new_v4().to_string();
    let digest = blake2b_simd::Params::new().hash_length(32).hash(uuid.as_bytes());
    match cid::multihash::Multihash::<64>::wrap(BLAKE2B_256, digest.as_bytes()) {
        Ok(mh) => Cid::new_v1(RAW, mh),
        Err(_) => unreachable!("a 32-byte digest fits"),
    }
}

/// Whether a CID is a messager id rather than a chain message CID.
pub fn is_messager_id(c: &Cid) -> bool {
    c.codec() == RAW && c.hash().code() == BLAKE2B_256
}

/// How messages go out.
#[derive(Debug)]
pub enum MessageSender {
    Messager {
        client: HttpClient,
        poll: Duration,
    },
    Direct {
        node: HttpClient,
        signer: Signer,
        nonce_lock: Mutex<()>,
    },
}

impl MessageSender {
    pub fn messager(client: HttpClient, poll: Duration) -> Self {
        MessageSender::Messager { client, poll }
    }

    pub fn direct(node: HttpClient, signer: Signer) -> Self {
        MessageSender::Direct {
            node,
            signer,
            nonce_lock: Mutex::new(()),
        }
    }

    /// Through the messager at `messager_url` when one is given, else directly to the node.
    pub fn connect(
        node: HttpClient,
        signer: Signer,
        messager_url: &str,
        messager_token: &str,
    ) -> Result<Self, crate::client::ConnectError> {
        if messager_url.is_empty() {
            return Ok(MessageSender::direct(node, signer));
        }
        let info = crate::api_info::ApiInfo {
            token: messager_token.to_string(),
            addr: messager_url.to_string(),
        };
        let client = crate::client::http(&info, "v0", Duration::from_secs(60))?;
        Ok(MessageSender::messager(client, Duration::from_secs(2)))
    }

    /// Send `msg`; returns a messager id or the signed message's CID.
    pub async fn push(&self, msg: Message) -> Result<Cid, SendError> {
        self.push_capped(msg, None).await
    }

    /// Send `msg` paying at most `max_fee` for gas (`MaxFee` of the send spec: the messager
    /// and the node's gas estimate lower the fee cap to fit), or with no cap for `None`.
    pub async fn push_capped(
        &self,
        msg: Message,
        max_fee: Option<market_types::TokenAmount>,
    ) -> Result<Cid, SendError> {
        let spec = max_fee.map(|max_fee| MessageSendSpec {
            max_fee,
            msg_uuid: String::new(),
            maximize_fee_cap: false,
        });
        match self {
            MessageSender::Messager { client, .. } => {
                let id = new_messager_id();
                // sophon-messager's SendSpec reads `MaxFee`; its other fields default.
                let spec = spec
                    .as_ref()
                    .map(|s| serde_json::json!({ "MaxFee": s.max_fee.atto().to_string() }));
                client
                    .push_message_with_id(id.to_string(), Json(msg), spec)
                    .await
                    .map_err(classify("messager", SendError::Messager))?;
                Ok(id)
            }
            MessageSender::Direct {
                node,
                signer,
                nonce_lock,
            } => {
                let node_err = classify("full node", SendError::Node);
                let key = node
                    .state_account_key(Json(msg.from), Json(TipSetKey::empty()))
                    .await
                    .map_err(node_err)?
                    .0;
                let mut msg = node
                    .gas_estimate_message_gas(Json(msg), spec.map(Json), Json(TipSetKey::empty()))
                    .await
                    .map_err(node_err)?
                    .0;
                // One nonce at a time per process, as droplet serialises MpoolGetNonce.
                let _guard = nonce_lock.lock().await;
                msg.nonce = node.mpool_get_nonce(Json(key)).await.map_err(node_err)?;
                let meta = MsgMeta::with_extra(meta_type::MESSAGE, market_types::cbor::to_vec(&msg));
                let signature = signer.sign(&key, &msg.cid().to_bytes(), meta).await?;
                let signed = SignedMessage {
                    message: msg,
                    signature,
                };
                Ok(node.mpool_push(Json(signed)).await.map_err(node_err)?.0)
            }
        }
    }

    /// Wait until the message is on chain with `confidence` tipsets on top. While the node or
    /// the messager cannot be reached, the wait goes on (asking again every few seconds): the
    /// message is out, and only an answer says what became of it.
    pub async fn wait(&self, id: &Cid, confidence: u64, node: &HttpClient) -> Result<MsgLookup, SendError> {
        let mut pause = std::time::Duration::from_millis(500);
        loop {
            match self.wait_once(id, confidence, node).await {
                Err(e) if e.is_unavailable() => {
                    tracing::warn!(message = %id, error = %e, "waiting for a message: will ask again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(UNREACHED_PAUSE);
                }
                other => return other,
            }
        }
    }

    async fn wait_once(&self, id: &Cid, confidence: u64, node: &HttpClient) -> Result<MsgLookup, SendError> {
        if !is_messager_id(id) {
            return node
                .state_wait_msg(Json(*id), confidence, -1, true)
                .await
                .map(|l| l.0)
                .map_err(classify("full node", SendError::Node));
        }
        let MessageSender::Messager { client, poll } = self else {
            return Err(SendError::Messager(format!(
                "{id} is a messager id but no messager is configured"
            )));
        };
        loop {
            let m = client
                .get_message_by_uid(id.to_string())
                .await
                .map_err(classify("messager", SendError::Messager))?;
            match m.state {
                state::FAILED => {
                    return Err(SendError::Failed {
                        id: *id,
                        reason: m.error_msg,
                    });
                }
                state::ON_CHAIN | state::NONCE_CONFLICT if m.confidence >= confidence as i64 => {
                    let (Some(cid), Some(receipt), Some(tsk)) = (m.signed_cid, m.receipt, m.tipset_key) else {
                        return Err(SendError::Messager(format!(
                            "message {id} is on chain but its record is incomplete"
                        )));
                    };
                    return Ok(MsgLookup {
                        message: cid.0,
                        receipt: receipt.0,
                        return_dec: serde_json::Value::Null,
                        tipset: tsk.0,
                        height: m.height,
                    });
                }
                _ => tokio::time::sleep(*poll).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messager_ids_are_told_from_chain_cids() {
        let id = new_messager_id();
        assert!(is_messager_id(&id));
        assert!(id.to_string().starts_with("bafk2bza"), "{id}");
        let chain = market_types::chain::chain_cid(b"x");
        assert!(!is_messager_id(&chain));
        assert_ne!(new_messager_id(), id);
    }
}

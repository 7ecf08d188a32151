//! The market event stream droplet serves to its sealers (sophon-gateway's `marketevent`,
//! embedded in droplet; venus-shared `api/gateway` `IMarketServiceProvider`, merged into the
//! `VENUS_MARKET` namespace). A sealer (damocles) subscribes for a miner with
//! `ListenMarketEvent`, receives requests (`InitConnect` first, then `SectorsUnsealPiece`), and
//! answers each with `ResponseMarketEvent` under the request's ID.
//!
//! Payloads are JSON, carried as bytes (base64 in the JSON-RPC messages): an unseal request
//! is an [`UnsealRequest`], its answer an [`UnsealState`] string.

use cid::Cid;
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use market_types::{Address, Bytes};
use serde::{Deserialize, Serialize};

use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// Which miner's requests a sealer takes (`gtypes.MarketRegisterPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketRegisterPolicy {
    #[serde(rename = "Miner")]
    pub miner: Json<Address>,
}

/// A request to a sealer (`gtypes.RequestEvent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEvent {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Method")]
    pub method: String,
    #[serde(rename = "Payload")]
    pub payload: Json<Bytes>,
    /// RFC 3339.
    #[serde(rename = "CreateTime")]
    pub create_time: String,
}

/// A sealer's answer to request `id` (`gtypes.ResponseEvent`): a payload, or an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseEvent {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Payload", default)]
    pub payload: Option<Json<Bytes>>,
    #[serde(rename = "Error", default)]
    pub error: String,
}

/// The payload of the first event on a new stream (`gtypes.ConnectedCompleted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectedCompleted {
    #[serde(rename = "ChannelId")]
    pub channel_id: String,
}

/// Unseal `size` unpadded bytes at unpadded `offset` of sector `sid` of `miner` (the piece
/// `piece_cid`) and upload them to `dest` (`gtypes.UnsealRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsealRequest {
    #[serde(rename = "PieceCid")]
    pub piece_cid: Json<Cid>,
    #[serde(rename = "Miner")]
    pub miner: Json<Address>,
    #[serde(rename = "Sid")]
    pub sid: u64,
    #[serde(rename = "Offset")]
    pub offset: u64,
    #[serde(rename = "Size")]
    pub size: u64,
    /// `market://<store>/<pieceCid>` (an upload to droplet's `PUT /resource`), or a URL to PUT.
    #[serde(rename = "Dest")]
    pub dest: String,
}

/// Where an unseal task is (`gtypes.UnsealState`); asked again until `finished` or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnsealState {
    #[serde(rename = "set_up")]
    Set,
    #[serde(rename = "unsealing")]
    Unsealing,
    #[serde(rename = "uploading")]
    Uploading,
    #[serde(rename = "finished")]
    Finished,
    #[serde(rename = "failed")]
    Failed,
}

/// The method name of an unseal request.
pub const SECTORS_UNSEAL_PIECE: &str = "SectorsUnsealPiece";
/// The method name of the first event of a stream.
pub const INIT_CONNECT: &str = "InitConnect";
/// The scheme of a destination in droplet's own piece storage.
pub const MARKET_SCHEME: &str = "market://";

#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketEvent {
    /// Take `policy.Miner`'s requests until the stream closes. WebSocket only.
    #[subscription(name = "ListenMarketEvent" => "xrpc.ch.val", unsubscribe = "xrpc.cancel", item = RequestEvent)]
    async fn listen_market_event(&self, policy: MarketRegisterPolicy) -> SubscriptionResult;

    /// Answer a request.
    #[method(name = "ResponseMarketEvent")]
    async fn response_market_event(&self, resp: ResponseEvent) -> RpcResult<()>;
}

pub const METHODS: &[MethodSpec] = &[
    spec("ListenMarketEvent", Perm::Read, 1),
    spec("xrpc.cancel", Perm::Read, 1),
    spec("ResponseMarketEvent", Perm::Read, 1),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unseal_request_and_state_read_as_venus_shared_writes_them() {
        let json = r#"{"PieceCid":{"/":"baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"},"Miner":"f01000","Sid":3,"Offset":0,"Size":2032,"Dest":"market://store/baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"}"#;
        let req: UnsealRequest = serde_json::from_str(json).expect("decodes");
        assert_eq!(req.sid, 3);
        assert_eq!(req.size, 2032);
        assert_eq!(serde_json::to_string(&req).expect("encodes"), json);
        let state: UnsealState = serde_json::from_str("\"finished\"").expect("state");
        assert_eq!(state, UnsealState::Finished);
        assert_eq!(serde_json::to_string(&UnsealState::Set).expect("set"), "\"set_up\"");
        let resp: ResponseEvent =
            serde_json::from_str(r#"{"Id":"a","Payload":null,"Error":"no such sector"}"#).expect("response");
        assert_eq!(resp.payload, None);
        assert_eq!(resp.error, "no such sector");
    }
}

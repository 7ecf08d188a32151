//! Boost's deal protocols (also served by droplet): `/fil/storage/mk/1.2.1` and `1.2.0`,
//! `/fil/storage/status/1.2.0`, and the retrieval transports query.

use std::collections::BTreeMap;

use cid::Cid;

use crate::bytes::{Bytes, Uuid};
use crate::cbor_map;
use crate::chain::{ClientDealProposal, DealProposal};
use crate::json::{self, JsonError, Value};
use crate::signature::Signature;
use crate::units::DealId;

pub const DEAL_PROTOCOL_V121: &str = "/fil/storage/mk/1.2.1";
pub const DEAL_PROTOCOL_V120: &str = "/fil/storage/mk/1.2.0";
pub const STATUS_PROTOCOL_V120: &str = "/fil/storage/status/1.2.0";
pub const TRANSPORTS_PROTOCOL: &str = "/fil/retrieval/transports/1.0.0";

cbor_map! {
    /// How the provider gets an online deal's data. Zero value (offline deal): every field empty.
    pub struct Transfer {
        "Size" => pub size: u64,
        "Type" => pub transfer_type: String,
        "Params" => pub params: Bytes,
        "ClientID" => pub client_id: String,
    }
}

impl Transfer {
    /// The transfer of an offline deal.
    pub fn offline() -> Self {
        Transfer {
            size: 0,
            transfer_type: String::new(),
            params: Bytes::default(),
            client_id: String::new(),
        }
    }

    /// An HTTP transfer of `size` bytes.
    pub fn http(request: &HttpRequest, size: u64) -> Self {
        Transfer {
            size,
            transfer_type: "http".into(),
            params: Bytes(request.to_go_json()),
            client_id: String::new(),
        }
    }

    /// The HTTP request carried in `Params`, for `http` and `libp2p` transfers.
    pub fn http_request(&self) -> Result<HttpRequest, JsonError> {
        HttpRequest::from_go_json(&self.params.0)
    }
}

/// Boost `HttpRequest`, carried as Go `encoding/json` bytes in `Transfer.Params`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    pub url: String,
    /// `None` is Go's nil map, written as `null`.
    pub headers: Option<BTreeMap<String, String>>,
}

impl HttpRequest {
    /// The exact bytes Go's `json.Marshal` writes: field order URL, Headers; map keys sorted;
    /// `<`, `>`, `&`, U+2028 and U+2029 escaped.
    pub fn to_go_json(&self) -> Vec<u8> {
        let headers = match &self.headers {
            Some(h) => Value::Object(h.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
            None => Value::Null,
        };
        let mut m = json::Map::new();
        m.insert("URL".into(), Value::String(self.url.clone()));
        m.insert("Headers".into(), headers);
        go_html_escape(&Value::Object(m).to_string()).into_bytes()
    }

    /// Read Go JSON, matching field names case-insensitively as Go does.
    pub fn from_go_json(raw: &[u8]) -> Result<Self, JsonError> {
        let v: Value = serde_json::from_slice(raw).map_err(|e| JsonError(format!("transfer params: {e}")))?;
        let mut m = json::expect_object(v, "HttpRequest")?;
        let url: String = json::take_field(&mut m, "HttpRequest", "URL")?;
        let headers = match json::take_field::<Value>(&mut m, "HttpRequest", "Headers")? {
            Value::Null => None,
            Value::Object(h) => Some(
                h.into_iter()
                    .map(|(k, v)| json::string_of(v, "a header value").map(|v| (k, v)))
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(JsonError(format!(
                    "HttpRequest.Headers: expected an object, got {other}"
                )));
            }
        };
        Ok(HttpRequest { url, headers })
    }
}

/// Go's `encoding/json` HTML-safe escaping, applied to serde_json output (these characters
/// only ever occur inside strings there).
fn go_html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

cbor_map! {
    /// A deal proposal on `/fil/storage/mk/1.2.1`.
    pub struct DealParams {
        "DealUUID" => pub deal_uuid: Uuid,
        "Transfer" => pub transfer: Transfer,
        "IsOffline" => pub is_offline: bool,
        "DealDataRoot" => pub deal_data_root: Cid,
        "SkipIPNIAnnounce" => pub skip_ipni_announce: bool,
        "ClientDealProposal" => pub client_deal_proposal: ClientDealProposal,
        "RemoveUnsealedCopy" => pub remove_unsealed_copy: bool,
    }
}

cbor_map! {
    /// A deal proposal as a 1.2.0 client sends it (no IPNI or unsealed-copy flags).
    pub struct DealParamsV120 {
        "DealUUID" => pub deal_uuid: Uuid,
        "Transfer" => pub transfer: Transfer,
        "IsOffline" => pub is_offline: bool,
        "DealDataRoot" => pub deal_data_root: Cid,
        "ClientDealProposal" => pub client_deal_proposal: ClientDealProposal,
    }
}

impl From<DealParamsV120> for DealParams {
    fn from(p: DealParamsV120) -> Self {
        DealParams {
            deal_uuid: p.deal_uuid,
            transfer: p.transfer,
            is_offline: p.is_offline,
            deal_data_root: p.deal_data_root,
            skip_ipni_announce: false,
            client_deal_proposal: p.client_deal_proposal,
            remove_unsealed_copy: false,
        }
    }
}

cbor_map! {
    /// The provider's unsigned answer to a 1.2.x proposal.
    pub struct DealResponse {
        "Message" => pub message: String,
        "Accepted" => pub accepted: bool,
    }
}

cbor_map! {
    /// The client signs the 16 raw UUID bytes (see [`status_signing_bytes`]).
    pub struct DealStatusRequest {
        "DealUUID" => pub deal_uuid: Uuid,
        "Signature" => pub signature: Signature,
    }
}

/// What a client signs in a 1.2.0 status request: the raw UUID bytes.
pub fn status_signing_bytes(deal_uuid: &Uuid) -> Vec<u8> {
    deal_uuid.as_bytes().to_vec()
}

cbor_map! {
    pub struct DealStatus {
        "Error" => pub error: String,
        /// A checkpoint name: `Accepted`, `Transferred`, `Published`, … (see `states::Checkpoint`).
        "Status" => pub status: String,
        "Proposal" => pub proposal: DealProposal,
        "PublishCid" => pub publish_cid: Option<Cid>,
        "ChainDealID" => pub chain_deal_id: DealId,
        "SealingStatus" => pub sealing_status: String,
        "SignedProposalCid" => pub signed_proposal_cid: Cid,
    }
}

cbor_map! {
    /// The unsigned status answer. On error only `DealUUID` and `Error` are set.
    pub struct DealStatusResponse {
        "Error" => pub error: String,
        "DealUUID" => pub deal_uuid: Uuid,
        "IsOffline" => pub is_offline: bool,
        "DealStatus" => pub deal_status: Option<DealStatus>,
        "TransferSize" => pub transfer_size: u64,
        "NBytesReceived" => pub n_bytes_received: u64,
    }
}

cbor_map! {
    /// One retrieval transport and the binary multiaddrs it is reached at.
    pub struct TransportProtocol {
        "Name" => pub name: String,
        "Addresses" => pub addresses: Vec<Bytes>,
    }
}

cbor_map! {
    /// The answer on `/fil/retrieval/transports/1.0.0`.
    pub struct TransportsQueryResponse {
        "Protocols" => pub protocols: Vec<TransportProtocol>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_request_json_matches_go() {
        let r = HttpRequest {
            url: "https://example.com/data.car".into(),
            headers: None,
        };
        assert_eq!(
            String::from_utf8(r.to_go_json()).expect("utf8"),
            r#"{"URL":"https://example.com/data.car","Headers":null}"#
        );
        let with = HttpRequest {
            url: "http://h/x?a=1&b=<2>".into(),
            headers: Some(BTreeMap::from([
                ("b".into(), "2".into()),
                ("Authorization".into(), "Basic x".into()),
            ])),
        };
        assert_eq!(
            String::from_utf8(with.to_go_json()).expect("utf8"),
            r#"{"URL":"http://h/x?a=1\u0026b=\u003c2\u003e","Headers":{"Authorization":"Basic x","b":"2"}}"#
        );
        assert_eq!(HttpRequest::from_go_json(&with.to_go_json()), Ok(with));
        // Go matches field names without regard to case.
        assert_eq!(
            HttpRequest::from_go_json(br#"{"url":"u","headers":{"k":"v"}}"#),
            Ok(HttpRequest {
                url: "u".into(),
                headers: Some(BTreeMap::from([("k".into(), "v".into())]))
            })
        );
        assert!(HttpRequest::from_go_json(b"{not json").is_err());
    }
}

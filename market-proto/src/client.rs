//! Connecting to a remote JSON-RPC service from its API info, with its token as a Bearer
//! header. HTTP for calls; WebSocket where subscriptions (`ChainNotify`) are needed.

use std::time::Duration;

use jsonrpsee::http_client::{HeaderMap, HeaderValue, HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};

use crate::api_info::{ApiInfo, ApiInfoError};

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Address(#[from] ApiInfoError),
    #[error("token contains characters not allowed in an HTTP header")]
    BadToken,
    #[error("connecting to {url}: {source}")]
    Client {
        url: String,
        source: jsonrpsee::core::client::Error,
    },
}

fn headers(token: &str) -> Result<HeaderMap, ConnectError> {
    let mut h = HeaderMap::new();
    if !token.is_empty() {
        let v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| ConnectError::BadToken)?;
        h.insert("Authorization", v);
    }
    Ok(h)
}

/// An HTTP client for `info` at API version `version`; `ws://` addresses are dialled over
/// plain HTTP on the same host and port (venus servers answer both).
pub fn http(info: &ApiInfo, version: &str, timeout: Duration) -> Result<HttpClient, ConnectError> {
    let url = info.url(version)?;
    let url = url.replacen("ws://", "http://", 1).replacen("wss://", "https://", 1);
    HttpClientBuilder::default()
        .set_headers(headers(&info.token)?)
        .request_timeout(timeout)
        .max_response_size(256 * 1024 * 1024)
        .build(&url)
        .map_err(|source| ConnectError::Client { url, source })
}

/// A WebSocket client for `info` at API version `version`.
pub async fn ws(info: &ApiInfo, version: &str, timeout: Duration) -> Result<WsClient, ConnectError> {
    let url = info.url(version)?;
    let url = url.replacen("http://", "ws://", 1).replacen("https://", "wss://", 1);
    WsClientBuilder::default()
        .set_headers(headers(&info.token)?)
        .request_timeout(timeout)
        .max_response_size(256 * 1024 * 1024)
        .build(&url)
        .await
        .map_err(|source| ConnectError::Client { url, source })
}

/// A remote call's failure as a user should read it: the server's message for a handler
/// error, the transport's reason otherwise.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CallError(pub String);

impl From<jsonrpsee::core::client::Error> for CallError {
    fn from(e: jsonrpsee::core::client::Error) -> Self {
        match e {
            jsonrpsee::core::client::Error::Call(obj) => CallError(obj.message().to_string()),
            jsonrpsee::core::client::Error::Transport(t) => CallError(format!("cannot reach the service: {t}")),
            jsonrpsee::core::client::Error::RequestTimeout => CallError("the request timed out".into()),
            other => CallError(other.to_string()),
        }
    }
}

/// Shorthand for mapping a call's result: `client.method().await.map_err(call_error)?`.
pub fn call_error(e: jsonrpsee::core::client::Error) -> CallError {
    e.into()
}

/// What a failed `StateMarketStorageDeal` call says about the deal.
#[derive(Debug, thiserror::Error)]
pub enum DealLookupError {
    /// The node answered that the deal is not in the market actor's state (timed out before
    /// activation, terminated, or finished).
    #[error("deal {0} not found in the market actor's state")]
    NotFound(u64),
    /// Anything else (the node unreachable, a missing tipset or block): nothing is known
    /// about the deal.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// Classify a failed `StateMarketStorageDeal(deal_id, …)`. Lotus and venus have no typed
/// code for it: their handler error (code 1) reads `deal <id> not found`, followed in lotus
/// by ` - deal may not have completed sealing …`. Only that answer, for this very deal,
/// means the deal is gone; a transport failure or any other handler error (`tipset not
/// found`, `blockstore: block not found`) does not.
pub fn classify_deal_lookup(e: jsonrpsee::core::client::Error, deal_id: u64) -> DealLookupError {
    if let jsonrpsee::core::client::Error::Call(obj) = &e {
        let expected = format!("deal {deal_id} not found");
        let msg = obj.message();
        if let Some(rest) = msg.strip_prefix(&expected)
            && (rest.is_empty() || rest.starts_with(" - ") || rest.starts_with(": "))
        {
            return DealLookupError::NotFound(deal_id);
        }
    }
    DealLookupError::Call(e.into())
}

#[cfg(test)]
mod deal_lookup_tests {
    use super::*;
    use jsonrpsee::core::client::Error;
    use jsonrpsee::types::ErrorObject;

    fn handler(msg: &str) -> Error {
        Error::Call(ErrorObject::owned(1, msg.to_string(), None::<()>))
    }

    #[test]
    fn only_the_node_s_answer_for_this_deal_means_the_deal_is_gone() {
        let gone = [
            "deal 7 not found - deal may not have completed sealing before deal proposal start epoch, or deal may have been slashed",
            "deal 7 not found",
        ];
        for msg in gone {
            assert!(
                matches!(classify_deal_lookup(handler(msg), 7), DealLookupError::NotFound(7)),
                "{msg}"
            );
        }
        let hiccups = [
            "loading tipset {bafy2bzace…}: tipset not found",
            "failed to load message bafy2bzace…: blockstore: block not found",
            "deal 70 not found",
            "deal 7 not foundation",
            "actor not found",
            "getting deal 7: deal not found in cache",
        ];
        for msg in hiccups {
            assert!(
                matches!(classify_deal_lookup(handler(msg), 7), DealLookupError::Call(_)),
                "{msg}"
            );
        }
        assert!(matches!(
            classify_deal_lookup(Error::RequestTimeout, 7),
            DealLookupError::Call(_)
        ));
        assert!(matches!(
            classify_deal_lookup(Error::Transport("deal 7 not found".into()), 7),
            DealLookupError::Call(_)
        ));
    }
}

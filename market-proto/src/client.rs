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

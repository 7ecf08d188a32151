//! The devnet's one HTTP port: `/rpc/v0` and `/rpc/v1` (full node, messager, devnet),
//! `/rpc/v2` (gateway signer), and sophon-auth's REST calls (`POST /verify`,
//! `GET /user/miner/exist`, `GET /user/signer`), all behind the same tokens.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use jsonrpsee::server::{ServerHandle, stop_channel};
use market_proto::api::handler_error;
use market_proto::jwt;
use market_proto::server::{Authenticator, CallFilter, Endpoint, LocalSecret};
use serde_json::json;

use crate::node::Node;
use crate::rpc::{gateway_module, gateway_table, is_miner, v0_module, v0_table, v1_module, v1_table};

/// A running server; dropping it does not stop it, [`Server::stop`] does.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    rpc_stop: ServerHandle,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stop serving (open WebSocket subscriptions end).
    pub fn stop(self) {
        let _ = self.rpc_stop.stop();
        self.task.abort();
    }
}

/// The router for a node.
pub fn router(node: Arc<Node>, stop: jsonrpsee::server::StopHandle) -> Router {
    let auth: Arc<dyn Authenticator> = Arc::new(LocalSecret(node.secret().to_vec()));
    // Calls of a method made to fail (`Devnet.FailMethod`) answer a handler error.
    let faults = node.clone();
    let filter: CallFilter = Arc::new(move |method: &str| {
        faults
            .take_fault(method)
            .then(|| handler_error(format!("devnet: {method} is failing (Devnet.FailMethod)")))
    });
    let ep = |m: jsonrpsee::RpcModule<()>, t| {
        Endpoint::new(m, t, auth.clone(), stop.clone())
            .with_filter(filter.clone())
            .route()
    };
    Router::new()
        .route("/verify", post(verify))
        .route("/user/miner/exist", get(miner_exist))
        .route("/user/signer", get(user_by_signer))
        .with_state(node.clone())
        .route("/rpc/v0", ep(v0_module(node.clone()), v0_table()))
        .route("/rpc/v1", ep(v1_module(node.clone()), v1_table()))
        .route("/rpc/v2", ep(gateway_module(node), gateway_table()))
}

/// Bind `listen` and serve until stopped.
pub async fn serve(node: Arc<Node>, listen: SocketAddr) -> std::io::Result<Server> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (stop, rpc_stop) = stop_channel();
    let app = router(node, stop);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(Server { addr, rpc_stop, task })
}

fn rest_error(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, AxumJson(json!({ "error": msg.into() }))).into_response()
}

/// The caller of a REST call must hold a token too: the refusal when it does not.
fn refusal(node: &Node, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Some(rest_error(
            StatusCode::UNAUTHORIZED,
            "missing token: send 'Authorization: Bearer <token>'",
        ));
    };
    jwt::verify(node.secret(), token)
        .err()
        .map(|e| rest_error(StatusCode::UNAUTHORIZED, e.to_string()))
}

#[derive(serde::Deserialize)]
struct VerifyBody {
    #[serde(rename = "Token", alias = "token")]
    token: String,
}

/// `POST /verify {"Token": "<jwt>"}` → `{"name","perm","ext"}`.
async fn verify(State(node): State<Arc<Node>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = refusal(&node, &headers) {
        return r;
    }
    let Ok(req) = serde_json::from_slice::<VerifyBody>(&body) else {
        return rest_error(StatusCode::BAD_REQUEST, "body must be {\"Token\": \"<jwt>\"}");
    };
    match jwt::verify(node.secret(), &req.token) {
        Ok(p) => AxumJson(p).into_response(),
        Err(e) => rest_error(StatusCode::UNAUTHORIZED, e.to_string()),
    }
}

/// A REST call's token checked, then its address query parameter `key` read.
fn authorised_address(
    node: &Node,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    key: &str,
) -> Result<market_types::Address, Box<Response>> {
    if let Some(r) = refusal(node, headers) {
        return Err(Box::new(r));
    }
    q.get(key)
        .and_then(|m| market_types::address::parse(m).ok())
        .ok_or_else(|| {
            Box::new(rest_error(
                StatusCode::BAD_REQUEST,
                format!("query parameter {key} must be an address"),
            ))
        })
}

/// `GET /user/miner/exist?miner=&user=`: on a devnet every user may use every miner.
async fn miner_exist(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let miner = match authorised_address(&node, &headers, &q, "miner") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let exists = node.with_chain(|c| {
        c.state
            .lookup_id(&miner)
            .and_then(|id| c.state.actor(id))
            .is_some_and(|a| is_miner(&a.kind))
    });
    AxumJson(exists).into_response()
}

/// `GET /user/signer?signer=`: the users bound to a signer (the devnet's one user, when the
/// devnet holds the key).
async fn user_by_signer(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let signer = match authorised_address(&node, &headers, &q, "signer") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if node.has_key(&signer) {
        AxumJson(
            json!([{ "id": "devnet", "name": "devnet", "comment": "", "state": 1, "createTime": 0, "updateTime": 0 }]),
        )
        .into_response()
    } else {
        AxumJson(json!([])).into_response()
    }
}

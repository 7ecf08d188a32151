//! `/resource`, the sealer's side door to piece storage. Both need a token, like the API.
//! - `GET /resource?resource-id=<pieceCid>`: download a deal's piece (damocles does this
//!   after `AssignDeals`).
//! - `PUT /resource?resource-id=<pieceCid>&store=<name>` (or `&size=<n>` to let droplet pick
//!   a writable store with room): upload a piece (the sealer saves unsealed pieces this way).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use market_proto::server::Authenticator;
use piece_store::store::PieceStorage;

/// What the route needs.
#[derive(Clone)]
pub struct ResourceState {
    pub pieces: Arc<PieceStorage>,
    pub auth: Arc<dyn Authenticator>,
}

impl std::fmt::Debug for ResourceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResourceState")
    }
}

const CHUNK: u64 = 4 << 20;

/// Why a request is turned away.
type Refusal = (StatusCode, String);

/// The token from `Authorization: Bearer` or `?token=`, checked.
async fn authorize(st: &ResourceState, headers: &HeaderMap, q: &HashMap<String, String>) -> Result<(), Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| q.get("token").cloned());
    let Some(token) = token else {
        return Err((StatusCode::UNAUTHORIZED, "missing token\n".into()));
    };
    if let Err(e) = st.auth.verify(&token).await {
        return Err((StatusCode::UNAUTHORIZED, format!("token refused: {e}\n")));
    }
    Ok(())
}

/// The piece CID in `resource-id`.
fn resource_id(q: &HashMap<String, String>) -> Result<String, Refusal> {
    let Some(piece) = q.get("resource-id").cloned() else {
        return Err((
            StatusCode::BAD_REQUEST,
            "resource-id (a piece CID) is required\n".into(),
        ));
    };
    if piece.parse::<cid::Cid>().is_err() {
        return Err((StatusCode::BAD_REQUEST, format!("resource-id {piece:?} is not a CID\n")));
    }
    Ok(piece)
}

pub async fn put_resource(
    State(st): State<ResourceState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Response {
    if let Err(r) = authorize(&st, &headers, &q).await {
        return r.into_response();
    }
    let piece = match resource_id(&q) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let size = match q.get("size").map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "size must be a number of bytes\n").into_response(),
    };
    let store = match q.get("store") {
        Some(name) => st.pieces.get(name),
        None => st.pieces.writable_for(size),
    };
    let store = match store {
        Ok(s) => s,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let chunks = body.into_data_stream().map(|c| c.map_err(std::io::Error::other));
    match store.write_stream(&piece, Box::pin(chunks)).await {
        Ok(n) if size.is_some_and(|s| s != n) => {
            tracing::warn!(%piece, got = n, expected = ?size, "uploaded piece size differs from the size given");
            (
                StatusCode::BAD_REQUEST,
                format!("received {n} bytes, size said {}\n", size.unwrap_or(0)),
            )
                .into_response()
        }
        Ok(n) => {
            tracing::info!(%piece, bytes = n, store = %store.info().name, "piece uploaded");
            (StatusCode::OK, format!("{}\n", store.info().name)).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

pub async fn get_resource(
    State(st): State<ResourceState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorize(&st, &headers, &q).await {
        return r.into_response();
    }
    let piece = match resource_id(&q) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let found = match st.pieces.locate(&piece).await {
        Ok(f) => f,
        Err(e) => return (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
    };
    let size = found.size;
    let pieces = st.pieces.clone();
    let stream = futures::stream::unfold(0u64, move |at| {
        let pieces = pieces.clone();
        let piece = piece.clone();
        async move {
            if at >= size {
                return None;
            }
            let end = (at + CHUNK).min(size);
            let chunk = pieces.read_range(&piece, at..end).await.map_err(std::io::Error::other);
            Some((chunk, end))
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, size)
        .body(Body::from_stream(stream))
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

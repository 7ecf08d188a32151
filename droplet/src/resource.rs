//! `GET /resource?resource-id=<pieceCid>`: the sealer downloads a deal's piece from piece
//! storage (damocles does this after `AssignDeals`). It needs a token, like the API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
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

pub async fn get_resource(
    State(st): State<ResourceState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| q.get("token").cloned());
    let Some(token) = token else {
        return (StatusCode::UNAUTHORIZED, "missing token\n").into_response();
    };
    if let Err(e) = st.auth.verify(&token).await {
        return (StatusCode::UNAUTHORIZED, format!("token refused: {e}\n")).into_response();
    }
    let Some(piece) = q.get("resource-id").cloned() else {
        return (StatusCode::BAD_REQUEST, "resource-id (a piece CID) is required\n").into_response();
    };
    if piece.parse::<cid::Cid>().is_err() {
        return (StatusCode::BAD_REQUEST, format!("resource-id {piece:?} is not a CID\n")).into_response();
    }
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

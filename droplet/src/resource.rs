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
use piece_store::store::StoreError;

use crate::http::piece::PieceBody;
use crate::http::ranges::Plan;
use crate::pieces::Pieces;

/// What the route needs.
#[derive(Clone)]
pub struct ResourceState {
    pub pieces: Arc<Pieces>,
    pub auth: Arc<dyn Authenticator>,
}

impl std::fmt::Debug for ResourceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResourceState")
    }
}

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
    let storage = st.pieces.storage();
    let store = match q.get("store") {
        Some(name) => storage.get(name),
        None => storage.writable_for(size),
    };
    let store = match store {
        Ok(s) => s,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    // The upload fails (and nothing is kept) as soon as it is longer than `size`, or if it
    // ends shorter.
    let chunks = sized(body.into_data_stream(), size);
    match store.write_stream(&piece, Box::pin(chunks)).await {
        Ok(n) => {
            tracing::info!(%piece, bytes = n, store = %store.info().name, "piece uploaded");
            if let Ok(cid) = piece.parse::<cid::Cid>()
                && let Err(e) = st.pieces.piece_uploaded(&cid).await
            {
                tracing::warn!(%piece, "recording the uploaded piece in the piece index: {e}");
            }
            (StatusCode::OK, format!("{}\n", store.info().name)).into_response()
        }
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::InvalidData => {
            tracing::warn!(%piece, error = %source, "piece upload refused");
            (StatusCode::BAD_REQUEST, format!("{source}\n")).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// The body's chunks, ended with an `InvalidData` error when they add up to more or fewer
/// bytes than `size` (when given).
fn sized(
    body: impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin,
    size: Option<u64>,
) -> impl futures::Stream<Item = std::io::Result<axum::body::Bytes>> {
    let wrong = |n: u64, s: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the upload is longer than size={s}: at least {n} bytes were sent"),
        )
    };
    futures::stream::unfold((body, 0u64, false), move |(mut body, seen, done)| async move {
        if done {
            return None;
        }
        match body.next().await {
            Some(Ok(chunk)) => {
                let seen = seen + chunk.len() as u64;
                match size {
                    Some(s) if seen > s => Some((Err(wrong(seen, s)), (body, seen, true))),
                    _ => Some((Ok(chunk), (body, seen, false))),
                }
            }
            Some(Err(e)) => Some((Err(std::io::Error::other(e)), (body, seen, true))),
            None => match size {
                Some(s) if seen != s => {
                    let short = std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the upload ended after {seen} bytes; size={s}"),
                    );
                    Some((Err(short), (body, seen, true)))
                }
                _ => None,
            },
        }
    })
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
    // Found once; every chunk is then read from the store that has it.
    let open = match st.pieces.storage().open(&piece).await {
        Ok(f) => f,
        Err(e) => return (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
    };
    let size = open.size();
    // One range at most; conditional headers are not answered here.
    let range = match crate::http::ranges::plan(&headers, None, size, std::num::NonZeroUsize::MIN) {
        Plan::Ranges(r) => r.into_iter().next(),
        Plan::Unsatisfiable => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .body(Body::empty())
                .unwrap_or_default();
        }
        _ => None,
    };
    let (start, end) = range.as_ref().map_or((0, size), |r| (r.start, r.end));
    let stream = PieceBody::new(open, size).read(start..end);
    let mut resp = Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, end - start);
    if range.is_some() {
        resp = resp
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {start}-{}/{size}", end - 1));
    }
    resp.body(Body::from_stream(stream))
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

//! The HTTP publisher an indexer pulls the chain from (ipnisync, go-libipni
//! `dagsync/ipnisync/publisher.go`): `GET /ipni/v1/ad/head` is the signed head (204 before the
//! first advertisement), `GET /ipni/v1/ad/<cid>` a block as stored (the bytes its CID hashes),
//! 404 for a CID the chain does not hold, 400 for one that does not parse. The same without
//! the `/ipni/v1/ad` prefix, for indexers that fall back to the older HTTP publisher's paths.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Indexer;

pub fn router(indexer: Arc<Indexer>) -> axum::Router {
    axum::Router::new()
        .route("/ipni/v1/ad/{name}", axum::routing::get(get))
        .route("/{name}", axum::routing::get(get))
        .with_state(indexer)
}

async fn get(State(ix): State<Arc<Indexer>>, Path(name): Path<String>) -> Response {
    let text = |status: StatusCode, msg: &'static str| (status, msg).into_response();
    let json = |bytes: Vec<u8>| ([(header::CONTENT_TYPE, "application/json")], bytes).into_response();
    if name == "head" {
        return match tokio::task::spawn_blocking(move || ix.signed_head()).await {
            Ok(Ok(Some(head))) => json(head),
            Ok(Ok(None)) => StatusCode::NO_CONTENT.into_response(),
            Ok(Err(e)) => {
                tracing::warn!("IPNI publisher: head: {e}");
                text(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the head\n")
            }
            Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the head\n"),
        };
    }
    let Ok(cid) = name.parse::<cid::Cid>() else {
        return text(StatusCode::BAD_REQUEST, "invalid request: not a cid\n");
    };
    match tokio::task::spawn_blocking(move || ix.chains().block(&cid)).await {
        Ok(Ok(Some(bytes))) => json(bytes),
        Ok(Ok(None)) => text(StatusCode::NOT_FOUND, "cid not found\n"),
        Ok(Err(e)) => {
            tracing::warn!("IPNI publisher: block {cid}: {e}");
            text(StatusCode::INTERNAL_SERVER_ERROR, "unable to load data for cid\n")
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "unable to load data for cid\n"),
    }
}

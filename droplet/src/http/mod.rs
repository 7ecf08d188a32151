//! droplet's HTTP retrieval, served on the API port without a token (as droplet serves it):
//! `/piece/{pieceCid}` ([`piece`]). How a request's conditional and `Range` headers are
//! answered is decided apart ([`ranges`]), and shared with the sealer's `/resource`.

use std::sync::Arc;

use crate::pieces::Pieces;

pub mod piece;
pub mod ranges;

/// The routes, to merge into the API server's router.
pub fn router(pieces: Arc<Pieces>) -> axum::Router {
    axum::Router::new()
        .route("/piece/{cid}", axum::routing::get(piece::get_piece))
        .route(
            "/piece/",
            axum::routing::get(|| async {
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    "a piece CID is required: /piece/<pieceCid>\n",
                )
            }),
        )
        .with_state(pieces)
}

//! droplet's HTTP retrieval, served on the API port without a token (as droplet serves it):
//! `/piece/{pieceCid}` ([`piece`]) and the trustless gateway `/ipfs/{cid}[/path]` ([`ipfs`]).
//! How a request's conditional and `Range` headers are answered is decided apart
//! ([`ranges`]), and shared with the sealer's `/resource`.

use std::sync::Arc;

use crate::pieces::Pieces;
use crate::retrieval::source::PieceBlocks;

pub mod ipfs;
pub mod piece;
pub mod ranges;

/// The routes, to merge into the API server's router. Must be called within the runtime.
pub fn router(pieces: Arc<Pieces>) -> axum::Router {
    let gateway = Arc::new(ipfs::Gateway::new(Arc::new(PieceBlocks::new(pieces.clone()))));
    let ipfs = axum::Router::new()
        .route("/ipfs/{*rest}", axum::routing::get(ipfs::get_ipfs))
        .route("/ipfs/", axum::routing::get(ipfs::get_ipfs))
        .route("/ipfs", axum::routing::get(ipfs::get_ipfs))
        .with_state(gateway);
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
        .merge(ipfs)
}

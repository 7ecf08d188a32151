//! `GET`/`HEAD /piece/{pieceCid}`, as boost's booster-http serves it: the **unpadded piece**,
//! i.e. the stored piece file (the deal's CAR) followed by zeros up to the deal's unpadded
//! piece size, so that a client can recompute the piece CID over the body. droplet serves the
//! bare stored file instead, and pads it only when a range reaches past its end, so the length
//! it reports depends on the request; here it is always the unpadded size.
//!
//! - 400: the path is not a CID. 404: no deal here holds the piece, or piece storage (file
//!   system or S3) has no copy of it (nothing is unsealed for this route). 500: reading failed.
//! - `Range` with one range (206, `Content-Range`) or several (206, `multipart/byteranges`),
//!   conditional requests on the entity tag (`"<pieceCid>"`, as booster-http's): see
//!   [`super::ranges`].
//! - `Content-Type: application/piece`, `Cache-Control: public, max-age=29030400, immutable`
//!   (booster-http's), `Accept-Ranges: bytes`. No gzip: a piece is mostly compressed or
//!   random data, and ranges of a gzipped body would not be ranges of the piece.
//!
//! The body is read from piece storage a chunk at a time as the client takes it; the padding
//! is served from a static buffer of zeros, never allocated.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use piece_store::store::{OpenPiece, StoreError};

use super::ranges::{Plan, plan};
use crate::pieces::Pieces;

/// Bytes read from piece storage at a time for one response.
const CHUNK: u64 = 1 << 20;

/// Ranges served in one response at most (more: 416).
const MAX_RANGES: NonZeroUsize = NonZeroUsize::new(64).expect("non-zero");

/// Zeros the padding is served from.
static ZEROS: [u8; CHUNK as usize] = [0; CHUNK as usize];

const CONTENT_TYPE: &str = "application/piece";
const CACHE_CONTROL: &str = "public, max-age=29030400, immutable";

/// Why a piece is not served.
#[derive(Debug, thiserror::Error)]
pub enum PieceHttpError {
    #[error("{0:?} is not a CID: {1}")]
    BadCid(String, String),
    #[error("no deal here holds piece {0}")]
    NoDeal(cid::Cid),
    #[error("piece {piece} has no unsealed copy in piece storage ({reason})")]
    NoCopy { piece: cid::Cid, reason: String },
    #[error(
        "the stored copy of piece {piece} is {stored} bytes, more than the deal's unpadded piece size {unpadded}: \
         remove the damaged copy from piece storage"
    )]
    Oversized {
        piece: cid::Cid,
        stored: u64,
        unpadded: u64,
    },
    #[error("reading piece {piece}: {reason}")]
    Read { piece: cid::Cid, reason: String },
}

impl PieceHttpError {
    fn status(&self) -> StatusCode {
        match self {
            PieceHttpError::BadCid(..) => StatusCode::BAD_REQUEST,
            PieceHttpError::NoDeal(_) | PieceHttpError::NoCopy { .. } => StatusCode::NOT_FOUND,
            PieceHttpError::Oversized { .. } | PieceHttpError::Read { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for PieceHttpError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!("/piece: {self}");
        }
        (self.status(), format!("{self}\n")).into_response()
    }
}

/// A piece as an HTTP body: the stored copy, then zeros to `len` (`/piece`'s unpadded piece;
/// `/resource` serves the stored copy alone, `len` its size).
#[derive(Debug, Clone)]
pub struct PieceBody {
    open: Arc<OpenPiece>,
    len: u64,
}

impl PieceBody {
    /// The stored copy `open`, zero-padded to `len` bytes when it is shorter.
    pub fn new(open: OpenPiece, len: u64) -> Self {
        PieceBody {
            open: Arc::new(open),
            len,
        }
    }

    /// Bytes `range` (within `len`), a chunk at a time as the client takes them.
    pub fn read(&self, range: Range<u64>) -> impl Stream<Item = std::io::Result<Bytes>> + Send + use<> {
        let open = self.open.clone();
        let stored = open.size();
        futures::stream::unfold(range, move |r| {
            let open = open.clone();
            async move {
                if r.start >= r.end {
                    return None;
                }
                if r.start >= stored {
                    let n = (r.end - r.start).min(CHUNK);
                    let zeros = Bytes::from_static(&ZEROS[..n as usize]);
                    return Some((Ok(zeros), r.start + n..r.end));
                }
                let next = r.end.min(stored).min(r.start + CHUNK);
                let chunk = open.read(r.start..next).await.map_err(std::io::Error::other);
                // A failed read ends the body: the client sees it cut short.
                let rest = if chunk.is_ok() { next..r.end } else { r.end..r.end };
                Some((chunk, rest))
            }
        })
    }
}

/// The piece `cid` ready to serve: a deal holds it and piece storage has a copy.
async fn find(pieces: &Pieces, cid: cid::Cid) -> Result<PieceBody, PieceHttpError> {
    let record = pieces
        .index()
        .piece(&cid)
        .map_err(|e| PieceHttpError::Read {
            piece: cid,
            reason: e.to_string(),
        })?
        .filter(|r| !r.deals.is_empty())
        .ok_or(PieceHttpError::NoDeal(cid))?;
    let open = match pieces.storage().open(&cid.to_string()).await {
        Ok(o) => o,
        Err(e @ StoreError::NotFound { .. }) => {
            return Err(PieceHttpError::NoCopy {
                piece: cid,
                reason: e.to_string(),
            });
        }
        Err(e) => {
            return Err(PieceHttpError::Read {
                piece: cid,
                reason: e.to_string(),
            });
        }
    };
    let stored = open.size();
    // The padded size the deal names (the same in every deal of the piece).
    let len = match record.deals.iter().map(|d| d.length).find(|l| *l > 0) {
        Some(padded) => {
            let unpadded = padded - padded / 128;
            if stored > unpadded {
                return Err(PieceHttpError::Oversized {
                    piece: cid,
                    stored,
                    unpadded,
                });
            }
            unpadded
        }
        None => stored,
    };
    Ok(PieceBody::new(open, len))
}

/// The headers every answer about a found piece carries.
fn common(etag: &str) -> axum::http::response::Builder {
    Response::builder()
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, CACHE_CONTROL)
        .header(header::ACCEPT_RANGES, "bytes")
}

pub async fn get_piece(
    State(pieces): State<Arc<Pieces>>,
    method: Method,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let cid: cid::Cid = match cid.parse() {
        Ok(c) => c,
        Err(e) => return PieceHttpError::BadCid(cid, e.to_string()).into_response(),
    };
    let piece = match find(&pieces, cid).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let etag = format!("\"{cid}\"");
    let head = method == Method::HEAD;
    let len = piece.len;
    let built = match plan(&headers, Some(&etag), len, MAX_RANGES) {
        Plan::NotModified => common(&etag).status(StatusCode::NOT_MODIFIED).body(Body::empty()),
        Plan::PreconditionFailed => Response::builder()
            .status(StatusCode::PRECONDITION_FAILED)
            .body(Body::empty()),
        Plan::Unsatisfiable => common(&etag)
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{len}"))
            .body(Body::empty()),
        Plan::Whole => {
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(piece.read(0..len))
            };
            common(&etag)
                .header(header::CONTENT_TYPE, CONTENT_TYPE)
                .header(header::CONTENT_LENGTH, len)
                .body(body)
        }
        Plan::Ranges(ranges) if ranges.len() == 1 => {
            let r = ranges[0].clone();
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(piece.read(r.clone()))
            };
            common(&etag)
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_TYPE, CONTENT_TYPE)
                .header(header::CONTENT_RANGE, content_range(&r, len))
                .header(header::CONTENT_LENGTH, r.end - r.start)
                .body(body)
        }
        Plan::Ranges(ranges) => {
            let boundary = uuid::Uuid::new_v4().simple().to_string();
            let parts = Multipart::new(&boundary, &ranges, len);
            let content_length = parts.len();
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(parts.stream(piece))
            };
            common(&etag)
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}"))
                        .unwrap_or(HeaderValue::from_static("multipart/byteranges")),
                )
                .header(header::CONTENT_LENGTH, content_length)
                .body(body)
        }
    };
    built.unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response())
}

fn content_range(r: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", r.start, r.end - 1)
}

/// A `multipart/byteranges` body (RFC 9110 §14.6): each range after its part headers, then
/// the closing delimiter.
struct Multipart {
    /// Each part's headers, with the delimiter before them, and its range.
    parts: Vec<(Bytes, Range<u64>)>,
    close: Bytes,
}

impl Multipart {
    fn new(boundary: &str, ranges: &[Range<u64>], len: u64) -> Self {
        let parts = ranges
            .iter()
            .map(|r| {
                let head = format!(
                    "\r\n--{boundary}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Range: {}\r\n\r\n",
                    content_range(r, len)
                );
                (Bytes::from(head), r.clone())
            })
            .collect();
        Multipart {
            parts,
            close: Bytes::from(format!("\r\n--{boundary}--\r\n")),
        }
    }

    /// The body's length.
    fn len(&self) -> u64 {
        let parts: u64 = self
            .parts
            .iter()
            .map(|(head, r)| head.len() as u64 + (r.end - r.start))
            .sum();
        parts + self.close.len() as u64
    }

    fn stream(self, piece: PieceBody) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let close = futures::stream::once(async move { Ok(self.close) });
        futures::stream::iter(self.parts)
            .flat_map(move |(head, r)| futures::stream::once(async move { Ok(head) }).chain(piece.read(r)))
            .chain(close)
    }
}

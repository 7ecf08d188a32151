//! `GET`/`HEAD /ipfs/{cid}[/path]`: the trustless gateway (what droplet and booster-http
//! serve through frisbii, and lassie fetches with `--protocols http`), over the blocks of the
//! pieces in piece storage, each read through the piece index by its offset, never a whole
//! piece. The request and the walk are the `trustless-gateway` crate's; this is the shell.
//!
//! Differences from droplet's frisbii v0.4.1, all towards the spec: `HEAD` is answered (with
//! the status a `GET` would have), a missing root or path is 404 (not 500), a byte range
//! outside the file is 400, `Cache-Control: only-if-cached` turns a 404 into 412, the
//! `bafkqaaa` probe answers 200, and `If-None-Match` on the entity tag answers 304.
//!
//! The body is produced on a blocking thread (piece reads) and handed to the connection through
//! a small queue, so a slow client holds at most a few blocks in memory; at most
//! [`MAX_STREAMS`] bodies run at once (then 429 with `Retry-After`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use trustless_gateway::request::CACHE_CONTROL;
use trustless_gateway::{Format, Request, Resolved, ServeError};

use crate::retrieval::source::PieceBlocks;

/// Pieces of the body queued for the connection at most (each a block or up to
/// [`BATCH`] bytes of small ones).
const QUEUE: usize = 4;

/// Small pieces (section heads, small blocks) are sent together up to this size.
const BATCH: usize = 64 << 10;

/// CAR responses streamed at once at most; each holds a blocking thread while it runs, so
/// more would starve the other blocking work (graphsync's walks, piece reads). Beyond it:
/// 429 with `Retry-After`, as the spec says for a busy gateway.
const MAX_STREAMS: usize = 256;

/// The gateway's state: where blocks come from, and the streams running.
#[derive(Debug)]
pub struct Gateway {
    blocks: Arc<PieceBlocks>,
    streams: Arc<tokio::sync::Semaphore>,
}

impl Gateway {
    pub fn new(blocks: Arc<PieceBlocks>) -> Self {
        Gateway {
            blocks,
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
        }
    }
}

fn refuse(status: u16, message: impl std::fmt::Display) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::warn!("/ipfs: {message}");
    }
    (status, format!("{message}\n")).into_response()
}

/// The headers of an answer about `request` (frisbii's set).
fn headers(request: &Request, uri: &Uri) -> Vec<(header::HeaderName, HeaderValue)> {
    let value = |s: &str| HeaderValue::from_str(s).ok();
    let mut out = vec![
        (header::CONTENT_TYPE, value(request.format.content_type())),
        (header::CACHE_CONTROL, value(CACHE_CONTROL)),
        (
            header::CONTENT_DISPOSITION,
            value(&format!("attachment; filename=\"{}\"", request.filename)),
        ),
        (header::ETAG, value(&request.etag())),
        (header::X_CONTENT_TYPE_OPTIONS, value("nosniff")),
        (header::VARY, value("Accept, Accept-Encoding")),
        (header::HeaderName::from_static("x-ipfs-path"), value(uri.path())),
    ];
    if matches!(request.format, Format::Car { .. }) {
        out.push((header::ACCEPT_RANGES, value("none")));
    }
    if request.path.is_empty() {
        out.push((
            header::HeaderName::from_static("x-ipfs-roots"),
            value(&request.root.to_string()),
        ));
    }
    if request.negotiated {
        let format = if request.format == Format::Raw { "raw" } else { "car" };
        let location = match uri.query() {
            Some(q) if !q.is_empty() => format!("{}?{q}&format={format}", uri.path()),
            _ => format!("{}?format={format}", uri.path()),
        };
        out.push((header::CONTENT_LOCATION, value(&location)));
    }
    out.into_iter().filter_map(|(k, v)| Some((k, v?))).collect()
}

/// Whether `If-None-Match` names this entity tag (weak comparison) or is `*`.
fn not_modified(request_headers: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == strip(etag))
}

pub async fn get_ipfs(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    request_headers: HeaderMap,
) -> Response {
    let path = uri.path().strip_prefix("/ipfs").unwrap_or_default();
    let accept = request_headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let request = match Request::parse(path, uri.query(), accept) {
        Ok(r) => r,
        Err(e) => return refuse(e.status(), e),
    };
    let only_if_cached = request_headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("only-if-cached"));

    let blocks = gateway.blocks.clone();
    let (source, req) = (blocks.clone(), request.clone());
    let resolved = match tokio::task::spawn_blocking(move || trustless_gateway::resolve(&*source, &req)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) if e.status() == 404 && only_if_cached => return refuse(412, e),
        Ok(Err(e)) => return refuse(e.status(), e),
        Err(e) => return refuse(500, format!("resolving {}: {e}", request.root)),
    };

    let mut response = Response::builder();
    for (k, v) in headers(&request, &uri) {
        response = response.header(k, v);
    }
    if not_modified(&request_headers, &request.etag()) {
        return response
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_else(|e| refuse(500, e));
    }
    if request.format == Format::Raw {
        // HEAD says the length a GET would send.
        response = response.header(header::CONTENT_LENGTH, resolved.root().len());
    }
    let body = match (method == Method::HEAD, request.format) {
        (true, _) => Body::empty(),
        (false, Format::Raw) => Body::from(resolved.root().clone()),
        (false, Format::Car { .. }) => match gateway.streams.clone().try_acquire_owned() {
            Ok(permit) => stream(blocks, request, resolved, permit),
            Err(_) => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "1")],
                    format!("{MAX_STREAMS} CAR responses are being sent: try again in a second\n"),
                )
                    .into_response();
            }
        },
    };
    response.body(body).unwrap_or_else(|e| refuse(500, e))
}

/// The CAR body: the walk runs on a blocking thread and hands the connection its pieces.
fn stream(
    blocks: Arc<PieceBlocks>,
    request: Request,
    resolved: Resolved,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(QUEUE);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let gone = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away");
        let mut batch = BytesMut::new();
        let mut emit = |piece: Bytes| -> std::io::Result<()> {
            if piece.len() < BATCH / 4 {
                batch.extend_from_slice(&piece);
                if batch.len() < BATCH {
                    return Ok(());
                }
                return tx.blocking_send(Ok(batch.split().freeze())).map_err(|_| gone());
            }
            if !batch.is_empty() {
                tx.blocking_send(Ok(batch.split().freeze())).map_err(|_| gone())?;
            }
            tx.blocking_send(Ok(piece)).map_err(|_| gone())
        };
        let outcome = trustless_gateway::stream_car(&*blocks, &request, &resolved, &mut emit);
        match outcome {
            Ok(_) => {
                if !batch.is_empty() {
                    let _ = tx.blocking_send(Ok(batch.split().freeze()));
                }
            }
            Err(ServeError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                // The status is sent: the response is cut short, which the client sees.
                tracing::warn!(root = %request.root, "/ipfs: the CAR ends early: {e}");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

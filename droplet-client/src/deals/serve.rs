//! Serving an online deal's CAR to its provider: `GET /deal-data/<uuid>` with the deal's own
//! bearer token, whole or from a `Range: bytes=N-[M]` offset, for as long as the deal waits
//! for its data.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use market_types::Uuid;
use market_types::states::StorageDealStatus as S;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::ClientDeals;

/// A fresh random bearer token (256 bits, hex).
pub fn new_token() -> String {
    market_proto::jwt::new_secret()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The route, to merge into the daemon's router.
pub fn router(deals: Arc<ClientDeals>) -> axum::Router {
    axum::Router::new()
        .route("/deal-data/{uuid}", axum::routing::get(serve))
        .with_state(deals)
}

fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    (status, text.into()).into_response()
}

/// `bytes=N-` or `bytes=N-M` within `size`: the first and last byte.
fn parse_range(v: &str, size: u64) -> Option<(u64, u64)> {
    let spec = v.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end = if b.trim().is_empty() {
        size.checked_sub(1)?
    } else {
        b.trim().parse::<u64>().ok()?.min(size.checked_sub(1)?)
    };
    (start <= end).then_some((start, end))
}

async fn serve(State(deals): State<Arc<ClientDeals>>, Path(uuid): Path<String>, headers: HeaderMap) -> Response {
    let Ok(uuid) = uuid.parse::<Uuid>() else {
        return plain(StatusCode::NOT_FOUND, "no such deal");
    };
    let d = match deals.deals.get(&uuid) {
        Ok(Some(d)) if d.online && !d.car_path.is_empty() => d,
        Ok(_) => return plain(StatusCode::NOT_FOUND, "no such deal"),
        Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", d.serve_token) {
        return plain(StatusCode::UNAUTHORIZED, "wrong or missing deal token");
    }
    if !matches!(d.status(), S::CheckForAcceptance | S::Transferring) {
        return plain(
            StatusCode::GONE,
            format!("deal {uuid} no longer waits for its data ({})", d.status().name()),
        );
    }
    let mut file = match tokio::fs::File::open(&d.car_path).await {
        Ok(f) => f,
        Err(e) => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("opening the deal's CAR: {e}"),
            );
        }
    };
    let size = match file.metadata().await {
        Ok(m) => m.len(),
        Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, size.saturating_sub(1)),
        Some(r) => match parse_range(r, size) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                )
                    .into_response();
            }
        },
    };
    if let Err(e) = file.seek(std::io::SeekFrom::Start(start)).await {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    let len = if size == 0 { 0 } else { end - start + 1 };
    let stream = futures::stream::unfold((file.take(len), vec![0u8; 256 << 10]), |(mut f, mut buf)| async move {
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                let chunk = bytes::Bytes::copy_from_slice(&buf[..n]);
                Some((Ok::<_, std::io::Error>(chunk), (f, buf)))
            }
            Err(e) => Some((Err(e), (f, buf))),
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, len.into());
    h.insert(header::ACCEPT_RANGES, header::HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = header::HeaderValue::from_str(&format!("bytes {start}-{end}/{size}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-", 10), Some((0, 9)));
        assert_eq!(parse_range("bytes=4-7", 10), Some((4, 7)));
        assert_eq!(parse_range("bytes=4-100", 10), Some((4, 9)));
        assert_eq!(parse_range("bytes=9-3", 10), None);
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("items=0-", 10), None);
        assert_eq!(parse_range("bytes=0-", 0), None);
    }
}

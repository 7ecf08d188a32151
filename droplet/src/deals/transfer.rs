//! Online deals' data: the provider downloads the client's CAR over HTTP with the headers the
//! client gave, into the transfer directory. A download that stops part way is resumed with a
//! `Range` request from the bytes already on disk (a server that answers 200 instead of 206
//! starts the file again), so an interrupted transfer never starts from nothing.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use market_types::boost::HttpRequest;
use tokio::io::AsyncWriteExt;

/// Why a download stopped.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// Worth trying again from where it got to (connection cut, server error, short body).
    #[error("{0}")]
    Interrupted(String),
    /// Trying again will not help (bad URL, refused, too much data).
    #[error("{0}")]
    Failed(String),
}

/// The HTTP client for deal transfers: connect and read timeouts, no overall timeout (a
/// large piece takes as long as it takes).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

/// Check what a proposal says about its transfer before accepting it. The download is capped
/// at `size`, and `size` at the piece's unpadded size (commP pads the data up to the piece,
/// so more data cannot match it): a client cannot make the provider fetch more than it pays for.
pub fn check_request(transfer_type: &str, req: &HttpRequest, size: u64, piece_unpadded: u64) -> Result<(), String> {
    match transfer_type {
        "http" => {}
        "libp2p" => {
            return Err("transfer type libp2p is not supported by this provider: serve the data over http".into());
        }
        other => return Err(format!("unsupported transfer type {other:?}: use http")),
    }
    let url = reqwest::Url::parse(&req.url).map_err(|e| format!("transfer URL {:?}: {e}", req.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("transfer URL {:?}: the scheme must be http or https", req.url));
    }
    if size == 0 {
        return Err("the transfer size is zero: an online deal must say how many bytes to fetch".into());
    }
    if size > piece_unpadded {
        return Err(format!(
            "transfer size {size} is larger than the piece's {piece_unpadded} bytes of data"
        ));
    }
    Ok(())
}

/// Download `size` bytes from `req` into `dest`, resuming from what `dest` already holds.
/// `progress` hears the bytes on disk as they grow.
pub async fn download(
    http: &reqwest::Client,
    req: &HttpRequest,
    dest: &Path,
    size: u64,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(), TransferError> {
    let have = match tokio::fs::metadata(dest).await {
        Ok(m) if m.len() <= size => m.len(),
        Ok(_) => 0,
        Err(_) => 0,
    };
    if have == size {
        return Ok(());
    }
    let mut get = http.get(&req.url);
    for (k, v) in req.headers.iter().flatten() {
        get = get.header(k, v);
    }
    if have > 0 {
        get = get.header(reqwest::header::RANGE, format!("bytes={have}-{}", size - 1));
    }
    let resp = get
        .send()
        .await
        .map_err(|e| TransferError::Interrupted(format!("requesting {}: {e}", req.url)))?;
    let status = resp.status();
    let mut offset = match status.as_u16() {
        206 if have > 0 => have,
        200 => 0,
        s if status.is_server_error() || s == 429 || s == 408 => {
            return Err(TransferError::Interrupted(format!("{} answered {status}", req.url)));
        }
        _ => return Err(TransferError::Failed(format!("{} answered {status}", req.url))),
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(dest)
        .await
        .map_err(|e| TransferError::Failed(format!("opening {}: {e}", dest.display())))?;
    file.set_len(offset)
        .await
        .map_err(|e| TransferError::Failed(format!("resizing {}: {e}", dest.display())))?;
    use tokio::io::AsyncSeekExt;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| TransferError::Failed(format!("seeking {}: {e}", dest.display())))?;
    let mut body = resp.bytes_stream();
    let mut cut = None;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                cut = Some(format!("the download from {} was cut at byte {offset}: {e}", req.url));
                break;
            }
        };
        if offset + chunk.len() as u64 > size {
            return Err(TransferError::Failed(format!(
                "{} sent more than the deal's {size} bytes",
                req.url
            )));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| TransferError::Failed(format!("writing {}: {e}", dest.display())))?;
        offset += chunk.len() as u64;
        progress(offset);
    }
    file.flush()
        .await
        .and(file.sync_data().await)
        .map_err(|e| TransferError::Failed(format!("writing {}: {e}", dest.display())))?;
    if let Some(reason) = cut {
        return Err(TransferError::Interrupted(reason));
    }
    if offset < size {
        return Err(TransferError::Interrupted(format!(
            "the download from {} ended at byte {offset} of {size}",
            req.url
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(url: &str) -> HttpRequest {
        HttpRequest {
            url: url.into(),
            headers: None,
        }
    }

    #[test]
    fn transfers_are_checked_before_acceptance() {
        assert_eq!(check_request("http", &req("http://127.0.0.1/a.car"), 100, 127), Ok(()));
        let refused = |t: &str, u: &str, size: u64| check_request(t, &req(u), size, 127).expect_err(u);
        assert!(refused("libp2p", "libp2p:///ip4/1.2.3.4/tcp/1", 100).contains("libp2p is not supported"));
        assert!(refused("graphsync", "http://a/b", 100).contains("unsupported transfer type"));
        assert!(refused("http", "ftp://a/b", 100).contains("scheme"));
        assert!(refused("http", "not a url", 100).contains("transfer URL"));
        assert!(refused("http", "http://a/b", 0).contains("zero"));
        assert!(refused("http", "http://a/b", 128).contains("larger than the piece"));
    }
}

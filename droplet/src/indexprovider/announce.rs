//! HTTP announcements (go-libipni `announce/httpsender`): `PUT <url>` with the CBOR message
//! naming the new head and the publisher's addresses (each ending in `/p2p/<peer>`); a URL
//! without a path gets `/announce`. Sent to every URL at once; any failure is reported.

use cid::Cid;
use libp2p::Multiaddr;

use super::IndexerError;

/// The message's bytes.
pub fn message(head: &Cid, publisher: &[Multiaddr], peer: libp2p::PeerId) -> Vec<u8> {
    let addrs: Vec<Vec<u8>> = publisher
        .iter()
        .map(|a| a.clone().with(libp2p::multiaddr::Protocol::P2p(peer)).to_vec())
        .collect();
    ipni::announce::message(head, &addrs, &[])
}

fn with_default_path(url: &str) -> Result<reqwest::Url, String> {
    let mut u = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("only http and https announce URLs are supported".into());
    }
    if u.path().is_empty() || u.path() == "/" {
        u.set_path("/announce");
    }
    Ok(u)
}

/// PUTs the message to every URL; the first failure names its URL.
pub async fn send(http: &reqwest::Client, urls: &[String], msg: Vec<u8>) -> Result<(), IndexerError> {
    let sends = urls.iter().map(|url| {
        let msg = msg.clone();
        async move {
            let fail = |reason: String| IndexerError::Announce {
                url: url.clone(),
                reason,
            };
            let u = with_default_path(url).map_err(fail)?;
            let resp = http
                .put(u)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(msg)
                .send()
                .await
                .map_err(|e| fail(e.to_string()))?;
            let status = resp.status();
            if status == reqwest::StatusCode::OK || status == reqwest::StatusCode::NO_CONTENT {
                Ok(())
            } else {
                // A short body at most: an indexer's reason, not a page (read no further).
                let mut resp = resp;
                let mut body = Vec::new();
                while body.len() < 512 {
                    match resp.chunk().await {
                        Ok(Some(c)) => body.extend_from_slice(&c),
                        _ => break,
                    }
                }
                let text = String::from_utf8_lossy(&body[..body.len().min(512)]).trim().to_string();
                Err(fail(format!("{status} {text}")))
            }
        }
    });
    for r in futures::future::join_all(sends).await {
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_a_path_get_announce() {
        assert_eq!(
            with_default_path("https://cid.contact").expect("test value").as_str(),
            "https://cid.contact/announce"
        );
        assert_eq!(
            with_default_path("https://cid.contact/ingest/announce")
                .expect("test value")
                .as_str(),
            "https://cid.contact/ingest/announce"
        );
        assert!(with_default_path("ftp://x").is_err());
        assert!(with_default_path("nonsense").is_err());
    }
}

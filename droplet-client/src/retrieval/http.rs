//! Retrieval over a provider's trustless gateway (`retrieve --http`): the provider's HTTP
//! address from `/fil/retrieval/transports/1.0.0`, one `GET /ipfs/{root}[/path]` for the whole
//! DAG as a CAR, each block checked against the local walk of the same selector as it
//! arrives (lassie's `VerifyCar`, in `trustless-gateway`) and written to the same CAR and
//! output file as a graphsync retrieval, with the same records and progress. Over HTTP a
//! retrieval is free: nothing is paid.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures::StreamExt;
use market_types::states::{RetrievalClientEvent as E, RetrievalDealStatus as S};
use trustless_gateway::{Format, Request, Scope};

use super::record::RetrievalRecord;
use super::sink::CarSink;
use super::{Live, Retrievals, SAVE_EVERY, lock};

/// What the client asks a gateway for: a CAR with every duplicate (so the file written while
/// the blocks arrive needs nothing read back).
const ACCEPT: &str = "application/vnd.ipld.car;version=1;order=dfs;dups=y";

/// How long a response may make no progress before the retrieval fails (the trustless
/// gateway spec's guidance for clients).
const NO_PROGRESS: std::time::Duration = std::time::Duration::from_secs(30);

/// The base URL (`http://host:port`) of an HTTP retrieval multiaddr (`/ip4/…/tcp/…/http`,
/// `/dns4/…/tcp/…/https`, `…/tls/http`).
pub fn gateway_url(addr: &libp2p::Multiaddr) -> Option<String> {
    use libp2p::multiaddr::Protocol;
    let (mut host, mut port, mut scheme, mut tls) = (None, None, None, false);
    for p in addr.iter() {
        match p {
            Protocol::Ip4(ip) => host = Some(ip.to_string()),
            Protocol::Ip6(ip) => host = Some(format!("[{ip}]")),
            Protocol::Dns(h) | Protocol::Dns4(h) | Protocol::Dns6(h) => host = Some(h.to_string()),
            Protocol::Tcp(p) => port = Some(p),
            Protocol::Tls => tls = true,
            Protocol::Http => scheme = Some(if tls { "https" } else { "http" }),
            Protocol::Https => scheme = Some("https"),
            _ => {}
        }
    }
    Some(format!("{}://{}:{}", scheme?, host?, port?))
}

/// The response body as a blocking reader, for the verifier's thread.
struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

impl Retrievals {
    /// The provider's gateway, from its answer on the transports protocol.
    async fn gateway(&self, peer: libp2p::PeerId, addrs: Vec<libp2p::Multiaddr>) -> Result<String> {
        self.inner
            .host
            .connect(peer, addrs)
            .await
            .with_context(|| format!("connecting to provider {peer}"))?;
        let answer = market_p2p::transports::query(&self.inner.host.stream_control(), peer).await?;
        let offered: Vec<&str> = answer.protocols.iter().map(|p| p.name.as_str()).collect();
        answer
            .protocols
            .iter()
            .filter(|p| p.name == "http")
            .flat_map(|p| p.addresses.iter())
            .filter_map(|a| libp2p::Multiaddr::try_from(a.0.clone()).ok())
            .find_map(|a| gateway_url(&a))
            .ok_or_else(|| {
                anyhow!(
                    "provider {peer} offers no HTTP retrieval (its transports: {}): retrieve without --http",
                    offered.join(", ")
                )
            })
    }

    /// Start an HTTP retrieval of the deal `record` describes; its ID.
    pub(super) async fn start_http(
        &self,
        mut record: RetrievalRecord,
        peer: libp2p::PeerId,
        addrs: Vec<libp2p::Multiaddr>,
        sink: Arc<CarSink>,
    ) -> Result<u64> {
        let id = record.info.id;
        let prepared = async {
            // A data-model path (`Links/0/Hash`) is not a gateway's UnixFS path, and the export
            // after the retrieval resolves data-model paths: over HTTP, the whole DAG.
            if record.data_selector.is_some() {
                bail!("--data-selector works over graphsync only: retrieve without --http");
            }
            let base = self.gateway(peer, addrs).await?;
            let request = Request {
                root: graphsync::block_cid(&record.info.payload_cid.0),
                path: Vec::new(),
                scope: Scope::All,
                bytes: None,
                format: Format::Car { dups: true },
                filename: String::new(),
                negotiated: false,
            };
            Ok::<_, anyhow::Error>((format!("{base}{}", request.url_path()), request))
        }
        .await;
        let (url, request) = match prepared {
            Ok(p) => p,
            Err(e) => return self.not_started(record, &sink, e),
        };
        record.info.message = format!("over HTTP: {url}");
        record.set(E::DealAccepted, S::Ongoing);
        self.inner.store.put(&mut record)?;
        let live = Arc::new(Live {
            cancel: tokio::sync::Notify::new(),
        });
        lock(&self.inner.live).insert(id, live.clone());
        let this = self.clone();
        tokio::spawn(async move {
            this.follow_http(record, url, request, sink, live).await;
            lock(&this.inner.live).remove(&id);
        });
        Ok(id)
    }

    async fn follow_http(
        &self,
        mut r: RetrievalRecord,
        url: String,
        request: Request,
        sink: Arc<CarSink>,
        live: Arc<Live>,
    ) {
        let received = Arc::new(AtomicU64::new(0));
        let fetched = tokio::select! {
            res = self.fetch(&mut r, &url, request, sink.clone(), received.clone()) => Some(res),
            _ = live.cancel.notified() => None,
        };
        r.info.bytes_received = received.load(Ordering::Relaxed);
        match fetched {
            None => {
                r.info.message = "cancelled by the client".into();
                r.set(E::Cancel, S::Cancelled);
            }
            Some(Err(e)) => {
                r.info.message = format!("{e:#}");
                r.set(E::DataTransferError, S::Errored);
            }
            Some(Ok(())) => {
                r.info.message.clear();
                r.set(E::AllBlocksReceived, S::BlocksComplete);
                r.set(E::CompleteVerified, S::FinalizingBlockstore);
                match sink.finish_output().and_then(|w| sink.sync().map(|()| w)) {
                    Ok(written) => {
                        r.output = written;
                        r.set(E::BlockstoreFinalized, S::Completed);
                    }
                    Err(e) => {
                        r.info.message = format!("writing {}: {e}", sink.path().display());
                        r.set(E::FinalizeBlockstoreErrored, S::Errored);
                    }
                }
            }
        }
        if r.status() != S::Completed
            && let Some(o) = sink.output()
        {
            o.abandon();
        }
        if let Err(e) = self.inner.store.put(&mut r) {
            tracing::warn!(deal = r.info.id, "saving the retrieval: {e}");
        }
    }

    /// GET the CAR and verify it into the sink, saving progress as it goes.
    async fn fetch(
        &self,
        r: &mut RetrievalRecord,
        url: &str,
        request: Request,
        sink: Arc<CarSink>,
        received: Arc<AtomicU64>,
    ) -> Result<()> {
        let response = reqwest::Client::builder()
            .connect_timeout(NO_PROGRESS)
            .read_timeout(NO_PROGRESS)
            .build()?
            .get(url)
            .header(reqwest::header::ACCEPT, ACCEPT)
            .header(
                reqwest::header::USER_AGENT,
                concat!("droplet-client/", env!("CARGO_PKG_VERSION")),
            )
            .send()
            .await
            .with_context(|| format!("asking {url}"))?;
        let status = response.status();
        if !status.is_success() {
            // The gateway's reason, at most 4 KiB of it.
            let mut why = Vec::new();
            let mut body = response.bytes_stream();
            while why.len() < 4096
                && let Ok(Some(Ok(chunk))) = tokio::time::timeout(NO_PROGRESS, body.next()).await
            {
                why.extend_from_slice(&chunk[..chunk.len().min(4096 - why.len())]);
            }
            bail!(
                "the provider's gateway answered {status}: {}",
                String::from_utf8_lossy(&why).trim()
            );
        }
        // dups as the response declares them (y when it does not say, as lassie reads it).
        let dups = !response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.replace(' ', "").contains("dups=n"));
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
        let counted = received.clone();
        let verifier = tokio::task::spawn_blocking(move || {
            let mut body = BodyReader {
                rx,
                current: Bytes::new(),
            };
            trustless_gateway::verify::verify_car(&request, dups, &mut body, &mut |load| {
                let data = if load.fresh {
                    counted.fetch_add(load.data.len() as u64, Ordering::Relaxed);
                    graphsync::BlockSink::put(&*sink, *load.cid, load.data.clone())?;
                    load.data.clone()
                } else if load.cid.hash().code() == graphsync::ipld::IDENTITY {
                    load.data.clone()
                } else {
                    // A duplicate the gateway did not send again: the copy kept.
                    graphsync::BlockSink::get(&*sink, load.cid)?.unwrap_or_else(|| load.data.clone())
                };
                graphsync::BlockSink::walked(&*sink, load.index, load.cid, Some(&data))
            })
        });
        let mut body = response.bytes_stream();
        let mut tick = tokio::time::interval(SAVE_EVERY);
        loop {
            tokio::select! {
                chunk = body.next() => match chunk {
                    Some(Ok(bytes)) => {
                        if tx.send(Ok(bytes)).await.is_err() {
                            break; // the verifier stopped: its error says why
                        }
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(Err(std::io::Error::other(format!("the response was cut: {e}")))).await;
                        break;
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    r.info.bytes_received = received.load(Ordering::Relaxed);
                    r.info.event = Some(E::BlocksReceived.code());
                    r.note();
                    let _ = self.inner.store.put_progress(r);
                }
            }
        }
        drop(tx);
        verifier
            .await
            .map_err(|e| anyhow!("the verifier failed: {e}"))?
            .with_context(|| format!("the CAR from {url} does not verify"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls_from_multiaddrs() {
        let url = |s: &str| gateway_url(&s.parse().expect("multiaddr"));
        assert_eq!(
            url("/ip4/127.0.0.1/tcp/41235/http").as_deref(),
            Some("http://127.0.0.1:41235")
        );
        assert_eq!(
            url("/dns4/sp.example/tcp/443/https").as_deref(),
            Some("https://sp.example:443")
        );
        assert_eq!(
            url("/dns/sp.example/tcp/443/tls/http").as_deref(),
            Some("https://sp.example:443")
        );
        assert_eq!(url("/ip6/::1/tcp/80/http").as_deref(), Some("http://[::1]:80"));
        assert_eq!(url("/ip4/127.0.0.1/tcp/41235").as_deref(), None, "not HTTP");
    }
}

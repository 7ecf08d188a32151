//! Starting IPNI in the daemon: the HTTP publisher's listener and the address announcements
//! give for it, and the reconcile loop (which also reads which miners can be advertised: their
//! on-chain peer ID must be this droplet's).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;

use super::{Indexer, IndexerParts};
use crate::chain::Chain;
use crate::deals::DealStore;
use crate::miners::LiveConfig;
use crate::pieces::Pieces;

/// What the daemon hands over.
#[derive(Debug)]
pub struct Start {
    pub store: Arc<crate::store::Store>,
    pub deals: DealStore,
    pub direct: crate::direct::DirectDeals,
    pub pieces: Arc<Pieces>,
    pub config: Arc<LiveConfig>,
    pub chain: Arc<Chain>,
    pub key: libp2p::identity::Keypair,
    pub retrieval_addrs: Vec<Multiaddr>,
    pub interval: Duration,
}

/// The running publisher and indexer.
#[derive(Debug)]
pub struct Running {
    pub indexer: Arc<Indexer>,
    pub publisher: SocketAddr,
    /// What announcements tell indexers to pull from.
    pub announced_as: Vec<Multiaddr>,
}

/// The publisher's address for announcements: `PublicHostname` (an IP or a DNS name) at the
/// configured port, else the address it listens on.
fn announce_addr(public_hostname: &str, port: u16, bound: SocketAddr) -> Multiaddr {
    let host = public_hostname.trim();
    let port = if port == 0 { bound.port() } else { port };
    let mut a = Multiaddr::empty();
    match host.parse::<IpAddr>() {
        _ if host.is_empty() => a.push(bound.ip().into()),
        Ok(ip) => a.push(ip.into()),
        Err(_) => a.push(Protocol::Dns(host.to_string().into())),
    }
    a.push(Protocol::Tcp(port));
    a.push(Protocol::Http);
    a
}

pub async fn start(s: Start) -> Result<Running> {
    let p = s
        .config
        .read(|c| c.common_provider.index_provider.http_publisher.clone());
    let port = u16::try_from(p.port).context("[CommonProvider.IndexProvider.HttpPublisher] Port is not a TCP port")?;
    let ip: IpAddr = p.listen_address.trim().parse().with_context(|| {
        format!(
            "[CommonProvider.IndexProvider.HttpPublisher] ListenAddress {:?} is not an IP address",
            p.listen_address
        )
    })?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, port))
        .await
        .with_context(|| format!("IPNI HTTP publisher: listening on {ip}:{port}"))?;
    let bound = listener.local_addr()?;
    let announced_as = vec![announce_addr(&p.public_hostname, port, bound)];
    if p.public_hostname.trim().is_empty() && ip.is_unspecified() {
        tracing::warn!(
            "IPNI: HttpPublisher PublicHostname is empty, so announcements name {}: set it to the address indexers reach",
            announced_as[0]
        );
    }
    let indexer = Arc::new(Indexer::new(IndexerParts {
        store: s.store,
        deals: s.deals,
        direct: s.direct,
        pieces: s.pieces,
        config: s.config,
        key: s.key,
        retrieval_addrs: s.retrieval_addrs,
        publisher_addrs: announced_as.clone(),
        chain: s.chain,
    }));
    let router = super::http::router(indexer.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "IPNI HTTP publisher stopped");
        }
    });
    indexer.start(s.interval);
    Ok(Running {
        indexer,
        publisher: bound,
        announced_as,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_name_the_public_host_or_the_listener() {
        let bound: SocketAddr = "127.0.0.1:4567".parse().expect("test value");
        assert_eq!(announce_addr("", 0, bound).to_string(), "/ip4/127.0.0.1/tcp/4567/http");
        assert_eq!(
            announce_addr("1.2.3.4", 80, bound).to_string(),
            "/ip4/1.2.3.4/tcp/80/http"
        );
        assert_eq!(
            announce_addr("ipni.example.org", 3104, bound).to_string(),
            "/dns/ipni.example.org/tcp/3104/http"
        );
    }
}

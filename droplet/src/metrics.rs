//! Prometheus metrics on `[Metrics]`'s own listener (`[Metrics.Exporter.Prometheus] EndPoint`
//! and `Path`, as droplet serves them), in the OpenMetrics text format Prometheus scrapes.
//!
//! droplet's names where they exist (`active_deal_count{miner}`), prefixed with `Namespace_`
//! when one is set; and what operators need, read from droplet's own stores at each scrape
//! (deals per state per miner, retrieval deals per state, bytes sent over graphsync, escrow held
//! back per miner) or counted as it happens (HTTP retrieval requests and bytes per route).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::Result;
use axum::body::Body;
use axum::http::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use crate::deals::DealStore;
use crate::deals::runner::DealRunner;
use crate::retrieval::record::RetrievalDeals;

/// What the scrape reads.
#[derive(Debug)]
pub struct Sources {
    pub deals: DealStore,
    pub retrieval: RetrievalDeals,
    pub runner: Arc<DealRunner>,
    pub pieces: Arc<crate::pieces::Pieces>,
}

type Labels = Vec<(&'static str, String)>;

/// The registry, and the counters other parts bump.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<Labels, Counter>,
    http_bytes: Family<Labels, Counter>,
    /// Market escrow per miner and kind (`escrow`, `locked`), in FIL, as last read from the
    /// chain by [`Metrics::follow_escrow`].
    escrow: Family<Labels, Gauge<f64, AtomicU64>>,
    rpc: Arc<RpcFailures>,
}

/// Failed JSON-RPC calls per kind and method, under go-jsonrpc's names as droplet exports
/// them (`rpc_invalid_method`, `rpc_request_error`, `rpc_response_error`, label `method`),
/// without the `_total` an OpenMetrics counter would add, so droplet's dashboards find them
/// (typed gauge: `unknown` is not in Prometheus's classic text format; `rate()` works alike).
#[derive(Debug, Default)]
struct RpcFailures(std::sync::Mutex<std::collections::BTreeMap<(&'static str, String), u64>>);

impl Collector for RpcFailures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (name, help) in [
            ("rpc_invalid_method", "JSON-RPC calls of a method that does not exist"),
            (
                "rpc_request_error",
                "JSON-RPC calls refused before running (parameters, permission)",
            ),
            ("rpc_response_error", "JSON-RPC calls whose method returned an error"),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for ((_, method), n) in counts.iter().filter(|((k, _), _)| *k == name) {
                ConstGauge::new(*n as f64).encode(family.encode_family(&vec![("method", method.clone())])?)?;
            }
        }
        Ok(())
    }
}

impl Metrics {
    pub fn new(namespace: &str, sources: Sources) -> Arc<Self> {
        let mut registry = if namespace.is_empty() {
            Registry::default()
        } else {
            Registry::with_prefix(namespace)
        };
        let http_requests = Family::default();
        let http_bytes = Family::default();
        let escrow = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "droplet_market_escrow_fil",
            "The miner's market escrow (kind=escrow) and the part locked by deals (kind=locked), in FIL",
            escrow.clone(),
        );
        registry.register(
            "droplet_http_retrieval_requests",
            "HTTP retrieval requests (/piece, /ipfs) by route and status code",
            http_requests.clone(),
        );
        registry.register(
            "droplet_http_retrieval_bytes",
            "Bytes of HTTP retrieval response bodies sent, by route",
            http_bytes.clone(),
        );
        registry.register_collector(Box::new(sources));
        let rpc = Arc::new(RpcFailures::default());
        registry.register_collector(Box::new(rpc.clone()));
        Arc::new(Metrics {
            registry,
            http_requests,
            http_bytes,
            escrow,
            rpc,
        })
    }

    /// Reads each served miner's market balance every `every`, for the escrow gauges (a
    /// scrape does not wait on the node).
    pub fn follow_escrow(
        self: &Arc<Self>,
        chain: Arc<crate::chain::Chain>,
        miners: Arc<crate::miners::Miners>,
        every: std::time::Duration,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            use crate::chain::DealChain;
            loop {
                for (miner, _) in miners.list() {
                    if let Ok(b) = chain.market_balance(&miner).await {
                        for (kind, v) in [("escrow", &b.escrow), ("locked", &b.locked)] {
                            me.escrow
                                .get_or_create(&vec![("miner", miner.to_string()), ("kind", kind.to_string())])
                                .set(fil(v));
                        }
                    }
                }
                tokio::time::sleep(every).await;
            }
        });
    }

    /// The observer the API endpoints report failed calls to.
    pub fn rpc_observer(self: &Arc<Self>) -> market_proto::server::CallObserver {
        let rpc = self.rpc.clone();
        Arc::new(move |method: &str, failure| {
            use market_proto::server::CallFailure;
            let kind = match failure {
                CallFailure::InvalidMethod => "rpc_invalid_method",
                CallFailure::Request => "rpc_request_error",
                CallFailure::Response => "rpc_response_error",
            };
            let mut counts = rpc.0.lock().unwrap_or_else(|e| e.into_inner());
            // Unknown methods are named by the caller: bound how many are kept.
            if counts.len() < 4096 || counts.contains_key(&(kind, method.to_string())) {
                *counts.entry((kind, method.to_string())).or_default() += 1;
            }
        })
    }

    /// The exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!("metrics: encoding failed: {e}");
        }
        out
    }

    /// Middleware for the HTTP retrieval routes: counts each request by route and status, and
    /// the body bytes as they are sent.
    pub async fn count_http(self: Arc<Self>, req: Request<Body>, next: Next) -> Response {
        let route = match req.uri().path().split('/').nth(1) {
            Some("piece") => "piece",
            Some("ipfs") => "ipfs",
            _ => "other",
        };
        let resp = next.run(req).await;
        self.http_requests
            .get_or_create(&vec![
                ("route", route.to_string()),
                ("code", resp.status().as_u16().to_string()),
            ])
            .inc();
        let bytes = self
            .http_bytes
            .get_or_create(&vec![("route", route.to_string())])
            .clone();
        let (parts, body) = resp.into_parts();
        let counted = body.into_data_stream().inspect(move |chunk| {
            if let Ok(c) = chunk {
                bytes.inc_by(c.len() as u64);
            }
        });
        Response::from_parts(parts, Body::from_stream(counted))
    }
}

use market_daemon::metrics::{fil, gauge_family};

impl Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use market_types::states::StorageDealStatus as S;
        use std::collections::BTreeMap;
        let deals = self.deals.list().unwrap_or_else(|e| {
            tracing::warn!("metrics: reading deals: {e}");
            Vec::new()
        });
        let mut by_state: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        let mut active: BTreeMap<String, u64> = BTreeMap::new();
        for d in &deals {
            let miner = d.proposal().provider.to_string();
            *by_state.entry((miner.clone(), d.status().name())).or_default() += 1;
            let n = active.entry(miner).or_default();
            if d.status() == S::Active {
                *n += 1;
            }
        }
        gauge_family(
            &mut encoder,
            "active_deal_count",
            "Storage deals Active, per miner (droplet's metric)",
            active.iter().map(|(m, n)| (vec![("miner", m.clone())], *n as f64)),
        )?;
        gauge_family(
            &mut encoder,
            "droplet_storage_deals",
            "Storage deals per miner and state",
            by_state
                .iter()
                .map(|((m, s), n)| (vec![("miner", m.clone()), ("state", s.to_string())], *n as f64)),
        )?;
        gauge_family(
            &mut encoder,
            "droplet_funds_reserved_fil",
            "Market escrow droplet holds back for deals in progress, per miner, in FIL",
            active.keys().filter_map(|m| {
                let addr = market_types::address::parse(m).ok()?;
                Some((vec![("miner", m.clone())], fil(&self.runner.reserved(&addr))))
            }),
        )?;
        let retrievals = self.retrieval.list().unwrap_or_else(|e| {
            tracing::warn!("metrics: reading retrieval deals: {e}");
            Vec::new()
        });
        let mut r_state: BTreeMap<String, u64> = BTreeMap::new();
        let mut sent = 0u64;
        for r in &retrievals {
            use crate::retrieval::record::RecordExt;
            *r_state.entry(r.status().name().to_string()).or_default() += 1;
            sent += r.total_sent;
        }
        gauge_family(
            &mut encoder,
            "droplet_retrieval_deals",
            "Retrieval deals (graphsync and data-transfer) per state",
            r_state.iter().map(|(s, n)| (vec![("state", s.clone())], *n as f64)),
        )?;
        gauge_family(
            &mut encoder,
            "droplet_publish_queue_deals",
            "Deals waiting in the publish queue, per miner",
            self.runner
                .pending()
                .into_iter()
                .map(|(m, d)| (vec![("miner", m.to_string())], d.len() as f64)),
        )?;
        let last = self.runner.last_publish();
        gauge_family(
            &mut encoder,
            "droplet_last_publish_timestamp_seconds",
            "When the miner's last PublishStorageDeals message was sent (Unix seconds)",
            last.iter().map(|(m, t, _)| (vec![("miner", m.to_string())], *t as f64)),
        )?;
        gauge_family(
            &mut encoder,
            "droplet_last_publish_deals",
            "Deals in the miner's last PublishStorageDeals message",
            last.iter().map(|(m, _, n)| (vec![("miner", m.to_string())], *n as f64)),
        )?;
        // droplet's opencensus count, under its name (no `_total`), so its dashboards find it.
        gauge_family(
            &mut encoder,
            "piecestorage_retrieval_hit",
            "Reads served from each piece store since start (droplet's metric)",
            self.pieces
                .storage()
                .reads()
                .into_iter()
                .map(|(store, n)| (vec![("storage", store)], n as f64)),
        )?;
        gauge_family(
            &mut encoder,
            "droplet_retrieval_bytes_sent",
            "Bytes sent to retrieval clients over graphsync, over all recorded retrieval deals",
            [(vec![("transport", "graphsync".to_string())], sent as f64)],
        )?;
        Ok(())
    }
}

/// Serves the exposition at `path` on `endpoint` (a multiaddr) until the process ends.
pub async fn serve(endpoint: &str, path: &str, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    Ok(market_daemon::metrics::serve(endpoint, path, Arc::new(move || metrics.encode())).await?)
}

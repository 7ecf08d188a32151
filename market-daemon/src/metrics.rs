//! Serving a Prometheus exposition on `[Metrics.Exporter.Prometheus] EndPoint` and `Path`, its
//! own listener as droplet has it; what is exposed is each daemon's.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::config::MetricsConfig;

/// Renders the exposition, on a blocking thread (it may read the store).
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Why the exposition could not be served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("[Metrics.Exporter.Prometheus] EndPoint {endpoint:?}: {reason}")]
    Address { endpoint: String, reason: String },
    #[error("metrics: listening on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

impl MetricsConfig {
    /// Why these settings cannot be honoured, naming the key; None when they can.
    pub fn refusal(&self) -> Option<(&'static str, &'static str, String)> {
        (self.enabled && !self.exporter.exporter_type.eq_ignore_ascii_case("prometheus")).then(|| {
            (
                "[Metrics.Exporter]",
                "Type",
                format!(
                    "{:?}: metrics are exported for Prometheus only (set Type = \"prometheus\")",
                    self.exporter.exporter_type
                ),
            )
        })
    }
}

/// Serve `render` at `path` on `endpoint` (a multiaddr) until the process ends; the bound address.
pub async fn serve(endpoint: &str, path: &str, render: Render) -> Result<SocketAddr, MetricsError> {
    let addr = market_proto::api_info::socket_addr(endpoint).map_err(|e| MetricsError::Address {
        endpoint: endpoint.to_string(),
        reason: e.to_string(),
    })?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let router = axum::Router::new().route(
        &path,
        axum::routing::get(move || {
            let render = render.clone();
            async move {
                let body = tokio::task::spawn_blocking(move || render()).await.unwrap_or_default();
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok(bound)
}

/// An amount in FIL, as a float (exact enough for a gauge).
pub fn fil(t: &market_types::TokenAmount) -> f64 {
    t.atto().to_string().parse::<f64>().unwrap_or(0.0) / 1e18
}

/// A gauge family of `rows` (labels, value), as read at a scrape.
pub fn gauge_family(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Vec<(&'static str, String)>, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

//! droplet-client's Prometheus metrics (a droplet-rs addition: the Go client has none), on its
//! own `[Metrics]` listener as droplet's: the data owner's deals per state, retrievals per
//! state with the bytes received and FIL paid, and the imports — read from the store at each
//! scrape, so they are right after a restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use market_daemon::metrics::{fil, gauge_family};
use market_types::states::{RetrievalDealStatus, StorageDealStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;

use crate::deals::store::ClientDealStore;
use crate::imports::Imports;
use crate::retrieval::record::RetrievalStore;

/// What a scrape reads.
#[derive(Debug)]
pub struct Sources {
    pub deals: ClientDealStore,
    pub retrievals: RetrievalStore,
    pub imports: Imports,
}

impl Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut deals: BTreeMap<String, u64> = BTreeMap::new();
        for d in self.deals.list().unwrap_or_else(|e| {
            tracing::warn!("metrics: reading deals: {e}");
            Vec::new()
        }) {
            let state = StorageDealStatus::from_u64(d.state).map_or_else(|| d.state.to_string(), |s| s.name().into());
            *deals.entry(state).or_default() += 1;
        }
        gauge_family(
            &mut encoder,
            "droplet_client_storage_deals",
            "The client's storage deals per state",
            deals.into_iter().map(|(s, n)| (vec![("state", s)], n as f64)),
        )?;
        let retrievals = self.retrievals.list().unwrap_or_else(|e| {
            tracing::warn!("metrics: reading retrievals: {e}");
            Vec::new()
        });
        let mut states: BTreeMap<String, u64> = BTreeMap::new();
        let (mut received, mut paid) = (0u64, 0f64);
        for r in &retrievals {
            let s = r.info.status;
            let state = RetrievalDealStatus::from_u64(s).map_or_else(|| s.to_string(), |s| s.name().into());
            *states.entry(state).or_default() += 1;
            received += r.info.bytes_received;
            paid += fil(&r.info.total_paid.0);
        }
        gauge_family(
            &mut encoder,
            "droplet_client_retrievals",
            "The client's retrievals per state",
            states.into_iter().map(|(s, n)| (vec![("state", s)], n as f64)),
        )?;
        gauge_family(
            &mut encoder,
            "droplet_client_retrieval_bytes_received",
            "Bytes received over all recorded retrievals",
            [(Vec::new(), received as f64)],
        )?;
        gauge_family(
            &mut encoder,
            "droplet_client_retrieval_paid_fil",
            "FIL paid over all recorded retrievals",
            [(Vec::new(), paid)],
        )?;
        let imports = self.imports.list().map(|i| i.len()).unwrap_or(0);
        gauge_family(
            &mut encoder,
            "droplet_client_imports",
            "Data imported for deals",
            [(Vec::new(), imports as f64)],
        )?;
        Ok(())
    }
}

/// The exposition of `sources` under `namespace` (`[Metrics.Exporter.Prometheus] Namespace`).
pub fn render(namespace: &str, sources: Sources) -> market_daemon::metrics::Render {
    let mut registry = if namespace.is_empty() {
        Registry::default()
    } else {
        Registry::with_prefix(namespace)
    };
    registry.register_collector(Box::new(sources));
    let registry = Arc::new(registry);
    Arc::new(move || {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::warn!("metrics: encoding: {e}");
        }
        out
    })
}

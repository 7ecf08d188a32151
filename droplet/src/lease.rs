//! One droplet at a time acts on a shared database. A droplet whose store is SQL holds the
//! database's `droplet` lease while it runs: it renews it every few seconds, gives it up on a
//! clean stop, and stops itself at once if it ever loses it (another droplet took it after it
//! lapsed), so two droplets never act on the same deals. A second droplet started on the
//! database waits, as a standby, and takes over (resuming every deal where the first left it)
//! once the first stops or its lease lapses.
//!
//! The holder is named by the repo's libp2p identity and the host, so a droplet restarted on
//! its own repo after a crash takes its lease back at once rather than waiting it out.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use market_daemon::store::Store;
use market_daemon::store::sql::lease::Claim;

/// The lease's name in `market_leases`.
pub const NAME: &str = "droplet";

/// How long a lease lasts unless renewed (`DROPLET_LEASE_TTL` to change it, as the tests do).
fn ttl() -> Duration {
    std::env::var("DROPLET_LEASE_TTL")
        .ok()
        .and_then(|v| market_types::units::parse_go_duration(&v).ok())
        .unwrap_or(Duration::from_secs(30))
}

/// Who holds the lease: the repo's peer ID on this host.
pub fn holder(peer: &libp2p::PeerId) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{peer}@{}", host.trim())
}

/// The lease, held; renewed by a task until [`Held::release`].
#[derive(Debug)]
pub struct Held {
    store: Arc<Store>,
    holder: String,
    renewer: tokio::task::JoinHandle<()>,
}

/// Take the lease when the store is SQL (None for RocksDB, which one process owns anyway),
/// waiting while another droplet holds it.
pub async fn take(store: &Arc<Store>, holder: String) -> Result<Option<Held>> {
    let Some(sql) = store.sql() else { return Ok(None) };
    let ttl = ttl();
    let mut said = None;
    loop {
        match sql
            .claim(NAME, &holder, ttl)
            .context("taking the database's droplet lease")?
        {
            Claim::Held => break,
            Claim::Taken {
                holder: other,
                expires_in,
            } => {
                if said.as_ref() != Some(&other) {
                    tracing::warn!(
                        database = %store.describe(),
                        other = %other,
                        lapses_in = ?expires_in,
                        "another droplet acts on this database; standing by until it stops or its lease lapses"
                    );
                    eprintln!(
                        "droplet: {} is in use by droplet {other}; waiting to take over (its lease lapses in {} s unless renewed)",
                        store.describe(),
                        expires_in.as_secs()
                    );
                    said = Some(other);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    tracing::info!(database = %store.describe(), %holder, "holding the database's droplet lease");
    let renewer = tokio::spawn(renew(store.clone(), holder.clone(), ttl));
    Ok(Some(Held {
        store: store.clone(),
        holder,
        renewer,
    }))
}

/// Renew every third of the term; a lease lost, or not renewed within its term, stops the
/// process: another droplet may be acting on the deals by then.
async fn renew(store: Arc<Store>, holder: String, ttl: Duration) {
    let Some(sql) = store.sql() else { return };
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(ttl / 3).await;
        match sql.renew(NAME, &holder, ttl).await {
            Ok(true) => last = tokio::time::Instant::now(),
            Ok(false) => lost(&store, "another droplet took it after it lapsed"),
            Err(e) => {
                tracing::warn!(error = %e, "renewing the database's droplet lease");
                if last.elapsed() >= ttl {
                    lost(&store, "it could not be renewed within its term");
                }
            }
        }
    }
}

fn lost(store: &Store, why: &str) -> ! {
    tracing::error!(database = %store.describe(), "lost the database's droplet lease ({why}): stopping");
    eprintln!(
        "droplet: lost the lease on {} ({why}); stopping so that two droplets never act on the same deals",
        store.describe()
    );
    std::process::exit(3);
}

impl Held {
    /// Give the lease up on a clean stop, so a standby droplet takes over at once.
    pub fn release(self) {
        self.renewer.abort();
        if let Some(sql) = self.store.sql()
            && let Err(e) = sql.release(NAME, &self.holder)
        {
            tracing::warn!(error = %e, "releasing the database's droplet lease");
        }
    }
}

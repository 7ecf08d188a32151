//! Which miners this droplet acts for, when several droplets share one SQL database (pool
//! mode). Each miner is a lease in the database, `miner/<address>`, held by one droplet at a
//! time: the droplet that holds it takes the miner's deals in, drives them (funding,
//! publishing, hand-off, tracking) and keeps its fund ledger; the others leave them alone. A
//! droplet claims every miner of its `[[Miners]]` that no live droplet holds, renews what it
//! holds every third of the term, gives it all up on a clean stop, and stops itself at once if
//! it ever loses one (another droplet took it after it lapsed), so two droplets never act on
//! one deal. A miner held elsewhere is watched: when its holder stops or dies and the lease
//! lapses, the next droplet that lists the miner takes it over and resumes every deal where
//! the first left it. Jobs that are not any one miner's (redeeming payment-channel vouchers)
//! are leases of their own, `job/<name>`, held the same way.
//!
//! With RocksDB the repo's lock already makes the droplet the only one: it acts for every
//! miner, and nothing here touches a database.
//!
//! The holder is named by the repo's libp2p identity, the host and the repo, so a droplet
//! restarted on its own repo after a crash takes its leases back at once rather than waiting
//! them out, and droplets sharing an identity (behind a load balancer) are told apart.
//!
//! Deal intake is any listing droplet's: one that stands by for a miner still takes the miner's
//! storage deals in (validated and stored in the shared database), and the holder carries each
//! on from there, picking up what others took in ([`crate::deals::runner`]), so several droplets
//! can answer one miner's proposals behind a load balancer.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use market_daemon::store::Store;
use market_daemon::store::sql::lease::Claim;
use market_types::Address;

/// Held by `droplet store migrate` while it copies: no droplet acts on the database then.
pub const EXCLUSIVE: &str = "store/exclusive";

/// The job of redeeming and collecting inbound payment channels.
pub const REDEEMER: &str = "job/paych-redeemer";

/// The lease of a miner.
pub fn miner_lease(miner: &Address) -> String {
    format!("miner/{miner}")
}

/// How long a lease lasts unless renewed (`DROPLET_LEASE_TTL` to change it, as the tests do).
fn ttl() -> Duration {
    std::env::var("DROPLET_LEASE_TTL")
        .ok()
        .and_then(|v| market_types::units::parse_go_duration(&v).ok())
        .unwrap_or(Duration::from_secs(30))
}

/// Who holds a lease: the repo's peer ID on this host, and which repo (a short stable hash of
/// its path), so that droplets sharing one libp2p identity behind a load balancer hold their
/// leases apart while a droplet restarted on its own repo is still the same holder.
pub fn holder(peer: &libp2p::PeerId, repo: &std::path::Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let repo = std::fs::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
    // FNV-1a: stable across builds and versions (the name must not change on an upgrade).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in repo.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{peer}@{}/{:08x}", host.trim(), h >> 32)
}

/// What this droplet holds. Cheap to ask: the deal paths ask it for every deal.
pub struct Leases {
    /// None with RocksDB: everything is this droplet's.
    store: Option<Arc<Store>>,
    holder: String,
    ttl: Duration,
    held: Mutex<BTreeSet<String>>,
    /// Leases held by another droplet, with its name, as last seen (for the log, once each).
    elsewhere: Mutex<std::collections::BTreeMap<String, String>>,
    /// Set by [`Leases::release`]: nothing is claimed after it.
    stopped: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("holder", &self.holder)
            .field("held", &self.held())
            .finish()
    }
}

/// What a droplet wants to hold: the leases of its miners (read at every round, so a miner
/// added at run time is claimed too) and of its jobs.
pub type Wanted = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

/// Called with each lease this droplet comes to hold (at start, or when it takes one over).
pub type OnGain = Arc<dyn Fn(String) + Send + Sync>;

impl Leases {
    /// Everything is this droplet's (RocksDB).
    pub fn everything() -> Arc<Leases> {
        Arc::new(Leases {
            store: None,
            holder: String::new(),
            ttl: Duration::ZERO,
            held: Mutex::default(),
            elsewhere: Mutex::default(),
            stopped: Default::default(),
        })
    }

    /// The leases of a droplet on `store` (none held yet: see [`Leases::keep`]); everything
    /// when the store is RocksDB. Waits while `droplet store migrate` holds the database.
    pub async fn open(store: &Arc<Store>, holder: String) -> Result<Arc<Leases>> {
        if store.sql().is_none() {
            return Ok(Leases::everything());
        }
        let me = Leases {
            store: Some(store.clone()),
            holder,
            ttl: ttl(),
            held: Mutex::default(),
            elsewhere: Mutex::default(),
            stopped: Default::default(),
        };
        let mut said = false;
        while let Some(other) = me.exclusive_elsewhere()? {
            if !said {
                eprintln!(
                    "droplet: {} is being migrated by {other}; waiting for it to finish",
                    store.describe()
                );
                said = true;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(Arc::new(me))
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this droplet acts for `miner`.
    pub fn owns(&self, miner: &Address) -> bool {
        self.store.is_none() || Self::lock(&self.held).contains(&miner_lease(miner))
    }

    /// Whether this droplet runs the job `name` (one of the `job/` leases).
    pub fn runs(&self, name: &str) -> bool {
        self.store.is_none() || Self::lock(&self.held).contains(name)
    }

    /// Whether leases are shared with other droplets (an SQL store).
    pub fn pooled(&self) -> bool {
        self.store.is_some()
    }

    /// The leases held, by name.
    pub fn held(&self) -> Vec<String> {
        Self::lock(&self.held).iter().cloned().collect()
    }

    /// The migration's hold on the database, when another process has it.
    fn exclusive_elsewhere(&self) -> Result<Option<String>> {
        let Some(sql) = self.store.as_ref().and_then(|s| s.sql()) else {
            return Ok(None);
        };
        Ok(sql
            .holder_of(EXCLUSIVE)
            .context("reading the database's leases")?
            .filter(|h| *h != self.holder))
    }

    /// Claim what is wanted and free, and renew what is held, once; hands back the leases
    /// newly held. A lease this droplet held and lost stops the process.
    async fn round(&self, wanted: &[String]) -> Result<Vec<String>> {
        let Some(store) = self.store.as_ref() else {
            return Ok(Vec::new());
        };
        let Some(sql) = store.sql() else { return Ok(Vec::new()) };
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        for name in self.held() {
            match sql.renew(&name, &self.holder, self.ttl).await {
                Ok(true) => {}
                Ok(false) => lost(store, &name, "another droplet took it after it lapsed"),
                Err(e) => return Err(e).with_context(|| format!("renewing the lease {name}")),
            }
        }
        let mut gained = Vec::new();
        for name in wanted {
            if Self::lock(&self.held).contains(name) {
                continue;
            }
            match sql.claim(name, &self.holder, self.ttl)? {
                Claim::Held => gained.push(name.clone()),
                Claim::Taken { holder, expires_in } => {
                    let mut seen = Self::lock(&self.elsewhere);
                    if seen.get(name) != Some(&holder) {
                        tracing::warn!(
                            lease = %name, other = %holder, lapses_in = ?expires_in,
                            "another droplet acts for this; standing by until it stops or its lease lapses"
                        );
                        eprintln!(
                            "droplet: {name} is held by droplet {holder}; standing by to take it over (its lease lapses in {} s unless renewed)",
                            expires_in.as_secs()
                        );
                        seen.insert(name.clone(), holder);
                    }
                }
            }
        }
        // A migration that began while these were claimed wins, as does a stop: they are given back.
        if !gained.is_empty()
            && (self.stopped.load(std::sync::atomic::Ordering::SeqCst) || self.exclusive_elsewhere()?.is_some())
        {
            for name in gained.drain(..) {
                let _ = sql.release(&name, &self.holder);
            }
        }
        let mut held = Self::lock(&self.held);
        for name in &gained {
            held.insert(name.clone());
            Self::lock(&self.elsewhere).remove(name);
        }
        Ok(gained)
    }

    /// Claim what is wanted now (calling `on_gain` for each lease taken), then keep doing so
    /// every third of the term on a task of its own. Nothing to do with RocksDB.
    pub async fn keep(self: &Arc<Self>, wanted: Wanted, on_gain: OnGain) -> Result<()> {
        if self.store.is_none() {
            return Ok(());
        }
        let first = self.round(&wanted()).await?;
        self.announce(&first, &on_gain);
        let me = self.clone();
        tokio::spawn(async move {
            let mut last_ok = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(me.ttl / 3).await;
                match me.round(&wanted()).await {
                    Ok(gained) => {
                        last_ok = tokio::time::Instant::now();
                        me.announce(&gained, &on_gain);
                    }
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "keeping the database's leases");
                        if last_ok.elapsed() >= me.ttl
                            && let Some(store) = me.store.as_ref()
                            && !me.held().is_empty()
                        {
                            lost(store, "its leases", "they could not be renewed within their term");
                        }
                    }
                }
            }
        });
        Ok(())
    }

    fn announce(&self, gained: &[String], on_gain: &OnGain) {
        for name in gained {
            tracing::info!(lease = %name, holder = %self.holder, "this droplet now acts for {name}");
            on_gain(name.clone());
        }
    }

    /// Give every lease up on a clean stop, so another droplet takes over at once.
    pub fn release(&self) {
        let Some(sql) = self.store.as_ref().and_then(|s| s.sql()) else {
            return;
        };
        self.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        for name in std::mem::take(&mut *Self::lock(&self.held)) {
            if let Err(e) = sql.release(&name, &self.holder) {
                tracing::warn!(lease = %name, error = %e, "releasing a lease");
            }
        }
    }
}

fn lost(store: &Store, name: &str, why: &str) -> ! {
    tracing::error!(database = %store.describe(), lease = %name, "lost a lease ({why}): stopping");
    eprintln!(
        "droplet: lost {name} on {} ({why}); stopping so that two droplets never act on the same deals",
        store.describe()
    );
    std::process::exit(3);
}

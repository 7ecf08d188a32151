//! The client's storage deals: proposing them (offline, or online with this daemon serving the
//! CAR over HTTP), storing them, and following them to Active through the provider's status
//! protocol and the chain. Every change goes through market-fsm's client machine and is stored
//! before anything is done about it.

pub mod funds;
pub mod propose;
pub mod record;
pub mod serve;
pub mod store;
pub mod track;
pub mod wire;

use std::sync::{Arc, Mutex};

use jsonrpsee::http_client::HttpClient;
use market_fsm::storage::client::{Action, Event, step};
use market_fsm::storage::funds::FundLedger;
use market_p2p::Host;
use market_proto::messages::MessageSender;
use market_proto::signer::Signer;
use market_types::Uuid;

pub use record::ClientDealRecord;
pub use store::ClientDealStore;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the client's deals need.
#[derive(Debug)]
pub struct ClientDeals {
    pub host: Host,
    pub node: HttpClient,
    pub signer: Signer,
    pub sender: Arc<MessageSender>,
    pub deals: ClientDealStore,
    /// Escrow set aside per client for deals not yet published, so that several deals
    /// proposed together do not count on the same funds. Rebuilt from the stored deals.
    pub ledger: Mutex<FundLedger>,
    /// `http://host:port` of this daemon's API, where online deals' CARs are served.
    pub serve_base: std::sync::OnceLock<String>,
    /// Deals found at start waiting for the provider's answer to a proposal that an earlier
    /// run was sending when it stopped: no one waits for that answer any more.
    pub(crate) orphans: Mutex<std::collections::HashSet<String>>,
    /// One event at a time.
    serial: tokio::sync::Mutex<()>,
}

impl ClientDeals {
    pub fn new(
        host: Host,
        node: HttpClient,
        signer: Signer,
        sender: Arc<MessageSender>,
        deals: ClientDealStore,
    ) -> Self {
        let mut ledger = FundLedger::new();
        let mut pending = 0;
        for d in deals.list().unwrap_or_default() {
            if !d.status().is_terminal() && !d.funds_reserved.0.is_zero() {
                let p = &d.proposal.0.proposal;
                // Measured against the whole escrow: the balance here does not matter.
                ledger.reserve(p.client, p.cid(), &d.funds_reserved.0, &d.funds_reserved.0);
                pending += 1;
            }
        }
        for (addr, amount) in deals.manual_reservations().unwrap_or_default() {
            ledger.reserve_manual(addr, &amount, &amount);
        }
        if pending > 0 {
            tracing::info!(deals = pending, "escrow reservations restored");
        }
        ClientDeals {
            host,
            node,
            signer,
            sender,
            deals,
            ledger: Mutex::new(ledger),
            serve_base: std::sync::OnceLock::new(),
            orphans: Mutex::default(),
            serial: tokio::sync::Mutex::new(()),
        }
    }

    /// Change a stored deal's own fields (not its state: see [`ClientDeals::step`]) under the
    /// deals' lock: `change` edits the current record and says whether anything changed; the
    /// record is written then only. A deal gone or unreadable is left alone.
    pub(crate) async fn update(&self, uuid: &Uuid, change: impl FnOnce(&mut ClientDealRecord) -> bool) {
        let _one = self.serial.lock().await;
        if let Ok(Some(mut d)) = self.deals.get(uuid)
            && change(&mut d)
        {
            d.updated_at = now_secs();
            let _ = self.deals.put(&d);
        }
    }

    /// Apply an event to a stored deal, store the result, then release what it asks to; the
    /// machine's other actions are returned for the caller to run.
    pub async fn event(&self, uuid: Uuid, event: Event) -> Result<ClientDealRecord, String> {
        self.step(uuid, event).await.map(|(d, _)| d)
    }

    /// [`ClientDeals::event`], with the actions left to run: proposing runs them in order
    /// ([`ClientDeals::propose`]); serving and tracking follow the stored state (the data
    /// route serves a deal while it transfers, the tracker follows every open deal).
    pub async fn step(&self, uuid: Uuid, event: Event) -> Result<(ClientDealRecord, Vec<Action>), String> {
        let _one = self.serial.lock().await;
        let mut d = self
            .deals
            .get(&uuid)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no deal with UUID {uuid}"))?;
        let (next, actions) = step(&d.machine(), event).map_err(|e| e.to_string())?;
        d.apply(&next, now_secs());
        self.deals.put(&d).map_err(|e| format!("saving deal {uuid}: {e}"))?;
        let mut rest = Vec::new();
        for a in actions {
            match a {
                Action::ReleaseFunds { .. } => {
                    let p = &d.proposal.0.proposal;
                    lock(&self.ledger).release(p.client, &p.cid());
                }
                other => rest.push(other),
            }
        }
        Ok((d, rest))
    }
}

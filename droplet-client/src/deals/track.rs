//! Following the client's deals: the provider's status answers say whether the deal was
//! accepted, how much data it has received, whether it failed and when it was published; the
//! chain says when it is active, slashed or gone.

use std::sync::Arc;
use std::time::Duration;

use market_fsm::storage::client::{Event, Unpublished};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::client::CallError;
use market_types::chain::TipSetKey;
use market_types::states::StorageDealStatus as S;

use super::record::ClientDealRecord;
use super::{ClientDeals, now_secs, wire};

/// A deal still waiting for the provider's first answer is left to its proposer this long.
const ANSWER_GRACE_SECS: u64 = 120;

/// Check every deal in the background every `interval`.
pub fn start(deals: Arc<ClientDeals>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            deals.track_once().await;
            tokio::time::sleep(interval).await;
        }
    });
}

/// `DROPLET_CLIENT_TRACKER_INTERVAL` (a Go duration such as `30s`), else a minute.
pub fn interval() -> Duration {
    std::env::var("DROPLET_CLIENT_TRACKER_INTERVAL")
        .ok()
        .and_then(|v| market_types::units::parse_go_duration(&v).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(60))
}

impl ClientDeals {
    /// Deals whose proposing was cut short by a stop cannot go on: their funds are released
    /// and they fail with a message saying so.
    pub async fn fail_interrupted(&self) {
        for d in self.deals.list().unwrap_or_default() {
            if d.status() == S::CheckForAcceptance {
                // Sent, or being sent, when the stop came: the tracker asks the provider.
                self.orphans
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(d.uuid.0.to_string());
            }
            if matches!(
                d.status(),
                S::Unknown | S::ReserveClientFunds | S::ClientFunding | S::FundsReserved
            ) {
                let _ = self
                    .event(
                        d.uuid.0,
                        Event::Errored("droplet-client stopped while proposing this deal; propose it again".into()),
                    )
                    .await;
            }
        }
    }

    /// One pass over the unfinished deals.
    pub async fn track_once(&self) {
        let head = match self.node.chain_head().await {
            Ok(h) => h.0.height(),
            Err(e) => {
                tracing::debug!(error = %CallError::from(e), "tracker: no chain head");
                return;
            }
        };
        for d in self.deals.list().unwrap_or_default() {
            let status = d.status();
            if status.is_terminal() {
                continue;
            }
            let result = match status {
                S::CheckForAcceptance if now_secs() < d.created_at + ANSWER_GRACE_SECS && !self.is_orphan(&d) => Ok(()),
                S::CheckForAcceptance | S::Transferring | S::ProposalAccepted => self.follow_provider(&d, head).await,
                S::AwaitingPreCommit | S::Sealing | S::Active => self.follow_chain(&d, head).await,
                _ => Ok(()),
            };
            if let Err(e) = result {
                tracing::debug!(uuid = %d.uuid.0, error = %e, "tracker");
            }
        }
    }

    /// Whether `d` was waiting for an answer no one waits for any more (see
    /// [`ClientDeals::fail_interrupted`]), or one that was lost on the way.
    fn is_orphan(&self, d: &ClientDealRecord) -> bool {
        self.orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&d.uuid.0.to_string())
    }

    /// A deal not published yet (as far as the client knows): the provider's status answer
    /// moves it on; a deal past its start epoch and not published is failed, since the market
    /// actor would refuse it now (the provider is asked first: it may have published in time).
    async fn follow_provider(&self, d: &ClientDealRecord, head: i64) -> Result<(), String> {
        let uuid = d.uuid.0;
        let timing = Unpublished::at(d.proposal.0.proposal.start_epoch, head);
        let st = match wire::query_status(self, d).await {
            Ok(st) => st,
            Err(e) => {
                let why = format!("{e:#}");
                self.note(d, timing.unanswered(&why)).await;
                return Err(why);
            }
        };
        if let Some(answer) = st.unknown {
            // A proposal cut off by a stop or a lost answer is given up on; a live one may not
            // be stored by the provider yet, unless its start epoch has passed.
            if d.status() == S::CheckForAcceptance && self.is_orphan(d) {
                self.event(
                    uuid,
                    Event::Errored(format!(
                        "the provider's answer to this proposal never came (droplet-client stopped, or the connection broke) and the provider has no record of it ({answer}); propose it again"
                    )),
                )
                .await?;
                return Ok(());
            }
            if let Some(reason) = timing.failure(false) {
                self.event(uuid, Event::Errored(format!("{reason} (the provider: {answer})")))
                    .await?;
                return Ok(());
            }
            return Err(format!("the provider has no status for the deal: {answer}"));
        }
        if let Some(reason) = st.failed {
            self.event(uuid, Event::Errored(format!("the provider failed the deal: {reason}")))
                .await?;
            return Ok(());
        }
        if st.deal_id.is_none()
            && st.publish_cid.is_none()
            && let Some(reason) = timing.failure(true)
        {
            self.event(uuid, Event::Errored(reason)).await?;
            return Ok(());
        }
        // The provider's word on the deal is the deal's message while it is in progress.
        if st.bytes_received != d.bytes_received || st.message != d.message {
            self.update(&uuid, |cur| {
                let changed = !cur.status().is_terminal()
                    && (cur.bytes_received != st.bytes_received || cur.message != st.message);
                if changed {
                    cur.bytes_received = st.bytes_received;
                    cur.message = st.message.clone();
                }
                changed
            })
            .await;
        }
        let mut status = d.status();
        if status == S::CheckForAcceptance {
            status = self.event(uuid, Event::ProviderAccepted).await?.status();
        }
        if status == S::Transferring
            && (st.deal_id.is_some() || (st.transfer_size > 0 && st.bytes_received >= st.transfer_size))
        {
            self.event(uuid, Event::TransferCompleted).await?;
        }
        if let (Some(deal_id), Some(message)) = (st.deal_id, st.publish_cid) {
            tracing::info!(%uuid, deal_id, "deal published");
            self.event(uuid, Event::Published { deal_id, message }).await?;
        }
        Ok(())
    }

    /// Set an unfinished deal's message (why the provider did not answer), written only when
    /// it changes.
    async fn note(&self, d: &ClientDealRecord, message: String) {
        if d.message == message {
            return;
        }
        self.update(&d.uuid.0, |cur| {
            let changed = !cur.status().is_terminal() && cur.message != message;
            if changed {
                cur.message = message;
            }
            changed
        })
        .await;
    }

    async fn follow_chain(&self, d: &ClientDealRecord, head: i64) -> Result<(), String> {
        let uuid = d.uuid.0;
        let Some(deal_id) = d.deal_id else {
            return Ok(());
        };
        let p = &d.proposal.0.proposal;
        match self
            .node
            .state_market_storage_deal(deal_id, Json(TipSetKey::empty()))
            .await
        {
            Ok(md) => {
                let st = md.0.state;
                if st.slash_epoch > -1 && d.status() != S::AwaitingPreCommit {
                    self.event(uuid, Event::Slashed).await?;
                } else if st.sector_start_epoch > -1 && d.status() != S::Active {
                    tracing::info!(%uuid, deal_id, "deal active");
                    self.event(uuid, Event::Activated).await?;
                }
            }
            // Only the node's own "deal <id> not found" says the deal is gone; a missing tipset
            // or block, or an unreachable node, says nothing about it.
            Err(e) => match market_proto::client::classify_deal_lookup(e, deal_id) {
                market_proto::client::DealLookupError::Call(e) => return Err(e.0),
                market_proto::client::DealLookupError::NotFound(_) => {
                    // Gone from the market actor: never activated in time, or past its end.
                    if head > p.start_epoch {
                        self.event(uuid, Event::Expired).await?;
                    }
                }
            },
        }
        Ok(())
    }
}

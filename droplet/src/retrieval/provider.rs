//! The provider's side of retrieval deals: the data-transfer validator. A pull's voucher is a
//! go-fil-markets deal proposal; it is checked as go-fil-markets checks it (payload, selector,
//! a piece that holds the data unsealed, the miner's ask and policy), recorded, and followed
//! through the provider machine to its end.

use std::sync::Arc;

use data_transfer::message::TypedVoucher;
use data_transfer::provider::{PendingDecision, PullChannel, ValidationResult, Validator};
use graphsync::net::ResponseEnd;
use market_fsm::retrieval::provider::{self as machine, Action, Event};
use market_types::TokenAmount;
use market_types::ipld::RawCbor;
use market_types::retrieval::{
    RetrievalDealPayment, RetrievalDealPaymentV0, RetrievalDealProposal, RetrievalDealProposalV0,
    RetrievalDealResponse, RetrievalDealResponseV0, RetrievalParams, VOUCHER_DEAL_PAYMENT, VOUCHER_DEAL_PAYMENT_V0,
    VOUCHER_DEAL_PROPOSAL, VOUCHER_DEAL_PROPOSAL_V0, VOUCHER_DEAL_RESPONSE, VOUCHER_DEAL_RESPONSE_V0,
};
use market_types::states::RetrievalDealStatus as S;

use super::lookup::{Lookup, LookupError};
use super::record::{ChannelRef, RecordExt, RetrievalDealRecord, RetrievalDeals, new_record, terms_of};
use super::vouchers::Vouchers;
use crate::miners::LiveConfig;

/// The retrieval provider: decides pulls and keeps their deals.
#[derive(Debug, Clone)]
pub struct RetrievalProvider {
    pub lookup: Lookup,
    pub deals: RetrievalDeals,
    pub config: Arc<LiveConfig>,
    /// This host's peer ID (the responder of every channel).
    pub local: String,
    pub vouchers: Vouchers,
    /// One payment at a time (two vouchers for a deal must not race on its record).
    pub payments: Arc<tokio::sync::Mutex<()>>,
    /// One change to a deal's record at a time: a payment's and the transfer's own (a
    /// payment asked for while the data flows) must not overwrite each other.
    pub changes: Arc<std::sync::Mutex<()>>,
    /// Pieces made ready (unsealed if need be) before their data flows.
    pub unsealer: super::unseal::Unsealer,
    /// The data-transfer service this validator serves (set once it is built): a pull
    /// accepted paused is resumed or stopped through it once its piece is ready.
    pub transfers: Arc<std::sync::OnceLock<data_transfer::DataTransfer>>,
    /// How long a deal whose transfer was cut (the client hung up, or droplet restarted) waits
    /// for its client to restart the transfer before it is closed.
    pub restart_wait: std::time::Duration,
}

/// What a deal looked like when its wait for a restart began: if any of it changes, the
/// client came back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    status: u64,
    message: String,
    total_sent: u64,
    funds_received: TokenAmount,
    updated_at: u64,
}

impl Snapshot {
    fn of(r: &RetrievalDealRecord) -> Snapshot {
        Snapshot {
            status: r.status,
            message: r.message.clone(),
            total_sent: r.total_sent,
            funds_received: r.funds_received.0.clone(),
            updated_at: r.updated_at,
        }
    }
}

/// A proposal as received, and whether it came in the legacy (tuple) form.
struct Proposal {
    deal: RetrievalDealProposal,
    legacy: bool,
}

fn decode_proposal(v: &TypedVoucher) -> Result<Proposal, String> {
    match v.kind.as_str() {
        VOUCHER_DEAL_PROPOSAL => v
            .node
            .decode::<RetrievalDealProposal>()
            .map(|deal| Proposal { deal, legacy: false })
            .map_err(|e| format!("the deal proposal does not decode: {e}")),
        VOUCHER_DEAL_PROPOSAL_V0 => v
            .node
            .decode::<RetrievalDealProposalV0>()
            .map(|p| Proposal {
                deal: RetrievalDealProposal {
                    id: p.id,
                    payload_cid: p.payload_cid,
                    params: RetrievalParams {
                        piece_cid: p.params.piece_cid,
                        selector: p.params.selector,
                        unseal_price: p.params.unseal_price,
                        price_per_byte: p.params.price_per_byte,
                        payment_interval: p.params.payment_interval,
                        payment_interval_increase: p.params.payment_interval_increase,
                    },
                },
                legacy: true,
            })
            .map_err(|e| format!("the legacy deal proposal does not decode: {e}")),
        other => Err(format!("voucher type {other:?} is not a retrieval deal proposal")),
    }
}

/// The voucher result for deal `id`, in the form the client proposed in.
fn response(id: u64, legacy: bool, status: S, message: &str, owed: TokenAmount) -> TypedVoucher {
    if legacy {
        TypedVoucher {
            kind: VOUCHER_DEAL_RESPONSE_V0.into(),
            node: RawCbor::from_value(&RetrievalDealResponseV0 {
                status: status.code(),
                id,
                payment_owed: owed,
                message: message.into(),
            }),
        }
    } else {
        TypedVoucher {
            kind: VOUCHER_DEAL_RESPONSE.into(),
            node: RawCbor::from_value(&RetrievalDealResponse {
                id,
                status: status.code(),
                message: message.into(),
                payment_owed: owed,
            }),
        }
    }
}

fn refuse(id: u64, legacy: bool, status: S, message: String) -> ValidationResult {
    tracing::info!(deal = id, status = status.name(), "retrieval refused: {message}");
    ValidationResult {
        accepted: false,
        result: Some(response(id, legacy, status, &message, TokenAmount::default())),
        force_pause: false,
        data_limit: 0,
        payment_due_at: 0,
    }
}

impl RetrievalProvider {
    /// Close `record`'s deal if it has not moved [`Self::restart_wait`] from now: its client
    /// hung up (or droplet restarted under it) and never came back to restart the transfer,
    /// so it would otherwise wait for ever. Deals over already are left alone.
    /// `why` says what the deal waits for.
    pub fn close_if_abandoned(&self, record: &RetrievalDealRecord, why: &str) {
        if machine::is_terminal(record.status()) {
            return;
        }
        let (this, receiver, id, seen, why) = (
            self.clone(),
            record.receiver.clone(),
            record.deal_proposal.id,
            Snapshot::of(record),
            why.to_string(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(this.restart_wait).await;
            let Some(closed) = this.close_abandoned(&receiver, id, &seen, &why) else {
                return;
            };
            // Its transfer, if droplet still holds one, goes too.
            if let (Some(dt), Some(ch)) = (this.transfers.get(), closed.channel_id.as_ref())
                && let Ok(peer) = ch.initiator.parse()
            {
                let _ = dt.cancel_channel(peer, ch.id).await;
            }
        });
    }

    /// The deal, failed and saved, if it has not moved since `seen`.
    fn close_abandoned(&self, receiver: &str, id: u64, seen: &Snapshot, why: &str) -> Option<RetrievalDealRecord> {
        let _one = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let mut record = self.deals.get(receiver, id).ok()??;
        if Snapshot::of(&record) != *seen {
            return None;
        }
        let mut m = record.machine();
        let message = format!(
            "{why}, and for {}s the client neither paid nor restarted the transfer: the deal is closed ({} bytes sent, {} attoFIL received)",
            self.restart_wait.as_secs(),
            record.total_sent,
            record.funds_received.0.atto()
        );
        machine::apply(&mut m, Event::Failed(message)).ok()?;
        record.set_machine(&m);
        match self.deals.put(&record) {
            Ok(()) => {
                tracing::info!(deal = id, client = receiver, "{}", record.message);
                Some(record)
            }
            Err(e) => {
                tracing::warn!(deal = id, "closing an abandoned retrieval deal: {e}");
                None
            }
        }
    }

    fn channel_ref(&self, channel: &PullChannel) -> ChannelRef {
        ChannelRef {
            initiator: channel.peer.to_string(),
            responder: self.local.clone(),
            id: channel.id.id,
        }
    }

    /// The checks of go-fil-markets' `validatePull` and `CheckDealParams`, then the record.
    fn accept_new(&self, channel: &PullChannel, p: Proposal) -> ValidationResult {
        let (id, legacy) = (p.deal.id, p.legacy);
        let deal = &p.deal;
        if deal.payload_cid != channel.root {
            return refuse(id, legacy, S::Rejected, "incorrect CID for this proposal".into());
        }
        let wanted = deal
            .params
            .selector
            .clone()
            .unwrap_or_else(market_types::ipld::all_selector);
        if wanted.as_bytes() != channel.selector.as_bytes() {
            return refuse(
                id,
                legacy,
                S::Rejected,
                "incorrect selector for this proposal: the request's selector differs from the proposal's".into(),
            );
        }
        let receiver = channel.peer.to_string();
        match self.deals.get(&receiver, id) {
            Ok(None) => {}
            Ok(Some(_)) => {
                return refuse(
                    id,
                    legacy,
                    S::Rejected,
                    format!("a retrieval deal {id} from this peer exists already; propose with a new deal ID"),
                );
            }
            Err(e) => return refuse(id, legacy, S::Errored, format!("reading retrieval deals: {e}")),
        }
        let candidates = match self
            .lookup
            .candidates(&deal.payload_cid, deal.params.piece_cid.as_ref())
        {
            Ok(c) => c,
            Err(e @ LookupError::NotFound { .. }) => return refuse(id, legacy, S::DealNotFound, e.to_string()),
            Err(e) => return refuse(id, legacy, S::Errored, e.to_string()),
        };
        let terms = terms_of(deal);
        let mut reason = None;
        let mut chosen = None;
        for c in candidates {
            let policy = self.config.policy(Some(&c.miner));
            let why = if !policy.settings.consider_online_retrieval_deals {
                Some("miner is not accepting online retrieval deals".to_string())
            } else if terms.price_per_byte < c.ask.price_per_byte {
                Some("price per byte too low".into())
            } else if terms.payment_interval > c.ask.payment_interval {
                Some("payment interval too large".into())
            } else if terms.payment_interval_increase > c.ask.payment_interval_increase {
                Some("payment interval increase too large".into())
            } else if terms.unseal_price < c.ask.unseal_price {
                Some("unseal price too small".into())
            } else {
                None
            };
            match why {
                None => {
                    chosen = Some(c);
                    break;
                }
                Some(w) => {
                    reason.get_or_insert(w);
                }
            }
        }
        let Some(c) = chosen else {
            return refuse(id, legacy, S::Rejected, reason.unwrap_or_default());
        };
        if let Err(e) = terms.check() {
            return refuse(id, legacy, S::Rejected, e.to_string());
        }
        let record = new_record(
            p.deal.clone(),
            receiver,
            self.channel_ref(channel),
            c.piece,
            c.miner,
            c.deal,
            legacy,
        );
        let policy = self.config.policy(Some(&record.miner.0));
        let cmd = policy.settings.retrieval_filter.trim();
        if !cmd.is_empty() {
            let input = crate::deals::filter::retrieval_input(&record);
            if let crate::deals::filter::Verdict::Reject(reason) =
                crate::deals::filter::run_blocking(cmd, &input, policy.settings.filter_timeout.0)
            {
                tracing::info!(deal = id, peer = %channel.peer, %reason, "the retrieval filter rejected a deal");
                return refuse(id, legacy, S::Rejected, reason);
            }
        }
        if let Err(e) = self.deals.put(&record) {
            return refuse(id, legacy, S::Errored, format!("recording the deal: {e}"));
        }
        tracing::info!(deal = id, peer = %channel.peer, payload = %deal.payload_cid, piece = %c.piece, "retrieval deal accepted");
        let m = record.machine();
        // With an unseal price, nothing is sent until it is paid (as go-fil-markets waits).
        let unseal_due = !m.owed().is_zero();
        let status = if unseal_due { S::FundsNeededUnseal } else { S::Accepted };
        // Paused until the piece is ready in piece storage (as droplet does): then resumed.
        self.spawn_prepare(channel);
        ValidationResult {
            accepted: true,
            result: Some(response(id, legacy, status, "", m.owed())),
            force_pause: true,
            data_limit: m.pause_limit(),
            payment_due_at: m.current_interval,
        }
    }

    /// Prepare the piece of `channel`'s deal in the background, then resume or stop the pull.
    fn spawn_prepare(&self, channel: &PullChannel) {
        let (this, channel) = (self.clone(), channel.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { this.prepare(channel).await });
            }
            Err(_) => tracing::warn!(peer = %channel.peer, "no runtime to prepare the retrieval's piece on"),
        }
    }

    /// Get the deal's piece into piece storage (unsealed by the sealer if it is not there),
    /// then let the data flow, or stop the pull with the reason.
    async fn prepare(&self, channel: PullChannel) {
        let Ok(p) = decode_proposal(&channel.voucher) else {
            return;
        };
        let (id, legacy) = (p.deal.id, p.legacy);
        let record = match self.deals.get(&channel.peer.to_string(), id) {
            Ok(Some(r)) => r,
            _ => return,
        };
        let deal_ref = self
            .lookup
            .pieces
            .index()
            .piece(&record.piece_cid.0)
            .ok()
            .flatten()
            .and_then(|r| r.deals.into_iter().find(|d| d.deal == record.sel_storage_proposal_cid));
        let ready = match deal_ref {
            Some(d) => {
                self.unsealer
                    .prepare(&record.piece_cid.0, &record.miner.0, &d, || {
                        self.advance(&channel, Event::UnsealStarted);
                    })
                    .await
            }
            None => Err(super::unseal::UnsealError::NoCopy {
                piece: record.piece_cid.0,
                miner: record.miner.0,
            }),
        };
        let Some(dt) = self.transfers.get() else { return };
        let _one = self.payments.lock().await;
        match ready {
            Ok(how) => {
                let Some((record, _)) = self.advance(&channel, Event::Prepared) else {
                    return;
                };
                tracing::info!(deal = id, ?how, "the retrieval's piece is ready");
                let m = record.machine();
                // An unpaid unseal price holds the data back: its payment resumes the pull.
                if m.owed().is_zero() {
                    let go = ValidationResult {
                        accepted: true,
                        result: None,
                        force_pause: false,
                        data_limit: m.pause_limit(),
                        payment_due_at: m.current_interval,
                    };
                    dt.decide(channel.peer, channel.id.id, go).await;
                }
            }
            Err(e) => {
                let why = e.to_string();
                tracing::warn!(deal = id, "retrieval stopped: {why}");
                self.advance(&channel, Event::Failed(why.clone()));
                dt.decide(channel.peer, channel.id.id, refuse(id, legacy, S::Errored, why))
                    .await;
            }
        }
    }

    /// A restarted pull resumes its deal from what was paid: the restarted channel counts the
    /// bytes the client holds (it is not sent them again), then pauses at the next boundary.
    fn accept_restart(&self, channel: &PullChannel, p: Proposal) -> ValidationResult {
        let (id, legacy) = (p.deal.id, p.legacy);
        let changing = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let mut record = match self.deals.get(&channel.peer.to_string(), id) {
            Ok(Some(r)) if !machine::is_terminal(r.status()) => r,
            Ok(_) => {
                return refuse(
                    id,
                    legacy,
                    S::DealNotFound,
                    format!("no running retrieval deal {id} to restart"),
                );
            }
            Err(e) => return refuse(id, legacy, S::Errored, format!("reading retrieval deals: {e}")),
        };
        if record.deal_proposal != p.deal {
            return refuse(
                id,
                legacy,
                S::Rejected,
                "the restart's proposal differs from the deal's".into(),
            );
        }
        let mut m = record.machine();
        if let Err(e) = machine::apply(&mut m, Event::Restarted) {
            return refuse(id, legacy, S::Errored, e.to_string());
        }
        record.set_machine(&m);
        record.channel_id = Some(self.channel_ref(channel));
        if let Err(e) = self.deals.put(&record) {
            return refuse(id, legacy, S::Errored, format!("recording the deal: {e}"));
        }
        drop(changing);
        tracing::info!(deal = id, peer = %channel.peer, "retrieval transfer restarted");
        // An unpaid unseal price still holds the data back; a piece not ready yet too.
        let owed = m.owed();
        let unprepared = matches!(m.status, S::New | S::Unsealing);
        if unprepared {
            self.spawn_prepare(channel);
        }
        ValidationResult {
            accepted: true,
            result: Some(response(id, legacy, S::Accepted, "", owed.clone())),
            force_pause: !owed.is_zero() || unprepared,
            data_limit: m.pause_limit(),
            payment_due_at: m.current_interval,
        }
    }

    /// Apply `event` to the deal of `channel` and save it; the actions, if it applied.
    fn advance(&self, channel: &PullChannel, event: Event) -> Option<(RetrievalDealRecord, Vec<Action>)> {
        self.advance_with(channel, event, None)
    }

    /// [`Self::advance`], saving the payment's voucher in the same write as the deal. That
    /// write is not synced here, under the lock the transfer's own events wait on: the caller
    /// makes it durable ([`RetrievalDeals::sync`]) before answering the payment.
    fn advance_with(
        &self,
        channel: &PullChannel,
        event: Event,
        payment: Option<&super::vouchers::Checked>,
    ) -> Option<(RetrievalDealRecord, Vec<Action>)> {
        let p = decode_proposal(&channel.voucher).ok()?;
        let _one = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let mut record = match self.deals.get(&channel.peer.to_string(), p.deal.id) {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(deal = p.deal.id, "reading the retrieval deal: {e}");
                return None;
            }
        };
        let mut m = record.machine();
        let durable = event.durable();
        match machine::apply(&mut m, event) {
            Ok(actions) => {
                record.set_machine(&m);
                let mut batch = crate::store::Batch::default();
                if let Some(c) = payment {
                    c.keep_in(&mut batch);
                }
                let saved = if durable && payment.is_none() {
                    self.deals.put_with(&record, batch)
                } else {
                    self.deals.put_unsynced_with(&record, batch)
                };
                if let Err(e) = saved {
                    tracing::warn!(deal = p.deal.id, "saving the retrieval deal: {e}");
                    // A payment not saved is not taken.
                    if payment.is_some() {
                        return None;
                    }
                }
                Some((record, actions))
            }
            Err(e) => {
                tracing::debug!(deal = p.deal.id, "{e}");
                None
            }
        }
    }
}

/// A payment as received, in either form.
fn decode_payment(v: &TypedVoucher) -> Result<RetrievalDealPayment, String> {
    match v.kind.as_str() {
        VOUCHER_DEAL_PAYMENT => v.node.decode().map_err(|e| format!("the payment does not decode: {e}")),
        VOUCHER_DEAL_PAYMENT_V0 => v
            .node
            .decode::<RetrievalDealPaymentV0>()
            .map(|p| RetrievalDealPayment {
                id: p.id,
                payment_channel: p.payment_channel,
                payment_voucher: p.payment_voucher,
            })
            .map_err(|e| format!("the legacy payment does not decode: {e}")),
        other => Err(format!("voucher type {other:?} is not a retrieval payment")),
    }
}

impl RetrievalProvider {
    /// A payment for the deal of `channel`: the voucher checked against the chain and kept,
    /// then the deal machine says whether to resume, ask for more or complete.
    async fn on_payment(&self, channel: &PullChannel, voucher: &TypedVoucher) -> ValidationResult {
        let _one = self.payments.lock().await;
        let Ok(p) = decode_proposal(&channel.voucher) else {
            return ValidationResult::default();
        };
        let (id, legacy) = (p.deal.id, p.legacy);
        let record = match self.deals.get(&channel.peer.to_string(), id) {
            Ok(Some(r)) => r,
            Ok(None) => return refuse(id, legacy, S::DealNotFound, format!("no retrieval deal {id}")),
            Err(e) => return refuse(id, legacy, S::Errored, format!("reading the deal: {e}")),
        };
        let refused = |why: String| {
            let mut c = channel.clone();
            c.sent = record.total_sent;
            self.advance(&c, Event::PaymentRefused(why.clone()));
            refuse(id, legacy, S::Errored, why)
        };
        let payment = match decode_payment(voucher) {
            Ok(p) if p.id == id => p,
            Ok(p) => return refused(format!("the payment is for deal {}, not {id}", p.id)),
            Err(e) => return refused(e),
        };
        let payee = match self.lookup.payment_address(&record.miner.0).await {
            Ok(a) => a,
            Err(e) => return refused(e.to_string()),
        };
        let checked = match self
            .vouchers
            .check(&payment.payment_channel, payment.payment_voucher.as_ref(), &payee)
            .await
        {
            Ok(c) => c,
            Err(e) => return refused(e.to_string()),
        };
        let delta = checked.delta.clone();
        tracing::info!(deal = id, channel = %payment.payment_channel, delta = %delta.atto(), "retrieval payment received");
        // The voucher and the deal's funds in one write: a crash keeps both or neither.
        let Some((record, actions)) = self.advance_with(channel, Event::PaymentReceived { delta }, Some(&checked))
        else {
            return refuse(id, legacy, S::Errored, "the deal does not take payments now".into());
        };
        if let Err(e) = self.deals.sync().await {
            let why = format!("saving the payment: {e}");
            tracing::warn!(deal = id, "{why}");
            return refuse(id, legacy, S::Errored, why);
        }
        if actions.contains(&Action::Complete) {
            return ValidationResult {
                accepted: true,
                result: Some(response(id, legacy, S::Completed, "", TokenAmount::default())),
                force_pause: false,
                data_limit: 0,
                payment_due_at: 0,
            };
        }
        // Still owed (a short payment, or the next boundary already passed while this one
        // was on its way): asked for in the answer; the data flows on within the credit.
        flow(&record, &actions)
    }

    /// The transfer reached a point its last decision named (a payment boundary, the data
    /// limit): the deal's machine says whether it goes on and what to ask for.
    fn at_limit(&self, channel: &PullChannel, event: Event) -> ValidationResult {
        match self.advance(channel, event) {
            Some((record, actions)) => {
                let decision = flow(&record, &actions);
                if decision.force_pause {
                    // Rare with the credit: the client pays too slowly, or not at all.
                    tracing::info!(
                        deal = record.deal_proposal.id,
                        sent = record.total_sent,
                        paid = %record.funds_received.0.atto(),
                        "retrieval transfer paused until paid"
                    );
                    self.close_if_abandoned(&record, "the transfer was paused for a payment");
                }
                decision
            }
            // The deal takes no such event now (it ended): nothing more goes out.
            None => ValidationResult {
                accepted: true,
                force_pause: true,
                ..ValidationResult::default()
            },
        }
    }
}

/// How a running deal's data flows after its machine's `actions`: held (paused until paid,
/// or until the piece is ready), or on to the next limits; with the payment asked for, if any.
fn flow(record: &RetrievalDealRecord, actions: &[Action]) -> ValidationResult {
    let (id, legacy) = (record.deal_proposal.id, record.legacy_protocol);
    let m = record.machine();
    let asked = actions.iter().find_map(|a| match a {
        Action::RequestPayment { owed, last } => {
            let status = if *last {
                S::FundsNeededLastPayment
            } else {
                S::FundsNeeded
            };
            Some(response(id, legacy, status, "", owed.clone()))
        }
        _ => None,
    });
    let held = matches!(
        m.status,
        // Paid (the unseal price), but the piece is not ready: preparing it resumes.
        S::New | S::Unsealing | S::FundsNeeded | S::FundsNeededLastPayment
    );
    ValidationResult {
        accepted: true,
        // Asked once; the next decision names the next boundary.
        payment_due_at: if asked.is_some() { 0 } else { m.current_interval },
        result: asked,
        force_pause: held,
        data_limit: m.pause_limit(),
    }
}

impl Validator for RetrievalProvider {
    fn validate_pull(&self, channel: &PullChannel, restart: bool) -> ValidationResult {
        let p = match decode_proposal(&channel.voucher) {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(peer = %channel.peer, "retrieval refused: {e}");
                return ValidationResult::default();
            }
        };
        if restart {
            self.accept_restart(channel, p)
        } else {
            self.accept_new(channel, p)
        }
    }

    fn validate_voucher(&self, channel: &PullChannel, _voucher: &TypedVoucher) -> ValidationResult {
        // Payments are checked against the chain: see `validate_voucher_later`.
        let id = decode_proposal(&channel.voucher).map(|p| p.deal.id).unwrap_or(0);
        refuse(id, false, S::Errored, "payments are checked asynchronously".into())
    }

    fn validate_voucher_later(&self, channel: &PullChannel, voucher: &TypedVoucher) -> PendingDecision {
        let (this, channel, voucher) = (self.clone(), channel.clone(), voucher.clone());
        Box::pin(async move { this.on_payment(&channel, &voucher).await })
    }

    fn payment_due(&self, channel: &PullChannel) -> ValidationResult {
        self.at_limit(channel, Event::PaymentDue { total: channel.sent })
    }

    fn data_limit_reached(&self, channel: &PullChannel) -> ValidationResult {
        self.at_limit(channel, Event::LimitReached { total: channel.sent })
    }

    fn awaits_last_payment(&self, channel: &PullChannel) -> bool {
        let Ok(p) = decode_proposal(&channel.voucher) else {
            return false;
        };
        matches!(
            self.deals.get(&channel.peer.to_string(), p.deal.id),
            Ok(Some(r)) if r.status() == S::FundsNeededLastPayment
        )
    }

    fn completed(&self, channel: &PullChannel) -> Option<TypedVoucher> {
        let (record, actions) = self.advance(channel, Event::AllSent { total: channel.sent })?;
        if record.status() == S::FundsNeededLastPayment {
            self.close_if_abandoned(&record, "all the data was sent and the last payment is due");
        }
        let id = record.deal_proposal.id;
        let legacy = record.legacy_protocol;
        actions.iter().find_map(|a| match a {
            Action::Complete => Some(response(id, legacy, S::Completed, "", TokenAmount::default())),
            Action::RequestPayment { owed, .. } => {
                Some(response(id, legacy, S::FundsNeededLastPayment, "", owed.clone()))
            }
            _ => None,
        })
    }

    fn ended(&self, channel: &PullChannel, end: ResponseEnd) {
        let event = match end {
            ResponseEnd::CancelledByRequester => Event::ClientCancelled,
            ResponseEnd::Sent(graphsync::ResponseStatus::RequestCancelled) => Event::ProviderCancelled,
            ResponseEnd::Sent(status) => Event::Failed(format!("the transfer ended with graphsync status {status:?}")),
            ResponseEnd::NetworkError => Event::Interrupted("deal data transfer stalled (peer hungup)".into()),
            ResponseEnd::Stopped => Event::Interrupted("droplet stopped during the transfer".into()),
        };
        let waits = matches!(end, ResponseEnd::NetworkError | ResponseEnd::Stopped);
        if let Some((record, _)) = self.advance(channel, event)
            && waits
        {
            self.close_if_abandoned(&record, "the transfer was cut");
        }
    }
}

//! The client's retrievals: query a provider, propose a deal in a data-transfer pull, receive
//! the verified blocks into a CAR in the repo, follow the deal to Completed (with
//! go-fil-markets' client statuses and events, which the CLI prints as progress), and export
//! the result as a CAR or as files.
//!
//! - `query`: `/fil/retrieval/qry/1.0.0`.
//! - `sink`: the CAR the blocks go to.
//! - `output`: the user's file, written while the blocks arrive.
//! - `writer`: the thread that writes it.
//! - `record`: the retrievals in the store.
//! - `selector`: `--data-selector` (a dag-json selector or a data-model path).
//! - `http`: the same retrieval over the provider's trustless gateway (`--http`).

pub mod http;
pub mod output;
pub mod query;
pub mod record;
pub mod selector;
pub mod sink;
pub mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use data_transfer::DataTransfer;
use data_transfer::client::{ClientEvent, Pull};
use data_transfer::message::TypedVoucher;
use graphsync::net::RequestError;
use jsonrpsee::http_client::HttpClient;
use market_p2p::Host;
use market_proto::Json;
use market_proto::api::market_client::{ChannelIdJson, RetrievalInfo, RetrievalOrder};
use market_types::TokenAmount;
use market_types::ipld::RawCbor;
use market_types::retrieval::{
    RetrievalDealPayment, RetrievalDealProposal, RetrievalDealResponse, RetrievalParams, VOUCHER_DEAL_PAYMENT,
    VOUCHER_DEAL_PROPOSAL, VOUCHER_DEAL_RESPONSE,
};
use market_types::states::{RetrievalClientEvent as E, RetrievalDealStatus as S};
use tokio::sync::Notify;

use self::record::{RetrievalRecord, RetrievalStore};
use self::sink::CarSink;

/// How often a running retrieval's progress is saved while blocks arrive.
const SAVE_EVERY: Duration = Duration::from_millis(250);
/// How long the provider has to complete the deal (or ask for the last payment) once every
/// block has arrived.
const COMPLETE_WITHIN: Duration = Duration::from_secs(60);
/// How long a cut transfer is tried again (reconnecting, then a data-transfer restart that
/// does not fetch again what arrived) before the retrieval fails.
const RESTART_WITHIN: Duration = Duration::from_secs(120);

/// A retrieval in progress: how to cancel it.
struct Live {
    cancel: Notify,
}

/// The client's retrievals; clones share them.
#[derive(Clone)]
pub struct Retrievals {
    inner: Arc<Inner>,
}

struct Inner {
    host: Host,
    node: HttpClient,
    dt: DataTransfer,
    paych: Arc<crate::paych::Paych>,
    store: RetrievalStore,
    dir: PathBuf,
    live: Mutex<HashMap<u64, Arc<Live>>>,
    ids: AtomicU64,
}

impl std::fmt::Debug for Retrievals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrievals").field("dir", &self.inner.dir).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Deal IDs: Unix nanoseconds at start, then one more each (go-fil-markets' time counter).
fn time_counter() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

fn decode_response(v: &Option<TypedVoucher>) -> Option<RetrievalDealResponse> {
    let v = v.as_ref()?;
    if v.kind != VOUCHER_DEAL_RESPONSE {
        return None;
    }
    v.node.decode().ok()
}

impl Retrievals {
    /// Retrievals over `dt`, their CARs under `dir`. Retrievals a previous run left running
    /// are marked failed (their provider-side channel is gone); start them again.
    pub fn new(
        host: Host,
        node: HttpClient,
        dt: DataTransfer,
        paych: Arc<crate::paych::Paych>,
        store: RetrievalStore,
        dir: PathBuf,
    ) -> Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for listed in store.list()? {
            if !listed.is_terminal() {
                // With its log, which the list leaves out.
                let mut r = store.get(listed.info.id)?.unwrap_or(listed);
                r.set(E::DataTransferError, S::Errored);
                r.info.message = "droplet-client stopped during the retrieval; start it again".into();
                // A voucher made for it may have gone out before the stop was recorded: what the
                // lane's last voucher pays is spent (the provider may hold it).
                if let Some(ch) = r.channel.clone()
                    && let Ok(Some(best)) = paych.best_voucher(&ch.0, r.lane)
                    && best.amount > r.info.total_paid.0
                {
                    r.info.message += &format!(
                        " (its last voucher, for {} attoFIL, counts as paid: the provider may hold it)",
                        best.amount.atto()
                    );
                    r.info.total_paid = Json(best.amount);
                }
                store.put(&mut r)?;
            }
        }
        Ok(Retrievals {
            inner: Arc::new(Inner {
                host,
                node,
                dt,
                paych,
                store,
                dir,
                live: Mutex::new(HashMap::new()),
                ids: AtomicU64::new(time_counter()),
            }),
        })
    }

    fn car_path(&self, id: u64) -> PathBuf {
        self.inner.dir.join(format!("{id}.car"))
    }

    /// Start `order`; returns its deal ID once the pull is open.
    pub async fn retrieve(&self, order: RetrievalOrder) -> Result<u64> {
        if order.size == 0 {
            bail!("the order has size 0: take the size from the provider's query offer");
        }
        let wanted = selector::parse(order.data_selector.as_deref().unwrap_or(""))?;
        let miner_peer = order
            .miner_peer
            .clone()
            .ok_or_else(|| anyhow!("the order names no provider peer (MinerPeer)"))?;
        let peer: libp2p::PeerId = miner_peer
            .id
            .parse()
            .map_err(|e| anyhow!("provider peer ID {:?}: {e}", miner_peer.id))?;
        let (_, addrs, _) = crate::asks::miner_peer(&self.inner.node, &miner_peer.address.0, Some(peer)).await?;
        let id = self.inner.ids.fetch_add(1, Ordering::Relaxed);
        let root = order.root.0;
        let selector = wanted.selector.clone();
        let proposal = RetrievalDealProposal {
            id,
            payload_cid: root,
            params: RetrievalParams {
                piece_cid: order.piece.as_ref().map(|p| p.0),
                selector: Some(selector.clone()),
                unseal_price: order.unseal_price.0.clone(),
                price_per_byte: query::price_per_byte(&order.total.0, &order.unseal_price.0, order.size),
                payment_interval: order.payment_interval,
                payment_interval_increase: order.payment_interval_increase,
            },
        };
        let car = self.car_path(id);
        let mut record = RetrievalRecord::new(&proposal, peer.to_string(), miner_peer.address.0, car.clone());
        record.payer = Some(Json(order.client.0));
        record.payee = Some(Json(order.miner.0));
        record.total = Json(order.total.0.clone());
        record.data_selector = order.data_selector.clone().filter(|s| !s.trim().is_empty());
        self.inner.store.put(&mut record)?;
        let mut sink = CarSink::create(&car, &graphsync::block_cid(&root))
            .with_context(|| format!("creating {}", car.display()))?;
        // The whole DAG to a file: written while it arrives.
        if let Some(out) = order
            .output
            .as_ref()
            .filter(|o| !o.is_car && record.data_selector.is_none())
        {
            match output::Output::create(Path::new(&out.path), id) {
                Ok(o) => sink = sink.with_output(o),
                Err(e) => {
                    record.info.message = e.to_string();
                    record.set(E::WriteDealProposalErrored, S::Errored);
                    self.inner.store.put(&mut record)?;
                    return Err(e.into());
                }
            }
        }
        let sink = Arc::new(sink);
        match order.transport.as_deref() {
            None | Some("graphsync") => {}
            Some("http") => return self.start_http(record, peer, addrs, sink).await,
            Some(other) => bail!("transport {other:?} is not one this client retrieves over (graphsync, http)"),
        }
        // Listening for the provider's disconnection before the pull opens: a provider lost
        // between the proposal and its answer is noticed too.
        let cut = self.inner.host.disconnections();
        let opened = async {
            self.inner
                .host
                .connect(peer, addrs)
                .await
                .with_context(|| format!("connecting to provider {peer}"))?;
            let voucher = TypedVoucher {
                kind: VOUCHER_DEAL_PROPOSAL.into(),
                node: RawCbor::from_value(&proposal),
            };
            self.inner
                .dt
                .pull(peer, voucher, root, selector, sink.clone())
                .map_err(|e| anyhow!("opening the transfer: {e}"))
        }
        .await;
        let pull = match opened {
            Ok(p) => p,
            Err(e) => return self.not_started(record, &sink, e),
        };
        record.info.transfer_channel_id = Some(ChannelIdJson {
            initiator: self.inner.host.peer_id().to_string(),
            responder: peer.to_string(),
            id: pull.transfer_id,
        });
        record.set(E::DealProposed, S::WaitForAcceptance);
        self.inner.store.put(&mut record)?;
        let live = Arc::new(Live { cancel: Notify::new() });
        lock(&self.inner.live).insert(id, live.clone());
        let this = self.clone();
        tokio::spawn(async move {
            this.follow(record, pull, sink, live, cut).await;
            lock(&this.inner.live).remove(&id);
        });
        Ok(id)
    }

    /// A retrieval that could not start: its record failed with `e`, its output removed.
    fn not_started(&self, mut record: RetrievalRecord, sink: &CarSink, e: anyhow::Error) -> Result<u64> {
        if let Some(o) = sink.output() {
            o.abandon();
        }
        record.info.message = format!("{e:#}");
        record.set(E::WriteDealProposalErrored, S::Errored);
        self.inner.store.put(&mut record)?;
        Err(e)
    }

    /// Follow a pull to its end, saving the record as it moves.
    async fn follow(
        &self,
        mut r: RetrievalRecord,
        mut pull: Pull,
        sink: Arc<CarSink>,
        live: Arc<Live>,
        mut cut: tokio::sync::broadcast::Receiver<libp2p::PeerId>,
    ) {
        let store = &self.inner.store;
        let (mut all_received, mut completed) = (false, false);
        // The cumulative amount the provider has asked for and is not yet paid.
        let mut owed_target: Option<TokenAmount> = None;
        // The payment on its way, if any.
        let mut paying: Option<Paying> = None;
        let mut saved = Instant::now();
        let fail = |r: &mut RetrievalRecord, event: E, status: S, message: String| {
            r.info.message = message;
            r.set(event, status);
        };
        let peer = pull.peer;
        // Whether the running pull is a restart (its acceptance sets nothing up again).
        let mut restarted = false;
        loop {
            let done_by = all_received.then(|| tokio::time::Instant::now() + COMPLETE_WITHIN);
            let wake = tokio::select! {
                e = pull.events.recv() => Wake::Event(e),
                done = async { (&mut paying.as_mut().expect("paying").done).await }, if paying.is_some() => {
                    Wake::Paid(done.unwrap_or_else(|e| Err(anyhow!("the payment task failed: {e}"))))
                }
                _ = tokio::time::sleep_until(done_by.unwrap_or_else(tokio::time::Instant::now)), if done_by.is_some() => {
                    let _ = self.inner.dt.cancel(&pull).await;
                    r.info.message = format!(
                        "every block arrived but the provider did not complete the deal within {}s",
                        COMPLETE_WITHIN.as_secs()
                    );
                    if let Some(asked) = owed_target.as_ref().filter(|a| **a > r.info.total_paid.0) {
                        r.info.message += &format!(
                            ": it asks for {} attoFIL in all, more than the {} bytes received are worth ({} attoFIL, paid)",
                            asked.atto(),
                            r.info.bytes_received,
                            r.info.total_paid.0.atto()
                        );
                    }
                    r.set(E::DataTransferError, S::Errored);
                    break;
                }
                _ = live.cancel.notified() => {
                    let _ = self.inner.dt.cancel(&pull).await;
                    r.info.message = "cancelled by the client".into();
                    r.set(E::Cancel, S::Cancelled);
                    break;
                }
                gone = cut.recv() => {
                    if !matches!(gone, Ok(p) if p == peer) || completed {
                        continue;
                    }
                    Wake::Lost
                }
            };
            let paid = matches!(wake, Wake::Paid(_));
            let event = match wake {
                Wake::Event(e) => Some(e),
                Wake::Paid(done) => {
                    let p = paying.take().expect("paying");
                    match done {
                        Ok(()) => {
                            let after = if p.last { S::Finalizing } else { S::Ongoing };
                            p.sent(&mut r, after);
                        }
                        Err(e) => {
                            fail(&mut r, E::CreateVoucherFailed, S::Errored, format!("{e:#}"));
                            let _ = self.inner.dt.cancel(&pull).await;
                            break;
                        }
                    }
                    // Nothing else happened: on to paying again, saving, finishing.
                    Some(Some(ClientEvent::Paused))
                }
                Wake::Lost => None,
            };
            // The connection was lost (the provider stopped, crashed or the network failed):
            // reconnect and restart the transfer from the first block we lack, once the
            // payment on its way has gone.
            let Some(event) = event else {
                if let Some(mut p) = paying.take() {
                    match (&mut p.done).await {
                        Ok(Ok(())) => {
                            let status = r.status();
                            p.sent(&mut r, status);
                        }
                        Ok(Err(e)) => tracing::info!(deal = r.info.id, "the payment on its way failed: {e:#}"),
                        Err(e) => tracing::warn!(deal = r.info.id, "the payment task failed: {e}"),
                    }
                }
                let why = "the connection to the provider was lost";
                match self.restart_transfer(&mut r, &pull, sink.clone(), why).await {
                    Ok(p) => {
                        let old = std::mem::replace(&mut pull, p);
                        count_received(&mut r, old).await;
                        restarted = true;
                        all_received = false;
                        owed_target = None;
                        continue;
                    }
                    Err(e) => {
                        fail(&mut r, E::DataTransferError, S::Errored, format!("{e:#}"));
                        break;
                    }
                }
            };
            let Some(event) = event else {
                if !r.is_terminal() {
                    fail(
                        &mut r,
                        E::DataTransferError,
                        S::Errored,
                        "the transfer ended before the provider completed the deal".into(),
                    );
                }
                break;
            };
            // Blocks, payments asked for and payments made save on their own schedule, without
            // waiting for the disk (the voucher was kept by the payment channel manager, and a
            // provider asks again after a restart); every other event is saved at once, synced.
            let mut on_schedule = matches!(event, ClientEvent::Block { .. }) || paid;
            match event {
                ClientEvent::Accepted(result) if restarted => {
                    r.info.message.clear();
                    // What we paid before the cut, again: the provider may not have kept it.
                    if let Err(e) = self.pay_again(&mut r, &pull).await {
                        tracing::warn!(deal = r.info.id, "sending the last voucher again: {e:#}");
                    }
                    if let Some(owed) = pending_owed(&result) {
                        owed_target = Some(&r.info.total_paid.0 + &owed);
                    }
                }
                ClientEvent::Accepted(result) => match decode_response(&result).map(|d| d.status) {
                    Some(s) if s == S::Accepted.code() || s == S::FundsNeededUnseal.code() => {
                        r.set(E::DealAccepted, S::Accepted);
                        if let Err(e) = self.setup_payment(&mut r).await {
                            fail(&mut r, E::PaymentChannelErrored, S::Errored, format!("{e:#}"));
                            let _ = self.inner.dt.cancel(&pull).await;
                            break;
                        }
                        if let Some(owed) = pending_owed(&result) {
                            owed_target = Some(&r.info.total_paid.0 + &owed);
                        }
                    }
                    Some(s) => {
                        let name = S::from_u64(s).map(|s| s.name()).unwrap_or("unknown");
                        fail(
                            &mut r,
                            E::UnknownResponseReceived,
                            S::Errored,
                            format!("unexpected deal response status: {name}"),
                        );
                        let _ = self.inner.dt.cancel(&pull).await;
                        break;
                    }
                    None => {
                        r.set(E::DealAccepted, S::Accepted);
                        r.set(E::PaymentChannelSkip, S::Ongoing);
                    }
                },
                ClientEvent::Rejected(result) => {
                    let d = decode_response(&result);
                    let (event, status) = match d.as_ref().map(|d| d.status) {
                        Some(16) => (E::DealNotFound, S::DealNotFound),
                        _ => (E::DealRejected, S::Rejected),
                    };
                    let why = d
                        .map(|d| d.message)
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| "no reason given".into());
                    fail(&mut r, event, status, format!("the provider rejected the deal: {why}"));
                    break;
                }
                ClientEvent::VoucherResult { accepted, result, .. } => {
                    let d = decode_response(&result);
                    if !accepted || d.as_ref().is_some_and(|d| d.status == S::Errored.code()) {
                        let why = d.map(|d| d.message).unwrap_or_default();
                        fail(
                            &mut r,
                            E::ProviderCancelled,
                            S::Errored,
                            format!("the provider stopped the deal: {why}"),
                        );
                        break;
                    }
                    if all_received && d.as_ref().is_some_and(|d| d.status == S::Completed.code()) {
                        // A finalizing provider's word that the last payment settled the deal.
                        completed = true;
                        r.set(E::Complete, S::CheckComplete);
                    } else if let Some(d) = d.filter(|d| !d.payment_owed.is_zero()) {
                        if r.total.0.is_zero() {
                            fail(
                                &mut r,
                                E::BadPaymentRequested,
                                S::Errored,
                                "the provider asks for payment on a free retrieval".into(),
                            );
                            let _ = self.inner.dt.cancel(&pull).await;
                            break;
                        }
                        let last = d.status == S::FundsNeededLastPayment.code();
                        if last {
                            r.set(E::LastPaymentRequested, S::SendFundsLastPayment);
                        } else {
                            r.set(E::PaymentRequested, S::FundsNeeded);
                            on_schedule = true;
                        }
                        owed_target = Some(&r.info.total_paid.0 + &d.payment_owed);
                    }
                }
                ClientEvent::Block { size, received, .. } => {
                    if received {
                        r.info.bytes_received += size as u64;
                    }
                    r.info.event = Some(E::BlocksReceived.code());
                    r.note();
                    if saved.elapsed() >= SAVE_EVERY {
                        let _ = store.put_progress(&mut r);
                        saved = Instant::now();
                    }
                }
                ClientEvent::TransferFinished(Ok(_)) => {
                    all_received = true;
                    r.set(E::AllBlocksReceived, S::BlocksComplete);
                }
                ClientEvent::TransferFinished(Err(e @ RequestError::Network(_))) => {
                    match self.restart_transfer(&mut r, &pull, sink.clone(), &e.to_string()).await {
                        Ok(p) => {
                            let old = std::mem::replace(&mut pull, p);
                            count_received(&mut r, old).await;
                            restarted = true;
                            owed_target = None;
                        }
                        Err(e) => {
                            fail(&mut r, E::DataTransferError, S::Errored, format!("{e:#}"));
                            break;
                        }
                    }
                }
                ClientEvent::TransferFinished(Err(e)) => {
                    // A provider that stops a deal says why on the data-transfer stream,
                    // which may arrive just after graphsync's end: wait a moment for it.
                    let why = match e {
                        RequestError::Status(_) => provider_reason(&mut pull.events).await,
                        _ => None,
                    };
                    let message = match why {
                        Some(why) => format!("the provider stopped the deal: {why}"),
                        None => format!("deal data transfer failed: {e}"),
                    };
                    fail(&mut r, E::DataTransferError, S::Errored, message);
                    break;
                }
                ClientEvent::Completed {
                    accepted,
                    paused,
                    result,
                } => {
                    let d = decode_response(&result);
                    if !accepted {
                        let why = d.map(|d| d.message).unwrap_or_default();
                        fail(
                            &mut r,
                            E::ProviderCancelled,
                            S::Errored,
                            format!("the provider failed the deal: {why}"),
                        );
                        break;
                    }
                    if let Some(d) = d.as_ref().filter(|d| d.status == S::FundsNeededLastPayment.code()) {
                        if r.total.0.is_zero() {
                            fail(
                                &mut r,
                                E::BadPaymentRequested,
                                S::Errored,
                                "the provider asks for payment on a free retrieval".into(),
                            );
                            break;
                        }
                        r.set(E::LastPaymentRequested, S::SendFundsLastPayment);
                        owed_target = Some(&r.info.total_paid.0 + &d.payment_owed);
                    } else if let Some(d) = d.filter(|d| d.status != S::Completed.code()) {
                        let name = S::from_u64(d.status).map(|s| s.name()).unwrap_or("unknown");
                        fail(
                            &mut r,
                            E::UnknownResponseReceived,
                            S::Errored,
                            format!("unexpected deal response status at completion: {name}"),
                        );
                        break;
                    } else if paused {
                        // The data is sent but the provider is finalizing the deal
                        // (go-fil-markets): the last payment request, or its completion,
                        // follows as a voucher result.
                        tracing::debug!(deal = r.info.id, "the provider is finalizing the deal");
                    } else {
                        completed = true;
                        r.set(E::Complete, S::CheckComplete);
                    }
                }
                ClientEvent::Cancelled => {
                    fail(
                        &mut r,
                        E::ProviderCancelled,
                        S::Cancelled,
                        "the provider cancelled the retrieval".into(),
                    );
                    break;
                }
                ClientEvent::Paused | ClientEvent::Resumed => {}
            }
            // Asked for a payment: pay for everything received once that is due (the next
            // boundary reached, or all arrived), as go-fil-markets' client pays. The provider's
            // figure may not count a payment still on its way (it asks at a boundary while the
            // data goes on flowing), so it is a prompt, not the amount. One payment at a time,
            // made on a task of its own while the blocks go on arriving: the next covers all
            // that arrived meanwhile.
            if owed_target.is_some()
                && paying.is_none()
                && let Some(ch) = r.channel.clone()
                && let Some(amount) = r.payable(all_received)
            {
                let last = r.status() == S::SendFundsLastPayment;
                r.set(E::SendFunds, if last { S::SendFundsLastPayment } else { S::SendFunds });
                owed_target = None;
                let (this, lane, id, to, xfer) = (self.clone(), r.lane, r.info.id, pull.peer, pull.transfer_id);
                let value = amount.clone();
                let done = tokio::spawn(async move {
                    let sv = this.inner.paych.voucher_paying(&ch.0, lane, &value).await?;
                    this.send_payment(id, to, xfer, ch.0, sv).await
                });
                paying = Some(Paying {
                    amount,
                    bytes: r.info.bytes_received,
                    last,
                    done,
                });
            }
            if !on_schedule {
                let _ = store.put(&mut r);
            }
            if all_received && completed && paying.is_none() {
                r.set(E::CompleteVerified, S::FinalizingBlockstore);
                match sink.finish_output().and_then(|w| sink.sync().map(|()| w)) {
                    Ok(written) => {
                        r.output = written;
                        r.set(E::BlockstoreFinalized, S::Completed)
                    }
                    Err(e) => fail(
                        &mut r,
                        E::FinalizeBlockstoreErrored,
                        S::Errored,
                        format!("writing {}: {e}", sink.path().display()),
                    ),
                }
                break;
            }
        }
        if r.status() != S::Completed
            && let Some(o) = sink.output()
        {
            o.abandon();
        }
        if let Err(e) = store.put(&mut r) {
            tracing::warn!(deal = r.info.id, "saving the retrieval: {e}");
        }
    }

    /// A priced deal's channel and lane, before any payment is due (a free one skips this).
    async fn setup_payment(&self, r: &mut RetrievalRecord) -> Result<()> {
        if r.total.0.is_zero() {
            r.set(E::PaymentChannelSkip, S::Ongoing);
            return Ok(());
        }
        let (Some(payer), Some(payee)) = (r.payer.clone(), r.payee.clone()) else {
            bail!("the retrieval names no payer or payment address");
        };
        let store = &self.inner.store;
        let progress = std::sync::Mutex::new(r.clone());
        let (ch, _) = self
            .inner
            .paych
            .get_or_create(&payer.0, &payee.0, &r.total.0, |how| {
                let (event, status) = match how {
                    crate::paych::Readied::Created => (E::PaymentChannelCreateInitiated, S::PaymentChannelCreating),
                    _ => (E::PaymentChannelAddingFunds, S::PaymentChannelAddingInitialFunds),
                };
                let mut p = lock(&progress);
                p.set(event, status);
                let _ = store.put(&mut p);
            })
            .await?;
        r.set(E::PaymentChannelReady, S::PaymentChannelAllocatingLane);
        let lane = self.inner.paych.allocate_lane(&ch).await?;
        r.channel = Some(Json(ch));
        r.lane = lane;
        r.set(E::LaneAllocated, S::Ongoing);
        Ok(())
    }

    /// Reconnect to the provider (its addresses read from the chain again: a restarted
    /// provider may listen elsewhere) and restart `pull`, for up to [`RESTART_WITHIN`].
    async fn restart_transfer(
        &self,
        r: &mut RetrievalRecord,
        pull: &Pull,
        sink: Arc<CarSink>,
        why: &str,
    ) -> Result<Pull> {
        let status = r.status();
        r.info.message = format!("{why}; restarting the transfer");
        r.set(E::DataTransferError, status);
        let _ = self.inner.store.put(r);
        tracing::info!(deal = r.info.id, peer = %pull.peer, "{why}: restarting the transfer");
        let deadline = Instant::now() + RESTART_WITHIN;
        let mut wait = Duration::from_millis(500);
        let mut last_error = String::new();
        while Instant::now() < deadline {
            let attempt = async {
                let (_, addrs, _) = crate::asks::miner_peer(&self.inner.node, &r.miner.0, Some(pull.peer)).await?;
                self.inner
                    .host
                    .connect(pull.peer, addrs)
                    .await
                    .with_context(|| format!("connecting to provider {}", pull.peer))?;
                self.inner
                    .dt
                    .restart(pull, sink.clone())
                    .map_err(|e| anyhow!("restarting the transfer: {e}"))
            };
            match attempt.await {
                Ok(p) => return Ok(p),
                Err(e) => last_error = format!("{e:#}"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        bail!(
            "{why}, and the transfer could not be restarted within {}s: {last_error}",
            RESTART_WITHIN.as_secs()
        )
    }

    /// After a restart, send the lane's last voucher again (the provider keeps it once: sent
    /// again, it adds nothing). A voucher made just before the cut, whose sending failed, is
    /// paid now: the deal counts it.
    async fn pay_again(&self, r: &mut RetrievalRecord, pull: &Pull) -> Result<()> {
        let Some(ch) = r.channel.clone().map(|c| c.0) else {
            return Ok(());
        };
        let Some(sv) = self.inner.paych.best_voucher(&ch, r.lane)? else {
            return Ok(());
        };
        let amount = sv.amount.clone();
        self.send_payment(r.info.id, pull.peer, pull.transfer_id, ch, sv)
            .await?;
        if amount > r.info.total_paid.0 {
            r.info.total_paid = Json(amount);
        }
        Ok(())
    }

    /// Send voucher `sv` on `ch` as deal `id`'s payment, on `peer`'s transfer `xfer`.
    async fn send_payment(
        &self,
        id: u64,
        peer: libp2p::PeerId,
        xfer: u64,
        ch: market_types::Address,
        sv: market_types::chain::SignedVoucher,
    ) -> Result<()> {
        let payment = RetrievalDealPayment {
            id,
            payment_channel: ch,
            payment_voucher: Some(sv),
        };
        self.inner
            .dt
            .send_voucher_to(
                peer,
                xfer,
                &TypedVoucher {
                    kind: VOUCHER_DEAL_PAYMENT.into(),
                    node: RawCbor::from_value(&payment),
                },
            )
            .await
            .map_err(|e| anyhow!("sending the payment: {e}"))
    }

    /// Wait until retrieval `id` ends: Ok once Completed, else its message.
    pub async fn wait(&self, id: u64) -> Result<()> {
        loop {
            let r = self.inner.store.get(id)?.ok_or_else(|| anyhow!("no retrieval {id}"))?;
            if r.is_terminal() {
                if r.status() == S::Completed {
                    return Ok(());
                }
                bail!("retrieval {id} ended {}: {}", r.status().name(), r.info.message);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Retrieval `id` after each of its events so far.
    /// Retrieval `id`'s log from entry `from` on (only those are read).
    pub fn log(&self, id: u64, from: usize) -> Result<Vec<RetrievalInfo>> {
        let entries = self.inner.store.log_from(id, from)?;
        if !entries.is_empty() {
            return Ok(entries);
        }
        // Nothing stored apart past `from`: the record says whether it exists (and holds the
        // log, as records written before kept it).
        let r = self.inner.store.get(id)?.ok_or_else(|| anyhow!("no retrieval {id}"))?;
        Ok(r.log.into_iter().skip(from).collect())
    }

    pub fn list(&self) -> Result<Vec<RetrievalInfo>> {
        Ok(self.inner.store.list()?.into_iter().map(|r| r.info).collect())
    }

    /// Cancel a running retrieval.
    pub fn cancel(&self, id: u64) -> Result<()> {
        let live = lock(&self.inner.live).get(&id).cloned();
        match live {
            Some(l) => {
                l.cancel.notify_one();
                Ok(())
            }
            None => bail!("retrieval {id} is not running"),
        }
    }

    /// Write out what retrieval `id` brought: its CAR (`car`) or the UnixFS file or directory.
    pub fn export(&self, id: u64, root: &cid::Cid, out: &Path, car: bool) -> Result<()> {
        let r = self.inner.store.get(id)?.ok_or_else(|| anyhow!("no retrieval {id}"))?;
        if r.status() != S::Completed {
            bail!("retrieval {id} is {}, not Completed", r.status().name());
        }
        if r.info.payload_cid.0 != *root {
            bail!("retrieval {id} fetched {}, not {root}", r.info.payload_cid.0);
        }
        if let Some(streamed) = r.output.as_deref() {
            // Written while the blocks arrived: the CAR holds the inner nodes, the file the data.
            if !car && streamed == out && out.is_file() {
                return Ok(());
            }
            if streamed == out {
                bail!(
                    "{} holds retrieval {id}'s data, which its CAR is made from: write the CAR to another path",
                    out.display()
                );
            }
            let root = &graphsync::block_cid(root);
            let blocks = sink::StreamedBlocks::open(&r.car, streamed, root)?;
            if car {
                return sink::write_car(&blocks, root, out);
            }
            let root = piece_store::unixfs::BlockCid::try_from(root.to_bytes().as_slice())?;
            piece_store::unixfs::export::export(&blocks, &root, out)?;
            return Ok(());
        }
        if car {
            std::fs::copy(&r.car, out).with_context(|| format!("copying {} to {}", r.car.display(), out.display()))?;
            return Ok(());
        }
        let root = &graphsync::block_cid(root);
        let blocks = CarSink::reopen(&r.car, root).with_context(|| format!("opening {}", r.car.display()))?;
        // With a path, the DAG at its end is written out.
        let target = match r.data_selector.as_deref().map(selector::parse).transpose()? {
            None => *root,
            Some(selector::DataSelector { path: Some(path), .. }) => selector::resolve(&blocks, root, &path)?,
            Some(_) => bail!("retrieval {id} used a dag-json selector: it can be written out as a CAR only (--car)"),
        };
        let root = piece_store::unixfs::BlockCid::try_from(target.to_bytes().as_slice())?;
        piece_store::unixfs::export::export(&blocks, &root, out)?;
        Ok(())
    }
}

/// Count the blocks a cut pull received that were not yet counted: the restart does not
/// fetch them again. The old pull's events end once its request is dropped.
async fn count_received(r: &mut RetrievalRecord, mut old: Pull) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, old.events.recv()).await {
        if let ClientEvent::Block {
            size, received: true, ..
        } = ev
        {
            r.info.bytes_received += size as u64;
        }
    }
}

/// What woke a retrieval's follower.
enum Wake {
    /// The pull's next event (none: its events ended).
    Event(Option<ClientEvent>),
    /// The payment on its way was made, or failed.
    Paid(Result<()>),
    /// The connection to the provider was lost.
    Lost,
}

/// A payment on its way: the cumulative amount, for the bytes received then.
struct Paying {
    amount: TokenAmount,
    bytes: u64,
    /// The last payment (the provider finalizes the deal with it).
    last: bool,
    done: tokio::task::JoinHandle<Result<()>>,
}

impl Paying {
    /// The payment went out: the record says so, moving to `status`.
    fn sent(self, r: &mut RetrievalRecord, status: S) {
        r.info.total_paid = Json(self.amount);
        r.info.bytes_paid_for = self.bytes;
        r.set(E::PaymentSent, status);
    }
}

/// What a provider says is owed in a response, if anything.
fn pending_owed(result: &Option<TypedVoucher>) -> Option<TokenAmount> {
    decode_response(result).map(|d| d.payment_owed).filter(|o| !o.is_zero())
}

/// How long a failed transfer waits for the provider's reason.
const REASON_WITHIN: Duration = Duration::from_secs(1);

/// The reason a provider gives, in a deal response, for stopping a deal, if one arrives
/// within [`REASON_WITHIN`].
async fn provider_reason(events: &mut tokio::sync::mpsc::Receiver<ClientEvent>) -> Option<String> {
    let deadline = tokio::time::Instant::now() + REASON_WITHIN;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv()).await.ok()??;
        let result = match ev {
            ClientEvent::VoucherResult { result, .. } | ClientEvent::Completed { result, .. } => result,
            ClientEvent::Rejected(result) => result,
            _ => continue,
        };
        if let Some(d) = decode_response(&result).filter(|d| !d.message.is_empty()) {
            return Some(d.message);
        }
    }
}

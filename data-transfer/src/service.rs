//! The data-transfer service: one per host, both sides of pull channels.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cid::Cid;
use graphsync::net::{Config, Graphsync, RequestError};
use graphsync::{BlockSink, BlockSource, Extensions};
use libp2p::PeerId;
use market_types::datatransfer::TransferMessage;
use market_types::ipld::RawCbor;
use tokio::sync::mpsc;

use crate::client::{self, Pull};

/// How long [`DataTransfer::decide`] waits for a pull being set up.
const DECIDE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);
use crate::message::{self, TransferIds, TypedVoucher};
use crate::provider::{self, Channels, DtHooks, Validator};
use crate::store::{ChannelStore, MemoryChannels, PullRecord};
use crate::{lock, network};

/// Why a channel could not be opened or a message sent.
#[derive(Debug, thiserror::Error)]
pub enum DataTransferError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Send(#[from] network::SendError),
    #[error("{0} is already being served on this host")]
    AlreadyRegistered(&'static str),
    #[error("could not record the channel before opening it: {0}")]
    Store(#[from] std::io::Error),
    #[error("the channel record names no valid peer")]
    BadRecord,
}

/// Data-transfer over graphsync on one host; clones share it.
#[derive(Clone)]
pub struct DataTransfer {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for DataTransfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataTransfer")
            .field("local", &self.inner.local)
            .finish()
    }
}

pub(crate) struct Inner {
    pub local: PeerId,
    pub control: libp2p_stream::Control,
    pub gs: OnceLock<Graphsync>,
    pub validator: Arc<dyn Validator>,
    pub channels: Mutex<Channels>,
    ids: TransferIds,
    /// Our pulls, by (responder, transfer ID): where their stream messages go.
    pulls: Mutex<HashMap<(PeerId, u64), mpsc::Sender<TransferMessage>>>,
    /// Where unfinished pulls are recorded.
    store: std::sync::RwLock<Arc<dyn ChannelStore>>,
    /// Our pushes being sent.
    pub pushes: Mutex<crate::push::Pushes>,
    /// Where pushed data goes (none: pushes are refused).
    pub push_sink: std::sync::RwLock<Option<Arc<dyn BlockSink>>>,
    /// Pushes being received, by (sender, transfer ID).
    pub receiving: Mutex<HashMap<(PeerId, u64), crate::push::Receiving>>,
}

impl Inner {
    /// Send `msg` to `peer` on `/fil/datatransfer/1.2.0` in the background.
    pub fn send_later(&self, peer: PeerId, msg: TransferMessage) {
        let control = self.control.clone();
        tokio::spawn(async move {
            if let Err(e) = network::send(&control, peer, &msg).await {
                tracing::warn!(%peer, "data-transfer: {e}");
            }
        });
    }
}

impl DataTransfer {
    /// Start graphsync and data-transfer on a host with `behaviour` in its swarm: blocks are
    /// served from `source` to pulls `validator` accepts. Must run within a tokio runtime.
    pub fn new(
        behaviour: &graphsync::net::Behaviour,
        local: PeerId,
        source: Arc<dyn BlockSource>,
        validator: Arc<dyn Validator>,
        config: Config,
    ) -> Result<DataTransfer, DataTransferError> {
        Self::with_control(behaviour.new_control(), local, source, validator, config)
    }

    /// [`DataTransfer::new`] on a host whose stream behaviour is reached through `control`.
    pub fn with_control(
        control: libp2p_stream::Control,
        local: PeerId,
        source: Arc<dyn BlockSource>,
        validator: Arc<dyn Validator>,
        config: Config,
    ) -> Result<DataTransfer, DataTransferError> {
        let inner = Arc::new(Inner {
            local,
            control: control.clone(),
            gs: OnceLock::new(),
            validator,
            channels: Mutex::new(Channels::default()),
            ids: TransferIds::default(),
            pulls: Mutex::new(HashMap::new()),
            store: std::sync::RwLock::new(Arc::new(MemoryChannels::default())),
            pushes: Mutex::new(Default::default()),
            push_sink: std::sync::RwLock::new(None),
            receiving: Mutex::new(HashMap::new()),
        });
        let hooks = Arc::new(DtHooks {
            inner: Arc::downgrade(&inner),
        });
        let gs = Graphsync::with_control(control.clone(), source, hooks, config)
            .map_err(|_| DataTransferError::AlreadyRegistered(graphsync::PROTOCOL))?;
        let _ = inner.gs.set(gs);
        let mut incoming =
            network::receive(&control).map_err(|_| DataTransferError::AlreadyRegistered(crate::PROTOCOL))?;
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some((peer, msg)) = incoming.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                if msg.is_request {
                    provider::on_request(&inner, peer, msg);
                } else if crate::push::on_response(&inner, peer, &msg) {
                    // An answer to one of our pushes.
                } else if let Some(r) = &msg.response {
                    let tx = lock(&inner.pulls).get(&(peer, r.transfer_id)).cloned();
                    match tx {
                        Some(tx) => {
                            let _ = tx.send(msg).await;
                        }
                        None => tracing::info!(%peer, "data-transfer: response for no channel of ours"),
                    }
                }
            }
        });
        Ok(DataTransfer { inner })
    }

    /// Accept pushes (as the validator decides) into `sink`.
    pub fn with_push_sink(self, sink: Arc<dyn BlockSink>) -> Self {
        *self.inner.push_sink.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
        self
    }

    /// Push the DAG under `root` that `selector` selects to `peer` (which pulls it from our
    /// block source once it accepts `voucher`).
    pub async fn push(
        &self,
        peer: PeerId,
        voucher: TypedVoucher,
        root: Cid,
        selector: RawCbor,
    ) -> Result<crate::push::Push, DataTransferError> {
        let transfer_id = self.inner.ids.next();
        let (tx, events) = mpsc::unbounded_channel();
        lock(&self.inner.pushes).by_transfer.insert((peer, transfer_id), tx);
        let msg = crate::push::push_request(transfer_id, root, selector, &voucher);
        if let Err(e) = network::send(&self.inner.control, peer, &msg).await {
            lock(&self.inner.pushes).by_transfer.remove(&(peer, transfer_id));
            return Err(e.into());
        }
        Ok(crate::push::Push {
            peer,
            transfer_id,
            events,
        })
    }

    /// Record unfinished pulls in `store` (by default they are kept in memory only).
    pub fn with_channel_store(self, store: Arc<dyn ChannelStore>) -> Self {
        *self.inner.store.write().unwrap_or_else(|e| e.into_inner()) = store;
        self
    }

    fn store(&self) -> Arc<dyn ChannelStore> {
        self.inner.store.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Pulls recorded and not over (after a crash, a cut connection or a failed transfer).
    pub fn unfinished_pulls(&self) -> std::io::Result<Vec<PullRecord>> {
        self.store().list()
    }

    /// Restart a recorded pull, e.g. after this process restarted: the loads already done are
    /// counted by walking the selector over `sink` up to the first block it lacks, and the
    /// responder is asked not to send those again.
    pub fn resume(&self, record: PullRecord, sink: Arc<dyn BlockSink>) -> Result<Pull, DataTransferError> {
        let peer = record.peer_id().ok_or(DataTransferError::BadRecord)?;
        let selector = graphsync::Selector::from_cbor(record.selector.as_bytes()).map_err(RequestError::from)?;
        // The loads before the first block the sink lacks: what arrived, in walk order.
        let walked = graphsync::walk::walk_with(graphsync::block_cid(&record.root), selector, |c| {
            sink.get(c).ok().flatten()
        })
        .unwrap_or_default();
        let loads = walked.iter().take_while(|(_, present)| *present).count() as u64;
        self.open(peer, record, sink, Some(loads))
    }

    /// The graphsync service underneath.
    pub fn graphsync(&self) -> &Graphsync {
        self.inner.gs.get().expect("set at construction")
    }

    /// Pull the DAG under `root` that `selector` selects from `peer`, proposing `voucher`.
    pub fn pull(
        &self,
        peer: PeerId,
        voucher: TypedVoucher,
        root: Cid,
        selector: RawCbor,
        sink: Arc<dyn BlockSink>,
    ) -> Result<Pull, DataTransferError> {
        let transfer_id = self.inner.ids.next();
        let record = PullRecord::new(peer, transfer_id, root, selector, &voucher);
        self.open(peer, record, sink, None)
    }

    /// Restart `old` (after a cut connection, or when it stalled): a new graphsync request for
    /// the same channel, a data-transfer Restart with the same voucher, and
    /// `graphsync/do-not-send-first-blocks` set to the loads already verified, so what arrived
    /// is not sent again (it is read back from `sink`). The old request is cancelled after
    /// the new one goes out, so that the responder, which may still hold it, hands the
    /// channel to the new request before it hears of the cancel.
    pub fn restart(&self, old: &Pull, sink: Arc<dyn BlockSink>) -> Result<Pull, DataTransferError> {
        let record = PullRecord::new(old.peer, old.transfer_id, old.root, old.selector.clone(), &old.voucher);
        let new = self.open(old.peer, record, sink, Some(old.verified()));
        self.graphsync().cancel_request(old.peer, old.request);
        new
    }

    /// Open (or, with `restart_from` loads already verified, restart) the pull `record`
    /// describes.
    fn open(
        &self,
        peer: PeerId,
        record: PullRecord,
        sink: Arc<dyn BlockSink>,
        restart_from: Option<u64>,
    ) -> Result<Pull, DataTransferError> {
        let (transfer_id, root, selector) = (record.transfer_id, record.root, record.selector.clone());
        let voucher = TypedVoucher {
            kind: record.voucher_type.clone(),
            node: record.voucher.clone(),
        };
        let restart = restart_from.is_some();
        let done = restart_from.unwrap_or_default();
        // Each attempt walks from the first block again: it counts its own loads.
        let loads = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let msg = message::pull_request(transfer_id, root, selector.clone(), &voucher, restart);
        let mut ext = Extensions::new();
        for (name, value) in message::general_extension(&msg) {
            ext.insert(name, Some(value));
        }
        if restart && done > 0 {
            ext.insert(
                graphsync::responder::ext::DO_NOT_SEND_FIRST_BLOCKS,
                Some(graphsync::responder::do_not_send_first_blocks(done)),
            );
        }
        // Recorded before the request goes out.
        let store = self.store();
        store.save(&record)?;
        let (dt_tx, dt_rx) = mpsc::channel(16);
        lock(&self.inner.pulls).insert((peer, transfer_id), dt_tx);
        let requesting = match self
            .graphsync()
            .request(peer, graphsync::block_cid(&root), selector.clone(), ext, sink)
        {
            Ok(r) => r,
            Err(e) => {
                lock(&self.inner.pulls).remove(&(peer, transfer_id));
                return Err(e.into());
            }
        };
        let (tx, events) = mpsc::channel(64);
        let inner = self.inner.clone();
        let request = requesting.id;
        let counter = loads.clone();
        tokio::spawn(async move {
            let over = client::run(requesting.events, dt_rx, tx, counter).await;
            // A failed transfer keeps its record, for a restart.
            if over && let Err(e) = store.remove(&record) {
                tracing::warn!(%peer, "data-transfer: could not drop a finished channel's record: {e}");
            }
            // A restart may have registered the channel again; remove only our own entry.
            let mut pulls = lock(&inner.pulls);
            if pulls.get(&(peer, transfer_id)).is_some_and(|t| t.is_closed()) {
                pulls.remove(&(peer, transfer_id));
            }
        });
        Ok(Pull {
            id: message::channel_id(&self.inner.local, &peer, transfer_id),
            peer,
            transfer_id,
            request,
            events,
            root,
            selector,
            voucher,
            loads,
            skipped: done,
        })
    }

    /// A decision taken later about a pull we serve (`peer`'s transfer `transfer_id`), as a
    /// voucher's decision is applied: resume it up to a new limit, keep it paused, or stop it
    /// with the result's reason (the retrieval provider after preparing or unsealing a piece).
    ///
    /// A decision taken while the pull is still being set up (its validator may decide from a
    /// task it spawned) waits until the channel and its graphsync response are registered, up
    /// to [`DECIDE_WITHIN`], so that a resume is not lost.
    pub async fn decide(&self, peer: PeerId, transfer_id: u64, decision: crate::provider::ValidationResult) {
        let started = std::time::Instant::now();
        while started.elapsed() < DECIDE_WITHIN {
            let request = crate::lock(&self.inner.channels)
                .by_transfer
                .get(&(peer, transfer_id))
                .map(|ch| ch.request);
            let registered = match (request, self.inner.gs.get()) {
                (Some(r), Some(gs)) => gs.is_responding(&peer, r),
                _ => false,
            };
            if registered {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        crate::provider::apply_voucher_decision(&self.inner, peer, transfer_id, decision).await;
    }

    /// Send a voucher (a payment) for one of our pulls.
    pub async fn send_voucher(&self, pull: &Pull, voucher: &TypedVoucher) -> Result<(), DataTransferError> {
        self.send_voucher_to(pull.peer, pull.transfer_id, voucher).await
    }

    /// [`Self::send_voucher`] for `peer`'s pull `transfer_id` (from a task that does not hold
    /// the pull).
    pub async fn send_voucher_to(
        &self,
        peer: PeerId,
        transfer_id: u64,
        voucher: &TypedVoucher,
    ) -> Result<(), DataTransferError> {
        let msg = message::voucher_request(transfer_id, voucher);
        Ok(network::send(&self.inner.control, peer, &msg).await?)
    }

    /// Cancel one of our pulls: the graphsync request and, on the stream, the channel.
    pub async fn cancel(&self, pull: &Pull) -> Result<(), DataTransferError> {
        self.graphsync().cancel_request(pull.peer, pull.request);
        let msg = message::cancel_request(pull.transfer_id);
        Ok(network::send(&self.inner.control, pull.peer, &msg).await?)
    }
}

//! Graphsync over libp2p: the IO shell around the [`walk`](crate::walk),
//! [`responder`](crate::responder) and [`requester`](crate::requester) decisions.
//!
//! Streams are one-way, as go-graphsync uses them: each side opens its own stream to the other
//! and writes frames on it; what arrives on an inbound stream is read and dispatched. A
//! sending stream is closed after [`Config::idle_close`] without traffic (go-graphsync resets
//! a stream that is silent for 10 s) and reopened when needed.
//!
//! Memory is bounded whatever the DAG size: a response's block bytes hold permits of a
//! per-peer and a total budget from when they are read until they are written, so a
//! requester that does not read stalls its own responses and no one else's; a response's
//! walk runs on a blocking thread (block sources may read files) and waits for permits there.
//! The number of responses walking at once is bounded too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::Cid;
use bytes::Bytes;
use futures::StreamExt;
use futures::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use libp2p::{PeerId, Stream, StreamProtocol};
use market_types::ipld::RawCbor;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::ipld::cid_from_prefix;
use crate::message::{
    Extensions, MAX_MESSAGE_SIZE, Message, MessageError, Request, RequestId, RequestKind, Response, ResponseStatus,
};
use crate::requester::{Verified, Verifier, VerifyError};
use crate::responder::{Assembly, PeerLinks, SendOptions, block_bytes};
use crate::selector::{Selector, SelectorError};
use crate::store::{BlockSink, BlockSource};
use crate::walk::{Step, Walk};

pub use libp2p_stream::Behaviour;

/// Limits and timings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Responses walking at once, over all peers (go-graphsync's
    /// `MaxInProgressIncomingRequests`; droplet sets it to `SimultaneousTransfersForRetrieval`).
    pub max_in_progress_responses: usize,
    /// Responses one peer may have running or waiting for a slot; beyond it a request is
    /// answered with status 31 (busy), so one peer cannot queue without bound.
    pub max_responses_per_peer: usize,
    /// Block bytes read and not yet written, per peer (go-graphsync: 16 MiB).
    pub max_bytes_per_peer: usize,
    /// Block bytes read and not yet written, in all (go-graphsync: 256 MiB).
    pub max_bytes_total: usize,
    /// Links one walk may load (droplet: 32 Mi).
    pub max_links: u64,
    /// A sending stream idle this long is closed.
    pub idle_close: Duration,
    /// Time to open a stream or write a frame before the attempt counts as failed.
    pub send_timeout: Duration,
    /// Time to read the rest of a frame once its first byte came.
    pub frame_timeout: Duration,
    /// An inbound stream silent this long is dropped.
    pub read_idle: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_in_progress_responses: 20,
            max_responses_per_peer: 256,
            max_bytes_per_peer: 16 << 20,
            max_bytes_total: 256 << 20,
            max_links: 32 << 20,
            idle_close: Duration::from_secs(5),
            send_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(30),
            read_idle: Duration::from_secs(300),
        }
    }
}

/// A new request as the responder's hooks see it.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    pub id: RequestId,
    pub root: Cid,
    pub selector: RawCbor,
    pub extensions: Extensions,
}

/// What to do with a new request.
#[derive(Debug, Clone)]
pub struct Validation {
    /// `None` accepts; `Some(status)` refuses with that status (30 rejected, 32 failed…).
    pub reject: Option<ResponseStatus>,
    /// Extensions for the first response.
    pub extensions: Vec<(String, RawCbor)>,
    /// Accept but pause before the first block (status 15 with the extensions).
    pub pause: bool,
}

impl Validation {
    pub fn accept() -> Self {
        Validation {
            reject: None,
            extensions: Vec::new(),
            pause: false,
        }
    }

    pub fn reject(status: ResponseStatus) -> Self {
        Validation {
            reject: Some(status),
            ..Validation::accept()
        }
    }
}

/// A block a response has just queued.
#[derive(Debug, Clone, Copy)]
pub struct QueuedBlock {
    pub link: Cid,
    /// Size of the block.
    pub size: usize,
    /// Bytes that go on the wire for it (0 when a duplicate or skipped).
    pub size_on_wire: usize,
    /// Not sent because the requester holds it from an earlier attempt of a restarted
    /// request (`graphsync/do-not-send-first-blocks`), though it would have been sent.
    pub held_by_requester: bool,
    /// Link loads of this request so far, this one included.
    pub index: u64,
}

/// What an outgoing-block hook asks for.
#[derive(Debug, Clone, Default)]
pub struct BlockAction {
    pub extensions: Vec<(String, RawCbor)>,
    /// Pause after this block (it is still sent, followed by status 15); unless the response
    /// was unpaused while the hook was deciding (the unpause answers this pause).
    pub pause: bool,
}

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseEnd {
    /// A final status was sent.
    Sent(ResponseStatus),
    /// The requester cancelled.
    CancelledByRequester,
    /// The peer could not be written to.
    NetworkError,
    /// The graphsync service was dropped while the response was paused.
    Stopped,
}

/// The responder's hooks: validation, per-block decisions, updates, completion. Called from
/// the response's thread; keep them quick.
pub trait Hooks: Send + Sync + 'static {
    fn incoming_request(&self, _peer: &PeerId, _request: &IncomingRequest) -> Validation {
        Validation::accept()
    }
    fn outgoing_block(&self, _peer: &PeerId, _id: RequestId, _block: &QueuedBlock) -> BlockAction {
        BlockAction::default()
    }
    /// An update from the requester; extensions returned go out in the response.
    fn request_updated(&self, _peer: &PeerId, _id: RequestId, _extensions: &Extensions) -> Vec<(String, RawCbor)> {
        Vec::new()
    }
    fn response_finished(&self, _peer: &PeerId, _id: RequestId, _end: ResponseEnd) {}
}

/// Serves every request (go-graphsync's default without `RejectAllRequestsByDefault`).
#[derive(Debug, Default)]
pub struct AcceptAll;
impl Hooks for AcceptAll {}

/// What a request's holder hears.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestEvent {
    /// Extensions the responder sent.
    Extensions(Extensions),
    /// A verified block, in walk order (`received`: it came in this request; otherwise it
    /// was found in the sink).
    Block {
        link: Cid,
        size: usize,
        received: bool,
    },
    /// The responder does not have this block; the walk skipped what is under it.
    Missing(Cid),
    Paused,
    /// The end: the final status, or why the request failed.
    Finished(Result<ResponseStatus, RequestError>),
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("invalid selector: {0}")]
    Selector(#[from] SelectorError),
    #[error("responder refused or failed the request: status {0:?}")]
    Status(ResponseStatus),
    #[error("response did not verify: {0}")]
    Verify(#[from] VerifyError),
    #[error("could not store a received block: {0}")]
    Sink(String),
    #[error("could not send the request to {0}")]
    Network(PeerId),
    #[error("request cancelled")]
    Cancelled,
    #[error("the graphsync service stopped")]
    Stopped,
}

/// A running request: its ID and its events.
#[derive(Debug)]
pub struct Requesting {
    pub peer: PeerId,
    pub id: RequestId,
    pub events: mpsc::Receiver<RequestEvent>,
}

/// The graphsync service; clones share it.
#[derive(Clone)]
pub struct Graphsync {
    inner: Arc<Inner>,
    _alive: Arc<Alive>,
}

/// Dropped with the last handle: paused responses stop waiting.
struct Alive(Arc<Inner>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Graphsync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graphsync").field("config", &self.inner.config).finish()
    }
}

struct Inner {
    control: libp2p_stream::Control,
    source: Arc<dyn BlockSource>,
    hooks: Arc<dyn Hooks>,
    config: Config,
    total: Arc<Semaphore>,
    slots: Arc<Semaphore>,
    peers: Mutex<HashMap<PeerId, Arc<Peer>>>,
    runtime: tokio::runtime::Handle,
    stopped: std::sync::atomic::AtomicBool,
}

struct Peer {
    id: PeerId,
    outbound: mpsc::UnboundedSender<Outgoing>,
    queued: AtomicUsize,
    budget: Arc<Semaphore>,
    links: Mutex<PeerLinks>,
    responses: Mutex<HashMap<RequestId, Arc<ResponseCtl>>>,
    requests: Mutex<HashMap<RequestId, mpsc::Sender<Inbound>>>,
}

struct Outgoing {
    message: Message,
    _permits: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
}

struct Inbound {
    response: Response,
    blocks: Arc<MessageBlocks>,
}

/// A received message's blocks, named by hashing their data: done once, by the first request
/// task that needs them, so hashing runs beside the stream's reading rather than in it.
struct MessageBlocks {
    raw: Vec<crate::message::Block>,
    named: std::sync::OnceLock<HashMap<Cid, Bytes>>,
}

impl MessageBlocks {
    fn named(&self) -> &HashMap<Cid, Bytes> {
        self.named.get_or_init(|| {
            let mut out = HashMap::with_capacity(self.raw.len());
            for b in &self.raw {
                match cid_from_prefix(&b.prefix, &b.data) {
                    Ok(cid) => {
                        out.insert(cid, b.data.clone());
                    }
                    Err(e) => tracing::info!("graphsync: block with an unusable prefix ignored: {e}"),
                }
            }
            out
        })
    }
}

/// Signals to a response's thread.
#[derive(Default)]
struct ResponseCtl {
    state: Mutex<CtlState>,
    wake: Condvar,
}

#[derive(Default)]
struct CtlState {
    paused: bool,
    pause_requested: bool,
    cancelled_by_requester: bool,
    cancelled_by_responder: bool,
    network_error: bool,
    unpause_extensions: Vec<(String, RawCbor)>,
    /// Unpauses so far: a hook that pauses the response does not pause it when an unpause
    /// came while it was deciding (that unpause answers the pause the hook asked for).
    unpauses: u64,
    updates: Vec<Extensions>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data; go on with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn protocol() -> StreamProtocol {
    StreamProtocol::new(crate::PROTOCOL)
}

impl Graphsync {
    /// Start graphsync on a host that has `behaviour` (a [`Behaviour`]) in its swarm: accepts
    /// `/ipfs/graphsync/2.0.0` streams and serves requests from `source` through `hooks`.
    /// Must be called within a tokio runtime.
    pub fn new(
        behaviour: &Behaviour,
        source: Arc<dyn BlockSource>,
        hooks: Arc<dyn Hooks>,
        config: Config,
    ) -> Result<Graphsync, libp2p_stream::AlreadyRegistered> {
        Self::with_control(behaviour.new_control(), source, hooks, config)
    }

    /// [`Graphsync::new`] on a host whose stream behaviour is reached through `control`.
    pub fn with_control(
        mut control: libp2p_stream::Control,
        source: Arc<dyn BlockSource>,
        hooks: Arc<dyn Hooks>,
        config: Config,
    ) -> Result<Graphsync, libp2p_stream::AlreadyRegistered> {
        let incoming = control.accept(protocol())?;
        let inner = Arc::new(Inner {
            control,
            source,
            hooks,
            total: Arc::new(Semaphore::new(config.max_bytes_total)),
            slots: Arc::new(Semaphore::new(config.max_in_progress_responses.max(1))),
            config,
            peers: Mutex::new(HashMap::new()),
            runtime: tokio::runtime::Handle::current(),
            stopped: Default::default(),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut incoming = incoming;
            while let Some((peer, stream)) = incoming.next().await {
                let Some(inner) = weak.upgrade() else { break };
                tokio::spawn(read_stream(inner, peer, stream));
            }
        });
        Ok(Graphsync {
            _alive: Arc::new(Alive(inner.clone())),
            inner,
        })
    }

    /// Ask `peer` for the DAG under `root` that `selector` selects; verified blocks go to
    /// `sink` and events to the returned receiver.
    pub fn request(
        &self,
        peer: PeerId,
        root: Cid,
        selector: RawCbor,
        extensions: Extensions,
        sink: Arc<dyn BlockSink>,
    ) -> Result<Requesting, RequestError> {
        let parsed = Selector::from_cbor(selector.as_bytes())?;
        let id = RequestId(*uuid::Uuid::new_v4().as_bytes());
        let (tx, rx) = mpsc::channel(16);
        let p = self.inner.register(peer, |p| {
            lock(&p.requests).insert(id, tx);
        });
        let (events_tx, events) = mpsc::channel(64);
        let request = Request {
            id,
            kind: RequestKind::New {
                root,
                selector,
                priority: 0,
                extensions,
            },
        };
        p.send(message_of(vec![request], Vec::new()), None);
        let max_links = self.inner.config.max_links;
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let verifier = Verifier::new(root, parsed, max_links);
            let end = run_request(verifier, rx, &events_tx, sink).await;
            lock(&p.requests).remove(&id);
            if matches!(end, Err(RequestError::Verify(_)) | Err(RequestError::Sink(_))) {
                // Tell the responder to stop sending what we no longer read.
                p.send(cancel_message(id), None);
            }
            let _ = events_tx.send(RequestEvent::Finished(end)).await;
            inner.forget_if_idle(&p);
        });
        Ok(Requesting { peer, id, events })
    }

    /// Cancel a request of ours.
    pub fn cancel_request(&self, peer: PeerId, id: RequestId) {
        let p = self.inner.peer(peer);
        p.send(cancel_message(id), None);
        lock(&p.requests).remove(&id);
    }

    /// Send new extensions for a request of ours.
    pub fn update_request(&self, peer: PeerId, id: RequestId, extensions: Extensions) {
        let p = self.inner.peer(peer);
        let update = Request {
            id,
            kind: RequestKind::Update { extensions },
        };
        p.send(message_of(vec![update], Vec::new()), None);
    }

    /// Pause a response we are sending (status 15 goes out with the next message).
    pub fn pause_response(&self, peer: PeerId, id: RequestId) -> bool {
        self.inner.signal(peer, id, |s| s.pause_requested = true)
    }

    /// Resume a paused response; `extensions` go out with the next message.
    pub fn unpause_response(&self, peer: PeerId, id: RequestId, extensions: Vec<(String, RawCbor)>) -> bool {
        self.inner.signal(peer, id, |s| {
            s.paused = false;
            s.pause_requested = false;
            s.unpauses += 1;
            s.unpause_extensions.extend(extensions);
        })
    }

    /// Whether we are responding to `peer`'s request `id` (it is registered: pause, unpause
    /// and cancel reach it).
    pub fn is_responding(&self, peer: &PeerId, id: RequestId) -> bool {
        lock(&self.inner.peers)
            .get(peer)
            .is_some_and(|p| lock(&p.responses).contains_key(&id))
    }

    /// Stop a response we are sending (status 35).
    pub fn cancel_response(&self, peer: PeerId, id: RequestId) -> bool {
        self.inner.signal(peer, id, |s| s.cancelled_by_responder = true)
    }

    /// Responses in progress for `peer`.
    pub fn responses_in_progress(&self, peer: &PeerId) -> usize {
        lock(&self.inner.peers)
            .get(peer)
            .map_or(0, |p| lock(&p.responses).len())
    }

    /// Block bytes queued and not yet written, in all.
    pub fn bytes_in_flight(&self) -> usize {
        self.inner.config.max_bytes_total - self.inner.total.available_permits()
    }
}

fn cancel_message(id: RequestId) -> Message {
    let cancel = Request {
        id,
        kind: RequestKind::Cancel,
    };
    message_of(vec![cancel], Vec::new())
}

fn message_of(requests: Vec<Request>, responses: Vec<Response>) -> Message {
    Message {
        requests,
        responses,
        blocks: Vec::new(),
    }
}

impl Inner {
    fn peer(self: &Arc<Self>, id: PeerId) -> Arc<Peer> {
        self.register(id, |_| ())
    }

    /// The peer's state, with `f` run on it under the peers' lock: a request or response
    /// registered this way cannot be lost to a concurrent [`forget_if_idle`](Self::forget_if_idle).
    fn register(self: &Arc<Self>, id: PeerId, f: impl FnOnce(&Arc<Peer>)) -> Arc<Peer> {
        let mut peers = lock(&self.peers);
        if let Some(p) = peers.get(&id) {
            f(p);
            return p.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let peer = Arc::new(Peer {
            id,
            outbound: tx,
            queued: AtomicUsize::new(0),
            budget: Arc::new(Semaphore::new(self.config.max_bytes_per_peer)),
            links: Mutex::new(PeerLinks::default()),
            responses: Mutex::new(HashMap::new()),
            requests: Mutex::new(HashMap::new()),
        });
        peers.insert(id, peer.clone());
        self.runtime.spawn(write_stream(self.clone(), peer.clone(), rx));
        f(&peer);
        peer
    }

    /// Drop a peer's state once nothing of it is running.
    fn forget_if_idle(&self, peer: &Arc<Peer>) {
        let mut peers = lock(&self.peers);
        if peer.idle() && peers.get(&peer.id).is_some_and(|p| Arc::ptr_eq(p, peer)) {
            peers.remove(&peer.id);
        }
    }

    fn signal(&self, peer: PeerId, id: RequestId, f: impl FnOnce(&mut CtlState)) -> bool {
        let Some(p) = lock(&self.peers).get(&peer).cloned() else {
            return false;
        };
        let Some(ctl) = lock(&p.responses).get(&id).cloned() else {
            return false;
        };
        f(&mut lock(&ctl.state));
        ctl.wake.notify_all();
        true
    }
}

impl Peer {
    fn send(&self, message: Message, permits: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>) {
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self
            .outbound
            .send(Outgoing {
                message,
                _permits: permits,
            })
            .is_err()
        {
            self.queued.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn idle(&self) -> bool {
        self.queued.load(Ordering::SeqCst) == 0 && lock(&self.responses).is_empty() && lock(&self.requests).is_empty()
    }
}

/// Write one peer's messages on a stream we open, reopening it when it fails or idled out.
async fn write_stream(inner: Arc<Inner>, peer: Arc<Peer>, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut stream: Option<Stream> = None;
    let mut control = inner.control.clone();
    loop {
        let next = match stream {
            Some(_) => match tokio::time::timeout(inner.config.idle_close, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    if let Some(mut s) = stream.take() {
                        let _ = s.close().await;
                    }
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(out) = next else { break };
        let frame = out.message.to_frame_bytes();
        let mut delivered = false;
        for attempt in 0..3u32 {
            if stream.is_none() {
                let open = tokio::time::timeout(inner.config.send_timeout, control.open_stream(peer.id, protocol()));
                match open.await {
                    Ok(Ok(s)) => stream = Some(s),
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %peer.id, attempt, "graphsync: cannot open a stream: {e}");
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                        continue;
                    }
                    Err(_) => continue,
                }
            }
            let Some(s) = stream.as_mut() else { continue };
            let write = async {
                s.write_all(&frame).await?;
                s.flush().await
            };
            match tokio::time::timeout(inner.config.send_timeout, write).await {
                Ok(Ok(())) => {
                    delivered = true;
                    break;
                }
                _ => stream = None,
            }
        }
        peer.queued.fetch_sub(1, Ordering::SeqCst);
        if !delivered {
            tracing::warn!(peer = %peer.id, "graphsync: a message could not be delivered; stopping the peer's responses");
            for ctl in lock(&peer.responses).values() {
                lock(&ctl.state).network_error = true;
                ctl.wake.notify_all();
            }
        }
        drop(out);
        if rx.is_empty() {
            inner.forget_if_idle(&peer);
        }
    }
}

/// Read frames from one inbound stream and dispatch them.
async fn read_stream(inner: Arc<Inner>, peer: PeerId, stream: Stream) {
    // Small: frame bodies larger than the buffer are read straight into their own buffer.
    let mut reader = BufReader::with_capacity(16 << 10, stream);
    loop {
        let first = match tokio::time::timeout(inner.config.read_idle, read_byte(&mut reader)).await {
            Ok(Ok(Some(b))) => b,
            Ok(Ok(None)) => return,
            Ok(Err(_)) | Err(_) => return,
        };
        let frame = tokio::time::timeout(inner.config.frame_timeout, read_frame(&mut reader, first)).await;
        let message = match frame {
            Ok(Ok(body)) => match Message::from_body(Bytes::from(body)) {
                Ok(m) => m,
                Err(e) => {
                    tracing::info!(%peer, "graphsync: undecodable message, dropping the stream: {e}");
                    return;
                }
            },
            Ok(Err(e)) => {
                tracing::info!(%peer, "graphsync: bad frame, dropping the stream: {e}");
                return;
            }
            Err(_) => {
                tracing::info!(%peer, "graphsync: frame not read in time, dropping the stream");
                return;
            }
        };
        dispatch(&inner, peer, message).await;
    }
}

async fn read_byte<R: futures::AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<u8>> {
    let mut b = [0u8; 1];
    match r.read(&mut b).await? {
        0 => Ok(None),
        _ => Ok(Some(b[0])),
    }
}

#[derive(Debug, thiserror::Error)]
enum FrameError {
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("stream ended inside a frame")]
    Io(#[from] std::io::Error),
}

async fn read_frame<R: futures::AsyncRead + Unpin>(r: &mut R, first: u8) -> Result<Vec<u8>, FrameError> {
    let mut len: u64 = u64::from(first & 0x7f);
    let mut byte = first;
    let mut shift = 7;
    while byte & 0x80 != 0 {
        if shift > 28 {
            return Err(MessageError::BadLength.into());
        }
        let mut b = [0u8; 1];
        r.read_exact(&mut b).await?;
        byte = b[0];
        len |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    if len > MAX_MESSAGE_SIZE as u64 {
        return Err(MessageError::TooLarge(len).into());
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body).await?;
    Ok(body)
}

async fn dispatch(inner: &Arc<Inner>, peer: PeerId, message: Message) {
    for request in message.requests {
        on_request(inner, peer, request);
    }
    if message.responses.is_empty() {
        return;
    }
    let blocks = Arc::new(MessageBlocks {
        raw: message.blocks,
        named: std::sync::OnceLock::new(),
    });
    let Some(p) = lock(&inner.peers).get(&peer).cloned() else {
        return;
    };
    for response in message.responses {
        let tx = lock(&p.requests).get(&response.request_id).cloned();
        if let Some(tx) = tx {
            // Waits while the request's holder is behind: back-pressure onto the stream.
            let _ = tx
                .send(Inbound {
                    response,
                    blocks: blocks.clone(),
                })
                .await;
        }
    }
}

fn on_request(inner: &Arc<Inner>, peer: PeerId, request: Request) {
    let id = request.id;
    match request.kind {
        RequestKind::Cancel => {
            inner.signal(peer, id, |s| s.cancelled_by_requester = true);
        }
        RequestKind::Update { extensions } => {
            inner.signal(peer, id, |s| s.updates.push(extensions));
        }
        RequestKind::New {
            root,
            selector,
            extensions,
            ..
        } => {
            let p = inner.peer(peer);
            let (reused, running) = {
                let responses = lock(&p.responses);
                (responses.contains_key(&id), responses.len())
            };
            if reused {
                tracing::info!(%peer, "graphsync: request ID reused while in progress; ignored");
                return;
            }
            if running >= inner.config.max_responses_per_peer {
                tracing::info!(%peer, running, "graphsync: too many requests from one peer; answering busy");
                let busy = Response {
                    request_id: id,
                    status: ResponseStatus::RequestFailedBusy,
                    metadata: Vec::new(),
                    extensions: Extensions::new(),
                };
                p.send(message_of(Vec::new(), vec![busy]), None);
                return;
            }
            let incoming = IncomingRequest {
                id,
                root,
                selector,
                extensions,
            };
            let validation = inner.hooks.incoming_request(&peer, &incoming);
            if let Some(status) = validation.reject {
                let mut ext = Extensions::new();
                for (name, value) in validation.extensions {
                    ext.insert(name, Some(value));
                }
                let response = Response {
                    request_id: id,
                    status,
                    metadata: Vec::new(),
                    extensions: ext,
                };
                p.send(message_of(Vec::new(), vec![response]), None);
                return;
            }
            let ctl = Arc::new(ResponseCtl::default());
            // Paused from the start when the hooks say so: an unpause may come as soon as
            // the response is registered, before its thread runs.
            if validation.pause {
                lock(&ctl.state).paused = true;
            }
            // Registered under the peers' lock: the peer may have been forgotten while the
            // hooks ran, and a response must be findable by unpause and cancel.
            let p = inner.register(peer, |p| {
                lock(&p.responses).insert(id, ctl.clone());
            });
            let inner = inner.clone();
            tokio::spawn(async move {
                let Ok(slot) = inner.slots.clone().acquire_owned().await else {
                    return;
                };
                let inner2 = inner.clone();
                let p2 = p.clone();
                let end = tokio::task::spawn_blocking(move || {
                    let _slot = slot;
                    respond(&inner2, &p2, incoming, validation, &ctl)
                })
                .await
                .unwrap_or(ResponseEnd::NetworkError);
                lock(&p.responses).remove(&id);
                inner.hooks.response_finished(&peer, id, end);
                inner.forget_if_idle(&p);
            });
        }
    }
}

/// One response, on a blocking thread: walk, load, decide, batch, send; pause and resume.
fn respond(
    inner: &Inner,
    peer: &Arc<Peer>,
    request: IncomingRequest,
    validation: Validation,
    ctl: &ResponseCtl,
) -> ResponseEnd {
    let id = request.id;
    let mut asm = Assembly::new(id);
    for (name, value) in validation.extensions {
        asm.extension(&name, value);
    }
    let finish_with = |asm: &mut Assembly, status: ResponseStatus| -> ResponseEnd {
        lock(&peer.links).finish(id);
        asm.flush(status);
        match ship(inner, peer, asm) {
            true => ResponseEnd::Sent(status),
            false => ResponseEnd::NetworkError,
        }
    };
    let (selector, options) = match (
        Selector::from_cbor(request.selector.as_bytes()),
        SendOptions::from_extensions(&request.extensions),
    ) {
        (Ok(s), Ok(o)) => (s, o),
        (Err(e), _) => {
            tracing::info!(peer = %peer.id, "graphsync: request with an invalid selector: {e}");
            return finish_with(&mut asm, ResponseStatus::RequestFailedUnknown);
        }
        (_, Err(e)) => {
            tracing::info!(peer = %peer.id, "graphsync: request with invalid extensions: {e}");
            return finish_with(&mut asm, ResponseStatus::RequestFailedUnknown);
        }
    };
    lock(&peer.links).start(id, &options);
    let mut walk = Walk::new(request.root, selector, inner.config.max_links);
    let mut first = true;
    // Whether this pause's status 15 went out (a spurious wake-up must not send another).
    let mut paused_sent = false;
    loop {
        // Signals: cancel, updates, pause (waiting here while paused).
        {
            let mut state = lock(&ctl.state);
            loop {
                if state.cancelled_by_requester {
                    lock(&peer.links).finish(id);
                    return ResponseEnd::CancelledByRequester;
                }
                if state.network_error {
                    lock(&peer.links).finish(id);
                    return ResponseEnd::NetworkError;
                }
                if state.cancelled_by_responder {
                    drop(state);
                    return finish_with(&mut asm, ResponseStatus::RequestCancelled);
                }
                for update in std::mem::take(&mut state.updates) {
                    for (name, value) in inner.hooks.request_updated(&peer.id, id, &update) {
                        asm.extension(&name, value);
                    }
                }
                if state.pause_requested && !state.paused {
                    state.pause_requested = false;
                    state.paused = true;
                }
                if state.paused {
                    if !paused_sent {
                        drop(state);
                        asm.flush(ResponseStatus::RequestPaused);
                        if !ship(inner, peer, &mut asm) {
                            lock(&peer.links).finish(id);
                            return ResponseEnd::NetworkError;
                        }
                        state = lock(&ctl.state);
                        paused_sent = true;
                        // Re-check: an unpause may have come while the 15 went out.
                        continue;
                    }
                    if inner.stopped.load(Ordering::SeqCst) {
                        drop(state);
                        lock(&peer.links).finish(id);
                        return ResponseEnd::Stopped;
                    }
                    // Woken by a signal; the timeout only re-checks whether the service stopped.
                    state = ctl
                        .wake
                        .wait_timeout(state, Duration::from_secs(1))
                        .map(|(s, _)| s)
                        .unwrap_or_else(|e| e.into_inner().0);
                    continue;
                }
                paused_sent = false;
                for (name, value) in std::mem::take(&mut state.unpause_extensions) {
                    asm.extension(&name, value);
                }
                break;
            }
        }
        let link = match walk.step() {
            Ok(Step::Load(link)) => link,
            Ok(Step::Done) => {
                // 20 when no block was missing, else 21 (`finish_with` finishing again is a no-op).
                let status = if lock(&peer.links).finish(id) {
                    ResponseStatus::RequestCompletedFull
                } else {
                    ResponseStatus::RequestCompletedPartial
                };
                return finish_with(&mut asm, status);
            }
            Err(e) => {
                tracing::info!(peer = %peer.id, "graphsync: walk stopped: {e}");
                return finish_with(&mut asm, ResponseStatus::RequestFailedUnknown);
            }
        };
        let data = match crate::store::load(&*inner.source, &link) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(peer = %peer.id, %link, "graphsync: block source failed, sending the link as missing: {e}");
                None
            }
        };
        if first && data.is_none() {
            lock(&peer.links).record(id, link, false);
            asm.link(link, None, false);
            return finish_with(&mut asm, ResponseStatus::RequestFailedContentNotFound);
        }
        first = false;
        let walked = walk.loaded(data.as_ref());
        let load = lock(&peer.links).record_load(id, link, data.is_some());
        let send = load.send;
        asm.link(link, data.as_ref(), send);
        if let Some(d) = &data {
            let queued = QueuedBlock {
                link,
                size: d.len(),
                size_on_wire: if send { d.len() } else { 0 },
                held_by_requester: load.held,
                index: walk.links_loaded(),
            };
            let unpauses = lock(&ctl.state).unpauses;
            let action = inner.hooks.outgoing_block(&peer.id, id, &queued);
            for (name, value) in action.extensions {
                asm.extension(&name, value);
            }
            if action.pause {
                let mut state = lock(&ctl.state);
                if state.unpauses == unpauses {
                    state.paused = true;
                }
            }
        }
        if let Err(e) = walked {
            tracing::info!(peer = %peer.id, %link, "graphsync: walk stopped: {e}");
            return finish_with(&mut asm, ResponseStatus::RequestFailedUnknown);
        }
        // Send as soon as the writer is idle; batch up to the message budget while it is busy.
        if peer.queued.load(Ordering::SeqCst) == 0 {
            asm.flush_partial();
        }
        if !ship(inner, peer, &mut asm) {
            lock(&peer.links).finish(id);
            return ResponseEnd::NetworkError;
        }
    }
}

/// Queue the assembly's finished messages for the writer, holding memory permits for their
/// block bytes until written. False when the peer can no longer be written to.
fn ship(inner: &Inner, peer: &Arc<Peer>, asm: &mut Assembly) -> bool {
    for message in asm.take_ready() {
        let bytes = block_bytes(&message).clamp(1, inner.config.max_bytes_per_peer.min(inner.config.max_bytes_total));
        let n = u32::try_from(bytes).unwrap_or(u32::MAX);
        let permits = inner.runtime.block_on(async {
            let p = peer.budget.clone().acquire_many_owned(n).await.ok()?;
            let t = inner.total.clone().acquire_many_owned(n).await.ok()?;
            // Dropped in this order: the total's permits go back before the peer's, so the
            // total in flight never counts a message its peer's budget has let go.
            Some((t, p))
        });
        if peer.outbound.is_closed() {
            return false;
        }
        peer.send(message, permits);
    }
    true
}

/// A request's verification loop.
async fn run_request(
    mut verifier: Verifier,
    mut rx: mpsc::Receiver<Inbound>,
    events: &mpsc::Sender<RequestEvent>,
    sink: Arc<dyn BlockSink>,
) -> Result<ResponseStatus, RequestError> {
    while let Some(Inbound { response, blocks }) = rx.recv().await {
        if !response.extensions.is_empty() {
            let _ = events.send(RequestEvent::Extensions(response.extensions.clone())).await;
        }
        let mut local = |c: &Cid| sink.get(c).ok().flatten();
        let first = verifier.links();
        let verified = verifier.on_response(&response, blocks.named(), &mut local)?;
        let sink_error = |e: std::io::Error| RequestError::Sink(e.to_string());
        for (index, v) in (first..).zip(verified) {
            let event = match v {
                Verified::Received { link, data } => {
                    let size = data.len();
                    sink.put(link, data.clone()).map_err(sink_error)?;
                    sink.walked(index, &link, Some(&data)).map_err(sink_error)?;
                    RequestEvent::Block {
                        link,
                        size,
                        received: true,
                    }
                }
                Verified::Local { link, data } => {
                    sink.walked(index, &link, Some(&data)).map_err(sink_error)?;
                    RequestEvent::Block {
                        link,
                        size: 0,
                        received: false,
                    }
                }
                Verified::Missing { link } => {
                    sink.walked(index, &link, None).map_err(sink_error)?;
                    RequestEvent::Missing(link)
                }
            };
            if events.send(event).await.is_err() {
                return Err(RequestError::Cancelled);
            }
        }
        match response.status {
            ResponseStatus::RequestPaused => {
                let _ = events.send(RequestEvent::Paused).await;
            }
            s if s.is_success() => return Ok(s),
            s if s.is_terminal() => return Err(RequestError::Status(s)),
            _ => {}
        }
    }
    Err(RequestError::Cancelled)
}

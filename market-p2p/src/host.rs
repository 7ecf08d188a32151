//! The libp2p host both daemons run: TCP (and QUIC) with Noise and Yamux, identify and ping,
//! and the market's protocol families composed as behaviours of their own (`market`: storage
//! ask, deal and status and the retrieval query, one request-response behaviour per version;
//! `stream`: raw streams for graphsync and data-transfer). The swarm runs in its own
//! task; the daemon talks to it through [`Host`]: outbound requests, and inbound requests
//! answered by handlers registered per family.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, identify, noise, ping, tcp, yamux};
use tokio::sync::{mpsc, oneshot};

use crate::codec::Frame;
pub use crate::families::Family;
use crate::families::{MarketProtocols, family_of};

/// Answers an inbound request: the response bytes, or `None` to close the stream unanswered.
pub type Handler = Arc<dyn Fn(PeerId, Frame) -> BoxFuture<'static, Option<Vec<u8>>> + Send + Sync>;

/// The host's behaviour: identify and ping, and the market's protocol families.
#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    market: MarketProtocols,
    /// Raw streams for the protocols that are not request-response (graphsync,
    /// data-transfer); their services take a [`Host::stream_control`].
    stream: libp2p_stream::Behaviour,
}

/// How to start a host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub keypair: Keypair,
    pub listen: Vec<Multiaddr>,
    /// Addresses to tell peers instead of the listen addresses (empty: tell the listen ones).
    pub announce: Vec<Multiaddr>,
    /// Identify's agent version, e.g. `droplet/0.1.0`.
    pub agent: String,
    /// Deadline for one request-response exchange.
    pub request_timeout: Duration,
}

/// Why the host could not start or a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("libp2p transport: {0}")]
    Transport(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    #[error("the libp2p host has stopped")]
    Stopped,
    #[error("request to {peer} failed: {reason}")]
    Request {
        peer: PeerId,
        reason: String,
        /// The protocol the request went out on when it may have reached the peer (the
        /// connection closed, timed out or failed after the stream opened): the peer may have
        /// acted on it. None when it never left (no connection, no common protocol).
        sent_on: Option<String>,
    },
}

/// Why an outbound request got no answer (see [`HostError::Request`]).
#[derive(Debug)]
struct Unanswered {
    reason: String,
    sent_on: Option<String>,
}

impl Unanswered {
    fn unsent(reason: String) -> Self {
        Unanswered { reason, sent_on: None }
    }
}

enum Command {
    Request {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: Frame,
        reply: oneshot::Sender<Result<Frame, Unanswered>>,
    },
    Dial {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Respond {
        protocol: &'static str,
        channel: request_response::ResponseChannel<Frame>,
        frame: Frame,
    },
}

/// An outbound request in flight, with the versions still to try if the peer refuses this one.
struct Outbound {
    peer: PeerId,
    addrs: Vec<Multiaddr>,
    rest: VecDeque<(StreamProtocol, Vec<u8>)>,
    refused: Vec<String>,
    reply: oneshot::Sender<Result<Frame, Unanswered>>,
}

/// A running host.
#[derive(Clone)]
pub struct Host {
    peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    listening: Arc<Mutex<Vec<Multiaddr>>>,
    announce: Vec<Multiaddr>,
    stream_control: libp2p_stream::Control,
    disconnects: tokio::sync::broadcast::Sender<PeerId>,
    /// Each peer's identify agent version, as last received.
    agents: Arc<Mutex<HashMap<PeerId, String>>>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("peer_id", &self.peer_id).finish()
    }
}

impl Host {
    /// Start listening and serving. Families without a handler are dialled but not served.
    pub async fn start(cfg: HostConfig, handlers: HashMap<Family, Handler>) -> Result<Host, HostError> {
        let timeout = cfg.request_timeout;
        let agent = cfg.agent.clone();
        let stream = libp2p_stream::Behaviour::new();
        let stream_control = stream.new_control();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(cfg.keypair.clone())
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| HostError::Transport(e.to_string()))?
            .with_quic()
            .with_behaviour(|key| Behaviour {
                identify: identify::Behaviour::new(
                    identify::Config::new("ipfs/0.1.0".into(), key.public()).with_agent_version(agent),
                ),
                ping: ping::Behaviour::default(),
                market: MarketProtocols::new(timeout, |family| handlers.contains_key(&family)),
                stream,
            })
            .map_err(|e| HostError::Transport(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        for addr in &cfg.listen {
            swarm.listen_on(addr.clone()).map_err(|e| HostError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        }
        // Wait for the listeners to report their addresses (port 0 becomes a real port).
        let listening = Arc::new(Mutex::new(Vec::new()));
        let want = cfg.listen.len();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while lock(&listening).len() < want {
            match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
                Ok(SwarmEvent::NewListenAddr { address, .. }) => lock(&listening).push(address),
                Ok(SwarmEvent::ListenerError { error, .. })
                | Ok(SwarmEvent::ListenerClosed { reason: Err(error), .. }) => {
                    return Err(HostError::Transport(error.to_string()));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let peer_id = *swarm.local_peer_id();
        let (tx, rx) = mpsc::channel(256);
        let (disconnects, _) = tokio::sync::broadcast::channel(64);
        let host = Host {
            peer_id,
            commands: tx.clone(),
            listening: listening.clone(),
            announce: cfg.announce.clone(),
            stream_control,
            disconnects: disconnects.clone(),
            agents: Arc::new(Mutex::new(HashMap::new())),
        };
        let events = Events {
            listening,
            disconnects,
            agents: host.agents.clone(),
        };
        tokio::spawn(run(swarm, rx, tx, handlers, events));
        Ok(host)
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Opens and accepts raw streams on this host: what graphsync and data-transfer run on.
    pub fn stream_control(&self) -> libp2p_stream::Control {
        self.stream_control.clone()
    }

    /// Peers as their last connection to this host closes (a transfer to one of them is cut).
    pub fn disconnections(&self) -> tokio::sync::broadcast::Receiver<PeerId> {
        self.disconnects.subscribe()
    }

    /// Dial `peer` at `addrs` (if not connected), so that streams to it can be opened.
    pub async fn connect(&self, peer: PeerId, addrs: Vec<Multiaddr>) -> Result<(), HostError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Dial { peer, addrs, reply })
            .await
            .map_err(|_| HostError::Stopped)?;
        rx.await
            .map_err(|_| HostError::Stopped)?
            .map_err(|reason| HostError::Request {
                peer,
                reason,
                sent_on: None,
            })
    }

    /// The agent version `peer` gave in identify (`lotus-1.26.0+…`, `boost-2.1.0`, `droplet…`),
    /// connecting to it at `addrs` first; None when it has not said within `wait`.
    pub async fn agent_version(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        wait: Duration,
    ) -> Result<Option<String>, HostError> {
        self.connect(peer, addrs).await?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(a) = lock(&self.agents).get(&peer) {
                return Ok(Some(a.clone()));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The addresses the host listens on.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        lock(&self.listening).clone()
    }

    /// The addresses to publish on chain: the announce addresses, else the listen ones.
    pub fn announce_addrs(&self) -> Vec<Multiaddr> {
        if self.announce.is_empty() {
            self.listen_addrs()
        } else {
            self.announce.clone()
        }
    }

    /// Send one request to `peer` (dialling `addrs` if not connected). `request` carries an
    /// encoding per protocol version in order of preference: the first version the peer
    /// accepts is used. Returns the answer and its protocol.
    pub async fn request(&self, peer: PeerId, addrs: Vec<Multiaddr>, request: Frame) -> Result<Frame, HostError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Request {
                peer,
                addrs,
                request,
                reply,
            })
            .await
            .map_err(|_| HostError::Stopped)?;
        rx.await
            .map_err(|_| HostError::Stopped)?
            .map_err(|u| HostError::Request {
                peer,
                reason: u.reason,
                sent_on: u.sent_on,
            })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Send the next version of an outbound request, or answer that none was accepted.
fn send_next(
    swarm: &mut libp2p::Swarm<Behaviour>,
    mut out: Outbound,
    pending: &mut HashMap<(String, OutboundRequestId), Outbound>,
) {
    while let Some((protocol, bytes)) = out.rest.pop_front() {
        let Some(rr) = swarm.behaviour_mut().market.protocol(protocol.as_ref()) else {
            out.refused.push(format!("{protocol} (not spoken by this host)"));
            continue;
        };
        let key = protocol.to_string();
        let id = rr.send_request_with_addresses(&out.peer, Frame::new(protocol, bytes), out.addrs.clone());
        // Request IDs are counted per behaviour (one per protocol version): two versions hand
        // out the same numbers, so the protocol is part of the key.
        pending.insert((key, id), out);
        return;
    }
    let _ = out.reply.send(Err(Unanswered::unsent(format!(
        "the peer speaks none of the protocols tried: {}",
        out.refused.join(", ")
    ))));
}

/// What the swarm task reports to the [`Host`] handles.
struct Events {
    listening: Arc<Mutex<Vec<Multiaddr>>>,
    disconnects: tokio::sync::broadcast::Sender<PeerId>,
    agents: Arc<Mutex<HashMap<PeerId, String>>>,
}

/// At most this many peers' agent versions are kept (a node talks to a bounded set; an
/// unbounded one must not grow the map forever).
const MAX_AGENTS: usize = 10_000;

async fn run(
    mut swarm: libp2p::Swarm<Behaviour>,
    mut rx: mpsc::Receiver<Command>,
    tx: mpsc::Sender<Command>,
    handlers: HashMap<Family, Handler>,
    events: Events,
) {
    let Events {
        listening,
        disconnects,
        agents,
    } = events;
    let mut pending: HashMap<(String, OutboundRequestId), Outbound> = HashMap::new();
    let mut dials: HashMap<PeerId, Vec<oneshot::Sender<Result<(), String>>>> = HashMap::new();
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Request { peer, addrs, request, reply } => {
                        let rest: VecDeque<_> = if request.variants.is_empty() {
                            VecDeque::from([(request.protocol.clone(), request.bytes.clone())])
                        } else {
                            request.variants.iter().cloned().collect()
                        };
                        let out = Outbound { peer, addrs, rest, refused: Vec::new(), reply };
                        send_next(&mut swarm, out, &mut pending);
                    }
                    Command::Dial { peer, addrs, reply } => {
                        if swarm.is_connected(&peer) {
                            let _ = reply.send(Ok(()));
                            continue;
                        }
                        let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer).addresses(addrs).build();
                        match swarm.dial(opts) {
                            Ok(()) => dials.entry(peer).or_default().push(reply),
                            Err(e) => {
                                let _ = reply.send(Err(e.to_string()));
                            }
                        }
                    }
                    Command::Respond { protocol, channel, frame } => {
                        let sent = swarm
                            .behaviour_mut()
                            .market
                            .protocol(protocol)
                            .map(|rr| rr.send_response(channel, frame).is_ok());
                        if sent != Some(true) {
                            tracing::debug!("the peer went away before its answer");
                        }
                    }
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(BehaviourEvent::Market(e)) => {
                    if let Some((protocol, e)) = e.split() {
                        on_request_response(e, protocol, &mut swarm, &handlers, &tx, &mut pending);
                    }
                }
                SwarmEvent::NewListenAddr { address, .. } => {
                    let mut l = lock(&listening);
                    if !l.contains(&address) {
                        l.push(address);
                    }
                }
                SwarmEvent::ExpiredListenAddr { address, .. } => lock(&listening).retain(|a| a != &address),
                SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                    tracing::debug!(peer = ?peer_id, %error, "dial failed");
                    if let Some(waiting) = peer_id.and_then(|p| dials.remove(&p)) {
                        for reply in waiting {
                            let _ = reply.send(Err(error.to_string()));
                        }
                    }
                }
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                    tracing::debug!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                    for reply in dials.remove(&peer_id).unwrap_or_default() {
                        let _ = reply.send(Ok(()));
                    }
                }
                SwarmEvent::ConnectionClosed { peer_id, cause, num_established, .. } => {
                    tracing::debug!(peer = %peer_id, cause = ?cause, "disconnected");
                    if num_established == 0 {
                        let _ = disconnects.send(peer_id);
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                    let mut a = lock(&agents);
                    if a.len() >= MAX_AGENTS && !a.contains_key(&peer_id) {
                        a.clear();
                    }
                    a.insert(peer_id, info.agent_version);
                }
                SwarmEvent::Dialing { peer_id, .. } => tracing::debug!(peer = ?peer_id, "dialing"),
                _ => {}
            }
        }
    }
}

fn on_request_response(
    event: request_response::Event<Frame, Frame>,
    protocol: &'static str,
    swarm: &mut libp2p::Swarm<Behaviour>,
    handlers: &HashMap<Family, Handler>,
    tx: &mpsc::Sender<Command>,
    pending: &mut HashMap<(String, OutboundRequestId), Outbound>,
) {
    match event {
        request_response::Event::Message { peer, message, .. } => match message {
            request_response::Message::Request { request, channel, .. } => {
                let Some(handler) = family_of(protocol).and_then(|f| handlers.get(&f)).cloned() else {
                    return;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let stream_protocol = request.protocol.clone();
                    if let Some(bytes) = handler(peer, request).await {
                        let frame = Frame::new(stream_protocol, bytes);
                        let _ = tx
                            .send(Command::Respond {
                                protocol,
                                channel,
                                frame,
                            })
                            .await;
                    }
                });
            }
            request_response::Message::Response { request_id, response } => {
                if let Some(out) = pending.remove(&(protocol.to_string(), request_id)) {
                    let _ = out.reply.send(Ok(response));
                }
            }
        },
        request_response::Event::OutboundFailure { request_id, error, .. } => {
            if let Some(mut out) = pending.remove(&(protocol.to_string(), request_id)) {
                if matches!(error, request_response::OutboundFailure::UnsupportedProtocols) {
                    out.refused.push(protocol.to_string());
                    send_next(swarm, out, pending);
                } else {
                    // A failed dial never sent it; any other failure came after the stream
                    // opened, and the peer may have the request.
                    let sent_on = (!matches!(error, request_response::OutboundFailure::DialFailure))
                        .then(|| protocol.to_string());
                    let _ = out.reply.send(Err(Unanswered {
                        reason: error.to_string(),
                        sent_on,
                    }));
                }
            }
        }
        request_response::Event::InboundFailure { peer, error, .. } => {
            tracing::debug!(%peer, %error, %protocol, "inbound request failed");
        }
        request_response::Event::ResponseSent { .. } => {}
    }
}

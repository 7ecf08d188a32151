//! The libp2p host both daemons run: TCP (and QUIC) with Noise and Yamux, identify and ping,
//! and one request-response behaviour per market protocol family. The swarm runs in its own
//! task; the daemon talks to it through [`Host`]: outbound requests, and inbound requests
//! answered by handlers registered per family.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, identify, noise, ping, tcp, yamux};
use tokio::sync::{mpsc, oneshot};

use super::codec::{CborCodec, Frame};
use super::protocols;

/// A protocol family: the versions of one market protocol, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `/fil/storage/ask/1.1.0`, `/fil/storage/ask/1.0.1`.
    StorageAsk,
    /// `/fil/storage/mk/1.2.1`, `/fil/storage/mk/1.2.0`.
    StorageDeal,
    /// `/fil/storage/status/1.2.0`.
    DealStatus,
}

/// Answers an inbound request: the response bytes, or `None` to close the stream unanswered.
pub type Handler = Arc<dyn Fn(PeerId, Frame) -> BoxFuture<'static, Option<Vec<u8>>> + Send + Sync>;

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    ask: request_response::Behaviour<CborCodec>,
    deal: request_response::Behaviour<CborCodec>,
    status: request_response::Behaviour<CborCodec>,
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
    Request { peer: PeerId, reason: String },
}

enum Command {
    Request {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        family: Family,
        request: Frame,
        reply: oneshot::Sender<Result<Frame, String>>,
    },
    Respond {
        family: Family,
        channel: request_response::ResponseChannel<Frame>,
        frame: Frame,
    },
}

/// A running host.
#[derive(Clone)]
pub struct Host {
    peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    listening: Arc<Mutex<Vec<Multiaddr>>>,
    announce: Vec<Multiaddr>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("peer_id", &self.peer_id).finish()
    }
}

fn rr(
    protocols: &[StreamProtocol],
    codec: CborCodec,
    timeout: Duration,
    serve: bool,
) -> request_response::Behaviour<CborCodec> {
    let support = if serve {
        ProtocolSupport::Full
    } else {
        ProtocolSupport::Outbound
    };
    request_response::Behaviour::with_codec(
        codec,
        protocols.iter().map(|p| (p.clone(), support.clone())),
        request_response::Config::default().with_request_timeout(timeout),
    )
}

impl Host {
    /// Start listening and serving. Families without a handler are dialled but not served.
    pub async fn start(cfg: HostConfig, handlers: HashMap<Family, Handler>) -> Result<Host, HostError> {
        let timeout = cfg.request_timeout;
        let serves = |f: Family| handlers.contains_key(&f);
        let (serve_ask, serve_deal, serve_status) = (
            serves(Family::StorageAsk),
            serves(Family::StorageDeal),
            serves(Family::DealStatus),
        );
        let agent = cfg.agent.clone();
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
                ask: rr(
                    &protocols::storage_ask(),
                    CborCodec {
                        max_request: 4 << 10,
                        max_response: 64 << 10,
                    },
                    timeout,
                    serve_ask,
                ),
                // A proposal carries the transfer's URL and headers: up to 256 KiB.
                deal: rr(
                    &protocols::storage_deal(),
                    CborCodec {
                        max_request: 256 << 10,
                        max_response: 16 << 10,
                    },
                    timeout,
                    serve_deal,
                ),
                status: rr(
                    &protocols::deal_status(),
                    CborCodec {
                        max_request: 4 << 10,
                        max_response: 64 << 10,
                    },
                    timeout,
                    serve_status,
                ),
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
        let host = Host {
            peer_id,
            commands: tx.clone(),
            listening: listening.clone(),
            announce: cfg.announce.clone(),
        };
        tokio::spawn(run(swarm, rx, tx, handlers, listening));
        Ok(host)
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
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

    /// Send one request of `family` to `peer` (dialling `addrs` if not connected): `request`
    /// carries an encoding per protocol version, and the newest version both sides speak is
    /// used. Returns the answer and its protocol.
    pub async fn request(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        family: Family,
        request: Frame,
    ) -> Result<Frame, HostError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Request {
                peer,
                addrs,
                family,
                request,
                reply,
            })
            .await
            .map_err(|_| HostError::Stopped)?;
        rx.await
            .map_err(|_| HostError::Stopped)?
            .map_err(|reason| HostError::Request { peer, reason })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn run(
    mut swarm: libp2p::Swarm<Behaviour>,
    mut rx: mpsc::Receiver<Command>,
    tx: mpsc::Sender<Command>,
    handlers: HashMap<Family, Handler>,
    listening: Arc<Mutex<Vec<Multiaddr>>>,
) {
    let mut pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Frame, String>>> = HashMap::new();
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Request { peer, addrs, family, request: frame, reply } => {
                        let id = match family {
                            Family::StorageAsk => swarm.behaviour_mut().ask.send_request_with_addresses(&peer, frame, addrs),
                            Family::StorageDeal => swarm.behaviour_mut().deal.send_request_with_addresses(&peer, frame, addrs),
                            Family::DealStatus => swarm.behaviour_mut().status.send_request_with_addresses(&peer, frame, addrs),
                        };
                        pending.insert(id, reply);
                    }
                    Command::Respond { family, channel, frame } => {
                        let sent = match family {
                            Family::StorageAsk => swarm.behaviour_mut().ask.send_response(channel, frame),
                            Family::StorageDeal => swarm.behaviour_mut().deal.send_response(channel, frame),
                            Family::DealStatus => swarm.behaviour_mut().status.send_response(channel, frame),
                        };
                        if sent.is_err() {
                            tracing::debug!("the peer went away before its answer");
                        }
                    }
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(BehaviourEvent::Ask(e)) => {
                    on_request_response(e, Family::StorageAsk, &handlers, &tx, &mut pending);
                }
                SwarmEvent::Behaviour(BehaviourEvent::Deal(e)) => {
                    on_request_response(e, Family::StorageDeal, &handlers, &tx, &mut pending);
                }
                SwarmEvent::Behaviour(BehaviourEvent::Status(e)) => {
                    on_request_response(e, Family::DealStatus, &handlers, &tx, &mut pending);
                }
                SwarmEvent::NewListenAddr { address, .. } => {
                    let mut l = lock(&listening);
                    if !l.contains(&address) {
                        l.push(address);
                    }
                }
                SwarmEvent::ExpiredListenAddr { address, .. } => lock(&listening).retain(|a| a != &address),
                _ => {}
            }
        }
    }
}

fn on_request_response(
    event: request_response::Event<Frame, Frame>,
    family: Family,
    handlers: &HashMap<Family, Handler>,
    tx: &mpsc::Sender<Command>,
    pending: &mut HashMap<OutboundRequestId, oneshot::Sender<Result<Frame, String>>>,
) {
    match event {
        request_response::Event::Message { peer, message, .. } => match message {
            request_response::Message::Request { request, channel, .. } => {
                let Some(handler) = handlers.get(&family).cloned() else {
                    return;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let protocol = request.protocol.clone();
                    if let Some(bytes) = handler(peer, request).await {
                        let frame = Frame::new(protocol, bytes);
                        let _ = tx.send(Command::Respond { family, channel, frame }).await;
                    }
                });
            }
            request_response::Message::Response { request_id, response } => {
                if let Some(reply) = pending.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
        },
        request_response::Event::OutboundFailure { request_id, error, .. } => {
            if let Some(reply) = pending.remove(&request_id) {
                let _ = reply.send(Err(error.to_string()));
            }
        }
        request_response::Event::InboundFailure { peer, error, .. } => {
            tracing::debug!(%peer, %error, "inbound request failed");
        }
        request_response::Event::ResponseSent { .. } => {}
    }
}

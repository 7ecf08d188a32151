//! Loopback hosts with only the stream behaviour, for tests and benches.

use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, noise, tcp, yamux};

use crate::net::Behaviour;

/// A host listening on a loopback TCP port: its ID, its address (with `/p2p/`), its swarm.
pub async fn host() -> (PeerId, Multiaddr, Swarm<Behaviour>) {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp transport")
        .with_behaviour(|_| Behaviour::new())
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("address"))
        .expect("listen");
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address;
        }
    };
    let peer = *swarm.local_peer_id();
    (peer, addr.with(libp2p::multiaddr::Protocol::P2p(peer)), swarm)
}

/// What a test can ask of a host driven by [`drive_controlled`].
#[derive(Debug, Clone)]
pub struct SwarmHandle(tokio::sync::mpsc::UnboundedSender<Control>);

#[derive(Debug)]
enum Control {
    Disconnect(PeerId),
    Dial(Multiaddr),
}

impl SwarmHandle {
    /// Close every connection to `peer` (a cut connection).
    pub fn disconnect(&self, peer: PeerId) {
        let _ = self.0.send(Control::Disconnect(peer));
    }

    pub fn dial(&self, addr: Multiaddr) {
        let _ = self.0.send(Control::Dial(addr));
    }
}

/// Drive `swarm` on its own task like [`drive`], taking commands from the returned handle.
pub fn drive_controlled(mut swarm: Swarm<Behaviour>, dial: Option<Multiaddr>) -> SwarmHandle {
    if let Some(a) = dial {
        swarm.dial(a).expect("dial");
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = swarm.select_next_some() => {}
                cmd = rx.recv() => match cmd {
                    Some(Control::Disconnect(peer)) => {
                        let _ = swarm.disconnect_peer_id(peer);
                    }
                    Some(Control::Dial(addr)) => {
                        let _ = swarm.dial(addr);
                    }
                    None => {}
                },
            }
        }
    });
    SwarmHandle(tx)
}

/// Drive `swarm` on its own task, dialling `dial` first if given.
pub fn drive(mut swarm: Swarm<Behaviour>, dial: Option<Multiaddr>) {
    if let Some(a) = dial {
        swarm.dial(a).expect("dial");
    }
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
}

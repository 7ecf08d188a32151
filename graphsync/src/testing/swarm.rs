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

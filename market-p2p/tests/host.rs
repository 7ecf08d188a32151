//! Two libp2p hosts on loopback: bad deal streams (malformed, oversized, truncated) are closed
//! without reaching the deal handler, and good requests around them are answered; a request
//! offered on several versions goes out on the first one the peer speaks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use market_p2p::{Family, Frame, Handler, Host, HostConfig, StreamProtocol, identity, protocols};

async fn host(handlers: HashMap<Family, Handler>) -> Host {
    Host::start(
        HostConfig {
            keypair: identity::Keypair::generate_ed25519(),
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")],
            announce: Vec::new(),
            agent: "test".into(),
            request_timeout: Duration::from_secs(2),
        },
        handlers,
    )
    .await
    .expect("host")
}

fn frame(protocol: &'static str, bytes: Vec<u8>) -> Frame {
    Frame::new(StreamProtocol::new(protocol), bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_streams_are_closed_without_reaching_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let mut handlers: HashMap<Family, Handler> = HashMap::new();
    // Echoes the protocol it was reached on, as a CBOR text.
    handlers.insert(
        Family::StorageDeal,
        Arc::new(move |_peer, f: Frame| {
            seen.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { Some(market_types::cbor::to_vec(&f.protocol.to_string())) })
        }),
    );
    let provider = host(handlers).await;
    let client = host(HashMap::new()).await;
    let (peer, addrs) = (provider.peer_id(), provider.listen_addrs());
    let good = market_types::cbor::to_vec(&"hello".to_string());

    let answer = client
        .request(peer, addrs.clone(), frame(protocols::DEAL_1_2_1, good.clone()))
        .await
        .expect("a good request is answered");
    assert_eq!(
        answer.bytes,
        market_types::cbor::to_vec(&protocols::DEAL_1_2_1.to_string())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let malformed = vec![0xff, 0xff, 0xff];
    let oversized = market_types::cbor::to_vec(&market_types::Bytes(vec![1u8; 300 << 10]));
    let truncated = oversized[..1000].to_vec();
    for (what, bytes) in [
        ("malformed", malformed),
        ("oversized", oversized),
        ("truncated", truncated),
    ] {
        let started = std::time::Instant::now();
        let r = client
            .request(peer, addrs.clone(), frame(protocols::DEAL_1_2_1, bytes))
            .await;
        assert!(r.is_err(), "{what}: {r:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no bad stream reached the handler");

    // The provider goes on serving, on every version of the family.
    for p in protocols::DEAL {
        let answer = client
            .request(peer, addrs.clone(), frame(p, good.clone()))
            .await
            .unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(answer.protocol.as_ref(), p);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_falls_back_to_the_next_version_only_when_refused() {
    let mut handlers: HashMap<Family, Handler> = HashMap::new();
    handlers.insert(
        Family::StorageDeal,
        Arc::new(|_peer, f: Frame| Box::pin(async move { Some(market_types::cbor::to_vec(&f.protocol.to_string())) })),
    );
    let provider = host(handlers).await;
    let client = host(HashMap::new()).await;
    let (peer, addrs) = (provider.peer_id(), provider.listen_addrs());
    let good = market_types::cbor::to_vec(&"hello".to_string());
    // The provider serves no status protocol: offering only those fails, naming each.
    let err = client
        .request(
            peer,
            addrs.clone(),
            Frame::versions(vec![
                (StreamProtocol::new(protocols::STATUS_1_2_0), good.clone()),
                (StreamProtocol::new(protocols::STATUS_1_1_0), good.clone()),
            ]),
        )
        .await
        .expect_err("no common protocol");
    let text = err.to_string();
    assert!(
        text.contains(protocols::STATUS_1_2_0) && text.contains(protocols::STATUS_1_1_0),
        "{text}"
    );
    // A status protocol first, then a deal one: the deal one answers.
    let answer = client
        .request(
            peer,
            addrs,
            Frame::versions(vec![
                (StreamProtocol::new(protocols::STATUS_1_2_0), good.clone()),
                (StreamProtocol::new(protocols::DEAL_1_0_1), good),
            ]),
        )
        .await
        .expect("fallback");
    assert_eq!(answer.protocol.as_ref(), protocols::DEAL_1_0_1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_on_different_versions_each_get_their_answer() {
    // Each protocol version's behaviour counts its request IDs from 1: the first requests on
    // two versions share an ID, and each must still reach its own caller.
    let mut handlers: HashMap<Family, Handler> = HashMap::new();
    handlers.insert(
        Family::StorageDeal,
        Arc::new(|_peer, f: Frame| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some(market_types::cbor::to_vec(&f.protocol.to_string()))
            })
        }),
    );
    let provider = host(handlers).await;
    let client = host(HashMap::new()).await;
    let (peer, addrs) = (provider.peer_id(), provider.listen_addrs());
    let body = market_types::cbor::to_vec(&"hi".to_string());
    let (a, b) = tokio::join!(
        client.request(peer, addrs.clone(), frame(protocols::DEAL_1_2_1, body.clone())),
        client.request(peer, addrs, frame(protocols::DEAL_1_1_1, body)),
    );
    assert_eq!(a.expect("1.2.1 answered").protocol.as_ref(), protocols::DEAL_1_2_1);
    assert_eq!(b.expect("1.1.1 answered").protocol.as_ref(), protocols::DEAL_1_1_1);
}

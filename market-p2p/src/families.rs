//! The market's request-response protocols (storage ask, deal and status; the retrieval
//! query) as one behaviour: one request-response behaviour per protocol version, so that a request goes out on exactly
//! the version its sender chose (falling back to the next one only when the peer refuses),
//! each with its own message size limits.

use std::time::Duration;

use libp2p::StreamProtocol;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;

use crate::codec::{CborCodec, Frame};
use crate::protocols;

/// A protocol family: the versions of one market protocol. A handler serves a whole family
/// and reads the version from [`Frame::protocol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `/fil/storage/ask/1.1.0`, `/fil/storage/ask/1.0.1`.
    StorageAsk,
    /// `/fil/storage/mk/1.2.1`, `1.2.0` (Boost) and `1.1.1`, `1.1.0`, `1.0.1` (go-fil-markets).
    StorageDeal,
    /// `/fil/storage/status/1.2.0` (Boost) and `1.1.0`, `1.0.1` (go-fil-markets).
    DealStatus,
    /// `/fil/retrieval/qry/1.0.0` (go-fil-markets has no other version any more).
    RetrievalQuery,
}

/// One protocol version: its family and message size limits.
struct Spec {
    id: &'static str,
    family: Family,
    max_request: usize,
    max_response: usize,
}

/// A proposal carries the transfer's URL and headers: up to 256 KiB. Asks, status requests
/// and queries are small; answers carry a proposal at most.
const SPECS: [Spec; 11] = [
    spec(protocols::ASK_1_1_0, Family::StorageAsk, 4 << 10, 64 << 10),
    spec(protocols::ASK_1_0_1, Family::StorageAsk, 4 << 10, 64 << 10),
    spec(protocols::DEAL_1_2_1, Family::StorageDeal, 256 << 10, 16 << 10),
    spec(protocols::DEAL_1_2_0, Family::StorageDeal, 256 << 10, 16 << 10),
    spec(protocols::DEAL_1_1_1, Family::StorageDeal, 256 << 10, 16 << 10),
    spec(protocols::DEAL_1_1_0, Family::StorageDeal, 256 << 10, 16 << 10),
    spec(protocols::DEAL_1_0_1, Family::StorageDeal, 256 << 10, 16 << 10),
    spec(protocols::STATUS_1_2_0, Family::DealStatus, 4 << 10, 64 << 10),
    spec(protocols::STATUS_1_1_0, Family::DealStatus, 4 << 10, 64 << 10),
    spec(protocols::STATUS_1_0_1, Family::DealStatus, 4 << 10, 64 << 10),
    spec(protocols::QUERY_1_0_0, Family::RetrievalQuery, 4 << 10, 16 << 10),
];

const fn spec(id: &'static str, family: Family, max_request: usize, max_response: usize) -> Spec {
    Spec {
        id,
        family,
        max_request,
        max_response,
    }
}

fn spec_of(id: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.id == id)
}

type Rr = request_response::Behaviour<CborCodec>;

/// The market's request-response protocols, one behaviour per version.
#[derive(NetworkBehaviour)]
pub struct MarketProtocols {
    ask_110: Rr,
    ask_101: Rr,
    mk_121: Rr,
    mk_120: Rr,
    mk_111: Rr,
    mk_110: Rr,
    mk_101: Rr,
    st_120: Rr,
    st_110: Rr,
    st_101: Rr,
    qry_100: Rr,
}

impl std::fmt::Debug for MarketProtocols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MarketProtocols")
    }
}

impl MarketProtocols {
    /// Every version, dialled; served when `serve(family)` says so.
    pub fn new(timeout: Duration, serve: impl Fn(Family) -> bool) -> Self {
        let rr = |id: &str| {
            let spec = spec_of(id).expect("every protocol constant has a spec");
            rr(spec, timeout, serve(spec.family))
        };
        MarketProtocols {
            ask_110: rr(protocols::ASK_1_1_0),
            ask_101: rr(protocols::ASK_1_0_1),
            mk_121: rr(protocols::DEAL_1_2_1),
            mk_120: rr(protocols::DEAL_1_2_0),
            mk_111: rr(protocols::DEAL_1_1_1),
            mk_110: rr(protocols::DEAL_1_1_0),
            mk_101: rr(protocols::DEAL_1_0_1),
            st_120: rr(protocols::STATUS_1_2_0),
            st_110: rr(protocols::STATUS_1_1_0),
            st_101: rr(protocols::STATUS_1_0_1),
            qry_100: rr(protocols::QUERY_1_0_0),
        }
    }

    /// The behaviour of one protocol version.
    pub fn protocol(&mut self, id: &str) -> Option<&mut Rr> {
        Some(match id {
            protocols::ASK_1_1_0 => &mut self.ask_110,
            protocols::ASK_1_0_1 => &mut self.ask_101,
            protocols::DEAL_1_2_1 => &mut self.mk_121,
            protocols::DEAL_1_2_0 => &mut self.mk_120,
            protocols::DEAL_1_1_1 => &mut self.mk_111,
            protocols::DEAL_1_1_0 => &mut self.mk_110,
            protocols::DEAL_1_0_1 => &mut self.mk_101,
            protocols::STATUS_1_2_0 => &mut self.st_120,
            protocols::STATUS_1_1_0 => &mut self.st_110,
            protocols::STATUS_1_0_1 => &mut self.st_101,
            protocols::QUERY_1_0_0 => &mut self.qry_100,
            _ => return None,
        })
    }
}

impl MarketProtocolsEvent {
    /// The request-response event with the protocol version whose behaviour raised it.
    pub fn split(self) -> Option<(&'static str, request_response::Event<Frame, Frame>)> {
        Some(match self {
            MarketProtocolsEvent::Ask110(e) => (protocols::ASK_1_1_0, e),
            MarketProtocolsEvent::Ask101(e) => (protocols::ASK_1_0_1, e),
            MarketProtocolsEvent::Mk121(e) => (protocols::DEAL_1_2_1, e),
            MarketProtocolsEvent::Mk120(e) => (protocols::DEAL_1_2_0, e),
            MarketProtocolsEvent::Mk111(e) => (protocols::DEAL_1_1_1, e),
            MarketProtocolsEvent::Mk110(e) => (protocols::DEAL_1_1_0, e),
            MarketProtocolsEvent::Mk101(e) => (protocols::DEAL_1_0_1, e),
            MarketProtocolsEvent::St120(e) => (protocols::STATUS_1_2_0, e),
            MarketProtocolsEvent::St110(e) => (protocols::STATUS_1_1_0, e),
            MarketProtocolsEvent::St101(e) => (protocols::STATUS_1_0_1, e),
            MarketProtocolsEvent::Qry100(e) => (protocols::QUERY_1_0_0, e),
        })
    }
}

/// Requests in flight per connection and protocol version: yamux's own limit of streams per
/// connection. request-response's default (100) drops the streams over it without a word (a
/// client with 128 proposals in flight saw a fifth of them closed unanswered); at yamux's
/// limit, the opening side's yamux refuses a stream over it before sending anything, so every
/// request sent is answered (or times out).
pub const MAX_STREAMS_PER_CONNECTION: usize = 512;

fn rr(spec: &Spec, timeout: Duration, serve: bool) -> Rr {
    let support = if serve {
        ProtocolSupport::Full
    } else {
        ProtocolSupport::Outbound
    };
    request_response::Behaviour::with_codec(
        CborCodec {
            max_request: spec.max_request,
            max_response: spec.max_response,
            read_deadline: timeout,
        },
        [(StreamProtocol::new(spec.id), support)],
        request_response::Config::default()
            .with_request_timeout(timeout)
            .with_max_concurrent_streams(MAX_STREAMS_PER_CONNECTION),
    )
}

/// The family a protocol version belongs to.
pub fn family_of(id: &str) -> Option<Family> {
    spec_of(id).map(|s| s.family)
}

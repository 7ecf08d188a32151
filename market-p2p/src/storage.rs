//! The storage market's request-response protocols (ask, deal, status) as one behaviour:
//! one request-response behaviour per protocol version, so that a request goes out on exactly
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
}

/// One protocol version: its family and message size limits.
struct Spec {
    id: &'static str,
    family: Family,
    max_request: usize,
    max_response: usize,
}

/// A proposal carries the transfer's URL and headers: up to 256 KiB. Asks and status
/// requests are small; answers carry a proposal at most.
const SPECS: [Spec; 10] = [
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

/// The storage protocols, one behaviour per version.
#[derive(NetworkBehaviour)]
pub struct StorageProtocols {
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
}

impl std::fmt::Debug for StorageProtocols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageProtocols")
    }
}

impl StorageProtocols {
    /// Every version, dialled; served when `serve(family)` says so.
    pub fn new(timeout: Duration, serve: impl Fn(Family) -> bool) -> Self {
        let rr = |id: &str| {
            let spec = spec_of(id).expect("every protocol constant has a spec");
            rr(spec, timeout, serve(spec.family))
        };
        StorageProtocols {
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
            _ => return None,
        })
    }
}

impl StorageProtocolsEvent {
    /// The request-response event with the protocol version whose behaviour raised it.
    pub fn split(self) -> Option<(&'static str, request_response::Event<Frame, Frame>)> {
        Some(match self {
            StorageProtocolsEvent::Ask110(e) => (protocols::ASK_1_1_0, e),
            StorageProtocolsEvent::Ask101(e) => (protocols::ASK_1_0_1, e),
            StorageProtocolsEvent::Mk121(e) => (protocols::DEAL_1_2_1, e),
            StorageProtocolsEvent::Mk120(e) => (protocols::DEAL_1_2_0, e),
            StorageProtocolsEvent::Mk111(e) => (protocols::DEAL_1_1_1, e),
            StorageProtocolsEvent::Mk110(e) => (protocols::DEAL_1_1_0, e),
            StorageProtocolsEvent::Mk101(e) => (protocols::DEAL_1_0_1, e),
            StorageProtocolsEvent::St120(e) => (protocols::STATUS_1_2_0, e),
            StorageProtocolsEvent::St110(e) => (protocols::STATUS_1_1_0, e),
            StorageProtocolsEvent::St101(e) => (protocols::STATUS_1_0_1, e),
        })
    }
}

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
        request_response::Config::default().with_request_timeout(timeout),
    )
}

/// The family a protocol version belongs to.
pub fn family_of(id: &str) -> Option<Family> {
    spec_of(id).map(|s| s.family)
}

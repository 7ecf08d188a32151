//! The libp2p half of the market's wire: the market's protocols, their framing and limits,
//! and the host that serves and dials them. No business logic.

pub mod codec;
pub mod families;
pub mod host;
pub mod transports;

pub use codec::{CborCodec, Frame};
pub use host::{Family, Handler, Host, HostConfig, HostError};
pub use libp2p::{Multiaddr, PeerId, StreamProtocol, identity};

/// Protocol IDs, newest first within each family.
pub mod protocols {
    pub const ASK_1_1_0: &str = "/fil/storage/ask/1.1.0";
    pub const ASK_1_0_1: &str = "/fil/storage/ask/1.0.1";
    pub const DEAL_1_2_1: &str = "/fil/storage/mk/1.2.1";
    pub const DEAL_1_2_0: &str = "/fil/storage/mk/1.2.0";
    pub const DEAL_1_1_1: &str = "/fil/storage/mk/1.1.1";
    pub const DEAL_1_1_0: &str = "/fil/storage/mk/1.1.0";
    pub const DEAL_1_0_1: &str = "/fil/storage/mk/1.0.1";
    pub const STATUS_1_2_0: &str = "/fil/storage/status/1.2.0";
    pub const STATUS_1_1_0: &str = "/fil/storage/status/1.1.0";
    pub const STATUS_1_0_1: &str = "/fil/storage/status/1.0.1";
    pub const QUERY_1_0_0: &str = "/fil/retrieval/qry/1.0.0";

    /// Every deal proposal protocol, newest first: Boost's two, then go-fil-markets' three.
    pub const DEAL: [&str; 5] = [DEAL_1_2_1, DEAL_1_2_0, DEAL_1_1_1, DEAL_1_1_0, DEAL_1_0_1];
    /// Every deal status protocol, newest first.
    pub const STATUS: [&str; 3] = [STATUS_1_2_0, STATUS_1_1_0, STATUS_1_0_1];

    /// Whether a deal or status protocol is one of go-fil-markets' (identified by proposal CID
    /// rather than deal UUID).
    pub fn is_legacy(protocol: &str) -> bool {
        !matches!(protocol, DEAL_1_2_1 | DEAL_1_2_0 | STATUS_1_2_0)
    }
}

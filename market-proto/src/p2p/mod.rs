//! libp2p: the market's protocols, their framing and limits, and the host that serves and
//! dials them.

pub mod codec;
pub mod host;

pub use codec::{CborCodec, Frame};
pub use host::{Family, Handler, Host, HostConfig, HostError};
pub use libp2p::{Multiaddr, PeerId, StreamProtocol, identity};

/// Protocol IDs, newest first within each family.
pub mod protocols {
    use libp2p::StreamProtocol;

    pub const ASK_1_1_0: &str = "/fil/storage/ask/1.1.0";
    pub const ASK_1_0_1: &str = "/fil/storage/ask/1.0.1";
    pub const DEAL_1_2_1: &str = "/fil/storage/mk/1.2.1";
    pub const DEAL_1_2_0: &str = "/fil/storage/mk/1.2.0";
    pub const STATUS_1_2_0: &str = "/fil/storage/status/1.2.0";

    pub fn storage_ask() -> Vec<StreamProtocol> {
        vec![StreamProtocol::new(ASK_1_1_0), StreamProtocol::new(ASK_1_0_1)]
    }

    /// Boost's deal proposal protocol (droplet serves both versions with one handler).
    pub fn storage_deal() -> Vec<StreamProtocol> {
        vec![StreamProtocol::new(DEAL_1_2_1), StreamProtocol::new(DEAL_1_2_0)]
    }

    pub fn deal_status() -> Vec<StreamProtocol> {
        vec![StreamProtocol::new(STATUS_1_2_0)]
    }
}

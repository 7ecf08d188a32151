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

    pub fn storage_ask() -> Vec<StreamProtocol> {
        vec![StreamProtocol::new(ASK_1_1_0), StreamProtocol::new(ASK_1_0_1)]
    }
}

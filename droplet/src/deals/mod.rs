//! Storage deals on the provider side: the stored record and its store, taking proposals and
//! status requests over libp2p (`accept`, `legacy`), the runner that drives each deal through
//! market-fsm's machine (download, verification, funds, publishing, piece storage), and the
//! sealer hand-off and chain tracking (`sealing`).

pub mod accept;
pub mod dumps;
pub mod facts;
pub mod filter;
pub mod import;
pub mod legacy;
pub mod record;
pub mod runner;
pub mod sealing;
pub mod store;
pub mod transfer;

pub use record::DealRecord;
pub use store::DealStore;

//! The network's constants that the market's parties all check (builtin-actors' `Policy` for
//! mainnet, actors v12+): one place for the acceptance checks, the devnet's actors and the
//! clients. The devnet keeps its own tunable values (cron, challenge delay) beside these.

use crate::units::{ChainEpoch, EPOCHS_IN_DAY};

/// Longest label the market actor accepts (`DealMaxLabelSize`). The codec itself allows more.
pub const DEAL_MAX_LABEL_SIZE: usize = 256;
/// Shortest deal: 180 days.
pub const DEAL_MIN_DURATION: ChainEpoch = 180 * EPOCHS_IN_DAY;
/// Longest deal since FIP-0052: 1278 days.
pub const DEAL_MAX_DURATION: ChainEpoch = 1278 * EPOCHS_IN_DAY;
/// How far past the head a deal may end (`miner.MaxSectorExpirationExtension`, 1278 days).
pub const MAX_SECTOR_EXPIRATION_EXTENSION: ChainEpoch = 1278 * EPOCHS_IN_DAY;

//! The chain parameters the actors use: the real network's values by default; a few can be
//! shortened for tests (how often cron revisits a deal, the pre-commit challenge delay, the
//! payment channel settle delay).

use market_types::units::{ATTO_PER_FIL, ChainEpoch, EPOCHS_IN_DAY};
use market_types::{BigInt, TokenAmount};

pub use market_types::policy::{DEAL_MAX_DURATION, DEAL_MAX_LABEL_SIZE, DEAL_MIN_DURATION};
/// Numerator and denominator of the provider collateral's share of circulating supply.
const PROV_COLLATERAL_PERCENT_SUPPLY: (u64, u64) = (1, 100);
/// Lotus returns the actor's minimum collateral times 110/100 from
/// `StateDealProviderCollateralBounds`.
const LOTUS_COLLATERAL_MARGIN: (u64, u64) = (110, 100);
/// The network version the devnet reports (actors v18 semantics).
pub const NETWORK_VERSION: u32 = 28;
/// Block gas limit.
pub const BLOCK_GAS_LIMIT: i64 = 10_000_000_000;

/// 2 billion FIL: the bound on prices and collaterals.
pub fn total_filecoin() -> TokenAmount {
    TokenAmount::from_whole(2_000_000_000)
}

/// Tunable chain parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Epochs between cron's visits to a deal (`DEAL_UPDATES_INTERVAL`, 30 days on mainnet).
    pub deal_updates_interval: ChainEpoch,
    /// Epochs after pre-commit before a sector may be proven (150 on mainnet).
    pub pre_commit_challenge_delay: ChainEpoch,
    /// Circulating supply used for the provider collateral minimum.
    pub circulating_supply: TokenAmount,
    /// Baseline power used for the provider collateral minimum.
    pub baseline_power: BigInt,
    /// The base fee every message's gas is charged at (attoFIL per gas unit).
    pub base_fee: TokenAmount,
    /// Epochs between a payment channel's Settle and the earliest Collect (1440 on mainnet).
    pub paych_settle_delay: ChainEpoch,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            deal_updates_interval: 30 * EPOCHS_IN_DAY,
            pre_commit_challenge_delay: 150,
            circulating_supply: TokenAmount::from_whole(500_000_000),
            baseline_power: BigInt::from(1u64 << 60) * 15,
            base_fee: TokenAmount::from_atto(100),
            paych_settle_delay: market_types::actors::paych::SETTLE_DELAY,
        }
    }
}

impl Policy {
    /// The market actor's bounds on a deal's provider collateral.
    pub fn provider_collateral_bounds(
        &self,
        piece_size: u64,
        network_raw_power: &BigInt,
    ) -> (TokenAmount, TokenAmount) {
        let size = BigInt::from(piece_size);
        let share =
            self.circulating_supply.atto() * PROV_COLLATERAL_PERCENT_SUPPLY.0 / PROV_COLLATERAL_PERCENT_SUPPLY.1;
        let mut denom = self.baseline_power.clone().max(network_raw_power.clone());
        denom = denom.max(size.clone());
        let min = TokenAmount::from_atto(size * share / denom);
        (min, total_filecoin())
    }

    /// What lotus's `StateDealProviderCollateralBounds` answers: the minimum with a margin.
    pub fn lotus_collateral_bounds(&self, piece_size: u64, network_raw_power: &BigInt) -> (TokenAmount, TokenAmount) {
        let (min, max) = self.provider_collateral_bounds(piece_size, network_raw_power);
        let min = TokenAmount::from_atto(min.atto() * LOTUS_COLLATERAL_MARGIN.0 / LOTUS_COLLATERAL_MARGIN.1);
        (min, max)
    }

    /// The first epoch at or after `start` at which cron visits `deal_id`.
    pub fn next_update_epoch(&self, deal_id: u64, start: ChainEpoch) -> ChainEpoch {
        let interval = self.deal_updates_interval.max(1);
        let offset = (deal_id % interval as u64) as ChainEpoch;
        let q = start - start.rem_euclid(interval) + offset;
        if q < start { q + interval } else { q }
    }
}

/// One FIL in attoFIL.
pub fn fil(n: u64) -> TokenAmount {
    TokenAmount::from_atto(BigInt::from(n) * ATTO_PER_FIL)
}

/// Sector size of a registered seal proof (V1 and V1_1 numbers, and the synthetic ones).
pub fn sector_size_of_seal_proof(proof: i64) -> Option<u64> {
    let index = match proof {
        0..=4 => proof,
        5..=9 => proof - 5,
        10..=14 => proof - 10,
        15..=19 => proof - 15,
        _ => return None,
    };
    Some(match index {
        0 => 2 << 10,
        1 => 8 << 20,
        2 => 512 << 20,
        3 => 32 << 30,
        _ => 64 << 30,
    })
}

/// The window PoSt proof type (V1_1) that goes with a sector size.
pub fn window_post_proof_for(sector_size: u64) -> Option<i64> {
    Some(match sector_size {
        s if s == 2 << 10 => 10,
        s if s == 8 << 20 => 11,
        s if s == 512 << 20 => 12,
        s if s == 32 << 30 => 13,
        s if s == 64 << 30 => 14,
        _ => return None,
    })
}

/// The seal proof type (V1_1) that goes with a sector size.
pub fn seal_proof_for(sector_size: u64) -> Option<i64> {
    window_post_proof_for(sector_size).map(|w| w - 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_update_epoch_is_the_first_congruent_epoch_at_or_after_start() {
        let p = Policy {
            deal_updates_interval: 100,
            ..Policy::default()
        };
        assert_eq!(p.next_update_epoch(7, 250), 307);
        assert_eq!(p.next_update_epoch(57, 250), 257);
        assert_eq!(p.next_update_epoch(50, 250), 250);
        assert_eq!(p.next_update_epoch(150, 250), 250);
    }

    #[test]
    fn collateral_minimum_is_a_share_of_supply_by_power() {
        let p = Policy::default();
        let (min, max) = p.provider_collateral_bounds(32 << 30, &BigInt::from(0));
        assert!(min.is_positive());
        assert_eq!(max, total_filecoin());
        let (lotus_min, _) = p.lotus_collateral_bounds(32 << 30, &BigInt::from(0));
        assert_eq!(lotus_min.atto(), &(min.atto() * 110u64 / 100u64));
    }

    #[test]
    fn proof_types_map_to_sizes() {
        assert_eq!(sector_size_of_seal_proof(5), Some(2048));
        assert_eq!(sector_size_of_seal_proof(8), Some(32 << 30));
        assert_eq!(seal_proof_for(2048), Some(5));
        assert_eq!(window_post_proof_for(32 << 30), Some(13));
        assert_eq!(sector_size_of_seal_proof(99), None);
    }
}

//! Direct deals (direct data onboarding): a piece the client allocated DataCap for in the
//! verified registry, with no deal proposal. The provider imports it against its allocation,
//! hands it to the sealer, and follows it on chain: the sealer's claim makes it Active; an
//! allocation left unclaimed past the deal's start, or a claim past its term, ends it.
//! States and numbers are droplet's (venus-shared `DirectDealState`).

/// A direct deal's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DirectDealState {
    /// Imported against its allocation, waiting for a sector.
    Allocated = 1,
    /// In a sector being sealed.
    Sealing = 2,
    /// Claimed on chain: the data is proven.
    Active = 3,
    /// Not sealed by its start epoch (or its allocation is gone): over.
    Expired = 4,
    /// Its claim's term ended (droplet's name for it: "slashed").
    Slashed = 5,
    /// Set by hand.
    Error = 6,
}

impl DirectDealState {
    pub const ALL: [DirectDealState; 6] = [
        DirectDealState::Allocated,
        DirectDealState::Sealing,
        DirectDealState::Active,
        DirectDealState::Expired,
        DirectDealState::Slashed,
        DirectDealState::Error,
    ];

    pub fn code(self) -> u64 {
        self as u64
    }

    pub fn from_code(n: u64) -> Option<DirectDealState> {
        Self::ALL.into_iter().find(|s| s.code() == n)
    }

    /// droplet's names.
    pub fn name(self) -> &'static str {
        match self {
            DirectDealState::Allocated => "DealAllocated",
            DirectDealState::Sealing => "DealSealing",
            DirectDealState::Active => "DealActive",
            DirectDealState::Expired => "DealExpired",
            DirectDealState::Slashed => "DealSlashed",
            DirectDealState::Error => "DealError",
        }
    }

    /// Nothing more happens to it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DirectDealState::Expired | DirectDealState::Slashed | DirectDealState::Error
        )
    }
}

/// What the chain says of a direct deal's allocation, for [`follow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChain {
    /// The allocation is still waiting to be claimed.
    Allocated,
    /// Claimed, with the claim's start and maximum term.
    Claimed { term_start: i64, term_max: i64 },
    /// Neither: expired and removed, or never there.
    Gone,
}

/// The tracker's decision for a deal in `state` at `head`: its next state, if it changes.
/// A deal waiting for or in a sector becomes Active once claimed; one waiting for a sector
/// expires after its start epoch (or when its allocation is gone unclaimed); an Active deal
/// ends when its claim's term does (or the claim is removed).
pub fn follow(state: DirectDealState, start_epoch: i64, head: i64, chain: OnChain) -> Option<DirectDealState> {
    use DirectDealState as D;
    match (state, chain) {
        (D::Allocated | D::Sealing, OnChain::Claimed { .. }) => Some(D::Active),
        (D::Allocated, OnChain::Allocated) if head > start_epoch => Some(D::Expired),
        (D::Allocated | D::Sealing, OnChain::Gone) => Some(D::Expired),
        (D::Active, OnChain::Claimed { term_start, term_max }) if head >= term_start + term_max => Some(D::Slashed),
        (D::Active, OnChain::Gone | OnChain::Allocated) => Some(D::Slashed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::DirectDealState as D;
    use super::*;

    #[test]
    fn codes_and_names_are_droplets() {
        for s in D::ALL {
            assert_eq!(D::from_code(s.code()), Some(s));
        }
        assert_eq!((D::Allocated.code(), D::Error.code()), (1, 6));
        assert_eq!(D::from_code(0), None);
        assert_eq!(D::Active.name(), "DealActive");
        assert!(D::Expired.is_terminal() && !D::Sealing.is_terminal());
    }

    #[test]
    fn the_tracker_follows_the_allocation_to_its_claim_and_the_claim_to_its_end() {
        let claimed = OnChain::Claimed {
            term_start: 100,
            term_max: 1000,
        };
        assert_eq!(follow(D::Allocated, 500, 200, OnChain::Allocated), None);
        assert_eq!(follow(D::Allocated, 500, 501, OnChain::Allocated), Some(D::Expired));
        assert_eq!(
            follow(D::Sealing, 500, 501, OnChain::Allocated),
            None,
            "sealing past the start: the claim decides"
        );
        assert_eq!(follow(D::Sealing, 500, 200, claimed), Some(D::Active));
        assert_eq!(follow(D::Allocated, 500, 200, claimed), Some(D::Active));
        assert_eq!(follow(D::Sealing, 500, 200, OnChain::Gone), Some(D::Expired));
        assert_eq!(follow(D::Active, 500, 1099, claimed), None);
        assert_eq!(follow(D::Active, 500, 1100, claimed), Some(D::Slashed));
        assert_eq!(follow(D::Active, 500, 300, OnChain::Gone), Some(D::Slashed));
        assert_eq!(follow(D::Error, 500, 9999, OnChain::Gone), None);
    }
}

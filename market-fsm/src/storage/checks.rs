//! The provider's acceptance checks (droplet `deal_handler.go AcceptDeal`, then the basic deal
//! filter), as a pure function of the proposal, what the chain says, the miner's ask and its
//! policy. The daemon gathers the facts (head, bounds, balances, signature check) and runs the
//! external filter command afterwards; the texts of the rejections are droplet's.

use market_types::chain::ClientDealProposal;
use market_types::storage::StorageAsk;
use market_types::units::ChainEpoch;
use market_types::{BigInt, Cid, TokenAmount};

pub use market_types::policy::{
    DEAL_MAX_DURATION, DEAL_MAX_LABEL_SIZE, DEAL_MIN_DURATION, MAX_SECTOR_EXPIRATION_EXTENSION,
};

/// Why a proposal was refused: droplet's text, sent to the client and stored with the deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the chain and the daemon know when a proposal arrives.
#[derive(Debug, Clone)]
pub struct ProposalFacts {
    pub head: ChainEpoch,
    /// The client's signature over the proposal, checked against the client's key.
    pub signature: Result<(), String>,
    /// Whether the proposal's provider is a miner this droplet serves.
    pub provider_served: bool,
    /// `StateDealProviderCollateralBounds` for the piece size.
    pub collateral_bounds: (TokenAmount, TokenAmount),
    /// The miner's current ask.
    pub ask: Option<StorageAsk>,
    /// The client's market escrow minus its locked funds.
    pub client_available: TokenAmount,
    /// The client's datacap (`None`: not a verified client).
    pub client_datacap: Option<BigInt>,
    /// Whether the deal's data comes online (HTTP) or is imported by hand.
    pub online: bool,
}

/// The miner's deal policy (`[CommonProvider]` merged with its `[[Miners]]` entry).
#[derive(Debug, Clone)]
pub struct DealPolicy {
    pub consider_online: bool,
    pub consider_offline: bool,
    pub consider_verified: bool,
    pub consider_unverified: bool,
    pub piece_cid_blocklist: Vec<Cid>,
    /// `ExpectedSealDuration` in epochs.
    pub expected_seal_epochs: ChainEpoch,
    /// `MaxDealStartDelay` in epochs.
    pub max_start_delay_epochs: ChainEpoch,
}

impl Default for DealPolicy {
    fn default() -> Self {
        DealPolicy {
            consider_online: true,
            consider_offline: true,
            consider_verified: true,
            consider_unverified: true,
            piece_cid_blocklist: Vec::new(),
            expected_seal_epochs: 24 * 120,
            max_start_delay_epochs: 336 * 120,
        }
    }
}

/// Whether a CID has the piece-CID prefix: CIDv1, fil-commitment-unsealed,
/// sha2-256-trunc254-padded, 32 bytes.
pub fn is_piece_cid(c: &Cid) -> bool {
    c.version() == cid::Version::V1 && c.codec() == 0xf101 && c.hash().code() == 0x1012 && c.hash().size() == 32
}

fn reject(msg: impl Into<String>) -> Result<(), Rejection> {
    Err(Rejection(msg.into()))
}

/// Every check a proposal must pass, in droplet's order.
pub fn check_proposal(deal: &ClientDealProposal, facts: &ProposalFacts, policy: &DealPolicy) -> Result<(), Rejection> {
    let p = &deal.proposal;
    if let Err(e) = &facts.signature {
        return reject(format!("verifying StorageDealProposal: {e}"));
    }
    if !facts.provider_served {
        return reject("incorrect provider for deal");
    }
    if p.label.len() > DEAL_MAX_LABEL_SIZE {
        return reject(format!(
            "deal label can be at most {DEAL_MAX_LABEL_SIZE} bytes, is {}",
            p.label.len()
        ));
    }
    if let Err(e) = p.piece_size.validate() {
        return reject(format!("proposal piece size is invalid: {}", e.0));
    }
    if !is_piece_cid(&p.piece_cid) {
        return reject("proposal PieceCID had wrong prefix");
    }
    if p.end_epoch <= p.start_epoch {
        return reject("proposal end before proposal start");
    }
    if facts.head > p.start_epoch {
        return reject("deal start epoch has already elapsed");
    }
    let duration = p.duration();
    if !(DEAL_MIN_DURATION..=DEAL_MAX_DURATION).contains(&duration) {
        return reject(format!(
            "deal duration out of bounds (min, max, provided): {DEAL_MIN_DURATION}, {DEAL_MAX_DURATION}, {duration}"
        ));
    }
    let max_end = facts.head + MAX_SECTOR_EXPIRATION_EXTENSION;
    if p.end_epoch > max_end {
        return reject(format!(
            "invalid deal end epoch {}: cannot be more than {MAX_SECTOR_EXPIRATION_EXTENSION} past current epoch {}",
            p.end_epoch, facts.head
        ));
    }
    let (min_pc, max_pc) = &facts.collateral_bounds;
    if &p.provider_collateral < min_pc {
        return reject(format!(
            "proposed provider collateral below minimum: {} < {}",
            p.provider_collateral.atto(),
            min_pc.atto()
        ));
    }
    if &p.provider_collateral > max_pc {
        return reject(format!(
            "proposed provider collateral above maximum: {} > {}",
            p.provider_collateral.atto(),
            max_pc.atto()
        ));
    }
    let Some(ask) = &facts.ask else {
        return reject(format!("failed to get ask for {}: no ask has been set", p.provider));
    };
    let ask_price = if p.verified_deal {
        &ask.verified_price
    } else {
        &ask.price
    };
    let min_price = TokenAmount::from_atto(ask_price.atto() * BigInt::from(p.piece_size.0) / BigInt::from(1u64 << 30));
    if p.storage_price_per_epoch < min_price {
        return reject(format!(
            "storage price per epoch less than asking price: {} < {}",
            p.storage_price_per_epoch.atto(),
            min_price.atto()
        ));
    }
    if p.piece_size < ask.min_piece_size {
        return reject(format!(
            "piece size less than minimum required size: {} < {}",
            p.piece_size.0, ask.min_piece_size.0
        ));
    }
    if p.piece_size > ask.max_piece_size {
        return reject(format!(
            "piece size more than maximum allowed size: {} > {}",
            p.piece_size.0, ask.max_piece_size.0
        ));
    }
    let need = p.client_balance_requirement();
    if facts.client_available < need {
        return reject(format!(
            "clientMarketBalance.Available too small: {} < {}",
            facts.client_available.atto(),
            need.atto()
        ));
    }
    if p.verified_deal {
        match &facts.client_datacap {
            None => return reject("node error fetching verified data cap: data cap missing -- client not verified"),
            Some(cap) if cap < &BigInt::from(p.piece_size.0) => {
                return reject("verified deal DataCap too small for proposed piece size");
            }
            Some(_) => {}
        }
    }
    basic_filter(deal, facts, policy)
}

/// The basic deal filter: the miner's switches, blocklist and start-epoch window.
fn basic_filter(deal: &ClientDealProposal, facts: &ProposalFacts, policy: &DealPolicy) -> Result<(), Rejection> {
    let p = &deal.proposal;
    if facts.online && !policy.consider_online {
        return reject("miner is not considering online storage deals");
    }
    if !facts.online && !policy.consider_offline {
        return reject("miner is not considering offline storage deals");
    }
    if p.verified_deal && !policy.consider_verified {
        return reject("miner is not accepting verified storage deals");
    }
    if !p.verified_deal && !policy.consider_unverified {
        return reject("miner is not accepting unverified storage deals");
    }
    if policy.piece_cid_blocklist.contains(&p.piece_cid) {
        return reject(format!("piece cid {} is blocklisted", p.piece_cid));
    }
    let earliest = facts.head + policy.expected_seal_epochs;
    if p.start_epoch < earliest {
        return reject(format!("cannot seal a sector before {earliest}"));
    }
    let latest = earliest + policy.max_start_delay_epochs;
    if p.start_epoch > latest {
        return reject(format!(
            "deal start epoch is too far in the future: {} > {latest}",
            p.start_epoch
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use market_types::chain::DealProposal;
    use market_types::units::PaddedPieceSize;
    use market_types::{Address, DealLabel, Signature};

    fn piece(seed: u8) -> Cid {
        let mh = cid::multihash::Multihash::<64>::wrap(0x1012, &[seed; 32]).expect("digest");
        Cid::new_v1(0xf101, mh)
    }

    const HEAD: ChainEpoch = 10_000;

    fn good() -> (ClientDealProposal, ProposalFacts, DealPolicy) {
        let start = HEAD + 24 * 120 + 100;
        let proposal = DealProposal {
            piece_cid: piece(1),
            piece_size: PaddedPieceSize(1 << 20),
            verified_deal: false,
            client: Address::new_id(1001),
            provider: Address::new_id(1000),
            label: DealLabel::String("bafk…".into()),
            start_epoch: start,
            end_epoch: start + DEAL_MIN_DURATION,
            storage_price_per_epoch: TokenAmount::from_atto(1_000_000),
            provider_collateral: TokenAmount::from_atto(5_000),
            client_collateral: TokenAmount::default(),
        };
        let ask = StorageAsk {
            miner: Address::new_id(1000),
            price: TokenAmount::from_atto(500_000_000),
            seq_no: 0,
            expiry: HEAD + 86_400,
            timestamp: HEAD,
            max_piece_size: PaddedPieceSize(8 << 20),
            min_piece_size: PaddedPieceSize(256),
            verified_price: TokenAmount::from_atto(50_000_000),
        };
        let facts = ProposalFacts {
            head: HEAD,
            signature: Ok(()),
            provider_served: true,
            collateral_bounds: (TokenAmount::from_atto(1_000), TokenAmount::from_atto(1_000_000)),
            ask: Some(ask),
            client_available: proposal.client_balance_requirement(),
            client_datacap: None,
            online: false,
        };
        let deal = ClientDealProposal {
            proposal,
            client_signature: Signature::new(market_types::SigType::Secp256k1, vec![0; 65]),
        };
        (deal, facts, DealPolicy::default())
    }

    fn refused(f: impl FnOnce(&mut ClientDealProposal, &mut ProposalFacts, &mut DealPolicy)) -> String {
        let (mut d, mut facts, mut policy) = good();
        f(&mut d, &mut facts, &mut policy);
        check_proposal(&d, &facts, &policy).expect_err("should be refused").0
    }

    #[test]
    fn a_good_proposal_passes() {
        let (d, f, p) = good();
        assert_eq!(check_proposal(&d, &f, &p), Ok(()));
    }

    #[test]
    fn each_check_refuses_with_droplets_text() {
        let cases: Vec<(String, &str)> = vec![
            (
                refused(|_, f, _| f.signature = Err("bad sig".into())),
                "verifying StorageDealProposal: bad sig",
            ),
            (
                refused(|_, f, _| f.provider_served = false),
                "incorrect provider for deal",
            ),
            (
                refused(|d, _, _| d.proposal.label = DealLabel::String("x".repeat(257))),
                "deal label can be at most 256 bytes, is 257",
            ),
            (
                refused(|d, _, _| d.proposal.piece_size = PaddedPieceSize(1000)),
                "proposal piece size is invalid",
            ),
            (
                refused(|d, _, _| d.proposal.piece_cid = Cid::new_v1(0x55, d.proposal.piece_cid.hash().to_owned())),
                "proposal PieceCID had wrong prefix",
            ),
            (
                refused(|d, _, _| d.proposal.end_epoch = d.proposal.start_epoch),
                "proposal end before proposal start",
            ),
            (
                refused(|d, _, _| {
                    d.proposal.start_epoch = HEAD - 1;
                    d.proposal.end_epoch = HEAD - 1 + DEAL_MIN_DURATION
                }),
                "deal start epoch has already elapsed",
            ),
            (
                refused(|d, _, _| d.proposal.end_epoch = d.proposal.start_epoch + DEAL_MIN_DURATION - 1),
                "deal duration out of bounds (min, max, provided): 518400, 3680640, 518399",
            ),
            (
                refused(|d, f, _| {
                    f.head = HEAD;
                    d.proposal.start_epoch = HEAD + 3000;
                    d.proposal.end_epoch = HEAD + 3000 + DEAL_MAX_DURATION
                }),
                "invalid deal end epoch",
            ),
            (
                refused(|d, _, _| d.proposal.provider_collateral = TokenAmount::from_atto(999)),
                "proposed provider collateral below minimum: 999 < 1000",
            ),
            (
                refused(|d, _, _| d.proposal.provider_collateral = TokenAmount::from_atto(1_000_001)),
                "proposed provider collateral above maximum",
            ),
            (refused(|_, f, _| f.ask = None), "failed to get ask for"),
            (
                refused(|d, _, _| d.proposal.storage_price_per_epoch = TokenAmount::from_atto(488_280)),
                "storage price per epoch less than asking price: 488280 < 488281",
            ),
            (
                refused(|d, _, _| d.proposal.piece_size = PaddedPieceSize(128)),
                "piece size less than minimum required size: 128 < 256",
            ),
            (
                refused(|d, _, _| {
                    d.proposal.piece_size = PaddedPieceSize(16 << 20);
                    d.proposal.storage_price_per_epoch = TokenAmount::from_atto(10_000_000)
                }),
                "piece size more than maximum allowed size",
            ),
            (
                refused(|_, f, _| f.client_available = TokenAmount::from_atto(1)),
                "clientMarketBalance.Available too small: 1 <",
            ),
            (
                refused(|d, _, _| d.proposal.verified_deal = true),
                "node error fetching verified data cap: data cap missing -- client not verified",
            ),
            (
                refused(|d, f, _| {
                    d.proposal.verified_deal = true;
                    f.client_datacap = Some(BigInt::from(1000))
                }),
                "verified deal DataCap too small for proposed piece size",
            ),
            (
                refused(|_, f, p| {
                    f.online = true;
                    p.consider_online = false
                }),
                "miner is not considering online storage deals",
            ),
            (
                refused(|_, _, p| p.consider_offline = false),
                "miner is not considering offline storage deals",
            ),
            (
                refused(|d, f, p| {
                    d.proposal.verified_deal = true;
                    f.client_datacap = Some(BigInt::from(1u64 << 30));
                    p.consider_verified = false
                }),
                "miner is not accepting verified storage deals",
            ),
            (
                refused(|_, _, p| p.consider_unverified = false),
                "miner is not accepting unverified storage deals",
            ),
            (
                refused(|d, _, p| p.piece_cid_blocklist.push(d.proposal.piece_cid)),
                "piece cid baga6ea4seaq",
            ),
            (
                refused(|d, _, _| {
                    d.proposal.start_epoch = HEAD + 10;
                    d.proposal.end_epoch = HEAD + 10 + DEAL_MIN_DURATION
                }),
                "cannot seal a sector before 12880",
            ),
            (
                refused(|d, _, p| {
                    p.max_start_delay_epochs = 10;
                    d.proposal.end_epoch += 0
                }),
                "deal start epoch is too far in the future",
            ),
        ];
        for (got, want) in cases {
            assert!(got.starts_with(want), "{got:?} should start with {want:?}");
        }
    }

    #[test]
    fn verified_deals_are_priced_at_the_verified_price() {
        let (mut d, mut f, p) = good();
        d.proposal.verified_deal = true;
        f.client_datacap = Some(BigInt::from(1u64 << 30));
        // 50_000_000 per GiB per epoch for 1 MiB: 48_828 (floor).
        d.proposal.storage_price_per_epoch = TokenAmount::from_atto(48_828);
        assert_eq!(check_proposal(&d, &f, &p), Ok(()));
        d.proposal.storage_price_per_epoch = TokenAmount::from_atto(48_827);
        assert!(check_proposal(&d, &f, &p).is_err());
    }
}

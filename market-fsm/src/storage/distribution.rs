//! How a client's verified (FIL+) deals are spread over providers and pieces — what the FIL+
//! rules are judged on (no more than 20% duplicated data at a provider; no more than 25% of a
//! client's DataCap at one provider) and what `ClientGetVerifiedDealDistribution` reports, with
//! droplet's definitions: sizes are padded piece sizes; a provider's `Uniq` counts each piece
//! once; `DuplicationPercentage = (Total − Uniq) / Total`; a client's share at a provider is the
//! provider's total over the client's total. Computed over the deals as they are now, each call.

use std::collections::BTreeMap;

use market_types::{Address, Cid};

/// One deal as the distribution counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealShare {
    pub client: Address,
    pub provider: Address,
    pub piece: Cid,
    /// Padded.
    pub size: u64,
}

/// One provider's deals (across clients, or one client's at it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderShare {
    pub total: u64,
    pub uniq: u64,
    /// Each piece once, with its size.
    pub pieces: BTreeMap<String, u64>,
}

impl ProviderShare {
    fn add(&mut self, piece: &Cid, size: u64) {
        self.total += size;
        if self.pieces.insert(piece.to_string(), size).is_none() {
            self.uniq += size;
        }
    }

    pub fn duplication(&self) -> f64 {
        ratio(self.total - self.uniq, self.total)
    }
}

/// One client's deals over its providers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientShare {
    pub total: u64,
    /// Each piece once across all its providers.
    pub uniq: u64,
    pub providers: BTreeMap<Address, ProviderShare>,
}

impl ClientShare {
    pub fn duplication(&self) -> f64 {
        ratio(self.total - self.uniq, self.total)
    }

    /// The part of the client's total at `provider`.
    pub fn share_at(&self, provider: &Address) -> f64 {
        ratio(self.providers.get(provider).map_or(0, |p| p.total), self.total)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// The distribution of `deals`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distribution {
    pub providers: BTreeMap<Address, ProviderShare>,
    pub clients: BTreeMap<Address, ClientShare>,
}

impl Distribution {
    pub fn of(deals: &[DealShare]) -> Distribution {
        let mut d = Distribution::default();
        for deal in deals {
            d.providers
                .entry(deal.provider)
                .or_default()
                .add(&deal.piece, deal.size);
            let c = d.clients.entry(deal.client).or_default();
            c.total += deal.size;
            c.providers
                .entry(deal.provider)
                .or_default()
                .add(&deal.piece, deal.size);
        }
        for c in d.clients.values_mut() {
            let mut seen: BTreeMap<&String, u64> = BTreeMap::new();
            for p in c.providers.values() {
                for (piece, size) in &p.pieces {
                    seen.entry(piece).or_insert(*size);
                }
            }
            c.uniq = seen.values().sum();
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(n: u8) -> Cid {
        let mh = cid::multihash::Multihash::<64>::wrap(0x12, &[n; 32]).expect("multihash");
        Cid::new_v1(0xf101, mh)
    }

    #[test]
    fn duplication_and_shares_follow_droplet_s_definitions() {
        let (c1, c2) = (Address::new_id(100), Address::new_id(101));
        let (p1, p2) = (Address::new_id(1000), Address::new_id(1001));
        let deal = |client, provider, piece, size| DealShare {
            client,
            provider,
            piece: cid(piece),
            size,
        };
        let d = Distribution::of(&[
            deal(c1, p1, 1, 100),
            deal(c1, p1, 1, 100), // the same piece twice at p1
            deal(c1, p2, 1, 100), // and once at p2
            deal(c1, p2, 2, 200),
            deal(c2, p1, 3, 400),
        ]);
        let at_p1 = &d.providers[&p1];
        assert_eq!((at_p1.total, at_p1.uniq), (600, 500));
        assert!((at_p1.duplication() - 100.0 / 600.0).abs() < 1e-12);
        let c = &d.clients[&c1];
        assert_eq!((c.total, c.uniq), (500, 300), "piece 1 once across providers");
        assert!((c.duplication() - 0.4).abs() < 1e-12);
        assert!((c.share_at(&p1) - 0.4).abs() < 1e-12);
        assert!((c.share_at(&p2) - 0.6).abs() < 1e-12);
        assert_eq!(c.share_at(&Address::new_id(9)), 0.0);
        assert_eq!(Distribution::of(&[]), Distribution::default());
    }
}

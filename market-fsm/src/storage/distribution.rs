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

/// At most this part of a provider's verified data may be copies of pieces it already holds.
pub const MAX_DUPLICATION: f64 = 0.20;
/// At most this part of a client's verified data may be at one provider.
pub const MAX_PROVIDER_SHARE: f64 = 0.25;

/// Why the FIL+ rules turn a deal away from a provider: the measure now and with the deal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilPlusRefusal {
    #[error(
        "{provider}: FIL+ duplication rule (at most 20%): {:.2}% of its verified data would be copies of pieces it holds (now {:.2}%)",
        100.0 * after,
        100.0 * now
    )]
    Duplication { provider: Address, now: f64, after: f64 },
    #[error(
        "{provider}: FIL+ 25% rule: it would hold {:.2}% of this client's verified data (now {:.2}%)",
        100.0 * after,
        100.0 * now
    )]
    ProviderShare { provider: Address, now: f64, after: f64 },
}

/// The FIL+ rules for one client's next deals: its providers' verified data (from every
/// client) and the client's own spread. Every measure is computed from the current totals
/// when asked (droplet keeps each provider's share as of its own last deal, so the others'
/// go stale as the client's total grows). A rule turns a deal away when the measure with the
/// deal would be over its limit and no better than now; the 25% rule starts once the client
/// has about ten deals' worth (a deal is at least a tenth of the total with it), as
/// droplet's, since the first deals always sit at one provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilPlusRules {
    pub providers: BTreeMap<Address, ProviderShare>,
    pub client: ClientShare,
}

impl FilPlusRules {
    /// Whether a deal of `piece` (`size` padded bytes) at `provider` keeps the rules.
    pub fn check(&self, provider: &Address, piece: &Cid, size: u64) -> Result<(), FilPlusRefusal> {
        let empty = ProviderShare::default();
        let pd = self.providers.get(provider).unwrap_or(&empty);
        let total = pd.total + size;
        let new_piece = !pd.pieces.contains_key(&piece.to_string());
        let uniq = pd.uniq + if new_piece { size } else { 0 };
        let (now, after) = (pd.duplication(), ratio(total - uniq, total));
        if after > MAX_DUPLICATION && after >= now {
            return Err(FilPlusRefusal::Duplication {
                provider: *provider,
                now,
                after,
            });
        }
        let client_total = self.client.total + size;
        if size.saturating_mul(10) < client_total {
            let at = self.client.providers.get(provider).map_or(0, |p| p.total);
            let (now, after) = (self.client.share_at(provider), ratio(at + size, client_total));
            if after > MAX_PROVIDER_SHARE && after >= now {
                return Err(FilPlusRefusal::ProviderShare {
                    provider: *provider,
                    now,
                    after,
                });
            }
        }
        Ok(())
    }

    /// Counts a deal made.
    pub fn add(&mut self, provider: &Address, piece: &Cid, size: u64) {
        self.providers.entry(*provider).or_default().add(piece, size);
        let key = piece.to_string();
        let seen = self.client.providers.values().any(|p| p.pieces.contains_key(&key));
        self.client.total += size;
        if !seen {
            self.client.uniq += size;
        }
        self.client.providers.entry(*provider).or_default().add(piece, size);
    }

    /// The provider among `miners` for a deal: of those the rules allow, the one holding the
    /// least of the client's data (the first given on a tie), so that a batch spreads; or
    /// every miner's refusal.
    pub fn choose(&self, miners: &[Address], piece: &Cid, size: u64) -> Result<Address, Vec<FilPlusRefusal>> {
        let mut refusals = Vec::new();
        let mut best: Option<(Address, u64)> = None;
        for m in miners {
            match self.check(m, piece, size) {
                Ok(()) => {
                    let held = self.client.providers.get(m).map_or(0, |p| p.total);
                    if best.is_none_or(|(_, b)| held < b) {
                        best = Some((*m, held));
                    }
                }
                Err(r) => refusals.push(r),
            }
        }
        best.map(|(m, _)| m).ok_or(refusals)
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

    #[test]
    fn the_duplication_rule_turns_away_copies_over_20_percent_but_not_new_pieces() {
        let p = Address::new_id(1000);
        let mut rules = FilPlusRules::default();
        for n in 0..4 {
            rules.add(&p, &cid(n), 100);
        }
        // A fifth copy of piece 0: 100 of 500 duplicated = 20%, at the limit.
        assert_eq!(rules.check(&p, &cid(0), 100), Ok(()));
        rules.add(&p, &cid(0), 100);
        // A sixth: 200/600 = 33%.
        let refused = rules.check(&p, &cid(1), 100).expect_err("over 20%");
        assert!(matches!(refused, FilPlusRefusal::Duplication { .. }), "{refused}");
        assert!(refused.to_string().contains("33.33%"), "{refused}");
        // New pieces always lower the duplication, so they pass even above the limit.
        let mut high = rules.clone();
        high.add(&p, &cid(1), 100);
        assert!(high.providers[&p].duplication() > MAX_DUPLICATION);
        assert_eq!(high.check(&p, &cid(9), 100), Ok(()));
    }

    #[test]
    fn the_25_percent_rule_starts_after_about_ten_deals_and_uses_current_totals() {
        let (a, b) = (Address::new_id(1000), Address::new_id(1001));
        let mut rules = FilPlusRules::default();
        // The first ten deals pass wherever they go.
        for n in 0..10 {
            let m = rules.choose(&[a, b], &cid(n), 100).expect("grace");
            rules.add(&m, &cid(n), 100);
        }
        assert_eq!(
            rules.client.providers[&a].total, 500,
            "the least loaded miner gets the next deal"
        );
        assert_eq!(rules.client.providers[&b].total, 500);
        // The eleventh: either miner would hold 600/1100 = 54.5% > 25%.
        let refusals = rules.choose(&[a, b], &cid(10), 100).expect_err("refused");
        assert_eq!(refusals.len(), 2);
        for r in &refusals {
            assert!(matches!(r, FilPlusRefusal::ProviderShare { .. }), "{r}");
            assert!(r.to_string().contains("25% rule"), "{r}");
        }
        // With two more providers holding most of the client's data, a and b are fine again:
        // their shares are judged on today's total, not the total when they last got a deal.
        let (c, d) = (Address::new_id(1002), Address::new_id(1003));
        for n in 20..40 {
            rules.add(if n % 2 == 0 { &c } else { &d }, &cid(n), 100);
        }
        assert!(rules.client.share_at(&a) < MAX_PROVIDER_SHARE);
        assert_eq!(rules.check(&a, &cid(41), 100), Ok(()));
    }
}

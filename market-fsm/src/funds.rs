//! The collateral ledger per miner (droplet's fund manager): provider collateral set aside for
//! deals that are not published yet, so two deals never count on the same escrow. When the
//! market escrow that has landed does not cover everything reserved, the ledger says how much
//! to add with AddBalance (deposits on their way are tracked, for display, but not counted). Reservations are kept per deal, so reserving
//! again for the same deal (a step re-run after a crash) changes nothing. The daemon stores
//! the ledger; it survives restarts.

use std::collections::BTreeMap;

use market_types::{Address, Cid, TokenAmount};

/// A miner's stored entry: its deals with their collateral, and its deposits in flight.
pub type StoredEntry = (Address, Vec<(Cid, TokenAmount)>, TokenAmount);

/// What a reservation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The escrow covers it; nothing to send.
    Covered,
    /// Send AddBalance with this much first.
    NeedsDeposit(TokenAmount),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entry {
    /// Collateral held per deal (by proposal CID).
    deals: BTreeMap<Cid, TokenAmount>,
    in_flight: TokenAmount,
}

impl Entry {
    fn reserved(&self) -> TokenAmount {
        self.deals.values().fold(TokenAmount::default(), |acc, a| acc + a)
    }
}

/// Reservations and pending deposits per miner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FundLedger {
    entries: BTreeMap<Address, Entry>,
}

impl FundLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `amount` aside for `deal` of `miner`, given the miner's escrow available on chain
    /// (escrow − locked).
    pub fn reserve(
        &mut self,
        miner: Address,
        deal: Cid,
        amount: &TokenAmount,
        escrow_available: &TokenAmount,
    ) -> Reservation {
        let e = self.entries.entry(miner).or_default();
        e.deals.insert(deal, amount.clone());
        // Only funds that have landed count: a deposit still on its way is not yet escrow,
        // and once it lands it shows in `escrow_available` (counting both would count it
        // twice while the sender has not heard it landed). Two reservations racing may
        // each deposit the gap: too much escrow is withdrawable, too little fails a publish.
        let reserved = e.reserved();
        if escrow_available >= &reserved {
            Reservation::Covered
        } else {
            Reservation::NeedsDeposit(&reserved - escrow_available)
        }
    }

    /// An AddBalance of `amount` was sent and has not landed yet.
    pub fn deposit_sent(&mut self, miner: Address, amount: &TokenAmount) {
        self.entries.entry(miner).or_default().in_flight += amount;
    }

    /// The AddBalance landed (or failed): it no longer counts as on its way.
    pub fn deposit_settled(&mut self, miner: Address, amount: &TokenAmount) {
        if let Some(e) = self.entries.get_mut(&miner) {
            e.in_flight = if &e.in_flight > amount {
                &e.in_flight - amount
            } else {
                TokenAmount::default()
            };
        }
    }

    /// Give back what a deal held (published, failed or cancelled).
    pub fn release(&mut self, miner: Address, deal: &Cid) {
        if let Some(e) = self.entries.get_mut(&miner) {
            e.deals.remove(deal);
            if e.deals.is_empty() && e.in_flight.is_zero() {
                self.entries.remove(&miner);
            }
        }
    }

    pub fn reserved(&self, miner: &Address) -> TokenAmount {
        self.entries.get(miner).map(Entry::reserved).unwrap_or_default()
    }

    pub fn in_flight(&self, miner: &Address) -> TokenAmount {
        self.entries.get(miner).map(|e| e.in_flight.clone()).unwrap_or_default()
    }

    /// Every miner's deals with their collateral, and its deposits in flight, for storing.
    pub fn entries(&self) -> impl Iterator<Item = (&Address, Vec<(Cid, TokenAmount)>, &TokenAmount)> {
        self.entries
            .iter()
            .map(|(a, e)| (a, e.deals.iter().map(|(c, v)| (*c, v.clone())).collect(), &e.in_flight))
    }

    /// Rebuild from stored entries.
    pub fn restore(entries: impl IntoIterator<Item = StoredEntry>) -> Self {
        let entries = entries
            .into_iter()
            .map(|(a, deals, in_flight)| {
                (
                    a,
                    Entry {
                        deals: deals.into_iter().collect(),
                        in_flight,
                    },
                )
            })
            .collect();
        FundLedger { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fil(n: u64) -> TokenAmount {
        TokenAmount::from_whole(n)
    }

    fn deal(n: u8) -> Cid {
        market_types::chain::chain_cid(&[n])
    }

    #[test]
    fn reservations_add_up_and_only_landed_escrow_covers_them() {
        let m = Address::new_id(1000);
        let mut l = FundLedger::new();
        assert_eq!(l.reserve(m, deal(1), &fil(2), &fil(5)), Reservation::Covered);
        assert_eq!(l.reserve(m, deal(2), &fil(2), &fil(5)), Reservation::Covered);
        // A third deal needs 6 against 5 available: deposit 1.
        assert_eq!(
            l.reserve(m, deal(3), &fil(2), &fil(5)),
            Reservation::NeedsDeposit(fil(1))
        );
        l.deposit_sent(m, &fil(1));
        // A deposit on its way does not count until it shows in the escrow.
        assert_eq!(
            l.reserve(m, deal(4), &fil(2), &fil(5)),
            Reservation::NeedsDeposit(fil(3))
        );
        assert_eq!(
            l.reserve(m, deal(4), &fil(2), &fil(6)),
            Reservation::NeedsDeposit(fil(2))
        );
        assert_eq!(l.reserved(&m), fil(8));
        l.deposit_settled(m, &fil(1));
        assert_eq!(l.in_flight(&m), fil(0));
        // Published deals give their collateral back.
        for n in 1..=4 {
            l.release(m, &deal(n));
        }
        assert_eq!(l.reserved(&m), fil(0));
        assert_eq!(l.entries().count(), 0, "empty entries go away");
    }

    #[test]
    fn reserving_again_for_a_deal_after_a_crash_counts_once() {
        let m = Address::new_id(1000);
        let mut l = FundLedger::new();
        assert_eq!(
            l.reserve(m, deal(1), &fil(3), &fil(0)),
            Reservation::NeedsDeposit(fil(3))
        );
        // The deposit landed; the step runs again after a restart: nothing more is needed,
        // and the deal is counted once.
        assert_eq!(l.reserve(m, deal(1), &fil(3), &fil(3)), Reservation::Covered);
        assert_eq!(l.reserved(&m), fil(3));
    }

    #[test]
    fn releases_of_unknown_deals_change_nothing_and_the_ledger_round_trips() {
        let (a, b) = (Address::new_id(1000), Address::new_id(1001));
        let mut l = FundLedger::new();
        l.reserve(a, deal(1), &fil(1), &fil(0));
        l.deposit_sent(a, &fil(1));
        l.reserve(b, deal(2), &fil(3), &fil(10));
        l.release(b, &deal(9));
        assert_eq!(l.reserved(&b), fil(3));
        let stored: Vec<_> = l.entries().map(|(m, d, f)| (*m, d, f.clone())).collect();
        assert_eq!(FundLedger::restore(stored), l);
    }
}

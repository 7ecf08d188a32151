//! The collateral ledger per miner (droplet's fund manager): provider collateral set aside for
//! deals that are not published yet, so two deals never count on the same escrow. When the
//! market escrow that has landed does not cover everything reserved, the ledger says how much
//! to add with AddBalance (deposits on their way are tracked, for display, but not counted). Reservations are kept per deal, so reserving
//! again for the same deal (a step re-run after a crash) changes nothing. The daemon stores
//! the ledger; it survives restarts.

use std::collections::BTreeMap;

use market_types::{Address, Cid, TokenAmount};

/// An address's stored entry: its deals with their collateral, its deposits in flight, and
/// what was reserved by hand (`MarketReserveFunds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub addr: Address,
    pub deals: Vec<(Cid, TokenAmount)>,
    pub in_flight: TokenAmount,
    pub manual: TokenAmount,
}

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
    /// Reserved through the API, not for a deal of ours.
    manual: TokenAmount,
}

impl Entry {
    fn reserved(&self) -> TokenAmount {
        self.deals.values().fold(self.manual.clone(), |acc, a| acc + a)
    }

    fn is_empty(&self) -> bool {
        self.deals.is_empty() && self.in_flight.is_zero() && self.manual.is_zero()
    }

    fn need(&self, escrow_available: &TokenAmount) -> Reservation {
        // Only funds that have landed count: a deposit still on its way is not yet escrow,
        // and once it lands it shows in `escrow_available` (counting both would count it
        // twice while the sender has not heard it landed). Two reservations racing may
        // each deposit the gap: too much escrow is withdrawable, too little fails a publish.
        let reserved = self.reserved();
        if escrow_available >= &reserved {
            Reservation::Covered
        } else {
            Reservation::NeedsDeposit(&reserved - escrow_available)
        }
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
        e.need(escrow_available)
    }

    /// Hold `amount` more of `addr`'s escrow back, not for any one deal (`MarketReserveFunds`).
    pub fn reserve_manual(
        &mut self,
        addr: Address,
        amount: &TokenAmount,
        escrow_available: &TokenAmount,
    ) -> Reservation {
        let e = self.entries.entry(addr).or_default();
        e.manual += amount;
        e.need(escrow_available)
    }

    /// Give back up to `amount` of what was reserved by hand (`MarketReleaseFunds`); returns
    /// what was released.
    pub fn release_manual(&mut self, addr: Address, amount: &TokenAmount) -> TokenAmount {
        let Some(e) = self.entries.get_mut(&addr) else {
            return TokenAmount::default();
        };
        let released = amount.clone().min(e.manual.clone());
        e.manual -= &released;
        if e.is_empty() {
            self.entries.remove(&addr);
        }
        released
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
            if e.is_empty() {
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

    /// One address's entry, for storing (`None` once it holds nothing).
    pub fn entry(&self, addr: &Address) -> Option<StoredEntry> {
        self.entries.get(addr).map(|e| StoredEntry {
            addr: *addr,
            deals: e.deals.iter().map(|(c, v)| (*c, v.clone())).collect(),
            in_flight: e.in_flight.clone(),
            manual: e.manual.clone(),
        })
    }

    /// Every entry, for storing.
    pub fn entries(&self) -> impl Iterator<Item = StoredEntry> + '_ {
        self.entries.keys().filter_map(|a| self.entry(a))
    }

    /// Put back one address's entry as stored (another process kept it until now).
    pub fn restore_entry(&mut self, s: StoredEntry) {
        self.entries.insert(
            s.addr,
            Entry {
                deals: s.deals.into_iter().collect(),
                in_flight: s.in_flight,
                manual: s.manual,
            },
        );
    }

    /// Rebuild from stored entries.
    pub fn restore(entries: impl IntoIterator<Item = StoredEntry>) -> Self {
        let mut ledger = FundLedger::new();
        for e in entries {
            ledger.restore_entry(e);
        }
        ledger
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
        l.reserve_manual(b, &fil(2), &fil(10));
        let stored: Vec<_> = l.entries().collect();
        assert_eq!(FundLedger::restore(stored), l);
    }

    #[test]
    fn manual_reservations_count_with_deals_and_release_no_more_than_was_held() {
        let a = Address::new_id(1001);
        let mut l = FundLedger::new();
        assert_eq!(l.reserve_manual(a, &fil(2), &fil(3)), Reservation::Covered);
        assert_eq!(
            l.reserve(a, deal(1), &fil(2), &fil(3)),
            Reservation::NeedsDeposit(fil(1))
        );
        assert_eq!(l.reserved(&a), fil(4));
        assert_eq!(l.release_manual(a, &fil(5)), fil(2), "only what was reserved by hand");
        assert_eq!(l.reserved(&a), fil(2));
        l.release(a, &deal(1));
        assert_eq!(l.entries().count(), 0);
        assert_eq!(l.release_manual(a, &fil(1)), fil(0));
    }
}

//! The client's market escrow through its API: deposits, withdrawals, and reservations made
//! by hand next to the ones its deals hold.

use market_daemon::funds::FundsError;
use market_daemon::store::StoreError;
use market_fsm::storage::funds::FundLedger;
use market_types::{Address, Cid, TokenAmount};

use super::{ClientDeals, lock};

impl ClientDeals {
    /// Escrow of `addr` held back for deals not yet published and by hand.
    pub fn reserved(&self, addr: &Address) -> TokenAmount {
        lock(&self.ledger).reserved(addr)
    }

    fn save_manual(&self, l: &FundLedger, addr: &Address) -> Result<(), StoreError> {
        let manual = l.entry(addr).map(|e| e.manual).unwrap_or_default();
        self.deals.put_manual_reservation(addr, &manual)
    }

    /// `MarketReserveFunds`.
    pub async fn reserve_manual(
        &self,
        wallet: Address,
        addr: Address,
        amount: TokenAmount,
    ) -> Result<Option<Cid>, FundsError> {
        let available = market_daemon::funds::available(&self.node, addr).await?;
        market_daemon::funds::reserve_by_hand(
            &self.ledger,
            available,
            (wallet, addr, amount),
            |l| self.save_manual(l, &addr),
            |msg| self.sender.push(msg),
        )
        .await
    }

    /// `MarketReleaseFunds`.
    pub fn release_manual(&self, addr: Address, amount: &TokenAmount) -> Result<(), StoreError> {
        let mut l = lock(&self.ledger);
        l.release_manual(addr, amount);
        self.save_manual(&l, &addr)
    }
}

//! The client's market escrow through its API: deposits, withdrawals, and reservations made
//! by hand next to the ones its deals hold.

use market_fsm::funds::Reservation;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::client::call_error;
use market_types::chain::{Message, TipSetKey};
use market_types::{Address, Cid, TokenAmount};

use super::{ClientDeals, lock};

impl ClientDeals {
    /// Escrow of `addr` held back for deals not yet published and by hand.
    pub fn reserved(&self, addr: &Address) -> TokenAmount {
        lock(&self.ledger).reserved(addr)
    }

    fn save_manual(&self, addr: &Address) -> Result<(), String> {
        let manual = lock(&self.ledger).entry(addr).map(|e| e.manual).unwrap_or_default();
        self.deals
            .put_manual_reservation(addr, &manual)
            .map_err(|e| format!("saving the reservation: {e}"))
    }

    /// `MarketReserveFunds`: hold `amount` back; send AddBalance from `wallet` for what the
    /// landed escrow does not cover.
    pub async fn reserve_manual(
        &self,
        wallet: Address,
        addr: Address,
        amount: TokenAmount,
    ) -> Result<Option<Cid>, String> {
        let bal = self
            .node
            .state_market_balance(Json(addr), Json(TipSetKey::empty()))
            .await
            .map_err(|e| format!("reading the market balance of {addr}: {}", call_error(e)))?
            .0;
        let need = lock(&self.ledger).reserve_manual(addr, &amount, &bal.available());
        self.save_manual(&addr)?;
        let Reservation::NeedsDeposit(deposit) = need else {
            return Ok(None);
        };
        match self.sender.push(Message::add_balance(wallet, addr, deposit)).await {
            Ok(id) => Ok(Some(id)),
            Err(e) => {
                lock(&self.ledger).release_manual(addr, &amount);
                self.save_manual(&addr)?;
                Err(format!("adding to the market escrow of {addr}: {e}"))
            }
        }
    }

    /// `MarketReleaseFunds`.
    pub fn release_manual(&self, addr: Address, amount: &TokenAmount) -> Result<(), String> {
        lock(&self.ledger).release_manual(addr, amount);
        self.save_manual(&addr)
    }
}

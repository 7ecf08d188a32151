//! Provider collateral: the fund ledger (persisted per miner), AddBalance when the escrow is
//! short (within `MaxMarketBalanceAddFee`), and the operator's own reservations.

use super::*;
use crate::store::Table;

pub(super) const LEDGER: Table = Table("fund-ledger/");

/// A miner's ledger entry as stored.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct LedgerEntry {
    miner: String,
    /// (proposal CID, attoFIL)
    deals: Vec<(String, String)>,
    in_flight: String,
    #[serde(default)]
    manual: String,
}

impl LedgerEntry {
    pub(super) fn into_parts(self) -> Option<StoredEntry> {
        let atto = |s: &str| s.parse::<market_types::BigInt>().ok().map(TokenAmount::from_atto);
        let deals = self
            .deals
            .iter()
            .filter_map(|(c, a)| Some((c.parse().ok()?, atto(a)?)))
            .collect();
        Some(StoredEntry {
            addr: market_types::address::parse(&self.miner).ok()?,
            deals,
            in_flight: atto(&self.in_flight)?,
            manual: atto(&self.manual).unwrap_or_default(),
        })
    }
}

impl DealRunner {
    /// Store every miner's entry (an emptied one is stored empty).
    pub(super) fn save_ledger(&self, l: &FundLedger, touched: Address) {
        let entry = l
            .entry(&touched)
            .map(|e| LedgerEntry {
                miner: e.addr.to_string(),
                deals: e
                    .deals
                    .iter()
                    .map(|(c, a)| (c.to_string(), a.atto().to_string()))
                    .collect(),
                in_flight: e.in_flight.atto().to_string(),
                manual: e.manual.atto().to_string(),
            })
            .unwrap_or(LedgerEntry {
                miner: touched.to_string(),
                deals: Vec::new(),
                in_flight: "0".into(),
                manual: "0".into(),
            });
        if let Err(e) = self.store.put_json(LEDGER, &touched.to_string(), &entry) {
            tracing::error!(error = %e, "saving the fund ledger");
        }
    }

    /// Set collateral aside; send AddBalance from the worker when the escrow is short. While
    /// the node cannot be reached the deal waits (asking again every few seconds) rather than
    /// failing: nothing is known, and nothing was reserved or sent.
    pub(super) async fn reserve(&self, miner: Address, deal: Cid, amount: TokenAmount) -> Event {
        let mut pause = Duration::from_millis(500);
        loop {
            match self.try_reserve(miner, deal, amount.clone()).await {
                Ok(event) => return event,
                Err(unreached) => {
                    tracing::warn!(%miner, proposal = %deal, error = %unreached, "collateral waits for the node");
                    self.set_waiting(deal, format!("waiting to set collateral aside: {unreached}"));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// One try of [`Self::reserve`]: the event, or why the node was not reached (the deal's
    /// reservation undone).
    async fn try_reserve(&self, miner: Address, deal: Cid, amount: TokenAmount) -> Result<Event, String> {
        let _funds = self.funds.lock().await;
        if let Some(message) = lock(&self.batch_reserved).remove(&deal) {
            // Set aside with its batch, the deposit (if any) sent once for all of them.
            return Ok(Event::FundsReserved { amount, message });
        }
        let bal = match self.chain.market_balance(&miner).await {
            Ok(b) => b,
            Err(e) if e.is_unavailable() => return Err(e.to_string()),
            Err(e) => return Ok(Event::FundingFailed(format!("reading the miner's market balance: {e}"))),
        };
        let need = {
            let mut l = lock(&self.ledger);
            let r = l.reserve(miner, deal, &amount, &bal.available());
            self.save_ledger(&l, miner);
            r
        };
        let deposit = match need {
            Reservation::Covered => return Ok(Event::FundsReserved { amount, message: None }),
            Reservation::NeedsDeposit(x) => x,
        };
        let undo = |why: String| {
            let mut l = lock(&self.ledger);
            l.release(miner, &deal);
            self.save_ledger(&l, miner);
            why
        };
        let from = match self.worker(miner).await {
            Ok(w) => w,
            Err(e) if e.is_unavailable() => return Err(undo(e.to_string())),
            Err(e) => return Ok(Event::FundingFailed(e.to_string())),
        };
        let msg = Message::add_balance(from, miner, deposit.clone());
        let max_fee = self.config.policy(Some(&miner)).max_add_balance_fee();
        match self.chain.push(msg, max_fee).await {
            Ok(id) => {
                let mut l = lock(&self.ledger);
                l.deposit_sent(miner, &deposit);
                self.save_ledger(&l, miner);
                Ok(Event::FundsReserved {
                    amount,
                    message: Some(id),
                })
            }
            Err(e) if e.is_unavailable() => Err(undo(e.to_string())),
            Err(e) => Ok(Event::FundingFailed(format!("reserving funds: {e}"))),
        }
    }

    /// Set aside the collateral of a batch of `miner`'s deals at once (droplet's "aggregated
    /// collateral" for `batch-import-data`): every deal reserved in the ledger, then one
    /// AddBalance for what the escrow lacks for all of them (droplet's sum is lost to a bug,
    /// so it reserves 0). Each deal's own reservation step then takes this one. Returns the
    /// deposit sent, if the escrow was short.
    pub async fn reserve_batch(&self, miner: Address, deals: &[(Cid, TokenAmount)]) -> Result<Option<Cid>, String> {
        if deals.is_empty() {
            return Ok(None);
        }
        let _funds = self.funds.lock().await;
        let bal = self
            .chain
            .market_balance(&miner)
            .await
            .map_err(|e| format!("reading {miner}'s market balance: {e}"))?;
        let need = {
            let mut l = lock(&self.ledger);
            let mut need = Reservation::Covered;
            for (deal, amount) in deals {
                need = l.reserve(miner, *deal, amount, &bal.available());
            }
            self.save_ledger(&l, miner);
            need
        };
        let release = |why: String| {
            let mut l = lock(&self.ledger);
            for (deal, _) in deals {
                l.release(miner, deal);
            }
            self.save_ledger(&l, miner);
            why
        };
        let message = match need {
            Reservation::Covered => None,
            Reservation::NeedsDeposit(deposit) => {
                let from = self.worker(miner).await.map_err(|e| release(e.to_string()))?;
                let msg = Message::add_balance(from, miner, deposit.clone());
                let max_fee = self.config.policy(Some(&miner)).max_add_balance_fee();
                let id = self
                    .chain
                    .push(msg, max_fee)
                    .await
                    .map_err(|e| release(format!("adding the batch's collateral to {miner}'s escrow: {e}")))?;
                let mut l = lock(&self.ledger);
                l.deposit_sent(miner, &deposit);
                self.save_ledger(&l, miner);
                tracing::info!(%miner, deals = deals.len(), deposit = %deposit, message = %id, "batch collateral: one deposit");
                Some(id)
            }
        };
        let mut b = lock(&self.batch_reserved);
        for (deal, _) in deals {
            b.insert(*deal, message);
        }
        Ok(message)
    }

    /// Give back a batch reservation whose deal's data did not import.
    pub fn release_batch(&self, miner: Address, deal: &Cid) {
        if lock(&self.batch_reserved).remove(deal).is_some() {
            let mut l = lock(&self.ledger);
            l.release(miner, deal);
            self.save_ledger(&l, miner);
        }
    }

    /// Escrow of `addr` held back for deals in progress and by hand.
    pub fn reserved(&self, addr: &Address) -> TokenAmount {
        lock(&self.ledger).reserved(addr)
    }

    /// `MarketReserveFunds`: hold `amount` of `addr`'s escrow back; when the escrow that has
    /// landed does not cover everything held, send AddBalance from `wallet` for the gap.
    pub async fn reserve_manual(
        &self,
        wallet: Address,
        addr: Address,
        amount: TokenAmount,
    ) -> Result<Option<Cid>, market_daemon::funds::FundsError> {
        let _funds = self.funds.lock().await;
        let available = self
            .chain
            .market_balance(&addr)
            .await
            .map(|b| b.available())
            .map_err(|e| market_daemon::funds::FundsError::Balance {
                addr,
                source: market_proto::client::CallError(e.to_string()),
            })?;
        market_daemon::funds::reserve_by_hand(
            &self.ledger,
            available,
            (wallet, addr, amount),
            |l| {
                self.save_ledger(l, addr);
                Ok(())
            },
            |msg| self.chain.push(msg, None),
        )
        .await
    }

    /// `MarketReleaseFunds`.
    pub async fn release_manual(&self, addr: Address, amount: &TokenAmount) -> TokenAmount {
        let _funds = self.funds.lock().await;
        let mut l = lock(&self.ledger);
        let released = l.release_manual(addr, amount);
        self.save_ledger(&l, addr);
        released
    }

    pub(super) async fn wait_funding(&self, miner: Address, message: Cid) -> Event {
        let lookup = self.chain.wait(&message).await;
        // The deposit is no longer on its way, landed or failed. A messager id is not a chain
        // CID: read the value from the message the lookup found.
        let chain_cid = lookup.as_ref().map_or(message, |l| l.message);
        let deposited = self.chain.message(&chain_cid).await.ok().map(|m| m.value);
        if let Some(v) = deposited {
            let mut l = lock(&self.ledger);
            l.deposit_settled(miner, &v);
            self.save_ledger(&l, miner);
        }
        match lookup {
            Ok(l) if l.receipt.exit_code == 0 => Event::Funded,
            Ok(l) => Event::FundingFailed(format!(
                "the collateral deposit (AddBalance {chain_cid}) failed on chain with exit code {} (check the worker's balance)",
                market_types::actors::exit_code::describe(l.receipt.exit_code)
            )),
            Err(e) => Event::FundingFailed(format!("AddFunds errored: {e}")),
        }
    }
}

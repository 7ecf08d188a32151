//! What both daemons share about market escrow: `MarketReserveFunds` on their fund ledger,
//! and for the `actor-funds` commands the balance report and the checks before a
//! withdrawal, as the Go droplet words them.

use std::sync::Mutex;

use jsonrpsee::http_client::HttpClient;
use market_fsm::storage::funds::{FundLedger, Reservation};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::client::{CallError, call_error};
use market_proto::messages::SendError;
use market_types::chain::{MarketBalance, Message, MsgLookup, TipSetKey};
use market_types::units::format_fil;
use market_types::{Address, Cid, TokenAmount};

/// Why a reservation by hand failed.
#[derive(Debug, thiserror::Error)]
pub enum FundsError {
    #[error("reading the market balance of {addr}: {source}")]
    Balance { addr: Address, source: CallError },
    #[error("saving the fund ledger: {0}")]
    Save(#[from] crate::store::StoreError),
    #[error("adding to the market escrow of {addr}: {source}")]
    Send { addr: Address, source: SendError },
}

/// `MarketReserveFunds`: hold `amount` of `addr`'s escrow back in `ledger`, against the
/// escrow `available` now; when that does not cover all that is held, `send` AddBalance from
/// `wallet` for the gap (returned). `save` stores the ledger after each change. If nothing
/// could be sent the reservation is taken back.
pub async fn reserve_by_hand<F>(
    ledger: &Mutex<FundLedger>,
    available: TokenAmount,
    (wallet, addr, amount): (Address, Address, TokenAmount),
    save: impl Fn(&FundLedger) -> Result<(), crate::store::StoreError>,
    send: impl FnOnce(Message) -> F,
) -> Result<Option<Cid>, FundsError>
where
    F: std::future::Future<Output = Result<Cid, SendError>>,
{
    let lock = || ledger.lock().unwrap_or_else(|p| p.into_inner());
    let need = {
        let mut l = lock();
        let r = l.reserve_manual(addr, &amount, &available);
        save(&l)?;
        r
    };
    let Reservation::NeedsDeposit(deposit) = need else {
        return Ok(None);
    };
    match send(Message::add_balance(wallet, addr, deposit)).await {
        Ok(id) => Ok(Some(id)),
        Err(e) => {
            let mut l = lock();
            l.release_manual(addr, &amount);
            save(&l)?;
            Err(FundsError::Send { addr, source: e })
        }
    }
}

/// The escrow of `addr` free for new reservations (escrow minus locked), from the node.
pub async fn available(node: &HttpClient, addr: Address) -> Result<TokenAmount, FundsError> {
    node.state_market_balance(Json(addr), Json(TipSetKey::empty()))
        .await
        .map(|b| b.0.available())
        .map_err(|e| FundsError::Balance {
            addr,
            source: call_error(e),
        })
}

/// Escrow minus locked minus reserved, never below zero.
pub fn withdrawable(bal: &MarketBalance, reserved: &TokenAmount) -> TokenAmount {
    (&bal.available() - reserved).max(TokenAmount::default())
}

/// The `actor-funds balances` report.
pub fn balance_report(addr: &str, bal: &MarketBalance, reserved: &TokenAmount) -> String {
    format!(
        "Client Market Balance for address {addr}:\n  Escrowed Funds:        {}\n  Locked Funds:          {}\n  Reserved Funds:        {}\n  Available to Withdraw: {}",
        format_fil(&bal.escrow),
        format_fil(&bal.locked),
        format_fil(reserved),
        format_fil(&withdrawable(bal, reserved))
    )
}

/// How much to withdraw: `requested`, or everything available; refused when it is not
/// positive or more than is available, with the sum spelled out.
pub fn withdraw_amount(
    requested: Option<TokenAmount>,
    bal: &MarketBalance,
    reserved: &TokenAmount,
) -> Result<TokenAmount, String> {
    let avail = withdrawable(bal, reserved);
    let explain = |msg: String| {
        format!(
            "{msg}; available ({}) = escrow ({}) - locked ({}) - reserved ({})",
            format_fil(&avail),
            format_fil(&bal.escrow),
            format_fil(&bal.locked),
            format_fil(reserved)
        )
    };
    if avail.is_zero() {
        return Err(explain("no funds available to withdraw".into()));
    }
    let amount = requested.unwrap_or_else(|| avail.clone());
    if !amount.is_positive() {
        return Err("amount must be > 0".into());
    }
    if amount > avail {
        return Err(explain(format!(
            "can't withdraw more funds than available; requested: {}",
            format_fil(&amount)
        )));
    }
    Ok(amount)
}

/// What a landed WithdrawBalance says it moved (its return value), against what was asked.
pub fn withdraw_outcome(lookup: &MsgLookup, requested: &TokenAmount) -> Result<String, String> {
    if lookup.receipt.exit_code != 0 {
        return Err(format!("withdrawal failed: exit code {}", lookup.receipt.exit_code));
    }
    let withdrawn: TokenAmount = market_types::cbor::from_slice(&lookup.receipt.return_data.0)
        .map_err(|e| format!("the withdrawal's return value does not decode: {e}"))?;
    let mut out = format!("Successfully withdrew {}", format_fil(&withdrawn));
    if &withdrawn < requested {
        out.push_str(&format!(
            "\nNote that this is less than the requested amount of {}",
            format_fil(requested)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bal(escrow: u64, locked: u64) -> MarketBalance {
        MarketBalance {
            escrow: TokenAmount::from_whole(escrow),
            locked: TokenAmount::from_whole(locked),
        }
    }

    #[test]
    fn withdrawals_take_what_is_free_and_refuse_more_with_the_sum() {
        let b = bal(10, 3);
        let reserved = TokenAmount::from_whole(2);
        assert_eq!(withdraw_amount(None, &b, &reserved), Ok(TokenAmount::from_whole(5)));
        assert_eq!(
            withdraw_amount(Some(TokenAmount::from_whole(1)), &b, &reserved),
            Ok(TokenAmount::from_whole(1))
        );
        let too_much = withdraw_amount(Some(TokenAmount::from_whole(6)), &b, &reserved).expect_err("refused");
        assert_eq!(
            too_much,
            "can't withdraw more funds than available; requested: 6 FIL; available (5 FIL) = escrow (10 FIL) - locked (3 FIL) - reserved (2 FIL)"
        );
        assert!(
            withdraw_amount(None, &bal(3, 3), &reserved)
                .expect_err("refused")
                .starts_with("no funds available to withdraw")
        );
        assert_eq!(
            withdraw_amount(Some(TokenAmount::default()), &b, &reserved).expect_err("refused"),
            "amount must be > 0"
        );
        let report = balance_report("t01000", &b, &reserved);
        assert!(report.contains("Escrowed Funds:        10 FIL"), "{report}");
        assert!(report.contains("Available to Withdraw: 5 FIL"), "{report}");
    }
}

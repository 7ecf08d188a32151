//! Funds and collateral per miner: market escrow and locked funds on chain, what droplet has
//! reserved for deals in flight, what can be withdrawn; add to escrow and withdraw from it.
//! The messages go out through droplet's sender (the messager, or the node) like `droplet
//! actor-funds add|withdraw`; the page shows the message and the balance follows once it lands.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use market_daemon::funds::{withdraw_amount, withdrawable};
use market_types::chain::Message;
use maud::html;
use serde::Deserialize;

use super::Ui;
use super::form::{addr, amount, served};
use super::page::{Notice, back, fil, page};
use crate::chain::DealChain;

pub async fn show(State(ui): State<Arc<Ui>>, Query(n): Query<Notice>) -> Response {
    let mut rows = Vec::new();
    for (miner, account) in ui.api.miners.list() {
        let balance = ui.api.chain.market_balance(&miner).await.map_err(|e| e.to_string());
        let worker = ui.api.chain.miner_info(&miner).await.ok().map(|i| i.worker);
        let reserved = ui.api.runner.reserved(&miner);
        rows.push((miner, account, balance, reserved, worker));
    }
    let body = html! {
        table #funds data-live {
            thead { tr {
                th { "Miner" } th { "Account" } th.num { "Escrow" } th.num { "Locked" }
                th.num { "Reserved for deals" } th.num { "Available to withdraw" }
            } }
            tbody {
                @for (miner, account, balance, reserved, _) in &rows {
                    tr data-miner=(miner) {
                        td { (miner) } td { (account) }
                        @match balance {
                            Ok(b) => {
                                td.num { (fil(&b.escrow)) } td.num { (fil(&b.locked)) }
                                td.num { (fil(reserved)) } td.num { (fil(&withdrawable(b, reserved))) }
                            }
                            Err(e) => td colspan="4" { span.notice.err { "reading the chain: " (e) } },
                        }
                    }
                }
            }
        }
        h2 { "Add to a miner's market escrow" }
        form.row method="post" action="/ui/funds/add" {
            label { "Miner" select name="miner" { @for (m, ..) in &rows { option value=(m) { (m) } } } }
            label { "From wallet" input type="text" name="from" required
                placeholder=(rows.first().and_then(|r| r.4).map(|w| w.to_string()).unwrap_or_default()); }
            label { "Amount (FIL)" input type="text" name="amount" required placeholder="1.5"; }
            button type="submit" { "Add" }
        }
        h2 { "Withdraw from a miner's market escrow" }
        form.row method="post" action="/ui/funds/withdraw" {
            label { "Miner" select name="miner" { @for (m, ..) in &rows { option value=(m) { (m) } } } }
            label { "To wallet (the miner's owner or worker)" input type="text" name="wallet" required
                placeholder=(rows.first().and_then(|r| r.4).map(|w| w.to_string()).unwrap_or_default()); }
            label { "Amount (FIL, empty: all available)" input type="text" name="amount" placeholder="all available"; }
            button type="submit" { "Withdraw" }
        }
    };
    page("Funds and collateral", "/ui/funds", &n, body).into_response()
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    miner: String,
    from: String,
    amount: String,
}

pub async fn add(State(ui): State<Arc<Ui>>, Form(f): Form<AddForm>) -> Response {
    let outcome = async {
        let (to, from, amount) = (
            served(&ui, &f.miner)?,
            addr(&f.from, "wallet")?,
            amount(&f.amount, "amount")?,
        );
        if !amount.is_positive() {
            return Err("the amount must be more than 0".to_string());
        }
        let id = ui
            .api
            .chain
            .sender
            .push(Message::add_balance(from, to, amount.clone()))
            .await
            .map_err(|e| format!("sending AddBalance: {e}"))?;
        Ok(format!("AddBalance of {} to {to} sent: message {id}", fil(&amount)))
    }
    .await;
    back("/ui/funds", outcome).into_response()
}

#[derive(Debug, Deserialize)]
pub struct WithdrawForm {
    miner: String,
    wallet: String,
    #[serde(default)]
    amount: String,
}

pub async fn withdraw(State(ui): State<Arc<Ui>>, Form(f): Form<WithdrawForm>) -> Response {
    let outcome = async {
        let (miner, wallet) = (served(&ui, &f.miner)?, addr(&f.wallet, "wallet")?);
        let requested = if f.amount.trim().is_empty() {
            None
        } else {
            Some(amount(&f.amount, "amount")?)
        };
        let balance = ui
            .api
            .chain
            .market_balance(&miner)
            .await
            .map_err(|e| format!("reading the balance of {miner}: {e}"))?;
        let amount = withdraw_amount(requested, &balance, &ui.api.runner.reserved(&miner))?;
        let id = ui
            .api
            .chain
            .sender
            .push(Message::withdraw_balance(wallet, miner, amount.clone()))
            .await
            .map_err(|e| format!("sending WithdrawBalance: {e}"))?;
        Ok(format!(
            "WithdrawBalance of {} from {miner} sent: message {id}",
            fil(&amount)
        ))
    }
    .await;
    back("/ui/funds", outcome).into_response()
}

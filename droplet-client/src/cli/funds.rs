//! `droplet-client actor-funds …`: the client's market escrow.

use anyhow::{Result, anyhow};
use clap::Subcommand;
use market_daemon::funds::{balance_report, withdraw_amount, withdraw_outcome};
use market_daemon::repo::Repo;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market_client::MarketClientClient;
use market_proto::client::call_error;
use market_types::Address;
use market_types::chain::TipSetKey;
use market_types::units::{format_fil, parse_fil};

use super::storage::{client_api, node};

#[derive(Debug, Subcommand)]
pub enum FundsCommand {
    /// Escrowed, locked, reserved and withdrawable market funds.
    Balances {
        /// The client address (default: the daemon's).
        #[arg(long)]
        client: Option<String>,
    },
    /// Add funds to a market escrow (AddBalance).
    Add {
        /// Amount in FIL.
        amount: String,
        /// The wallet the funds come from (default: the daemon's).
        #[arg(long, short = 'f')]
        from: Option<String>,
        /// The escrow to add to (default: --from).
        #[arg(long, short = 'a')]
        address: Option<String>,
    },
    /// Withdraw funds from a market escrow (WithdrawBalance); everything free by default.
    Withdraw {
        amount: Option<String>,
        /// The wallet to withdraw to (default: the daemon's).
        #[arg(long, short = 'w')]
        wallet: Option<String>,
        /// The escrow to withdraw from (default: --wallet).
        #[arg(long, short = 'a')]
        address: Option<String>,
        /// Confirmations to wait for.
        #[arg(long, default_value_t = 5)]
        confidence: u64,
    },
}

fn addr(s: &str) -> Result<Address> {
    market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"))
}

pub async fn run(repo: &Repo, cmd: FundsCommand) -> Result<()> {
    let api = client_api(repo)?;
    let node = node(repo).await?;
    let or_default = |a: Option<String>| {
        let api = api.clone();
        async move {
            match a {
                Some(a) => addr(&a),
                None => Ok(api.default_address().await.map_err(call_error)?.0),
            }
        }
    };
    let balance = |a: Address| {
        let (node, api) = (node.clone(), api.clone());
        async move {
            let bal = node
                .state_market_balance(Json(a), Json(TipSetKey::empty()))
                .await
                .map_err(|e| anyhow!("reading the market balance of {a}: {}", call_error(e)))?
                .0;
            let reserved = api.market_get_reserved(Json(a)).await.map_err(call_error)?.0;
            anyhow::Ok((bal, reserved))
        }
    };
    match cmd {
        FundsCommand::Balances { client } => {
            let a = or_default(client).await?;
            let (bal, reserved) = balance(a).await?;
            println!("{}", balance_report(&a.to_string(), &bal, &reserved));
        }
        FundsCommand::Add { amount, from, address } => {
            let amount = parse_fil(&amount).map_err(|e| anyhow!("parsing 'amount' argument: {e}"))?;
            let from = or_default(from).await?;
            let to = address.as_deref().map(addr).transpose()?.unwrap_or(from);
            println!(
                "Submitting Add Balance message for amount {} for address {to}",
                format_fil(&amount)
            );
            let id = api
                .market_add_balance(Json(from), Json(to), Json(amount))
                .await
                .map_err(|e| anyhow!("add balance error: {}", call_error(e)))?
                .0;
            let l = market_daemon::progress::waiting(
                &format!("message {id} landing on chain"),
                api.messager_wait_message(Json(id), 1),
            )
            .await
            .map_err(call_error)?
            .0;
            if l.receipt.exit_code != 0 {
                anyhow::bail!("AddBalance failed: exit code {}", l.receipt.exit_code);
            }
            println!("AddBalance message cid: {}", l.message);
        }
        FundsCommand::Withdraw {
            amount,
            wallet,
            address,
            confidence,
        } => {
            let wallet = or_default(wallet).await?;
            let from = address.as_deref().map(addr).transpose()?.unwrap_or(wallet);
            let (bal, reserved) = balance(from).await?;
            let requested = amount
                .as_deref()
                .map(|a| parse_fil(a).map_err(|e| anyhow!("parsing 'amount' argument: {e}")))
                .transpose()?;
            let amount = withdraw_amount(requested, &bal, &reserved).map_err(|e| anyhow!(e))?;
            println!(
                "Submitting WithdrawBalance message for amount {} for address {wallet}",
                format_fil(&amount)
            );
            let id = api
                .market_withdraw(Json(wallet), Json(from), Json(amount.clone()))
                .await
                .map_err(|e| anyhow!("fund manager withdraw error: {}", call_error(e)))?
                .0;
            println!("WithdrawBalance message cid: {id}");
            let l = market_daemon::progress::waiting(
                &format!("message {id} landing on chain"),
                api.messager_wait_message(Json(id), confidence),
            )
            .await
            .map_err(call_error)?
            .0;
            println!("{}", withdraw_outcome(&l, &amount).map_err(|e| anyhow!(e))?);
        }
    }
    Ok(())
}

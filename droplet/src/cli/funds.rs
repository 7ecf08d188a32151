//! `droplet actor-funds …`: the miners' market escrow.

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use droplet::repo::Repo;
use market_daemon::funds::{balance_report, withdraw_amount, withdraw_outcome};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market::MinerDeal;
use market_proto::api::market::clients::*;
use market_proto::client::call_error;
use market_types::actors::SettleDealPaymentsReturn;
use market_types::chain::{Message, TipSetKey};
use market_types::states::StorageDealStatus;
use market_types::units::{format_fil, parse_fil};
use market_types::{Address, TokenAmount, cbor};

use super::{address, daemon, node, set_network};

#[derive(Debug, Subcommand)]
pub enum FundsCmd {
    /// Escrowed, locked, reserved and withdrawable market funds (every served miner when no
    /// address is given).
    Balances { address: Option<String> },
    /// Add funds to a market escrow (AddBalance).
    Add {
        /// Amount in FIL (e.g. 1.5 or 1.5fil).
        amount: String,
        /// The wallet the funds come from.
        #[arg(long, short = 'f')]
        from: String,
        /// The escrow to add to (a miner or an account).
        #[arg(long, short = 'a')]
        address: String,
    },
    /// Withdraw funds from a market escrow (WithdrawBalance); all that is free by default.
    Withdraw {
        /// Amount in FIL; everything available when left out.
        amount: Option<String>,
        /// The wallet that sends the message (the miner's owner or worker).
        #[arg(long, short = 'w')]
        wallet: String,
        /// The escrow to withdraw from.
        #[arg(long, short = 'a')]
        address: String,
    },
    /// Settle deal payments (SettleDealPaymentsExported): pays the provider for time stored
    /// and releases the collateral of deals that have ended.
    SettleDeal {
        #[arg(long)]
        miner: String,
        /// The sender (default: the miner's worker).
        #[arg(long)]
        from: Option<String>,
        /// Deal IDs (default: the miner's active and expired deals this droplet knows).
        deal_ids: Vec<u64>,
    },
}

fn fil(s: &str) -> Result<TokenAmount> {
    parse_fil(s).map_err(|e| anyhow!("{s:?} is not an amount of FIL: {e}"))
}

pub async fn run(repo: &Repo, cmd: FundsCmd) -> Result<()> {
    let node = node(repo)?;
    set_network(&node).await;
    let api = daemon(repo)?;
    let balance = |a: Address| {
        let node = node.clone();
        async move {
            node.state_market_balance(Json(a), Json(TipSetKey::empty()))
                .await
                .map(|b| b.0)
                .map_err(|e| anyhow!("reading the market balance of {a}: {}", call_error(e)))
        }
    };
    match cmd {
        FundsCmd::Balances { address: addr } => {
            let addrs = match addr {
                Some(a) => vec![address(&a)?],
                None => api
                    .actor_list()
                    .await
                    .map_err(call_error)?
                    .into_iter()
                    .map(|m| m.addr.0)
                    .collect(),
            };
            if addrs.is_empty() {
                bail!("this droplet serves no miner: pass an address");
            }
            for a in addrs {
                let bal = balance(a).await?;
                let reserved = api.market_get_reserved(Json(a)).await.map_err(call_error)?.0;
                println!("{}", balance_report(&a.to_string(), &bal, &reserved));
            }
        }
        FundsCmd::Add {
            amount,
            from,
            address: to,
        } => {
            let (amount, from, to) = (fil(&amount)?, address(&from)?, address(&to)?);
            println!(
                "Submitting Add Balance message for amount {} for address {to}",
                format_fil(&amount)
            );
            let id = api
                .market_add_balance(Json(from), Json(to), Json(amount))
                .await
                .map_err(call_error)?
                .0;
            println!("msg uid is : {id}, waiting for the processing result ...");
            let l = landed(&api, id).await?;
            if l.receipt.exit_code != 0 {
                bail!("msg run failed, exit code {}", l.receipt.exit_code);
            }
            println!("AddBalance message cid: {}", l.message);
        }
        FundsCmd::Withdraw {
            amount,
            wallet,
            address: from,
        } => {
            let (wallet, from) = (address(&wallet)?, address(&from)?);
            let bal = balance(from).await?;
            let reserved = api.market_get_reserved(Json(from)).await.map_err(call_error)?.0;
            let requested = amount.as_deref().map(fil).transpose()?;
            let amount = withdraw_amount(requested, &bal, &reserved).map_err(|e| anyhow!(e))?;
            println!(
                "Submitting WithdrawBalance message for amount {} for address {wallet}",
                format_fil(&amount)
            );
            let id = api
                .market_withdraw(Json(wallet), Json(from), Json(amount.clone()))
                .await
                .map_err(call_error)?
                .0;
            let l = landed(&api, id).await?;
            println!("WithdrawBalance message cid: {}", l.message);
            println!("{}", withdraw_outcome(&l, &amount).map_err(|e| anyhow!(e))?);
        }
        FundsCmd::SettleDeal { miner, from, deal_ids } => {
            let miner = address(&miner)?;
            let from = match from {
                Some(f) => address(&f)?,
                None => {
                    node.state_miner_info(Json(miner), Json(TipSetKey::empty()))
                        .await
                        .map_err(|e| anyhow!("reading miner {miner}: {}", call_error(e)))?
                        .0
                        .worker
                }
            };
            let ids = if deal_ids.is_empty() {
                settleable(
                    &api.market_list_incomplete_deals(None).await.map_err(call_error)?,
                    miner,
                )
            } else {
                deal_ids
            };
            if ids.is_empty() {
                println!("miner {miner} has no active or expired deals to settle");
                return Ok(());
            }
            println!("settling {} deal(s) of {miner}: {ids:?}", ids.len());
            let msg = Message::settle_deal_payments(from, ids.iter().copied());
            let id = api.messager_push_message(Json(msg), None).await.map_err(call_error)?.0;
            let l = landed(&api, id).await?;
            println!("SettleDealPayments message cid: {}", l.message);
            if l.receipt.exit_code != 0 {
                bail!("settling failed: exit code {}", l.receipt.exit_code);
            }
            let ret: SettleDealPaymentsReturn = cbor::from_slice(&l.receipt.return_data.0)
                .map_err(|e| anyhow!("the settlement's return value does not decode: {e}"))?;
            let failed: std::collections::HashMap<u64, u64> =
                ret.results.fail_codes.iter().map(|f| (f.idx, f.code)).collect();
            let mut settled = ret.settlements.iter();
            for (i, id) in ids.iter().enumerate() {
                match failed.get(&(i as u64)) {
                    Some(code) => println!("deal {id}: not settled (exit code {code})"),
                    None => {
                        if let Some(s) = settled.next() {
                            let done = if s.completed { ", completed" } else { "" };
                            println!("deal {id}: paid {}{done}", format_fil(&s.payment));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The miner's deals worth settling: those with a deal ID that are active or have ended.
fn settleable(deals: &[MinerDeal], miner: Address) -> Vec<u64> {
    let mut ids: Vec<u64> = deals
        .iter()
        .filter(|d| d.proposal.0.proposal.provider == miner)
        .filter(|d| {
            matches!(
                StorageDealStatus::from_u64(d.state),
                Some(StorageDealStatus::Active | StorageDealStatus::Expired)
            )
        })
        .map(|d| d.deal_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Wait (with progress) until message `id` is on chain.
async fn landed(
    api: &jsonrpsee::http_client::HttpClient,
    id: market_types::Cid,
) -> Result<market_types::chain::MsgLookup> {
    Ok(market_daemon::progress::waiting(
        &format!("message {id} landing on chain"),
        api.messager_wait_message(Json(id), 1),
    )
    .await
    .map_err(call_error)?
    .0)
}

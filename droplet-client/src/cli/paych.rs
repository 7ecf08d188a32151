//! `droplet-client paych …`: the payment channels retrievals pay through, the same ones the
//! daemon's retrievals use (droplet-client's CLI talks to the full node instead, so its
//! channels were unknown to its retrievals).

use anyhow::{Result, anyhow};
use clap::Subcommand;
use market_daemon::repo::Repo;
use market_proto::Json;
use market_proto::api::market_client::MarketClientClient;
use market_proto::client::call_error;
use market_types::units::{format_fil, parse_fil};

use super::storage::{client_api, node};

#[derive(Debug, Subcommand)]
pub enum PaychCommand {
    /// Make sure a channel from <from> to <to> has <amount> not yet promised: reuses the
    /// channel's funds, else adds funds or creates it (and waits for the message).
    AddFunds { from: String, to: String, amount: String },
    /// This client's channels: funds, what vouchers promise, lanes.
    List,
    /// Vouchers of a channel.
    Voucher {
        #[command(subcommand)]
        cmd: VoucherCommand,
    },
    /// Settle a channel (its payee may collect after the settle delay).
    Settle { channel: String },
    /// Collect a settled channel: the rest comes back to the payer.
    Collect { channel: String },
}

#[derive(Debug, Subcommand)]
pub enum VoucherCommand {
    /// Every voucher made on a channel.
    List { channel: String },
}

fn address(s: &str) -> Result<market_types::Address> {
    market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"))
}

pub async fn run(repo: &Repo, cmd: PaychCommand) -> Result<()> {
    let api = client_api(repo)?;
    let _ = node(repo).await?;
    match cmd {
        PaychCommand::AddFunds { from, to, amount } => {
            let amount = parse_fil(&amount).map_err(|e| anyhow!("amount {amount:?}: {e}"))?;
            let info = api
                .paych_get(Json(address(&from)?), Json(address(&to)?), Json(amount))
                .await
                .map_err(call_error)?;
            println!("{}", info.channel.0);
        }
        PaychCommand::List => {
            println!(
                "{:<44} {:<44} {:<44} {:>22} {:>22} {:>6}  Settling",
                "Channel", "From", "To", "Funds", "Promised", "Lanes"
            );
            for c in api.paych_list().await.map_err(call_error)? {
                println!(
                    "{:<44} {:<44} {:<44} {:>22} {:>22} {:>6}  {}",
                    c.channel.map(|c| c.0.to_string()).unwrap_or_else(|| "(pending)".into()),
                    c.from.0.to_string(),
                    c.to.0.to_string(),
                    format_fil(&c.amount.0),
                    format_fil(&c.promised.0),
                    c.lanes,
                    c.settling
                );
            }
        }
        PaychCommand::Voucher {
            cmd: VoucherCommand::List { channel },
        } => {
            for v in api
                .paych_voucher_list(Json(address(&channel)?))
                .await
                .map_err(call_error)?
            {
                println!("Lane {}, Nonce {}: {}", v.lane, v.nonce, format_fil(&v.amount));
            }
        }
        PaychCommand::Settle { channel } => {
            let c = api.paych_settle(Json(address(&channel)?)).await.map_err(call_error)?;
            println!("settling: {}", c.0);
        }
        PaychCommand::Collect { channel } => {
            let c = api.paych_collect(Json(address(&channel)?)).await.map_err(call_error)?;
            println!("collecting: {}", c.0);
        }
    }
    Ok(())
}

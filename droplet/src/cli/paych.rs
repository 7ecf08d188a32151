//! `droplet paych …`: the payment channels retrievals were paid through, and redeeming them.

use anyhow::{Result, anyhow};
use clap::Subcommand;
use market_daemon::repo::Repo;
use market_proto::Json;
use market_proto::api::retrieval::MarketRetrievalClient;
use market_proto::client::call_error;
use market_types::units::format_fil;

use super::{daemon, node, set_network};

#[derive(Debug, Subcommand)]
pub enum PaychCmd {
    /// Inbound channels: what their vouchers are worth, what was submitted, their state.
    List,
    /// Vouchers of a channel.
    Voucher {
        #[command(subcommand)]
        cmd: VoucherCmd,
    },
    /// Settle a channel (collect after the settle delay).
    Settle { channel: String },
    /// Collect a settled channel: the vouchers' value comes to the payment address.
    Collect { channel: String },
}

#[derive(Debug, Subcommand)]
pub enum VoucherCmd {
    /// The best voucher of each lane.
    List { channel: String },
    /// Submit the best voucher of every lane not yet on chain.
    Submit { channel: String },
}

fn address(s: &str) -> Result<market_types::Address> {
    market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"))
}

pub async fn run(repo: &Repo, cmd: PaychCmd) -> Result<()> {
    let api = daemon(repo)?;
    if let Ok(n) = node(repo) {
        set_network(&n).await;
    }
    match cmd {
        PaychCmd::List => {
            println!(
                "{:<44} {:<10} {:<10} {:>6} {:>22} {:>22} {:>22}  SettlingAt",
                "Channel", "From", "To", "Lanes", "Vouchers", "Submitted", "Balance"
            );
            for c in api.paych_inbound_list().await.map_err(call_error)? {
                println!(
                    "{:<44} {:<10} {:<10} {:>6} {:>22} {:>22} {:>22}  {}",
                    c.channel.0.to_string(),
                    c.from.0.to_string(),
                    c.to.0.to_string(),
                    c.lanes,
                    format_fil(&c.best.0),
                    format_fil(&c.submitted.0),
                    c.balance
                        .map(|b| format_fil(&b.0))
                        .unwrap_or_else(|| "collected".into()),
                    match c.settling_at {
                        Some(0) => "-".to_string(),
                        Some(e) => e.to_string(),
                        None => "-".to_string(),
                    }
                );
            }
        }
        PaychCmd::Voucher {
            cmd: VoucherCmd::List { channel },
        } => {
            for v in api
                .paych_voucher_list(Json(address(&channel)?))
                .await
                .map_err(call_error)?
            {
                println!("Lane {}, Nonce {}: {}", v.lane, v.nonce, format_fil(&v.amount));
            }
        }
        PaychCmd::Voucher {
            cmd: VoucherCmd::Submit { channel },
        } => {
            let sent = api
                .paych_submit_vouchers(Json(address(&channel)?))
                .await
                .map_err(call_error)?;
            if sent.is_empty() {
                println!("every lane's best voucher is already on chain");
            }
            for c in sent {
                println!("submitted: {}", c.0);
            }
        }
        PaychCmd::Settle { channel } => {
            let c = api.paych_settle(Json(address(&channel)?)).await.map_err(call_error)?;
            println!("settling: {}", c.0);
        }
        PaychCmd::Collect { channel } => {
            let c = api.paych_collect(Json(address(&channel)?)).await.map_err(call_error)?;
            println!("collected: {}", c.0);
        }
    }
    Ok(())
}

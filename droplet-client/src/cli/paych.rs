//! `droplet-client paych …`: the payment channels retrievals pay through, the same ones the
//! daemon's retrievals use (droplet-client's CLI talks to the full node instead, so its
//! channels were unknown to its retrievals).

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use market_daemon::repo::Repo;
use market_proto::Json;
use market_proto::api::market_client::MarketClientClient;
use market_proto::client::call_error;
use market_types::chain::SignedVoucher;
use market_types::units::{format_fil, parse_fil};

use super::storage::{client_api, node};

#[derive(Debug, Subcommand)]
pub enum PaychCommand {
    /// Make sure a channel from <from> to <to> has <amount> not yet promised: reuses the
    /// channel's funds, else adds funds or creates it (and waits for the message).
    AddFunds { from: String, to: String, amount: String },
    /// This client's channels: funds, what vouchers promise, lanes.
    List,
    /// One channel's funds: on chain, promised by vouchers, still available.
    Status { channel: String },
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
    List {
        channel: String,
        /// Print each voucher, encoded, too.
        #[arg(long)]
        export: bool,
    },
    /// Make a voucher for the cumulative <amount> on a lane; prints it encoded.
    Create {
        channel: String,
        amount: String,
        #[arg(long, default_value_t = 0)]
        lane: u64,
    },
    /// Check an encoded voucher against the channel.
    Check { channel: String, voucher: String },
    /// Keep an encoded voucher (made elsewhere with the payer's key).
    Add { channel: String, voucher: String },
    /// The best voucher of each lane, encoded.
    BestSpendable { channel: String },
}

/// A voucher as lotus prints it: base64url (no padding) of its CBOR.
fn encode_voucher(v: &SignedVoucher) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(market_types::cbor::to_vec(v))
}

fn decode_voucher(s: &str) -> Result<SignedVoucher> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim().trim_end_matches('='))
        .map_err(|e| anyhow!("the voucher is not base64url: {e}"))?;
    market_types::cbor::from_slice(&bytes).map_err(|e| anyhow!("the voucher does not decode: {e}"))
}

fn address(s: &str) -> Result<market_types::Address> {
    market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"))
}

async fn voucher(api: &jsonrpsee::http_client::HttpClient, cmd: VoucherCommand) -> Result<()> {
    match cmd {
        VoucherCommand::List { channel, export } => {
            for v in api
                .paych_voucher_list(Json(address(&channel)?))
                .await
                .map_err(call_error)?
            {
                let mut line = format!("Lane {}, Nonce {}: {}", v.lane, v.nonce, format_fil(&v.amount));
                if export {
                    line.push_str(&format!("; {}", encode_voucher(&v)));
                }
                println!("{line}");
            }
        }
        VoucherCommand::Create { channel, amount, lane } => {
            let amount = parse_fil(&amount).map_err(|e| anyhow!("amount {amount:?}: {e}"))?;
            let ch = address(&channel)?;
            let r = api
                .paych_voucher_create(Json(ch), Json(amount.clone()), lane)
                .await
                .map_err(call_error)?;
            let Some(v) = r.voucher else {
                bail!(
                    "could not create a voucher for {}: the channel is {} short; add funds",
                    format_fil(&amount),
                    format_fil(&r.shortfall.0)
                );
            };
            println!("{}", encode_voucher(&v));
        }
        VoucherCommand::Check { channel, voucher } => {
            let v = decode_voucher(&voucher)?;
            api.paych_voucher_check_valid(Json(address(&channel)?), v)
                .await
                .map_err(call_error)?;
            println!("voucher is valid");
        }
        VoucherCommand::Add { channel, voucher } => {
            let v = decode_voucher(&voucher)?;
            let delta = api
                .paych_voucher_add(Json(address(&channel)?), v, None, Json(Default::default()))
                .await
                .map_err(call_error)?;
            println!("added: {}", format_fil(&delta.0));
        }
        VoucherCommand::BestSpendable { channel } => {
            let all = api
                .paych_voucher_list(Json(address(&channel)?))
                .await
                .map_err(call_error)?;
            let mut best: std::collections::BTreeMap<u64, SignedVoucher> = Default::default();
            for v in all {
                if best.get(&v.lane).is_none_or(|b| v.nonce > b.nonce) {
                    best.insert(v.lane, v);
                }
            }
            for v in best.values() {
                println!(
                    "Lane {}, Nonce {}: {}; {}",
                    v.lane,
                    v.nonce,
                    format_fil(&v.amount),
                    encode_voucher(v)
                );
            }
        }
    }
    Ok(())
}

pub async fn run(repo: &Repo, cmd: PaychCommand) -> Result<()> {
    let api = client_api(repo)?;
    let _ = node(repo).await?;
    match cmd {
        PaychCommand::AddFunds { from, to, amount } => {
            let amount = parse_fil(&amount).map_err(|e| anyhow!("amount {amount:?}: {e}"))?;
            let (from, to) = (address(&from)?, address(&to)?);
            let info = market_daemon::progress::waiting(
                "the payment channel's message landing on chain",
                api.paych_get(Json(from), Json(to), Json(amount)),
            )
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
        PaychCommand::Status { channel } => {
            let f = api
                .paych_available_funds(Json(address(&channel)?))
                .await
                .map_err(call_error)?;
            println!("Channel exists");
            println!("Channel: {}", f.channel.map(|c| c.0.to_string()).unwrap_or_default());
            println!("From: {}", f.from.0);
            println!("To: {}", f.to.0);
            println!("Confirmed Amt: {}", format_fil(&f.confirmed_amt.0));
            println!("Pending Amt: {}", format_fil(&f.pending_amt.0));
            println!("Queued Amt: {}", format_fil(&f.queued_amt.0));
            println!("Voucher Redeemed Amt: {}", format_fil(&f.voucher_reedeemed_amt.0));
            println!("Available: {}", format_fil(&f.non_reserved_amt.0));
        }
        PaychCommand::Voucher { cmd } => voucher(&api, cmd).await?,
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

//! `droplet storage ask …` and `droplet retrieval ask …`.

use anyhow::{Result, bail};
use clap::Subcommand;
use droplet::repo::Repo;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market::clients::*;
use market_proto::api::retrieval::MarketRetrievalClient;
use market_proto::client::call_error;
use market_types::retrieval::RetrievalAsk;
use market_types::storage::SignedStorageAsk;
use market_types::units::{
    EPOCH_DURATION_SECONDS, PaddedPieceSize, format_fil, format_go_duration, format_size, parse_fil, parse_size,
};
use market_types::{BigInt, TokenAmount};

use super::{address, daemon, node, set_network};

use droplet::asks::ASK_DURATION_EPOCHS;

#[derive(Debug, Subcommand)]
pub enum StorageCmd {
    /// Storage asks.
    Ask {
        #[command(subcommand)]
        cmd: StorageAskCmd,
    },
    /// Storage deals.
    Deal {
        #[command(subcommand)]
        cmd: super::deal::DealCmd,
    },
    /// Direct deals: DataCap allocations imported without deal proposals.
    DirectDeal {
        #[command(subcommand)]
        cmd: super::direct::DirectDealCmd,
    },
    /// Deal acceptance settings per miner.
    Cfg {
        #[command(subcommand)]
        cmd: super::cfg::CfgCmd,
    },
}

#[derive(Debug, Subcommand)]
pub enum StorageAskCmd {
    /// Set a miner's storage ask (signed by its worker).
    Set {
        miner: String,
        /// Price per GiB per epoch, e.g. 0.01fil or 0.
        #[arg(long)]
        price: String,
        /// Price per GiB per epoch for verified deals.
        #[arg(long)]
        verified_price: String,
        #[arg(long, default_value = "256B")]
        min_piece_size: String,
        /// 0 means the miner's sector size.
        #[arg(long, default_value = "0")]
        max_piece_size: String,
    },
    /// A miner's storage ask.
    Get { miner: String },
    /// Every miner's storage ask.
    List,
}

#[derive(Debug, Subcommand)]
pub enum RetrievalCmd {
    /// Retrieval asks.
    Ask {
        #[command(subcommand)]
        cmd: RetrievalAskCmd,
    },
    /// Retrieval deals.
    Deal {
        #[command(subcommand)]
        cmd: super::retrieval::RetrievalDealCmd,
    },
    /// Which retrieval deals are considered (a miner, or `common`).
    Selection {
        #[command(subcommand)]
        cmd: super::retrieval::SelectionCmd,
    },
    /// The retrieval transports a miner's peer serves (`/fil/retrieval/transports/1.0.0`).
    Protocols { miner: String },
}

#[derive(Debug, Subcommand)]
pub enum RetrievalAskCmd {
    /// Set a miner's retrieval ask.
    Set {
        miner: String,
        /// Price per GiB, e.g. 0.02fil.
        #[arg(long, default_value = "0")]
        price: String,
        /// Price to unseal.
        #[arg(long, default_value = "0")]
        unseal_price: String,
        #[arg(long, default_value = "1MiB")]
        payment_interval: String,
        #[arg(long, default_value = "1MiB")]
        payment_interval_increase: String,
    },
    /// A miner's retrieval ask.
    Get { miner: String },
    /// Every miner's retrieval ask.
    List,
}

fn fil(s: &str, what: &str) -> Result<TokenAmount> {
    parse_fil(s).map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

fn size(s: &str, what: &str) -> Result<u64> {
    parse_size(s).map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

pub async fn storage(repo: &Repo, cmd: StorageCmd) -> Result<()> {
    let cmd = match cmd {
        StorageCmd::Ask { cmd } => cmd,
        StorageCmd::Deal { cmd } => return super::deal::run(repo, cmd).await,
        StorageCmd::Cfg { cmd } => return super::cfg::run(repo, cmd).await,
        StorageCmd::DirectDeal { cmd } => return super::direct::run(repo, cmd).await,
    };
    let api = daemon(repo)?;
    match cmd {
        StorageAskCmd::Set {
            miner,
            price,
            verified_price,
            min_piece_size,
            max_piece_size,
        } => {
            let m = address(&miner)?;
            let (min, max) = (
                size(&min_piece_size, "--min-piece-size")?,
                size(&max_piece_size, "--max-piece-size")?,
            );
            api.market_set_ask(
                Json(m),
                Json(fil(&price, "--price")?),
                Json(fil(&verified_price, "--verified-price")?),
                ASK_DURATION_EPOCHS,
                Json(PaddedPieceSize(min)),
                Json(PaddedPieceSize(max)),
            )
            .await
            .map_err(call_error)?;
            let ask = api.market_get_ask(Json(m)).await.map_err(call_error)?;
            print_asks(repo, ask.into_iter().map(|a| a.0).collect()).await;
        }
        StorageAskCmd::Get { miner } => {
            let m = address(&miner)?;
            match api.market_get_ask(Json(m)).await.map_err(call_error)? {
                Some(a) => print_asks(repo, vec![a.0]).await,
                None => bail!("miner {m} has no storage ask yet (set one with `droplet storage ask set`)"),
            }
        }
        StorageAskCmd::List => {
            print_asks(
                repo,
                api.market_list_storage_ask()
                    .await
                    .map_err(call_error)?
                    .into_iter()
                    .map(|a| a.0)
                    .collect(),
            )
            .await
        }
    }
    Ok(())
}

/// The table droplet prints, with the remaining time from the chain head when the node answers.
async fn print_asks(repo: &Repo, asks: Vec<SignedStorageAsk>) {
    let head = match node(repo) {
        Ok(n) => {
            set_network(&n).await;
            n.chain_head().await.ok().map(|t| t.0.height())
        }
        Err(_) => None,
    };
    println!(
        "Miner\tPrice per GiB/Epoch\tVerified\tMin. Piece Size (padded)\tMax. Piece Size (padded)\tExpiry (Epoch)\tExpiry (Appx. Rem. Time)\tSeq. No."
    );
    for a in asks.into_iter().filter_map(|s| s.ask) {
        let rem = head.map_or_else(
            || "-".to_string(),
            |h| {
                format_go_duration(std::time::Duration::from_secs(
                    ((a.expiry - h).max(0) * EPOCH_DURATION_SECONDS) as u64,
                ))
            },
        );
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            a.miner,
            format_fil(&a.price),
            format_fil(&a.verified_price),
            format_size(a.min_piece_size.0),
            format_size(a.max_piece_size.0),
            a.expiry,
            rem,
            a.seq_no
        );
    }
}

pub async fn retrieval(repo: &Repo, cmd: RetrievalCmd) -> Result<()> {
    let cmd = match cmd {
        RetrievalCmd::Ask { cmd } => cmd,
        RetrievalCmd::Deal { cmd } => return super::retrieval::deal(repo, cmd).await,
        RetrievalCmd::Selection { cmd } => return super::retrieval::selection(repo, cmd).await,
        RetrievalCmd::Protocols { miner } => return super::retrieval::protocols(repo, &miner).await,
    };
    let api = daemon(repo)?;
    if let Ok(n) = node(repo) {
        set_network(&n).await;
    }
    let gib = BigInt::from(1u64 << 30);
    match cmd {
        RetrievalAskCmd::Set {
            miner,
            price,
            unseal_price,
            payment_interval,
            payment_interval_increase,
        } => {
            let given = address(&miner)?;
            // droplet's quick start names the payment address here: it is set for the miner
            // served (when there is one), whose ask is set too.
            let m = match given.protocol() {
                market_types::address::Protocol::Secp256k1 | market_types::address::Protocol::BLS => {
                    let served = api.actor_list().await.map_err(call_error)?;
                    let [only] = served.as_slice() else {
                        bail!(
                            "{given} is a payment address, and this droplet serves {} miners: name the miner \
                             (`droplet retrieval ask set <miner>`) and set its RetrievalPaymentAddress in config.toml",
                            served.len()
                        );
                    };
                    let m = only.addr.0;
                    api.market_set_retrieval_payment_address(Json(m), Json(given))
                        .await
                        .map_err(call_error)?;
                    println!("retrieval payment address of {m} set to {given}");
                    m
                }
                _ => given,
            };
            let per_gib = fil(&price, "--price")?;
            let ask = RetrievalAsk {
                price_per_byte: TokenAmount::from_atto(per_gib.atto() / &gib),
                unseal_price: fil(&unseal_price, "--unseal-price")?,
                payment_interval: size(&payment_interval, "--payment-interval")?,
                payment_interval_increase: size(&payment_interval_increase, "--payment-interval-increase")?,
            };
            api.market_set_retrieval_ask(Json(m), Json(ask))
                .await
                .map_err(call_error)?;
            println!("retrieval ask of {m} set");
        }
        RetrievalAskCmd::Get { miner } => {
            let m = address(&miner)?;
            match api.market_get_retrieval_ask(Json(m)).await.map_err(call_error)? {
                Some(a) => print_retrieval(&[(m, a.0)], &gib),
                None => bail!("miner {m} has no retrieval ask yet (set one with `droplet retrieval ask set`)"),
            }
        }
        RetrievalAskCmd::List => {
            let asks: Vec<_> = api
                .market_list_retrieval_ask()
                .await
                .map_err(call_error)?
                .into_iter()
                .map(|a| (a.miner.0, a.ask.0))
                .collect();
            print_retrieval(&asks, &gib);
        }
    }
    Ok(())
}

fn print_retrieval(asks: &[(market_types::Address, RetrievalAsk)], gib: &BigInt) {
    println!("Miner\tPrice per GiB\tUnseal price\tPayment interval\tPayment interval increase");
    for (m, a) in asks {
        println!(
            "{m}\t{}\t{}\t{}\t{}",
            format_fil(&TokenAmount::from_atto(a.price_per_byte.atto() * gib)),
            format_fil(&a.unseal_price),
            format_size(a.payment_interval),
            format_size(a.payment_interval_increase)
        );
    }
}

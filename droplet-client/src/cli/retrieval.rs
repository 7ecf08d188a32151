//! `droplet-client retrieval …`: query providers and retrieve data through the daemon, with
//! droplet-client's progress lines.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use market_daemon::repo::Repo;
use market_proto::Json;
use market_proto::api::market_client::{
    ExportRef, FileRef, MarketClientClient, QueryOffer, RetrievalInfo, RetrievalOrder,
};
use market_proto::client::call_error;
use market_types::Address;
use market_types::states::{RetrievalClientEvent, RetrievalDealStatus as S};
use market_types::units::{format_fil, format_go_duration, format_size, parse_fil};

use super::storage::{client_api, node};

#[derive(Debug, Subcommand)]
pub enum RetrievalCommand {
    /// Ask the providers this client made deals with whether they serve a payload.
    Find {
        data_cid: String,
        #[arg(long = "pieceCid")]
        piece_cid: Option<String>,
    },
    /// A provider's retrieval terms for a payload: `query-ask <miner> <dataCid>`.
    QueryAsk {
        miner: String,
        data_cid: String,
        /// Price the retrieval of this many bytes (default: the whole piece).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Retrieve a payload from a provider into a file, a directory or (`--car`) a CAR.
    Retrieve {
        data_cid: String,
        path: String,
        /// The miner to retrieve from.
        #[arg(long, alias = "miner")]
        provider: String,
        /// The wallet that pays (the daemon's default address if left out).
        #[arg(long)]
        from: Option<String>,
        /// The most to pay, in FIL.
        #[arg(long = "maxPrice", default_value = "0")]
        max_price: String,
        #[arg(long = "pieceCid")]
        piece_cid: Option<String>,
        /// Write the retrieved DAG as a CARv1 instead of files.
        #[arg(long)]
        car: bool,
        /// What to retrieve: a dag-json selector, or a data-model path such as `Links/0/Hash`
        /// (the DAG at its end is written out); the whole DAG if left out.
        #[arg(long, alias = "datamodel-path-selector")]
        data_selector: Option<String>,
        /// Retrieve over the provider's trustless gateway (HTTP, free) instead of graphsync:
        /// its address comes from the provider's transports protocol.
        #[arg(long)]
        http: bool,
    },
    /// The client's retrievals.
    List {
        #[arg(short, long)]
        verbose: bool,
        /// Only completed retrievals.
        #[arg(long)]
        completed: bool,
        /// Include failed ones.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        show_failed: bool,
    },
    /// Cancel a running retrieval.
    CancelRetrieval {
        #[arg(long)]
        deal_id: u64,
    },
}

fn parse_cid(s: &str, what: &str) -> Result<cid::Cid> {
    s.parse().map_err(|e| anyhow!("{what} {s:?} is not a CID: {e}"))
}

fn parse_addr(s: &str) -> Result<Address> {
    market_types::address::parse(s).map_err(|e| anyhow!("{s:?} is not an address: {e}"))
}

/// A status or event name without Go's prefix.
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

/// droplet-client's progress line: `Recv <size>, Paid <FIL>, <event> (<status>), <elapsed> [<id>|<bytes>]`.
fn progress_line(r: &RetrievalInfo, elapsed: Duration) -> String {
    let event = r
        .event
        .and_then(RetrievalClientEvent::from_u64)
        .map(|e| short(e.name(), "ClientEvent"))
        .unwrap_or_default();
    let status = S::from_u64(r.status)
        .map(|s| short(s.name(), "DealStatus"))
        .unwrap_or_default();
    let ms = Duration::from_millis(elapsed.as_millis() as u64);
    let mut line = format!(
        "Recv {}, Paid {}, {} ({}), {} [{}|{}]",
        format_size(r.bytes_received),
        format_fil(&r.total_paid.0),
        event,
        status,
        format_go_duration(ms),
        r.id,
        r.bytes_received
    );
    // What is happening to a running retrieval (a restart after a cut connection); a failed
    // one's reason is printed once at the end.
    let running = S::from_u64(r.status).is_some_and(|s| !crate_is_terminal(s));
    if running && !r.message.is_empty() {
        line.push_str(": ");
        line.push_str(&r.message);
    }
    line
}

fn print_offer(miner: &Address, offer: &QueryOffer, size: u64) {
    if !offer.err.is_empty() {
        println!("ERR {miner}@{}: {}", offer.miner_peer.id, offer.err);
        return;
    }
    println!("Ask: {miner}");
    println!("Unseal price: {}", format_fil(&offer.unseal_price.0));
    println!("Price per byte: {}", format_fil(&offer.price_per_byte.0));
    println!("Payment interval: {}", format_size(offer.payment_interval));
    println!(
        "Payment interval increase: {}",
        format_size(offer.payment_interval_increase)
    );
    let total = &offer.unseal_price.0 + &offer.price_per_byte.0 * size;
    println!("Total price for {size} bytes: {}", format_fil(&total));
}

pub async fn run(repo: &Repo, cmd: RetrievalCommand) -> Result<()> {
    let api = client_api(repo)?;
    match cmd {
        RetrievalCommand::QueryAsk { miner, data_cid, size } => {
            let _ = node(repo).await?;
            let m = parse_addr(&miner)?;
            let root = parse_cid(&data_cid, "data CID")?;
            let offer = api
                .client_miner_query_offer(Json(m), Json(root), None)
                .await
                .map_err(call_error)?;
            print_offer(&m, &offer, size.unwrap_or(offer.size));
        }
        RetrievalCommand::Find { data_cid, piece_cid } => {
            let _ = node(repo).await?;
            let root = parse_cid(&data_cid, "data CID")?;
            let piece = piece_cid.map(|p| parse_cid(&p, "piece CID")).transpose()?;
            let deals = api.client_list_deals().await.map_err(call_error)?;
            let mut miners: Vec<Address> = deals
                .iter()
                .filter(|d| d.data_ref.as_ref().is_some_and(|r| r.root.0 == root))
                .map(|d| d.provider.0)
                .collect();
            miners.sort_by_key(|a| a.to_string());
            miners.dedup();
            if miners.is_empty() {
                bail!("no provider this client made a deal with holds {root}");
            }
            for m in miners {
                match api.client_miner_query_offer(Json(m), Json(root), piece.map(Json)).await {
                    Ok(o) if o.err.is_empty() => println!(
                        "RETRIEVAL {}@{}-{}-{}",
                        o.miner.0,
                        o.miner_peer.id,
                        format_fil(&o.min_price.0),
                        format_size(o.size)
                    ),
                    Ok(o) => println!("ERR {m}: {}", o.err),
                    Err(e) => println!("ERR {m}: {}", call_error(e)),
                }
            }
        }
        RetrievalCommand::Retrieve {
            data_cid,
            path,
            provider,
            from,
            max_price,
            piece_cid,
            car,
            data_selector,
            http,
        } => {
            let _ = node(repo).await?;
            let root = parse_cid(&data_cid, "data CID")?;
            let miner = parse_addr(&provider)?;
            let piece = piece_cid.map(|p| parse_cid(&p, "piece CID")).transpose()?;
            let max = parse_fil(&max_price).map_err(|e| anyhow!("--maxPrice {max_price:?}: {e}"))?;
            let client = match from {
                Some(f) => parse_addr(&f)?,
                None => api.default_address().await.map_err(call_error)?.0,
            };
            let offer = api
                .client_miner_query_offer(Json(miner), Json(root), piece.map(Json))
                .await
                .map_err(call_error)?;
            if !offer.err.is_empty() {
                bail!("miner {miner} cannot serve {root}: {}", offer.err);
            }
            if offer.min_price.0 > max && !http {
                bail!(
                    "failed to find offer satisfying maxPrice: the offer costs {} (raise --maxPrice)",
                    format_fil(&offer.min_price.0)
                );
            }
            let order = RetrievalOrder {
                root: Json(root),
                piece: offer.piece.clone(),
                data_selector,
                size: offer.size,
                total: offer.min_price.clone(),
                unseal_price: offer.unseal_price.clone(),
                payment_interval: offer.payment_interval,
                payment_interval_increase: offer.payment_interval_increase,
                client: Json(client),
                miner: offer.miner.clone(),
                miner_peer: Some(offer.miner_peer.clone()),
                remote_store: None,
                output: Some(FileRef {
                    path: absolute(&path)?,
                    is_car: car,
                }),
                transport: http.then(|| "http".to_string()),
            };
            let started = Instant::now();
            let id = api.client_retrieve(order).await.map_err(call_error)?.deal_id;
            follow(&api, id, started).await?;
            api.client_export(
                ExportRef {
                    root: Json(root),
                    deal_id: id,
                    from_local_car: String::new(),
                },
                FileRef {
                    path: absolute(&path)?,
                    is_car: car,
                },
            )
            .await
            .map_err(call_error)?;
            println!("Success");
        }
        RetrievalCommand::List {
            verbose,
            completed,
            show_failed,
        } => {
            let mut list = api.client_list_retrievals().await.map_err(call_error)?;
            list.retain(|r| {
                let s = S::from_u64(r.status).unwrap_or(S::Errored);
                (!completed || s == S::Completed)
                    && (show_failed || !matches!(s, S::Errored | S::Rejected | S::DealNotFound | S::Cancelled))
            });
            println!(
                "{:<20} {:<62} {:<54} {:<22} {:>12} {:>12}{}",
                "DealID",
                "PayloadCID",
                "Provider",
                "Status",
                "Received",
                "Paid",
                if verbose { "  Message" } else { "" }
            );
            for r in list {
                let status = S::from_u64(r.status)
                    .map(|s| short(s.name(), "DealStatus"))
                    .unwrap_or_default();
                println!(
                    "{:<20} {:<62} {:<54} {:<22} {:>12} {:>12}{}",
                    r.id,
                    r.payload_cid.0.to_string(),
                    r.provider,
                    status,
                    format_size(r.bytes_received),
                    format_fil(&r.total_paid.0),
                    if verbose {
                        format!("  {}", r.message)
                    } else {
                        String::new()
                    }
                );
            }
        }
        RetrievalCommand::CancelRetrieval { deal_id } => {
            api.client_cancel_retrieval_deal(deal_id).await.map_err(call_error)?;
            println!("retrieval {deal_id} cancelled");
        }
    }
    Ok(())
}

fn absolute(path: &str) -> Result<String> {
    let p = std::path::Path::new(path);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    Ok(abs.to_string_lossy().into_owned())
}

/// Print the retrieval's progress (a line per event) until it ends; an error unless it
/// completed. Each poll fetches the entries from the last one printed on (for its status).
async fn follow(api: &jsonrpsee::http_client::HttpClient, id: u64, started: Instant) -> Result<()> {
    let mut printed = 0usize;
    loop {
        let from = printed.saturating_sub(1);
        let log = api.client_retrieval_log(id, Some(from)).await.map_err(call_error)?;
        for r in log.iter().skip(printed - from) {
            println!("{}", progress_line(r, started.elapsed()));
        }
        printed = printed.max(from + log.len());
        let Some(r) = log.last() else {
            bail!("the daemon has no retrieval {id}");
        };
        let status = S::from_u64(r.status).unwrap_or(S::Errored);
        if crate_is_terminal(status) {
            if status == S::Completed {
                return Ok(());
            }
            bail!(
                "retrieval failed ({}): {}",
                short(status.name(), "DealStatus"),
                r.message
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn crate_is_terminal(s: S) -> bool {
    droplet_client::retrieval::record::is_terminal(s)
}

//! `droplet data-transfers …`: the data-transfer channels droplet serves (retrievals) or
//! receives (pushed storage deal data), and cancelling them.

use anyhow::{Result, bail};
use clap::Subcommand;
use market_daemon::repo::Repo;
use market_proto::api::transfers::{DataTransferChannel, MarketTransfersClient};
use market_proto::client::call_error;
use market_types::units::format_size;

use super::daemon;

#[derive(Debug, Subcommand)]
pub enum TransfersCmd {
    /// The channels running now: sending (retrievals), then receiving.
    List {
        /// Print whole CIDs, peer IDs and vouchers.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Ask for a channel's restart (only the client that opened it can restart it).
    Restart {
        transfer_id: u64,
        /// The other peer (needed when two peers use the same transfer ID).
        #[arg(long)]
        peerid: Option<String>,
        /// Whether droplet opened the channel.
        #[arg(long)]
        initiator: bool,
    },
    /// Cancel a channel: the client is told, and its retrieval deal ends Cancelled.
    Cancel {
        transfer_id: u64,
        #[arg(long)]
        peerid: Option<String>,
        #[arg(long)]
        initiator: bool,
    },
    /// Cancel every channel with a peer, or of a root CID.
    BatchCancel {
        #[arg(long)]
        peer_id: Option<String>,
        #[arg(long)]
        data_cid: Option<String>,
    },
}

/// `s` cut to its first and last 8 characters (a voucher's text comes from the client: cut on
/// characters, not bytes).
fn short(s: &str, verbose: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    if verbose || chars.len() <= 16 {
        s.to_string()
    } else {
        let head: String = chars[..8].iter().collect();
        let tail: String = chars[chars.len() - 8..].iter().collect();
        format!("{head}…{tail}")
    }
}

fn print_table(title: &str, peer_heading: &str, list: &[&DataTransferChannel], verbose: bool) {
    println!("{title}");
    println!(
        "{:<20} {:<22} {:<20} {:<20} {:<11} {:>12}  Voucher",
        "ID", "Status", peer_heading, "Root Cid", "Initiated?", "Transferred"
    );
    for c in list {
        let status = data_transfer::channels::status::name(c.status);
        let voucher = if verbose {
            c.voucher.clone()
        } else {
            short(&c.voucher, false)
        };
        println!(
            "{:<20} {:<22} {:<20} {:<20} {:<11} {:>12}  {}",
            c.transfer_id,
            status,
            short(&c.other_peer, verbose),
            short(&c.base_cid.0.to_string(), verbose),
            if c.is_initiator { "Y" } else { "N" },
            format_size(c.transferred),
            voucher
        );
    }
}

/// The other peer of channel `id`: the one given, else the only running channel with that ID.
async fn other_peer(api: &jsonrpsee::http_client::HttpClient, id: u64, given: Option<String>) -> Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    let list = api.market_list_data_transfers().await.map_err(call_error)?;
    let matching: Vec<&DataTransferChannel> = list.iter().filter(|c| c.transfer_id == id).collect();
    match matching.as_slice() {
        [one] => Ok(one.other_peer.clone()),
        [] => bail!("no running channel {id} (see `droplet data-transfers list`)"),
        _ => bail!("several peers have a channel {id}: name one with --peerid"),
    }
}

pub async fn run(repo: &Repo, cmd: TransfersCmd) -> Result<()> {
    let api = daemon(repo)?;
    match cmd {
        TransfersCmd::List { verbose } => {
            let list = api.market_list_data_transfers().await.map_err(call_error)?;
            let sending: Vec<_> = list.iter().filter(|c| c.is_sender).collect();
            let receiving: Vec<_> = list.iter().filter(|c| !c.is_sender).collect();
            print_table("Sending Channels", "Sending To", &sending, verbose);
            println!();
            print_table("Receiving Channels", "Receiving From", &receiving, verbose);
        }
        TransfersCmd::Restart {
            transfer_id,
            peerid,
            initiator,
        } => {
            let p = other_peer(&api, transfer_id, peerid).await?;
            api.market_restart_data_transfer(transfer_id, p, initiator)
                .await
                .map_err(call_error)?;
        }
        TransfersCmd::Cancel {
            transfer_id,
            peerid,
            initiator,
        } => {
            let p = other_peer(&api, transfer_id, peerid).await?;
            api.market_cancel_data_transfer(transfer_id, p, initiator)
                .await
                .map_err(call_error)?;
            println!("cancelled channel {transfer_id}");
        }
        TransfersCmd::BatchCancel { peer_id, data_cid } => {
            if peer_id.is_none() && data_cid.is_none() {
                bail!("say which channels: --peer-id and/or --data-cid");
            }
            let list = api.market_list_data_transfers().await.map_err(call_error)?;
            let mut n = 0;
            for c in list.iter().filter(|c| {
                peer_id.as_ref().is_none_or(|p| *p == c.other_peer)
                    && data_cid.as_ref().is_none_or(|d| *d == c.base_cid.0.to_string())
            }) {
                match api
                    .market_cancel_data_transfer(c.transfer_id, c.other_peer.clone(), c.is_initiator)
                    .await
                {
                    Ok(()) => {
                        n += 1;
                        println!("cancelled channel {} with {}", c.transfer_id, c.other_peer);
                    }
                    Err(e) => println!("channel {} with {}: {}", c.transfer_id, c.other_peer, call_error(e)),
                }
            }
            println!("{n} channel(s) cancelled");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_cut_on_characters() {
        assert_eq!(
            super::short("{\"Type\":\"ééééééééééééé\"}", false),
            "{\"Type\":…éééééé\"}"
        );
        assert_eq!(super::short("short", false), "short");
    }
}

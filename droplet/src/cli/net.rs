//! `droplet net listen|id`.

use anyhow::Result;
use clap::Subcommand;
use droplet::repo::Repo;
use market_proto::api::market::clients::*;
use market_proto::client::call_error;

#[derive(Debug, Subcommand)]
pub enum NetCmd {
    /// The libp2p addresses the daemon listens on, with its peer ID.
    Listen,
    /// The daemon's peer ID.
    Id,
}

pub async fn run(repo: &Repo, cmd: NetCmd) -> Result<()> {
    let api = super::daemon(repo)?;
    match cmd {
        NetCmd::Listen => {
            let info = api.net_addrs_listen().await.map_err(call_error)?;
            for a in info.addrs {
                println!("{a}/p2p/{}", info.id);
            }
        }
        NetCmd::Id => println!("{}", api.id().await.map_err(call_error)?),
    }
    Ok(())
}

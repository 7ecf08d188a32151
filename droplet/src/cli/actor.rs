//! `droplet actor …`: the miners this droplet serves, and their peer ID and addresses on chain.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use droplet::repo::Repo;
use libp2p::{Multiaddr, PeerId};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market::MinerAccount;
use market_proto::api::market::clients::*;
use market_proto::client::call_error;
use market_types::chain::{ChangeMultiaddrsParams, ChangePeerIdParams, Message, TipSetKey, miner_method};
use market_types::{Bytes, TokenAmount, cbor};

use super::{address, daemon, node, set_network};

#[derive(Debug, Subcommand)]
pub enum ActorCmd {
    /// Serve a miner (or change its account).
    Upsert {
        miner: String,
        /// The sophon-auth user the miner belongs to.
        #[arg(long, default_value = "")]
        account: String,
    },
    /// Stop serving a miner.
    Delete { miner: String },
    /// The miners served.
    List,
    /// A miner's peer ID and addresses on chain.
    Info {
        #[arg(long)]
        miner: String,
    },
    /// Set a miner's multiaddrs on chain (ChangeMultiaddrs, sent from the worker).
    SetAddrs {
        #[arg(long)]
        miner: String,
        /// Gas limit (0: estimate).
        #[arg(long, default_value_t = 0)]
        gas_limit: i64,
        /// Clear the addresses.
        #[arg(long)]
        unset: bool,
        addrs: Vec<String>,
    },
    /// Set a miner's peer ID on chain (ChangePeerID, sent from the worker).
    SetPeerId {
        #[arg(long)]
        miner: String,
        peer_id: String,
    },
}

pub async fn run(repo: &Repo, cmd: ActorCmd) -> Result<()> {
    match cmd {
        ActorCmd::Upsert { miner, account } => {
            let m = address(&miner)?;
            let new = daemon(repo)?
                .actor_upsert(MinerAccount { addr: Json(m), account })
                .await
                .map_err(call_error)?;
            println!("{} miner {m}", if new { "added" } else { "updated" });
        }
        ActorCmd::Delete { miner } => {
            let m = address(&miner)?;
            daemon(repo)?.actor_delete(Json(m)).await.map_err(call_error)?;
            println!("removed miner {m}");
        }
        ActorCmd::List => {
            let node = node(repo)?;
            set_network(&node).await;
            println!("{:<12}\taccount", "miner");
            for m in daemon(repo)?.actor_list().await.map_err(call_error)? {
                println!("{:<12}\t{}", m.addr.0, m.account);
            }
        }
        ActorCmd::Info { miner } => {
            let m = address(&miner)?;
            let node = node(repo)?;
            let info = node
                .state_miner_info(Json(m), Json(TipSetKey::empty()))
                .await
                .map_err(call_error)?
                .0;
            match info.peer_id.as_ref().and_then(|p| PeerId::from_bytes(&p.0).ok()) {
                Some(p) => println!("peers: {p}"),
                None => println!("peers: <none>"),
            }
            for a in &info.multiaddrs {
                match Multiaddr::try_from(a.0.clone()) {
                    Ok(ma) => println!("addr: {ma}"),
                    Err(_) => println!("addr: <undecodable {} bytes>", a.0.len()),
                }
            }
        }
        ActorCmd::SetAddrs {
            miner,
            gas_limit,
            unset,
            addrs,
        } => {
            if unset && !addrs.is_empty() {
                bail!("--unset clears the addresses; give either --unset or addresses");
            }
            if !unset && addrs.is_empty() {
                bail!("no addresses given (use --unset to clear them)");
            }
            let mut raw = Vec::new();
            for a in &addrs {
                let ma: Multiaddr = a
                    .trim_end_matches('/')
                    .parse()
                    .with_context(|| format!("{a:?} is not a multiaddr"))?;
                raw.push(Bytes(ma.to_vec()));
            }
            let params = cbor::to_vec(&ChangeMultiaddrsParams { new_multiaddrs: raw });
            let cid = send_from_worker(repo, &miner, miner_method::CHANGE_MULTIADDRS, params, gas_limit).await?;
            println!("Requested multiaddrs change in message {cid}");
        }
        ActorCmd::SetPeerId { miner, peer_id } => {
            let pid: PeerId = peer_id
                .parse()
                .with_context(|| format!("{peer_id:?} is not a peer ID"))?;
            let params = cbor::to_vec(&ChangePeerIdParams {
                new_id: market_types::PeerId(pid.to_bytes()),
            });
            let cid = send_from_worker(repo, &miner, miner_method::CHANGE_PEER_ID, params, 0).await?;
            println!("Requested peerid change in message {cid}");
        }
    }
    Ok(())
}

/// Send a miner message from its worker through the daemon's message client.
async fn send_from_worker(repo: &Repo, miner: &str, method: u64, params: Vec<u8>, gas_limit: i64) -> Result<cid::Cid> {
    let m = address(miner)?;
    let node = node(repo)?;
    let info = node
        .state_miner_info(Json(m), Json(TipSetKey::empty()))
        .await
        .map_err(call_error)
        .with_context(|| format!("looking up miner {m}"))?
        .0;
    let msg = Message {
        version: 0,
        to: m,
        from: info.worker,
        nonce: 0,
        value: TokenAmount::default(),
        gas_limit,
        gas_fee_cap: TokenAmount::default(),
        gas_premium: TokenAmount::default(),
        method,
        params: Bytes(params),
    };
    Ok(daemon(repo)?
        .messager_push_message(Json(msg), None)
        .await
        .map_err(call_error)?
        .0)
}

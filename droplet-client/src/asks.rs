//! Querying a provider's storage ask: find the miner's peer and addresses on chain, ask over
//! `/fil/storage/ask/1.1.0` (falling back to `1.0.1`), and check the worker's signature over
//! the canonical encoding of the ask as received.

use anyhow::{Context, Result, anyhow, bail};
use jsonrpsee::http_client::HttpClient;
use libp2p::{Multiaddr, PeerId};
use market_p2p::{Frame, Host, StreamProtocol, protocols};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::client::call_error;
use market_types::chain::TipSetKey;
use market_types::storage::{AskRequest, AskRequestV0, AskResponse, AskResponseV0, StorageAsk};
use market_types::{Address, cbor};

/// A miner's peer ID and addresses from its on-chain info; `peer` overrides the peer ID.
pub async fn miner_peer(
    node: &HttpClient,
    miner: &Address,
    peer: Option<PeerId>,
) -> Result<(PeerId, Vec<Multiaddr>, market_types::chain::MinerInfo)> {
    let info = node
        .state_miner_info(Json(*miner), Json(TipSetKey::empty()))
        .await
        .map_err(call_error)
        .with_context(|| format!("looking up miner {miner}"))?
        .0;
    let peer = match peer {
        Some(p) => p,
        None => {
            let raw = info.peer_id.as_ref().ok_or_else(|| {
                anyhow!("miner {miner} has no peer ID on chain (the provider sets it with `droplet actor set-peer-id`)")
            })?;
            PeerId::from_bytes(&raw.0).map_err(|e| anyhow!("miner {miner}'s peer ID on chain is not valid: {e}"))?
        }
    };
    let addrs: Vec<Multiaddr> = info
        .multiaddrs
        .iter()
        .filter_map(|a| Multiaddr::try_from(a.0.clone()).ok())
        .collect();
    if addrs.is_empty() {
        bail!("miner {miner} has no addresses on chain (the provider sets them with `droplet actor set-addrs`)");
    }
    Ok((peer, addrs, info))
}

/// Fetch and verify `miner`'s ask; `peer` overrides the peer ID on chain.
pub async fn query_ask(host: &Host, node: &HttpClient, miner: &Address, peer: Option<PeerId>) -> Result<StorageAsk> {
    let tsk = || Json(TipSetKey::empty());
    let (peer, addrs, info) = miner_peer(node, miner, peer).await?;
    let request = Frame::versions(vec![
        (
            StreamProtocol::new(protocols::ASK_1_1_0),
            cbor::to_vec(&AskRequest { miner: *miner }),
        ),
        (
            StreamProtocol::new(protocols::ASK_1_0_1),
            cbor::to_vec(&AskRequestV0 { miner: *miner }),
        ),
    ]);
    let answer = host
        .request(peer, addrs, request)
        .await
        .with_context(|| format!("asking {peer} for miner {miner}'s ask"))?;
    let (ask, signature, signed_bytes) = if answer.protocol.as_ref() == protocols::ASK_1_0_1 {
        let r: AskResponseV0 = cbor::from_slice(&answer.bytes).context("decoding the 1.0.1 ask response")?;
        let s = r
            .ask
            .ok_or_else(|| anyhow!("provider {peer} has no ask for miner {miner}"))?;
        let ask: StorageAsk = s
            .ask
            .ok_or_else(|| anyhow!("provider {peer} sent an empty ask"))?
            .into();
        let bytes = ask.signing_bytes_v0();
        (ask, s.signature, bytes)
    } else {
        let r: AskResponse = cbor::from_slice(&answer.bytes).context("decoding the ask response")?;
        let s = r
            .ask
            .ok_or_else(|| anyhow!("provider {peer} has no ask for miner {miner}"))?;
        let ask = s.ask.ok_or_else(|| anyhow!("provider {peer} sent an empty ask"))?;
        let bytes = ask.signing_bytes();
        (ask, s.signature, bytes)
    };
    if ask.miner != *miner {
        bail!(
            "provider {peer} answered with the ask of {} instead of {miner}",
            ask.miner
        );
    }
    let signature = signature.ok_or_else(|| anyhow!("the ask of {miner} is not signed"))?;
    let worker = node
        .state_account_key(Json(info.worker), tsk())
        .await
        .map_err(call_error)
        .context("resolving the worker's key")?
        .0;
    market_crypto::verify(&signature, &worker, &signed_bytes)
        .map_err(|e| anyhow!("the ask of {miner} is not signed by its worker {worker}: {e}"))?;
    Ok(ask)
}

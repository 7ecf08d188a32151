//! The client's side of the deal and status protocols, for every version: what to send, and
//! what an answer means. go-fil-markets answers are signed by the miner's worker and checked
//! here; Boost's are not signed.

use anyhow::{Context, Result, anyhow, bail};
use market_p2p::{Frame, StreamProtocol, protocols};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::wallet::{MsgMeta, meta_type};
use market_proto::client::call_error;
use market_types::boost::{DealParams, DealParamsV120, DealResponse, Transfer};
use market_types::chain::TipSetKey;
use market_types::states::StorageDealStatus as S;
use market_types::storage::{
    self as legacy, DataRef, Proposal, ProposalV0, ProviderDealState, SignedResponse, SignedResponseV0,
};
use market_types::{Address, Signature, cbor};

use super::ClientDeals;
use super::record::ClientDealRecord;

/// The protocols to offer, newest first: the one asked for, else every version that can carry
/// the deal (online deals need Boost's protocols: the legacy ones move data by graphsync).
pub fn protocols_for(asked: &str, online: bool) -> Result<Vec<&'static str>> {
    if asked.is_empty() {
        return Ok(if online {
            vec![protocols::DEAL_1_2_1, protocols::DEAL_1_2_0]
        } else {
            protocols::DEAL.to_vec()
        });
    }
    let Some(p) = protocols::DEAL
        .iter()
        .find(|p| **p == asked || p.ends_with(&format!("/{asked}")))
    else {
        bail!(
            "unknown deal protocol {asked:?}: use one of {}",
            protocols::DEAL.join(", ")
        );
    };
    if online && protocols::is_legacy(p) {
        bail!("{p} carries offline deals only here; online deals use /fil/storage/mk/1.2.1 or 1.2.0");
    }
    Ok(vec![p])
}

/// The proposal, encoded for each protocol offered.
pub fn encode_proposal(offer: &[&'static str], d: &ClientDealRecord, transfer: Transfer, offline: bool) -> Frame {
    let cdp = d.proposal.0.clone();
    let params = DealParams {
        deal_uuid: d.uuid.0,
        transfer,
        is_offline: offline,
        deal_data_root: d.data_root.0,
        skip_ipni_announce: false,
        client_deal_proposal: cdp.clone(),
        remove_unsealed_copy: !d.fast_retrieval,
    };
    let data_ref = DataRef {
        root: d.data_root.0,
        piece_cid: Some(cdp.proposal.piece_cid),
        piece_size: cdp.proposal.piece_size.unpadded(),
        raw_block_size: 0,
        transfer_type: legacy::TRANSFER_MANUAL.into(),
    };
    let variants = offer
        .iter()
        .map(|p| {
            let bytes = match *p {
                protocols::DEAL_1_2_1 => cbor::to_vec(&params),
                protocols::DEAL_1_2_0 => cbor::to_vec(&DealParamsV120 {
                    deal_uuid: params.deal_uuid,
                    transfer: params.transfer.clone(),
                    is_offline: params.is_offline,
                    deal_data_root: params.deal_data_root,
                    client_deal_proposal: cdp.clone(),
                }),
                protocols::DEAL_1_0_1 => cbor::to_vec(&ProposalV0 {
                    deal_proposal: Some(cdp.clone()),
                    piece: Some(data_ref.clone().into()),
                    fast_retrieval: d.fast_retrieval,
                }),
                _ => cbor::to_vec(&Proposal {
                    piece: Some(data_ref.clone()),
                    deal_proposal: Some(cdp.clone()),
                    fast_retrieval: d.fast_retrieval,
                }),
            };
            (StreamProtocol::new(p), bytes)
        })
        .collect();
    Frame::versions(variants)
}

/// What the provider said to a proposal.
#[derive(Debug)]
pub enum Answer {
    Accepted,
    Rejected(String),
}

/// Read a proposal's answer; a legacy answer must be signed by the miner's worker.
pub async fn decode_answer(deals: &ClientDeals, miner: &Address, answer: &Frame) -> Result<Answer> {
    let protocol = answer.protocol.as_ref();
    if !protocols::is_legacy(protocol) {
        let r: DealResponse = cbor::from_slice(&answer.bytes).context("decoding the provider's answer")?;
        return Ok(if r.accepted {
            Answer::Accepted
        } else {
            Answer::Rejected(r.message)
        });
    }
    let (response, signed_bytes, signature) = if protocol == protocols::DEAL_1_0_1 {
        let r: SignedResponseV0 = cbor::from_slice(&answer.bytes).context("decoding the provider's answer")?;
        let bytes = cbor::to_vec(&r.response);
        (legacy::Response::from(r.response), bytes, r.signature)
    } else {
        let r: SignedResponse = cbor::from_slice(&answer.bytes).context("decoding the provider's answer")?;
        let bytes = cbor::to_vec(&r.response);
        (r.response, bytes, r.signature)
    };
    verify_worker(deals, miner, signature.as_ref(), &signed_bytes)
        .await
        .context("the provider's answer")?;
    Ok(match S::from_u64(response.state) {
        Some(S::Failing | S::Rejecting | S::ProposalRejected | S::Error) | None => Answer::Rejected(response.message),
        Some(_) => Answer::Accepted,
    })
}

/// Check that `signature` over `bytes` is the miner's worker's.
pub async fn verify_worker(
    deals: &ClientDeals,
    miner: &Address,
    signature: Option<&Signature>,
    bytes: &[u8],
) -> Result<()> {
    let signature = signature.ok_or_else(|| anyhow!("not signed"))?;
    let tsk = || Json(TipSetKey::empty());
    let info = deals
        .node
        .state_miner_info(Json(*miner), tsk())
        .await
        .map_err(call_error)?
        .0;
    let worker = deals
        .node
        .state_account_key(Json(info.worker), tsk())
        .await
        .map_err(call_error)?
        .0;
    market_crypto::verify(signature, &worker, bytes)
        .map_err(|e| anyhow!("not signed by the worker {worker} of {miner}: {e}"))
}

/// What a status request learned.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The provider's error for this deal, if it failed there.
    pub failed: Option<String>,
    pub state: Option<S>,
    pub deal_id: Option<u64>,
    pub publish_cid: Option<market_types::Cid>,
    pub transfer_size: u64,
    pub bytes_received: u64,
    /// The provider's own word for where the deal is (boost's checkpoint, or the legacy
    /// state name).
    pub provider_state: String,
    /// The provider's message about the deal.
    pub message: String,
    /// The provider answered but gave no status for the deal (it has no record of it, or
    /// refused the request): its words.
    pub unknown: Option<String>,
}

/// Ask the provider for a deal's status on the protocol it was accepted on.
pub async fn query_status(deals: &ClientDeals, d: &ClientDealRecord) -> Result<Status> {
    let p = &d.proposal.0.proposal;
    let key = deals
        .node
        .state_account_key(Json(p.client), Json(TipSetKey::empty()))
        .await
        .map_err(call_error)?
        .0;
    // Where the provider is now (it may have moved since the proposal), else where it was.
    let (peer, addrs) = match deals.provider_address(&p.provider).await {
        Ok(found) => found,
        Err(_) => (
            d.peer.parse().map_err(|e| anyhow!("peer {:?}: {e}", d.peer))?,
            d.addrs.iter().filter_map(|a| a.parse().ok()).collect(),
        ),
    };
    if !protocols::is_legacy(&d.protocol) {
        let signature = deals
            .signer
            .sign(&key, d.uuid.0.as_bytes(), MsgMeta::new(meta_type::UNKNOWN))
            .await
            .context("signing the status request")?;
        let req = market_types::boost::DealStatusRequest {
            deal_uuid: d.uuid.0,
            signature,
        };
        let frame = Frame::new(StreamProtocol::new(protocols::STATUS_1_2_0), cbor::to_vec(&req));
        let answer = deals.host.request(peer, addrs, frame).await?;
        let r: market_types::boost::DealStatusResponse =
            cbor::from_slice(&answer.bytes).context("decoding the status answer")?;
        let Some(s) = r.deal_status else {
            return Ok(Status {
                unknown: Some(if r.error.is_empty() {
                    "no deal status".into()
                } else {
                    r.error
                }),
                ..Status::default()
            });
        };
        if !r.error.is_empty() {
            bail!("the provider answered: {}", r.error);
        }
        let published = s.publish_cid.is_some()
            && matches!(
                s.status.as_str(),
                "PublishConfirmed" | "AddedPiece" | "IndexedAndAnnounced" | "Complete"
            );
        return Ok(Status {
            failed: (!s.error.is_empty()).then(|| s.error.clone()),
            state: None,
            deal_id: published.then_some(s.chain_deal_id),
            publish_cid: s.publish_cid,
            transfer_size: r.transfer_size,
            bytes_received: r.n_bytes_received,
            provider_state: s.status.clone(),
            message: if s.error.is_empty() {
                s.sealing_status.clone()
            } else {
                s.error.clone()
            },
            unknown: None,
        });
    }
    let cid = d.proposal_cid.0;
    let signature = deals
        .signer
        .sign(
            &key,
            &legacy::status_signing_bytes(&cid),
            MsgMeta::new(meta_type::CLIENT_DEAL),
        )
        .await
        .context("signing the status request")?;
    let v0 = d.protocol == protocols::DEAL_1_0_1;
    let frame = if v0 {
        Frame::new(
            StreamProtocol::new(protocols::STATUS_1_0_1),
            cbor::to_vec(&legacy::DealStatusRequestV0 {
                proposal: cid,
                signature,
            }),
        )
    } else {
        Frame::new(
            StreamProtocol::new(protocols::STATUS_1_1_0),
            cbor::to_vec(&legacy::DealStatusRequest {
                proposal: cid,
                signature,
            }),
        )
    };
    let answer = deals.host.request(peer, addrs, frame).await?;
    let (state, bytes, signature): (ProviderDealState, Vec<u8>, Signature) = if v0 {
        let r: legacy::DealStatusResponseV0 = cbor::from_slice(&answer.bytes).context("decoding the status answer")?;
        (r.deal_state.clone().into(), cbor::to_vec(&r.deal_state), r.signature)
    } else {
        let r: legacy::DealStatusResponse = cbor::from_slice(&answer.bytes).context("decoding the status answer")?;
        let bytes = cbor::to_vec(&r.deal_state);
        (r.deal_state, bytes, r.signature)
    };
    verify_worker(deals, &p.provider, Some(&signature), &bytes)
        .await
        .context("the status answer")?;
    let status = S::from_u64(state.state);
    if status == Some(S::Error) {
        bail!("the provider answered: {}", state.message);
    }
    let failed = matches!(status, Some(S::Failing | S::Rejecting)).then(|| state.message.clone());
    let published = matches!(
        status,
        Some(S::Staged | S::AwaitingPreCommit | S::Sealing | S::Active | S::Expired | S::Slashed)
    );
    Ok(Status {
        failed,
        state: status,
        deal_id: published.then_some(state.deal_id),
        publish_cid: state.publish_cid,
        transfer_size: 0,
        bytes_received: 0,
        provider_state: status.map_or_else(|| format!("state {}", state.state), |s| s.name().to_string()),
        message: state.message.clone(),
        unknown: None,
    })
}

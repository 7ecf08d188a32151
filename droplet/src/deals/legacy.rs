//! go-fil-markets' deal protocols, `/fil/storage/mk/1.1.1`, `1.1.0` and `1.0.1`, and their
//! status protocols, `/fil/storage/status/1.1.0` and `1.0.1`, so that lotus-era clients work.
//!
//! The Go droplet stopped answering these; droplet-rs takes offline ("manual") deals on them
//! through the same checks and state machine as Boost's protocols. A legacy deal has no UUID
//! on the wire: one is made up for it, and the client finds the deal by its proposal CID.
//! Answers are signed by the miner's worker over the encoding of the protocol in use (maps on
//! 1.1.x, tuples on 1.0.1).

use market_p2p::{Frame, PeerId, protocols};
use market_proto::api::wallet::{MsgMeta, meta_type};
use market_types::boost::{DealParams, Transfer};
use market_types::states::StorageDealStatus as S;
use market_types::storage::{
    DataRef, DealStatusRequest, DealStatusRequestV0, DealStatusResponse, DealStatusResponseV0, Proposal, ProposalV0,
    ProviderDealState, ProviderDealStateV0, Response, ResponseV0, SignedResponse, SignedResponseV0, TRANSFER_MANUAL,
    status_signing_bytes, truncate_message,
};
use market_types::{Address, Cid, Signature, Uuid, cbor};

use super::accept::{AcceptError, Acceptor};
use super::record::DealRecord;

/// A legacy proposal whatever its version.
fn decode_proposal(frame: &Frame) -> Result<Proposal, String> {
    if frame.protocol.as_ref() == protocols::DEAL_1_0_1 {
        let p: ProposalV0 = cbor::from_slice(&frame.bytes).map_err(|e| e.to_string())?;
        Ok(Proposal {
            piece: p.piece.map(DataRef::from),
            deal_proposal: p.deal_proposal,
            fast_retrieval: p.fast_retrieval,
        })
    } else {
        let p: Proposal = cbor::from_slice(&frame.bytes).map_err(|e| e.to_string())?;
        if frame.protocol.as_ref() == protocols::DEAL_1_1_0 {
            p.check_v110_label()?;
        }
        Ok(p)
    }
}

impl Acceptor {
    /// Answer a proposal on mk/1.1.1, 1.1.0 or 1.0.1 with a worker-signed response.
    pub async fn handle_legacy_proposal(&self, peer: PeerId, frame: Frame) -> Option<Vec<u8>> {
        let proposal = match decode_proposal(&frame) {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(%peer, protocol = %frame.protocol, error = %e, "undecodable legacy deal proposal");
                return None;
            }
        };
        let cdp = proposal.deal_proposal.clone()?;
        let proposal_cid = cdp.proposal_cid();
        let miner = cdp.proposal.provider;
        let (state, message) = match self.deals.by_proposal_cid(&proposal_cid) {
            // A re-proposal of a known deal gets its current state.
            Ok(Some(d)) => (d.status().code(), d.deal.message.clone()),
            Ok(None) => {
                let answer = self.legacy_propose(peer, &proposal).await;
                super::accept::hold_answer().await;
                answer
            }
            Err(e) => (S::Failing.code(), format!("failed to look up deal: {e}")),
        };
        let response = Response {
            state,
            message: truncate_message(message),
            proposal: proposal_cid,
            publish_message: None,
        };
        let v0 = frame.protocol.as_ref() == protocols::DEAL_1_0_1;
        let bytes = if v0 {
            cbor::to_vec(&ResponseV0::from(response.clone()))
        } else {
            cbor::to_vec(&response)
        };
        let signature = self.worker_sign(&miner, bytes, meta_type::NETWORK_RESPONSE).await;
        Some(if v0 {
            cbor::to_vec(&SignedResponseV0 {
                response: response.into(),
                signature,
            })
        } else {
            cbor::to_vec(&SignedResponse { response, signature })
        })
    }

    /// Check and store a new legacy proposal; the state and message to answer with.
    async fn legacy_propose(&self, peer: PeerId, proposal: &Proposal) -> (u64, String) {
        let Some(cdp) = proposal.deal_proposal.clone() else {
            return (S::Failing.code(), "proposal has no deal".into());
        };
        let Some(piece) = &proposal.piece else {
            return (S::Failing.code(), "proposal has no data reference (Piece)".into());
        };
        if piece.transfer_type != TRANSFER_MANUAL {
            return (
                S::Failing.code(),
                format!(
                    "transfer type {:?} is not supported on the go-fil-markets protocols: droplet takes \
                     offline (manual) deals on them, and online deals on /fil/storage/mk/1.2.1",
                    piece.transfer_type
                ),
            );
        }
        if let Some(c) = piece.piece_cid
            && c != cdp.proposal.piece_cid
        {
            return (
                S::Failing.code(),
                format!(
                    "the data reference's piece CID {c} is not the proposal's {}",
                    cdp.proposal.piece_cid
                ),
            );
        }
        let params = DealParams {
            deal_uuid: Uuid::new_v4(),
            transfer: Transfer::offline(),
            is_offline: true,
            deal_data_root: piece.root,
            skip_ipni_announce: false,
            client_deal_proposal: cdp,
            remove_unsealed_copy: !proposal.fast_retrieval,
        };
        match self.propose(peer, params).await {
            (true, _) => (S::WaitingForData.code(), String::new()),
            (false, reason) => (S::Failing.code(), reason),
        }
    }

    /// Answer a status request on status/1.1.0 or 1.0.1: the deal's state, signed by the
    /// worker. Failures are answered too, as state Error and still signed, as Go does.
    pub async fn handle_legacy_status(&self, frame: Frame) -> Option<Vec<u8>> {
        let v0 = frame.protocol.as_ref() == protocols::STATUS_1_0_1;
        let (cid, signature) = if v0 {
            let r: DealStatusRequestV0 = cbor::from_slice(&frame.bytes).ok()?;
            (r.proposal, r.signature)
        } else {
            let r: DealStatusRequest = cbor::from_slice(&frame.bytes).ok()?;
            (r.proposal, r.signature)
        };
        let (state, miner) = match self.legacy_state(&cid, &signature).await {
            Ok((s, m)) => (s, Some(m)),
            Err(message) => (
                ProviderDealState {
                    state: S::Error.code(),
                    deal_id: 0,
                    message: truncate_message(message.to_string()),
                    proposal: None,
                    publish_cid: None,
                    add_funds_cid: None,
                    proposal_cid: None,
                    fast_retrieval: false,
                },
                None,
            ),
        };
        // An unknown deal has no miner: sign with the first served one, as the answer must
        // carry a signature.
        let miner = miner.or_else(|| self.miners.list().first().map(|(m, _)| *m));
        let bytes = if v0 {
            cbor::to_vec(&ProviderDealStateV0::from(state.clone()))
        } else {
            cbor::to_vec(&state)
        };
        let signature = match miner {
            Some(m) => self.worker_sign(&m, bytes, meta_type::PROVIDER_DEAL_STATE).await,
            None => None,
        }
        .unwrap_or_else(|| Signature::new(market_types::signature::SigType::Bls, Vec::new()));
        Some(if v0 {
            cbor::to_vec(&DealStatusResponseV0 {
                deal_state: state.into(),
                signature,
            })
        } else {
            cbor::to_vec(&DealStatusResponse {
                deal_state: state,
                signature,
            })
        })
    }

    async fn legacy_state(
        &self,
        cid: &Cid,
        signature: &Signature,
    ) -> Result<(ProviderDealState, Address), AcceptError> {
        let d: DealRecord = self.deals.by_proposal_cid(cid)?.ok_or(AcceptError::NoDeal(*cid))?;
        let p = d.proposal();
        self.verify_client(&p.client, signature, &status_signing_bytes(cid))
            .await
            .map_err(|e| AcceptError::LegacyStatusSignature(Box::new(e)))?;
        let status = d.status();
        Ok((
            ProviderDealState {
                state: status.code(),
                deal_id: d.deal.deal_id.unwrap_or(0),
                message: truncate_message(self.runner.shown_message(&d)),
                proposal: Some(p.clone()),
                publish_cid: d.deal.publish_msg,
                add_funds_cid: d.deal.add_funds_msg,
                proposal_cid: Some(*cid),
                fast_retrieval: d.fast_retrieval,
            },
            p.provider,
        ))
    }

    /// The miner's worker signs `bytes`; `None` (an unsigned answer the client will refuse)
    /// when the worker or the signer cannot be reached.
    async fn worker_sign(&self, miner: &Address, bytes: Vec<u8>, meta: &str) -> Option<Signature> {
        let worker = match self.chain.miner_info(miner).await {
            Ok(info) => info.worker,
            Err(e) => {
                tracing::warn!(%miner, error = %e, "cannot find the worker to sign a legacy answer");
                return None;
            }
        };
        let key = self.chain.account_key(&worker).await.ok()?;
        match self.chain.signer.sign(&key, &bytes, MsgMeta::new(meta)).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(%miner, error = %e, "signing a legacy answer");
                None
            }
        }
    }
}

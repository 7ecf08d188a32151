//! Taking proposals on `/fil/storage/mk/1.2.1` and `1.2.0` (offline, or online over HTTP),
//! and answering `/fil/storage/status/1.2.0`. The checks are market-fsm's; this module gathers the facts
//! they need from the chain and the daemon, stores the deal, then answers.

use std::sync::Arc;

use market_fsm::storage::checks::{DealPolicy, ProposalFacts, check_proposal};
use market_fsm::storage::provider::{Event, ProviderDeal, step};
use market_p2p::{Frame, PeerId, protocols};
use market_types::boost::{
    DealParams, DealParamsV120, DealResponse, DealStatus, DealStatusRequest, DealStatusResponse,
};
use market_types::cbor;
use market_types::states::StorageDealStatus as S;
use market_types::{Address, Uuid};

use super::record::DealRecord;
use super::store::DealStore;
use crate::asks::Asks;
use crate::chain::Chain;
use crate::miners::{LiveConfig, Miners};

/// What takes proposals.
pub struct Acceptor {
    pub chain: Arc<Chain>,
    /// The chain reads of the checks, kept per head.
    pub facts: super::facts::ChainFacts,
    pub miners: Arc<Miners>,
    pub asks: Arc<Asks>,
    pub deals: DealStore,
    pub config: Arc<LiveConfig>,
    pub runner: Arc<super::runner::DealRunner>,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acceptor")
    }
}

/// Why a proposal's facts or a client's signature could not be had. The text is what the
/// client reads, in droplet's words.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("node error {what}: {source}")]
    Node {
        what: &'static str,
        source: market_proto::client::CallError,
    },
    #[error("resolving the client's key: {0}")]
    ClientKey(market_proto::client::CallError),
    #[error(transparent)]
    Signature(#[from] market_crypto::CryptoError),
    #[error("signature verification failed: {0}")]
    StatusSignature(Box<AcceptError>),
    #[error("invalid deal status request signature: {0}")]
    LegacyStatusSignature(Box<AcceptError>),
    #[error("failed to look up deal: {0}")]
    Lookup(#[from] crate::store::StoreError),
    #[error("getting deal {0}: deal not found")]
    NoDeal(cid::Cid),
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Fault injection for crash tests (feature `test-hooks`): with `DROPLET_TEST_HOLD_ANSWERS`
/// set, a proposal is checked and stored but never answered, so a test can kill droplet with
/// the client still waiting. Unset in normal use.
#[cfg(feature = "test-hooks")]
pub(super) async fn hold_answer() {
    if std::env::var_os("DROPLET_TEST_HOLD_ANSWERS").is_some() {
        tracing::warn!("DROPLET_TEST_HOLD_ANSWERS: the deal is stored, its answer held back");
        std::future::pending::<()>().await;
    }
}

/// Without the `test-hooks` feature every proposal is answered.
#[cfg(not(feature = "test-hooks"))]
pub(super) async fn hold_answer() {}

fn respond(accepted: bool, message: impl Into<String>) -> Option<Vec<u8>> {
    Some(cbor::to_vec(&DealResponse {
        accepted,
        message: message.into(),
    }))
}

impl Acceptor {
    /// The deal policy for `miner`, as checked at load.
    fn policy(&self, miner: &Address) -> DealPolicy {
        self.config.policy(Some(miner)).deal_policy()
    }

    /// Answer one proposal (the 1.1.x and 1.0.1 ones go to [`Self::handle_legacy_proposal`]). Input that does not decode closes the
    /// stream unanswered, as Boost does.
    pub async fn handle_proposal(&self, peer: PeerId, frame: Frame) -> Option<Vec<u8>> {
        if protocols::is_legacy(frame.protocol.as_ref()) {
            return self.handle_legacy_proposal(peer, frame).await;
        }
        let params = if frame.protocol.as_ref() == protocols::DEAL_1_2_0 {
            cbor::from_slice::<DealParamsV120>(&frame.bytes).ok()?.into()
        } else {
            match cbor::from_slice::<DealParams>(&frame.bytes) {
                Ok(p) => p,
                Err(e) => {
                    tracing::info!(%peer, error = %e, "undecodable deal proposal");
                    return None;
                }
            }
        };
        let (accepted, message) = self.propose(peer, params).await;
        hold_answer().await;
        respond(accepted, message)
    }

    /// Check a proposal, store the deal in its new state, and say whether it was accepted.
    pub async fn propose(&self, peer: PeerId, params: DealParams) -> (bool, String) {
        match self.deals.get_async(&params.deal_uuid).await {
            Ok(Some(_)) => {
                return (
                    false,
                    format!("deal proposal with UUID {} already exists", params.deal_uuid),
                );
            }
            Ok(None) => {}
            Err(e) => return (false, format!("failed to look up deal: {e}")),
        }
        let miner = params.client_deal_proposal.proposal.provider;
        // Pool mode, a miner whose lease another droplet holds (this one stands by, behind the
        // same address): the deal is taken in here and carried on by the holder, which picks
        // up what others took in.
        let for_holder = self.miners.contains(&miner) && !self.runner.owns(&miner);
        if !params.is_offline {
            let t = &params.transfer;
            let checked = t
                .http_request()
                .map_err(|e| format!("the transfer parameters are not a valid HTTP request: {e}"))
                .and_then(|req| {
                    let piece = params.client_deal_proposal.proposal.piece_size.unpadded().0;
                    super::transfer::check_request(&t.transfer_type, &req, t.size, piece)
                });
            if let Err(reason) = checked {
                return (false, reason);
            }
        }
        let cdp = params.client_deal_proposal.clone();
        let mut verdict = match self.checked(&cdp, !params.is_offline).await {
            Ok(v) => v,
            Err(e) => return (false, e.to_string()),
        };
        if verdict.is_ok()
            && let Err(reason) = self.filter(&params).await
        {
            verdict = Err(market_fsm::storage::checks::Rejection(reason));
        }
        let machine = ProviderDeal::new(!params.is_offline, cdp.proposal.provider_collateral.clone());
        let event = match &verdict {
            Ok(()) => Event::Accepted,
            Err(r) => Event::Rejected(r.0.clone()),
        };
        let Ok((next, actions)) = step(&machine, event) else {
            return (false, "internal error: a new deal cannot take its first event".into());
        };
        let now = now_secs();
        let record = DealRecord {
            uuid: params.deal_uuid,
            proposal_cid: cdp.proposal_cid(),
            proposal: cdp,
            client_peer: peer.to_string(),
            transfer: params.transfer,
            data_root: params.deal_data_root,
            fast_retrieval: !params.remove_unsealed_copy,
            deal: next,
            created_at: now,
            updated_at: now,
        };
        // Stored (synced) off the runtime's workers: concurrent proposals' writes are
        // committed together, and no worker waits on the disk or the database.
        if let Err(e) = self.deals.insert_async(&record).await {
            return (false, format!("failed to save the deal: {e}"));
        }
        if for_holder {
            if verdict.is_ok() {
                tracing::info!(uuid = %params.deal_uuid, %miner, "deal taken in for a miner another droplet on this database acts for: that droplet carries it on");
            }
        } else {
            self.runner.begin(params.deal_uuid, actions);
        }
        match verdict {
            Ok(()) => {
                tracing::info!(uuid = %params.deal_uuid, proposal = %record.proposal_cid, online = !params.is_offline, "deal accepted");
                (true, String::new())
            }
            Err(r) => {
                tracing::info!(uuid = %params.deal_uuid, reason = %r, "deal rejected");
                (false, r.0)
            }
        }
    }

    /// The miner's `Filter`, when set: the deal as boost's JSON with the provider's state.
    async fn filter(&self, params: &DealParams) -> Result<(), String> {
        let miner = params.client_deal_proposal.proposal.provider;
        let policy = self.config.policy(Some(&miner));
        let cmd = policy.settings.filter.trim();
        if cmd.is_empty() {
            return Ok(());
        }
        let state = self.filter_state(&miner, &policy).await;
        let input = super::filter::storage_input(params, &state);
        match super::filter::run(cmd, &input, policy.settings.filter_timeout.0).await {
            super::filter::Verdict::Accept => Ok(()),
            super::filter::Verdict::Reject(reason) => {
                tracing::info!(uuid = %params.deal_uuid, %reason, "the deal filter rejected a deal");
                Err(reason)
            }
        }
    }

    /// What the filter is told of the provider: escrow, wallets, piece storage, deals. A value
    /// the node cannot give is left at zero (and logged) rather than failing the proposal.
    async fn filter_state(
        &self,
        miner: &Address,
        policy: &crate::config::ProviderPolicy,
    ) -> super::filter::ProviderState {
        use crate::chain::DealChain;
        let chain: &Chain = &self.chain;
        let mut s = super::filter::ProviderState::default();
        match chain.market_balance(miner).await {
            Ok(b) => {
                s.escrow_available = b.available();
                s.escrow_locked = b.locked.clone();
            }
            Err(e) => tracing::warn!(%miner, error = %e, "deal filter input: no market balance"),
        }
        s.escrow_tagged = self.runner.reserved(miner);
        if let Ok(info) = chain.miner_info(miner).await {
            let worker = info.worker;
            let balance = chain.wallet_balance(&worker).await.unwrap_or_default();
            s.collateral = (worker.to_string(), balance.clone());
            s.publish = match policy.deal_publish_address.first() {
                Some(a) => (a.to_string(), chain.wallet_balance(a).await.unwrap_or_default()),
                None => (worker.to_string(), balance),
            };
        }
        let stores = self.config.read(|c| c.piece_storage.fs.clone());
        for st in stores.iter().filter(|st| !st.read_only) {
            if let Ok(v) = nix::sys::statvfs::statvfs(&st.path) {
                let unit = v.fragment_size();
                s.storage_total += v.blocks().saturating_mul(unit);
                s.storage_free += v.blocks_available().saturating_mul(unit);
            }
        }
        let miner = *miner;
        if let Ok(deals) = self.deals.read(move |d| d.of_miner(&miner)).await {
            for d in deals {
                let status = d.status();
                *s.deal_states.entry(status.name().to_string()).or_default() += 1;
                if !status.is_terminal() && !crate::pieces::has_stored_piece(status) {
                    s.storage_tagged += d.proposal().piece_size.0;
                }
            }
        }
        s
    }

    /// Check that `signature` over `bytes` is by `client`'s key (resolved on chain).
    pub(super) async fn verify_client(
        &self,
        client: &market_types::Address,
        signature: &market_types::Signature,
        bytes: &[u8],
    ) -> Result<(), AcceptError> {
        let key = self
            .facts
            .account_key(client)
            .await
            .map_err(|e| AcceptError::ClientKey(e.into()))?;
        Ok(market_crypto::verify(signature, &key, bytes)?)
    }

    /// The checks' verdict on a proposal. The chain is read as of a head up to a moment old
    /// ([`super::facts::HEAD_FOR`]); a proposal that would be refused is checked again at the
    /// current head, so a client whose deposit has just landed is not refused for it.
    pub(super) async fn checked(
        &self,
        cdp: &market_types::chain::ClientDealProposal,
        online: bool,
    ) -> Result<Result<(), market_fsm::storage::checks::Rejection>, AcceptError> {
        let policy = self.policy(&cdp.proposal.provider);
        let verdict = check_proposal(cdp, &self.facts(cdp, online, false).await?, &policy);
        if verdict.is_ok() {
            return Ok(verdict);
        }
        Ok(check_proposal(cdp, &self.facts(cdp, online, true).await?, &policy))
    }

    /// What the checks need, from the chain (at the current head if `fresh`) and the daemon.
    async fn facts(
        &self,
        cdp: &market_types::chain::ClientDealProposal,
        online: bool,
        fresh: bool,
    ) -> Result<ProposalFacts, AcceptError> {
        let p = &cdp.proposal;
        let node_err =
            |what: &'static str, e: jsonrpsee::core::client::Error| AcceptError::Node { what, source: e.into() };
        let (key, head) = self
            .facts
            .head(fresh)
            .await
            .map_err(|e| node_err("getting chain head", e))?;
        // The reads at one head, and the signature, at once.
        let (signature, bounds, balance, client_datacap) = tokio::join!(
            async {
                self.verify_client(&p.client, &cdp.client_signature, &p.signing_bytes())
                    .await
                    .map_err(|e| e.to_string())
            },
            self.facts.collateral_bounds(&key, p.piece_size.0, p.verified_deal),
            self.facts.market_balance(&key, &p.client),
            async {
                if p.verified_deal {
                    self.facts.datacap(&key, &p.client).await
                } else {
                    Ok(None)
                }
            },
        );
        let bounds = bounds.map_err(|e| node_err("getting collateral bounds", e))?;
        let balance = balance.map_err(|e| node_err("getting client market balance failed", e))?;
        let client_datacap = client_datacap.map_err(|e| node_err("fetching verified data cap", e))?;
        let ask = self
            .asks
            .get_async(&p.provider)
            .await
            .ok()
            .flatten()
            .and_then(|a| a.ask);
        Ok(ProposalFacts {
            head,
            signature,
            provider_served: self.miners.contains(&p.provider),
            // droplet's rule: at most `MaxProviderCollateralMultiplier` times the minimum
            // (and never above what the market actor takes).
            collateral_bounds: {
                let most = self
                    .config
                    .policy(Some(&p.provider))
                    .max_provider_collateral(&bounds.min);
                let max = if most < bounds.max { most } else { bounds.max };
                (bounds.min, max)
            },
            ask,
            client_available: balance.available(),
            client_datacap,
            online,
        })
    }

    /// Answer a status request: the deal's checkpoint, signed by its client's key.
    pub async fn handle_status(&self, frame: Frame) -> Option<Vec<u8>> {
        if protocols::is_legacy(frame.protocol.as_ref()) {
            return self.handle_legacy_status(frame).await;
        }
        let req: DealStatusRequest = cbor::from_slice(&frame.bytes).ok()?;
        let answer = |error: String| DealStatusResponse {
            error,
            deal_uuid: req.deal_uuid,
            is_offline: false,
            deal_status: None,
            transfer_size: 0,
            n_bytes_received: 0,
        };
        let resp = match self.deals.get_async(&req.deal_uuid).await {
            Ok(Some(d)) => self.status_of(&d, &req).await.unwrap_or_else(|e| answer(e.to_string())),
            Ok(None) => answer(format!("no deal with UUID {}", req.deal_uuid)),
            Err(e) => answer(format!("failed to look up deal: {e}")),
        };
        Some(cbor::to_vec(&resp))
    }

    async fn status_of(&self, d: &DealRecord, req: &DealStatusRequest) -> Result<DealStatusResponse, AcceptError> {
        let p = d.proposal();
        self.verify_client(&p.client, &req.signature, req.deal_uuid.as_bytes())
            .await
            .map_err(|e| AcceptError::StatusSignature(Box::new(e)))?;
        let status = d.status();
        let error = if matches!(status, S::Failing | S::Rejecting | S::Error) {
            d.deal.message.clone()
        } else {
            String::new()
        };
        Ok(DealStatusResponse {
            error: String::new(),
            deal_uuid: d.uuid,
            is_offline: !d.deal.online,
            deal_status: Some(DealStatus {
                error,
                status: checkpoint(status).to_string(),
                proposal: p.clone(),
                publish_cid: d.deal.publish_msg,
                chain_deal_id: d.deal.deal_id.unwrap_or(0),
                // What the deal waits for, if anything; else where its piece is.
                sealing_status: self
                    .runner
                    .waiting_for(&d.proposal_cid)
                    .unwrap_or_else(|| d.deal.piece_status.name().to_string()),
                signed_proposal_cid: d.proposal_cid,
            }),
            transfer_size: d.transfer.size,
            n_bytes_received: d.deal.transferred,
        })
    }
}

/// Boost's checkpoint name for a deal state (the `Status` of a status answer).
pub fn checkpoint(s: S) -> &'static str {
    match s {
        S::Unknown
        | S::WaitingForData
        | S::TransferQueued
        | S::StartDataTransfer
        | S::Transferring
        | S::ProviderTransferAwaitRestart => "Accepted",
        S::VerifyData | S::ReserveProviderFunds | S::ProviderFunding | S::Publish => "Transferred",
        S::Publishing => "Published",
        S::Staged => "PublishConfirmed",
        S::AwaitingPreCommit | S::Sealing => "AddedPiece",
        S::Active | S::Expired | S::Slashed => "Complete",
        _ => "Complete",
    }
}

/// The 16 bytes a status request signs.
pub fn status_signing_bytes(uuid: &Uuid) -> Vec<u8> {
    uuid.as_bytes().to_vec()
}

//! Proposing a deal: build and sign the proposal, set the client's escrow aside (AddBalance
//! when short), send it on the newest protocol the provider speaks (or the one asked for),
//! and record the answer. The client machine says what to do next ([`Action`]); each outcome
//! goes back to it as an event, stored before the next action runs.

use anyhow::{Context, Result, anyhow, bail};
use libp2p::{Multiaddr, PeerId};
use market_p2p::HostError;
use std::collections::VecDeque;

use market_fsm::storage::client::{Action, Event};
use market_fsm::storage::funds::Reservation;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market_client::StartDealParams;
use market_proto::api::wallet::{MsgMeta, meta_type};
use market_proto::client::call_error;
use market_types::boost::{HttpRequest, Transfer};
use market_types::chain::{ClientDealProposal, DealProposal, Message, TipSetKey};
use market_types::units::{EPOCHS_IN_DAY, UnpaddedPieceSize};
use market_types::{Cid, DealLabel, TokenAmount, Uuid};

use super::record::ClientDealRecord;
use super::wire::{self, Answer};
use super::{ClientDeals, lock, now_secs};

/// Deals start eight days after the head unless told otherwise (lotus's start buffer).
const START_BUFFER: i64 = 8 * EPOCHS_IN_DAY;

/// What came of sending a proposal.
enum Sent {
    /// The provider's answer, as the machine's event.
    Answered(Event),
    /// The request went out but no answer came back (the connection broke or timed out):
    /// the provider may hold the deal.
    Unanswered { reason: String },
}

/// Where an online deal's data comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Imported by hand on the provider (`storage deal import-data`).
    Offline,
    /// This daemon serves the CAR at `path` (`size` bytes).
    Served { path: String, size: u64 },
    /// The provider fetches `size` bytes from a URL of the client's choosing.
    Url { request: HttpRequest, size: u64 },
}

impl ClientDeals {
    /// Propose a deal; returns the proposal CID and deal UUID once the provider accepted it.
    /// A rejected deal is stored as failed, and its reason returned as the error.
    pub async fn propose(&self, params: &StartDealParams, source: Source) -> Result<(Cid, Uuid)> {
        let tsk = || Json(TipSetKey::empty());
        let piece_cid =
            params.data.piece_cid.as_ref().map(|c| c.0).ok_or_else(|| {
                anyhow!("the deal needs its piece CID (--manual-piece-cid, or import the data first)")
            })?;
        let unpadded = UnpaddedPieceSize(params.data.piece_size);
        unpadded
            .validate()
            .map_err(|e| anyhow!("piece size {}: {}", params.data.piece_size, e.0))?;
        let piece_size = unpadded.padded();
        let miner = params.miner.0;
        let client = params.wallet.0;
        let online = !matches!(source, Source::Offline);
        let protocols = wire::protocols_for(&params.protocol, online)?;
        let head = self.node.chain_head().await.map_err(call_error)?.0.height();
        let start = if params.deal_start_epoch > 0 {
            params.deal_start_epoch
        } else {
            head + START_BUFFER
        };
        let collateral = if params.provider_collateral.0.is_zero() {
            let b = self
                .node
                .state_deal_provider_collateral_bounds(piece_size.0, params.verified_deal, tsk())
                .await
                .map_err(call_error)?
                .0;
            // droplet-client's overestimation: the minimum plus 20 %.
            TokenAmount::from_atto(b.min.atto() * 12u32 / 10u32)
        } else {
            params.provider_collateral.0.clone()
        };
        let proposal = DealProposal {
            piece_cid,
            piece_size,
            verified_deal: params.verified_deal,
            client,
            provider: miner,
            label: DealLabel::String(params.data.root.0.to_string()),
            start_epoch: start,
            end_epoch: start + params.min_blocks_duration as i64,
            storage_price_per_epoch: TokenAmount::from_atto(params.epoch_price.0.atto() * piece_size.0 / (1u64 << 30)),
            provider_collateral: collateral,
            client_collateral: TokenAmount::default(),
        };
        let key = self
            .node
            .state_account_key(Json(client), tsk())
            .await
            .map_err(call_error)?
            .0;
        let signature = self
            .signer
            .sign(&key, &proposal.signing_bytes(), MsgMeta::new(meta_type::DEAL_PROPOSAL))
            .await
            .context("signing the deal proposal")?;
        let cdp = ClientDealProposal {
            proposal,
            client_signature: signature,
        };
        let (peer, addrs) = self.provider_address(&miner).await?;
        let uuid = Uuid::new_v4();
        let (transfer, transfer_url, car_path, serve_token, transfer_size) = match &source {
            Source::Offline => (Transfer::offline(), String::new(), String::new(), String::new(), 0),
            Source::Served { path, size } => {
                let base = self
                    .serve_base
                    .get()
                    .ok_or_else(|| anyhow!("the daemon's HTTP server is not up yet"))?;
                let token = super::serve::new_token();
                let req = HttpRequest {
                    url: format!("{base}/deal-data/{uuid}"),
                    headers: Some([("Authorization".to_string(), format!("Bearer {token}"))].into()),
                };
                (Transfer::http(&req, *size), req.url, path.clone(), token, *size)
            }
            Source::Url { request, size } => (
                Transfer::http(request, *size),
                request.url.clone(),
                String::new(),
                String::new(),
                *size,
            ),
        };
        let now = now_secs();
        let mut record = ClientDealRecord {
            version: super::record::RECORD_VERSION,
            uuid: Json(uuid),
            proposal_cid: Json(cdp.proposal_cid()),
            protocol: String::new(),
            peer: peer.to_string(),
            addrs: addrs.iter().map(|a| a.to_string()).collect(),
            proposal: Json(cdp.clone()),
            data_root: params.data.root.clone(),
            state: 0,
            message: String::new(),
            online,
            car_path,
            serve_token,
            transfer_url,
            transfer_size,
            bytes_received: 0,
            funds_reserved: Json(TokenAmount::default()),
            add_funds_msg: None,
            publish_msg: None,
            deal_id: None,
            fast_retrieval: params.fast_retrieval,
            created_at: now,
            updated_at: now,
        };
        record.apply(
            &market_fsm::storage::client::ClientDeal::new(online, cdp.proposal.client_balance_requirement()),
            now,
        );
        self.deals.put(&record).context("storing the deal")?;
        let fail = |e: anyhow::Error| async move {
            let _ = self.event(uuid, Event::Errored(format!("{e:#}"))).await;
            e
        };
        // The machine says what comes next; each outcome goes back to it as an event, stored
        // before the next action runs.
        let mut todo: VecDeque<Action> = self.step(uuid, Event::Start).await.map_err(|e| anyhow!(e))?.1.into();
        while let Some(action) = todo.pop_front() {
            let event = match action {
                Action::ReserveFunds { .. } => match self.reserve_escrow(&cdp.proposal).await {
                    Ok((amount, message)) => Event::FundsReserved { amount, message },
                    Err(e) => return Err(fail(e).await),
                },
                Action::WaitFunding { message } => match self.wait_deposit(&message).await {
                    Ok(()) => Event::Funded,
                    Err(e) => return Err(fail(e).await),
                },
                Action::SendProposal => {
                    // Recorded as sent first: a stop during the exchange leaves it visible.
                    let (_, after) = self.step(uuid, Event::ProposalSent).await.map_err(|e| anyhow!(e))?;
                    todo.extend(after);
                    let request = wire::encode_proposal(&protocols, &record, transfer.clone(), !online);
                    match self.send_proposal(uuid, &miner, peer, addrs.clone(), request).await {
                        Ok(Sent::Answered(event)) => event,
                        Ok(Sent::Unanswered { reason }) => {
                            // The provider may hold the deal: it stays waiting for acceptance
                            // and the tracker asks the provider which it is.
                            lock(&self.orphans).insert(uuid.to_string());
                            bail!(
                                "{miner}'s answer to deal {} was lost ({reason}); it may have \
                                 accepted the deal: droplet-client asks {miner} for its status \
                                 and goes on from there (see `droplet-client storage deals list`)",
                                record.proposal_cid.0
                            );
                        }
                        Err(e) => return Err(fail(e).await),
                    }
                }
                // Serving and tracking follow the stored state; releases happen in `step`.
                Action::ServeData | Action::StopServingData | Action::Track | Action::ReleaseFunds { .. } => continue,
            };
            let rejected = match &event {
                Event::ProviderRejected(reason) => Some(reason.clone()),
                _ => None,
            };
            let (_, after) = self.step(uuid, event).await.map_err(|e| anyhow!(e))?;
            if let Some(reason) = rejected {
                bail!("deal rejected by {miner}: {reason}");
            }
            todo.extend(after);
        }
        let d = self
            .deals
            .get(&uuid)
            .context("reading the deal")?
            .ok_or_else(|| anyhow!("deal {uuid} vanished"))?;
        if d.status().is_terminal() {
            bail!("deal {uuid} ended in {}: {}", d.status().name(), d.message);
        }
        tracing::info!(%uuid, proposal = %record.proposal_cid.0, protocol = %d.protocol, "deal accepted by {miner}");
        Ok((record.proposal_cid.0, uuid))
    }

    /// Send the proposal and turn the provider's answer into the machine's event; the protocol
    /// that carried it (or may have: see [`Sent::Unanswered`]) is stored with the deal.
    async fn send_proposal(
        &self,
        uuid: Uuid,
        miner: &market_types::Address,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: market_p2p::Frame,
    ) -> Result<Sent> {
        let answer = match self.host.request(peer, addrs, request).await {
            Ok(answer) => answer,
            Err(HostError::Request {
                reason,
                sent_on: Some(protocol),
                ..
            }) => {
                self.set_protocol(uuid, protocol).await;
                return Ok(Sent::Unanswered { reason });
            }
            Err(e) => return Err(anyhow!(e).context(format!("sending the deal to {miner}"))),
        };
        let protocol = answer.protocol.to_string();
        let verdict = wire::decode_answer(self, miner, &answer).await;
        self.set_protocol(uuid, protocol).await;
        Ok(Sent::Answered(match verdict? {
            Answer::Accepted => Event::ProviderAccepted,
            Answer::Rejected(reason) => Event::ProviderRejected(reason),
        }))
    }

    /// Store the protocol the deal's proposal went out on (its status is asked on its family).
    async fn set_protocol(&self, uuid: Uuid, protocol: String) {
        self.update(&uuid, |d| {
            d.protocol = protocol;
            true
        })
        .await;
    }

    pub(crate) async fn provider_address(&self, miner: &market_types::Address) -> Result<(PeerId, Vec<Multiaddr>)> {
        let info = self
            .node
            .state_miner_info(Json(*miner), Json(TipSetKey::empty()))
            .await
            .map_err(call_error)?
            .0;
        let raw = info
            .peer_id
            .ok_or_else(|| anyhow!("miner {miner} has no peer ID on chain"))?;
        let peer = PeerId::from_bytes(&raw.0).map_err(|e| anyhow!("miner {miner}'s peer ID is not valid: {e}"))?;
        let addrs = info
            .multiaddrs
            .iter()
            .filter_map(|a| Multiaddr::try_from(a.0.clone()).ok())
            .collect();
        Ok((peer, addrs))
    }

    /// Set the deal's escrow aside; send AddBalance for what the escrow lacks. Reservations
    /// are measured against escrow minus locked: a deal releases its reservation once it is
    /// published, when its funds become locked.
    async fn reserve_escrow(&self, p: &DealProposal) -> Result<(TokenAmount, Option<Cid>)> {
        let bal = self
            .node
            .state_market_balance(Json(p.client), Json(TipSetKey::empty()))
            .await
            .map_err(call_error)?
            .0;
        let need = p.client_balance_requirement();
        let reservation = lock(&self.ledger).reserve(p.client, p.cid(), &need, &bal.available());
        let amount = match reservation {
            Reservation::Covered => return Ok((need, None)),
            Reservation::NeedsDeposit(x) => x,
        };
        let msg = Message::add_balance(p.client, p.client, amount);
        let id = self
            .sender
            .push(msg)
            .await
            .context("adding to the client's market escrow")?;
        Ok((need, Some(id)))
    }

    async fn wait_deposit(&self, id: &Cid) -> Result<()> {
        let lookup = self
            .sender
            .wait(id, 0, &self.node)
            .await
            .context("waiting for the escrow deposit")?;
        if lookup.receipt.exit_code != 0 {
            bail!(
                "adding to the market escrow failed with exit code {}",
                lookup.receipt.exit_code
            );
        }
        Ok(())
    }
}

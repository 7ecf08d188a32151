//! Proposing storage deals from the client: offline ("manual") deals on
//! `/fil/storage/mk/1.2.1`, with the client's escrow topped up first when it is short.

use anyhow::{Context, Result, anyhow, bail};
use jsonrpsee::http_client::HttpClient;
use libp2p::{Multiaddr, PeerId};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market_client::StartDealParams;
use market_proto::api::wallet::{MsgMeta, meta_type};
use market_proto::client::call_error;
use market_proto::messages::MessageSender;
use market_proto::p2p::{Family, Frame, Host, StreamProtocol, protocols};
use market_proto::signer::Signer;
use market_types::boost::{DealParams, DealResponse, Transfer};
use market_types::chain::{ClientDealProposal, DealProposal, Message, TipSetKey, market_method};
use market_types::units::{EPOCHS_IN_DAY, UnpaddedPieceSize};
use market_types::{Cid, DealLabel, TokenAmount, Uuid, cbor};

/// What proposing needs.
#[derive(Debug, Clone)]
pub struct Proposer {
    pub host: Host,
    pub node: HttpClient,
    pub signer: Signer,
    /// Escrow set aside per client for the deals proposed by this daemon, so that several
    /// deals proposed before any is published do not count on the same funds. Measured against
    /// the whole escrow, since proposals stay in it after they publish (as locked funds).
    pub ledger: std::sync::Arc<std::sync::Mutex<market_fsm::funds::FundLedger>>,
}

/// Deals start eight days after the head unless told otherwise (lotus's start buffer).
const START_BUFFER: i64 = 8 * EPOCHS_IN_DAY;

impl Proposer {
    /// Propose an offline deal; returns the proposal CID and the deal UUID once accepted.
    pub async fn offline_deal(&self, sender: &MessageSender, params: &StartDealParams) -> Result<(Cid, Uuid)> {
        let tsk = || Json(TipSetKey::empty());
        let piece_cid = params
            .data
            .piece_cid
            .as_ref()
            .map(|c| c.0)
            .ok_or_else(|| anyhow!("an offline deal needs its piece CID (--manual-piece-cid)"))?;
        let unpadded = UnpaddedPieceSize(params.data.piece_size);
        unpadded
            .validate()
            .map_err(|e| anyhow!("piece size {}: {}", params.data.piece_size, e.0))?;
        let piece_size = unpadded.padded();
        let miner = params.miner.0;
        let client = params.wallet.0;
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
        self.ensure_escrow(sender, &proposal).await?;
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
        let proposal_cid = cdp.proposal_cid();
        let uuid = Uuid::new_v4();
        let deal = DealParams {
            deal_uuid: uuid,
            transfer: Transfer::offline(),
            is_offline: true,
            deal_data_root: params.data.root.0,
            skip_ipni_announce: false,
            client_deal_proposal: cdp,
            remove_unsealed_copy: !params.fast_retrieval,
        };
        let (peer, addrs) = self.provider_address(&miner).await?;
        let request = Frame::versions(vec![(StreamProtocol::new(protocols::DEAL_1_2_1), cbor::to_vec(&deal))]);
        let answer = self
            .host
            .request(peer, addrs, Family::StorageDeal, request)
            .await
            .with_context(|| format!("sending the deal to {miner}"))?;
        let resp: DealResponse = cbor::from_slice(&answer.bytes).context("decoding the provider's answer")?;
        if !resp.accepted {
            bail!("deal rejected by {miner}: {}", resp.message);
        }
        Ok((proposal_cid, uuid))
    }

    async fn provider_address(&self, miner: &market_types::Address) -> Result<(PeerId, Vec<Multiaddr>)> {
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

    /// Top up the client's market escrow when what is available does not cover this deal
    /// together with the others this daemon has proposed.
    async fn ensure_escrow(&self, sender: &MessageSender, p: &DealProposal) -> Result<()> {
        let bal = self
            .node
            .state_market_balance(Json(p.client), Json(TipSetKey::empty()))
            .await
            .map_err(call_error)?
            .0;
        let need = p.client_balance_requirement();
        // The client does not follow its deals yet, so its reservations are never released.
        // Published deals hold their funds as `locked` inside the escrow: measured against the
        // whole escrow (not escrow − locked) every deal counts once, published or not.
        let reservation = {
            let mut l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
            l.reserve(p.client, p.cid(), &need, &bal.escrow)
        };
        let amount = match reservation {
            market_fsm::funds::Reservation::Covered => return Ok(()),
            market_fsm::funds::Reservation::NeedsDeposit(x) => x,
        };
        let msg = Message::to_send(
            p.client,
            market_types::Address::new_id(5),
            market_method::ADD_BALANCE,
            cbor::to_vec(&p.client),
            amount.clone(),
        );
        let id = sender.push(msg).await.context("adding to the client's market escrow")?;
        let lookup = sender
            .wait(&id, 0, &self.node)
            .await
            .context("waiting for the escrow deposit")?;
        if lookup.receipt.exit_code != 0 {
            bail!(
                "adding {} attoFIL to the market escrow failed with exit code {}",
                amount.atto(),
                lookup.receipt.exit_code
            );
        }
        Ok(())
    }
}

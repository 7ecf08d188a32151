//! A sealer for the devnet that behaves as damocles does towards droplet: it asks droplet for
//! deals (`AssignDeals`), downloads each piece (`GET /resource`), checks it against its piece
//! CID, computes the sector's unsealed CID (CommD) from the pieces at their offsets, and sends
//! PreCommitSectorBatch2 then, after the challenge delay, ProveCommitSector with the deal IDs.
//! A sector of direct deals (each with its DataCap allocation, no deal ID) is pre-committed
//! without deal IDs and proven with ProveCommitSectors3, each piece's activation manifest
//! naming its allocation, so that proving it claims them, as damocles does.
//! Proofs are not computed (the devnet accepts any proof bytes); everything else is real.
//! Each sealed piece is kept (`<kept>/<sector>/<offset>-<pieceCid>`), so that the sealer can
//! unseal it later (`crate::unsealer`).

use std::time::Duration;

use jsonrpsee::http_client::HttpClient;
use market_proto::Json;
use market_proto::api::direct_deal::MarketDirectDealsClient;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market::clients::*;
use market_proto::api::market::{DealInfoV2, GetDealSpec, SectorId};
use market_proto::api_info::ApiInfo;
use market_proto::client::CallError;
use market_types::actors::{
    DataActivationNotification, PieceActivationManifest, PreCommitSectorBatch2Params, ProveCommitSectorParams,
    ProveCommitSectors3Params, SectorActivationManifest, VerifiedAllocationKey, miner_method,
};
use market_types::chain::{Message, SectorPreCommitInfo, TipSetKey, miner_method as chain_miner_method};
use market_types::{Address, Bytes, Cid, TokenAmount, cbor};

use crate::state::policy::seal_proof_for;

/// Why a sector could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{0}")]
    Call(String),
    #[error("piece {piece}: {reason}")]
    Piece { piece: Cid, reason: String },
    #[error("message {what} failed with exit code {code}")]
    Message { what: &'static str, code: i64 },
}

fn call(e: jsonrpsee::core::client::Error) -> SealError {
    SealError::Call(CallError::from(e).0)
}

/// The sealer's connections.
#[derive(Debug, Clone)]
pub struct Sealer {
    pub node: HttpClient,
    pub droplet: HttpClient,
    /// droplet's HTTP base (`http://host:port`) and token, for `/resource`.
    pub droplet_base: String,
    pub droplet_token: String,
    pub miner: Address,
    pub http: reqwest::Client,
    /// Where sealed pieces are kept, to be unsealed.
    pub kept: std::path::PathBuf,
}

/// Where the sealer keeps the piece sealed at padded `offset` of `sector`.
pub fn kept_piece(kept: &std::path::Path, sector: u64, offset: u64, piece: &Cid) -> std::path::PathBuf {
    kept.join(sector.to_string()).join(format!("{offset}-{piece}"))
}

/// A direct deal: an allocation and no deal ID (deal IDs start at 0, allocation IDs at 1).
fn is_direct(d: &DealInfoV2) -> bool {
    d.allocation_id != 0 && d.deal_id == 0
}

/// What one round sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub sector: u64,
    pub deal_ids: Vec<u64>,
    /// The DataCap allocations its direct deals claimed.
    pub allocation_ids: Vec<u64>,
}

impl Sealer {
    pub fn new(
        node: HttpClient,
        droplet_info: &ApiInfo,
        miner: Address,
        kept: std::path::PathBuf,
    ) -> Result<Sealer, SealError> {
        let droplet = market_proto::client::http(droplet_info, "v1", Duration::from_secs(60))
            .map_err(|e| SealError::Call(e.to_string()))?;
        let base = market_proto::api_info::http_base(&droplet_info.addr).map_err(|e| SealError::Call(e.to_string()))?;
        Ok(Sealer {
            node,
            droplet,
            droplet_base: base,
            droplet_token: droplet_info.token.clone(),
            miner,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| SealError::Call(e.to_string()))?,
            kept,
        })
    }

    /// Seal one sector numbered `number` if droplet has deals for it.
    pub async fn seal_one(&self, number: u64) -> Result<Option<Sealed>, SealError> {
        let tsk = || Json(TipSetKey::empty());
        let info = self
            .node
            .state_miner_info(Json(self.miner), tsk())
            .await
            .map_err(call)?
            .0;
        let sector_size = info.sector_size;
        let miner_id = self
            .node
            .state_lookup_id(Json(self.miner), tsk())
            .await
            .map_err(call)?
            .0
            .id()
            .map_err(|e| SealError::Call(e.to_string()))?;
        let deals = self
            .droplet
            .assign_deals(
                SectorId {
                    miner: miner_id,
                    number,
                },
                sector_size,
                GetDealSpec::default(),
            )
            .await
            .map_err(call)?;
        if deals.is_empty() {
            return Ok(None);
        }
        match self.seal(number, sector_size, info.worker, &deals).await {
            Ok(s) => Ok(Some(s)),
            Err(e) => {
                let (direct, market): (Vec<&DealInfoV2>, Vec<&DealInfoV2>) = deals.iter().partition(|d| is_direct(d));
                if !market.is_empty() {
                    let ids = market.iter().map(|d| d.deal_id).collect();
                    let _ = self.droplet.release_deals(Json(self.miner), ids).await;
                }
                if !direct.is_empty() {
                    let ids = direct.iter().map(|d| d.allocation_id).collect();
                    let _ = self.droplet.release_direct_deals(Json(self.miner), ids).await;
                }
                Err(e)
            }
        }
    }

    async fn seal(
        &self,
        number: u64,
        sector_size: u64,
        worker: Address,
        deals: &[DealInfoV2],
    ) -> Result<Sealed, SealError> {
        let mut deals = deals.to_vec();
        deals.sort_by_key(|d| d.offset);
        let mut nodes = Vec::new();
        for d in &deals {
            let url = format!("{}/resource?resource-id={}", self.droplet_base, d.piece_cid.0);
            let fail = |reason: String| SealError::Piece {
                piece: d.piece_cid.0,
                reason,
            };
            let resp = self
                .http
                .get(&url)
                .bearer_auth(&self.droplet_token)
                .send()
                .await
                .map_err(|e| fail(e.to_string()))?;
            if !resp.status().is_success() {
                return Err(fail(format!("GET /resource answered {}", resp.status())));
            }
            // Streamed into commP and kept, never more than the piece can hold.
            let limit = d.piece_size / 128 * 127;
            let mut hasher = piece_store::commp::Hasher::new();
            let keep = kept_piece(&self.kept, number, d.offset, &d.piece_cid.0);
            let part = keep.with_extension("part");
            if let Some(dir) = keep.parent() {
                std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
            }
            let mut file = std::fs::File::create(&part).map_err(|e| fail(format!("{}: {e}", part.display())))?;
            let mut resp = resp;
            while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
                if hasher.len() + chunk.len() as u64 > limit {
                    return Err(fail(format!("droplet sent more than the piece's {limit} bytes")));
                }
                hasher.update(&chunk).map_err(|e| fail(e.to_string()))?;
                std::io::Write::write_all(&mut file, &chunk).map_err(|e| fail(format!("{}: {e}", part.display())))?;
            }
            drop(file);
            std::fs::rename(&part, &keep).map_err(|e| fail(format!("{}: {e}", keep.display())))?;
            let commp = hasher
                .finish()
                .and_then(|c| c.padded_to(d.piece_size))
                .map_err(|e| fail(e.to_string()))?;
            if commp.piece_cid() != d.piece_cid.0 {
                return Err(fail(format!("the data's piece CID is {}", commp.piece_cid())));
            }
            nodes.push((commp.commp, d.piece_size));
        }
        let commd =
            piece_store::commp::aggregate_commd(&nodes, sector_size).map_err(|e| SealError::Call(e.to_string()))?;
        let unsealed = piece_store::commp::piece_cid_v1(&commd);
        // A stand-in CommR with the sealed-commitment prefix; the devnet checks no proofs.
        let sealed = match cid::multihash::Multihash::<64>::wrap(0xb401, commd.as_ref()) {
            Ok(mh) => Cid::new_v1(0xf102, mh),
            Err(e) => return Err(SealError::Call(e.to_string())),
        };
        let head = self.node.chain_head().await.map_err(call)?.0.height();
        let expiration = deals.iter().map(|d| d.end_epoch).max().unwrap_or(head) + 2880;
        let direct = deals.iter().any(is_direct);
        let deal_ids: Vec<u64> = deals.iter().filter(|d| !is_direct(d)).map(|d| d.deal_id).collect();
        let allocation_ids: Vec<u64> = deals.iter().filter(|d| is_direct(d)).map(|d| d.allocation_id).collect();
        // With direct deals the pieces are named when proving, and no deal is pre-committed.
        let prove = if direct {
            let manifest = self.activation_manifest(number, &deals).await?;
            (
                miner_method::PROVE_COMMIT_SECTORS3,
                cbor::to_vec(&ProveCommitSectors3Params {
                    sector_activations: vec![manifest],
                    sector_proofs: vec![Bytes(vec![0u8; 192])],
                    aggregate_proof: Bytes::default(),
                    aggregate_proof_type: None,
                    require_activation_success: true,
                    require_notification_success: true,
                }),
                "ProveCommitSectors3",
            )
        } else {
            (
                miner_method::PROVE_COMMIT_SECTOR,
                cbor::to_vec(&ProveCommitSectorParams {
                    sector_number: number,
                    proof: Bytes(vec![0u8; 192]),
                }),
                "ProveCommitSector",
            )
        };
        let info = SectorPreCommitInfo {
            seal_proof: seal_proof_for(sector_size)
                .ok_or_else(|| SealError::Call(format!("no seal proof for sector size {sector_size}")))?,
            sector_number: number,
            sealed_cid: sealed,
            seal_rand_epoch: head.saturating_sub(1),
            deal_ids: if direct { Vec::new() } else { deal_ids.clone() },
            expiration,
            unsealed_cid: Some(unsealed),
        };
        let params = cbor::to_vec(&PreCommitSectorBatch2Params { sectors: vec![info] });
        let pre_epoch = self
            .send(
                worker,
                chain_miner_method::PRE_COMMIT_SECTOR_BATCH2,
                params,
                "PreCommitSectorBatch2",
            )
            .await?;
        tracing::info!(sector = number, deals = ?deal_ids, allocations = ?allocation_ids, %unsealed, "pre-committed");
        // Wait out the challenge delay: retry the prove until it lands.
        let (method, params, what) = prove;
        let mut last = None;
        for _ in 0..600 {
            match self.send(worker, method, params.clone(), what).await {
                Ok(_) => {
                    tracing::info!(sector = number, after = pre_epoch, "proven");
                    return Ok(Sealed {
                        sector: number,
                        deal_ids,
                        allocation_ids,
                    });
                }
                Err(SealError::Message { code, .. }) if code == market_types::actors::exit_code::USR_FORBIDDEN => {
                    last = Some(code);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(SealError::Message {
            what,
            code: last.unwrap_or(-1),
        })
    }

    /// The sector's pieces in order, as damocles lists them: a direct deal's piece names its
    /// allocation (client as an ID), a market deal's piece notifies the market of its deal.
    async fn activation_manifest(
        &self,
        number: u64,
        deals: &[DealInfoV2],
    ) -> Result<SectorActivationManifest, SealError> {
        let mut pieces = Vec::with_capacity(deals.len());
        for d in deals {
            let (verified_allocation_key, notify) = if is_direct(d) {
                let client = self
                    .node
                    .state_lookup_id(d.client.clone(), Json(TipSetKey::empty()))
                    .await
                    .map_err(call)?
                    .0
                    .id()
                    .map_err(|e| SealError::Call(e.to_string()))?;
                (
                    Some(VerifiedAllocationKey {
                        client,
                        id: d.allocation_id,
                    }),
                    Vec::new(),
                )
            } else {
                (
                    None,
                    vec![DataActivationNotification {
                        address: Address::new_id(5),
                        payload: Bytes(cbor::to_vec(&d.deal_id)),
                    }],
                )
            };
            pieces.push(PieceActivationManifest {
                cid: d.piece_cid.0,
                size: d.piece_size,
                verified_allocation_key,
                notify,
            });
        }
        Ok(SectorActivationManifest {
            sector_number: number,
            pieces,
        })
    }

    /// Send a message from the worker (the devnet signs it) and wait for it; its height.
    async fn send(&self, from: Address, method: u64, params: Vec<u8>, what: &'static str) -> Result<i64, SealError> {
        let msg = Message::to_send(from, self.miner, method, params, TokenAmount::default());
        let signed = self.node.mpool_push_message(Json(msg), None).await.map_err(call)?.0;
        let lookup = self
            .node
            .state_wait_msg(Json(signed.cid()), 0, -1, true)
            .await
            .map_err(call)?
            .0;
        if lookup.receipt.exit_code != 0 {
            return Err(SealError::Message {
                what,
                code: lookup.receipt.exit_code,
            });
        }
        Ok(lookup.height)
    }
}

//! A provider deal as droplet stores it: the facts fixed at proposal time and the state
//! machine's own view ([`ProviderDeal`]), with "not yet known" kept as absent rather than
//! as zero. The JSON-RPC `MinerDeal` is built from it at the API edge only
//! ([`DealRecord::to_api`]).
//!
//! Stored as JSON with a `Version` key. Version 1 was the API's `MinerDeal` itself, with
//! zeros for "unset"; it is still read (and rewritten as version 2 at start), reading its
//! zeros the only way they can be read.

use market_fsm::storage::provider::{PieceStatus, ProviderDeal};
use market_proto::Json;
use market_proto::api::market::{DataRef, MinerDeal};
use market_types::boost::Transfer;
use market_types::chain::{ClientDealProposal, DealProposal};
use market_types::label::DealLabel;
use market_types::states::StorageDealStatus as S;
use market_types::{Bytes, Cid, TokenAmount, Uuid, cbor};
use serde::{Deserialize, Serialize};

/// The version [`DealRecord::encode`] writes.
pub const RECORD_VERSION: u32 = 2;

/// One provider deal.
#[derive(Debug, Clone, PartialEq)]
pub struct DealRecord {
    pub uuid: Uuid,
    pub proposal_cid: Cid,
    pub proposal: ClientDealProposal,
    /// The client's libp2p peer ID.
    pub client_peer: String,
    pub transfer: Transfer,
    pub data_root: Cid,
    pub fast_retrieval: bool,
    /// The state machine's view.
    pub deal: ProviderDeal,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    pub updated_at: u64,
}

/// Why a stored deal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not a deal record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("deal record version {0} is newer than this droplet understands (upgrade droplet)")]
    Newer(u32),
    #[error("unknown deal state {0}")]
    State(u64),
    #[error("unknown piece status {0:?}")]
    PieceStatus(String),
    #[error("the stored proposal: {0}")]
    Proposal(market_types::cbor::DecodeError),
}

impl DealRecord {
    pub fn status(&self) -> S {
        self.deal.status
    }

    pub fn proposal(&self) -> &DealProposal {
        &self.proposal.proposal
    }

    /// Take the machine's new view.
    pub fn apply(&mut self, d: ProviderDeal, now: u64) {
        self.deal = d;
        self.updated_at = now;
    }

    /// droplet's `MinerDeal`, for the API: absent values as Go's zero values. `miner_peer` is
    /// the provider's libp2p peer ID (droplet's `Miner` field).
    pub fn to_api(&self, miner_peer: &str) -> MinerDeal {
        let m = &self.deal;
        let p = self.proposal();
        MinerDeal {
            uuid: Json(self.uuid),
            proposal: Json(self.proposal.clone()),
            proposal_cid: Json(self.proposal_cid),
            add_funds_msg: m.add_funds_msg.map(Json),
            publish_msg: m.publish_msg.map(Json),
            miner_peer: miner_peer.to_string(),
            client_peer: self.client_peer.clone(),
            state: m.status.code(),
            piece_path: String::new(),
            payload_size: self.transfer.size,
            metadata_path: String::new(),
            slash_epoch: -1,
            fast_retrieval: self.fast_retrieval,
            message: m.message.clone(),
            funds_reserved: Json(m.funds_reserved.clone()),
            data_ref: Some(DataRef {
                transfer_type: if m.online {
                    self.transfer.transfer_type.clone()
                } else {
                    "manual".to_string()
                },
                root: Json(self.data_root),
                piece_cid: Some(Json(p.piece_cid)),
                piece_size: p.piece_size.0 - p.piece_size.0 / 128,
                raw_block_size: self.transfer.size,
            }),
            available_for_retrieval: false,
            deal_id: m.deal_id.unwrap_or(0),
            creation_time: market_types::units::rfc3339(self.created_at),
            transfer_channel_id: None,
            sector: m.sector.unwrap_or(0),
            offset: m.offset.unwrap_or(0),
            piece_status: m.piece_status.name().to_string(),
            inbound_path: m.inbound_path.clone().unwrap_or_default(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            state_name: m.status.name().to_string(),
            offline: !m.online,
            transfer: Some(Json(self.transfer.clone())),
            data_root: Some(Json(self.data_root)),
            transferred: m.transferred,
        }
    }

    /// This deal in the version 1 form (for the tests of reading old stores).
    #[cfg(test)]
    pub(crate) fn encode_v1(&self) -> Vec<u8> {
        let m = &self.deal;
        serde_json::to_vec(&StoredV1 {
            uuid: Json(self.uuid),
            proposal_cid: Json(self.proposal_cid),
            proposal: Json(self.proposal.clone()),
            client_peer: self.client_peer.clone(),
            offline: !m.online,
            transfer: Json(self.transfer.clone()),
            data_root: Json(self.data_root),
            fast_retrieval: self.fast_retrieval,
            state: m.status.code(),
            message: m.message.clone(),
            piece_status: m.piece_status.name().to_string(),
            funds_reserved: Json(m.funds_reserved.clone()),
            add_funds_msg: m.add_funds_msg.map(Json),
            publish_msg: m.publish_msg.map(Json),
            deal_id: m.deal_id.unwrap_or(0),
            sector: m.sector.unwrap_or(0),
            offset: m.offset.unwrap_or(0),
            inbound_path: m.inbound_path.clone().unwrap_or_default(),
            transferred: m.transferred,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
        .unwrap_or_default()
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let m = &self.deal;
        let stored = StoredV2 {
            version: RECORD_VERSION,
            uuid: Json(self.uuid),
            proposal_cid: Json(self.proposal_cid),
            proposal: Json(Bytes(cbor::to_vec(&self.proposal))),
            client_peer: self.client_peer.clone(),
            transfer: Json(self.transfer.clone()),
            data_root: Json(self.data_root),
            fast_retrieval: self.fast_retrieval,
            online: m.online,
            state: m.status.code(),
            message: m.message.clone(),
            piece_status: m.piece_status.name().to_string(),
            provider_collateral: Json(m.provider_collateral.clone()),
            funds_reserved: Json(m.funds_reserved.clone()),
            add_funds_msg: m.add_funds_msg.map(Json),
            publish_msg: m.publish_msg.map(Json),
            deal_id: m.deal_id,
            sector: m.sector,
            offset: m.offset,
            inbound_path: m.inbound_path.clone(),
            transferred: m.transferred,
            transfer_attempts: m.transfer_attempts,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        serde_json::to_vec(&stored).unwrap_or_default()
    }

    /// Read a stored deal of any version this droplet knows.
    pub fn decode(raw: &[u8]) -> Result<DealRecord, RecordError> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(rename = "Version", default)]
            version: u32,
        }
        match serde_json::from_slice::<Version>(raw)?.version {
            0 | 1 => Ok(from_v1(serde_json::from_slice(raw)?)),
            RECORD_VERSION => from_v2(serde_json::from_slice(raw)?),
            v => Err(RecordError::Newer(v)),
        }
    }

    /// Whether `raw` is in an older form than [`DealRecord::encode`] writes.
    pub fn is_old(raw: &[u8]) -> bool {
        !matches!(
            serde_json::from_slice::<serde_json::Value>(raw).ok().and_then(|v| v.get("Version")?.as_u64()),
            Some(v) if v >= u64::from(RECORD_VERSION)
        )
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoredV2 {
    version: u32,
    uuid: Json<Uuid>,
    proposal_cid: Json<Cid>,
    /// The signed proposal's CBOR, as received: Lotus JSON cannot tell an empty byte label
    /// from an empty text one, and the client signed one of them.
    proposal: Json<Bytes>,
    client_peer: String,
    transfer: Json<Transfer>,
    data_root: Json<Cid>,
    fast_retrieval: bool,
    online: bool,
    state: u64,
    message: String,
    piece_status: String,
    provider_collateral: Json<TokenAmount>,
    funds_reserved: Json<TokenAmount>,
    add_funds_msg: Option<Json<Cid>>,
    publish_msg: Option<Json<Cid>>,
    deal_id: Option<u64>,
    sector: Option<u64>,
    offset: Option<u64>,
    inbound_path: Option<String>,
    transferred: u64,
    #[serde(default)]
    transfer_attempts: u32,
    created_at: u64,
    updated_at: u64,
}

fn from_v2(s: StoredV2) -> Result<DealRecord, RecordError> {
    let status = S::from_u64(s.state).ok_or(RecordError::State(s.state))?;
    let piece_status = PieceStatus::parse(&s.piece_status).ok_or(RecordError::PieceStatus(s.piece_status))?;
    Ok(DealRecord {
        uuid: s.uuid.0,
        proposal_cid: s.proposal_cid.0,
        proposal: cbor::from_slice(&s.proposal.0.0).map_err(RecordError::Proposal)?,
        client_peer: s.client_peer,
        transfer: s.transfer.0,
        data_root: s.data_root.0,
        fast_retrieval: s.fast_retrieval,
        deal: ProviderDeal {
            status,
            message: s.message,
            piece_status,
            online: s.online,
            provider_collateral: s.provider_collateral.0,
            funds_reserved: s.funds_reserved.0,
            add_funds_msg: s.add_funds_msg.map(|c| c.0),
            publish_msg: s.publish_msg.map(|c| c.0),
            deal_id: s.deal_id,
            sector: s.sector,
            offset: s.offset,
            inbound_path: s.inbound_path,
            transferred: s.transferred,
            transfer_attempts: s.transfer_attempts,
        },
        created_at: s.created_at,
        updated_at: s.updated_at,
    })
}

/// Whether a deal in `status` has been published (and so has a deal ID, which may be 0).
fn published(status: S) -> bool {
    matches!(
        status,
        S::Staged | S::AwaitingPreCommit | S::Sealing | S::Active | S::Expired | S::Slashed
    )
}

/// A version 1 record: the API's deal of the first droplet-rs releases, frozen here.
#[derive(Serialize, Deserialize)]
struct StoredV1 {
    #[serde(rename = "DealUUID")]
    uuid: Json<Uuid>,
    #[serde(rename = "ProposalCid")]
    proposal_cid: Json<Cid>,
    #[serde(rename = "ClientDealProposal")]
    proposal: Json<ClientDealProposal>,
    #[serde(rename = "Client")]
    client_peer: String,
    #[serde(rename = "IsOffline")]
    offline: bool,
    #[serde(rename = "Transfer")]
    transfer: Json<Transfer>,
    #[serde(rename = "PayloadCID")]
    data_root: Json<Cid>,
    #[serde(rename = "FastRetrieval")]
    fast_retrieval: bool,
    #[serde(rename = "State")]
    state: u64,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "PieceStatus")]
    piece_status: String,
    #[serde(rename = "FundsReserved")]
    funds_reserved: Json<TokenAmount>,
    #[serde(rename = "AddFundsCid")]
    add_funds_msg: Option<Json<Cid>>,
    #[serde(rename = "PublishCid")]
    publish_msg: Option<Json<Cid>>,
    #[serde(rename = "DealID")]
    deal_id: u64,
    #[serde(rename = "SectorNumber")]
    sector: u64,
    #[serde(rename = "Offset")]
    offset: u64,
    #[serde(rename = "InboundCAR")]
    inbound_path: String,
    #[serde(rename = "NBytesReceived")]
    transferred: u64,
    #[serde(rename = "CreatedAt")]
    created_at: u64,
    #[serde(rename = "UpdatedAt")]
    updated_at: u64,
}

/// A version 1 record: zeros meant "unset", except where the state says otherwise. A sector
/// number of 0 cannot be told from "no sector" in this form; the piece status can: a piece
/// that is packing or proving is in a sector.
/// A signed proposal read from Lotus JSON, which reads an empty byte label back as text: when
/// the proposal does not give `cid` that way, the empty label was bytes.
pub(crate) fn restore_empty_label(proposal: &mut ClientDealProposal, cid: &Cid) {
    if proposal.proposal.label == DealLabel::String(String::new()) && proposal.proposal_cid() != *cid {
        proposal.proposal.label = DealLabel::Bytes(Vec::new());
    }
}

fn from_v1(r: StoredV1) -> DealRecord {
    let mut proposal = r.proposal.0;
    restore_empty_label(&mut proposal, &r.proposal_cid.0);
    let status = S::from_u64(r.state).unwrap_or(S::Error);
    let piece_status = PieceStatus::parse(&r.piece_status).unwrap_or_default();
    let in_sector = r.sector != 0 || matches!(piece_status, PieceStatus::Packing | PieceStatus::Proving);
    DealRecord {
        uuid: r.uuid.0,
        proposal_cid: r.proposal_cid.0,
        client_peer: r.client_peer,
        transfer: r.transfer.0,
        data_root: r.data_root.0,
        fast_retrieval: r.fast_retrieval,
        deal: ProviderDeal {
            status,
            message: r.message,
            piece_status,
            online: !r.offline,
            provider_collateral: proposal.proposal.provider_collateral.clone(),
            funds_reserved: r.funds_reserved.0,
            add_funds_msg: r.add_funds_msg.map(|c| c.0),
            publish_msg: r.publish_msg.map(|c| c.0),
            deal_id: (r.deal_id != 0 || published(status)).then_some(r.deal_id),
            sector: in_sector.then_some(r.sector),
            offset: in_sector.then_some(r.offset),
            inbound_path: (!r.inbound_path.is_empty()).then_some(r.inbound_path),
            transferred: r.transferred,
            transfer_attempts: 0,
        },
        proposal,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A deal record for tests, as the acceptor makes it.
    pub(crate) fn record(size: u64, start: i64, status: S, piece: PieceStatus) -> DealRecord {
        let mut proposal: ClientDealProposal = market_types::testing::generate(b"deal record");
        proposal.proposal.piece_size = market_types::units::PaddedPieceSize(size);
        proposal.proposal.start_epoch = start;
        proposal.proposal.end_epoch = start + 600_000;
        proposal.proposal.provider = market_types::Address::new_id(1000);
        proposal.proposal.label = market_types::label::DealLabel::Bytes(Vec::new());
        let mut deal = ProviderDeal::new(false, TokenAmount::default());
        deal.status = status;
        deal.piece_status = piece;
        deal.deal_id = Some(1);
        DealRecord {
            uuid: Uuid::new_v4(),
            proposal_cid: proposal.proposal_cid(),
            proposal,
            client_peer: String::new(),
            transfer: Transfer::offline(),
            data_root: market_types::chain::chain_cid(b"root"),
            fast_retrieval: true,
            deal,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn sector_zero_and_deal_id_zero_survive_the_store() {
        let mut d = record(2048, 100, S::AwaitingPreCommit, PieceStatus::Assigned);
        d.deal.deal_id = Some(0);
        d.deal.sector = Some(0);
        d.deal.offset = Some(0);
        let back = DealRecord::decode(&d.encode()).expect("decodes");
        assert_eq!(back, d);
        assert_eq!(back.deal.sector, Some(0), "sector 0 is a sector");
        assert!(!DealRecord::is_old(&d.encode()));
        let api = d.to_api("12D3KooWprovider");
        assert_eq!((api.sector, api.deal_id, api.piece_status.as_str()), (0, 0, "Assigned"));
    }

    #[test]
    fn version_1_records_still_load() {
        let mut d = record(2048, 100, S::Sealing, PieceStatus::Packing);
        assert_eq!(d.proposal.proposal.label, DealLabel::Bytes(Vec::new()));
        d.deal.sector = Some(0);
        d.deal.offset = Some(0);
        d.deal.deal_id = Some(0);
        let v1 = d.encode_v1();
        assert!(DealRecord::is_old(&v1));
        let back = DealRecord::decode(&v1).expect("decodes");
        assert_eq!(back.deal, d.deal, "a packing piece is in a sector, even sector 0");
        let mut waiting = record(2048, 100, S::WaitingForData, PieceStatus::Undefine);
        waiting.deal.deal_id = None;
        let back = DealRecord::decode(&waiting.encode_v1()).expect("decodes");
        assert_eq!((back.deal.deal_id, back.deal.sector), (None, None));
        assert!(matches!(
            DealRecord::decode(br#"{"Version": 9}"#),
            Err(RecordError::Newer(9))
        ));
    }
}

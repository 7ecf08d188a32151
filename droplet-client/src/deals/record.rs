//! A client deal as droplet-client stores it: the signed proposal, how and where it was sent,
//! where its data is served from, and the client machine's view of it.

use market_fsm::storage::client::ClientDeal;
use market_proto::Json;
use market_proto::api::market_client::{DataRef, DealInfo};
use market_types::chain::ClientDealProposal;
use market_types::states::StorageDealStatus as S;
use market_types::{Cid, TokenAmount, Uuid};
use serde::{Deserialize, Serialize};

/// The version [`ClientDealRecord`] is written in: 2 keeps the signed proposal as its CBOR
/// (Lotus JSON reads an empty byte label back as text, which changes the proposal's CID);
/// version 1 records (no `Version` key, the proposal as Lotus JSON) are still read.
pub const RECORD_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientDealRecord {
    /// Written as [`RECORD_VERSION`]; absent in version 1.
    #[serde(default)]
    pub version: u32,
    /// The provider's deal UUID on the 1.2.x protocols; made up locally for legacy ones.
    pub uuid: Json<Uuid>,
    pub proposal_cid: Json<Cid>,
    /// The protocol the provider accepted the deal on (empty before it answered).
    pub protocol: String,
    pub peer: String,
    pub addrs: Vec<String>,
    #[serde(with = "proposal_form")]
    pub proposal: Json<ClientDealProposal>,
    pub data_root: Json<Cid>,
    pub state: u64,
    pub message: String,
    pub online: bool,
    /// The CAR this daemon serves for an online deal, and the bearer token it wants.
    pub car_path: String,
    pub serve_token: String,
    /// Where the provider downloads from.
    pub transfer_url: String,
    pub transfer_size: u64,
    pub bytes_received: u64,
    pub funds_reserved: Json<TokenAmount>,
    pub add_funds_msg: Option<Json<Cid>>,
    pub publish_msg: Option<Json<Cid>>,
    pub deal_id: Option<u64>,
    pub fast_retrieval: bool,
    pub created_at: u64,
    pub updated_at: u64,
}

impl ClientDealRecord {
    pub fn status(&self) -> S {
        S::from_u64(self.state).unwrap_or(S::Error)
    }

    pub fn machine(&self) -> ClientDeal {
        ClientDeal {
            status: self.status(),
            message: self.message.clone(),
            online: self.online,
            required: self.proposal.0.proposal.client_balance_requirement(),
            funds_reserved: self.funds_reserved.0.clone(),
            add_funds_msg: self.add_funds_msg.as_ref().map(|c| c.0),
            publish_msg: self.publish_msg.as_ref().map(|c| c.0),
            deal_id: self.deal_id,
        }
    }

    pub fn apply(&mut self, d: &ClientDeal, now: u64) {
        self.state = d.status.code();
        self.message = d.message.clone();
        self.funds_reserved = Json(d.funds_reserved.clone());
        self.add_funds_msg = d.add_funds_msg.map(Json);
        self.publish_msg = d.publish_msg.map(Json);
        self.deal_id = d.deal_id;
        self.updated_at = now;
    }

    /// The lotus `DealInfo` view.
    pub fn info(&self) -> DealInfo {
        let p = &self.proposal.0.proposal;
        DealInfo {
            proposal_cid: self.proposal_cid.clone(),
            state: self.state,
            message: self.message.clone(),
            deal_stages: None,
            provider: Json(p.provider),
            data_ref: Some(DataRef {
                transfer_type: if self.online { "http" } else { "manual" }.into(),
                root: self.data_root.clone(),
                piece_cid: Some(Json(p.piece_cid)),
                piece_size: p.piece_size.unpadded().0,
                raw_block_size: 0,
            }),
            piece_cid: Json(p.piece_cid),
            size: p.piece_size.0,
            price_per_epoch: Json(p.storage_price_per_epoch.clone()),
            duration: (p.end_epoch - p.start_epoch).max(0) as u64,
            deal_id: self.deal_id.unwrap_or(0),
            creation_time: rfc3339(self.created_at),
            verified: p.verified_deal,
            transfer_channel_id: None,
            data_transfer: None,
            deal_uuid: self.uuid.0.to_string(),
            protocol: self.protocol.clone(),
            client: Some(Json(p.client)),
            online: self.online,
            transfer_size: self.transfer_size,
            bytes_received: self.bytes_received,
            publish_cid: self.publish_msg.clone(),
            start_epoch: p.start_epoch,
        }
    }
}

pub use market_types::units::rfc3339;

/// The signed proposal in a stored record: base64 of its CBOR (version 2), or Lotus JSON
/// (version 1).
mod proposal_form {
    use market_proto::Json;
    use market_types::Bytes;
    use market_types::chain::ClientDealProposal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(p: &Json<ClientDealProposal>, s: S) -> Result<S::Ok, S::Error> {
        Json(Bytes(market_types::cbor::to_vec(&p.0))).serialize(s)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Cbor(Json<Bytes>),
        Json(Box<Json<ClientDealProposal>>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Json<ClientDealProposal>, D::Error> {
        match Stored::deserialize(d)? {
            Stored::Json(p) => Ok(*p),
            Stored::Cbor(raw) => market_types::cbor::from_slice(&raw.0.0)
                .map(Json)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proposal_with_an_empty_byte_label_keeps_its_cid_and_version_1_records_load() {
        let mut proposal: ClientDealProposal = market_types::testing::generate(b"client record");
        proposal.proposal.label = market_types::label::DealLabel::Bytes(Vec::new());
        let record = ClientDealRecord {
            version: RECORD_VERSION,
            uuid: Json(Uuid::new_v4()),
            proposal_cid: Json(proposal.proposal_cid()),
            protocol: String::new(),
            peer: String::new(),
            addrs: Vec::new(),
            proposal: Json(proposal.clone()),
            data_root: Json(proposal.proposal.piece_cid),
            state: 3,
            message: String::new(),
            online: false,
            car_path: String::new(),
            serve_token: String::new(),
            transfer_url: String::new(),
            transfer_size: 0,
            bytes_received: 0,
            funds_reserved: Json(TokenAmount::default()),
            add_funds_msg: None,
            publish_msg: None,
            deal_id: None,
            fast_retrieval: true,
            created_at: 0,
            updated_at: 0,
        };
        let back: ClientDealRecord =
            serde_json::from_slice(&serde_json::to_vec(&record).expect("json")).expect("reads");
        assert_eq!(back.proposal.0, proposal, "the label stays an empty byte string");
        assert_eq!(back.proposal.0.proposal_cid(), record.proposal_cid.0);

        let mut v1 = serde_json::to_value(&record).expect("json");
        v1.as_object_mut().expect("object").remove("Version");
        v1["Proposal"] = serde_json::to_value(Json(proposal.clone())).expect("lotus json");
        let old: ClientDealRecord = serde_json::from_value(v1).expect("a version 1 record reads");
        assert_eq!(
            (old.version, old.proposal.0.proposal.piece_cid),
            (0, proposal.proposal.piece_cid)
        );
    }
}

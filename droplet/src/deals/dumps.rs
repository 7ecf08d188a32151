//! Deal dumps of the markets a provider moves from, read into droplet's `MinerDeal` for
//! `DealsImport` (`droplet storage deal import-deal`), as droplet reads them:
//!
//! - lotus-miner: the JSON-RPC answer of `MarketListIncompleteDeals` (`{"result": [...]}`),
//!   go-fil-markets `MinerDeal`s: the signed proposal, state, deal ID, sector;
//! - boost: the answer of its GraphQL `deals` query (`{"data": {"deals": {"deals": [...]}}}`),
//!   numbers as `{"n": "..."}`, the state as boost's checkpoint and message. Boost does not
//!   export the client's signature.

use cid::Cid;
use market_proto::Json;
use market_proto::api::market::{DataRef, MinerDeal};
use market_types::chain::{ClientDealProposal, DealProposal};
use market_types::label::DealLabel;
use market_types::signature::{SigType, Signature};
use market_types::states::StorageDealStatus as S;
use market_types::units::PaddedPieceSize;
use market_types::{TokenAmount, Uuid};
use serde_json::Value;

/// Why a dump, or one deal in it, cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("no deal list at {0} (is this the right --from?)")]
    NoList(&'static str),
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
}

fn field(field: &'static str, reason: impl std::fmt::Display) -> DumpError {
    DumpError::Field {
        field,
        reason: reason.to_string(),
    }
}

/// One deal of a dump: read, or why not (with the proposal CID when it could be found).
pub type Entry = Result<MinerDeal, (String, DumpError)>;

/// The deals of a lotus-miner `MarketListIncompleteDeals` answer, as droplet adjusts them: the
/// payload size from `Ref.RawBlockSize`, the piece proving when the deal is Active or Slashed.
pub fn lotus_miner(raw: &[u8]) -> Result<Vec<Entry>, DumpError> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| DumpError::Json(e.to_string()))?;
    let list = v
        .get("result")
        .and_then(Value::as_array)
        .ok_or(DumpError::NoList("result"))?;
    Ok(list
        .iter()
        .map(|d| {
            let cid = d["ProposalCid"]["/"].as_str().unwrap_or("?").to_string();
            let mut m: MinerDeal = serde_json::from_value(d.clone()).map_err(|e| (cid.clone(), field("deal", e)))?;
            m.payload_size = m.data_ref.as_ref().map(|r| r.raw_block_size).unwrap_or(0);
            m.piece_status = if m.state == S::Active.code() || m.state == S::Slashed.code() {
                "Proving".into()
            } else {
                "Undefine".into()
            };
            if let Some(r) = m.data_ref.as_mut() {
                r.transfer_type = "import".into();
            }
            if m.slash_epoch == 0 {
                m.slash_epoch = -1;
            }
            Ok(m)
        })
        .collect())
}

/// A boost number: `{"__typename": "BigInt", "n": "123"}` (or a plain number or string).
fn n(v: &Value, name: &'static str) -> Result<u64, DumpError> {
    let s = match v.get("n").unwrap_or(v) {
        Value::String(s) => s.clone(),
        Value::Number(x) => x.to_string(),
        Value::Null => return Ok(0),
        other => return Err(field(name, format!("not a number: {other}"))),
    };
    s.parse().map_err(|e| field(name, format!("{s:?}: {e}")))
}

fn epoch(v: &Value, name: &'static str) -> Result<i64, DumpError> {
    let e = n(v, name)?;
    i64::try_from(e).map_err(|_| field(name, format!("{e} is not an epoch")))
}

fn amount(v: &Value, name: &'static str) -> Result<TokenAmount, DumpError> {
    n(v, name).map(TokenAmount::from_atto)
}

fn text<'a>(v: &'a Value, name: &'static str) -> Result<&'a str, DumpError> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| field(name, "missing"))
}

fn cid(v: &Value, name: &'static str) -> Result<Cid, DumpError> {
    let s = text(v, name)?;
    s.parse().map_err(|e| field(name, format!("{s:?}: {e}")))
}

fn address(v: &Value, name: &'static str) -> Result<market_types::Address, DumpError> {
    let s = text(v, name)?;
    market_types::address::parse(s).map_err(|e| field(name, format!("{s:?}: {e}")))
}

/// The deals of a boost GraphQL `deals` answer. A deal's state comes from its checkpoint as
/// droplet reads it: `Accepted` with "Awaiting Offline Data Import" is WaitingForData,
/// `IndexedAndAnnounced` with a proving sector is Active; any other is state 0 (Unknown),
/// which the import's state filter leaves out.
pub fn boost(raw: &[u8]) -> Result<Vec<Entry>, DumpError> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| DumpError::Json(e.to_string()))?;
    let list = v["data"]["deals"]["deals"]
        .as_array()
        .ok_or(DumpError::NoList("data.deals.deals"))?;
    Ok(list
        .iter()
        .map(|d| {
            let cid = d["SignedProposalCid"].as_str().unwrap_or("?").to_string();
            boost_deal(d).map_err(|e| (cid, e))
        })
        .collect())
}

fn boost_deal(d: &Value) -> Result<MinerDeal, DumpError> {
    let piece_cid = cid(d, "PieceCid")?;
    let piece_size = n(&d["PieceSize"], "PieceSize")?;
    let created = text(d, "CreatedAt")?;
    let created_at =
        market_types::units::parse_rfc3339(created).ok_or_else(|| field("CreatedAt", format!("{created:?}")))?;
    let uuid: Uuid = text(d, "ID")?.parse().map_err(|e| field("ID", e))?;
    let proposal = DealProposal {
        piece_cid,
        piece_size: PaddedPieceSize(piece_size),
        verified_deal: d["IsVerified"].as_bool().unwrap_or(false),
        client: address(d, "ClientAddress")?,
        provider: address(d, "ProviderAddress")?,
        label: DealLabel::String(d["ProposalLabel"].as_str().unwrap_or_default().to_string()),
        start_epoch: epoch(&d["StartEpoch"], "StartEpoch")?,
        end_epoch: epoch(&d["EndEpoch"], "EndEpoch")?,
        storage_price_per_epoch: amount(&d["StoragePricePerEpoch"], "StoragePricePerEpoch")?,
        provider_collateral: amount(&d["ProviderCollateral"], "ProviderCollateral")?,
        client_collateral: amount(&d["ClientCollateral"], "ClientCollateral")?,
    };
    let message = d["Message"].as_str().unwrap_or_default();
    let (state, piece_status) = match d["Checkpoint"].as_str().unwrap_or_default() {
        "Accepted" if message == "Awaiting Offline Data Import" => (S::WaitingForData, "Undefine"),
        "IndexedAndAnnounced" if message.contains("Proving") => (S::Active, "Proving"),
        _ => (S::Unknown, "Undefine"),
    };
    let publish = d["PublishCid"].as_str().filter(|s| !s.is_empty());
    let publish = publish
        .map(|s| s.parse::<Cid>().map_err(|e| field("PublishCid", e)))
        .transpose()?;
    let root = cid(d, "DealDataRoot")?;
    let payload = n(&d["Transfer"]["Size"], "Transfer.Size")?;
    Ok(MinerDeal {
        uuid: Json(uuid),
        proposal: Json(ClientDealProposal {
            proposal,
            // Boost's dump has none: an empty signature says so.
            client_signature: Signature::new(SigType::Secp256k1, Vec::new()),
        }),
        proposal_cid: Json(cid(d, "SignedProposalCid")?),
        add_funds_msg: None,
        publish_msg: publish.map(Json),
        miner_peer: String::new(),
        client_peer: d["ClientPeerID"].as_str().unwrap_or_default().to_string(),
        state: state.code(),
        piece_path: String::new(),
        payload_size: payload,
        metadata_path: String::new(),
        slash_epoch: -1,
        fast_retrieval: true,
        message: d["Err"].as_str().unwrap_or_default().to_string(),
        funds_reserved: Json(TokenAmount::default()),
        data_ref: Some(DataRef {
            transfer_type: if d["IsOffline"].as_bool().unwrap_or(false) {
                "manual".into()
            } else {
                "import".into()
            },
            root: Json(root),
            piece_cid: Some(Json(piece_cid)),
            piece_size: piece_size - piece_size / 128,
            raw_block_size: payload,
        }),
        available_for_retrieval: false,
        deal_id: n(&d["ChainDealID"], "ChainDealID")?,
        creation_time: market_types::units::rfc3339(created_at),
        transfer_channel_id: None,
        sector: n(&d["Sector"]["ID"], "Sector.ID")?,
        offset: n(&d["Sector"]["Offset"], "Sector.Offset")?,
        piece_status: piece_status.into(),
        inbound_path: String::new(),
        created_at,
        updated_at: created_at,
        state_name: state.name().into(),
        offline: true,
        transfer: None,
        data_root: Some(Json(root)),
        transferred: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A boost GraphQL deal as boost's UI query returns it (values made up for this test).
    fn boost_dump(checkpoint: &str, message: &str) -> String {
        format!(
            r#"{{"data":{{"deals":{{"totalCount":1,"deals":[{{
            "ID":"5f0c1a44-2c55-4d8b-9a53-1f7e0c0f2b11","ClientAddress":"t01001","ProviderAddress":"t01000",
            "CreatedAt":"2024-01-02T03:04:05.5+01:00",
            "PieceCid":"baga6ea4seaqhagmu63kq7jsfkzqmkdm2jsop7vmfe5rjbs6ba2jtzopcizssanq",
            "PieceSize":{{"__typename":"BigInt","n":"2048"}},"IsVerified":true,"ProposalLabel":"hello",
            "ProviderCollateral":{{"__typename":"BigInt","n":"12"}},"ClientCollateral":{{"__typename":"BigInt","n":"0"}},
            "StoragePricePerEpoch":{{"__typename":"BigInt","n":"3"}},
            "StartEpoch":{{"__typename":"BigInt","n":"100"}},"EndEpoch":{{"__typename":"BigInt","n":"600000"}},
            "ClientPeerID":"12D3KooWclient",
            "DealDataRoot":"bafk2bzacedop3crihkfeddvnrvoqpvcmkzftqydlghy5pgcmvqi24llfu5vty",
            "SignedProposalCid":"bafyreihujsu4bhb3ibjnxmzyhhgqc7ajtgcgodikw3rmxl5g6bdxmpoxhm",
            "InboundFilePath":"","ChainDealID":{{"__typename":"BigInt","n":"7"}},"PublishCid":"",
            "IsOffline":true,"Transfer":{{"Type":"","Size":{{"__typename":"BigInt","n":"1900"}}}},
            "IsTransferStalled":false,"Checkpoint":"{checkpoint}","Err":"",
            "Sector":{{"ID":{{"__typename":"BigInt","n":"9"}},"Offset":{{"__typename":"BigInt","n":"0"}},"Length":{{"__typename":"BigInt","n":"2048"}}}},
            "Message":"{message}"}}]}}}}}}"#
        )
    }

    #[test]
    fn boost_s_checkpoints_become_droplet_states() {
        let d = boost(boost_dump("IndexedAndAnnounced", "Sealer: Proving").as_bytes()).expect("dump");
        let m = d[0].as_ref().expect("deal");
        assert_eq!((m.state, m.piece_status.as_str()), (S::Active.code(), "Proving"));
        assert_eq!((m.deal_id, m.sector, m.payload_size), (7, 9, 1900));
        let p = &m.proposal.0.proposal;
        assert_eq!((p.piece_size.0, p.verified_deal, p.start_epoch), (2048, true, 100));
        assert_eq!(p.provider_collateral, TokenAmount::from_atto(12u64));
        assert_eq!(m.created_at, 1_704_161_045);
        assert!(
            m.proposal.0.client_signature.data.is_empty(),
            "boost exports no signature"
        );

        let d = boost(boost_dump("Accepted", "Awaiting Offline Data Import").as_bytes()).expect("dump");
        assert_eq!(d[0].as_ref().expect("deal").state, S::WaitingForData.code());
        let d = boost(boost_dump("Transferred", "Verifying Commp").as_bytes()).expect("dump");
        assert_eq!(d[0].as_ref().expect("deal").state, S::Unknown.code());

        let broken = boost_dump("Accepted", "x").replace("\"n\":\"2048\"", "\"n\":\"lots\"");
        let d = boost(broken.as_bytes()).expect("dump");
        let (cid, e) = d[0].as_ref().expect_err("bad size");
        assert_eq!(cid, "bafyreihujsu4bhb3ibjnxmzyhhgqc7ajtgcgodikw3rmxl5g6bdxmpoxhm");
        assert!(matches!(e, DumpError::Field { field: "PieceSize", .. }), "{e}");
        assert_eq!(boost(b"{\"result\":[]}"), Err(DumpError::NoList("data.deals.deals")));
        assert!(matches!(boost(b"nope"), Err(DumpError::Json(_))));
    }

    #[test]
    fn lotus_miner_s_deals_take_droplet_s_adjustments() {
        let raw = r#"{"jsonrpc":"2.0","id":1,"result":[{
            "Proposal":{"PieceCID":{"/":"baga6ea4seaqhagmu63kq7jsfkzqmkdm2jsop7vmfe5rjbs6ba2jtzopcizssanq"},"PieceSize":2048,"VerifiedDeal":false,"Client":"t01001","Provider":"t01000","Label":"hello","StartEpoch":10,"EndEpoch":600000,"StoragePricePerEpoch":"0","ProviderCollateral":"0","ClientCollateral":"0"},
            "ClientSignature":{"Type":1,"Data":"AAEC"},
            "ProposalCid":{"/":"bafyreihujsu4bhb3ibjnxmzyhhgqc7ajtgcgodikw3rmxl5g6bdxmpoxhm"},
            "AddFundsCid":null,"PublishCid":null,"Miner":"12D3KooWold","Client":"12D3KooWclient","State":7,
            "PiecePath":"","MetadataPath":"","SlashEpoch":0,"FastRetrieval":true,"Message":"","FundsReserved":"0",
            "Ref":{"TransferType":"manual","Root":{"/":"bafk2bzacedop3crihkfeddvnrvoqpvcmkzftqydlghy5pgcmvqi24llfu5vty"},"PieceCid":null,"PieceSize":2032,"RawBlockSize":1900},
            "AvailableForRetrieval":false,"DealID":3,"CreationTime":"2023-06-07T15:35:19.485691+08:00",
            "TransferChannelId":null,"SectorNumber":9,"InboundCAR":""},
            {"Proposal":"not a proposal","ProposalCid":{"/":"bafyreihujsu4bhb3ibjnxmzyhhgqc7ajtgcgodikw3rmxl5g6bdxmpoxhm"}}]}"#;
        let d = lotus_miner(raw.as_bytes()).expect("dump");
        let m = d[0].as_ref().expect("deal");
        assert!(m.uuid.0.is_nil(), "go-fil-markets deals have no UUID");
        assert_eq!(
            (m.payload_size, m.piece_status.as_str(), m.slash_epoch),
            (1900, "Proving", -1)
        );
        assert_eq!(m.data_ref.as_ref().map(|r| r.transfer_type.as_str()), Some("import"));
        assert!(d[1].is_err());
        assert_eq!(lotus_miner(b"{\"data\":{}}"), Err(DumpError::NoList("result")));
    }
}

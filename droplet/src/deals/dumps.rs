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

/// The columns of droplet's (Go) `storage_deals` table read to take its deals over, in the
/// order [`droplet_mysql`] takes them (gorm's names: `cdp_` the proposal, `ref_` the data
/// reference, `tci_` the transfer channel; `addr` the inbound CAR).
pub const DROPLET_MYSQL_COLUMNS: [&str; 43] = [
    "id",
    "proposal_cid",
    "add_funds_cid",
    "publish_cid",
    "miner_peer",
    "client_peer",
    "state",
    "payload_size",
    "piece_path",
    "metadata_path",
    "slash_epoch",
    "fast_retrieval",
    "message",
    "funds_reserved",
    "available_for_retrieval",
    "deal_id",
    "creation_time",
    "sector_number",
    "offset",
    "piece_status",
    "addr",
    "cdp_piece_cid",
    "cdp_piece_size",
    "cdp_verified_deal",
    "cdp_client",
    "cdp_provider",
    "cdp_label",
    "cdp_start_epoch",
    "cdp_end_epoch",
    "cdp_storage_price_per_epoch",
    "cdp_provider_collateral",
    "cdp_client_collateral",
    "cdp_client_signature",
    "ref_transfer_type",
    "ref_root",
    "ref_piece_cid",
    "ref_piece_size",
    "ref_raw_block_size",
    "tci_initiator",
    "tci_responder",
    "tci_channel_id",
    "created_at",
    "updated_at",
];

/// The query that reads droplet's `storage_deals` table, every column as text.
pub fn droplet_mysql_query() -> String {
    let cols: Vec<String> = DROPLET_MYSQL_COLUMNS
        .iter()
        .map(|c| format!("CAST(`{c}` AS CHAR)"))
        .collect();
    format!(
        "SELECT {} FROM storage_deals ORDER BY created_at, proposal_cid",
        cols.join(", ")
    )
}

/// The deals of droplet's MySQL `storage_deals` rows (columns as [`DROPLET_MYSQL_COLUMNS`]), as
/// droplet's gorm model reads them: CIDs as strings (empty for none), addresses without their
/// network letter, the signature as JSON (`{"Type":1,"Data":"<base64>"}`), the creation time
/// in Unix nanoseconds, timestamps in Unix seconds.
pub fn droplet_mysql(rows: &[Vec<Option<String>>]) -> Vec<Entry> {
    rows.iter()
        .map(|row| {
            let cid = row.get(1).cloned().flatten().unwrap_or_else(|| "?".into());
            droplet_mysql_deal(row).map_err(|e| (cid, e))
        })
        .collect()
}

fn droplet_mysql_deal(row: &[Option<String>]) -> Result<MinerDeal, DumpError> {
    let col = |name: &'static str| -> &str {
        DROPLET_MYSQL_COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|i| row.get(i))
            .and_then(|v| v.as_deref())
            .unwrap_or_default()
    };
    let num = |name: &'static str| -> Result<u64, DumpError> {
        match col(name) {
            "" => Ok(0),
            v => v.parse().map_err(|e| field(name, format!("{v:?}: {e}"))),
        }
    };
    let int = |name: &'static str| -> Result<i64, DumpError> {
        match col(name) {
            "" => Ok(0),
            v => v.parse().map_err(|e| field(name, format!("{v:?}: {e}"))),
        }
    };
    let flag = |name: &'static str| matches!(col(name), "1" | "true");
    let cid_or_none = |name: &'static str| -> Result<Option<Cid>, DumpError> {
        match col(name) {
            "" => Ok(None),
            v => v.parse().map(Some).map_err(|e| field(name, format!("{v:?}: {e}"))),
        }
    };
    let cid = |name: &'static str| cid_or_none(name)?.ok_or_else(|| field(name, "empty"));
    // gorm keeps addresses without their network letter (`01000`).
    let addr = |name: &'static str| -> Result<market_types::Address, DumpError> {
        let v = col(name);
        market_types::address::parse(&format!("f{v}")).map_err(|e| field(name, format!("{v:?}: {e}")))
    };
    let atto = |name: &'static str| -> Result<TokenAmount, DumpError> {
        match col(name) {
            "" => Ok(TokenAmount::default()),
            v => v
                .parse::<market_types::BigInt>()
                .map(TokenAmount::from_atto)
                .map_err(|e| field(name, format!("{v:?}: {e}"))),
        }
    };
    // gorm keeps the signature as its JSON, as the API gives it.
    let signature = match col("cdp_client_signature") {
        "" | "null" => Signature::new(SigType::Secp256k1, Vec::new()),
        raw => {
            serde_json::from_str::<Json<Signature>>(raw)
                .map_err(|e| field("cdp_client_signature", format!("{raw:?}: {e}")))?
                .0
        }
    };
    let piece_cid = cid("cdp_piece_cid")?;
    let proposal = DealProposal {
        piece_cid,
        piece_size: PaddedPieceSize(num("cdp_piece_size")?),
        verified_deal: flag("cdp_verified_deal"),
        client: addr("cdp_client")?,
        provider: addr("cdp_provider")?,
        label: DealLabel::String(col("cdp_label").to_string()),
        start_epoch: int("cdp_start_epoch")?,
        end_epoch: int("cdp_end_epoch")?,
        storage_price_per_epoch: atto("cdp_storage_price_per_epoch")?,
        provider_collateral: atto("cdp_provider_collateral")?,
        client_collateral: atto("cdp_client_collateral")?,
    };
    let uuid: Uuid = match col("id") {
        "" => Uuid::nil(),
        v => v.parse().map_err(|e| field("id", format!("{v:?}: {e}")))?,
    };
    let state = num("state")?;
    let root = cid_or_none("ref_root")?;
    let created_ns = int("creation_time")?;
    let created_at = num("created_at")?;
    let transfer_type = col("ref_transfer_type").to_string();
    // The data reference's other columns, read (and checked) only when it has a root.
    let data_ref = match root {
        Some(root) => Some(DataRef {
            transfer_type: transfer_type.clone(),
            root: Json(root),
            piece_cid: cid_or_none("ref_piece_cid")?.map(Json),
            piece_size: num("ref_piece_size")?,
            raw_block_size: num("ref_raw_block_size")?,
        }),
        None => None,
    };
    Ok(MinerDeal {
        uuid: Json(uuid),
        proposal: Json(ClientDealProposal {
            proposal,
            client_signature: signature,
        }),
        proposal_cid: Json(cid("proposal_cid")?),
        add_funds_msg: cid_or_none("add_funds_cid")?.map(Json),
        publish_msg: cid_or_none("publish_cid")?.map(Json),
        miner_peer: col("miner_peer").to_string(),
        client_peer: col("client_peer").to_string(),
        state,
        piece_path: col("piece_path").to_string(),
        payload_size: num("payload_size")?,
        metadata_path: col("metadata_path").to_string(),
        slash_epoch: int("slash_epoch")?,
        fast_retrieval: flag("fast_retrieval"),
        message: col("message").to_string(),
        funds_reserved: Json(atto("funds_reserved")?),
        data_ref,
        available_for_retrieval: flag("available_for_retrieval"),
        deal_id: num("deal_id")?,
        creation_time: if created_ns > 0 {
            market_types::units::rfc3339(u64::try_from(created_ns / 1_000_000_000).unwrap_or(0))
        } else {
            String::new()
        },
        transfer_channel_id: None,
        sector: num("sector_number")?,
        offset: num("offset")?,
        piece_status: col("piece_status").to_string(),
        inbound_path: col("addr").to_string(),
        created_at,
        updated_at: num("updated_at")?,
        state_name: S::from_u64(state).map(|s| s.name().to_string()).unwrap_or_default(),
        offline: transfer_type == "manual",
        transfer: None,
        data_root: root.map(Json),
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

    /// A row of droplet's `storage_deals` as gorm writes it (values made up for this test).
    fn go_row(publish: &str, signature: &str) -> Vec<Option<String>> {
        let v = |name: &str| -> Option<String> {
            Some(
                match name {
                    "id" => "5f0c1a44-2c55-4d8b-9a53-1f7e0c0f2b11",
                    "proposal_cid" => "bafyreihujsu4bhb3ibjnxmzyhhgqc7ajtgcgodikw3rmxl5g6bdxmpoxhm",
                    "add_funds_cid" => "",
                    "publish_cid" => publish,
                    "miner_peer" => "12D3KooWminer",
                    "client_peer" => "12D3KooWclient",
                    "state" => "7",
                    "payload_size" => "1900",
                    "slash_epoch" => "-1",
                    "fast_retrieval" => "1",
                    "funds_reserved" => "0",
                    "deal_id" => "7",
                    "creation_time" => "1704164645500000000",
                    "sector_number" => "9",
                    "offset" => "2048",
                    "piece_status" => "Proving",
                    "cdp_piece_cid" => "baga6ea4seaqhagmu63kq7jsfkzqmkdm2jsop7vmfe5rjbs6ba2jtzopcizssanq",
                    "cdp_piece_size" => "2048",
                    "cdp_verified_deal" => "0",
                    "cdp_client" => "01001",
                    "cdp_provider" => "01000",
                    "cdp_label" => "hello",
                    "cdp_start_epoch" => "100",
                    "cdp_end_epoch" => "600000",
                    "cdp_storage_price_per_epoch" => "3",
                    "cdp_provider_collateral" => "12",
                    "cdp_client_collateral" => "0",
                    "cdp_client_signature" => signature,
                    "ref_transfer_type" => "manual",
                    "ref_root" => "bafk2bzacedop3crihkfeddvnrvoqpvcmkzftqydlghy5pgcmvqi24llfu5vty",
                    "ref_piece_cid" => "",
                    "ref_piece_size" => "2032",
                    "ref_raw_block_size" => "1900",
                    "created_at" => "1704164645",
                    "updated_at" => "1704164700",
                    _ => return None,
                }
                .to_string(),
            )
        };
        DROPLET_MYSQL_COLUMNS.iter().map(|c| v(c)).collect()
    }

    #[test]
    fn droplet_s_mysql_rows_read_as_its_gorm_model_writes_them() {
        let rows = [
            go_row("", r#"{"Type":1,"Data":"AQID"}"#),
            go_row("bafk2bzacedop3crihkfeddvnrvoqpvcmkzftqydlghy5pgcmvqi24llfu5vty", "null"),
            go_row("not a cid", r#"{"Type":1,"Data":"AQID"}"#),
        ];
        let d = droplet_mysql(&rows);
        let m = d[0].as_ref().expect("deal");
        let p = &m.proposal.0.proposal;
        // Addresses get their network letter back; "" is no CID.
        assert_eq!((p.client.id().ok(), p.provider.id().ok()), (Some(1001), Some(1000)));
        assert_eq!((p.piece_size.0, p.verified_deal, p.start_epoch), (2048, false, 100));
        assert_eq!(p.label, DealLabel::String("hello".into()));
        assert_eq!(m.proposal.0.client_signature.data, vec![1, 2, 3]);
        assert!(m.publish_msg.is_none() && m.add_funds_msg.is_none());
        assert_eq!((m.state, m.deal_id, m.sector, m.offset), (7, 7, 9, 2048));
        assert!(m.fast_retrieval && m.offline);
        assert_eq!(m.creation_time, "2024-01-02T03:04:05Z");
        assert_eq!((m.created_at, m.updated_at), (1704164645, 1704164700));
        let r = m.data_ref.as_ref().expect("ref");
        assert!(r.piece_cid.is_none());
        assert_eq!((r.piece_size, r.raw_block_size), (2032, 1900));
        // A published deal with no signature; a damaged column is named.
        let m = d[1].as_ref().expect("deal");
        assert!(m.publish_msg.is_some());
        assert!(m.proposal.0.client_signature.data.is_empty());
        let (cid, e) = d[2].as_ref().expect_err("damaged");
        assert_eq!(cid, "bafyreihujsu4bhb3ibjnxmzyhhgqc7ajtgcgodikw3rmxl5g6bdxmpoxhm");
        assert!(e.to_string().starts_with("publish_cid:"), "{e}");
    }
}

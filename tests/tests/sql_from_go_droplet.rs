//! Moving a Go droplet's MySQL database over: a copy of droplet's `storage_deals` table (its
//! gorm model, `models/mysql/storage_deal.go`, as gorm's AutoMigrate creates it in MySQL)
//! holds deals in several states, written as droplet writes them (addresses without their
//! network letter, CIDs as strings with "" for none, the signature as JSON in a blob, the
//! creation time in Unix nanoseconds). `droplet storage deal import-deal --from droplet-mysql
//! <dsn>` reads it in place into a droplet on its own (SQL) store: the deals keep their
//! states (one waiting for its data, one published and waiting for the sealer, one Active),
//! a deal mid-way through a step of the old market is named and left behind, and the taken
//! deals go on to Active on both sides.

use serde_json::Value;
use tests::market::{MINER, setup};
use tests::sqlserver::{Engine, SqlServer};

/// droplet's `storage_deals`, column for column from the gorm tags (embedded structs
/// prefixed `cdp_`, `ref_`, `tci_`; `TimeStampOrm` last).
const GO_SCHEMA: &str = "CREATE TABLE `storage_deals` (
  `id` varchar(128),
  `cdp_piece_cid` varchar(256),
  `cdp_piece_size` bigint unsigned NOT NULL,
  `cdp_verified_deal` boolean,
  `cdp_client` varchar(256),
  `cdp_provider` varchar(256),
  `cdp_label` varchar(256),
  `cdp_start_epoch` bigint NOT NULL,
  `cdp_end_epoch` bigint NOT NULL,
  `cdp_storage_price_per_epoch` varchar(256) DEFAULT '0',
  `cdp_provider_collateral` varchar(256) DEFAULT '0',
  `cdp_client_collateral` varchar(256) DEFAULT '0',
  `cdp_client_signature` blob,
  `proposal_cid` varchar(256) NOT NULL,
  `add_funds_cid` varchar(256),
  `publish_cid` varchar(256),
  `miner_peer` varchar(128),
  `client_peer` varchar(128),
  `state` bigint unsigned NOT NULL,
  `payload_size` bigint NOT NULL,
  `piece_path` varchar(256),
  `metadata_path` varchar(256),
  `slash_epoch` bigint NOT NULL,
  `fast_retrieval` boolean,
  `message` varchar(512),
  `funds_reserved` varchar(256) DEFAULT '0',
  `ref_transfer_type` varchar(128),
  `ref_root` varchar(256),
  `ref_piece_cid` varchar(256),
  `ref_piece_size` bigint unsigned NOT NULL,
  `ref_raw_block_size` bigint unsigned NOT NULL,
  `available_for_retrieval` boolean,
  `deal_id` bigint unsigned NOT NULL,
  `creation_time` bigint NOT NULL,
  `tci_initiator` varchar(256),
  `tci_responder` varchar(256),
  `tci_channel_id` bigint unsigned NOT NULL,
  `sector_number` bigint unsigned NOT NULL,
  `addr` varchar(256),
  `offset` bigint NOT NULL,
  `length` bigint NOT NULL,
  `piece_status` varchar(128),
  `created_at` bigint unsigned,
  `updated_at` bigint unsigned,
  PRIMARY KEY (`proposal_cid`),
  KEY `idx_storage_deals_id` (`id`),
  KEY `miner_state` (`miner_peer`, `state`),
  KEY `idx_storage_deals_state` (`state`),
  KEY `idx_cdpprovider_state` (`cdp_provider`, `state`),
  KEY `idx_storage_deals_cdp_piece_cid` (`cdp_piece_cid`),
  KEY `idx_storage_deals_cdp_provider` (`cdp_provider`),
  KEY `idx_storage_deals_deal_id` (`deal_id`),
  KEY `idx_storage_deals_piece_status` (`piece_status`)
) DEFAULT CHARSET=utf8mb4";

/// A SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A CID as gorm's `DBCid` keeps it: its string, or "" for none.
fn cid(v: &Value) -> String {
    v["/"].as_str().unwrap_or_default().to_string()
}

/// An address as gorm's `DBAddress` keeps it: without its network letter.
fn address(v: &Value) -> String {
    v.as_str().expect("an address")[1..].to_string()
}

/// The row droplet's gorm model writes for a deal (`fromStorageDeal`), from droplet's
/// `MinerDeal` JSON (as droplet's API gives it).
fn go_row(d: &Value) -> String {
    let p = &d["Proposal"];
    let r = &d["Ref"];
    let secs = d["CreatedAt"].as_u64().unwrap_or(0);
    let cols: Vec<(&str, String)> = vec![
        ("id", quote(&text(&d["ID"]))),
        ("cdp_piece_cid", quote(&cid(&p["PieceCID"]))),
        ("cdp_piece_size", text(&p["PieceSize"])),
        ("cdp_verified_deal", text(&p["VerifiedDeal"])),
        ("cdp_client", quote(&address(&p["Client"]))),
        ("cdp_provider", quote(&address(&p["Provider"]))),
        ("cdp_label", quote(&text(&p["Label"]))),
        ("cdp_start_epoch", text(&p["StartEpoch"])),
        ("cdp_end_epoch", text(&p["EndEpoch"])),
        ("cdp_storage_price_per_epoch", quote(&text(&p["StoragePricePerEpoch"]))),
        ("cdp_provider_collateral", quote(&text(&p["ProviderCollateral"]))),
        ("cdp_client_collateral", quote(&text(&p["ClientCollateral"]))),
        ("cdp_client_signature", quote(&d["ClientSignature"].to_string())),
        ("proposal_cid", quote(&cid(&d["ProposalCid"]))),
        ("add_funds_cid", quote(&cid(&d["AddFundsCid"]))),
        ("publish_cid", quote(&cid(&d["PublishCid"]))),
        ("miner_peer", quote(&text(&d["Miner"]))),
        ("client_peer", quote(&text(&d["Client"]))),
        ("state", text(&d["State"])),
        ("payload_size", text(&d["PayloadSize"])),
        ("piece_path", quote(&text(&d["PiecePath"]))),
        ("metadata_path", quote(&text(&d["MetadataPath"]))),
        ("slash_epoch", text(&d["SlashEpoch"])),
        ("fast_retrieval", text(&d["FastRetrieval"])),
        ("message", quote(&text(&d["Message"]))),
        ("funds_reserved", quote(&text(&d["FundsReserved"]))),
        ("ref_transfer_type", quote(&text(&r["TransferType"]))),
        ("ref_root", quote(&cid(&r["Root"]))),
        ("ref_piece_cid", quote(&cid(&r["PieceCid"]))),
        ("ref_piece_size", r["PieceSize"].as_u64().unwrap_or(0).to_string()),
        (
            "ref_raw_block_size",
            r["RawBlockSize"].as_u64().unwrap_or(0).to_string(),
        ),
        ("available_for_retrieval", text(&d["AvailableForRetrieval"])),
        ("deal_id", text(&d["DealID"])),
        ("creation_time", (secs * 1_000_000_000).to_string()),
        ("tci_initiator", quote("")),
        ("tci_responder", quote("")),
        ("tci_channel_id", "0".into()),
        ("sector_number", text(&d["SectorNumber"])),
        ("addr", quote(&text(&d["InboundCAR"]))),
        ("offset", text(&d["Offset"])),
        ("length", text(&p["PieceSize"])),
        ("piece_status", quote(&text(&d["PieceStatus"]))),
        ("created_at", secs.to_string()),
        ("updated_at", text(&d["UpdatedAt"])),
    ];
    let names: Vec<String> = cols.iter().map(|(n, _)| format!("`{n}`")).collect();
    let values: Vec<String> = cols.into_iter().map(|(_, v)| v).collect();
    format!(
        "INSERT INTO storage_deals ({}) VALUES ({})",
        names.join(", "),
        values.join(", ")
    )
}

fn proposal_of(out: std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_go_droplets_mysql_deals_move_over_in_their_states_and_go_on_to_active() {
    let server = SqlServer::start(Engine::MariaDb);
    let go_db = server.database();
    server.query(&go_db, GO_SCHEMA);

    // The old market: deals in several states.
    let mut m = setup();
    let active = proposal_of(m.init("0.0000001", "518400", &[]));
    m.wait_state(&active, "StorageDealWaitingForData");
    assert!(m.deal_cmd(&["import-data", &active, &m.car]).status.success());
    m.publish_seal_and_activate(std::slice::from_ref(&active));
    let sealing = proposal_of(m.init("0.0000001", "518400", &[]));
    m.wait_state(&sealing, "StorageDealWaitingForData");
    assert!(m.deal_cmd(&["import-data", &sealing, &m.car]).status.success());
    m.wait_state(&sealing, "StorageDealPublish");
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    m.wait_state(&sealing, "StorageDealAwaitingPreCommit");
    let in_flight = proposal_of(m.init("0.0000001", "518400", &[]));
    m.wait_state(&in_flight, "StorageDealWaitingForData");
    assert!(m.deal_cmd(&["import-data", &in_flight, &m.car]).status.success());
    m.wait_state(&in_flight, "StorageDealPublish");
    let waiting = proposal_of(m.init("0.0000001", "518400", &[]));
    m.wait_state(&waiting, "StorageDealWaitingForData");

    // Its records, as droplet's MySQL tables hold them.
    let old: Vec<Value> = [&active, &sealing, &in_flight, &waiting]
        .iter()
        .map(|p| m.deal(p))
        .collect();
    for d in &old {
        server.query(&go_db, &go_row(d));
    }
    let rows = server.query(&go_db, "SELECT COUNT(*) FROM storage_deals");
    assert_eq!(rows.trim(), "4", "{rows}");

    // The new droplet, on a database of its own, takes the deals over.
    m.droplet.take().expect("the old droplet").kill();
    let new_db = server.database();
    let dir = m._dir.path().to_path_buf();
    let (droplet, repo) = tests::procs::start_droplet_with(
        &dir,
        "droplet-new",
        &m._net,
        "wallet",
        &[MINER],
        &["--mysql-dsn", &new_db],
    );
    m.droplet = Some(droplet);
    m.provider = repo;
    tests::procs::announce(&m.provider);
    let out = m.deal_cmd(&["import-deal", "--from", "droplet-mysql", &go_db]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("import 3 deals success"), "{said}");
    assert!(
        said.contains(&format!("deal {in_flight} is in StorageDealPublish: not taken")),
        "{said}"
    );
    // Nothing was written to the old database.
    let rows = server.query(&go_db, "SHOW TABLES");
    assert_eq!(rows.trim(), "storage_deals", "{rows}");

    // The states are kept, with what the chain knows of each.
    let a = m.deal(&active);
    assert_eq!(a["StateName"], "StorageDealActive");
    assert_eq!(a["DealID"], old[0]["DealID"]);
    assert_eq!(a["SectorNumber"], old[0]["SectorNumber"]);
    let s = m.deal(&sealing);
    assert_eq!(s["StateName"], "StorageDealAwaitingPreCommit");
    assert_eq!(s["DealID"], old[1]["DealID"]);
    assert_eq!(s["PublishCid"], old[1]["PublishCid"]);
    assert_eq!(m.deal(&waiting)["StateName"], "StorageDealWaitingForData");
    assert_eq!(m.deals().len(), 3, "the in-flight deal was left behind");

    // And they go on.
    assert!(m.deal_cmd(&["import-data", &waiting, &m.car]).status.success());
    m.wait_state(&waiting, "StorageDealPublish");
    assert!(m.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
    m.wait_state(&waiting, "StorageDealAwaitingPreCommit");
    let sealed = m.seal_once();
    assert!(sealed.starts_with("sealed sector"), "{sealed}");
    for p in [&active, &sealing, &waiting] {
        m.wait_state(p, "StorageDealActive");
        m.wait_client_state(p, 7);
    }
}

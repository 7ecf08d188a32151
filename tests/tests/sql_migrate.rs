//! A provider moves droplet's store with `droplet store migrate`, the daemon stopped: from the
//! repo's RocksDB into MariaDB, from MariaDB into PostgreSQL, and back into the repo's
//! RocksDB; after each move droplet starts on the new store, its deals where they were, and
//! a deal left waiting for its data goes on to Active. A running daemon stops a migration;
//! a destination holding records or indexed pieces is refused unless `--force`, which empties
//! it first.

use serde_json::Value;
use tests::crash::check;
use tests::market::{Market, setup};
use tests::procs::run;
use tests::sqlserver::{Engine, SqlServer};

fn droplet(m: &Market, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--repo", m.provider.as_str()];
    all.extend_from_slice(args);
    run("droplet", &all)
}

fn ok(o: std::process::Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every deal's proposal and state, as droplet lists them.
fn states(m: &Market) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = m
        .deals()
        .iter()
        .map(|d: &Value| (d["ProposalCid"]["/"].to_string(), d["State"].to_string()))
        .collect();
    out.sort();
    out
}

/// Propose an offline deal left waiting for its data.
fn waiting_deal(m: &Market, duration: &str) -> String {
    let out = m.init("0.0000001", duration, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    m.wait_state(&p, "StorageDealWaitingForData");
    p
}

/// Stop droplet, migrate, start it again: the deals are as they were.
fn move_store(m: &mut Market, to: &str, force: bool) {
    let before = states(m);
    m.droplet.take().expect("droplet runs").stop();
    let mut args = vec!["store", "migrate", "--to", to];
    if force {
        args.push("--force");
    }
    let said = ok(droplet(m, &args));
    assert!(said.contains("copied "), "{said}");
    // The piece index goes along (the market's deals all store the one CAR's piece).
    assert!(said.contains("piece index copied: 1 piece\n"), "{said}");
    m.start_droplet_again();
    tests::procs::announce(&m.provider);
    assert_eq!(states(m), before, "after migrating to {to}");
}

#[test]
fn droplets_store_moves_from_rocksdb_to_mariadb_to_postgresql_and_back_and_its_deals_go_on() {
    let maria = SqlServer::start(Engine::MariaDb);
    let pg = SqlServer::start(Engine::Postgres);
    let mut m = setup();
    // One deal Active, one waiting for its data.
    let active = waiting_deal(&m, "518400");
    ok(droplet(&m, &["storage", "deal", "import-data", &active, &m.car]));
    m.publish_seal_and_activate(std::slice::from_ref(&active));
    let waiting = waiting_deal(&m, "518401");

    // A running daemon holds the repo: nothing is copied.
    let mariadb = maria.database();
    let refused = droplet(&m, &["store", "migrate", "--to", &mariadb]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("repo is locked"),
        "{refused:?}"
    );

    move_store(&mut m, &mariadb, false);
    for table in ["piece_index_pieces", "piece_index_payloads", "piece_index_blocks"] {
        let n = maria.query(&mariadb, &format!("SELECT COUNT(*) FROM {table}"));
        assert!(
            n.lines().filter_map(|l| l.trim().parse::<u64>().ok()).any(|n| n > 0),
            "{table}: {n}"
        );
    }
    let info = ok(droplet(&m, &["store", "info"]));
    assert!(info.starts_with("MySQL at mysql://root@127.0.0.1:"), "{info}");
    assert!(info.contains("schema: version 3, this droplet's"), "{info}");
    // Read beside the running daemon: the records, and the miner it holds.
    assert!(info.contains("deal/"), "{info}");
    assert!(info.contains("lease miner/t01000 held by"), "the daemon runs: {info}");

    // Into PostgreSQL; a database holding records is refused without --force.
    let postgres = pg.database();
    m.droplet.take().expect("droplet runs").stop();
    let other = piece_index(open_and_write(&postgres));
    other.add_location(&stray_piece(), "stray").expect("indexes");
    drop(other);
    let refused = droplet(&m, &["store", "migrate", "--to", &postgres]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--force"),
        "{refused:?}"
    );
    m.start_droplet_again();
    tests::procs::announce(&m.provider);
    move_store(&mut m, &postgres, true);
    let info = ok(droplet(&m, &["store", "info"]));
    assert!(
        info.starts_with("PostgreSQL at postgres://postgres@127.0.0.1:"),
        "{info}"
    );
    assert!(!info.contains("stray/"), "--force replaced what was there: {info}");
    let pieces = piece_index(open(&postgres)).pieces().expect("pieces");
    assert_eq!(pieces.len(), 1, "--force replaced the piece index too: {pieces:?}");
    assert!(!pieces.contains(&stray_piece()), "{pieces:?}");

    // The deal waiting for its data goes on, on PostgreSQL.
    ok(droplet(&m, &["storage", "deal", "import-data", &waiting, &m.car]));
    m.publish_seal_and_activate(std::slice::from_ref(&waiting));
    check(&m);

    // Back into the repo's RocksDB, which still holds what it had before the first move
    // (stale by now): --force replaces it.
    let third = waiting_deal(&m, "518402");
    m.droplet.take().expect("droplet runs").stop();
    let refused = droplet(&m, &["store", "migrate", "--to", "rocksdb"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--force"),
        "{refused:?}"
    );
    m.start_droplet_again();
    tests::procs::announce(&m.provider);
    move_store(&mut m, "rocksdb", true);
    let info = ok(droplet(&m, &["store", "info"]));
    assert!(info.starts_with("RocksDB at "), "{info}");
    ok(droplet(&m, &["storage", "deal", "import-data", &third, &m.car]));
    m.publish_seal_and_activate(std::slice::from_ref(&third));
    check(&m);
}

/// Put a stray record into the database at `dsn` as another tool might have.
fn open_and_write(dsn: &str) -> market_store::Store {
    let store = open(dsn);
    store
        .put_json(market_store::Table("stray/"), "k", &1u32)
        .expect("writes");
    store
}

/// The database at `dsn`.
fn open(dsn: &str) -> market_store::Store {
    let dir = tempfile::tempdir().expect("tempdir");
    market_store::Store::open_sql(&dir.path().join("x"), &tests::sql_config(dsn)).expect("opens")
}

/// A piece nobody stored.
fn stray_piece() -> cid::Cid {
    cid::Cid::new_v1(
        0xf101,
        cid::multihash::Multihash::wrap(0x1012, &[7; 32]).expect("digest fits"),
    )
}

/// The database's piece index.
fn piece_index(store: market_store::Store) -> piece_store::index::PieceIndex {
    piece_store::index::PieceIndex::in_database(std::sync::Arc::new(store)).expect("a SQL store")
}

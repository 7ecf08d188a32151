//! The store's two backends hold records alike: the same writes, batches, scans and walks give
//! the same answers on RocksDB, on a real MariaDB and on a real PostgreSQL (servers started
//! here on loopback, in temporary directories); a repo's records copy from one to the other
//! and back unchanged; the schema migrates once however many daemons open it together; and
//! leases in the database let one daemon at a time hold a name.

use std::sync::Arc;
use std::time::Duration;

use market_store::sql::lease::Claim;
use market_store::{Batch, Store, Table};
use tests::sqlserver::{Engine, SqlServer};

const A: Table = Table("deal/");
const B: Table = Table("deal-by-state/");
const C: Table = Table("paych-in/");

fn open_sql(dir: &tempfile::TempDir, name: &str, dsn: &str) -> Store {
    Store::open_sql(&dir.path().join(name), &tests::sql_config(dsn)).expect("opens the SQL store")
}

/// What every backend must answer alike.
fn conformance(store: &Store) {
    // A batch applies whole; keys sort bytewise within a table; tables are apart.
    let mut b = Batch::default();
    for k in ["b/2", "a/1", "a/10", "a/2", "a\u{7f}", "b/1"] {
        b.put_raw(A, k, k.as_bytes());
    }
    b.put_raw(B, "a/1", b"other table");
    b.put_json(C, "x", &serde_json::json!({"Amount": "5"}));
    store.write(b, true).expect("writes");
    let keys = |t, p| -> Vec<String> {
        store
            .scan_raw(t, p)
            .expect("scans")
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(keys(A, "a/"), ["a/1", "a/10", "a/2"]);
    assert_eq!(keys(A, ""), ["a/1", "a/10", "a/2", "a\u{7f}", "b/1", "b/2"]);
    assert_eq!(keys(B, ""), ["a/1"]);
    let from: Vec<String> = store
        .scan_raw_from(A, "a/", "a/10")
        .expect("scans")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(from, ["a/10", "a/2"]);
    assert_eq!(store.get_raw(A, "b/1").expect("gets"), Some(b"b/1".to_vec()));
    assert_eq!(store.get_raw(A, "nope").expect("gets"), None);
    let v: serde_json::Value = store.get_json(C, "x").expect("gets").expect("there");
    assert_eq!(v["Amount"], "5");

    // Overwrites and deletes in one batch; a delete of nothing is no error.
    let mut b = Batch::default();
    b.put_raw(A, "a/1", b"new");
    b.delete(A, "a/2");
    b.delete(A, "never");
    store.write(b, false).expect("writes");
    store.sync().expect("syncs");
    assert_eq!(store.get_raw(A, "a/1").expect("gets"), Some(b"new".to_vec()));
    assert_eq!(keys(A, "a/"), ["a/1", "a/10"]);

    // Several writes to one record in a batch: the last one counts, whatever its kind.
    let mut b = Batch::default();
    b.put_raw(B, "twice", b"first");
    b.put_raw(B, "twice", b"second");
    b.put_raw(B, "gone", b"x");
    b.delete(B, "gone");
    b.delete(B, "back");
    b.put_raw(B, "back", b"here");
    store.write(b, true).expect("writes");
    assert_eq!(store.get_raw(B, "twice").expect("gets"), Some(b"second".to_vec()));
    assert_eq!(store.get_raw(B, "gone").expect("gets"), None);
    assert_eq!(store.get_raw(B, "back").expect("gets"), Some(b"here".to_vec()));
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    assert_eq!(
        rt.block_on(store.get_raw_async(B, "back")).expect("gets"),
        Some(b"here".to_vec()),
        "an async read sees what a write left"
    );
    assert_eq!(rt.block_on(store.get_raw_async(B, "gone")).expect("gets"), None);

    // A batch larger than one statement carries (rows and bytes) applies whole, and a delete
    // of many keys with it.
    let mut b = Batch::default();
    for i in 0..1_200u32 {
        let value = if i % 400 == 0 {
            vec![i as u8; 3 << 20]
        } else {
            i.to_be_bytes().to_vec()
        };
        b.put_raw(B, &format!("many/{i:04}"), &value);
    }
    store.write(b, true).expect("writes");
    let many = store.scan_raw(B, "many/").expect("scans");
    assert_eq!(many.len(), 1_200);
    assert_eq!(many[400].1.len(), 3 << 20);
    assert_eq!(many[401].1, 401u32.to_be_bytes());
    let mut b = Batch::default();
    for i in 0..1_200u32 {
        b.delete(B, &format!("many/{i:04}"));
    }
    store.write(b, true).expect("deletes");
    assert!(store.scan_raw(B, "many/").expect("scans").is_empty());
    let mut b = Batch::default();
    b.delete(B, "twice");
    b.delete(B, "back");
    store.write(b, true).expect("deletes");

    // Values of any bytes and size up to a large IPNI chunk.
    let big: Vec<u8> = (0..700_000u32).map(|i| (i * 31 % 256) as u8).collect();
    store.put_json(C, "big", &big).expect("writes");
    let back: Vec<u8> = store.get_json(C, "big").expect("gets").expect("there");
    assert_eq!(back, big);
    store.delete(C, "big").expect("deletes");

    // Writers at the same moment (committed together on a SQL store): every batch lands,
    // and on SQL one the database refuses (a table name past the schema's 64 characters)
    // fails alone, its neighbours written.
    let bad = Table(Box::leak("x".repeat(70).into_boxed_str()));
    let sql = store.sql().is_some();
    std::thread::scope(|scope| {
        for t in 0..8u32 {
            scope.spawn(move || {
                for i in 0..40u32 {
                    let mut b = Batch::default();
                    b.put_raw(B, &format!("con/{t}/{i:02}"), &i.to_be_bytes());
                    b.put_raw(B, &format!("con/{t}/last"), &i.to_be_bytes());
                    if sql && t == 3 && i == 20 {
                        b.put_raw(bad, "k", b"v");
                        assert!(store.write(b, true).is_err(), "a batch the database refuses fails");
                        continue;
                    }
                    store.write(b, true).expect("a concurrent batch writes");
                }
            });
        }
    });
    let con = store.scan_raw(B, "con/").expect("scans");
    assert_eq!(con.len(), if sql { 8 * 41 - 1 } else { 8 * 41 });
    for t in 0..8u32 {
        let last = store.get_raw(B, &format!("con/{t}/last")).expect("gets");
        assert_eq!(
            last,
            Some(39u32.to_be_bytes().to_vec()),
            "each writer's last write is the one kept"
        );
    }
    let mut b = Batch::default();
    for (k, _) in con {
        b.delete(B, &k);
    }
    store.write(b, true).expect("deletes");

    // The whole store, in (table, key) order.
    let mut all = Vec::new();
    store
        .for_each_record(&mut |t, k, _| {
            all.push(format!("{t}{k}"));
            Ok(())
        })
        .expect("walks");
    assert_eq!(
        all,
        [
            "deal-by-state/a/1",
            "deal/a/1",
            "deal/a/10",
            "deal/a\u{7f}",
            "deal/b/1",
            "deal/b/2",
            "paych-in/x"
        ]
    );
}

fn records(store: &Store) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    store
        .for_each_record(&mut |t, k, v| {
            out.push((t.to_string(), k.to_string(), v.to_vec()));
            Ok(())
        })
        .expect("walks");
    out
}

#[test]
fn rocksdb_mariadb_and_postgresql_stores_answer_alike_and_copy_into_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rocks = Store::open(&dir.path().join("rocks")).expect("opens");
    conformance(&rocks);
    // Enough records that a walk over SQL takes several pages.
    let mut b = Batch::default();
    for i in 0..2500 {
        b.put_raw(Table("deal-log/"), &format!("{i:06}"), &i.to_string().into_bytes());
    }
    rocks.write(b, true).expect("writes");
    let want = records(&rocks);

    for engine in [Engine::MariaDb, Engine::Postgres] {
        let server = SqlServer::start(engine);
        let sql = open_sql(&dir, &format!("{engine:?}-a"), &server.database());
        assert!(sql.describe().contains("127.0.0.1"), "{}", sql.describe());
        assert!(!sql.describe().contains("***") || engine == Engine::MariaDb);
        conformance(&sql);

        // RocksDB → SQL → RocksDB: every record, byte for byte.
        let empty = open_sql(&dir, &format!("{engine:?}-b"), &server.database());
        let mut seen = 0;
        let n = rocks.copy_into(&empty, 1000, &mut |c| seen = c).expect("copies");
        assert_eq!((n, seen), (want.len() as u64, want.len() as u64));
        assert_eq!(records(&empty), want, "{engine:?}");
        let back = Store::open(&dir.path().join(format!("{engine:?}-back"))).expect("opens");
        empty.copy_into(&back, 333, &mut |_| {}).expect("copies back");
        assert_eq!(records(&back), want, "{engine:?} and back");
        // Copied again (a copy cut short is run again): nothing doubles.
        rocks.copy_into(&empty, 1000, &mut |_| {}).expect("copies again");
        assert_eq!(records(&empty), want, "{engine:?} twice");
    }
}

#[test]
fn the_schema_migrates_once_when_daemons_open_a_new_database_together_and_again_is_a_no_op() {
    for engine in [Engine::MariaDb, Engine::Postgres] {
        let server = SqlServer::start(engine);
        let dsn = server.database();
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let opened: Vec<Store> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let (dir, dsn) = (dir.clone(), dsn.clone());
                    s.spawn(move || open_sql(&dir, &format!("repo{i}"), &dsn))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("opens")).collect()
        });
        // Each sees what another writes: one database.
        opened[0].put_json(A, "k", &1u32).expect("writes");
        assert_eq!(opened[3].get_json::<u32>(A, "k").expect("reads"), Some(1));
        drop(opened);
        let again = open_sql(&dir, "again", &dsn);
        assert_eq!(again.get_json::<u32>(A, "k").expect("reads"), Some(1));
        let table = server.query(&dsn, "SELECT version FROM market_schema_migrations ORDER BY version");
        let versions: Vec<&str> = table.lines().filter(|l| l.trim().parse::<u32>().is_ok()).collect();
        assert_eq!(versions, ["1", "2", "3"], "{engine:?}: {table}");
    }
}

#[test]
fn a_look_at_the_schema_never_changes_it_and_a_newer_one_is_refused_with_a_reason() {
    use market_store::StoreError;
    use market_store::sql::{Schema, SqlError};
    for engine in [Engine::MariaDb, Engine::Postgres] {
        let server = SqlServer::start(engine);
        let dsn = server.database();
        let dir = tempfile::tempdir().expect("tempdir");
        let ours = |dsn: &str| -> String {
            let here = match engine {
                Engine::MariaDb => "DATABASE()",
                Engine::Postgres => "current_schema()",
            };
            server.query(
                dsn,
                &format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {here}"),
            )
        };
        let schema = || {
            Store::open_sql_shared(&tests::sql_config(&dsn))
                .expect("connects")
                .sql()
                .expect("SQL")
                .schema()
                .expect("reads the schema")
        };

        // A new database: looked at, it stays empty.
        assert_eq!(schema(), Schema::Missing, "{engine:?}");
        assert_eq!(ours(&dsn).trim(), "0", "{engine:?}: a look created nothing");

        drop(open_sql(&dir, "r1", &dsn));
        assert_eq!(schema(), Schema::Current { version: 3 }, "{engine:?}");

        // Behind (one migration not applied yet): told, left so; a daemon's open catches up.
        server.query(&dsn, "DELETE FROM market_schema_migrations WHERE version = 3");
        assert_eq!(schema(), Schema::Behind { version: 2, latest: 3 }, "{engine:?}");
        assert_eq!(schema(), Schema::Behind { version: 2, latest: 3 }, "{engine:?}: still");
        drop(open_sql(&dir, "r2", &dsn));
        assert_eq!(schema(), Schema::Current { version: 3 }, "{engine:?}");

        // Ahead (set up by a newer droplet): told, and a daemon refuses it, saying why.
        server.query(
            &dsn,
            "UPDATE market_schema_migrations SET version = 99 WHERE version = 3",
        );
        assert_eq!(schema(), Schema::Ahead { version: 99, latest: 3 }, "{engine:?}");
        let Err(e) = Store::open_sql(&dir.path().join("r3"), &tests::sql_config(&dsn)) else {
            panic!("{engine:?}: a newer schema is refused");
        };
        assert!(
            matches!(
                e,
                StoreError::Sql(SqlError::SchemaAhead {
                    version: 99,
                    latest: 3,
                    ..
                })
            ),
            "{engine:?}: {e}"
        );
        assert!(e.to_string().contains("a newer droplet set it up"), "{e}");
    }
}

#[test]
fn a_lease_is_held_by_one_daemon_renewed_while_it_lives_and_taken_over_once_it_lapses() {
    for engine in [Engine::MariaDb, Engine::Postgres] {
        let server = SqlServer::start(engine);
        let dsn = server.database();
        let dir = tempfile::tempdir().expect("tempdir");
        let one = open_sql(&dir, "one", &dsn);
        let two = open_sql(&dir, "two", &dsn);
        let (a, b) = (one.sql().expect("sql"), two.sql().expect("sql"));
        let ttl = Duration::from_millis(1500);
        assert_eq!(a.claim("droplet", "A", ttl).expect("claims"), Claim::Held);
        match b.claim("droplet", "B", ttl).expect("claims") {
            Claim::Taken { holder, expires_in } => {
                assert_eq!(holder, "A");
                assert!(expires_in <= ttl, "{expires_in:?}");
            }
            Claim::Held => panic!("{engine:?}: two holders"),
        }
        // Renewed, A keeps it past the first term.
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(700));
            assert!(rt.block_on(a.renew("droplet", "A", ttl)).expect("renews"));
            assert!(matches!(
                b.claim("droplet", "B", ttl).expect("claims"),
                Claim::Taken { .. }
            ));
        }
        // A stops renewing: once it lapses B takes it, and A learns it lost it.
        std::thread::sleep(ttl + Duration::from_millis(300));
        assert_eq!(b.claim("droplet", "B", ttl).expect("claims"), Claim::Held);
        assert!(!rt.block_on(a.renew("droplet", "A", ttl)).expect("renews"));
        // Released, it is free at once; other names are apart.
        assert_eq!(a.claim("miner/t01000", "A", ttl).expect("claims"), Claim::Held);
        b.release("droplet", "B").expect("releases");
        assert_eq!(a.claim("droplet", "A", ttl).expect("claims"), Claim::Held);
        // What is held now, by name and holder; a lapsed lease is no one's.
        let live: Vec<(String, String)> = b
            .live()
            .expect("reads")
            .into_iter()
            .map(|l| (l.name, l.holder))
            .collect();
        assert_eq!(
            live,
            [("droplet", "A"), ("miner/t01000", "A")].map(|(n, h)| (n.to_string(), h.to_string())),
            "{engine:?}"
        );
        assert_eq!(b.holder_of("miner/t01000").expect("reads").as_deref(), Some("A"));
        std::thread::sleep(ttl + Duration::from_millis(300));
        assert!(
            b.live().expect("reads").is_empty(),
            "{engine:?}: lapsed leases are no one's"
        );
        assert_eq!(b.holder_of("droplet").expect("reads"), None);
    }
}

#[test]
fn an_unreachable_database_or_a_bad_connection_string_is_told_plainly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let e = Store::open_sql(
        &dir.path().join("r"),
        &market_store::sql::SqlConfig {
            connection: format!("postgres://u:secret@127.0.0.1:{port}/db"),
            ..tests::sql_config("")
        },
    )
    .expect_err("nothing listens");
    let text = e.to_string();
    assert!(text.contains("cannot reach the PostgreSQL database"), "{text}");
    assert!(!text.contains("secret"), "the password is not shown: {text}");
    let e = Store::open_sql(
        &dir.path().join("r2"),
        &tests::sql_config("root@tcp(127.0.0.1:1)/db?tls=true"),
    )
    .expect_err("refused");
    assert!(e.to_string().contains("tls=true"), "{e}");
}

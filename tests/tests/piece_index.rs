//! The piece index answers alike on its three backends: RocksDB under the repo, and the
//! market's MariaDB or PostgreSQL database (servers started here on loopback, in temporary
//! directories), where every droplet sharing the database sees every piece: deals, locations
//! and payloads kept and read back after a reopen, a CAR's block index serving any block, a
//! walk over a piece's multihashes in order (several pages of them on SQL), a corrupt CAR
//! refused with the piece named, and two droplets adding deals to one piece at once both kept.

use std::io::Cursor;
use std::sync::Arc;

use cid::Cid;
use cid::multihash::Multihash;
use market_store::Store;
use piece_store::car;
use piece_store::index::{DealRef, IndexError, PieceIndex};
use piece_store::unixfs::{BlockCid, ImportOptions, Importer};
use tests::sqlserver::{Engine, SqlServer};

/// A piece CID (sha2-256-trunc254-padded, fil-commitment-unsealed) from a seed.
fn piece(seed: u8) -> Cid {
    Cid::new_v1(0xf101, Multihash::wrap(0x1012, &[seed; 32]).expect("digest fits"))
}

fn deal(name: &str, id: u64) -> DealRef {
    DealRef {
        deal: name.into(),
        deal_id: id,
        miner: "f01000".into(),
        sector: 3,
        offset: 0,
        length: 2048,
    }
}

/// A CAR of a file of `size` pseudo-random bytes in leaves of `chunk` bytes, and its blocks'
/// CIDs.
fn car_of(size: u32, chunk: usize, dir: &std::path::Path) -> (Vec<u8>, BlockCid, Vec<BlockCid>) {
    let input = dir.join(format!("data-{size}-{chunk}"));
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(size);
    let bytes: Vec<u8> = (0..size)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect();
    std::fs::write(&input, &bytes).expect("write");
    let dag = Importer::new(ImportOptions {
        chunk_size: chunk,
        ..ImportOptions::default()
    })
    .import_path(&input, &mut |_| {})
    .expect("import");
    let (car_bytes, entries) = car::write_dag(&dag, Vec::new()).expect("car");
    (car_bytes, dag.root(), entries.into_iter().map(|e| e.cid).collect())
}

/// Every multihash of a piece's block index, as the walk gives them.
fn walk(idx: &PieceIndex, piece: &Cid) -> Vec<Vec<u8>> {
    let mut listed = Vec::new();
    idx.for_each_multihash(piece, |mh| {
        listed.push(mh.to_vec());
        Ok::<_, IndexError>(())
    })
    .expect("walks");
    listed
}

/// What every backend must answer alike. `open` opens the index (again, after the previous
/// one is dropped).
fn conformance(open: &dyn Fn() -> PieceIndex, dir: &std::path::Path) {
    let payload = b"\x01\x55\x00\x03abc";
    {
        let idx = open();
        assert_eq!(idx.piece(&piece(1)).expect("get"), None);
        idx.add_deal(&piece(1), deal("a", 0)).expect("deal");
        idx.add_deal(&piece(1), deal("b", 2)).expect("deal");
        idx.add_deal(&piece(1), deal("a", 7))
            .expect("same deal again updates it");
        idx.add_location(&piece(1), "fs-1").expect("loc");
        idx.add_location(&piece(1), "fs-1").expect("loc twice");
        idx.add_payload(payload, &piece(1)).expect("payload");
        idx.add_payload(payload, &piece(1)).expect("payload twice");
    }
    let idx = open();
    let rec = idx.piece(&piece(1)).expect("get").expect("present");
    assert_eq!(rec.deals, vec![deal("a", 7), deal("b", 2)]);
    assert_eq!(rec.locations, vec!["fs-1".to_string()]);
    assert!(!rec.indexed);
    assert_eq!(idx.pieces_for_payload(payload).expect("payload"), vec![piece(1)]);
    assert_eq!(idx.pieces_for_payload(b"\x01\x55\x00\x03abd").expect("other"), vec![]);
    assert_eq!(idx.pieces().expect("list"), vec![piece(1)]);

    // A CAR's block index serves any block; its root becomes a payload of the piece.
    let (car_bytes, root, cids) = car_of(3_500_000, 1 << 20, dir);
    assert_eq!(
        idx.index_car(&piece(2), Cursor::new(&car_bytes)).expect("index"),
        cids.len() as u64
    );
    let rec = idx.piece(&piece(2)).expect("get").expect("present");
    assert!(rec.indexed);
    assert_eq!(rec.block_count, cids.len() as u64);
    assert_eq!(rec.car_size as usize, car_bytes.len());
    assert_eq!(
        idx.pieces_for_payload(&root.to_bytes()).expect("payload"),
        vec![piece(2)]
    );
    for cid in &cids {
        let mh = cid.hash().to_bytes();
        let loc = idx.block_location(&piece(2), &mh).expect("get").expect("indexed");
        let block = &car_bytes[loc.offset as usize..(loc.offset + loc.len) as usize];
        assert!(piece_store::unixfs::verify_block(cid, block).expect("known hash"));
        assert_eq!(idx.pieces_with_block(&mh).expect("lookup"), vec![piece(2)]);
    }
    assert_eq!(idx.block_location(&piece(2), b"\x12\x20nothing").expect("get"), None);
    assert_eq!(idx.pieces_with_block(b"\x12\x20nothing").expect("lookup"), vec![]);

    // The same CAR as another piece, and the first indexed again (a repeat after a failure):
    // a block is then in both pieces, listed in CID order, and nothing doubles.
    idx.index_car(&piece(0), Cursor::new(&car_bytes)).expect("index other");
    idx.index_car(&piece(2), Cursor::new(&car_bytes)).expect("index again");
    let mh = cids[0].hash().to_bytes();
    assert_eq!(idx.pieces_with_block(&mh).expect("lookup"), vec![piece(0), piece(2)]);
    assert_eq!(
        idx.pieces_for_payload(&root.to_bytes()).expect("payload"),
        vec![piece(0), piece(2)]
    );
    let mut want: Vec<Vec<u8>> = cids.iter().map(|c| c.hash().to_bytes()).collect();
    want.sort();
    want.dedup();
    assert_eq!(walk(&idx, &piece(2)), want);
    assert_eq!(walk(&idx, &piece(9)), Vec::<Vec<u8>>::new());
    assert_eq!(idx.pieces().expect("list"), vec![piece(0), piece(1), piece(2)]);
    let mut payloads = idx.payloads().expect("payloads");
    payloads.sort();
    let mut expected = vec![
        Cid::try_from(&payload[..]).expect("cid"),
        Cid::try_from(root.to_bytes()).expect("cid"),
    ];
    expected.sort();
    assert_eq!(payloads, expected);

    // Small leaves: a block index longer than a page of the SQL walk, walked whole and in order.
    let (small, _, small_cids) = car_of(2_800_000, 256, dir);
    assert!(small_cids.len() > 10_000, "{} blocks", small_cids.len());
    idx.index_car(&piece(3), Cursor::new(&small)).expect("index");
    let mut want: Vec<Vec<u8>> = small_cids.iter().map(|c| c.hash().to_bytes()).collect();
    want.sort();
    want.dedup();
    assert_eq!(walk(&idx, &piece(3)), want);
    // The walk stops at the caller's first error.
    let mut seen = 0;
    let stopped = idx.for_each_multihash(&piece(3), |_| {
        seen += 1;
        if seen == 3 { Err(IndexError::NotSql) } else { Ok(()) }
    });
    assert!(matches!(stopped, Err(IndexError::NotSql)));
    assert_eq!(seen, 3);

    // A corrupt CAR is refused with the piece named, and the piece is not marked indexed.
    let (mut bad, _, _) = car_of(300_000, 1 << 20, dir);
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let err = idx.index_car(&piece(4), Cursor::new(&bad)).expect_err("corrupt");
    assert!(matches!(err, IndexError::Car { .. }));
    assert!(err.to_string().contains(&piece(4).to_string()), "{err}");
    assert!(!idx.piece(&piece(4)).expect("get").is_some_and(|r| r.indexed));
}

/// A droplet's index in the database: its own repo lock, the shared database.
fn in_database(dir: &std::path::Path, name: &str, dsn: &str) -> PieceIndex {
    let store = Store::open_sql(&dir.join(name), &tests::sql_config(dsn)).expect("opens the SQL store");
    PieceIndex::in_database(Arc::new(store)).expect("the index in the database")
}

#[test]
fn rocksdb_mariadb_and_postgresql_piece_indexes_answer_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    conformance(
        &|| PieceIndex::open(&dir.path().join("rocks")).expect("opens"),
        dir.path(),
    );
    // The index can only go in the database when the store is there.
    let rocks_store = Store::open(&dir.path().join("store")).expect("opens");
    assert!(matches!(
        PieceIndex::in_database(Arc::new(rocks_store)),
        Err(IndexError::NotSql)
    ));

    for engine in [Engine::MariaDb, Engine::Postgres] {
        let server = SqlServer::start(engine);
        let dsn = server.database();
        conformance(&|| in_database(dir.path(), &format!("{engine:?}"), &dsn), dir.path());
    }
}

/// Everything an index holds, read back through its interface.
type Snapshot = Vec<(Cid, Option<piece_store::index::PieceRecord>, Vec<(Vec<u8>, u64, u64)>)>;

fn snapshot(idx: &PieceIndex) -> (Snapshot, Vec<(Cid, Vec<Cid>)>) {
    let pieces = idx
        .pieces()
        .expect("pieces")
        .into_iter()
        .map(|p| {
            let blocks = walk(idx, &p)
                .into_iter()
                .map(|mh| {
                    let loc = idx.block_location(&p, &mh).expect("get").expect("listed");
                    (mh, loc.offset, loc.len)
                })
                .collect();
            (p, idx.piece(&p).expect("record"), blocks)
        })
        .collect();
    let mut payloads: Vec<(Cid, Vec<Cid>)> = idx
        .payloads()
        .expect("payloads")
        .into_iter()
        .map(|c| (c, idx.pieces_for_payload(&c.to_bytes()).expect("pieces")))
        .collect();
    payloads.sort();
    (pieces, payloads)
}

#[test]
fn a_piece_index_copies_from_rocksdb_into_each_database_and_back_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rocks = PieceIndex::open(&dir.path().join("rocks")).expect("opens");
    let (car_bytes, _, _) = car_of(2_000_000, 1 << 16, dir.path());
    let (other, _, _) = car_of(700_000, 1 << 18, dir.path());
    rocks.index_car(&piece(1), Cursor::new(&car_bytes)).expect("index");
    rocks.index_car(&piece(2), Cursor::new(&other)).expect("index");
    rocks.add_deal(&piece(1), deal("a", 5)).expect("deal");
    rocks.add_location(&piece(2), "fs-2").expect("location");
    rocks.add_payload(b"\x01\x55\x00\x03abc", &piece(1)).expect("payload");
    let want = snapshot(&rocks);
    assert_eq!(want.0.len(), 2);
    for engine in [Engine::MariaDb, Engine::Postgres] {
        let server = SqlServer::start(engine);
        let sql = in_database(dir.path(), &format!("{engine:?}"), &server.database());
        let mut told = 0;
        assert_eq!(rocks.copy_into(&sql, &mut |n| told = n).expect("copies"), 2);
        assert_eq!(told, 2);
        assert_eq!(snapshot(&sql), want, "{engine:?}");
        // Again (a copy cut short is run again): nothing doubles.
        rocks.copy_into(&sql, &mut |_| {}).expect("copies again");
        assert_eq!(snapshot(&sql), want, "{engine:?}, twice");
        let back = PieceIndex::open(&dir.path().join(format!("{engine:?}-back"))).expect("opens");
        sql.copy_into(&back, &mut |_| {}).expect("copies back");
        assert_eq!(snapshot(&back), want, "{engine:?} and back");
        // Cleared (a forced migration into a store that held an index): nothing is left, a
        // block is found in no piece, and a copy fills it again whole.
        let any_block = want.0[0].2.first().expect("a block").0.clone();
        for index in [&sql, &back] {
            assert_eq!(index.clear().expect("clears"), 2, "{}", index.describe());
            assert_eq!(snapshot(index), (Vec::new(), Vec::new()), "{}", index.describe());
            assert!(index.pieces_with_block(&any_block).expect("lookup").is_empty());
            assert_eq!(index.clear().expect("clears an empty index"), 0);
            rocks
                .copy_into(index, &mut |_| {})
                .expect("copies into the cleared index");
            assert_eq!(snapshot(index), want, "{} refilled", index.describe());
        }
    }
}

#[test]
fn droplets_sharing_a_database_see_each_others_pieces_and_concurrent_deals_all_land() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (car_bytes, root, cids) = car_of(1_500_000, 1 << 18, dir.path());
    for engine in [Engine::MariaDb, Engine::Postgres] {
        let server = SqlServer::start(engine);
        let dsn = server.database();
        let a = Arc::new(in_database(dir.path(), &format!("{engine:?}-a"), &dsn));
        let b = Arc::new(in_database(dir.path(), &format!("{engine:?}-b"), &dsn));
        assert!(a.describe().contains("127.0.0.1"), "{}", a.describe());

        // A stores and indexes a piece; B finds it by payload and serves its blocks.
        a.index_car(&piece(7), Cursor::new(&car_bytes)).expect("index");
        a.add_location(&piece(7), "shared-fs").expect("location");
        assert_eq!(b.pieces_for_payload(&root.to_bytes()).expect("payload"), vec![piece(7)]);
        let mh = cids[cids.len() / 2].hash().to_bytes();
        assert!(b.block_location(&piece(7), &mh).expect("get").is_some());

        // Both add deals to one piece at once, many times: every deal is kept (a record
        // changes under a row lock, not by a blind overwrite).
        let threads: Vec<_> = [("a", a.clone()), ("b", b.clone())]
            .into_iter()
            .flat_map(|(who, idx)| {
                (0..2).map(move |t| {
                    let idx = idx.clone();
                    std::thread::spawn(move || {
                        for i in 0..15 {
                            idx.add_deal(&piece(8), deal(&format!("{who}-{t}-{i}"), i))
                                .expect("deal");
                        }
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let rec = b.piece(&piece(8)).expect("get").expect("present");
        assert_eq!(rec.deals.len(), 60, "{engine:?}: {} deals kept of 60", rec.deals.len());
        let rec = a.piece(&piece(7)).expect("get").expect("present");
        assert_eq!(rec.locations, vec!["shared-fs".to_string()]);
        assert!(rec.indexed);
    }
}

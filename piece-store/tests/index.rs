//! The piece index on RocksDB: deals, locations, payloads and the per-piece block index.

use std::io::Cursor;

use cid::Cid;
use multihash_codetable::MultihashDigest;
use piece_store::car;
use piece_store::index::{DealRef, IndexError, PieceIndex};
use piece_store::unixfs::{ImportOptions, Importer};

fn piece() -> Cid {
    "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy"
        .parse()
        .expect("cid")
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

#[test]
fn deals_locations_and_payloads_persist() {
    let tmp = tempfile::tempdir().expect("tmp");
    let payload = b"\x01\x55\x00\x03abc";
    {
        let idx = PieceIndex::open(&tmp.path().join("index")).expect("open");
        assert_eq!(idx.piece(&piece()).expect("get"), None);
        idx.add_deal(&piece(), deal("a", 0)).expect("deal");
        idx.add_deal(&piece(), deal("b", 2)).expect("deal");
        idx.add_deal(&piece(), deal("a", 7))
            .expect("same deal again updates it");
        idx.add_location(&piece(), "fs-1").expect("loc");
        idx.add_location(&piece(), "fs-1").expect("loc twice");
        idx.add_payload(payload, &piece()).expect("payload");
    }
    let idx = PieceIndex::open(&tmp.path().join("index")).expect("reopen");
    let rec = idx.piece(&piece()).expect("get").expect("present");
    assert_eq!(rec.deals, vec![deal("a", 7), deal("b", 2)]);
    assert_eq!(rec.locations, vec!["fs-1".to_string()]);
    assert_eq!(idx.pieces_for_payload(payload).expect("payload"), vec![piece()]);
    assert_eq!(idx.pieces_for_payload(b"\x01\x55\x00\x03abd").expect("other"), vec![]);
    assert_eq!(idx.pieces().expect("list"), vec![piece()]);
}

#[test]
fn block_index_serves_any_block_without_scanning() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("data");
    let bytes: Vec<u8> = (0..3_500_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&input, &bytes).expect("write");
    let dag = Importer::new(ImportOptions::default())
        .import_path(&input, &mut |_| {})
        .expect("import");
    let (car_bytes, entries) = car::write_dag(&dag, Vec::new()).expect("car");

    let idx = PieceIndex::open(&tmp.path().join("index")).expect("open");
    assert_eq!(
        idx.index_car(&piece(), Cursor::new(&car_bytes)).expect("index"),
        entries.len() as u64
    );
    let rec = idx.piece(&piece()).expect("get").expect("present");
    assert!(rec.indexed);
    assert_eq!(rec.block_count, entries.len() as u64);
    // The root is recorded as a payload of the piece.
    assert_eq!(
        idx.pieces_for_payload(&dag.root().to_bytes()).expect("payload"),
        vec![piece()]
    );
    for e in &entries {
        let mh = e.cid.hash().to_bytes();
        let loc = idx.block_location(&piece(), &mh).expect("get").expect("indexed");
        let block = &car_bytes[loc.offset as usize..(loc.offset + loc.len) as usize];
        assert!(piece_store::unixfs::verify_block(&e.cid, block).expect("known hash"));
        assert_eq!(idx.pieces_with_block(&mh).expect("lookup"), vec![piece()]);
    }
    assert_eq!(idx.block_location(&piece(), b"\x12\x20nothing").expect("get"), None);

    // Every block's multihash, once each, in order; another piece's are not among them.
    let other = Cid::new_v1(0xf101, multihash_codetable::Code::Sha2_256.digest(b"other"));
    idx.index_car(&other, Cursor::new(&car_bytes[..])).expect("index other");
    let mut listed: Vec<Vec<u8>> = Vec::new();
    idx.for_each_multihash(&piece(), |mh| {
        listed.push(mh.to_vec());
        Ok::<_, IndexError>(())
    })
    .expect("list");
    let mut want: Vec<Vec<u8>> = entries.iter().map(|e| e.cid.hash().to_bytes()).collect();
    want.sort();
    want.dedup();
    assert_eq!(listed, want);
    let mut none = 0;
    idx.for_each_multihash(
        &Cid::new_v1(0xf101, multihash_codetable::Code::Sha2_256.digest(b"absent")),
        |_| {
            none += 1;
            Ok::<_, IndexError>(())
        },
    )
    .expect("list");
    assert_eq!(none, 0);
}

#[test]
fn a_corrupt_car_is_refused_with_the_piece_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("data");
    std::fs::write(&input, vec![9u8; 300_000]).expect("write");
    let dag = Importer::new(ImportOptions::default())
        .import_path(&input, &mut |_| {})
        .expect("import");
    let (mut car_bytes, _) = car::write_dag(&dag, Vec::new()).expect("car");
    let last = car_bytes.len() - 1;
    car_bytes[last] ^= 0xff;
    let idx = PieceIndex::open(&tmp.path().join("index")).expect("open");
    let err = idx.index_car(&piece(), Cursor::new(&car_bytes)).expect_err("corrupt");
    assert!(matches!(err, IndexError::Car { .. }));
    assert!(err.to_string().contains(&piece().to_string()), "{err}");
    assert!(!idx.piece(&piece()).expect("get").is_some_and(|r| r.indexed));
}

#[test]
fn a_locked_database_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let _first = PieceIndex::open(&tmp.path().join("index")).expect("open");
    let err = PieceIndex::open(&tmp.path().join("index")).expect_err("locked");
    assert!(err.to_string().contains("stop it first"), "{err}");
}

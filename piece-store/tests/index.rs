//! The RocksDB piece index's own behaviour; what every backend answers alike is tested over
//! RocksDB, MariaDB and PostgreSQL in the workspace's `tests/tests/piece_index.rs`.

use piece_store::index::PieceIndex;

#[test]
fn a_locked_database_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let _first = PieceIndex::open(&tmp.path().join("index")).expect("open");
    let err = PieceIndex::open(&tmp.path().join("index")).expect_err("locked");
    assert!(err.to_string().contains("stop it first"), "{err}");
}

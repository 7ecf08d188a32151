//! Deterministic inputs the test suites share: Go's `math/rand` byte stream (`gorand`) and the
//! files the UnixFS import is checked with (`unixfs_inputs`). Kept apart from the `tests` crate,
//! which builds the daemons (and RocksDB), so that piece-store's tests and benchmarks do not.

pub mod gorand;
pub mod unixfs_inputs;

//! The coverage-guided fuzz targets: what each one runs on an input, and the inputs its corpus
//! starts from. `fuzz/` (a cargo-fuzz project outside the workspace) wraps each [`Target`] in a
//! libFuzzer binary; `cargo xtask fuzz` writes the seeds, runs every target for a bounded time
//! and reports the executions. This crate's own test runs every seed and every input kept
//! under `fuzz/regressions/<target>/` (each crash a fuzzer found), so a fixed bug stays fixed
//! in the ordinary test suite.
//!
//! A target returns normally on any input: a decoder's error is an answer, not a failure.
//! Only a panic, an abort, a leak or an out-of-memory is a finding.

mod files;
mod graphsync;
mod jsonrpc;
mod market;
mod retrieval;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The cargo-fuzz binary's name (and the corpus and regression directories' names).
    pub name: &'static str,
    /// What it covers, for `cargo xtask fuzz`'s report.
    pub covers: &'static str,
    /// Runs one input: whether it was taken whole (decoded, parsed, verified to the end).
    /// Refusing an input is an answer, not a failure; only a panic, an abort, a leak or an
    /// out-of-memory is a finding.
    pub run: fn(&[u8]) -> bool,
    /// Valid inputs the corpus starts from (from the test vectors' generators); each is
    /// taken whole.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: &[Target] = &[
    market::CBOR,
    market::P2P_STREAM,
    graphsync::MESSAGE,
    graphsync::VERIFY,
    graphsync::SELECTOR_WALK,
    jsonrpc::REQUEST,
    files::CAR,
    files::MANIFEST,
    files::UNIXFS,
    retrieval::GATEWAY_REQUEST,
    retrieval::IPNI_METADATA,
];

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Split `data` at the first `sep` (the whole input and nothing when there is none): how
/// targets that take several inputs cut one fuzz input.
fn split_at_byte(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

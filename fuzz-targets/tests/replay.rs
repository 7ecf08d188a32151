//! Every target's seeds, and every input kept under `fuzz/regressions/<target>/` (the crashes
//! and leaks a fuzzer found, each kept when it was fixed), run through the target: the fixes
//! stay fixed without a fuzzer in the ordinary test suite.

use std::path::PathBuf;

use fuzz_targets::TARGETS;

fn regressions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions")
}

#[test]
fn every_target_takes_each_of_its_seeds_whole() {
    for t in TARGETS {
        let seeds = (t.seeds)();
        assert!(!seeds.is_empty(), "{} has no seeds", t.name);
        for (i, s) in seeds.iter().enumerate() {
            assert!(
                (t.run)(s),
                "{} refused its seed {i}: {:02x?}",
                t.name,
                &s[..s.len().min(64)]
            );
        }
    }
}

#[test]
fn a_seed_cut_short_is_refused() {
    // The decoders tell a whole input from a broken one. Left out: a manifest, a path or a
    // protobuf cut short can be as valid as the whole, and the JSON-RPC server answers a cut
    // body with a parse error, which is an answer.
    for t in TARGETS {
        if matches!(
            t.name,
            "split_manifest" | "gateway_request" | "unixfs_pb" | "jsonrpc_request"
        ) {
            continue;
        }
        for (i, s) in (t.seeds)().iter().enumerate() {
            if s.ends_with(b"next") || (t.name == "selector_walk" && s[0] % 4 == 1) {
                continue; // a stream seed whose item may end before the cut; a raw block
            }
            let cut = &s[..s.len() / 2];
            assert!(!(t.run)(cut), "{} took seed {i} cut to {} bytes", t.name, cut.len());
        }
    }
}

#[test]
fn every_kept_finding_runs_cleanly() {
    let dir = regressions_dir();
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().is_dir() {
            continue;
        }
        let target = fuzz_targets::target(&name).unwrap_or_else(|| panic!("fuzz/regressions/{name} names no target"));
        for input in std::fs::read_dir(entry.path()).expect("a regression directory") {
            let path = input.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a regression input");
            let outcome = std::panic::catch_unwind(|| (target.run)(&data));
            assert!(outcome.is_ok(), "{} still fails", path.display());
            ran += 1;
        }
    }
    println!("{ran} kept findings ran cleanly");
}

#[test]
fn targets_and_fuzz_binaries_match() {
    // Each target has its cargo-fuzz binary, and each binary runs a target.
    let bins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    let mut files: Vec<String> = std::fs::read_dir(&bins)
        .expect("fuzz/fuzz_targets")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    files.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(files, names);
}

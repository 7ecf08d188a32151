//! Every target's seeds, and every input kept under `fuzz/regressions/<target>/` (the crashes
//! and leaks a fuzzer found, each kept when it was fixed), run through the target: the fixes
//! stay fixed without a fuzzer in the ordinary test suite.

use std::path::PathBuf;

use fuzz_targets::TARGETS;

fn regressions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions")
}

#[test]
fn every_target_takes_its_seeds() {
    for t in TARGETS {
        let seeds = (t.seeds)();
        assert!(!seeds.is_empty(), "{} has no seeds", t.name);
        for (i, s) in seeds.iter().enumerate() {
            let outcome = std::panic::catch_unwind(|| (t.run)(s));
            assert!(outcome.is_ok(), "{} panicked on seed {i}", t.name);
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

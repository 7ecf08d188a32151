//! The interop suite's real Go peers (`tests/go/`): where they are, built on first use.
//!
//! `cargo xtask test` builds them before the suite runs (into `<target>/go-peers`, passed as
//! `DROPLET_GO_PEERS`); a test run any other way builds them here, once, under a file lock so
//! that parallel test processes wait for one build.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the built Go peers.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DROPLET_GO_PEERS") {
        return PathBuf::from(dir);
    }
    // target/<profile>/deps/<test> → target/go-peers
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors().nth(3).expect("target directory").join("go-peers")
}

/// The path of Go peer `name` (`go-legacy-codec`, `go-boost-client`, `lassie`, …), built if
/// missing.
pub fn binary(name: &str) -> PathBuf {
    let dir = dir();
    let path = dir.join(name);
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(&dir).expect("go-peers directory");
    let lock = File::create(dir.join(".build-lock")).expect("lock file");
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("locking the Go peers' build: {e}"));
    if !path.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("go/build.sh");
        let status = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "running {}: {e} (the interop tests need Go 1.26 or newer on PATH)",
                    script.display()
                )
            });
        assert!(status.success(), "building the Go peers failed: see the output above");
    }
    path
}

/// Run Go peer `name` with `args`; it must succeed, and print one JSON object.
pub fn run_json(name: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(binary(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

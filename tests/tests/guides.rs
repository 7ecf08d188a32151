//! The guides in `docs/` cannot rot: every `sh` block of each, in order, runs as one bash
//! script (`set -euo pipefail`) with the workspace's binaries on PATH, in a temporary
//! directory that holds the repos (`DROPLET_DEVNET_REPO`, `DROPLET_PATH`,
//! `DROPLET_CLIENT_PATH`). The script starts its own devnet and daemons on loopback; they are
//! stopped with the script's process group, whatever happens.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `sh` blocks of a Markdown file, in order (fences written exactly as "```sh").
fn sh_blocks(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in md.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                out.push(std::mem::take(block));
                current = None;
            }
            (Some(block), l) => {
                block.push_str(l);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an sh block is not closed");
    out
}

/// Signal the whole process group `pgid`.
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

fn run_guide(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs").join(name);
    let md = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let blocks = sh_blocks(&md);
    assert!(blocks.len() >= 8, "{name} has {} sh blocks", blocks.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut script = String::from("set -euo pipefail\n");
    for (i, b) in blocks.iter().enumerate() {
        script.push_str(&format!("echo '>>> {name} block {}'\n{b}", i + 1));
    }
    script.push_str("echo '>>> the guide ran to its end'\n");
    let bin = tests::procs::binary("droplet");
    let bin_dir = bin.parent().expect("bin dir");
    // The other binaries are built on demand too.
    tests::procs::binary("droplet-client");
    tests::procs::binary("droplet-devnet");
    let path_var = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let log_path = dir.path().join("guide.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path_var)
        .env("HOME", dir.path())
        .env("DROPLET_DEVNET_REPO", dir.path().join("devnet"))
        .env("DROPLET_PATH", dir.path().join("droplet"))
        .env("DROPLET_CLIENT_PATH", dir.path().join("client"))
        // What the other end-to-end tests shorten too: the trackers' and IPNI's passes.
        .env("DROPLET_TRACKER_INTERVAL", "500ms")
        .env("DROPLET_CLIENT_TRACKER_INTERVAL", "500ms")
        .env("DROPLET_PAYCH_INTERVAL", "500ms")
        .env("RUST_LOG", "info,libp2p=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("bash");
    let pgid = child.id();
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // The daemons the guide started in the background go with its process group.
    signal_group(pgid, "TERM");
    std::thread::sleep(Duration::from_millis(500));
    signal_group(pgid, "KILL");
    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    let _ = std::fs::File::open(&log_path).and_then(|mut f| f.read_to_string(&mut out));
    let tail = |file: &str| {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    let ok = status.is_some_and(|s| s.success()) && out.contains(">>> the guide ran to its end");
    assert!(
        ok,
        "{name} did not run as written ({}):\n{out}\n--- droplet.log\n{}\n--- client.log\n{}\n--- devnet.log\n{}",
        match status {
            Some(s) => format!("exit {s}"),
            None => "timed out".into(),
        },
        tail("droplet.log"),
        tail("client.log"),
        tail("devnet.log"),
    );
}

#[test]
fn the_operator_guide_runs_as_written() {
    run_guide("operator-guide.md");
}

#[test]
fn the_data_owner_guide_runs_as_written() {
    run_guide("data-owner-guide.md");
}

#[test]
fn sh_blocks_are_found_in_order_and_other_fences_left_alone() {
    let md = "text\n```sh\na\nb\n```\n```toml\nx = 1\n```\n```sh\nc\n```\n";
    assert_eq!(sh_blocks(md), vec!["a\nb\n".to_string(), "c\n".to_string()]);
}

//! Deal intake under load: many proposals in flight on one libp2p connection are each
//! answered (libp2p's request-response used to drop the streams over 100 without a word),
//! all accepted, and all stored. The figures themselves are `cargo xtask bench intake`'s.

use tests::market::{MINER, setup};
use tests::procs::run;

#[test]
fn three_hundred_proposals_in_flight_on_one_connection_are_all_answered_and_stored() {
    let m = setup();
    m.droplet(&[
        "storage",
        "ask",
        "set",
        "--price",
        "0",
        "--verified-price",
        "0",
        "--min-piece-size",
        "256B",
        "--max-piece-size",
        "8MiB",
        MINER,
    ]);
    let node = std::fs::read_to_string(m._net.repo.join("api-info/node")).expect("the devnet's API info");
    let provider = m.libp2p_address();
    let key = m.export_key("client");
    let out = run(
        "droplet-deal-load",
        &[
            "--node",
            node.trim(),
            "--provider",
            &provider,
            "--miner",
            MINER,
            "--key",
            &key,
            "--clients",
            "1",
            "--in-flight",
            "300",
            "--deals",
            "600",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_str(
        text.lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap_or_else(|| panic!("a RESULT line: {text}")),
    )
    .expect("json");
    assert_eq!(result["unanswered"], 0, "{text}");
    assert_eq!(result["rejected"], 0, "{text}");
    assert_eq!(result["accepted"], 600, "{text}");
    // Every accepted deal is stored, waiting for its data.
    let waiting = m
        .deals()
        .into_iter()
        .filter(|d| d["StateName"] == "StorageDealWaitingForData")
        .count();
    assert_eq!(waiting, 600);
}

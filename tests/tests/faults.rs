//! Chain faults: the node goes away while deals wait for their collateral deposit and for
//! their publish message. The deals wait, saying why, without spinning (droplet's CPU stays
//! near idle), and once the node is back they go on to Active, each published once.

use std::time::{Duration, Instant};

use serde_json::Value;
use tests::market::setup;

/// A process's user + system CPU time so far.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = stat.rsplit_once(')').expect("stat").1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime");
    // Linux counts 100 ticks a second.
    Duration::from_millis(ticks * 10)
}

fn state(d: &Value) -> String {
    d["StateName"].as_str().unwrap_or_default().to_string()
}

#[test]
fn deals_wait_out_a_node_outage_without_spinning_then_publish_once_and_reach_active() {
    let mut m = setup();
    // A: funded and waiting to be published.
    let a = m.propose();
    let out = m.deal_cmd(&["import-data", &a, &m.car]);
    assert!(out.status.success(), "{out:?}");
    m.wait_state(&a, "StorageDealPublish");
    // B: accepted, waiting for its data.
    let out = m.init("0.0000001", "181 days", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let b = String::from_utf8_lossy(&out.stdout).trim().to_string();

    m._net.kill();
    // B's data arrives: its deposit cannot be sent; A is due for publishing: its message
    // cannot be sent.
    let out = m.deal_cmd(&["import-data", &b, &m.car]);
    assert!(out.status.success(), "{out:?}");
    let out = m.deal_cmd(&["pending-publish", "--publish-now"]);
    assert!(out.status.success(), "{out:?}");
    let pid = m.droplet.as_ref().expect("droplet").pid();
    std::thread::sleep(Duration::from_secs(2));
    let (t0, c0) = (Instant::now(), cpu(pid));
    std::thread::sleep(Duration::from_secs(10));
    let busy = cpu(pid) - c0;
    let idle_share = busy.as_secs_f64() / t0.elapsed().as_secs_f64();
    assert!(
        idle_share < 0.25,
        "droplet used {busy:?} of CPU in {:?} while the node was away",
        t0.elapsed()
    );
    // Neither deal failed; each says what it waits for.
    for p in [&a, &b] {
        let d = m.deal(p);
        let s = state(&d);
        assert!(
            !matches!(
                s.as_str(),
                "StorageDealFailing" | "StorageDealError" | "StorageDealRejecting"
            ),
            "{p} failed during the outage: {d}"
        );
    }

    m._net.restart();
    m.publish_seal_and_activate(&[a.clone(), b.clone()]);
    // Each was published by one message.
    let (da, db) = (m.deal(&a), m.deal(&b));
    for d in [&da, &db] {
        assert_eq!(state(d), "StorageDealActive", "{d}");
        assert!(d["PublishCid"]["/"].is_string(), "{d}");
    }
}

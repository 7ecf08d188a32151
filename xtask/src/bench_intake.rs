//! The deal intake part of `cargo xtask bench` (`cargo xtask bench intake`): droplet (release)
//! on the devnet takes offline mk/1.2.1 proposals from many libp2p clients at once
//! (`droplet-deal-load`: signed by the devnet's client, distinct pieces, the ask's price).
//! Reported per load shape: accepted deals/s, p50/p99 proposal-to-answer latency, proposals
//! left unanswered, droplet's CPU per deal and peak memory, and the ratio to the rate one core
//! verifies the same signatures (the bound the intake cannot beat).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::memory;
use crate::stack::{Demo, set_ask, start_devnet, start_droplet_on};
use test_databases::{Engine, SqlServer};

/// (clients, proposals in flight per client, proposals).
const SHAPES: [(usize, usize, usize); 4] = [(1, 32, 4000), (4, 32, 8000), (1, 128, 4000), (16, 64, 8000)];

/// The value of `key` in the compact JSON object the load prints: a number, `null`, or a
/// string (unquoted, escapes left as they are).
fn json_value(result: &str, key: &str) -> Option<String> {
    let at = result.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &result[at..];
    if let Some(s) = rest.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return Some(s[..i].to_string()),
                _ => escaped = false,
            }
        }
        return None;
    }
    let end = rest.find([',', '}'])?;
    Some(rest[..end].trim().to_string())
}

fn field(result: &str, key: &str) -> f64 {
    json_value(result, key).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

/// The intake with droplet's store in RocksDB, then in a MariaDB and a PostgreSQL server on
/// loopback (started here, in temporary directories).
pub fn run(target: &Path) -> Result<()> {
    println!("Deal intake: offline mk/1.2.1 proposals from many libp2p clients to one droplet (release), on loopback");
    super::cargo(&["build", "-q", "--release", "-p", "deal-load"])?;
    println!(" droplet's store in RocksDB under its repo:");
    run_on(target, None)?;
    for engine in [Engine::MariaDb, Engine::Postgres] {
        let server = SqlServer::start(engine);
        println!(" droplet's store in {engine:?} on loopback:");
        run_on(target, Some(&server.database()))?;
    }
    Ok(())
}

fn run_on(target: &Path, dsn: Option<&str>) -> Result<()> {
    let demo = Demo::build("intake", target, true, false)?;
    let (_devnet, token, ma) = start_devnet(&demo, &[])?;
    let (droplet, _ipni) = start_droplet_on(&demo, &ma, &token, dsn)?;
    let p = demo.repo("droplet");
    set_ask(&demo, "0", "0", "8MiB")?;
    let key = demo
        .run(
            "droplet-devnet",
            &["--repo", &demo.repo("devnet"), "wallet", "export", "client"],
        )?
        .trim()
        .to_string();
    let listen = demo.run("droplet", &["--repo", &p, "net", "listen"])?;
    let provider = listen
        .lines()
        .find(|l| l.contains("/tcp/") && l.contains("/p2p/"))
        .context("droplet's libp2p TCP address")?
        .trim()
        .to_string();
    let node = format!("{token}:{ma}");
    let pid = droplet.child.id();
    for (clients, in_flight, deals) in SHAPES {
        let cpu_before = memory::cpu_time(pid);
        let out = std::process::Command::new(demo.bin("droplet-deal-load"))
            .args([
                "--node",
                &node,
                "--provider",
                &provider,
                "--key",
                &key,
                "--clients",
                &clients.to_string(),
                "--in-flight",
                &in_flight.to_string(),
                "--deals",
                &deals.to_string(),
            ])
            .output()
            .context("running droplet-deal-load")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "droplet-deal-load failed: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let cpu = (memory::cpu_time(pid) - cpu_before).as_secs_f64();
        let result = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .context("droplet-deal-load's RESULT line")?;
        let accepted = field(result, "accepted");
        let rate = field(result, "deals_per_s");
        let verify = field(result, "verify_per_s");
        println!(
            "  {clients:>2} clients x {in_flight:>3} in flight, {deals} proposals: {rate:>6.0} deals/s, p50 {:>5.1} ms, p99 {:>6.1} ms, \
             {} rejected, {} unanswered; droplet {:.2} ms CPU per deal, peak {:.0} MiB; {:.2}x one core's signature checks ({verify:.0}/s)",
            field(result, "p50_ms"),
            field(result, "p99_ms"),
            field(result, "rejected"),
            field(result, "unanswered"),
            cpu * 1000.0 / accepted.max(1.0),
            memory::peak_rss_kib(pid) as f64 / 1024.0,
            rate / verify,
        );
        for key in ["first_rejection", "first_unanswered"] {
            if let Some(why) = json_value(result, key).filter(|w| w != "null") {
                println!("      {key}: {why}");
            }
        }
    }
    Ok(())
}

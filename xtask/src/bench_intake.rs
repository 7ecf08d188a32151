//! The deal intake part of `cargo xtask bench` (`cargo xtask bench intake`): droplet (release)
//! on the devnet takes offline mk/1.2.1 proposals from many libp2p clients at once
//! (`droplet-deal-load`: signed by the devnet's client, distinct pieces, the ask's price).
//! Reported per load shape: accepted deals/s, p50/p99 proposal-to-answer latency, proposals
//! left unanswered, droplet's CPU per deal and peak memory, and the ratio to the rate one core
//! verifies the same signatures (the bound the intake cannot beat).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::memory;
use crate::stack::{Demo, set_ask, set_ask_of, start_devnet, start_droplet_as, start_droplet_on};
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

/// The devnet client's exported key, which the load signs with.
fn client_key(demo: &Demo) -> Result<String> {
    Ok(demo
        .run(
            "droplet-devnet",
            &["--repo", &demo.repo("devnet"), "wallet", "export", "client"],
        )?
        .trim()
        .to_string())
}

/// The libp2p TCP address (with its `/p2p/` peer ID) of the droplet whose repo is `repo`.
fn libp2p_address(demo: &Demo, repo: &str) -> Result<String> {
    let listen = demo.run("droplet", &["--repo", repo, "net", "listen"])?;
    Ok(listen
        .lines()
        .find(|l| l.contains("/tcp/") && l.contains("/p2p/"))
        .context("droplet's libp2p TCP address")?
        .trim()
        .to_string())
}

/// The load generator's command: `shape` (clients, in flight per client, proposals) of
/// proposals to `miner` at the droplet listening at `provider`, signed with `key`.
fn load(
    demo: &Demo,
    node: &str,
    provider: &str,
    miner: &str,
    key: &str,
    (clients, in_flight, deals): (usize, usize, usize),
) -> std::process::Command {
    let mut cmd = std::process::Command::new(demo.bin("droplet-deal-load"));
    cmd.args(["--node", node, "--provider", provider, "--miner", miner, "--key", key])
        .args(["--clients", &clients.to_string()])
        .args(["--in-flight", &in_flight.to_string()])
        .args(["--deals", &deals.to_string()]);
    cmd
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
        println!(" two miners' deals at once, droplet's store in {engine:?}:");
        for droplets in [1, 2] {
            run_pool(target, &server.database(), droplets)?;
        }
    }
    Ok(())
}

/// A devnet with two miners, t01000 and t01001, each with 8 MiB sectors.
const TWO_MINERS: &str = r#"
[[accounts]]
name = "root"
balance = "1000 FIL"
verifreg_root = true

[[accounts]]
name = "client"
balance = "100000 FIL"

[[accounts]]
name = "owner"
balance = "100000 FIL"

[[accounts]]
name = "worker"
key_type = "bls"
balance = "100000 FIL"

[[miners]]
owner = "owner"
worker = "worker"

[[miners]]
owner = "owner"
worker = "worker"
"#;

/// (clients, in flight per client, proposals) of each miner's load in the two-miner run.
const POOL_SHAPE: (usize, usize, usize) = (4, 32, 6000);

/// Two loads at once, one per miner (t01000, t01001), on one database: taken in by one droplet
/// acting for both, or by two droplets over the database (pool mode), one per miner.
fn run_pool(target: &Path, dsn: &str, droplets: usize) -> Result<()> {
    let demo = Demo::build("intake-pool", target, true, false)?;
    std::fs::create_dir_all(&demo.dir)?;
    let genesis = demo.dir.join("genesis.toml");
    std::fs::write(&genesis, TWO_MINERS)?;
    let (_devnet, token, ma) = start_devnet(&demo, &["--genesis", &genesis.to_string_lossy()])?;
    let miners = ["t01000", "t01001"];
    // (repo name, miner) of the droplet taking each miner's deals.
    let takers: Vec<(String, &str)> = if droplets == 1 {
        miners.iter().map(|m| ("droplet".to_string(), *m)).collect()
    } else {
        miners.iter().map(|m| (format!("droplet-{m}"), *m)).collect()
    };
    let mut daemons = Vec::new();
    if droplets == 1 {
        daemons.push(start_droplet_as(&demo, "droplet", &miners, &ma, &token, Some(dsn))?.0);
    } else {
        for (name, miner) in &takers {
            daemons.push(start_droplet_as(&demo, name, &[miner], &ma, &token, Some(dsn))?.0);
        }
    }
    let key = client_key(&demo)?;
    let node = format!("{token}:{ma}");
    let mut loads = Vec::new();
    for (name, miner) in &takers {
        // A droplet takes its miner's deals once it holds the miner's lease.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while set_ask_of(&demo, name, miner, "0", "0", "8MiB").is_err() {
            if std::time::Instant::now() > deadline {
                bail!("{name} did not come to act for {miner} within a minute");
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let provider = libp2p_address(&demo, &demo.repo(name))?;
        loads.push((provider, *miner));
    }
    let pids: Vec<u32> = daemons.iter().map(|d| d.child.id()).collect();
    let cpu_before: Vec<std::time::Duration> = pids.iter().map(|p| memory::cpu_time(*p)).collect();
    let machine_before = memory::machine_ticks();
    let (clients, in_flight, deals) = POOL_SHAPE;
    let running: Vec<std::process::Child> = loads
        .iter()
        .map(|(provider, miner)| {
            load(&demo, &node, provider, miner, &key, POOL_SHAPE)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .context("running droplet-deal-load")
        })
        .collect::<Result<_>>()?;
    let mut accepted = 0.0;
    let mut p99: f64 = 0.0;
    let mut unanswered = 0.0;
    let mut rejected = 0.0;
    // The window from the first proposal sent to the last answered, over both loads.
    let (mut first, mut last) = (f64::INFINITY, 0.0f64);
    for child in running {
        let out = child.wait_with_output().context("droplet-deal-load")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "droplet-deal-load failed: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let result = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .context("droplet-deal-load's RESULT line")?;
        accepted += field(result, "accepted");
        p99 = p99.max(field(result, "p99_ms"));
        unanswered += field(result, "unanswered");
        rejected += field(result, "rejected");
        first = first.min(field(result, "started_unix_s"));
        last = last.max(field(result, "ended_unix_s"));
        if let Some(why) = json_value(result, "first_rejection").filter(|w| w != "null") {
            println!("      first_rejection: {why}");
        }
    }
    let machine_after = memory::machine_ticks();
    let busy = (machine_after.0 - machine_before.0) as f64 / (machine_after.1 - machine_before.1).max(1) as f64;
    let wall = last - first;
    let cpu: f64 = pids
        .iter()
        .zip(&cpu_before)
        .map(|(p, before)| (memory::cpu_time(*p) - *before).as_secs_f64())
        .sum();
    println!(
        "  {droplets} droplet{} for t01000 and t01001, {} loads of {clients} clients x {in_flight} in flight, {deals} proposals each: \
         {:>6.0} deals/s together, worst p99 {p99:.1} ms, {rejected} rejected, {unanswered} unanswered; {:.2} ms droplet CPU per deal; \
         the droplets used {:.2} of the machine's {} cores, which were {:.0} % busy (loads, server and devnet included)",
        if droplets == 1 { "" } else { "s" },
        loads.len(),
        accepted / wall,
        cpu * 1000.0 / accepted.max(1.0),
        cpu / wall.max(1e-9),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        busy * 100.0,
    );
    Ok(())
}

fn run_on(target: &Path, dsn: Option<&str>) -> Result<()> {
    let demo = Demo::build("intake", target, true, false)?;
    let (_devnet, token, ma) = start_devnet(&demo, &[])?;
    let (droplet, _ipni) = start_droplet_on(&demo, &ma, &token, dsn)?;
    let p = demo.repo("droplet");
    set_ask(&demo, "0", "0", "8MiB")?;
    let key = client_key(&demo)?;
    let provider = libp2p_address(&demo, &p)?;
    let node = format!("{token}:{ma}");
    let pid = droplet.child.id();
    for (clients, in_flight, deals) in SHAPES {
        let cpu_before = memory::cpu_time(pid);
        let out = load(&demo, &node, &provider, "t01000", &key, (clients, in_flight, deals))
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

//! `cargo xtask bench`'s graphsync figures: a 1 GiB UnixFS-shaped DAG (256 KiB raw leaves
//! under 174-link dag-pb nodes, as kubo and lotus lay files out) transferred over loopback TCP
//! with the all-selector, three ways in the same run:
//!
//! 1. our requester from our responder (one process, both sides);
//! 2. go-graphsync's requester (v0.18, lassie's pin) from our responder;
//! 3. go-graphsync's requester from go-graphsync's responder (the reference).
//!
//! Reports MB/s and CPU seconds per GB (both sides), the most block bytes our responder held
//! in flight (bounded by its memory budget whatever the DAG size), and the ratios to the Go
//! pair.
//!
//! Usage: `bench_graphsync <path to go-graphsync-peer> [size in MiB] [ours-only]`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use graphsync::Cid;
use graphsync::net::{AcceptAll, Config, Graphsync, RequestEvent};
use graphsync::selector::build;
use graphsync::testing::dag::DagBuilder;
use graphsync::testing::swarm::{drive, host};
use graphsync::{BlockSink, Extensions, MemoryStore, ResponseStatus};
use tokio::io::AsyncBufReadExt;

/// A sink that verifies nothing further and keeps only interior (dag-pb) blocks: as a requester
/// writing to disk releases a block's memory once it is written. The Go requester gets the same
/// (`discard`), so both sides pay for transfer and verification, not for holding 1 GiB.
#[derive(Debug, Default)]
struct DiscardSink {
    kept: MemoryStore,
    received: AtomicUsize,
}

impl BlockSink for DiscardSink {
    fn put(&self, cid: Cid, data: Bytes) -> std::io::Result<()> {
        self.received.fetch_add(1, Ordering::Relaxed);
        if cid.codec() != graphsync::ipld::codec::RAW {
            BlockSink::put(&self.kept, cid, data)?;
        }
        Ok(())
    }
    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        BlockSink::get(&self.kept, cid)
    }
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

struct Run {
    name: &'static str,
    secs: f64,
    cpu: f64,
}

impl Run {
    fn print(&self, bytes: u64) {
        let gb = bytes as f64 / 1e9;
        println!(
            "  {:<46} {:>8.1} MB/s   {:>5.2} s   CPU {:>5.2} s/GB",
            self.name,
            bytes as f64 / 1e6 / self.secs,
            self.secs,
            self.cpu / gb
        );
    }
}

fn value(out: &str, key: &str) -> f64 {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("go-graphsync-peer printed no {key}: {out}"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let go_peer = args
        .get(1)
        .expect("usage: bench_graphsync <go-graphsync-peer> [MiB]")
        .clone();
    let mib: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let size = mib << 20;

    let started = Instant::now();
    let mut b = DagBuilder::new(2026);
    let root = b.file(size, 256 << 10, 174);
    let dag = b.finish(root);
    let bytes = dag.size();
    println!(
        "graphsync: a {} MiB DAG of {} blocks (built in {:.1} s), all-selector, loopback TCP",
        bytes >> 20,
        dag.blocks.len(),
        started.elapsed().as_secs_f64()
    );

    // Our responder, shared by runs 1 and 2.
    let (server_peer, server_addr, swarm) = host().await;
    let server = Graphsync::new(
        swarm.behaviour(),
        Arc::new(MemoryStore::from_blocks(dag.blocks.clone())),
        Arc::new(AcceptAll),
        Config::default(),
    )
    .expect("server");
    drive(swarm, None);
    let peak = Arc::new(AtomicUsize::new(0));
    {
        let (server, peak) = (server.clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                peak.fetch_max(server.bytes_in_flight(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }

    // 1. Ours from ours.
    let (_, _, c_swarm) = host().await;
    let client = Graphsync::new(
        c_swarm.behaviour(),
        Arc::new(MemoryStore::new()),
        Arc::new(AcceptAll),
        Config::default(),
    )
    .expect("client");
    drive(c_swarm, Some(server_addr.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sink = Arc::new(DiscardSink::default());
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut req = client
        .request(
            server_peer,
            root,
            build::all().to_cbor(),
            Extensions::new(),
            sink.clone(),
        )
        .expect("request");
    let end = loop {
        if let Some(RequestEvent::Finished(r)) = req.events.recv().await {
            break r;
        }
    };
    let ours = Run {
        name: "our requester <- our responder",
        secs: t0.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu0,
    };
    assert_eq!(end, Ok(ResponseStatus::RequestCompletedFull));
    assert_eq!(
        sink.received.load(Ordering::Relaxed),
        dag.blocks.len(),
        "every block arrived"
    );
    drop(sink);
    if args.get(3).is_some_and(|a| a == "ours-only") {
        ours.print(bytes);
        return;
    }

    // 2. go-graphsync's requester from our responder.
    let sel_hex = hex_of(build::all().to_cbor().as_bytes());
    let cpu0 = cpu_seconds();
    let out = go_fetch(&go_peer, &server_addr.to_string(), &root.to_string(), &sel_hex).await;
    let go_from_ours = Run {
        name: "go-graphsync requester <- our responder",
        secs: value(&out, "ELAPSED "),
        cpu: value(&out, "CPU ") + (cpu_seconds() - cpu0),
    };

    // 3. The Go pair.
    let dir = std::env::temp_dir().join(format!("bench-graphsync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let car = dir.join("dag.car");
    dag.write_car(&mut std::io::BufWriter::new(std::fs::File::create(&car).expect("car")))
        .expect("write car");
    drop(dag);
    let mut serve = tokio::process::Command::new(&go_peer)
        .args(["serve", &car.to_string_lossy()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("go-graphsync-peer serve");
    let mut lines = tokio::io::BufReader::new(serve.stdout.take().expect("stdout")).lines();
    let go_addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read")
            .expect("go-graphsync-peer exited");
        if let Some(a) = line.strip_prefix("LISTEN ") {
            break a.to_string();
        }
    };
    let out = go_fetch(&go_peer, &go_addr, &root.to_string(), &sel_hex).await;
    let _ = nix_kill(serve.id());
    let mut serve_cpu = 0.0;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(v) = line.strip_prefix("CPU ") {
            serve_cpu = v.trim().parse().unwrap_or(0.0);
        }
    }
    let _ = serve.wait().await;
    let go_pair = Run {
        name: "go-graphsync requester <- go-graphsync responder",
        secs: value(&out, "ELAPSED "),
        cpu: value(&out, "CPU ") + serve_cpu,
    };
    let _ = std::fs::remove_dir_all(&dir);

    for r in [&ours, &go_from_ours, &go_pair] {
        r.print(bytes);
    }
    println!(
        "  our responder held at most {:.1} MiB of blocks in flight (budget {} MiB per peer)",
        peak.load(Ordering::Relaxed) as f64 / (1 << 20) as f64,
        Config::default().max_bytes_per_peer >> 20
    );
    println!(
        "  ratio to the Go pair (throughput): ours {:.2}x, go requester from our responder {:.2}x",
        go_pair.secs / ours.secs,
        go_pair.secs / go_from_ours.secs
    );
}

/// go-graphsync's requester fetching `root` from `addr`, discarding verified leaves; its output.
async fn go_fetch(go_peer: &str, addr: &str, root: &str, sel_hex: &str) -> String {
    let out = tokio::process::Command::new(go_peer)
        .args(["fetch", addr, root, sel_hex, "discard"])
        .stderr(Stdio::null())
        .output()
        .await
        .expect("go-graphsync-peer");
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.ends_with("DONE\n"), "go-graphsync failed: {out}");
    out
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SIGTERM, so the Go responder prints its CPU time before it exits.
fn nix_kill(pid: Option<u32>) -> std::io::Result<()> {
    let pid = pid.ok_or_else(|| std::io::Error::other("no pid"))?;
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .map(|_| ())
}

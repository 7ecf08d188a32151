//! The retrieval part of `cargo xtask bench`: 1 GiB of random data stored with an online deal
//! on the devnet (32 GiB sectors), then retrieved between our two release binaries over
//! loopback, twice free and then twice paid (1000 attoFIL a byte, a payment every 1 MiB; the first
//! creates the client's payment channel, funds for more are added before the second, which
//! measures a client whose channel has funds). Reported: MB/s of
//! payload for the whole `droplet-client retrieval retrieve` command (query, deal, transfer,
//! verification, writing the file) and the peak resident memory of both daemons during each
//! retrieval, sampled every 20 ms.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::stack::{
    Daemon, Demo, announce, propose, publish_now, seal, set_ask, set_priced_retrieval_ask, start_client, start_devnet,
    start_droplet, wait_state,
};

const SIZE: u64 = 1 << 30;

use crate::memory::rss_kib;

/// A process's resident memory in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    rss_kib(pid) as f64 / 1024.0
}

/// Samples the peak resident memory of two processes until dropped.
struct PeakMemory {
    stop: Arc<AtomicBool>,
    peaks: Arc<[AtomicU64; 2]>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakMemory {
    fn watch(pids: [u32; 2]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let (s, p) = (stop.clone(), peaks.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                for (i, pid) in pids.iter().enumerate() {
                    p[i].fetch_max(rss_kib(*pid), Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        PeakMemory {
            stop,
            peaks,
            thread: Some(thread),
        }
    }

    /// The peaks in MiB.
    fn finish(mut self) -> [f64; 2] {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        [0, 1].map(|i| self.peaks[i].load(Ordering::SeqCst) as f64 / 1024.0)
    }
}

/// The xorshift generator's start.
pub const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// `size` bytes (whole MiB) from a xorshift generator at `x`: incompressible, no repeated
/// blocks; `x` is left where it ended, for the next file.
pub fn write_random(path: &Path, size: u64, x: &mut u64) -> Result<()> {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..size / buf.len() as u64 {
        for chunk in buf.chunks_exact_mut(8) {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf)?;
    }
    f.flush()?;
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> Result<bool> {
    use std::io::Read;
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(fb.read(&mut bb)? == 0);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// One retrieval: seconds and the daemons' peak memory (droplet, client) in MiB.
fn retrieve(
    demo: &Demo,
    droplet: &Daemon,
    client: &Daemon,
    root: &str,
    original: &Path,
    extra: &[&str],
) -> Result<(f64, [f64; 2])> {
    let out = demo.dir.join("retrieved.bin");
    let _ = std::fs::remove_file(&out);
    let c = demo.repo("client");
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec!["--repo", c.as_str(), "retrieval", "retrieve", "--provider", "t01000"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[root, out_s.as_str()]);
    let memory = PeakMemory::watch([droplet.child.id(), client.child.id()]);
    let started = Instant::now();
    let o = Command::new(demo.bin("droplet-client")).args(&args).output()?;
    let secs = started.elapsed().as_secs_f64();
    let peaks = memory.finish();
    if !o.status.success() {
        bail!(
            "the retrieval failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Where the time went: the client's progress lines carry the time since the deal began.
    let stdout = String::from_utf8_lossy(&o.stdout);
    for step in [
        "DealAccepted",
        "LaneAllocated",
        "AllBlocksReceived",
        "BlockstoreFinalized",
    ] {
        if let Some(line) = stdout.lines().find(|l| l.contains(step)) {
            println!("    {}", line.split(" [").next().unwrap_or(line));
        }
    }
    let paid = stdout.matches("PaymentSent").count();
    if paid > 0 {
        // LastPaymentRequested included.
        let asked = stdout.matches("PaymentRequested").count();
        println!("    {paid} payments made, {asked} asked for");
    }
    if !same_file(&out, original)? {
        bail!("the retrieved data differs from the original");
    }
    let _ = std::fs::remove_file(&out);
    Ok((secs, peaks))
}

/// The payer and payee of the only channel in `droplet-client paych list`'s output.
fn channel_ends(list: &str) -> Result<(String, String)> {
    let row = list
        .lines()
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .ok_or_else(|| anyhow::anyhow!("no payment channel listed"))?;
    let cols: Vec<&str> = row.split_whitespace().collect();
    match cols.as_slice() {
        [_, from, to, ..] => Ok((from.to_string(), to.to_string())),
        _ => bail!("unexpected paych list row: {row}"),
    }
}

pub fn run(target: &Path) -> Result<()> {
    println!("Retrieval between droplet and droplet-client (release), 1 GiB over loopback");
    let demo = Demo::build("bench", target, true, false)?;
    let (_devnet, token, ma) = start_devnet(&demo, &["--sector-size", "32GiB"])?;
    let (droplet, _ipni) = start_droplet(&demo, &ma, &token)?;
    announce(&demo)?;
    let p = demo.repo("droplet");
    let c = demo.repo("client");
    set_ask(&demo, "0.0000000001fil", "0", "32GiB")?;
    let client = start_client(&demo, &ma, &token)?;

    let original = demo.dir.join("random.bin");
    write_random(&original, SIZE, &mut SEED.clone())?;
    let set_up = Instant::now();
    let root = demo
        .run(
            "droplet-client",
            &["--repo", &c, "data", "import", "--quiet", &original.to_string_lossy()],
        )?
        .trim()
        .to_string();
    let proposal = propose(&demo, &root, "0.0000000001fil", &[])?;
    wait_state(&demo, &p, &proposal, "StorageDealPublish")?;
    publish_now(&demo, &[&proposal])?;
    seal(&demo, &[&proposal])?;
    println!(
        "  1 GiB imported, stored with an online deal and Active in {:.0} s",
        set_up.elapsed().as_secs_f64()
    );

    let mb = SIZE as f64 / 1e6;
    demo.run("droplet", &["--repo", &p, "retrieval", "ask", "set", "t01000"])?;
    let mut free = Vec::new();
    for _ in 0..2 {
        free.push(retrieve(&demo, &droplet, &client, &root, &original, &[])?);
    }
    set_priced_retrieval_ask(&demo, "1MiB")?;
    let mut paid = Vec::new();
    for run in 0..2 {
        if run == 1 {
            // The first paid retrieval created the channel with what it needed; funds for
            // more added now, the second measures a client whose channel has funds (its
            // remaining funds are used again: no chain message).
            let (from, to) = channel_ends(&demo.run("droplet-client", &["--repo", &c, "paych", "list"])?)?;
            demo.run(
                "droplet-client",
                &["--repo", &c, "paych", "add-funds", &from, &to, "0.00001"],
            )?;
        }
        paid.push(retrieve(
            &demo,
            &droplet,
            &client,
            &root,
            &original,
            &["--maxPrice", "1"],
        )?);
    }
    println!("  | retrieval | seconds | MB/s | droplet peak RSS | droplet-client peak RSS |");
    println!("  |---|---|---|---|---|");
    let names = [
        "free",
        "free",
        "paid, 1 MiB intervals, channel created",
        "paid, 1 MiB intervals, channel funded",
    ];
    for (name, (secs, [d, cl])) in names.iter().zip(free.iter().chain(paid.iter())) {
        println!("  | {name} | {secs:.2} | {:.0} | {d:.0} MiB | {cl:.0} MiB |", mb / secs);
    }
    let f = free.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
    let pd = paid[1].0;
    println!(
        "  best free {:.0} MB/s (goal 300); paid with a funded channel {:.0} MB/s, {:.0}% longer than free (goal within 20%)",
        mb / f,
        mb / pd,
        (pd / f - 1.0) * 100.0
    );
    crate::bench_http::run(&demo, &droplet, &root)?;
    drop(client);
    drop(droplet);
    Ok(())
}

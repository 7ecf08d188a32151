//! The dataset part of `cargo xtask bench split`: a 1 GiB tree (nine files of random data in
//! three directories) cut into 256 MiB slices with their piece CIDs, three ways in the same
//! run: `droplet-client data split` (release), go-graphsplit v0.5.0's own `chunk
//! --calc-commp` (the interop suite's build: its commP is go-fil-commp-hashhash through the
//! pure-Go filecoin-ffi shim, where a real build links the Rust proofs library), and our
//! `data generate-car` then `data commP` over the whole tree, one after the other (the two
//! commands `data split` replaces). Reported: MB/s of file data and the peak resident memory
//! of each command, sampled every 20 ms.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench_retrieval::rss_mib;
use crate::stack::Demo;

const SLICE: &str = "268435456";

/// Nine files over three directories, 1 GiB in all, xorshift bytes.
fn write_tree(root: &Path) -> Result<u64> {
    let sizes = [160u64, 96, 128, 64, 112, 144, 80, 120, 120];
    let mut x = crate::bench_retrieval::SEED;
    for (i, mib) in sizes.iter().enumerate() {
        let path = root.join(format!("dir{}/file{i}.bin", i % 3));
        std::fs::create_dir_all(path.parent().context("parent")?)?;
        crate::bench_retrieval::write_random(&path, mib << 20, &mut x)?;
    }
    Ok(sizes.iter().sum::<u64>() << 20)
}

/// Runs `cmd` to completion: seconds, and its peak resident memory in MiB.
fn measure(what: &str, cmd: &mut Command) -> Result<(f64, f64)> {
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let mut peak: f64 = 0.0;
    let status = loop {
        peak = peak.max(rss_mib(child.id()));
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = started.elapsed().as_secs_f64();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        bail!("{what} failed ({status}): {err}");
    }
    Ok((secs, peak))
}

pub fn run(target: &Path) -> Result<()> {
    println!("Dataset split (release): 1 GiB tree in 256 MiB slices with piece CIDs");
    let demo = Demo::build("bench-split", target, true, false)?;
    let tree = demo.dir.join("tree");
    let total = write_tree(&tree)?;
    let mb = total as f64 / 1e6;
    let row = |name: &str, secs: f64, peak: f64| {
        println!(
            "  {name:<44} {:>7.1} s {:>8.0} MB/s {:>8.0} MiB peak",
            secs,
            mb / secs,
            peak
        );
    };

    let ours_dir = demo.dir.join("ours");
    let (ours, ours_peak) = measure(
        "droplet-client data split",
        Command::new(demo.bin("droplet-client"))
            .args(["data", "split", "--slice-size", SLICE, "--graph-name", "b"])
            .arg("--car-dir")
            .arg(&ours_dir)
            .arg(&tree),
    )?;
    row("droplet-client data split", ours, ours_peak);

    let car = demo.dir.join("whole.car");
    let (gen_secs, gen_peak) = measure(
        "droplet-client data generate-car",
        Command::new(demo.bin("droplet-client"))
            .args(["data", "generate-car"])
            .arg(&tree)
            .arg(&car),
    )?;
    let (commp_secs, commp_peak) = measure(
        "droplet-client data commP",
        Command::new(demo.bin("droplet-client"))
            .args(["data", "commP"])
            .arg(&car),
    )?;
    let _ = std::fs::remove_file(&car);
    row(
        "generate-car, then commP (one CAR)",
        gen_secs + commp_secs,
        gen_peak.max(commp_peak),
    );

    let go_peers = target.join("go-peers");
    crate::setup::go_peers(crate::workspace()?, &go_peers)?;
    let go_dir = demo.dir.join("go");
    std::fs::create_dir_all(&go_dir)?;
    let (go, go_peak) = measure(
        "graphsplit chunk",
        Command::new(go_peers.join("graphsplit"))
            .args(["chunk", "--calc-commp", "--slice-size", SLICE, "--graph-name", "b"])
            .arg("--car-dir")
            .arg(&go_dir)
            .arg(&tree),
    )?;
    row("go-graphsplit v0.5.0 chunk --calc-commp", go, go_peak);
    println!(
        "  data split: {:.2}x generate-car + commP, {:.2}x go-graphsplit",
        (gen_secs + commp_secs) / ours,
        go / ours
    );
    Ok(())
}

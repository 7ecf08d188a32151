//! `cargo xtask fuzz`: every coverage-guided target (`fuzz-targets`, wrapped by cargo-fuzz in
//! `fuzz/`) built with AddressSanitizer and libFuzzer, its corpus started from the seeds, run
//! for a bounded number of executions or a bounded time, with leak detection on. The report
//! gives each target's executions, rate, peak memory and corpus size; a finding fails the run
//! and names the input to keep under `fuzz/regressions/<target>/` once fixed.
//!
//! `cargo xtask fuzz [--runs N | --seconds S] [--jobs J] [target …]`: defaults 60 s a target,
//! one target at a time. The corpus under the target directory grows from run to run.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The memory a single run may use before libFuzzer calls it a finding.
const RSS_LIMIT_MB: &str = "2048";
/// One input taking longer than this is a finding (a hang).
const INPUT_TIMEOUT_S: &str = "25";
/// The targets: one cargo-fuzz binary each in `fuzz/fuzz_targets/` (fuzz-targets' test keeps
/// them matched with its list), in name order.
fn targets(workspace: &Path) -> Result<Vec<String>> {
    let dir = workspace.join("fuzz/fuzz_targets");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(t) = name.strip_suffix(".rs") {
            names.push(t.to_string());
        }
    }
    names.sort();
    Ok(names)
}

#[derive(Debug, Clone, Copy)]
enum Budget {
    Runs(u64),
    Seconds(u64),
}

/// What one target's run came to.
#[derive(Debug, Default)]
struct Outcome {
    executions: u64,
    per_second: u64,
    peak_rss_mb: u64,
    corpus: usize,
    seconds: f64,
    finding: Option<String>,
}

pub fn run(workspace: &Path, target_dir: &Path, args: &[String]) -> Result<()> {
    let (budget, jobs, chosen) = parse(args, &targets(workspace)?)?;
    tools()?;
    let fuzz_target = target_dir.join("fuzz");
    println!("xtask: building the fuzz targets (nightly, AddressSanitizer, libFuzzer)");
    crate::run(
        Command::new("rustup")
            .current_dir(workspace)
            .args(["run", "nightly", "cargo", "fuzz", "build", "-O"])
            .env("CARGO_TARGET_DIR", &fuzz_target),
    )?;
    let bins = fuzz_target.join("x86_64-unknown-linux-gnu/release");
    let work = target_dir.join("fuzz-corpus");
    let seeds = work.join("seeds");
    crate::run(
        Command::new(crate::cargo_bin())
            .current_dir(workspace)
            .args(["run", "-q", "-p", "fuzz-targets", "--example", "write_seeds", "--"])
            .arg(&seeds),
    )?;

    let mut queue: VecDeque<String> = chosen.into_iter().collect();
    let mut running: Vec<(String, Child, Instant, PathBuf)> = Vec::new();
    let mut done: Vec<(String, Outcome)> = Vec::new();
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < jobs
            && let Some(t) = queue.pop_front()
        {
            let corpus = work.join(&t);
            let artifacts = work.join("artifacts").join(&t);
            std::fs::create_dir_all(&corpus)?;
            std::fs::create_dir_all(&artifacts)?;
            let log = work.join(format!("{t}.log"));
            let mut cmd = Command::new(bins.join(&t));
            cmd.arg(&corpus)
                .arg(seeds.join(&t))
                .arg(format!("-artifact_prefix={}/", artifacts.display()))
                .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
                .arg(format!("-timeout={INPUT_TIMEOUT_S}"))
                .arg("-detect_leaks=1")
                .arg("-print_final_stats=1")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log)?);
            match budget {
                Budget::Runs(n) => cmd.arg(format!("-runs={n}")),
                Budget::Seconds(s) => cmd.arg(format!("-max_total_time={s}")),
            };
            let child = cmd
                .spawn()
                .with_context(|| format!("starting {}", bins.join(&t).display()))?;
            println!("xtask: fuzzing {t}");
            running.push((t, child, Instant::now(), log));
        }
        std::thread::sleep(Duration::from_millis(200));
        let mut i = 0;
        while i < running.len() {
            if let Some(status) = running[i].1.try_wait()? {
                let (t, _, started, log) = running.remove(i);
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let mut o = outcome(&text, status);
                o.seconds = started.elapsed().as_secs_f64();
                o.corpus = std::fs::read_dir(work.join(&t)).map(|d| d.count()).unwrap_or(0);
                if let Some(f) = &o.finding {
                    println!("xtask: {t}: FINDING: {f} (log {})", log.display());
                } else {
                    println!("xtask: {t}: {} executions, no finding", o.executions);
                }
                done.push((t, o));
            } else {
                i += 1;
            }
        }
    }
    report(&done);
    let found: Vec<&str> = done
        .iter()
        .filter(|(_, o)| o.finding.is_some())
        .map(|(t, _)| t.as_str())
        .collect();
    if !found.is_empty() {
        bail!(
            "findings in {found:?}: the inputs are under {}; once fixed, keep each under fuzz/regressions/<target>/",
            work.join("artifacts").display()
        );
    }
    Ok(())
}

fn parse(args: &[String], all: &[String]) -> Result<(Budget, usize, Vec<String>)> {
    let mut budget = Budget::Seconds(60);
    let mut jobs = 1;
    let mut chosen = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut number = |what: &str| -> Result<u64> {
            it.next()
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{what} takes a whole number"))
        };
        match a.as_str() {
            "--runs" => budget = Budget::Runs(number("--runs")?),
            "--seconds" => budget = Budget::Seconds(number("--seconds")?),
            "--jobs" => jobs = number("--jobs")?.max(1) as usize,
            t if all.iter().any(|k| k == t) => chosen.push(t.to_string()),
            t => bail!("no fuzz target {t:?}; the targets: {}", all.join(", ")),
        }
    }
    if chosen.is_empty() {
        chosen = all.to_vec();
    }
    Ok((budget, jobs, chosen))
}

/// cargo-fuzz and a nightly toolchain (its sanitizer flags need one).
fn tools() -> Result<()> {
    // Through rustup: the `cargo` that runs xtask is one toolchain's, without `+toolchain`.
    let has = |args: &[&str]| {
        Command::new("rustup")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has(&["run", "nightly", "cargo", "--version"]) {
        println!("xtask: installing a nightly toolchain (cargo-fuzz's sanitizer flags need one)");
        crate::run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    }
    if !has(&["run", "nightly", "cargo", "fuzz", "--version"]) {
        println!("xtask: installing cargo-fuzz from crates.io (a minute, once)");
        crate::cargo(&["install", "cargo-fuzz", "--locked"])?;
    }
    Ok(())
}

/// libFuzzer's final statistics; a finding when it did not exit cleanly, described by the
/// first report line of its log.
fn outcome(log: &str, status: std::process::ExitStatus) -> Outcome {
    let stat = |name: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim_start_matches(':').trim().parse().ok())
            .unwrap_or(0)
    };
    let finding = (!status.success()).then(|| {
        log.lines()
            .find(|l| l.contains("ERROR: ") || l.contains("panicked at"))
            .map_or_else(|| format!("exited with {status}"), |l| l.trim().to_string())
    });
    Outcome {
        executions: stat("stat::number_of_executed_units"),
        per_second: stat("stat::average_exec_per_sec"),
        peak_rss_mb: stat("stat::peak_rss_mb"),
        finding,
        ..Outcome::default()
    }
}

fn report(done: &[(String, Outcome)]) {
    println!();
    println!(
        "{:<18} {:>12} {:>8} {:>9} {:>7} {:>8}  result",
        "target", "executions", "exec/s", "peak MiB", "corpus", "seconds"
    );
    for (t, o) in done {
        println!(
            "{:<18} {:>12} {:>8} {:>9} {:>7} {:>8.0}  {}",
            t,
            o.executions,
            o.per_second,
            o.peak_rss_mb,
            o.corpus,
            o.seconds,
            o.finding.as_deref().unwrap_or("no crash, no leak")
        );
    }
}

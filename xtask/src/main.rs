//! Developer and CI tasks: `cargo xtask <task>`.

mod bench_http;
mod bench_intake;
mod bench_retrieval;
mod bench_split;
mod demo;
mod fuzz;
mod indexer;
/// Memory and CPU read from `/proc`, shared with the test suite (whose soak alone samples).
#[path = "../../tests/src/memory.rs"]
#[allow(dead_code)]
mod memory;
mod setup;
mod stack;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const TASKS: &[(&str, &str)] = &[
    (
        "demo",
        "a local chain, droplet and droplet-client: ask, offline deal, publish, seal, Active",
    ),
    (
        "test",
        "check or install the system packages and cargo-nextest, then run the whole test suite",
    ),
    (
        "bench",
        "codec vs fvm_ipld_encoding, commP vs filecoin-proofs-api (1 GiB; --size-mib N), import + CAR, graphsync vs go-graphsync (1 GiB DAG), data split vs go-graphsplit (`bench split`), deal intake under many clients (`bench intake`), retrieval (`bench retrieval`): ratios from one run",
    ),
    (
        "fuzz",
        "coverage-guided fuzzing (cargo-fuzz, libFuzzer, ASan) of every decoder [--runs N | --seconds S (60)] [--jobs J] [target…]",
    ),
    (
        "soak",
        "10,000 offline deals from one droplet-client batch to Active, memory sampled [--deals N] [--cap C]",
    ),
    (
        "crash",
        "the crash matrix at random: droplet or droplet-client SIGKILLed during storage deals and paid retrievals, the market checked after each [--trials N (100)] [--seed S]",
    ),
    (
        "ci",
        "what .ci/run does: test, then cargo fmt --check and clippy -D warnings",
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => workspace().and_then(|w| fuzz::run(w, &target_dir()?, &args[1..])),
        Some("soak") => example("soak", &args[1..]),
        Some("crash") => example("crash", &args[1..]),
        Some("ci") => ci(),
        None | Some("help" | "-h" | "--help") => {
            print_tasks();
            Ok(())
        }
        Some(other) => {
            print_tasks();
            Err(anyhow::anyhow!("unknown task {other:?}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_tasks() {
    println!("usage: cargo xtask <task>\n\ntasks:");
    for (name, what) in TASKS {
        println!("  {name:<6} {what}");
    }
}

/// market-types' examples need its test generators.
const TYPES_EXAMPLES: &[&str] = &["-p", "market-types", "--features", "testing"];
/// graphsync's benchmark builds its DAGs and hosts with the crate's test helpers.
const GRAPHSYNC_EXAMPLES: &[&str] = &["-p", "graphsync", "--features", "testing"];
/// piece-store's benchmark needs no RocksDB: building without it keeps a release build short.
const PIECE_EXAMPLES: &[&str] = &["-p", "piece-store", "--no-default-features"];

fn bench(extra: &[String]) -> Result<()> {
    setup::build_dependencies()?;
    setup::bench_dependencies()?;
    // `cargo xtask bench retrieval`: only the retrieval between the binaries (graphsync and
    // HTTP).
    if extra.first().map(String::as_str) == Some("retrieval") {
        return bench_retrieval::run(&target_dir()?);
    }
    // `cargo xtask bench intake`: only the deal intake under many clients.
    if extra.first().map(String::as_str) == Some("intake") {
        return bench_intake::run(&target_dir()?);
    }
    // `cargo xtask bench split`: only the dataset split beside graphsplit.
    if extra.first().map(String::as_str) == Some("split") {
        return bench_split::run(&target_dir()?);
    }
    release_example(TYPES_EXAMPLES, "bench_codec", &[])?;
    println!();
    release_example(PIECE_EXAMPLES, "bench_commp", extra)?;
    println!();
    // Graphsync against go-graphsync: the Go peer is built with the interop suite's.
    let go_peers = target_dir()?.join("go-peers");
    setup::go_peers(workspace()?, &go_peers)?;
    let go_peer = go_peers.join("go-graphsync-peer").to_string_lossy().into_owned();
    release_example(GRAPHSYNC_EXAMPLES, "bench_graphsync", &[go_peer])?;
    println!();
    bench_split::run(&target_dir()?)?;
    println!();
    bench_intake::run(&target_dir()?)?;
    println!();
    bench_retrieval::run(&target_dir()?)
}

/// Run an example in release.
fn release_example(package: &[&str], name: &str, extra: &[String]) -> Result<()> {
    let mut a = vec!["run", "--release", "-q"];
    a.extend_from_slice(package);
    a.extend(["--example", name, "--"]);
    a.extend(extra.iter().map(String::as_str));
    cargo(&a)
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn cargo(args: &[&str]) -> Result<()> {
    run(Command::new(cargo_bin()).args(args))
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

fn workspace() -> Result<&'static Path> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace directory")
}

/// Where cargo puts its builds (and the suite its Go peers).
fn target_dir() -> Result<PathBuf> {
    Ok(match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace()?.join("target"),
    })
}

/// A bench that drives the whole market (the soak, the crash matrix): release binaries and
/// the `tests` crate's example of that name.
fn example(name: &str, extra: &[String]) -> Result<()> {
    setup::build_dependencies()?;
    cargo(&["build", "-q", "--release", "--workspace", "--bins", "--examples"])?;
    run(Command::new(target_dir()?.join("release/examples").join(name)).args(extra))
}

fn demo() -> Result<()> {
    setup::build_dependencies()?;
    setup::browser()?;
    demo::run(workspace()?)
}

fn test(extra: &[String]) -> Result<()> {
    setup::build_dependencies()?;
    setup::browser()?;
    setup::database_servers()?;
    setup::nextest()?;
    setup::ui_driver(workspace()?)?;
    let go_peers = target_dir()?.join("go-peers");
    let go = setup::go_peers(workspace()?, &go_peers)?;
    // nextest builds the binaries of packages with tests; the load generator has none, and a
    // test that built it itself would spend its time limit compiling.
    cargo(&["build", "-q", "-p", "deal-load"])?;
    run(go
        .apply(Command::new(cargo_bin()))
        .args(["nextest", "run", "--workspace", "--no-fail-fast"])
        .args(extra)
        // The interop tests run the peers built above.
        .env("DROPLET_GO_PEERS", &go_peers))
}

fn ci() -> Result<()> {
    test(&[])?;
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])
}

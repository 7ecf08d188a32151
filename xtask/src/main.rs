//! Developer and CI tasks: `cargo xtask <task>`.

mod demo;

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
        "codec vs fvm_ipld_encoding, commP vs filecoin-proofs-api (1 GiB; --size-mib N), import + CAR: ratios from one run",
    ),
    (
        "fuzz",
        "bounded fuzz run of every wire decoder [--seconds N (60)] [--seed S]",
    ),
    (
        "ci",
        "what .ci/run does: test, then cargo fmt --check and clippy -D warnings",
    ),
];

/// Debian packages the build needs, with why.
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    (
        "build-essential",
        "C and C++ compilers for the crates that build C (blst, zstd, RocksDB)",
    ),
    ("pkg-config", "locating system libraries in build scripts"),
    (
        "libclang-dev",
        "bindgen for RocksDB's bindings (the daemons' embedded store)",
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => release_example(TYPES_EXAMPLES, "fuzz_decoders", &args[1..]),
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
/// piece-store's benchmark needs no RocksDB: building without it keeps a release build short.
const PIECE_EXAMPLES: &[&str] = &["-p", "piece-store", "--no-default-features"];

fn bench(extra: &[String]) -> Result<()> {
    release_example(TYPES_EXAMPLES, "bench_codec", &[])?;
    println!();
    release_example(PIECE_EXAMPLES, "bench_commp", extra)
}

/// Run an example in release.
fn release_example(package: &[&str], name: &str, extra: &[String]) -> Result<()> {
    let mut a = vec!["run", "--release", "-q"];
    a.extend_from_slice(package);
    a.extend(["--example", name, "--"]);
    a.extend(extra.iter().map(String::as_str));
    cargo(&a)
}

fn cargo(args: &[&str]) -> Result<()> {
    run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args(args))
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

fn demo() -> Result<()> {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace directory")?;
    demo::run(workspace)
}

fn test(extra: &[String]) -> Result<()> {
    ensure_system_packages()?;
    ensure_nextest()?;
    let mut args = vec!["nextest", "run", "--workspace", "--no-fail-fast"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}

fn ci() -> Result<()> {
    test(&[])?;
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])
}

fn package_installed(name: &str) -> Option<bool> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn ensure_system_packages() -> Result<()> {
    let mut missing = Vec::new();
    for (name, why) in SYSTEM_PACKAGES {
        match package_installed(name) {
            Some(true) => {}
            Some(false) => {
                println!("xtask: {name} is missing ({why})");
                missing.push(*name);
            }
            None => {
                println!("xtask: dpkg-query not found: not a Debian system, so make sure {name} ({why}) is installed");
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !is_root {
        bail!(
            "install the missing packages and run again: sudo apt-get install -y --no-install-recommends {}",
            missing.join(" ")
        );
    }
    println!("xtask: installing {}", missing.join(" "));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn ensure_nextest() -> Result<()> {
    let present = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    println!("xtask: installing cargo-nextest from crates.io (a few minutes, once)");
    cargo(&["install", "cargo-nextest", "--locked"])
}

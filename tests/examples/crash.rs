//! `cargo xtask crash [--trials N] [--seed S]`: the crash matrix of `tests/src/crash.rs` at
//! random (100 trials by default, a seed from the clock unless given), its report printed.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| -> Option<u64> {
        let i = args.iter().position(|a| a == name)?;
        let v = args.get(i + 1)?;
        Some(v.parse().unwrap_or_else(|_| {
            eprintln!("{name} takes a whole number");
            std::process::exit(2)
        }))
    };
    let seed = arg("--seed").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    eprintln!("crash matrix: seed {seed} (run again with --seed {seed})");
    let report = tests::crash::run_matrix(arg("--trials").unwrap_or(100) as usize, seed);
    report.print();
}

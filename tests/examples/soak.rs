//! `cargo xtask soak [--deals N] [--cap C] [--hold SECONDS]`: the soak of `tests/src/soak.rs` at
//! bench size (10,000 deals by default, release binaries), its report printed; `--hold` keeps
//! the market running that long after the last deal is Active, listing deals every 5 s.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse().unwrap_or_else(|_| {
                    eprintln!("{name} takes a whole number");
                    std::process::exit(2)
                })
            })
            .unwrap_or(default)
    };
    let report = tests::soak::run_soak(
        arg("--deals", 10_000),
        arg("--cap", 100),
        std::time::Duration::from_secs(arg("--hold", 0) as u64),
    );
    report.print();
}

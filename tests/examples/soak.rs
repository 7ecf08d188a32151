//! `cargo xtask soak [--deals N] [--cap C]`: the soak of `tests/src/soak.rs` at bench size
//! (10,000 deals by default, release binaries), its report printed.

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
    let report = tests::soak::run_soak(arg("--deals", 10_000), arg("--cap", 100));
    report.print();
}

//! Writes every target's seeds as `<dir>/<target>/seed-NNNN` (the corpus a fuzz run starts
//! from; `cargo xtask fuzz` runs this first).

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            eprintln!("usage: write_seeds <corpus directory>");
            std::process::exit(2)
        });
    for t in fuzz_targets::TARGETS {
        let d = dir.join(t.name);
        std::fs::create_dir_all(&d)?;
        let seeds = (t.seeds)();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i:04}")), s)?;
        }
        println!("{}: {} seeds", t.name, seeds.len());
    }
    Ok(())
}

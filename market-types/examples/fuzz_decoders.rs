//! A bounded fuzz run of every wire decoder: random bytes, mutated valid encodings and
//! truncations, for a fixed time. Any panic is reported with its input and fails the run.
//! Run through `cargo xtask fuzz [--seconds N] [--seed S]`.

use std::panic;
use std::time::{Duration, Instant};

use market_types::testing::WIRE_TYPES;

/// splitmix64: a small, seedable generator, so a failing run can be replayed with `--seed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn input_for(rng: &mut Rng, sample: fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    match rng.below(4) {
        0 => {
            let n = rng.below(512);
            rng.bytes(n)
        }
        1 | 2 => {
            let seed_len = rng.below(2048);
            let mut b = sample(&rng.bytes(seed_len));
            for _ in 0..=rng.below(4) {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b[i] ^= rng.next() as u8 | 1;
                }
            }
            b
        }
        _ => {
            let seed_len = rng.below(2048);
            let mut b = sample(&rng.bytes(seed_len));
            let keep = rng.below(b.len() + 1);
            b.truncate(keep);
            b
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a whole number")))
            .unwrap_or(default)
    };
    let seconds = arg("--seconds", 60);
    let seed = arg(
        "--seed",
        Instant::now().elapsed().as_nanos() as u64 ^ std::process::id() as u64,
    );
    println!("fuzzing {} decoders for {seconds}s (seed {seed})", WIRE_TYPES.len());

    panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut runs, mut accepted) = (0u64, 0u64);
    while Instant::now() < deadline {
        for t in WIRE_TYPES {
            let input = input_for(&mut rng, t.sample);
            match panic::catch_unwind(|| (t.decode)(&input)) {
                Ok(result) => accepted += u64::from(result.is_ok()),
                Err(_) => {
                    eprintln!("PANIC decoding {}: input {}", t.name, hex(&input));
                    eprintln!("replay with: cargo xtask fuzz --seed {seed}");
                    std::process::exit(1);
                }
            }
            runs += 1;
        }
    }
    println!(
        "{runs} inputs decoded without a panic ({accepted} accepted, {} refused)",
        runs - accepted
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

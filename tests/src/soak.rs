//! The soak: many offline deals through the whole market at once. A dataset of `deals` files is
//! split into as many pieces (`data split`), proposed by droplet-client in one batch
//! (`storage deals batch`), exported and bulk-imported by droplet (`batch-import-data`),
//! published in batches under the publisher's cap (`MaxDealsPerPublishMsg`), sealed by the
//! devnet's sealer and followed to Active on both sides, while droplet's and droplet-client's
//! memory is read at the end of each phase. Every deal is then accounted for. `tests/tests/soak.rs` runs it with 500
//! deals; `cargo xtask soak` with 10,000 and prints the report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use market_types::states::StorageDealStatus;
use serde_json::Value;

use crate::market::{Market, s, setup};
use crate::procs::{run_ok, wait_for};

/// The size of each file, and of each slice: one file a deal.
const FILE_SIZE: usize = 1024;

/// One phase of a soak: its name, seconds, and droplet's and droplet-client's resident memory
/// (KiB) at its end and as sampled every [`SAMPLE_EVERY`] while it ran.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: &'static str,
    pub seconds: f64,
    pub droplet_kib: u64,
    pub client_kib: u64,
    pub droplet: Spread,
    pub client: Spread,
}

/// A process's memory over a phase (KiB): lowest, highest, and the mean of the phase's first
/// and of its second half (a level memory has the two alike; a leak has the second higher).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub min: u64,
    pub max: u64,
    pub first_half: u64,
    pub second_half: u64,
}

impl Spread {
    fn of(readings: &[u64]) -> Spread {
        let mean = |r: &[u64]| match r.len() {
            0 => 0,
            n => r.iter().sum::<u64>() / n as u64,
        };
        let (a, b) = readings.split_at(readings.len() / 2);
        Spread {
            min: readings.iter().copied().min().unwrap_or(0),
            max: readings.iter().copied().max().unwrap_or(0),
            first_half: mean(if a.is_empty() { b } else { a }),
            second_half: mean(b),
        }
    }

    fn shown(&self) -> String {
        let mib = |k: u64| k / 1024;
        format!(
            "{:>4}-{:<4} {:>4}/{:<4}",
            mib(self.min),
            mib(self.max),
            mib(self.first_half),
            mib(self.second_half)
        )
    }
}

/// How often both daemons' memory is read while the soak runs.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// What a soak measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub deals: usize,
    pub cap: usize,
    /// Each phase in order.
    pub phases: Vec<Phase>,
    pub publish_messages: usize,
    pub largest_batch: usize,
    pub sectors: usize,
    pub droplet_peak_kib: u64,
    pub client_peak_kib: u64,
}

impl Report {
    pub fn total_seconds(&self) -> f64 {
        self.phases.iter().map(|p| p.seconds).sum()
    }

    pub fn print(&self) {
        println!(
            "soak: {} deals, publisher cap {}, {:.0} s in all",
            self.deals,
            self.cap,
            self.total_seconds()
        );
        println!(
            "  RSS in MiB at each phase's end; over the phase, sampled every {} s: min-max and the \
             mean of its first/second half",
            SAMPLE_EVERY.as_secs()
        );
        println!(
            "  {:<34} {:>8}  {:>28} {:>28}",
            "phase", "seconds", "droplet: end  min-max  1st/2nd", "client: end  min-max  1st/2nd"
        );
        let mib = |k: u64| k / 1024;
        for p in &self.phases {
            println!(
                "  {:<34} {:>8.1}  {:>5}  {} {:>9}  {}",
                p.name,
                p.seconds,
                mib(p.droplet_kib),
                p.droplet.shown(),
                mib(p.client_kib),
                p.client.shown(),
            );
        }
        println!(
            "  {} PublishStorageDeals messages (largest {} deals), {} sectors",
            self.publish_messages, self.largest_batch, self.sectors
        );
        println!(
            "  peak RSS: droplet {} MiB, droplet-client {} MiB",
            self.droplet_peak_kib / 1024,
            self.client_peak_kib / 1024
        );
    }
}

/// `deals` distinct files of [`FILE_SIZE`] bytes.
fn dataset(dir: &Path, deals: usize) {
    std::fs::create_dir_all(dir).expect("dataset dir");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in 0..deals {
        let data: Vec<u8> = (0..FILE_SIZE)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(dir.join(format!("f{i:06}")), data).expect("a file");
    }
}

fn client_deals(m: &Market) -> Vec<Value> {
    serde_json::from_str(&m.client(&["storage", "deals", "list", "--json"])).expect("client deal list json")
}

/// How many deals are in each state, for progress lines and timeouts.
fn histogram(deals: &[Value]) -> BTreeMap<String, usize> {
    let mut h = BTreeMap::new();
    for d in deals {
        let name = d["StateName"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| d["State"].to_string());
        *h.entry(name).or_default() += 1;
    }
    h
}

/// Prints `what` with the deals' states at most every 15 seconds.
struct Progress(Instant);

impl Progress {
    fn show(&mut self, what: &str, deals: &[Value]) {
        if self.0.elapsed() > Duration::from_secs(15) {
            eprintln!("soak: {what}: {:?}", histogram(deals));
            self.0 = Instant::now();
        }
    }
}

fn count_in(deals: &[Value], state: StorageDealStatus) -> usize {
    deals
        .iter()
        .filter(|d| d["State"].as_u64() == Some(state.code()))
        .count()
}

/// A deal that has failed (droplet's terminal states; Active is not one).
fn failed(d: &Value) -> bool {
    d["State"]
        .as_u64()
        .and_then(StorageDealStatus::from_u64)
        .is_some_and(StorageDealStatus::is_terminal)
}

/// Run the soak: `deals` deals, at most `cap` in a publish message.
/// Runs the soak; then, for `hold` more, keeps the market running with an operator listing
/// both sides' deals every few seconds (the steady state the memory must be flat in).
pub fn run_soak(deals: usize, cap: usize, hold: Duration) -> Report {
    let mut m = setup();

    // Free deals (the batch takes price 0), batches of `cap`, published when full.
    m.droplet(&[
        "storage",
        "ask",
        "set",
        "--price",
        "0",
        "--verified-price",
        "0",
        crate::market::MINER,
    ]);
    m.edit_config(&[(
        "CommonProvider",
        "MaxDealsPerPublishMsg",
        toml::Value::Integer(cap as i64),
    )]);
    m.restart_droplet_with(&[]);

    // Each phase's time, and both daemons' memory at its end; the sampler fills in between.
    let pids = (m.droplet.as_ref().expect("droplet").pid(), m._client.pid());
    let sampler = crate::memory::Sampler::start(vec![pids.0, pids.1], SAMPLE_EVERY);
    let started = Instant::now();
    let mut phases = Vec::new();
    let mut phase_start = Instant::now();
    let mut phase = |name: &'static str, at: &mut Instant| {
        let (d, c) = (crate::memory::rss_kib(pids.0), crate::memory::rss_kib(pids.1));
        let span = (at.duration_since(started), started.elapsed());
        phases.push((name, at.elapsed().as_secs_f64(), d, c, span));
        *at = Instant::now();
    };
    let root = Path::new(&m.car)
        .parent()
        .expect("the market's directory")
        .to_path_buf();
    let data = root.join("soak-data");
    dataset(&data, deals);
    let cars = root.join("soak-cars");
    let split: Value = serde_json::from_str(&run_ok(
        "droplet-client",
        &[
            "data",
            "split",
            "--slice-size",
            &FILE_SIZE.to_string(),
            "--graph-name",
            "soak",
            "--car-dir",
            &s(&cars),
            "--rename",
            "--json",
            &s(&data),
        ],
    ))
    .expect("split json");
    assert_eq!(split.as_array().map(Vec::len), Some(deals), "one slice a file");
    phase("split into pieces", &mut phase_start);

    let text = m.client(&[
        "storage",
        "deals",
        "batch",
        "0",
        "518400",
        "--manifest",
        &s(&cars.join("manifest.csv")),
        "--miner",
        crate::market::MINER,
        "--verified-deal=false",
    ]);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("create deal success")).count(),
        deals,
        "every row proposed"
    );
    phase("proposed (droplet-client batch)", &mut phase_start);

    let exported = root.join("soak-deals.csv");
    m.client(&["storage", "deals", "export", "--output", &s(&exported)]);
    let out = m.droplet(&[
        "storage",
        "deal",
        "batch-import-data",
        "--manifest",
        &s(&exported),
        "--car-dir",
        &s(&cars),
    ]);
    assert_eq!(
        out.matches("import data success").count(),
        deals,
        "every deal's data imported"
    );
    phase("data imported (batch-import-data)", &mut phase_start);

    // Batches go out as they fill; the rest when asked.
    let limit = Duration::from_secs(300 + deals as u64 / 2);
    let mut progress = Progress(Instant::now());
    wait_for("every deal published", limit, None, || {
        let d = m.deals();
        progress.show("publishing", &d);
        assert!(
            !d.iter().any(failed),
            "a deal failed: {:?}",
            d.iter().find(|d| failed(d))
        );
        if count_in(&d, StorageDealStatus::Publish) > 0 {
            m.deal_cmd(&["pending-publish", "--publish-now"]);
        }
        let waiting = d
            .iter()
            .filter(|d| {
                d["State"].as_u64() != Some(StorageDealStatus::AwaitingPreCommit.code())
                    && d["State"].as_u64() != Some(StorageDealStatus::Sealing.code())
            })
            .count();
        (waiting == 0).then_some(())
    });
    phase("published", &mut phase_start);

    wait_for("every deal Active at droplet", limit, None, || {
        let d = m.deals();
        progress.show("sealing", &d);
        assert!(
            !d.iter().any(failed),
            "a deal failed: {:?}",
            d.iter().find(|d| failed(d))
        );
        if count_in(&d, StorageDealStatus::Active) == deals {
            return Some(());
        }
        if count_in(&d, StorageDealStatus::AwaitingPreCommit) > 0 {
            m.seal_once();
        }
        std::thread::sleep(Duration::from_millis(200));
        None
    });
    phase("sealed and Active at droplet", &mut phase_start);

    wait_for("every deal Active at droplet-client", limit, None, || {
        let d = client_deals(&m);
        progress.show("droplet-client", &d);
        assert!(!d.iter().any(failed), "a client deal failed");
        (count_in(&d, StorageDealStatus::Active) == deals).then_some(())
    });
    phase("Active at droplet-client", &mut phase_start);

    if !hold.is_zero() {
        let end = Instant::now() + hold;
        while Instant::now() < end {
            assert_eq!(m.deals().len(), deals, "droplet lists every deal");
            assert_eq!(client_deals(&m).len(), deals, "droplet-client lists every deal");
            std::thread::sleep(Duration::from_secs(5));
        }
        phase("held, listed every 5 s", &mut phase_start);
    }
    let samples = sampler.stop();
    let phases = phases
        .into_iter()
        .map(|(name, seconds, droplet_kib, client_kib, (from, to))| {
            let spread = |i: usize, end: u64| {
                let readings: Vec<u64> = samples
                    .iter()
                    .filter(|s| s.at >= from && s.at <= to)
                    .map(|s| s.kib[i])
                    .chain([end])
                    .collect();
                Spread::of(&readings)
            };
            Phase {
                name,
                seconds,
                droplet_kib,
                client_kib,
                droplet: spread(0, droplet_kib),
                client: spread(1, client_kib),
            }
        })
        .collect();

    let droplet_peak_kib = crate::memory::peak_rss_kib(pids.0);
    let client_peak_kib = crate::memory::peak_rss_kib(pids.1);

    // Accounting: every deal once, its own deal ID, published once, batches under the cap.
    let d = m.deals();
    assert_eq!(d.len(), deals, "droplet has each deal once");
    let ids: BTreeSet<u64> = d.iter().filter_map(|d| d["DealID"].as_u64()).collect();
    assert_eq!(ids.len(), deals, "each deal its own deal ID");
    let pieces: BTreeSet<&str> = d
        .iter()
        .filter_map(|d| d["Proposal"]["PieceCID"]["/"].as_str())
        .collect();
    assert_eq!(pieces.len(), deals, "each deal its own piece");
    let mut batches: BTreeMap<String, usize> = BTreeMap::new();
    for deal in &d {
        let publish = deal["PublishCid"]["/"].as_str().expect("every deal was published");
        *batches.entry(publish.to_string()).or_default() += 1;
    }
    let largest_batch = batches.values().copied().max().unwrap_or(0);
    assert!(
        largest_batch <= cap,
        "a publish message over the cap: {largest_batch} > {cap}"
    );
    let c = client_deals(&m);
    assert_eq!(c.len(), deals, "droplet-client has each deal once");
    let sectors = d
        .iter()
        .filter_map(|d| d["SectorNumber"].as_u64())
        .collect::<BTreeSet<_>>()
        .len();

    Report {
        deals,
        cap,
        phases,
        publish_messages: batches.len(),
        largest_batch,
        sectors,
        droplet_peak_kib,
        client_peak_kib,
    }
}

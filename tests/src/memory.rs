//! A process's resident memory and CPU time, read from `/proc`. Shared with `cargo xtask bench` (included
//! there by path: this file uses nothing but std).

/// A `/proc/<pid>/status` field in KiB (0 when it cannot be read).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Resident memory of process `pid`, in KiB (0 when it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// The most resident memory process `pid` has had, in KiB (0 when it cannot be read).
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// User and system CPU time process `pid` has used (zero when it cannot be read). Linux
/// counts it in clock ticks of 1/100 s (`CLK_TCK`, 100 on every Linux platform we run on).
pub fn cpu_time(pid: u32) -> std::time::Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The fields after the command name, which may hold spaces, in parentheses.
            let rest = stat.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    std::time::Duration::from_millis(ticks * 10)
}

/// The whole machine's CPU time so far, from `/proc/stat`'s `cpu` line: (busy, all), in ticks.
/// Busy is everything but idle and I/O wait; a window's share of busy time is the difference
/// of two readings.
pub fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let all: u64 = f.iter().take(8).sum();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    (all.saturating_sub(idle), all)
}

/// Resident memory of some processes read every `every` on a thread of its own, until
/// [`Sampler::stop`]: what a bench shows between the points it reads itself.
#[derive(Debug)]
pub struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<Sample>>>,
}

/// One reading: when (since the sampler started) and each process's RSS in KiB, in the order
/// the sampler was given them.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: std::time::Duration,
    pub kib: Vec<u64>,
}

impl Sampler {
    pub fn start(pids: Vec<u32>, every: std::time::Duration) -> Sampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let mut samples = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                samples.push(Sample {
                    at: start.elapsed(),
                    kib: pids.iter().map(|&p| rss_kib(p)).collect(),
                });
                // Short naps, so that stopping does not wait a whole period.
                let next = start.elapsed() + every;
                while start.elapsed() < next && !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
            samples
        });
        Sampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling and hands back every reading, oldest first.
    pub fn stop(mut self) -> Vec<Sample> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

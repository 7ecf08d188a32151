//! Progress for CLI work that can take more than a second (importing, commP, CAR generation,
//! batches, retrievals, waiting for messages): nothing for work done within the first second;
//! after it, an indicatif bar (or spinner) on stderr when stderr is a terminal, otherwise a
//! plain line on stderr every few seconds and one at the end, so logs of scripted runs show
//! where long work is without control characters. stdout stays the command's own output.
//!
//! `DROPLET_PROGRESS_AFTER` (a Go duration, default `1s`) changes when progress starts.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

fn quiet_for() -> Duration {
    std::env::var("DROPLET_PROGRESS_AFTER")
        .ok()
        .and_then(|s| market_types::units::parse_go_duration(&s).ok())
        .unwrap_or(Duration::from_secs(1))
}

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Bytes,
    /// Items, named (`deals`, `proposals`).
    Items(&'static str),
}

impl Unit {
    fn amount(self, n: u64) -> String {
        match self {
            Unit::Bytes => HumanBytes(n).to_string(),
            Unit::Items(name) => format!("{n} {name}"),
        }
    }
}

/// How progress is shown once it is.
#[derive(Debug)]
enum Shown {
    Not,
    Bar(ProgressBar),
    Plain { last: Instant },
}

/// Progress of work with a known total.
#[derive(Debug)]
pub struct Progress {
    what: String,
    total: u64,
    unit: Unit,
    done: u64,
    started: Instant,
    after: Duration,
    terminal: bool,
    shown: Shown,
}

impl Progress {
    /// Bytes of `total`.
    pub fn bytes(what: &str, total: u64) -> Self {
        Self::new(what, total, Unit::Bytes)
    }

    /// `total` items called `unit` (`"deals"`).
    pub fn items(what: &str, total: u64, unit: &'static str) -> Self {
        Self::new(what, total, Unit::Items(unit))
    }

    fn new(what: &str, total: u64, unit: Unit) -> Self {
        Progress {
            what: what.to_string(),
            total,
            unit,
            done: 0,
            started: Instant::now(),
            after: quiet_for(),
            terminal: std::io::stderr().is_terminal(),
            shown: Shown::Not,
        }
    }

    fn start_showing(&mut self) {
        self.shown = if self.terminal {
            let template = match self.unit {
                Unit::Bytes => "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                Unit::Items(_) => "{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
            };
            let bar = ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(self.what.clone());
            Shown::Bar(bar)
        } else {
            // Due at once: the first plain line says that the work is under way.
            Shown::Plain {
                last: Instant::now() - PLAIN_EVERY,
            }
        };
    }

    fn percent(&self) -> u64 {
        if self.total == 0 {
            100
        } else {
            (self.done.min(self.total) as u128 * 100 / self.total as u128) as u64
        }
    }

    /// The work has done `done` of the total.
    pub fn set(&mut self, done: u64) {
        self.done = done;
        if matches!(self.shown, Shown::Not) && self.started.elapsed() >= self.after {
            self.start_showing();
        }
        let line = match &mut self.shown {
            Shown::Not => None,
            Shown::Bar(bar) => {
                bar.set_position(done);
                None
            }
            Shown::Plain { last } if last.elapsed() >= PLAIN_EVERY => {
                *last = Instant::now();
                Some(())
            }
            Shown::Plain { .. } => None,
        };
        if line.is_some() {
            eprintln!(
                "{}: {}% ({} of {})",
                self.what,
                self.percent(),
                self.unit.amount(self.done),
                self.unit.amount(self.total)
            );
        }
    }

    /// The work is over (done or not): the bar goes, a plain run says how it ended.
    pub fn finish(self) {
        match self.shown {
            Shown::Not => {}
            Shown::Bar(bar) => bar.finish_and_clear(),
            Shown::Plain { .. } => eprintln!(
                "{}: {} in {:.1}s",
                self.what,
                self.unit.amount(self.done),
                self.started.elapsed().as_secs_f64()
            ),
        }
    }
}

/// A wait without a measure (a message landing on chain, the daemon importing a file): a
/// spinner with the time so far, or a plain line every few seconds; stopped by [`Waiting::done`]
/// or when dropped.
#[derive(Debug)]
pub struct Waiting {
    stop: Arc<AtomicBool>,
    task: Option<std::thread::JoinHandle<()>>,
}

impl Waiting {
    pub fn start(what: &str) -> Waiting {
        let stop = Arc::new(AtomicBool::new(false));
        let (what, flag, after) = (what.to_string(), stop.clone(), quiet_for());
        let terminal = std::io::stderr().is_terminal();
        let task = std::thread::spawn(move || {
            let started = Instant::now();
            let tick = Duration::from_millis(100);
            while started.elapsed() < after {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(tick);
            }
            let bar = terminal.then(|| {
                let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                    b.set_style(style);
                }
                b.set_message(what.clone());
                b
            });
            let mut last: Option<Instant> = None;
            while !flag.load(Ordering::Relaxed) {
                match &bar {
                    Some(b) => b.tick(),
                    None if last.is_none_or(|l| l.elapsed() >= PLAIN_EVERY) => {
                        eprintln!("{what}: waiting ({}s)", started.elapsed().as_secs());
                        last = Some(Instant::now());
                    }
                    None => {}
                }
                std::thread::sleep(tick);
            }
            match bar {
                Some(b) => b.finish_and_clear(),
                None => eprintln!("{what}: done in {:.1}s", started.elapsed().as_secs_f64()),
            }
        });
        Waiting { stop, task: Some(task) }
    }

    /// The wait is over.
    pub fn done(mut self) {
        self.end();
    }

    fn end(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.task.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.end();
    }
}

/// Run `f` (an `await`able wait) with a [`Waiting`] shown for it.
pub async fn waiting<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    let w = Waiting::start(what);
    let out = f.await;
    w.done();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_amounts_read_plainly() {
        let mut p = Progress::items("proposing", 3, "deals");
        p.terminal = false;
        p.set(1);
        assert_eq!(p.percent(), 33);
        assert_eq!(Unit::Items("deals").amount(2), "2 deals");
        assert_eq!(Unit::Bytes.amount(3 * 1024 * 1024), "3.00 MiB");
        let empty = Progress::bytes("nothing", 0);
        assert_eq!(empty.percent(), 100);
    }
}

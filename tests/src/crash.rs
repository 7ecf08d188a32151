//! The crash matrix at random: one market (devnet, droplet, droplet-client) goes through many
//! trials; each starts one flow (an offline storage deal, an online storage deal, or a paid
//! retrieval), SIGKILLs droplet or droplet-client at a random moment of it, starts the victim
//! again, and drives the flow to its end as an operator would (importing data, publishing,
//! sealing). After every trial the whole market is checked: no deal lost, none published
//! twice, no funds left reserved, every deal Active or failed with a reason on both sides, and
//! what droplet received for retrievals exactly what its vouchers are worth and what the client
//! paid. `cargo xtask crash` runs it (`tests/examples/crash.rs`); the fixed set of kills is in
//! `tests/tests/flows.rs` and `tests/tests/retrieval.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use market_types::states::{RetrievalDealStatus, StorageDealStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::market::{MINER, Market, setup};
use crate::procs::{Proc, run};
use crate::retrieval::{chain_rpc, droplet_rpc, retrieve_args, set_priced_ask, try_client_rpc, two_active_deals};

/// The process a trial kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Victim {
    Droplet,
    Client,
}

/// What a trial does while the kill comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flow {
    /// `storage deals init` with a manual piece, `import-data`, publish, seal, Active.
    Offline,
    /// An online deal: droplet downloads the data from droplet-client.
    Online,
    /// `retrieval retrieve` of a 2.5 MiB file, paid per 16 KiB through a payment channel.
    Retrieval,
}

const FLOWS: [Flow; 3] = [Flow::Offline, Flow::Online, Flow::Retrieval];

/// How long a flow may take to settle after its kill before the trial counts as a finding.
const SETTLE: Duration = Duration::from_secs(180);

/// One trial: what was killed, when, in what state the deal was found after the restart, and
/// how each side ended.
#[derive(Debug, Clone)]
pub struct Trial {
    pub victim: Victim,
    pub flow: Flow,
    pub delay: Duration,
    /// The trial's deal as the restarted victim found it (its persisted state at the kill).
    pub caught: String,
    /// How the deal ended: `Active`, `Completed` or the failure with its reason.
    pub ended: String,
    pub seconds: f64,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub seed: u64,
    pub trials: Vec<Trial>,
    /// Each flow's uninterrupted length, from which the kill delays were drawn.
    pub spans: BTreeMap<Flow, Duration>,
    pub seconds: f64,
}

impl Report {
    pub fn print(&self) {
        println!(
            "crash matrix: {} trials, seed {}, {:.0} s in all",
            self.trials.len(),
            self.seed,
            self.seconds
        );
        for (flow, span) in &self.spans {
            println!(
                "  {flow:?}: {:.1} s uninterrupted (kills drawn over it)",
                span.as_secs_f64()
            );
        }
        let mut cells: BTreeMap<(Victim, Flow), BTreeMap<String, usize>> = BTreeMap::new();
        for t in &self.trials {
            *cells
                .entry((t.victim, t.flow))
                .or_default()
                .entry(t.caught.clone())
                .or_default() += 1;
        }
        for ((victim, flow), caught) in &cells {
            let n: usize = caught.values().sum();
            println!("  {victim:?} killed during {flow:?}: {n} trials; caught in:");
            for (state, k) in caught {
                println!("    {k:>3} × {state}");
            }
        }
        let mut ends: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &self.trials {
            *ends.entry(t.ended.as_str()).or_default() += 1;
        }
        println!("  how the trials' deals ended:");
        for (end, k) in ends {
            println!("    {k:>3} × {end}");
        }
        println!("  every check held after every trial");
    }
}

/// Run `trials` trials drawn from `seed`: victim, flow and the moment of the kill, half of
/// them uniform over the flow's uninterrupted length and half over its first tenth (where a
/// storage deal is proposed, checked, funded and its data taken in, all within a second or
/// two, before a sealing that takes most of the flow). Panics with the trial and what broke
/// at the first check that fails.
pub fn run_matrix(trials: usize, seed: u64) -> Report {
    let mut rng = StdRng::seed_from_u64(seed);
    let cases = (0..trials)
        .map(|_| {
            let victim = if rng.random_bool(0.5) {
                Victim::Droplet
            } else {
                Victim::Client
            };
            let flow = FLOWS[rng.random_range(0..FLOWS.len())];
            let early = rng.random_bool(0.5);
            let at = rng.random::<f64>() * if early { 0.1 } else { 1.0 };
            (victim, flow, at)
        })
        .collect();
    run_cases(cases, seed)
}

impl Trial {
    /// Whether the kill caught the flow under way (not before it began or after it ended).
    pub fn caught_under_way(&self) -> bool {
        !matches!(
            self.caught.as_str(),
            "not killed" | "after the flow ended" | "before the flow started" | "no deal yet"
        )
    }
}

/// Run the given trials: each a victim, a flow, and when in the flow the kill comes (a
/// fraction of the flow's uninterrupted length).
pub fn run_cases(cases: Vec<(Victim, Flow, f64)>, seed: u64) -> Report {
    run_cases_in(setup(), cases, seed)
}

/// [`run_cases`] on a market set up by the caller (droplet on a SQL store, say).
pub fn run_cases_in(mut m: Market, cases: Vec<(Victim, Flow, f64)>, seed: u64) -> Report {
    let started = Instant::now();
    let (root, big) = two_active_deals(&m);
    set_priced_ask(&m);
    // The CAR droplet-client serves for online deals.
    let imported = m.client(&["data", "import", "--car", &m.car]);
    assert!(imported.starts_with("Import "), "{imported}");
    let mut world = World {
        root,
        big,
        next_duration: 518_400,
    };
    // Each flow once without a kill: how long it takes, the span kills are drawn over.
    let mut spans = BTreeMap::new();
    for flow in FLOWS {
        let t = Instant::now();
        let end = world.trial(&mut m, flow, None);
        assert!(
            end.ended == "Active" || end.ended == "Completed",
            "{flow:?} without a kill ended {}",
            end.ended
        );
        check(&m);
        spans.insert(flow, t.elapsed());
    }
    let mut done = Vec::new();
    for (n, (victim, flow, at)) in cases.into_iter().enumerate() {
        let delay = spans[&flow].mul_f64(at.clamp(0.0, 1.0));
        let t = Instant::now();
        let mut trial = world.trial(&mut m, flow, Some((victim, delay)));
        trial.seconds = t.elapsed().as_secs_f64();
        eprintln!(
            "crash: trial {n}: {victim:?} killed {} ms into {flow:?}, caught {}, ended {} ({:.1} s)",
            delay.as_millis(),
            trial.caught,
            trial.ended,
            trial.seconds
        );
        check(&m);
        done.push(trial);
    }
    Report {
        seed,
        trials: done,
        spans,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Says where a flow's deal is, as the restarted victim found it.
type Find<'a> = dyn Fn(&Market, Victim) -> String + 'a;

/// A trial's kill: armed, then seen and recovered from once.
struct Crash {
    killer: Option<(Victim, Killer)>,
    restarted: bool,
    /// Where the trial's deal was when the victim came back.
    caught: String,
}

impl Crash {
    /// Start the victim again if it has been killed and not yet restarted, and note (`find`)
    /// where the deal was; a no-op otherwise.
    fn recover(&mut self, m: &mut Market, find: &Find<'_>) {
        let Some((victim, k)) = &self.killer else { return };
        if self.restarted || !k.fired() {
            return;
        }
        match victim {
            Victim::Droplet => m.restart_droplet_with(&[]),
            Victim::Client => m.restart_client(),
        }
        self.restarted = true;
        self.caught = find(m, *victim);
    }
}

struct World {
    root: String,
    big: Vec<u8>,
    next_duration: u64,
}

/// SIGKILLs a process after a delay, on its own thread, and says when it has.
struct Killer {
    fired: Arc<AtomicBool>,
}

impl Killer {
    fn arm(pid: u32, delay: Duration) -> Killer {
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            flag.store(true, Ordering::SeqCst);
        });
        Killer { fired }
    }

    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// droplet or droplet-client's stdout, or None while it is down or the call fails.
fn try_cli(bin: &str, repo: &str, args: &[&str]) -> Option<String> {
    let mut all = vec!["--repo", repo];
    all.extend_from_slice(args);
    let out = run(bin, &all);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn provider_deals(m: &Market) -> Option<Vec<Value>> {
    let out = try_cli(
        "droplet",
        &m.provider,
        &["storage", "deal", "list", "--json", "--limit", "0"],
    )?;
    serde_json::from_str::<Value>(&out).ok()?.as_array().cloned()
}

/// Every deal droplet-client stored, failed ones too (its list hides those by default): a deal
/// whose proposal went out just as droplet was killed ends failed at the client, not lost.
fn client_deals(m: &Market) -> Option<Vec<Value>> {
    let out = try_cli(
        "droplet-client",
        &m.client,
        &["storage", "deals", "list", "--json", "--show-failed"],
    )?;
    serde_json::from_str::<Value>(&out).ok()?.as_array().cloned()
}

fn proposal_of(d: &Value) -> String {
    d["ProposalCid"]["/"].as_str().unwrap_or_default().to_string()
}

fn storage_state(d: &Value) -> StorageDealStatus {
    d["State"]
        .as_u64()
        .and_then(StorageDealStatus::from_u64)
        .unwrap_or(StorageDealStatus::Unknown)
}

/// Active, or a state it never leaves.
fn settled(state: StorageDealStatus) -> bool {
    state == StorageDealStatus::Active || state.is_terminal()
}

fn describe_end(state: StorageDealStatus, d: &Value) -> String {
    if state == StorageDealStatus::Active {
        "Active".into()
    } else {
        format!("{}: {}", state.name(), short(d["Message"].as_str().unwrap_or_default()))
    }
}

/// The first words of a message, enough to group the trials' endings.
fn short(message: &str) -> String {
    let cut: String = message.chars().take(70).collect();
    if cut.len() < message.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

impl World {
    /// One flow, with or without a kill; the trial's deal as the restart found it and how it
    /// ended.
    fn trial(&mut self, m: &mut Market, flow: Flow, kill: Option<(Victim, Duration)>) -> Trial {
        let mut crash = Crash {
            killer: kill.map(|(victim, delay)| {
                let pid = match victim {
                    Victim::Droplet => m.droplet.as_ref().expect("droplet runs").pid(),
                    Victim::Client => m._client.pid(),
                };
                (victim, Killer::arm(pid, delay))
            }),
            restarted: false,
            caught: "not killed".to_string(),
        };
        let ended = match flow {
            Flow::Offline | Flow::Online => self.storage(m, flow, &mut crash),
            Flow::Retrieval => self.retrieval(m, &mut crash),
        };
        // A kill drawn after the flow ended still comes: restart, and check the market after.
        if let Some((_, k)) = &crash.killer {
            while !k.fired() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        crash.recover(m, &|_, _| "after the flow ended".to_string());
        Trial {
            victim: kill.map_or(Victim::Droplet, |k| k.0),
            flow,
            delay: kill.map_or(Duration::ZERO, |k| k.1),
            caught: crash.caught,
            ended,
            seconds: 0.0,
        }
    }

    /// An offline or online storage deal driven to Active (or its failure) on both sides.
    fn storage(&mut self, m: &mut Market, flow: Flow, crash: &mut Crash) -> String {
        let before: BTreeSet<String> = wait_some(m, crash, client_deals).iter().map(proposal_of).collect();
        self.next_duration += 1;
        let duration = self.next_duration.to_string();
        let size = m.piece_size.to_string();
        let mut args = vec![
            "storage",
            "deals",
            "init",
            m.root.as_str(),
            MINER,
            "0.0000001",
            duration.as_str(),
        ];
        if flow == Flow::Offline {
            args.extend([
                "--manual-piece-cid",
                m.piece.as_str(),
                "--manual-piece-size",
                size.as_str(),
            ]);
        }
        let proposed = try_cli("droplet-client", &m.client, &args);
        let find = |m: &Market, victim: Victim| -> String {
            let found = match victim {
                Victim::Droplet => provider_deals(m),
                Victim::Client => client_deals(m),
            }
            .unwrap_or_default()
            .into_iter()
            .find(|d| !before.contains(&proposal_of(d)));
            match found {
                Some(d) => storage_state(&d).name().to_string(),
                None => "no deal yet".into(),
            }
        };
        crash.recover(m, &find);
        // The deal: the proposal CID the CLI printed, or the one the client recorded.
        let deadline = Instant::now() + SETTLE;
        let proposal = loop {
            crash.recover(m, &find);
            if let Some(p) = proposed.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                break Some(p.to_string());
            }
            if let Some(list) = client_deals(m) {
                if let Some(d) = list.iter().find(|d| !before.contains(&proposal_of(d))) {
                    break Some(proposal_of(d));
                }
                // Nothing recorded: the client died before it stored the deal.
                if restart_done(m) {
                    break None;
                }
            }
            assert!(Instant::now() < deadline, "no answer from droplet-client");
            std::thread::sleep(Duration::from_millis(100));
        };
        let Some(proposal) = proposal else {
            return "never proposed (droplet-client kept no record of it)".into();
        };
        loop {
            crash.recover(m, &find);
            assert!(
                Instant::now() < deadline,
                "deal {proposal} did not settle within {} s: droplet {:?}, droplet-client {:?}",
                SETTLE.as_secs(),
                provider_deals(m).and_then(|l| l.into_iter().find(|d| proposal_of(d) == proposal)),
                client_deals(m).and_then(|l| l.into_iter().find(|d| proposal_of(d) == proposal)),
            );
            std::thread::sleep(Duration::from_millis(150));
            let (Some(pl), Some(cl)) = (provider_deals(m), client_deals(m)) else {
                continue;
            };
            let p = pl.into_iter().find(|d| proposal_of(d) == proposal);
            let c = cl.into_iter().find(|d| proposal_of(d) == proposal);
            let Some(c) = c else {
                panic!("droplet-client lost deal {proposal}");
            };
            let cs = storage_state(&c);
            let Some(p) = p else {
                // droplet never had it: the client must say it failed.
                if cs.is_terminal() {
                    return format!("client only, {}", describe_end(cs, &c));
                }
                continue;
            };
            let ps = storage_state(&p);
            // The operator's part.
            match ps {
                StorageDealStatus::WaitingForData if flow == Flow::Offline => {
                    let _ = try_cli(
                        "droplet",
                        &m.provider,
                        &["storage", "deal", "import-data", &proposal, &m.car],
                    );
                }
                StorageDealStatus::Publish => {
                    let _ = try_cli(
                        "droplet",
                        &m.provider,
                        &["storage", "deal", "pending-publish", "--publish-now"],
                    );
                }
                StorageDealStatus::AwaitingPreCommit => {
                    let _ = m.try_seal_once();
                }
                _ => {}
            }
            if settled(ps) && settled(cs) {
                assert!(
                    (ps == StorageDealStatus::Active) == (cs == StorageDealStatus::Active),
                    "deal {proposal}: droplet says {}, droplet-client says {}",
                    describe_end(ps, &p),
                    describe_end(cs, &c)
                );
                if ps == StorageDealStatus::Active {
                    assert_eq!(p["DealID"], c["DealID"], "deal {proposal}: one deal ID on both sides");
                }
                return describe_end(ps, &p);
            }
        }
    }

    /// A paid retrieval of the 2.5 MiB file, to its end on both sides.
    fn retrieval(&mut self, m: &mut Market, crash: &mut Crash) -> String {
        let before: BTreeSet<u64> = wait_some(m, crash, client_retrievals)
            .iter()
            .filter_map(|r| r["ID"].as_u64())
            .collect();
        let out = Path::new(&m.client).with_file_name("crash-retrieved.bin");
        let _ = std::fs::remove_file(&out);
        let log = Path::new(&m.client).with_file_name("crash-retrieve.log");
        let args = retrieve_args(m, &self.root, &out, &["--maxPrice", "1"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut retrieving = Proc::start("droplet-client", &args, &log);
        let find = |m: &Market, victim: Victim| -> String {
            match victim {
                // The provider's deal carries the client's deal ID.
                Victim::Droplet => provider_retrievals(m)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|d| d["DealProposal"]["ID"].as_u64().is_some_and(|id| !before.contains(&id)))
                    .map(|d| retrieval_state(&d))
                    .unwrap_or_else(|| "no deal yet".into()),
                Victim::Client => client_retrievals(m)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|r| r["ID"].as_u64().is_some_and(|id| !before.contains(&id)))
                    .map(|r| retrieval_state(&r))
                    .unwrap_or_else(|| "no deal yet".into()),
            }
        };
        let deadline = Instant::now() + SETTLE;
        let status = loop {
            crash.recover(m, &find);
            if let Some(status) = retrieving.exited() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the retrieval did not end:\n{}",
                retrieving.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        if status.success() {
            assert_eq!(std::fs::read(&out).expect("retrieved"), self.big, "the data retrieved");
        }
        // Both sides come to an end: none left waiting for a payment that will not come.
        loop {
            crash.recover(m, &find);
            let (Some(pl), Some(cl)) = (provider_retrievals(m), client_retrievals(m)) else {
                std::thread::sleep(Duration::from_millis(150));
                continue;
            };
            let open_p: Vec<&Value> = pl.iter().filter(|d| !retrieval_done(d)).collect();
            let open_c: Vec<&Value> = cl.iter().filter(|d| !retrieval_done(d)).collect();
            if open_p.is_empty() && open_c.is_empty() {
                let mine = cl
                    .iter()
                    .find(|r| r["ID"].as_u64().is_some_and(|id| !before.contains(&id)));
                return match mine {
                    Some(r) if r["Status"].as_u64() == Some(RetrievalDealStatus::Completed.code()) => {
                        // The daemon writes the file before it completes the retrieval; a CLI
                        // whose daemon was killed after that reports the lost daemon.
                        assert_eq!(std::fs::read(&out).expect("retrieved"), self.big, "the data retrieved");
                        if status.success() {
                            "Completed".into()
                        } else {
                            "Completed (the CLI waiting on it lost its daemon)".into()
                        }
                    }
                    Some(r) => format!(
                        "{}: {}",
                        retrieval_state(r),
                        short(r["Message"].as_str().unwrap_or_default())
                    ),
                    None => "never started (no deal at droplet-client: the query or the proposal failed)".into(),
                };
            }
            assert!(
                Instant::now() < deadline,
                "retrievals did not end within {} s: droplet {open_p:?}, droplet-client {open_c:?}",
                SETTLE.as_secs()
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

/// A listing, waiting out a daemon's restart.
fn wait_some(m: &mut Market, crash: &mut Crash, list: fn(&Market) -> Option<Vec<Value>>) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        crash.recover(m, &|_, _| "before the flow started".to_string());
        if let Some(l) = list(m) {
            return l;
        }
        assert!(Instant::now() < deadline, "no listing");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether droplet-client answers (so a deal it does not list is one it never stored).
fn restart_done(m: &Market) -> bool {
    client_deals(m).is_some()
}

fn provider_retrievals(m: &Market) -> Option<Vec<Value>> {
    let r = droplet_rpc(m, "MarketListRetrievalDeals", json!([{}]))?;
    r["result"].as_array().cloned()
}

fn client_retrievals(m: &Market) -> Option<Vec<Value>> {
    let r = try_client_rpc(m, "ClientListRetrievals", json!([]))?;
    r["result"].as_array().cloned()
}

fn retrieval_state(d: &Value) -> String {
    d["Status"]
        .as_u64()
        .and_then(RetrievalDealStatus::from_u64)
        .map(|s| s.name().to_string())
        .unwrap_or_else(|| d["Status"].to_string())
}

fn retrieval_done(d: &Value) -> bool {
    use RetrievalDealStatus as R;
    matches!(
        d["Status"].as_u64().and_then(R::from_u64),
        Some(R::Completed | R::Errored | R::Rejected | R::Cancelled | R::DealNotFound)
    )
}

fn atto(v: &Value) -> u128 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The checks that hold after every trial, over the whole market.
pub fn check(m: &Market) {
    let pl = provider_deals(m).expect("droplet lists its deals");
    let cl = client_deals(m).expect("droplet-client lists its deals");
    // No deal lost: every deal droplet has, droplet-client has too.
    let client_has: BTreeSet<String> = cl.iter().map(proposal_of).collect();
    for d in &pl {
        assert!(
            client_has.contains(&proposal_of(d)),
            "droplet has deal {} that droplet-client lost",
            proposal_of(d)
        );
    }
    // None published twice: droplet's deal IDs are distinct and are all the chain holds for
    // the miner.
    let mine: BTreeSet<u64> = pl
        .iter()
        .filter(|d| d["PublishCid"]["/"].is_string())
        .filter_map(|d| d["DealID"].as_u64())
        .collect();
    let published = pl.iter().filter(|d| d["PublishCid"]["/"].is_string()).count();
    assert_eq!(mine.len(), published, "each published deal its own deal ID");
    let chain = chain_rpc(m, "Filecoin.StateMarketDeals", json!([[]]));
    let on_chain: BTreeSet<u64> = chain["result"]
        .as_object()
        .expect("StateMarketDeals")
        .iter()
        .filter(|(_, d)| d["Proposal"]["Provider"] == MINER)
        .filter_map(|(id, _)| id.parse().ok())
        .collect();
    assert_eq!(on_chain, mine, "the chain's deals for {MINER} are droplet's, each once");
    // Nothing left reserved once every deal has settled: the ledger is what the chain says.
    let reserved = |bin: &str, repo: &str, args: &[&str]| -> String {
        let out = try_cli(bin, repo, args).expect("actor-funds balances");
        out.lines()
            .find_map(|l| l.trim().strip_prefix("Reserved Funds:"))
            .unwrap_or_else(|| panic!("no reserved funds in {out}"))
            .trim()
            .to_string()
    };
    assert_eq!(
        reserved("droplet", &m.provider, &["actor-funds", "balances", MINER]),
        "0 FIL",
        "droplet holds nothing back once its deals settled"
    );
    assert_eq!(
        reserved("droplet-client", &m.client, &["actor-funds", "balances"]),
        "0 FIL",
        "droplet-client holds nothing back once its deals settled"
    );
    // Retrievals: droplet counts what its vouchers are worth, no more, no less; and, deal by
    // deal, no more than the client paid.
    let retrievals = provider_retrievals(m).expect("droplet lists its retrievals");
    let received: u128 = retrievals.iter().map(|d| atto(&d["FundsReceived"])).sum();
    let channels = droplet_rpc(m, "PaychInboundList", json!([])).expect("inbound channels");
    let best: u128 = channels["result"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| atto(&c["Best"]))
        .sum();
    assert_eq!(
        received, best,
        "droplet's deals received what its best vouchers are worth"
    );
    let clients: BTreeMap<u64, Value> = client_retrievals(m)
        .expect("client retrievals")
        .into_iter()
        .filter_map(|r| Some((r["ID"].as_u64()?, r)))
        .collect();
    for d in &retrievals {
        let id = d["DealProposal"]["ID"].as_u64().expect("deal id");
        let got = atto(&d["FundsReceived"]);
        let c = clients
            .get(&id)
            .unwrap_or_else(|| panic!("droplet has retrieval {id}, droplet-client does not"));
        let paid = atto(&c["TotalPaid"]);
        // droplet never counts more than the client spent, and a completed retrieval agrees
        // to the attoFIL. (A client killed between making a voucher and recording it sent
        // counts it spent: its lane is committed to it, and the provider may hold it.)
        assert!(
            got <= paid,
            "retrieval {id}: droplet received {got}, more than the {paid} droplet-client says it paid"
        );
        if c["Status"].as_u64() == Some(RetrievalDealStatus::Completed.code()) {
            assert_eq!(
                got, paid,
                "retrieval {id} completed: droplet received what the client paid"
            );
        }
    }
}

//! The whole market with droplet's store in a real MariaDB and a real PostgreSQL (droplet's
//! `--mysql-dsn`, servers started here on loopback): an offline deal, an online deal and a
//! paid retrieval each run to their end, then again with droplet SIGKILLed half way through
//! (and droplet-client once in a retrieval); after each, the crash matrix's checks of the
//! whole market hold (every deal on both sides, each published once, the ledger and the
//! chain agreeing, nothing left reserved, vouchers equal to the funds received).

use tests::crash::{Flow, Victim, run_cases_in};
use tests::market::setup_on;
use tests::sqlserver::{Engine, SqlServer};

fn market_on(engine: Engine) {
    let server = SqlServer::start(engine);
    let dsn = server.database();
    let m = setup_on("200ms", Some(&dsn));
    let provider = m.provider.clone();
    let cases = vec![
        (Victim::Droplet, Flow::Offline, 0.3),
        (Victim::Droplet, Flow::Online, 0.3),
        (Victim::Droplet, Flow::Retrieval, 0.3),
        (Victim::Client, Flow::Retrieval, 0.5),
    ];
    let report = run_cases_in(m, cases, 0);
    report.print();
    assert_eq!(report.trials.len(), 4);
    // The records are in the database, not in a RocksDB under the repo.
    let count = server.query(&dsn, "SELECT COUNT(*) FROM market_records WHERE tbl = 'deal/'");
    let deals: u32 = count
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next()
        .unwrap_or_else(|| panic!("{count}"));
    assert!(deals >= 4, "{engine:?}: {deals} deals in the database");
    assert!(
        !std::path::Path::new(&provider).join("db").join("CURRENT").exists(),
        "no RocksDB under the repo"
    );
    // So is the piece index the retrievals were served through.
    for (table, least) in [
        ("piece_index_pieces", 2u32),
        ("piece_index_payloads", 2),
        ("piece_index_blocks", 2),
    ] {
        let count = server.query(&dsn, &format!("SELECT COUNT(*) FROM {table}"));
        let rows: u32 = count
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .next()
            .unwrap_or_else(|| panic!("{count}"));
        assert!(rows >= least, "{engine:?}: {rows} rows in {table}");
    }
    assert!(
        !std::path::Path::new(&provider).join("piece-index").exists(),
        "no piece index under the repo"
    );
}

#[test]
fn deals_funds_and_paid_retrievals_run_and_survive_kills_with_droplet_on_mariadb() {
    market_on(Engine::MariaDb);
}

#[test]
fn deals_funds_and_paid_retrievals_run_and_survive_kills_with_droplet_on_postgresql() {
    market_on(Engine::Postgres);
}

/// A second droplet started on the database for the same miner stands by while the first
/// holds the miner's lease (it serves its API, but neither takes the miner's deals in nor acts
/// on them); when the first is SIGKILLed it takes over once the lease lapses, and the deal the
/// first took in goes on to Active through it, the market whole afterwards.
#[test]
fn a_standby_droplet_on_the_same_database_takes_over_the_deals_of_one_killed() {
    let server = SqlServer::start(Engine::MariaDb);
    let dsn = server.database();
    let mut m = setup_on("200ms", Some(&dsn));
    let dir = m._dir.path().to_path_buf();
    let (mut standby, standby_repo) = start_standby(&m, &dsn, "standby");
    // A deal taken in by the first droplet, waiting for its data.
    let out = m.init("0.0000001", "518400", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let proposal = String::from_utf8_lossy(&out.stdout).trim().to_string();
    m.wait_state(&proposal, "StorageDealWaitingForData");
    let refused = tests::procs::run(
        "droplet",
        &[
            "--repo",
            &standby_repo,
            "storage",
            "deal",
            "import-data",
            &proposal,
            &m.car,
        ],
    );
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success(), "the standby does not act on the deal");
    assert!(said.contains("served by another droplet"), "{said}");

    // The first dies; the standby takes over once its lease lapses (3 s in the tests).
    m.droplet.take().expect("droplet runs").kill();
    let t = std::time::Instant::now();
    tests::procs::wait_for(
        "the standby to take over",
        std::time::Duration::from_secs(60),
        Some(&mut standby),
        || {
            std::fs::read_to_string(dir.join("standby.log"))
                .is_ok_and(|l| l.contains("now acts for miner/t01000"))
                .then_some(())
        },
    );
    eprintln!("took over {:.1} s after the kill", t.elapsed().as_secs_f64());
    m.provider = standby_repo;
    m.droplet = Some(standby);
    tests::procs::announce(&m.provider);
    assert_eq!(m.deal(&proposal)["StateName"], "StorageDealWaitingForData");
    let out = m.deal_cmd(&["import-data", &proposal, &m.car]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    m.publish_seal_and_activate(std::slice::from_ref(&proposal));
    m.wait_client_state(&proposal, 7);
    tests::crash::check(&m);
}

/// Two droplets answer one miner behind one address (a load balancer for deal intake): the
/// second shares the first's libp2p identity and database but not its repo, so it stands by
/// for the miner's lease; with the miner's address pointed at it, an online deal is proposed to
/// it, it takes the deal in, and the first, which holds the miner, picks the deal up, downloads
/// the data and carries it to Active, the market whole afterwards.
#[test]
fn a_droplet_standing_by_takes_a_deal_in_and_the_droplet_holding_the_miner_carries_it_on() {
    let server = SqlServer::start(Engine::Postgres);
    let dsn = server.database();
    let m = setup_on("200ms", Some(&dsn));
    let dir = m._dir.path().to_path_buf();
    // The second droplet's repo starts from the first's config: the same libp2p key (and API
    // secret), as droplets behind one address have.
    let intake_repo = dir.join("intake");
    std::fs::create_dir_all(&intake_repo).expect("repo");
    std::fs::copy(
        std::path::Path::new(&m.provider).join("config.toml"),
        intake_repo.join("config.toml"),
    )
    .expect("config");
    let (intake, intake_repo) = start_standby(&m, &dsn, "intake");
    // Clients reach the miner at the second droplet's address: the same peer ID.
    let id = m.droplet(&["net", "id"]).trim().to_string();
    let (intake_id, intake_addr) = tests::procs::peer_address(&intake_repo);
    assert_eq!(id, intake_id, "one identity behind one address");
    tests::procs::point_miner_at_for(&m.provider, tests::procs::DEVNET_MINER, &id, &intake_addr);

    let proposal = m.propose_online("180 days");
    let intake_log = std::fs::read_to_string(dir.join("intake.log")).unwrap_or_default();
    assert!(
        intake_log.contains("deal taken in for a miner another droplet on this database acts for"),
        "the second droplet took the deal in"
    );
    m.publish_seal_and_activate(std::slice::from_ref(&proposal));
    let holder_log = std::fs::read_to_string(dir.join("droplet.log")).unwrap_or_default();
    assert!(
        holder_log.contains("picking up a deal another droplet took in"),
        "the holder picked it up"
    );
    let intake_log = std::fs::read_to_string(dir.join("intake.log")).unwrap_or_default();
    assert!(
        !intake_log.contains("data transfer complete") && holder_log.contains("data transfer complete"),
        "the holder downloaded the data, the second droplet did not"
    );
    m.wait_client_state(&proposal, 7);
    tests::crash::check(&m);
    drop(intake);
}

/// A second droplet (repo `name`) on the market's database for its miner, once it says it
/// stands by for the first; the process and its repo.
fn start_standby(m: &tests::market::Market, dsn: &str, name: &str) -> (tests::procs::Proc, String) {
    let dir = m._dir.path();
    let (args, repo) = tests::procs::droplet_run_args(
        dir,
        name,
        &m._net,
        "wallet",
        &[tests::procs::DEVNET_MINER],
        &["--mysql-dsn", dsn],
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = format!("{name}.log");
    let mut p = tests::procs::Proc::start("droplet", &argv, &dir.join(&log));
    tests::procs::wait_for(
        "the second droplet to say it stands by",
        std::time::Duration::from_secs(60),
        Some(&mut p),
        || standby_waits(dir, &log).then_some(()),
    );
    (p, repo)
}

fn standby_waits(dir: &std::path::Path, log: &str) -> bool {
    std::fs::read_to_string(dir.join(log)).is_ok_and(|l| l.contains("standing by to take it over"))
}

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
    let count = match engine {
        Engine::MariaDb => {
            let db = dsn.rsplit('/').next().and_then(|d| d.split('?').next()).expect("db");
            server.sql(&format!("SELECT COUNT(*) FROM {db}.market_records WHERE tbl = 'deal/'"))
        }
        Engine::Postgres => {
            let out = std::process::Command::new("psql")
                .args([
                    &dsn,
                    "-At",
                    "-c",
                    "SELECT COUNT(*) FROM market_records WHERE tbl = 'deal/'",
                ])
                .output()
                .expect("psql");
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
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
}

#[test]
fn deals_funds_and_paid_retrievals_run_and_survive_kills_with_droplet_on_mariadb() {
    market_on(Engine::MariaDb);
}

#[test]
fn deals_funds_and_paid_retrievals_run_and_survive_kills_with_droplet_on_postgresql() {
    market_on(Engine::Postgres);
}

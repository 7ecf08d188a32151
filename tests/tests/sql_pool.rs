//! Several droplets over one database (pool mode), on a devnet with two miners: droplet A acts
//! for t01000, droplet B for t01001 and stands by for t01000. Two droplet-clients propose
//! offline deals to both miners at once; each droplet takes in, imports and publishes its own
//! miner's deals (the other refuses to act on them, naming why). A is SIGKILLed mid-publish
//! (its PublishStorageDeals sent, its deals held in Publishing); B takes t01000 over once A's
//! lease lapses, finds the message already sent and follows it, and every deal of both miners
//! reaches Active on both sides exactly once: the chain's deals of each miner are exactly the
//! droplets' (none published twice), nothing is left reserved at either miner or either
//! client, and the miners' fund ledgers agree with the chain.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tests::market::{account, s};
use tests::procs::{self, Devnet, Proc, run, run_ok, wait_for};
use tests::sqlserver::{Engine, SqlServer};

const A_MINER: &str = "t01000";
const B_MINER: &str = "t01001";
/// Deals each client proposes to each miner.
const DEALS_EACH: usize = 3;

const GENESIS: &str = r#"
network_name = "devnet"

[[accounts]]
name = "root"
balance = "1000 FIL"
verifreg_root = true

[[accounts]]
name = "client-a"
balance = "100000 FIL"

[[accounts]]
name = "client-b"
balance = "100000 FIL"

[[accounts]]
name = "owner"
balance = "100000 FIL"

[[accounts]]
name = "worker"
key_type = "bls"
balance = "100000 FIL"

[[miners]]
owner = "owner"
worker = "worker"

[[miners]]
owner = "owner"
worker = "worker"
"#;

fn cli(bin: &str, repo: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--repo", repo];
    all.extend_from_slice(args);
    run(bin, &all)
}

fn ok(bin: &str, repo: &str, args: &[&str]) -> String {
    let mut all = vec!["--repo", repo];
    all.extend_from_slice(args);
    run_ok(bin, &all)
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn log_has(dir: &Path, name: &str, what: &str) -> bool {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).is_ok_and(|l| l.contains(what))
}

/// Every deal in the database, read through the droplet in `repo`.
fn deals(repo: &str) -> Vec<Value> {
    let out = ok("droplet", repo, &["storage", "deal", "list", "--json", "--limit", "0"]);
    serde_json::from_str::<Value>(&out)
        .expect("deal list json")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn state_of(repo: &str, proposal: &str) -> Value {
    serde_json::from_str(&ok(
        "droplet",
        repo,
        &["storage", "deal", "get", "--proposal-cid", proposal, "--json"],
    ))
    .expect("deal json")
}

/// Wait until each of `proposals` is in `state` (read through `repo`); fail at once on a
/// failed deal.
fn wait_all(repo: &str, proposals: &[String], state: &str) {
    wait_for(
        &format!("{} deals in {state}", proposals.len()),
        Duration::from_secs(120),
        None,
        || {
            let mut all = true;
            for p in proposals {
                let d = state_of(repo, p);
                let name = d["StateName"].as_str().unwrap_or_default();
                assert_ne!(name, "StorageDealFailing", "deal {p} failed: {}", d["Message"]);
                assert_ne!(name, "StorageDealError", "deal {p} failed: {}", d["Message"]);
                all &= name == state;
            }
            all.then_some(())
        },
    );
}

fn seal(net: &Devnet, droplet: &str, miner: &str) -> String {
    let read = |f: &str| std::fs::read_to_string(Path::new(droplet).join(f)).expect("droplet's api files");
    ok(
        "droplet-devnet",
        &s(&net.repo),
        &[
            "seal",
            "--droplet",
            &format!("{}:{}", read("token").trim(), read("api").trim()),
            "--miner",
            miner,
            "--once",
        ],
    )
}

/// A distinct little CAR: its path, root, piece CID and piece size.
fn car(dir: &Path, n: usize) -> (String, String, String, String) {
    let data: Vec<u8> = (0..4000u32).map(|i| ((i * 31 + n as u32 * 7919) % 251) as u8).collect();
    let c = tests::market::car_of(dir, &format!("data-{n}"), &data);
    (c.path, c.root, c.piece, c.piece_size.to_string())
}

fn reserved(bin: &str, repo: &str, args: &[&str]) -> String {
    let out = ok(bin, repo, args);
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Reserved Funds:"))
        .unwrap_or_else(|| panic!("no reserved funds in {out}"))
        .trim()
        .to_string()
}

fn pool_on(engine: Engine) {
    let server = SqlServer::start(engine);
    let dsn = server.database();
    let keep = std::env::var_os("TESTS_KEEP_DIR").is_some();
    let tmp = tempfile::Builder::new()
        .disable_cleanup(keep)
        .tempdir()
        .expect("tempdir");
    let dir = tmp.path();
    if keep {
        eprintln!("pool in {}", dir.display());
    }
    let genesis = dir.join("genesis.toml");
    std::fs::write(&genesis, GENESIS).expect("genesis");
    let net = Devnet::start_genesis(dir, "200ms", Some(&genesis));
    let on_db = ["--mysql-dsn", dsn.as_str()];

    // A acts for t01000 and holds its deals once their PublishStorageDeals is sent.
    let (args, repo_a) = procs::droplet_run_args(dir, "droplet-a", &net, "wallet", &[A_MINER], &on_db);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut a = Proc::start_with_env(
        "droplet",
        &argv,
        &dir.join("droplet-a.log"),
        &[("DROPLET_TEST_HOLD_STATES", "Publishing")],
    );
    wait_for(
        "droplet A to act for t01000",
        Duration::from_secs(60),
        Some(&mut a),
        || log_has(dir, "droplet-a", &format!("now acts for miner/{A_MINER}")).then_some(()),
    );
    // B acts for t01001, and lists t01000 too: it stands by for it.
    let (mut b, repo_b) = procs::start_droplet_with(dir, "droplet-b", &net, "wallet", &[B_MINER, A_MINER], &on_db);
    wait_for(
        "droplet B to act for t01001",
        Duration::from_secs(60),
        Some(&mut b),
        || {
            (log_has(dir, "droplet-b", &format!("now acts for miner/{B_MINER}"))
                && log_has(dir, "droplet-b", &format!("miner/{A_MINER} is held by droplet")))
            .then_some(())
        },
    );
    let info = ok("droplet", &repo_b, &["store", "info"]);
    assert!(info.contains(&format!("lease miner/{A_MINER} held by")), "{info}");

    let (id_a, addr_a) = procs::announce_for(&repo_a, &[A_MINER]);
    procs::announce_for(&repo_b, &[B_MINER]);
    for (repo, miner) in [(&repo_a, A_MINER), (&repo_b, B_MINER)] {
        ok(
            "droplet",
            repo,
            &["storage", "ask", "set", "--price", "0", "--verified-price", "0", miner],
        );
    }
    let clients: Vec<(Proc, String)> = ["client-a", "client-b"]
        .iter()
        .map(|name| {
            let addr = account(&net, name);
            procs::start_client_named(dir, name, &net, Some(&addr))
        })
        .collect();

    // Both clients propose to both miners at once.
    let mut jobs = Vec::new();
    let mut n = 0;
    for (_, client) in &clients {
        for miner in [A_MINER, B_MINER] {
            let cars: Vec<_> = (0..DEALS_EACH)
                .map(|_| {
                    n += 1;
                    car(dir, n)
                })
                .collect();
            let client = client.clone();
            jobs.push(std::thread::spawn(move || {
                cars.into_iter()
                    .map(|(car, root, piece, size)| {
                        let out = cli(
                            "droplet-client",
                            &client,
                            &[
                                "storage",
                                "deals",
                                "init",
                                "--manual-piece-cid",
                                &piece,
                                "--manual-piece-size",
                                &size,
                                &root,
                                miner,
                                "0",
                                "518400",
                            ],
                        );
                        assert!(out.status.success(), "proposing to {miner}: {}", text(&out));
                        let proposal = String::from_utf8_lossy(&out.stdout).trim().to_string();
                        (miner, client.clone(), proposal, car)
                    })
                    .collect::<Vec<_>>()
            }));
        }
    }
    let proposed: Vec<(&str, String, String, String)> =
        jobs.into_iter().flat_map(|j| j.join().expect("proposer")).collect();
    assert_eq!(proposed.len(), 2 * 2 * DEALS_EACH);
    let of = |miner: &str| -> Vec<String> { proposed.iter().filter(|p| p.0 == miner).map(|p| p.2.clone()).collect() };
    let (deals_a, deals_b) = (of(A_MINER), of(B_MINER));
    // Both droplets see every deal: they share the database.
    wait_all(&repo_b, &deals_a, "StorageDealWaitingForData");
    wait_all(&repo_a, &deals_b, "StorageDealWaitingForData");

    // A droplet does not act on the other's miner's deals, and says so.
    let (miner, _, proposal, car) = proposed.iter().find(|p| p.0 == B_MINER).expect("a deal of B");
    let refused = cli("droplet", &repo_a, &["storage", "deal", "import-data", proposal, car]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains(&format!("miner {miner} is served by another droplet")),
        "{}",
        text(&refused)
    );
    for (miner, _, proposal, car) in &proposed {
        let repo = if *miner == A_MINER { &repo_a } else { &repo_b };
        let out = cli("droplet", repo, &["storage", "deal", "import-data", proposal, car]);
        assert!(out.status.success(), "{}", text(&out));
    }
    wait_all(&repo_a, &deals_a, "StorageDealPublish");
    wait_all(&repo_b, &deals_b, "StorageDealPublish");
    for repo in [&repo_a, &repo_b] {
        let out = cli(
            "droplet",
            repo,
            &["storage", "deal", "pending-publish", "--publish-now"],
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    wait_all(&repo_b, &deals_b, "StorageDealAwaitingPreCommit");
    // A's message is out and its deals wait on it: A dies there.
    wait_all(&repo_a, &deals_a, "StorageDealPublishing");
    let sent: BTreeSet<String> = deals(&repo_b)
        .iter()
        .filter(|d| deals_a.contains(&d["ProposalCid"]["/"].as_str().unwrap_or_default().to_string()))
        .filter_map(|d| d["PublishCid"]["/"].as_str().map(str::to_string))
        .collect();
    assert_eq!(sent.len(), 1, "one PublishStorageDeals for A's deals: {sent:?}");
    a.kill();
    let killed = std::time::Instant::now();

    // B takes t01000 over once A's lease lapses, and follows the message A sent.
    wait_for(
        "droplet B to take t01000 over",
        Duration::from_secs(60),
        Some(&mut b),
        || log_has(dir, "droplet-b", &format!("now acts for miner/{A_MINER}")).then_some(()),
    );
    eprintln!(
        "B took t01000 over {:.1} s after A was killed",
        killed.elapsed().as_secs_f64()
    );
    // The operator points the miner at B, so clients reach it.
    let (id_b, addr_b) = procs::peer_address(&repo_b);
    assert_ne!(id_a, id_b);
    assert_ne!(addr_a, addr_b);
    procs::point_miner_at_for(&repo_b, A_MINER, &id_b, &addr_b);
    wait_all(&repo_b, &deals_a, "StorageDealAwaitingPreCommit");
    for miner in [A_MINER, B_MINER] {
        let sealed = seal(&net, &repo_b, miner);
        assert!(sealed.starts_with("sealed sector"), "{miner}: {sealed}");
    }
    let all: Vec<String> = proposed.iter().map(|p| p.2.clone()).collect();
    wait_all(&repo_b, &all, "StorageDealActive");
    for (_, client, proposal, _) in &proposed {
        wait_for("the client's deal Active", Duration::from_secs(60), None, || {
            let d: Value = serde_json::from_str(&ok("droplet-client", client, &["storage", "deals", "get", proposal]))
                .expect("json");
            assert_ne!(d["State"], 11, "the client's deal failed: {}", d["Message"]);
            (d["State"] == 7).then_some(())
        });
    }

    // Exactly once: each miner's deals on chain are the droplets', each its own deal ID, and
    // A's were published by the one message A sent.
    let listed = deals(&repo_b);
    assert_eq!(listed.len(), all.len(), "each deal once in the database");
    let (url, token) = (format!("{}/rpc/v1", net.http_base()), net.admin_token.clone());
    let chain = tests::retrieval::rpc(&url, &token, "Filecoin.StateMarketDeals", json!([[]]));
    let chain = chain["result"].as_object().expect("StateMarketDeals");
    for miner in [A_MINER, B_MINER] {
        let mine: Vec<&Value> = listed.iter().filter(|d| d["Proposal"]["Provider"] == miner).collect();
        assert_eq!(mine.len(), 2 * DEALS_EACH, "{miner}");
        let ids: BTreeSet<u64> = mine.iter().filter_map(|d| d["DealID"].as_u64()).collect();
        assert_eq!(ids.len(), mine.len(), "{miner}: each deal its own deal ID");
        let on_chain: BTreeSet<u64> = chain
            .iter()
            .filter(|(_, d)| d["Proposal"]["Provider"] == miner)
            .filter_map(|(id, _)| id.parse().ok())
            .collect();
        assert_eq!(on_chain, ids, "{miner}: the chain's deals are the droplets', each once");
        let messages: BTreeMap<String, usize> = mine.iter().fold(BTreeMap::new(), |mut m, d| {
            *m.entry(d["PublishCid"]["/"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
            m
        });
        if miner == A_MINER {
            // The one message A sent (its CID now the one it landed with).
            assert_eq!(messages.len(), 1, "{miner}: published by one message: {messages:?}");
        }
        assert_eq!(
            reserved("droplet", &repo_b, &["actor-funds", "balances", miner]),
            "0 FIL",
            "{miner}: nothing held back once its deals are published"
        );
    }
    for (_, client) in &clients {
        assert_eq!(
            reserved("droplet-client", client, &["actor-funds", "balances"]),
            "0 FIL",
            "the client holds nothing back once its deals are published"
        );
    }
    drop(b);
    drop(net);
}

#[test]
fn two_droplets_on_mariadb_each_serve_a_miner_and_one_killed_mid_publish_is_taken_over_exactly_once() {
    pool_on(Engine::MariaDb);
}

#[test]
fn two_droplets_on_postgresql_each_serve_a_miner_and_one_killed_mid_publish_is_taken_over_exactly_once() {
    pool_on(Engine::Postgres);
}

//! Batch deals at dataset scale, end to end on a devnet with two miners (served by one droplet):
//! a 200 MiB dataset split into slices (`data split --rename`), proposed as verified offline
//! deals with the FIL+ rules (`storage deals batch --filter`), the batch command killed half way
//! and run again (only the rest is proposed), the deals waiting for data exported and
//! bulk-imported by the provider (one collateral deposit per miner), published, sealed and
//! Active on both sides; `verified-deal-stat` shows the spread, and a batch that would put more
//! than 25% of the client's verified data at a miner is refused with the rule named.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::market::{account, s};
use tests::procs::{self, Devnet, binary, run, run_ok, start_client, start_droplet_for};

const MINERS: [&str; 2] = ["t01000", "t01001"];

const GENESIS: &str = r#"
network_name = "devnet"

[[accounts]]
name = "root"
balance = "1000 FIL"
verifreg_root = true

[[accounts]]
name = "verified-client"
balance = "100000 FIL"
datacap = "1 TiB"

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
sector_size = "512MiB"

[[miners]]
owner = "owner"
worker = "worker"
sector_size = "512MiB"
"#;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// 200 MiB over a few directories, pseudo-random so no two chunks are alike.
fn dataset(root: &Path) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for (i, size) in [60u64 << 20, 45 << 20, 50 << 20, 30 << 20, 15 << 20]
        .into_iter()
        .enumerate()
    {
        let path = root.join(format!("part{}/file{i}.bin", i % 3));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let mut data = vec![0u8; size as usize];
        for chunk in data.chunks_mut(8) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            chunk.copy_from_slice(&seed.to_le_bytes()[..chunk.len()]);
        }
        std::fs::write(path, data).expect("write");
    }
}

struct Net {
    dir: tempfile::TempDir,
    net: Devnet,
    _droplet: procs::Proc,
    _client: procs::Proc,
    provider: String,
    client: String,
    verified: String,
}

impl Net {
    fn client(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--repo", self.client.as_str()];
        all.extend_from_slice(args);
        run("droplet-client", &all)
    }

    fn droplet(&self, args: &[&str]) -> String {
        let mut all = vec!["--repo", self.provider.as_str()];
        all.extend_from_slice(args);
        run_ok("droplet", &all)
    }

    /// droplet's deals as JSON.
    fn provider_deals(&self) -> Vec<Value> {
        serde_json::from_str(&self.droplet(&["storage", "deal", "list", "--json"])).expect("deal list json")
    }

    fn seal_once(&self, miner: &str) -> String {
        let token = std::fs::read_to_string(Path::new(&self.provider).join("token")).expect("token");
        let api = std::fs::read_to_string(Path::new(&self.provider).join("api")).expect("api");
        run_ok(
            "droplet-devnet",
            &[
                "--repo",
                &s(&self.net.repo),
                "seal",
                "--droplet",
                &format!("{}:{}", token.trim(), api.trim()),
                "--miner",
                miner,
                "--once",
            ],
        )
    }
}

fn setup() -> Net {
    let dir = tempfile::tempdir().expect("tmp");
    let genesis = dir.path().join("genesis.toml");
    std::fs::write(&genesis, GENESIS).expect("genesis");
    let net = Devnet::start_genesis(dir.path(), "200ms", Some(&genesis));
    let (droplet, provider) = start_droplet_for(dir.path(), "droplet", &net, "wallet", &MINERS);
    let verified = account(&net, "verified-client");
    let (client, client_repo) = start_client(dir.path(), &net, Some(&verified));
    procs::announce_for(&provider, &MINERS);
    for m in MINERS {
        run_ok(
            "droplet",
            &[
                "--repo",
                &provider,
                "storage",
                "ask",
                "set",
                "--price",
                "0.00000001",
                "--verified-price",
                "0",
                m,
            ],
        );
    }
    Net {
        dir,
        net,
        _droplet: droplet,
        _client: client,
        provider,
        client: client_repo,
        verified,
    }
}

/// The batch command's arguments for `manifest`.
fn batch_args(manifest: &str) -> Vec<&str> {
    let mut args = vec![
        "storage",
        "deals",
        "batch",
        "0",
        "518400",
        "--manifest",
        manifest,
        "--filter",
    ];
    for m in MINERS {
        args.extend(["--miner", m]);
    }
    args
}

#[test]
fn a_dataset_is_split_batch_proposed_within_fil_plus_imported_in_bulk_and_sealed_on_two_miners() {
    let n = setup();
    let ds = n.dir.path().join("dataset");
    dataset(&ds);

    // Split: 25 MiB of files per slice, eight equal slices whose CARs fit 32 MiB pieces (equal
    // sizes keep the first ten deals within the 25% rule's start, see FilPlusRules).
    let cars = n.dir.path().join("cars");
    let split: Value = serde_json::from_str(&run_ok(
        "droplet-client",
        &[
            "data",
            "split",
            "--slice-size",
            "25MiB",
            "--graph-name",
            "ds",
            "--car-dir",
            &s(&cars),
            "--rename",
            "--json",
            &s(&ds),
        ],
    ))
    .expect("split json");
    let slices = split.as_array().expect("slices").len();
    assert_eq!(slices, 8, "200 MiB in 25 MiB slices: {split}");
    let manifest = s(&cars.join("manifest.csv"));

    // The batch, stopped after its third deal and run again: only the rest is proposed.
    let mut all = vec!["--repo", n.client.as_str()];
    all.extend(batch_args(&manifest));
    let mut first = Command::new(binary("droplet-client"))
        .args(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("batch");
    let mut lines = BufReader::new(first.stdout.take().expect("stdout")).lines();
    let mut proposed_first = 0;
    while proposed_first < 3 {
        let line = lines.next().expect("the batch went on").expect("line");
        if line.starts_with("create deal success") {
            proposed_first += 1;
        } else {
            assert!(!line.starts_with("create deal failed"), "{line}");
        }
    }
    first.kill().expect("kill the batch");
    let _ = first.wait();
    let again = n.client(&batch_args(&manifest));
    let out = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(again.status.success(), "{out}{}", stderr(&again));
    let skipped = out.lines().filter(|l| l.starts_with("skip row")).count();
    let proposed = out.lines().filter(|l| l.starts_with("create deal success")).count();
    assert!(skipped >= 3, "the rows proposed before the kill are skipped: {out}");
    assert_eq!(skipped + proposed, slices, "{out}");

    // Every row has exactly one deal, spread over both miners.
    let deals: Vec<Value> =
        serde_json::from_slice(&n.client(&["storage", "deals", "list", "--json"]).stdout).expect("client deals");
    let mut per_miner: BTreeMap<String, usize> = BTreeMap::new();
    let pieces: BTreeSet<String> = deals
        .iter()
        .map(|d| {
            *per_miner
                .entry(d["Provider"].as_str().expect("provider").to_string())
                .or_default() += 1;
            d["PieceCID"]["/"].as_str().expect("piece").to_string()
        })
        .collect();
    assert_eq!((deals.len(), pieces.len()), (slices, slices), "{deals:?}");
    assert_eq!(per_miner.len(), 2, "both miners get deals: {per_miner:?}");
    assert!(deals.iter().all(|d| d["Verified"] == true));

    // Export the deals waiting for data; the provider imports them all in one call.
    let exported = n.dir.path().join("deals.csv");
    let out = n.client(&["storage", "deals", "export", "--output", &s(&exported)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = n.droplet(&[
        "storage",
        "deal",
        "batch-import-data",
        "--manifest",
        &s(&exported),
        "--car-dir",
        &s(&cars),
    ]);
    assert_eq!(out.matches("import data success").count(), slices, "{out}");

    // One collateral deposit per miner: each miner's deals carry the same AddFunds message.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let deals = n.provider_deals();
        let publishing = deals
            .iter()
            .filter(|d| d["State"].as_u64() == Some(market_types::states::StorageDealStatus::Publish.code()))
            .count();
        if publishing == slices {
            let mut funds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for d in &deals {
                funds
                    .entry(d["Proposal"]["Provider"].as_str().expect("provider").to_string())
                    .or_default()
                    .insert(d["AddFundsCid"].to_string());
            }
            assert_eq!(funds.len(), 2, "{funds:?}");
            for (miner, msgs) in &funds {
                assert_eq!(msgs.len(), 1, "{miner}'s batch collateral in one message: {msgs:?}");
                assert!(!msgs.contains("null"), "{miner}'s escrow needed a deposit: {msgs:?}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "deals not all in Publish: {deals:?}");
        std::thread::sleep(Duration::from_millis(300));
    }

    // Publish, seal a sector per deal on each miner, and wait for Active on both sides.
    n.droplet(&["storage", "deal", "pending-publish", "--publish-now"]);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let deals = n.provider_deals();
        let active = deals
            .iter()
            .filter(|d| d["State"].as_u64() == Some(market_types::states::StorageDealStatus::Active.code()))
            .count();
        if active == slices {
            break;
        }
        assert!(Instant::now() < deadline, "not all Active: {deals:?}");
        for m in MINERS {
            n.seal_once(m);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let deals: Vec<Value> =
            serde_json::from_slice(&n.client(&["storage", "deals", "list", "--json"]).stdout).expect("json");
        if deals
            .iter()
            .all(|d| d["State"].as_u64() == Some(market_types::states::StorageDealStatus::Active.code()))
        {
            break;
        }
        assert!(Instant::now() < deadline, "client deals not all Active: {deals:?}");
        std::thread::sleep(Duration::from_secs(1));
    }

    // The spread, and a batch the 25% rule refuses at both miners.
    let stat = n.client(&["storage", "deals", "verified-deal-stat", "--client", &n.verified]);
    let stat = String::from_utf8_lossy(&stat.stdout).into_owned();
    for m in MINERS {
        assert!(stat.lines().any(|l| l.starts_with(m)), "{m} in the spread: {stat}");
    }
    let more = n.dir.path().join("more");
    write_small(&more);
    let more_cars = n.dir.path().join("more-cars");
    run_ok(
        "droplet-client",
        &[
            "data",
            "split",
            "--slice-size",
            "1MiB",
            "--graph-name",
            "more",
            "--car-dir",
            &s(&more_cars),
            &s(&more),
        ],
    );
    let refused = n.client(&batch_args(&s(&more_cars.join("manifest.csv"))));
    let out = String::from_utf8_lossy(&refused.stdout).into_owned();
    assert!(!refused.status.success(), "{out}");
    for m in MINERS {
        assert!(
            out.lines().any(|l| l.contains(m) && l.contains("FIL+ 25% rule")),
            "{m} refused with the rule named: {out}"
        );
    }
    assert!(stderr(&refused).contains("FIL+ rules refuse"), "{}", stderr(&refused));
}

fn write_small(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for i in 0..3u8 {
        std::fs::write(dir.join(format!("f{i}")), vec![i; 900_000]).expect("write");
    }
}

//! Direct data onboarding from the data owner's side, on the devnet: DataCap allocated to a
//! provider for the pieces of a `data split` manifest (one DataCap transfer to the verified
//! registry through the client daemon's messager), the allocations written as droplet's CSV
//! from the message's receipt and listed from the chain; what the chain refuses is refused
//! with its reason. The provider imports them as direct deals, the devnet sealer takes them
//! through `AssignDeals` and claims them by proving the sector (ProveCommitSectors3), the
//! provider's tracker sees the claims and makes the deals Active, and the client lists the
//! claims and lengthens their term.

use std::time::Duration;

use tests::market::{MINER, account, s, setup};
use tests::procs::run;

/// Blocks in a CARv1 other than identity ones (which IPNI does not list).
fn car_blocks(car: &[u8]) -> usize {
    let reader = piece_store::car::CarReader::new(std::io::Cursor::new(car)).expect("car");
    reader
        .map(|b| b.expect("block"))
        .filter(|b| b.cid.hash().code() != 0)
        .count()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `droplet-client direct-deal allocate` of `manifest`'s pieces to the miner from `wallet`.
fn allocate(
    m: &tests::market::Market,
    wallet: &str,
    manifest: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let (manifest, out) = (s(manifest), s(out));
    let mut args = vec![
        "--repo",
        &m.client,
        "direct-deal",
        "allocate",
        "--miner",
        MINER,
        "--wallet",
        wallet,
        "--manifest",
        &manifest,
        "--output-allocation-to-file",
        &out,
    ];
    args.extend_from_slice(extra);
    run("droplet-client", &args)
}

#[test]
fn datacap_is_allocated_to_a_provider_for_a_manifest_s_pieces() {
    let mut m = setup();
    let verified = account(&m._net, "verified-client");
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    for i in 0..3u8 {
        let bytes: Vec<u8> = (0..1_500_000u32).map(|n| (n.wrapping_mul(31) as u8) ^ i).collect();
        std::fs::write(data.join(format!("f{i}")), bytes).expect("write");
    }
    let cars = dir.path().join("cars");
    m.client(&[
        "data",
        "split",
        "--slice-size",
        "2MiB",
        "--graph-name",
        "ddo",
        "--rename",
        "--car-dir",
        &s(&cars),
        &s(&data),
    ]);
    let manifest = cars.join("manifest.csv");
    let rows = piece_store::split::manifest::load(&manifest).expect("manifest");
    assert_eq!(rows.len(), 3);

    let csv = dir.path().join("allocation.csv");
    // A maximum term below the registry's five years, so that it can be extended.
    let out = allocate(&m, &verified, &manifest, &csv, &["--term-max", "1000000"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("submitted data cap allocation message: "), "{text}");
    assert!(text.contains("AllocationID"), "{text}");

    // The CSV droplet's import-deals reads: a row per piece, by allocation ID.
    let written = std::fs::read_to_string(&csv).expect("csv");
    let mut lines = written.lines();
    assert_eq!(
        lines.next(),
        Some("AllocationID,PieceCID,Client,PayloadSize,PayloadCID")
    );
    let allocations: Vec<Vec<String>> = lines.map(|l| l.split(',').map(String::from).collect()).collect();
    assert_eq!(allocations.len(), 3, "{written}");
    for (a, row) in allocations.iter().zip(&rows) {
        assert_eq!(a[1], row.piece_cid.expect("piece").to_string());
        assert!(a[2].starts_with("t0"), "the client as an ID address: {a:?}");
        assert_eq!(a[3], row.payload_size.to_string());
        assert_eq!(a[4], row.payload_cid.to_string());
    }

    // On chain: the allocations are the client's, for the provider, of the pieces' sizes.
    let listed = m.client(&["datacap", "list-allocation", &verified]);
    for a in &allocations {
        let line = listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(a[0].as_str()))
            .unwrap_or_else(|| panic!("allocation {} listed: {listed}", a[0]));
        assert!(line.contains(MINER) && line.contains(&a[1]), "{line}");
        assert!(
            line.contains("518400") && line.contains("1000000"),
            "the terms asked for: {line}"
        );
    }
    let other = m.client(&["datacap", "list-allocation", &verified, "--provider", "t01001"]);
    assert_eq!(other.lines().count(), 1, "none for another provider: {other}");

    // Nothing is claimed yet; extend finds nothing to do.
    let claims = m.client(&["datacap", "list-claim", MINER]);
    assert_eq!(claims.lines().count(), 1, "{claims}");
    let none = m.client(&[
        "datacap",
        "extend",
        MINER,
        "--max-term",
        "600000",
        "--auto",
        "--from",
        &verified,
    ]);
    assert!(none.contains("no claim need extend"), "{none}");

    // The provider imports them against their allocations, the pieces from the CAR
    // directory into piece storage (each checked against its piece).
    let out = m.droplet(&[
        "storage",
        "direct-deal",
        "import-deals",
        "--allocation-file",
        &s(&csv),
        "--car-dir",
        &s(&cars),
    ]);
    assert!(out.contains("3 direct deals imported"), "{out}");
    let list = m.droplet(&["storage", "direct-deal", "list"]);
    for a in &allocations {
        let line = list
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(a[0].as_str()))
            .unwrap_or_else(|| panic!("allocation {} imported: {list}", a[0]));
        assert!(
            line.contains("DealAllocated") && line.contains(&a[1]) && line.contains(MINER),
            "{line}"
        );
    }
    let got = m.droplet(&["storage", "direct-deal", "get", "--allocation-id", &allocations[0][0]]);
    assert!(got.contains(&format!("PayloadCID    {}", allocations[0][4])), "{got}");
    assert!(got.contains(&format!("PayloadSize   {}", allocations[0][3])), "{got}");
    // Each piece is now in piece storage and the piece index, where retrieval and the sealer
    // find it.
    let pieces = m.droplet(&["pieces", "list-pieces"]);
    for a in &allocations {
        assert!(pieces.contains(&a[1]), "{} in the piece index: {pieces}", a[1]);
    }
    // An allocation already imported is refused, naming it.
    let again = run(
        "droplet",
        &[
            "--repo",
            &m.provider,
            "storage",
            "direct-deal",
            "import-deals",
            "--allocation-file",
            &s(&csv),
        ],
    );
    assert!(!again.status.success());
    let want = format!(
        "allocation id: {}, error: deal({}) exist: DealAllocated",
        allocations[0][0], allocations[0][0]
    );
    assert!(stderr(&again).contains(&want), "{}", stderr(&again));
    let id = got
        .lines()
        .find_map(|l| l.strip_prefix("ID "))
        .map(str::trim)
        .expect("the deal's ID")
        .to_string();
    let set = m.droplet(&["storage", "direct-deal", "update-state", &id, "--state", "6"]);
    assert!(set.contains("DealError"), "{set}");

    // The sealer takes the two waiting deals into one sector with their allocations (the one
    // set to DealError stays out) and claims them by proving it.
    let sealed = m.seal_once();
    let (a1, a2) = (&allocations[1][0], &allocations[2][0]);
    let sector = sealed
        .trim()
        .strip_prefix("sealed sector ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("a sector sealed: {sealed}"))
        .to_string();
    assert!(sealed.contains("with deals []"), "no market deal: {sealed}");
    let (lo, hi) = if a1.parse::<u64>().expect("id") < a2.parse::<u64>().expect("id") {
        (a1, a2)
    } else {
        (a2, a1)
    };
    let listed_allocs = sealed.split("allocations ").nth(1).unwrap_or_default().trim();
    let mut got: Vec<&str> = listed_allocs
        .trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .collect();
    got.sort_by_key(|x| x.parse::<u64>().unwrap_or(0));
    assert_eq!(got, vec![lo.as_str(), hi.as_str()], "{sealed}");
    // The provider's tracker sees the claims: Active, with the sector.
    for a in [a1, a2] {
        tests::procs::wait_for("the direct deal Active", Duration::from_secs(60), None, || {
            let got = m.droplet(&["storage", "direct-deal", "get", "--allocation-id", a]);
            got.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["State", "DealActive"])
                .then_some(got)
        });
        let got = m.droplet(&["storage", "direct-deal", "get", "--allocation-id", a]);
        assert!(got.contains(&format!("SectorID      {sector}")), "{got}");
    }
    let first = m.droplet(&["storage", "direct-deal", "get", "--allocation-id", &allocations[0][0]]);
    assert!(first.contains("DealError"), "{first}");

    // On chain: the client sees the claims, in the sector, with the terms asked for.
    let claims = m.client(&["datacap", "list-claim", MINER]);
    let claim_line = |claims: &str, id: &str| {
        claims
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("claim {id} listed: {claims}"))
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    for (a, row) in [(a1, &allocations[1]), (a2, &allocations[2])] {
        let c = claim_line(&claims, a);
        // ClaimID Provider Client Expiration Size TermMin TermMax TermStart Sector Data
        assert_eq!(
            (
                c[1].as_str(),
                c[2].as_str(),
                c[6].as_str(),
                c[8].as_str(),
                c[9].as_str()
            ),
            (MINER, row[2].as_str(), "1000000", sector.as_str(), row[1].as_str()),
            "{claims}"
        );
    }
    assert!(
        claims
            .lines()
            .all(|l| l.split_whitespace().next() != Some(allocations[0][0].as_str())),
        "the unsealed allocation is not claimed: {claims}"
    );
    // `extend` lengthens one claim's term; the other keeps its own.
    let extended = m.client(&[
        "datacap",
        "extend",
        MINER,
        "--max-term",
        "1200000",
        "--claimId",
        a1,
        "--from",
        &verified,
    ]);
    assert!(extended.contains("1 claims extended to term max 1200000"), "{extended}");
    let claims = m.client(&["datacap", "list-claim", MINER]);
    assert_eq!(claim_line(&claims, a1)[6], "1200000", "{claims}");
    assert_eq!(claim_line(&claims, a2)[6], "1000000", "{claims}");

    // The claimed deal's data is served: retrieved over graphsync by its payload CID, the same
    // CAR as the client split.
    let owner = account(&m._net, "owner");
    m.droplet(&["retrieval", "ask", "set", &owner]);
    let got_car = dir.path().join("ddo.car");
    let o = tests::retrieval::retrieve(&m, &allocations[1][4], &got_car, &["--car"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let original = std::fs::read(cars.join(&allocations[1][1])).expect("the split's CAR (named by its piece)");
    assert_eq!(std::fs::read(&got_car).expect("retrieved"), original);
    // IPNI: each Active direct deal is advertised by its UUID, with its piece's blocks.
    let uuid_of = |alloc: &str| {
        m.droplet(&["storage", "direct-deal", "get", "--allocation-id", alloc])
            .lines()
            .find_map(|l| l.strip_prefix("ID "))
            .map(|v| v.trim().to_string())
            .expect("the deal's ID")
    };
    let (u1, u2) = (uuid_of(a1), uuid_of(a2));
    m.serve_ipni("http://127.0.0.1:9/announce");
    let listed = m.droplet(&["index", "list-multihashes", &u1]);
    let blocks = car_blocks(&original);
    assert!(
        listed.starts_with(&format!("Found {blocks} multihashes for deal with ID {u1}")),
        "{listed}"
    );
    // The reconcile pass advertised both: each can be withdrawn, and advertised again by hand.
    for u in [&u1, &u2] {
        tests::procs::wait_for("the direct deal advertised", Duration::from_secs(60), None, || {
            let o = run("droplet", &["--repo", &m.provider, "index", "announce-remove-deal", u]);
            o.status.success().then_some(())
        });
    }
    let again = m.droplet(&["index", "announce-deal", &u1]);
    assert!(again.starts_with("Announced the  deal with Ad cid "), "{again}");

    // With --droplet-url the provider imports the allocations as soon as they are made.
    let token = std::fs::read_to_string(std::path::Path::new(&m.provider).join("token")).expect("token");
    let api = std::fs::read_to_string(std::path::Path::new(&m.provider).join("api")).expect("api");
    let (token, api) = (token.trim().to_string(), api.trim().to_string());
    let auto_csv = dir.path().join("auto.csv");
    let auto = allocate(
        &m,
        &verified,
        &manifest,
        &auto_csv,
        &[
            "--term-max",
            "1000000",
            "--droplet-url",
            &api,
            "--droplet-token",
            &token,
        ],
    );
    assert!(auto.status.success(), "{}{}", stdout(&auto), stderr(&auto));
    assert!(
        stdout(&auto).contains("3 direct deals imported into"),
        "{}",
        stdout(&auto)
    );
    let list = m.droplet(&["storage", "direct-deal", "list"]);
    let auto_rows = std::fs::read_to_string(&auto_csv).expect("csv");
    for row in auto_rows.lines().skip(1) {
        let id = row.split(',').next().expect("id");
        assert!(
            list.lines()
                .any(|l| l.split_whitespace().nth(2) == Some(id) && l.contains("DealAllocated")),
            "allocation {id} imported: {list}"
        );
    }
    // A start the allocations would not live to is refused before any DataCap is spent.
    let late = allocate(
        &m,
        &verified,
        &manifest,
        &dir.path().join("late.csv"),
        &[
            "--droplet-url",
            &api,
            "--droplet-token",
            &token,
            "--start-epoch",
            "99999999",
        ],
    );
    assert!(!late.status.success());
    assert!(
        stderr(&late).contains("before the direct deals' start epoch 99999999"),
        "{}",
        stderr(&late)
    );
    assert!(!stdout(&late).contains("submitted"), "{}", stdout(&late));

    // A wallet without DataCap is refused before anything is sent.
    let plain = account(&m._net, "client");
    let refused = allocate(&m, &plain, &manifest, &dir.path().join("none.csv"), &[]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("bytes of DataCap"), "{}", stderr(&refused));
    // A term the registry refuses fails on chain, and the exit code is shown.
    let bad = allocate(
        &m,
        &verified,
        &manifest,
        &dir.path().join("bad.csv"),
        &["--term-min", "100"],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("exit code 16"), "{}", stderr(&bad));
    std::thread::sleep(Duration::from_millis(10));
}

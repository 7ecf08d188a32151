//! Direct data onboarding from the data owner's side, on the devnet: DataCap allocated to a
//! provider for the pieces of a `data split` manifest (one DataCap transfer to the verified
//! registry through the client daemon's messager), the allocations written as droplet's CSV
//! from the message's receipt and listed from the chain; what the chain refuses is refused
//! with its reason. (The provider's import, the sealer's claim and `datacap extend` over a
//! real claim come with the provider's direct deals.)

use std::time::Duration;

use tests::market::{MINER, account, s, setup};
use tests::procs::run;

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
    let m = setup();
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
    let out = allocate(&m, &verified, &manifest, &csv, &[]);
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
            line.contains("518400") && line.contains("5256000"),
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

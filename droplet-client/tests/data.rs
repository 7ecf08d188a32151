//! `droplet-client data generate-car` and `data commP`, run as the real binary.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use piece_store::car::CarReader;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_droplet-client"))
        .args(args)
        .output()
        .expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails with a clear message on stderr, exit code 1, and no panic.
fn assert_clear_failure(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn proofs_commp(path: &Path) -> (String, u64) {
    use filecoin_proofs_api::{RegisteredSealProof, UnpaddedBytesAmount};
    let data = std::fs::read(path).expect("read");
    let padded = piece_store::commp::padded_size_for(data.len() as u64);
    let unpadded = padded - padded / 128;
    let reader = (&data[..]).chain(std::io::repeat(0).take(unpadded - data.len() as u64));
    let info = filecoin_proofs_api::seal::generate_piece_commitment(
        RegisteredSealProof::StackedDrg64GiBV1_1,
        reader,
        UnpaddedBytesAmount(unpadded),
    )
    .expect("proofs");
    (piece_store::commp::piece_cid_v1(&info.commitment).to_string(), unpadded)
}

#[test]
fn generate_car_then_commp_matches_filecoin_proofs_api() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("input.bin");
    std::fs::write(&input, tests::gorand::GoRandStream::bytes(11, 3_300_000)).expect("write");
    let car = tmp.path().join("out.car");
    let o = run(&[
        "data",
        "generate-car",
        input.to_str().expect("utf8"),
        car.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let root = text
        .lines()
        .find_map(|l| l.strip_prefix("Root CID: "))
        .expect("root line")
        .to_string();
    assert!(root.starts_with("bafykbzace"), "{text}");

    // The CAR passes the verifying reader and has the printed root.
    let reader = CarReader::new(std::fs::File::open(&car).expect("open")).expect("header");
    assert_eq!(reader.roots()[0].to_string(), root);
    assert_eq!(reader.count(), 5, "root and four leaves");

    let o = run(&["data", "commP", car.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (want_cid, unpadded) = proofs_commp(&car);
    assert_eq!(
        stdout(&o),
        format!(
            "CID: {want_cid}\nPiece size: {}\n",
            market_types::units::format_size(unpadded)
        )
    );

    let o = run(&["data", "commP", "--json", car.to_str().expect("utf8")]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["Root"]["/"], want_cid.as_str());
    assert_eq!(v["Size"], unpadded);
    assert_eq!(v["PayloadSize"], std::fs::metadata(&car).expect("meta").len());
}

#[test]
fn commp_output_matches_the_seed_example_format() {
    // A 4 KiB-class piece prints its unpadded size as Go's SizeStr does: "3.969 KiB".
    let tmp = tempfile::tempdir().expect("tmp");
    let f = tmp.path().join("small.car");
    std::fs::write(&f, vec![7u8; 3000]).expect("write");
    let o = run(&["data", "commP", f.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("CID: baga6ea4seaq"), "{text}");
    assert!(text.ends_with("Piece size: 3.969 KiB\n"), "{text}");
}

#[test]
fn directories_with_sha2_256_and_car_v2() {
    let tmp = tempfile::tempdir().expect("tmp");
    tests::unixfs_inputs::write_go_inputs(tmp.path()).expect("inputs");
    let car = tmp.path().join("dir.car");
    let o = run(&[
        "data",
        "generate-car",
        "--hash",
        "sha2-256",
        "--car-version",
        "2",
        "--json",
        tmp.path().join("dir").to_str().expect("utf8"),
        car.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    // The same root as the JS IPFS importer gives (see piece-store's unixfs tests).
    assert_eq!(
        v["Root"]["/"],
        "bafybeieudc4shhl6xexfc3o3cibsx4daoxpnrbuh4rpyk5lvzefwbzg4ei"
    );
    assert_eq!(v["CarVersion"], 2);
    let reader = CarReader::new(std::fs::File::open(&car).expect("open")).expect("header");
    assert_eq!(reader.version(), 2);
    assert_eq!(reader.count() as u64, v["Blocks"].as_u64().expect("count"));
    let o = run(&["data", "commP", car.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&proofs_commp(&car).0));
}

#[test]
fn bad_input_is_a_clear_error_never_a_panic() {
    let tmp = tempfile::tempdir().expect("tmp");
    let missing = tmp.path().join("missing.bin");
    let out = tmp.path().join("out.car");
    let m = missing.to_str().expect("utf8");
    let o_str = out.to_str().expect("utf8");

    assert_clear_failure(&run(&["data", "generate-car", m, o_str]), "missing.bin");
    assert_clear_failure(&run(&["data", "commP", m]), "missing.bin");
    assert_clear_failure(
        &run(&["data", "commP", tmp.path().to_str().expect("utf8")]),
        "is a directory",
    );

    let tiny = tmp.path().join("tiny");
    std::fs::write(&tiny, b"short").expect("write");
    assert_clear_failure(
        &run(&["data", "commP", tiny.to_str().expect("utf8")]),
        "at least 65 bytes",
    );

    // Output into a directory that does not exist.
    let input = tmp.path().join("in.bin");
    std::fs::write(&input, vec![1u8; 5000]).expect("write");
    let nowhere = tmp.path().join("no/such/dir/out.car");
    assert_clear_failure(
        &run(&[
            "data",
            "generate-car",
            input.to_str().expect("utf8"),
            nowhere.to_str().expect("utf8"),
        ]),
        "cannot create",
    );

    // A good CAR, then truncated and corrupted copies of it.
    std::fs::write(&input, tests::gorand::GoRandStream::bytes(3, 2_500_000)).expect("write");
    assert!(
        run(&["data", "generate-car", input.to_str().expect("utf8"), o_str])
            .status
            .success()
    );
    let bytes = std::fs::read(&out).expect("read");
    let truncated = tmp.path().join("truncated.car");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1000]).expect("write");
    assert_clear_failure(&run(&["data", "commP", truncated.to_str().expect("utf8")]), "truncated");
    let corrupt = tmp.path().join("corrupt.car");
    let mut c = bytes.clone();
    let mid = c.len() / 2;
    c[mid] ^= 0x55;
    std::fs::write(&corrupt, &c).expect("write");
    assert_clear_failure(
        &run(&["data", "commP", corrupt.to_str().expect("utf8")]),
        "does not match its CID",
    );
    // --no-verify hashes the bytes anyway, as Go does.
    assert!(
        run(&["data", "commP", "--no-verify", corrupt.to_str().expect("utf8")])
            .status
            .success()
    );

    // Unknown hash names are refused by the argument parser.
    let o = run(&[
        "data",
        "generate-car",
        "--hash",
        "md5",
        input.to_str().expect("utf8"),
        o_str,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("blake2b-256"), "{}", stderr(&o));
}

/// Long work shows progress on stderr: plain lines when stderr is not a terminal (here, a
/// pipe), from the moment `DROPLET_PROGRESS_AFTER` says; stdout keeps only the result.
#[test]
fn progress_goes_to_stderr_as_plain_lines_and_stdout_keeps_the_result() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("input.bin");
    std::fs::write(&input, tests::gorand::GoRandStream::bytes(12, 2_000_000)).expect("write");
    let car = tmp.path().join("out.car");
    let shown = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_droplet-client"))
            .args(args)
            .env("DROPLET_PROGRESS_AFTER", "0s")
            .output()
            .expect("runs")
    };
    let (i, c) = (input.to_str().expect("utf8"), car.to_str().expect("utf8"));
    let o = shown(&["data", "generate-car", i, c, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l.starts_with("importing: ") && l.contains("% (") && l.ends_with(" of 1.91 MiB)")),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("importing: 1.91 MiB in ")),
        "the last line says all of it was read: {err}"
    );
    assert!(!err.contains('\u{1b}'), "no terminal control characters: {err:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("stdout is the JSON alone");
    assert!(v["Root"]["/"].is_string());

    let o = shown(&["data", "commP", c, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .lines()
            .any(|l| l.starts_with("commP: ") && l.contains(" in ")),
        "{}",
        stderr(&o)
    );
    serde_json::from_str::<serde_json::Value>(&stdout(&o)).expect("stdout is the JSON alone");

    // Quick work under the default second shows nothing.
    let o = run(&["data", "commP", c, "--json"]);
    assert_eq!(stderr(&o), "");
}

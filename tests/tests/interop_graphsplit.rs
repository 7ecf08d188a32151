//! `droplet-client data split` against go-graphsplit itself (`tests/go/graphsplit`: v0.5.0's
//! own command, built without cgo with the pure-Go filecoin-ffi shim for its commP). Over a
//! tree with nested directories, a file cut across several slices, an exact 1 MiB file, empty
//! files, odd names and hidden entries, the CARs must be the same bytes under the same names
//! and the manifest the same bytes as graphsplit's current six-column form (v0.5.0's rows
//! rewritten through Go's `encoding/csv` by `graphsplit-manifest6`). v0.5.0 writes CIDv0;
//! the current source writes CIDv1, which is `data split`'s default and is checked here for
//! what must hold of it: the same slices, CARs that verify, piece CIDs that match the CARs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use tests::gopeers;
use tests::market::s;
use tests::procs::run_ok;

/// Deterministic bytes that do not repeat within a chunk.
fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

/// The dataset: 5.6 MB over nested directories.
fn dataset(root: &Path) {
    write(root, "a/big.bin", &data(3_500_000, 1));
    write(root, "a/b/c/deep.txt", b"deep in the tree\n");
    write(root, "a/one_mib.bin", &data(1 << 20, 2));
    write(root, "empty", b"");
    write(root, "z/empty2", b"");
    write(root, "odd, \"name\" <&>.txt", b"odd name\n");
    write(root, " leading space", b"space\n");
    write(root, "名前/ファイル.txt", "unicode\n".as_bytes());
    write(root, "dir.with.dots/x", &data(700_000, 3));
    write(root, "tab\tname", b"tab\n");
    write(root, ".hidden", b"never split");
    write(root, ".hdir/inside", b"never split");
    write(root, "m/n/o/p/q.bin", &data(1_200_000, 4));
}

/// Every file in `dir`: name → bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().into_string().expect("utf-8"),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

fn split(target: &Path, car_dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "data",
        "split",
        "--slice-size",
        "1000000",
        "--graph-name",
        "ds",
        "--json",
    ];
    let car_dir = s(car_dir);
    args.extend(["--car-dir", &car_dir]);
    args.extend(extra);
    let target = s(target);
    args.push(&target);
    serde_json::from_str(&run_ok("droplet-client", &args)).expect("json")
}

#[test]
fn data_split_writes_go_graphsplits_cars_and_manifest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ds = tmp.path().join("ds");
    dataset(&ds);

    let go_dir = tmp.path().join("go");
    std::fs::create_dir(&go_dir).expect("mkdir");
    let out = Command::new(gopeers::binary("graphsplit"))
        .args(["chunk", "--slice-size", "1000000", "--graph-name", "ds", "--calc-commp"])
        .arg("--car-dir")
        .arg(&go_dir)
        .arg(&ds)
        .output()
        .expect("run graphsplit");
    assert!(
        out.status.success(),
        "graphsplit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want_manifest = Command::new(gopeers::binary("graphsplit-manifest6"))
        .arg(&go_dir)
        .output()
        .expect("run graphsplit-manifest6");
    assert!(
        want_manifest.status.success(),
        "{}",
        String::from_utf8_lossy(&want_manifest.stderr)
    );

    // CIDv0, as the v0.5.0 release: every byte the same.
    let v0 = tmp.path().join("v0");
    let slices = split(&ds, &v0, &["--cid-version", "0"]);
    let slices = slices.as_array().expect("slices");
    assert_eq!(slices.len(), 7, "5.6 MB in 1 MB slices: {slices:?}");
    let mut ours = files(&v0);
    let our_manifest = ours.remove("manifest.csv").expect("our manifest");
    let mut theirs = files(&go_dir);
    theirs.remove("manifest.csv").expect("graphsplit's manifest");
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "the same CAR names (<root>.car)"
    );
    for (name, bytes) in &theirs {
        assert!(ours[name] == *bytes, "{name} differs from graphsplit's");
    }
    assert_eq!(
        String::from_utf8_lossy(&our_manifest),
        String::from_utf8_lossy(&want_manifest.stdout),
        "manifest.csv differs from graphsplit's six-column form"
    );
    let text = String::from_utf8(our_manifest).expect("utf-8");
    assert!(
        text.contains("odd, \\\"\"name\\\"\" \\u003c\\u0026\\u003e.txt"),
        "Go's escaping: {text}"
    );
    assert!(!text.contains("hidden"), "hidden entries are skipped");

    // CIDv1 (graphsplit's current source): the same slices, CIDs of the new kind, CARs whose
    // blocks verify and whose piece CIDs are the manifest's.
    let v1 = tmp.path().join("v1");
    let slices_v1 = split(&ds, &v1, &[]);
    let slices_v1 = slices_v1.as_array().expect("slices");
    assert_eq!(slices_v1.len(), slices.len());
    let rows =
        piece_store::split::manifest::load(&v1.join("manifest.csv")).expect("manifest reads as droplet reads it");
    assert_eq!(rows.len(), slices.len());
    for ((v0s, v1s), row) in slices.iter().zip(slices_v1).zip(&rows) {
        assert_eq!(v0s["Name"], v1s["Name"]);
        assert_eq!(v0s["ContentBytes"], v1s["ContentBytes"]);
        let root = v1s["PayloadCid"].as_str().expect("root");
        assert!(root.starts_with("bafybei"), "CIDv1 dag-pb sha2-256: {root}");
        assert_eq!(row.payload_cid.to_string(), root);
        let car = v1.join(format!("{root}.car"));
        let commp: Value = serde_json::from_str(&run_ok("droplet-client", &["data", "commP", &s(&car), "--json"]))
            .expect("commP json");
        assert_eq!(
            commp["Root"]["/"].as_str(),
            row.piece_cid.map(|c| c.to_string()).as_deref()
        );
        assert_eq!(row.payload_size, std::fs::metadata(&car).expect("car").len());
        assert_eq!(Some(row.piece_size), commp["Size"].as_u64());
    }

    // --rename and --add-padding: piece files named by piece CID, padded to the unpadded size.
    let pieces = tmp.path().join("pieces");
    let renamed = split(&ds, &pieces, &["--rename", "--add-padding"]);
    for (slice, row) in renamed.as_array().expect("slices").iter().zip(&rows) {
        let piece = row.piece_cid.expect("piece").to_string();
        assert_eq!(slice["PieceCid"].as_str(), Some(piece.as_str()));
        let file = pieces.join(&piece);
        assert_eq!(std::fs::metadata(&file).expect("piece file").len(), row.piece_size);
        let commp: Value = serde_json::from_str(&run_ok(
            "droplet-client",
            &["data", "commP", &s(&file), "--json", "--no-verify"],
        ))
        .expect("json");
        assert_eq!(
            commp["Root"]["/"].as_str(),
            Some(piece.as_str()),
            "padding keeps the piece CID"
        );
    }

    // A second run appends its rows under the first's, as graphsplit does.
    split(&ds, &v1, &[]);
    let again = std::fs::read_to_string(v1.join("manifest.csv")).expect("manifest");
    assert_eq!(again.matches("playload_cid").count(), 1);
    assert_eq!(again.lines().count(), 1 + 2 * slices.len());
}

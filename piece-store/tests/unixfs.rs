//! UnixFS import against root CIDs from an independent IPFS implementation (the JavaScript
//! ipfs-unixfs-importer 17.1.1, see tools/unixfs-vectors), and the CARs written from it.

use std::io::Cursor;
use std::path::Path;

use piece_store::car::{self, CarReader};
use piece_store::unixfs::{BlockCid, HashFunction, ImportOptions, Importer, pb};

fn import(path: &Path, opts: ImportOptions) -> piece_store::unixfs::Dag {
    Importer::new(opts).import_path(path, &mut |_| {}).expect("import")
}

fn sha256_go() -> ImportOptions {
    ImportOptions {
        hash: HashFunction::Sha2_256,
        ..ImportOptions::default()
    }
}

/// Small settings to get deep trees and nested shards from little data. Inlining is off
/// because nodes of 4 links can be under 126 bytes, and the JS importer never inlines.
fn sha256_small() -> ImportOptions {
    ImportOptions {
        chunk_size: 1024,
        max_links: 4,
        shard_threshold: 1000,
        inline_limit: 0,
        ..sha256_go()
    }
}

#[test]
fn sha2_256_roots_match_the_js_importer_with_go_settings() {
    let tmp = tempfile::tempdir().expect("tmp");
    test_inputs::unixfs_inputs::write_go_inputs(tmp.path()).expect("inputs");
    for (name, want) in [
        (
            "one_chunk",
            "bafkreiegoslk34sog6vpu7fpyimxsjhezlcptakfrve7lzqechvuzvahr4",
        ),
        (
            "three_chunks",
            "bafybeias5jilieqtsjnu2lriiduzjwmg64ajzjz6tfetbi5umdgaawhkum",
        ),
        ("dir", "bafybeieudc4shhl6xexfc3o3cibsx4daoxpnrbuh4rpyk5lvzefwbzg4ei"),
        // 6000 entries: over the 256 KiB estimate, so a HAMT.
        ("big_dir", "bafybeigxzldpbm6flqf4cjgefzhuse24cajwqr4umotqfopoqgdvzgncyq"),
    ] {
        assert_eq!(
            import(&tmp.path().join(name), sha256_go()).root().to_string(),
            want,
            "{name}"
        );
    }
}

#[test]
fn deep_trees_and_nested_shards_match_the_js_importer() {
    let tmp = tempfile::tempdir().expect("tmp");
    test_inputs::unixfs_inputs::write_small_inputs(tmp.path()).expect("inputs");
    for (name, want) in [
        ("deep", "bafybeihgoajosl5v4jdc434vbhc3i4w5ofbno7i4czmrlbqk7drgbec63u"),
        (
            "shard_dir",
            "bafybeid5ymd32b5qnx43aocvlsrnf5dhx7qm6s3bpfgough23nsxt57oyu",
        ),
    ] {
        assert_eq!(
            import(&tmp.path().join(name), sha256_small()).root().to_string(),
            want,
            "{name}"
        );
    }
}

#[test]
fn default_is_blake2b_256_like_the_go_client() {
    let tmp = tempfile::tempdir().expect("tmp");
    test_inputs::unixfs_inputs::write_go_inputs(tmp.path()).expect("inputs");
    // A single chunk is a raw leaf: bafk2bzace… is raw + blake2b-256, as the Go client prints.
    let leaf = import(&tmp.path().join("one_chunk"), ImportOptions::default()).root();
    assert!(leaf.to_string().starts_with("bafk2bzace"), "{leaf}");
    assert_eq!((leaf.codec(), leaf.hash().code()), (0x55, 0xb220));
    // Several chunks: a dag-pb root (bafykbzace…), same tree shape as with sha2-256.
    let multi = import(&tmp.path().join("three_chunks"), ImportOptions::default());
    assert!(multi.root().to_string().starts_with("bafykbzace"), "{}", multi.root());
    assert_eq!(
        multi.block_count(),
        import(&tmp.path().join("three_chunks"), sha256_go()).block_count()
    );
}

#[test]
fn small_blocks_are_inlined_as_identity_cids() {
    let tmp = tempfile::tempdir().expect("tmp");
    let small = tmp.path().join("small");
    std::fs::write(&small, b"hello world\n").expect("write");
    let root = import(&small, ImportOptions::default()).root();
    // Identity multihash, raw codec: the data is the CID.
    assert_eq!((root.codec(), root.hash().code()), (0x55, 0x00));
    assert_eq!(root.hash().digest(), b"hello world\n");
    let empty = tmp.path().join("empty");
    std::fs::write(&empty, b"").expect("write");
    assert_eq!(import(&empty, ImportOptions::default()).root().to_string(), "bafkqaaa");

    // 4 MiB + 10 bytes: the 10-byte tail leaf is inlined inside the root's links.
    let tail = tmp.path().join("tail");
    let mut data: Vec<u8> = (0..4u8).flat_map(|i| vec![i; 1 << 20]).collect();
    data.extend_from_slice(&[3u8; 10]);
    std::fs::write(&tail, data).expect("write");
    let dag = import(&tail, ImportOptions::default());
    let (car_bytes, _) = car::write_dag(&dag, Vec::new()).expect("car");
    let blocks: Vec<_> = CarReader::new(Cursor::new(&car_bytes))
        .expect("car")
        .collect::<Result<_, _>>()
        .expect("ok");
    assert_eq!(
        blocks.len(),
        5,
        "root and the four 1 MiB leaves; the identity leaf is not written"
    );
    let node = pb::decode_node(&blocks[0].data).expect("root is dag-pb");
    let inline = BlockCid::try_from(node.links[4].hash.as_slice()).expect("cid");
    assert_eq!(inline.hash().code(), 0);
    assert_eq!(inline.hash().digest(), &[3u8; 10]);

    // A file node over two leaves encodes to under 126 bytes, so the root itself is an
    // identity CID, exactly as Go's InlineBuilder makes it; the CAR holds the two leaves.
    let two = tmp.path().join("two");
    std::fs::write(&two, vec![5u8; (1 << 20) + 1000]).expect("write");
    let dag = import(&two, ImportOptions::default());
    assert_eq!((dag.root().codec(), dag.root().hash().code()), (0x70, 0));
    let (car_bytes, entries) = car::write_dag(&dag, Vec::new()).expect("car");
    assert_eq!(entries.len(), 2);
    assert_eq!(
        CarReader::new(Cursor::new(&car_bytes)).expect("car").roots(),
        &[dag.root()]
    );
}

#[test]
fn generated_cars_pass_the_verifying_reader_in_depth_first_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    test_inputs::unixfs_inputs::write_small_inputs(tmp.path()).expect("inputs");
    for name in ["deep", "shard_dir"] {
        let dag = import(&tmp.path().join(name), sha256_small());
        let (v1, entries) = car::write_dag(&dag, Vec::new()).expect("car");
        let reader = CarReader::new(Cursor::new(&v1)).expect("header");
        assert_eq!(reader.roots(), &[dag.root()]);
        let blocks: Vec<_> = reader.collect::<Result<_, _>>().expect("every block verifies");
        assert_eq!(blocks.len(), dag.block_count());
        assert_eq!(blocks.len(), entries.len());
        // Depth-first: the root first, and every block after the block that links to it.
        assert_eq!(blocks[0].cid, dag.root());
        let pos: std::collections::HashMap<_, _> = blocks.iter().enumerate().map(|(i, b)| (b.cid, i)).collect();
        for (i, b) in blocks.iter().enumerate() {
            if b.cid.codec() == 0x70 {
                for l in pb::decode_node(&b.data).expect("dag-pb").links {
                    let c = BlockCid::try_from(l.hash.as_slice()).expect("cid");
                    if let Some(&j) = pos.get(&c) {
                        assert!(j > i, "{name}: child {c} before its parent");
                    }
                }
            }
        }
        // The same DAG as CARv2 reads back to the same blocks.
        let v2 = car::wrap_v2(Cursor::new(Vec::new()), |f| Ok(car::write_dag(&dag, f)?.1))
            .expect("v2")
            .into_inner();
        let r2: Vec<_> = CarReader::new(Cursor::new(&v2))
            .expect("v2")
            .collect::<Result<_, _>>()
            .expect("ok");
        assert_eq!(
            r2.iter().map(|b| &b.data).collect::<Vec<_>>(),
            blocks.iter().map(|b| &b.data).collect::<Vec<_>>()
        );
    }
}

#[test]
fn import_errors_name_the_path() {
    let err = Importer::new(ImportOptions::default())
        .import_path(Path::new("/nonexistent/input"), &mut |_| {})
        .expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/input"), "{err}");
}

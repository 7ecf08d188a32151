//! lassie (`tests/go/lassie`, v0.25.0), the retrieval client the retrieval issues use, against
//! data droplet-client prepares: a small trustless-gateway server in this test answers lassie's
//! `/ipfs/{root}` request with the CAR `droplet-client data generate-car` wrote. lassie walks
//! the DAG and checks every block against its link (the DFS order of a trustless response), so
//! this proves the CAR droplet's HTTP retrieval will serve is what lassie accepts, and that a
//! corrupted one is refused.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use piece_store::unixfs::BlockCid;
use serde_json::Value;
use tests::gopeers;
use tests::market::s;
use tests::procs::run_ok;

/// Serve `body` as a trustless CAR response to every request; the request lines and headers
/// received are recorded.
fn serve_car(body: Vec<u8>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            record.lock().expect("lock").extend(head);
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ipld.car;version=1;order=dfs;dups=y\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(header.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (format!("http://{addr}"), seen)
}

fn lassie(dir: &Path, provider: &str, root: &str, out: &Path) -> std::process::Output {
    Command::new(gopeers::binary("lassie"))
        .args([
            "fetch",
            "--protocols",
            "http",
            "--providers",
            provider,
            "--global-timeout",
            "30s",
            "-o",
        ])
        .arg(out)
        .arg(root)
        .current_dir(dir)
        .output()
        .expect("run lassie")
}

#[test]
fn lassie_fetches_and_verifies_a_car_droplet_client_built_and_refuses_a_corrupted_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let version = Command::new(gopeers::binary("lassie"))
        .arg("version")
        .output()
        .expect("lassie");
    assert!(
        String::from_utf8_lossy(&version.stdout).contains("v0.25.0"),
        "the pinned lassie: {}",
        String::from_utf8_lossy(&version.stdout)
    );

    // A file over several UnixFS chunks, so the DAG has a root and leaves.
    let file = dir.path().join("data.bin");
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &data).expect("data");
    let car = dir.path().join("data.car");
    let info: Value = serde_json::from_str(&run_ok(
        "droplet-client",
        &["data", "generate-car", &s(&file), &s(&car), "--json"],
    ))
    .expect("json");
    let root = info["Root"]["/"].as_str().expect("root").to_string();
    let car_bytes = std::fs::read(&car).expect("car");

    let (url, seen) = serve_car(car_bytes.clone());
    let fetched = dir.path().join("fetched.car");
    let out = lassie(dir.path(), &url, &root, &fetched);
    assert!(
        out.status.success(),
        "lassie refused droplet-client's CAR: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What lassie asked for: the whole DAG, as a trustless CAR.
    let request = seen.lock().expect("lock").clone();
    assert!(
        request
            .iter()
            .any(|l| l.starts_with(&format!("GET /ipfs/{root}?")) && l.contains("dag-scope=all")),
        "{request:?}"
    );
    assert!(
        request
            .iter()
            .any(|l| l.to_ascii_lowercase().starts_with("accept: application/vnd.ipld.car")),
        "{request:?}"
    );
    assert!(
        request
            .iter()
            .any(|l| l.to_ascii_lowercase().starts_with("user-agent: lassie/v0.25.0")),
        "{request:?}"
    );
    // lassie writes back exactly the blocks it verified, in order: our CAR, byte for byte.
    let back = std::fs::read(&fetched).expect("lassie's CAR");
    assert!(
        back == car_bytes,
        "lassie's CAR ({} bytes) differs from ours ({} bytes)",
        back.len(),
        car_bytes.len()
    );

    // One flipped byte in the last block: lassie must refuse the response.
    let mut corrupt = car_bytes;
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let (url, _) = serve_car(corrupt);
    let out = lassie(dir.path(), &url, &root, &dir.path().join("bad.car"));
    assert!(!out.status.success(), "lassie accepted a corrupted CAR");
}

// ---- lassie against droplet's trustless gateway -------------------------------------------

/// The blocks of a CAR lassie wrote, in order.
fn car_blocks(path: &Path) -> Vec<(BlockCid, Vec<u8>)> {
    let file = std::fs::File::open(path).expect("lassie's CAR");
    let mut reader = piece_store::car::CarReader::new(std::io::BufReader::new(file)).expect("a CAR");
    let mut out = Vec::new();
    while let Some(b) = reader.next_block().expect("a verified block") {
        out.push((b.cid, b.data));
    }
    out
}

struct CarBlocks(std::collections::HashMap<BlockCid, Vec<u8>>);

impl piece_store::unixfs::export::Blocks for CarBlocks {
    fn block(&self, cid: &BlockCid) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.0.get(cid).cloned())
    }
}

fn blockstore(blocks: &[(BlockCid, Vec<u8>)]) -> CarBlocks {
    CarBlocks(blocks.iter().cloned().collect())
}

/// The CID under `name` in the UnixFS directory `dir` (an inlined one read from its CID).
fn child(blocks: &[(BlockCid, Vec<u8>)], dir: &BlockCid, name: &str) -> BlockCid {
    let data = if dir.hash().code() == 0 {
        dir.hash().digest().to_vec()
    } else {
        blocks
            .iter()
            .find(|(c, _)| c == dir)
            .expect("the directory's block")
            .1
            .clone()
    };
    let node = piece_store::unixfs::pb::decode_node(&data).expect("dag-pb");
    node.links
        .iter()
        .find(|l| l.name == name)
        .map(|l| BlockCid::try_from(l.hash.as_slice()).expect("a link CID"))
        .unwrap_or_else(|| panic!("{name} in {dir}"))
}

/// `lassie fetch` of `what` (`<root>[/path]`) from `provider` with `flags`; lassie's output
/// CAR, failing the test with lassie's words if it refused.
fn lassie_fetch(dir: &Path, provider: &str, what: &str, flags: &[&str], name: &str) -> std::path::PathBuf {
    let out = dir.join(format!("{name}.car"));
    let mut cmd = Command::new(gopeers::binary("lassie"));
    cmd.args(["fetch", "--providers", provider, "--global-timeout", "60s", "-o"])
        .arg(&out)
        .args(flags)
        .arg(what)
        .current_dir(dir);
    let output = cmd.output().expect("run lassie");
    assert!(
        output.status.success(),
        "lassie {flags:?} {what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

#[test]
fn lassie_fetches_from_droplets_gateway_every_scope_a_path_and_a_byte_range() {
    let mut m = tests::market::setup();
    let dir = tempfile::tempdir().expect("tempdir");
    // A directory in an Active deal: /big.bin over several chunks, /sub/small.txt in one block,
    // /sub/mid.bin.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).expect("dirs");
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let mid: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(40_503) >> 5) as u8).collect();
    std::fs::write(tree.join("big.bin"), &big).expect("big");
    std::fs::write(tree.join("sub/small.txt"), b"a small file in a subdirectory\n").expect("small");
    std::fs::write(tree.join("sub/mid.bin"), &mid).expect("mid");
    let (root, proposal) = tests::retrieval::propose_imported(&m, &tree);
    m.publish_seal_and_activate(&[proposal]);
    let base = m.serve_http_retrieval();
    let http = |what: &str, flags: &[&str], name: &str| {
        let mut all = vec!["--protocols", "http"];
        all.extend_from_slice(flags);
        lassie_fetch(dir.path(), &base, what, &all, name)
    };

    // dag-scope=all from the root: lassie verified it; it exports to the tree.
    let all = car_blocks(&http(&root, &["--dag-scope", "all"], "all"));
    let out = dir.path().join("exported");
    piece_store::unixfs::export::export(&blockstore(&all), &root.parse().expect("cid"), &out).expect("export");
    assert_eq!(std::fs::read(out.join("big.bin")).expect("big"), big);
    assert_eq!(std::fs::read(out.join("sub/mid.bin")).expect("mid"), mid);
    assert_eq!(
        std::fs::read(out.join("sub/small.txt")).expect("small"),
        b"a small file in a subdirectory\n"
    );

    // A path into the directory with the entity scope: the path's blocks, then the file
    // whole. (/sub is small enough to be inlined in its parent's link, an identity CID: it is
    // walked through but never sent as a block.)
    let big_root = child(&all, &root.parse().expect("cid"), "big.bin");
    let entity = car_blocks(&http(&format!("{root}/big.bin"), &["--dag-scope", "entity"], "entity"));
    assert_eq!(entity[0].0.to_string(), root, "the root first");
    assert_eq!(entity[1].0, big_root, "then the file's root");
    let mut bytes = Vec::new();
    piece_store::unixfs::export::write_file(&blockstore(&entity), &big_root, &mut bytes).expect("the file");
    assert_eq!(bytes, big);
    let mid_root = child(&all, &child(&all, &root.parse().expect("cid"), "sub"), "mid.bin");
    let through = car_blocks(&http(
        &format!("{root}/sub/mid.bin"),
        &["--dag-scope", "entity"],
        "through",
    ));
    let mut bytes = Vec::new();
    piece_store::unixfs::export::write_file(&blockstore(&through), &mid_root, &mut bytes).expect("the file");
    assert_eq!(bytes, mid, "a file under an inlined directory");

    // The block scope: the root and the file's root block only.
    let block = car_blocks(&http(&format!("{root}/big.bin"), &["--dag-scope", "block"], "block"));
    let cids: Vec<BlockCid> = block.iter().map(|b| b.0).collect();
    assert_eq!(cids, vec![root.parse().expect("cid"), big_root]);

    // An entity-bytes range: only the leaves under it; their bytes are the file's there.
    let (from, to) = (1_500_000usize, 2_100_000usize);
    let range = car_blocks(&http(
        &format!("{root}/big.bin"),
        &["--dag-scope", "entity", "--entity-bytes", &format!("{from}:{to}")],
        "range",
    ));
    let leaves: Vec<&Vec<u8>> = range
        .iter()
        .filter(|(c, _)| c.codec() == 0x55)
        .map(|(_, d)| d)
        .collect();
    let chunk = all
        .iter()
        .find(|(c, _)| c.codec() == 0x55)
        .map(|(_, d)| d.len())
        .expect("a leaf");
    let start = from / chunk * chunk;
    let got: Vec<u8> = leaves.iter().flat_map(|d| d.iter().copied()).collect();
    assert!(start + got.len() > to, "the leaves reach the range's end");
    assert_eq!(got, big[start..start + got.len()], "the range's leaves, in order");
    assert!(got.len() < big.len(), "not the whole file");

    // lassie given droplet's libp2p address only: it asks /fil/retrieval/transports/1.0.0,
    // finds the gateway there, and fetches over HTTP.
    let (id, addr) = tests::procs::announce(&m.provider);
    let libp2p = format!("{addr}/p2p/{id}");
    let via = car_blocks(&lassie_fetch(
        dir.path(),
        &libp2p,
        &format!("{root}/big.bin"),
        &["--protocols", "http", "--dag-scope", "entity"],
        "transports",
    ));
    assert_eq!(via, entity, "the same response through the announced address");

    // The same DAG over graphsync from droplet (free retrieval): the walk through the inlined
    // directory is the same on that path.
    m.droplet(&["retrieval", "ask", "set", tests::market::MINER]);
    let gs = car_blocks(&lassie_fetch(
        dir.path(),
        &libp2p,
        &format!("{root}/sub/mid.bin"),
        &["--protocols", "graphsync", "--dag-scope", "entity"],
        "graphsync",
    ));
    assert_eq!(gs, through, "graphsync and HTTP give the same blocks");
}

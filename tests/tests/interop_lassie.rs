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

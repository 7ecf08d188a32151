//! droplet's Prometheus metrics (`[Metrics]`): scraped from their own listener while a deal goes
//! Active and data is retrieved over HTTP and graphsync; each exposition read by Prometheus's own
//! text parser (`go-prom-parse`, prometheus/common expfmt); the counters must move.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tests::gopeers;
use tests::market::{MINER, Market, setup};
use tests::procs::wait_for;
use tests::retrieval::{retrieve, stderr};

/// Scrape droplet's metrics endpoint and parse the exposition with expfmt.
fn scrape(m: &Market) -> Value {
    let droplet = m.droplet.as_ref().expect("droplet");
    let url = wait_for("droplet's metrics line", Duration::from_secs(30), None, || {
        droplet
            .log()
            .lines()
            .find_map(|l| l.strip_prefix("metrics on ").map(str::to_string))
    });
    parse(&url)
}

/// Fetch an exposition and parse it with expfmt.
fn parse(url: &str) -> Value {
    let body = Command::new("curl").args(["-sS", "-f", url]).output().expect("curl");
    assert!(body.status.success(), "{}", String::from_utf8_lossy(&body.stderr));
    let mut parser = Command::new(gopeers::binary("go-prom-parse"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("go-prom-parse");
    parser
        .stdin
        .take()
        .expect("stdin")
        .write_all(&body.stdout)
        .expect("write");
    let out = parser.wait_with_output().expect("parse");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the exposition does not parse: {text}\n{}",
        String::from_utf8_lossy(&body.stdout)
    );
    serde_json::from_str(&text).expect("JSON")
}

/// The value of `name` with exactly these labels (0 when absent).
fn sample(metrics: &Value, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics[name]["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| {
            let l = s["labels"].as_object().map(|o| o.len()).unwrap_or(0);
            l == labels.len() && labels.iter().all(|(k, v)| s["labels"][*k] == *v)
        })
        .and_then(|s| s["value"].as_f64())
        .unwrap_or(0.0)
}

#[test]
fn metrics_move_with_a_deal_and_with_retrievals_over_http_and_graphsync() {
    let mut m = setup();
    m.edit_config(&[
        ("Metrics", "Enabled", true.into()),
        ("Metrics.Exporter.Prometheus", "EndPoint", "/ip4/127.0.0.1/tcp/0".into()),
        ("Metrics.Exporter.Prometheus", "Path", "/debug/metrics".into()),
    ]);
    m.restart_droplet_with(&[]);
    let before = scrape(&m);
    assert_eq!(sample(&before, "active_deal_count", &[("miner", MINER)]), 0.0);

    // A deal to Active: droplet's own gauge and the per-state one follow it.
    let offline = m.propose();
    assert!(m.deal_cmd(&["import-data", &offline, &m.car]).status.success());
    m.publish_seal_and_activate(std::slice::from_ref(&offline));
    let after = scrape(&m);
    assert_eq!(after["active_deal_count"]["type"], "GAUGE", "{after}");
    // The publish that took it: when, and how many deals; the queue empty again.
    let published = sample(&after, "droplet_last_publish_timestamp_seconds", &[("miner", MINER)]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(published > now - 600.0 && published <= now + 1.0, "{after}");
    assert_eq!(sample(&after, "droplet_last_publish_deals", &[("miner", MINER)]), 1.0);
    assert_eq!(sample(&after, "droplet_publish_queue_deals", &[("miner", MINER)]), 0.0);

    assert_eq!(sample(&after, "active_deal_count", &[("miner", MINER)]), 1.0, "{after}");
    assert_eq!(
        sample(
            &after,
            "droplet_storage_deals",
            &[("miner", MINER), ("state", "StorageDealActive")]
        ),
        1.0,
        "{after}"
    );

    // The miner's escrow and the part the deal locks, read from the chain in the background.
    let locked = wait_for("the escrow gauges", Duration::from_secs(30), None, || {
        let now = scrape(&m);
        let escrow = sample(
            &now,
            "droplet_market_escrow_fil",
            &[("miner", MINER), ("kind", "escrow")],
        );
        let locked = sample(
            &now,
            "droplet_market_escrow_fil",
            &[("miner", MINER), ("kind", "locked")],
        );
        (escrow > 0.0 && locked > 0.0 && locked <= escrow).then_some(locked)
    });
    assert!(locked > 0.0);

    // Over HTTP: the requests and every byte of the body counted, per route.
    let base = m.serve_http_retrieval();
    // (Counters start again with droplet.)
    let reads_before = sample(&scrape(&m), "piecestorage_retrieval_hit", &[("storage", "local")]);
    let piece = Command::new("curl")
        .args(["-sS", "-f", &format!("{base}/piece/{}", m.piece)])
        .output()
        .expect("curl");
    assert!(piece.status.success());
    let missing = Command::new("curl")
        .args(["-s", "-o", "/dev/null", &format!("{base}/ipfs/bafkqaaa")])
        .output()
        .expect("curl");
    assert!(missing.status.success());
    let http = scrape(&m);
    assert_eq!(
        sample(
            &http,
            "droplet_http_retrieval_requests_total",
            &[("route", "piece"), ("code", "200")]
        ),
        1.0,
        "{http}"
    );
    assert_eq!(
        sample(&http, "droplet_http_retrieval_bytes_total", &[("route", "piece")]),
        piece.stdout.len() as f64,
        "{http}"
    );
    assert!(
        sample(
            &http,
            "droplet_http_retrieval_requests_total",
            &[("route", "ipfs"), ("code", "200")]
        ) >= 1.0
    );

    // Failed API calls, under go-jsonrpc's names as droplet exports them.
    let (api, token) = m.droplet_http();
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"VENUS_MARKET.NoSuchMethod","params":[]}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"VENUS_MARKET.MarketGetDeal","params":[{"/":"bafyreigfrl4ijqkfyaho6lmjnzvwltifmpyutqcaurnrx6m6vpfhvtgdmu"}]}"#,
    ] {
        let o = Command::new("curl")
            .args([
                "-sS",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "-H",
                "Content-Type: application/json",
            ])
            .args(["-d", body, &format!("{api}/rpc/v0")])
            .output()
            .expect("curl");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("\"error\""),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    let rpc = scrape(&m);
    assert_eq!(
        sample(&rpc, "rpc_invalid_method", &[("method", "VENUS_MARKET.NoSuchMethod")]),
        1.0,
        "{rpc}"
    );
    assert_eq!(
        sample(&rpc, "rpc_response_error", &[("method", "VENUS_MARKET.MarketGetDeal")]),
        1.0,
        "{rpc}"
    );

    // Over graphsync: the retrieval deal and its bytes.
    m.droplet(&["retrieval", "ask", "set", MINER]);
    let dir = tempfile::tempdir().expect("tempdir");
    let o = retrieve(&m, &m.root, &dir.path().join("out"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let gs = scrape(&m);
    assert_eq!(
        sample(&gs, "droplet_retrieval_deals", &[("state", "DealStatusCompleted")]),
        1.0,
        "{gs}"
    );
    assert!(
        sample(&gs, "droplet_retrieval_bytes_sent", &[("transport", "graphsync")]) > 0.0,
        "{gs}"
    );
    // The piece store the reads came from (HTTP /piece and graphsync at least).
    assert!(
        sample(&gs, "piecestorage_retrieval_hit", &[("storage", "local")]) >= reads_before + 2.0,
        "{gs}"
    );
}

/// droplet-client's own metrics (`[Metrics]` in its config, as droplet's): its deals per
/// state, its retrievals with the bytes received, its imports; read by expfmt.
#[test]
fn the_client_s_metrics_follow_its_deals_and_retrievals() {
    let mut m = setup();
    let cfg_path = Path::new(&m.client).join("config.toml");
    let mut cfg: toml::Table = toml::from_str(&std::fs::read_to_string(&cfg_path).expect("config")).expect("toml");
    let metrics = cfg["Metrics"]
        .as_table_mut()
        .expect("the client writes a [Metrics] section");
    metrics.insert("Enabled".into(), true.into());
    metrics["Exporter"]["Prometheus"]
        .as_table_mut()
        .expect("prometheus")
        .insert("EndPoint".into(), "/ip4/127.0.0.1/tcp/0".into());
    std::fs::write(&cfg_path, toml::to_string(&cfg).expect("toml")).expect("write");
    m.restart_client();
    let url = wait_for("the client's metrics line", Duration::from_secs(30), None, || {
        std::fs::read_dir(Path::new(&m.client).join(".."))
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("client-"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find_map(|log| {
                log.lines()
                    .find_map(|l| l.strip_prefix("metrics on ").map(str::to_string))
            })
    });
    let p = m.propose();
    assert!(m.deal_cmd(&["import-data", &p, &m.car]).status.success());
    m.publish_seal_and_activate(std::slice::from_ref(&p));
    m.wait_client_state(&p, 7);
    m.droplet(&["retrieval", "ask", "set", MINER]);
    let dir = tempfile::tempdir().expect("tempdir");
    let o = retrieve(&m, &m.root, &dir.path().join("out"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = parse(&url);
    assert_eq!(
        sample(&got, "droplet_client_storage_deals", &[("state", "StorageDealActive")]),
        1.0,
        "{got}"
    );
    assert_eq!(
        sample(&got, "droplet_client_retrievals", &[("state", "DealStatusCompleted")]),
        1.0,
        "{got}"
    );
    assert_eq!(
        sample(&got, "droplet_client_retrieval_bytes_received", &[]),
        3000.0,
        "{got}"
    );
}

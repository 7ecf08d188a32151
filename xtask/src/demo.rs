//! `cargo xtask demo`: the market on one machine, from nothing. A local chain, the
//! provider's droplet and the data owner's droplet-client run in a temporary directory on
//! loopback; the provider announces itself on chain and sets an ask, the client finds it over
//! libp2p and prepares data for a deal. Everything is stopped and removed at the end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::stack::{
    Demo, announce, json_field, propose, publish_now, seal, set_ask, set_priced_retrieval_ask, start_client,
    start_devnet, start_droplet, wait_state,
};

pub fn run(workspace: &Path) -> Result<()> {
    println!("droplet-rs demo: a local chain, a provider and a data owner on this machine.\n");
    println!("0. building droplet-devnet, droplet and droplet-client");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let demo = Demo::build("demo", &target, false, true)?;

    println!("\n1. starting droplet-devnet: a chain with miner t01000 (owner, worker) and funded clients");
    let (devnet, token, ma) = start_devnet(&demo, &[])?;
    let (token, ma) = (token.as_str(), ma.as_str());
    println!("   full node, messager, wallet and auth at {ma}");

    println!(
        "\n2. starting droplet (the provider's market) for t01000, signing with the worker key through the wallet"
    );
    let p = demo.repo("droplet");
    let (droplet, ipni) = start_droplet(&demo, ma, token)?;

    println!("\n3. announcing the market on chain: the miner's addresses and peer ID (messages from the worker)");
    announce(&demo)?;
    demo.run("droplet", &["--repo", &p, "actor", "info", "--miner", "t01000"])?;

    println!("\n4. setting t01000's storage ask (signed by the worker, for ask/1.1.0 and ask/1.0.1)");
    set_ask(&demo, "0.01fil", "0.002fil", "8MiB")?;

    println!("\n5. starting droplet-client (the data owner's market) and querying the ask over libp2p");
    let c = demo.repo("client");
    let client = start_client(&demo, ma, token)?;
    demo.run("droplet-client", &["--repo", &c, "storage", "asks", "query", "t01000"])?;

    println!("\n6. preparing data for a deal: a CAR of README.md and its piece commitment");
    let readme = workspace.join("README.md");
    let car = demo.dir.join("readme.car");
    let car_s = car.to_string_lossy().into_owned();
    let made = demo.run(
        "droplet-client",
        &["data", "generate-car", &readme.to_string_lossy(), &car_s],
    )?;
    let root = made
        .lines()
        .find_map(|l| l.trim().strip_prefix("Root CID: "))
        .context("root CID")?
        .to_string();
    let cp = demo.run("droplet-client", &["data", "commP", &car_s, "--json"])?;
    let piece = json_field(&cp, "\"/\": \"").context("piece CID")?;
    let size = json_field(&cp, "\"Size\": ").context("piece size")?;

    println!("\n7. the client proposes an offline deal (180 days) on /fil/storage/mk/1.2.1; droplet checks it");
    let proposal = propose(
        &demo,
        &root,
        "0.02fil",
        &["--manual-piece-cid", &piece, "--manual-piece-size", &size],
    )?;

    println!(
        "\n8. the client imports Cargo.lock (UnixFS into a CAR, commP) and proposes an online deal: \
         droplet downloads the CAR over HTTP from the client, with the deal's token"
    );
    let imported = demo.run(
        "droplet-client",
        &[
            "--repo",
            &c,
            "data",
            "import",
            "--quiet",
            &workspace.join("Cargo.lock").to_string_lossy(),
        ],
    )?;
    let online_root = imported.trim().to_string();
    demo.run("droplet-client", &["--repo", &c, "data", "stat", &online_root])?;
    let online = propose(&demo, &online_root, "0.02fil", &[])?;

    println!("\n9. the provider imports the offline deal's data; both deals are checked (commP), funded and queued");
    demo.run(
        "droplet",
        &["--repo", &p, "storage", "deal", "import-data", &proposal, &car_s],
    )?;
    for d in [&proposal, &online] {
        wait_state(&demo, &p, d, "StorageDealPublish")?;
    }
    demo.run("droplet", &["--repo", &p, "storage", "deal", "list"])?;

    println!("\n10. publishing now: both deals in one PublishStorageDeals message from the worker");
    publish_now(&demo, &[&proposal, &online])?;

    println!("\n11. the sealer (damocles-like) pulls the deals, checks the pieces, pre-commits and proves a sector");
    seal(&demo, &[&proposal, &online])?;

    println!("\n12. both deals are Active: the provider's list, then the client's (its tracker follows the chain)");
    demo.run("droplet", &["--repo", &p, "storage", "deal", "list"])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new(demo.bin("droplet-client"))
            .args(["--repo", &c, "storage", "deals", "list"])
            .output()?;
        if String::from_utf8_lossy(&out.stdout)
            .matches("StorageDealActive")
            .count()
            == 2
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the client did not see both deals Active");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    demo.run("droplet-client", &["--repo", &c, "storage", "deals", "list"])?;

    println!("\n13. retrieving both deals' data back over graphsync and data-transfer (a free retrieval ask)");
    demo.run("droplet", &["--repo", &p, "retrieval", "ask", "set", "t01000"])?;
    demo.run(
        "droplet-client",
        &["--repo", &c, "retrieval", "query-ask", "t01000", &root],
    )?;
    // Retrieve `data_root` into `out` and compare it with `original`.
    let retrieve = |data_root: &str, original: &Path, out: &Path, extra: &[&str]| -> Result<()> {
        let out_s = out.to_string_lossy();
        let mut args = vec!["--repo", &c, "retrieval", "retrieve", "--provider", "t01000"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[data_root, &out_s]);
        demo.run("droplet-client", &args)?;
        if std::fs::read(out)? != std::fs::read(original)? {
            bail!("the retrieved {} differs from the original", original.display());
        }
        Ok(())
    };
    for (data_root, original, name) in [
        (&root, readme.clone(), "README.md"),
        (&online_root, workspace.join("Cargo.lock"), "Cargo.lock"),
    ] {
        retrieve(data_root, &original, &demo.dir.join(format!("retrieved-{name}")), &[])?;
        println!("   retrieved {name}: byte-identical to the original");
    }
    demo.run("droplet", &["--repo", &p, "retrieval", "deal", "list"])?;

    println!(
        "\n14. a paid retrieval: 1000 attoFIL a byte, a payment every 64 KiB; the client opens a payment \
         channel and pays, when asked at each interval, for what it received, with vouchers the provider \
         checks on chain"
    );
    set_priced_retrieval_ask(&demo, "64KiB")?;
    retrieve(
        &online_root,
        &workspace.join("Cargo.lock"),
        &demo.dir.join("paid-Cargo.lock"),
        &["--maxPrice", "0.001"],
    )?;
    println!("   paid retrieval of Cargo.lock: byte-identical to the original");
    demo.run("droplet-client", &["--repo", &c, "paych", "list"])?;
    demo.run("droplet", &["--repo", &p, "paych", "list"])?;

    println!(
        "\n15. the offline deal's piece over HTTP, as booster-http serves it: curl fetches droplet's \
         /piece/<pieceCid> (no token); the body is the CAR zero-padded to the piece size, so its commP \
         is the piece CID"
    );
    let url = format!(
        "{}/piece/{piece}",
        http_base(&std::fs::read_to_string(demo.dir.join("droplet/api"))?)?
    );
    let fetched = demo.dir.join("piece-over-http");
    let fetched_s = fetched.to_string_lossy().into_owned();
    curl(&["-o", &fetched_s, &url])?;
    let (body, car_bytes) = (std::fs::read(&fetched)?, std::fs::read(&car)?);
    if !body.starts_with(&car_bytes) || body[car_bytes.len()..].iter().any(|b| *b != 0) {
        bail!("{url} is not the deal's CAR followed by zero padding");
    }
    let cp = demo.run(
        "droplet-client",
        &["data", "commP", "--no-verify", &fetched_s, "--json"],
    )?;
    if json_field(&cp, "\"/\": \"").as_deref() != Some(piece.as_str()) {
        bail!("the commP of {url}'s body is not {piece}: {cp}");
    }
    let ranged = demo.dir.join("piece-range");
    curl(&["-r", "0-99", "-o", &ranged.to_string_lossy(), &url])?;
    if std::fs::read(&ranged)? != car_bytes[..100] {
        bail!("bytes 0-99 of {url} differ from the CAR's");
    }
    println!(
        "   {} bytes: the CAR ({} bytes) then zeros, commP {piece}; a range (bytes 0-99) matches the CAR",
        body.len(),
        car_bytes.len()
    );

    println!(
        "\n16. the online deal over the trustless gateway: droplet-client finds droplet's HTTP address \
         through /fil/retrieval/transports/1.0.0 and fetches /ipfs/<root> as lassie does (a CAR, every \
         block checked against the DAG walk as it arrives); free, nothing to pay"
    );
    retrieve(
        &online_root,
        &workspace.join("Cargo.lock"),
        &demo.dir.join("http-Cargo.lock"),
        &["--http"],
    )?;
    println!("   Cargo.lock over HTTP: byte-identical to the original");

    println!(
        "\n17. IPNI: droplet advertised both Active deals (and its gateway) under its peer ID, serves the \
         chain at {}/ipni/v1/ad/ and announced its head to the indexer URL",
        ipni.publisher
    );
    ipni_step(&demo, &ipni, &[&proposal, &online])?;

    let shot = target.join("demo/ui-deals.png");
    let ui = ui_step(&demo, &shot, &[&proposal, &online])?;
    println!(
        "\n18. the web UI at {ui} while the demo runs (log in with the token in {}); a screenshot of its \
         deals screen, taken by headless Chromium, is left at {}",
        demo.dir.join("droplet/token").display(),
        shot.display()
    );

    println!("\nStopping the daemons and removing {}.", demo.dir.display());
    drop(client);
    drop(droplet);
    drop(devnet);
    Ok(())
}

/// Step 17: the chain read from the publisher (every advertisement by droplet's peer ID, one
/// per deal plus the gateway's), each deal's multihashes, and an announcement received.
fn ipni_step(demo: &Demo, ipni: &crate::stack::Ipni, proposals: &[&str]) -> Result<()> {
    let p = demo.repo("droplet");
    let peer = demo.run("droplet", &["--repo", &p, "net", "id"])?.trim().to_string();
    let get = |path: &str| -> Result<String> {
        let o = Command::new("curl")
            .args(["-sS", "-f"])
            .arg(format!("{}/ipni/v1/ad/{path}", ipni.publisher))
            .output()?;
        if !o.status.success() {
            bail!("curl {path}: {}", String::from_utf8_lossy(&o.stderr));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    };
    // The deals' advertisements are published by the next pass after they went Active.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let (ads, deal_ads) = loop {
        let head = json_field(&get("head")?, "\"head\":{\"/\":\"").context("the signed head's link")?;
        let mut ads = Vec::new();
        let mut next = Some(head);
        while let Some(c) = next {
            let ad = get(&c)?;
            next = json_field(&ad, "\"PreviousID\":{\"/\":\"");
            ads.push(ad);
        }
        let deal_ads = ads
            .iter()
            .filter(|a| !a.contains("\"ContextID\":{\"/\":{\"bytes\":\"\"}}"))
            .count();
        if deal_ads >= proposals.len() || std::time::Instant::now() > deadline {
            break (ads, deal_ads);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    if deal_ads != proposals.len() {
        bail!("the chain has {deal_ads} deal advertisements, not {}", proposals.len());
    }
    if let Some(a) = ads.iter().find(|a| !a.contains(&format!("\"Provider\":\"{peer}\""))) {
        bail!("an advertisement is not by droplet's peer ID {peer}: {a}");
    }
    println!(
        "   {} advertisements, newest first, all by {peer}: {deal_ads} deals and the gateway record",
        ads.len()
    );
    for proposal in proposals {
        demo.run("droplet", &["--repo", &p, "index", "list-multihashes", proposal])?;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let n = ipni.announcements.lock().map(|a| a.len()).unwrap_or(0);
        if n > 0 {
            println!("   the indexer URL received {n} announcement(s) (CBOR, naming the head and the publisher)");
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!("no announcement reached the indexer URL");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Step 18: droplet's web UI, photographed by headless Chromium (the token handed over in the
/// address, as a link from an operator's script would); the UI's address.
fn ui_step(demo: &Demo, shot: &Path, proposals: &[&str]) -> Result<String> {
    let base = http_base(&std::fs::read_to_string(demo.dir.join("droplet/api"))?)?;
    let token = std::fs::read_to_string(demo.dir.join("droplet/token"))?;
    let ui = format!("{base}/ui/");
    std::fs::create_dir_all(shot.parent().context("screenshot directory")?)?;
    let _ = std::fs::remove_file(shot);
    let profile = demo.dir.join("chromium-profile");
    let chromium = |what: String| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1400,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(what)
            .arg(format!("{ui}deals?token={}", token.trim()))
            .output()
            .context("running chromium (cargo xtask demo installs it: apt-get install chromium)")
    };
    // The page as the browser has it: both deals, Active.
    let dom = chromium("--dump-dom".into())?;
    let dom = String::from_utf8_lossy(&dom.stdout);
    for p in proposals {
        if !dom.contains(&format!("data-proposal=\"{p}\"")) {
            bail!("the UI's deals screen does not list deal {p}:\n{dom}");
        }
    }
    let o = chromium(format!("--screenshot={}", shot.display()))?;
    let size = std::fs::metadata(shot).map(|m| m.len()).unwrap_or(0);
    if !o.status.success() || size < 10_000 {
        bail!(
            "chromium did not photograph the deals screen ({size} bytes): {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok(ui)
}

/// `http://<ip>:<port>` of a daemon's API multiaddr (`/ip4/<ip>/tcp/<port>/http`).
fn http_base(multiaddr: &str) -> Result<String> {
    let parts: Vec<&str> = multiaddr.trim().split('/').collect();
    match parts.as_slice() {
        ["", "ip4", ip, "tcp", port, ..] => Ok(format!("http://{ip}:{port}")),
        _ => bail!("unexpected API address {multiaddr:?}"),
    }
}

/// `curl -sS -f` with `args`; fails with curl's message.
fn curl(args: &[&str]) -> Result<()> {
    let o = Command::new("curl").args(["-sS", "-f"]).args(args).output()?;
    if !o.status.success() {
        bail!("curl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    Ok(())
}

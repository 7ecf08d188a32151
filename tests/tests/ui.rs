//! droplet's web UI in a real browser: headless Chromium (Debian's) driven by playwright-core
//! against a droplet on the devnet. The login prompt for a wrong token; a deal made during the
//! test appearing on the deals screen and moving to Active without a reload, published with
//! the screen's "Publish now"; the deal's page with its log; every screen showing the deal,
//! the retrieval, the piece (and its data found missing), funds and the sector; the ask set
//! through the settings screen; a read-only token turned away from actions. Each screen is
//! photographed (into `DROPLET_UI_SCREENSHOTS` when set, which is how `docs/ui/` is made).

use std::path::{Path, PathBuf};
use std::time::Duration;

use market_proto::jwt::{self, JwtPayload, Perm};
use tests::browser::Browser;
use tests::market::{MINER, Market, setup};
use tests::retrieval::{retrieve, stderr};

const LIVE: Duration = Duration::from_secs(60);

/// droplet's API secret, from its config.
fn secret(m: &Market) -> Vec<u8> {
    let cfg: toml::Table =
        toml::from_str(&std::fs::read_to_string(Path::new(&m.provider).join("config.toml")).expect("config"))
            .expect("toml");
    hex::decode(cfg["API"]["PrivateKey"].as_str().expect("PrivateKey")).expect("hex")
}

fn shot(b: &mut Browser, dir: &Path, name: &str) {
    let path = dir.join(format!("{name}.png"));
    b.screenshot(&path);
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(len > 10_000, "screenshot {} is {len} bytes", path.display());
}

#[test]
fn the_web_ui_shows_a_deal_live_to_active_and_every_screen_works_in_chromium() {
    let m = setup();
    let (base, token) = m.droplet_http();
    assert!(
        m.droplet
            .as_ref()
            .expect("droplet")
            .log()
            .contains(&format!("web UI on {base}/ui/")),
        "droplet names the UI's address at start"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let shots: PathBuf = std::env::var_os("DROPLET_UI_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("shots"));
    let mut b = Browser::launch();

    // No token, then a wrong one: the login prompt, and the refusal said.
    assert_eq!(b.goto(&format!("{base}/ui/deals")), 401);
    assert_eq!(b.count("form.login"), 1);
    shot(&mut b, &shots, "login");
    b.fill("#token", "not-a-token");
    b.click("form.login button", true);
    assert_eq!(b.status(), 401);
    assert!(b.text(".notice.err").contains("Token refused"));
    let forged = jwt::sign(b"another droplet's secret", &JwtPayload::new("x", Perm::Admin));
    b.fill("#token", &forged);
    b.click("form.login button", true);
    assert!(b.text(".notice.err").contains("signature"), "{}", b.text("body"));

    // The right token: back to the screen asked for.
    b.fill("#token", &token);
    b.click("form.login button", true);
    assert_eq!(b.status(), 200);
    assert!(b.url().ends_with("/ui/deals"), "{}", b.url());

    // A deal made now shows up on the open screen, then moves on, without a reload.
    let proposal = m.propose();
    let row = format!("#deals tr[data-proposal='{proposal}']");
    b.wait_text(&row, "WaitingForData", LIVE);
    assert!(b.text(&row).contains("offline"));
    assert!(m.deal_cmd(&["import-data", &proposal, &m.car]).status.success());
    m.wait_state(&proposal, "StorageDealPublish");
    b.wait_text("#publish-queue", "1 deal(s) waiting", LIVE);
    // Publish now, from the screen.
    b.click("form[action='/ui/deals/publish-now'] button", true);
    assert!(b.text(".notice.ok").contains("publishing 1 deal(s) now"));
    b.wait_text(&row, "AwaitingPreCommit", LIVE);
    let sealed = m.seal_once();
    assert!(sealed.starts_with("sealed sector"), "{sealed}");
    b.wait_text(&row, "Active", LIVE);
    shot(&mut b, &shots, "deals");

    // Search and filters.
    b.fill("input[name=q]", &m.piece);
    b.click("form.filters button", true);
    assert_eq!(b.count("#deals tbody tr"), 1);
    b.fill("input[name=q]", "no-such-deal");
    b.click("form.filters button", true);
    assert_eq!(b.count("#deals tbody tr"), 0);
    b.goto(&format!("{base}/ui/deals?state=StorageDealActive&miner={MINER}"));
    assert_eq!(b.count("#deals tbody tr"), 1);

    // The deal's page: proposal, publish message, deal ID, sector, and its log of states.
    b.click(&format!("{row} a"), true);
    let deal = b.text("#deal");
    let on_chain = m.deal(&proposal);
    for want in [
        proposal.as_str(),
        m.piece.as_str(),
        m.root.as_str(),
        MINER,
        "Active",
        "offline (data imported by hand)",
    ] {
        assert!(deal.contains(want), "{want} on the deal page:\n{deal}");
    }
    let deal_id = on_chain["DealID"].as_u64().expect("deal ID").to_string();
    assert!(deal.contains(&deal_id), "{deal}");
    let publish = on_chain["PublishCid"]["/"].as_str().expect("publish CID");
    assert!(deal.contains(publish), "{deal}");
    let log = b.text("#deal-log");
    let order: Vec<usize> = ["WaitingForData", "VerifyData", "Publish", "AwaitingPreCommit", "Active"]
        .iter()
        .map(|s| log.find(s).unwrap_or_else(|| panic!("{s} in the log:\n{log}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "states in order:\n{log}");
    assert_eq!(b.count("form[action$='/fail']"), 0, "a deal on chain cannot be failed");
    shot(&mut b, &shots, "deal");

    // An offline deal still waiting for its data, cancelled from its page with a reason.
    let waiting = m.propose();
    m.wait_state(&waiting, "StorageDealWaitingForData");
    b.goto(&format!("{base}/ui/deals/{waiting}"));
    b.fill("form[action$='/fail'] input[name=reason]", "the data never came");
    b.click("form[action$='/fail'] button", true);
    assert!(
        b.text(".notice.ok").contains("the deal is now StorageDealFailing"),
        "{}",
        b.text("body")
    );
    let cancelled = m.deal(&waiting);
    assert_eq!(
        cancelled["Message"], "failed by the provider: the data never came",
        "{cancelled}"
    );
    assert!(b.text("#deal-log").contains("the data never came"));
    assert_eq!(
        b.count("form[action$='/fail']"),
        0,
        "a failed deal cannot be failed again"
    );

    // An online deal whose data cannot be downloaded pauses between attempts: retried now from
    // its page, then failed with a reason.
    m.client(&["data", "import", "--car", &m.car]);
    let out = m.init_root(
        &m.root,
        "0.0000001",
        "180 days",
        &["--http-url", "http://127.0.0.1:1/nothing-listens-here.car"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let paused = String::from_utf8_lossy(&out.stdout).trim().to_string();
    m.wait_state(&paused, "StorageDealProviderTransferAwaitRestart");
    b.goto(&format!("{base}/ui/deals/{paused}"));
    assert!(
        b.text("#deal").contains("ProviderTransferAwaitRestart"),
        "{}",
        b.text("#deal")
    );
    b.click("form[action$='/resume'] button", true);
    let notice = b.text(".notice");
    assert!(
        notice.contains("being tried again now") || notice.contains("not waiting to retry"),
        "{notice}"
    );
    b.fill("form[action$='/fail'] input[name=reason]", "the data URL is wrong");
    b.click("form[action$='/fail'] button", true);
    assert!(
        b.text(".notice.ok").contains("StorageDealFailing"),
        "{}",
        b.text("body")
    );

    // The asks, set through the settings screen: the storage ask is the one droplet signs and serves.
    b.goto(&format!("{base}/ui/settings"));
    b.fill("form.set-ask input[name=price]", "0.000000002");
    b.fill("form.set-ask input[name=verified_price]", "0.000000001");
    b.click("form.set-ask button", true);
    assert!(
        b.text(".notice.ok").contains(&format!("storage ask of {MINER} set")),
        "{}",
        b.text("body")
    );
    assert!(b.text("dd.price").contains("0.000000002 FIL"));
    let ask = m.droplet(&["storage", "ask", "get", MINER]);
    assert!(ask.contains("0.000000002 FIL"), "{ask}");
    // Retrievals are free once the retrieval ask says so.
    b.fill("form[action$='/retrieval-ask'] input[name=price]", "0");
    b.fill("form[action$='/retrieval-ask'] input[name=unseal_price]", "0");
    b.click("form[action$='/retrieval-ask'] button", true);
    assert!(
        b.text(".notice.ok").contains(&format!("retrieval ask of {MINER} set")),
        "{}",
        b.text("body")
    );
    shot(&mut b, &shots, "settings");
    // The deal switches: one box unticked and saved is what droplet considers.
    b.click("form[action$='/switches'] input[name=offline_storage]", false);
    b.click("form[action$='/switches'] button", true);
    assert!(b.text(".notice.ok").contains("saved"), "{}", b.text("body"));
    let selection = m.droplet(&["storage", "cfg", "selection", "list", MINER]);
    assert!(
        selection.contains("considering offline storage deals: false"),
        "{selection}"
    );
    assert!(
        selection.contains("considering online storage deals: true"),
        "{selection}"
    );
    assert_eq!(b.count("input[name=offline_storage]:checked"), 0);
    assert_eq!(b.count("input[name=online_storage]:checked"), 1);

    // A retrieval, then the retrieval screen.
    let out = tmp.path().join("data.bin");
    let o = retrieve(&m, &m.root, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    b.goto(&format!("{base}/ui/retrievals"));
    let r = b.text("#retrievals");
    assert!(r.contains(&m.root) && r.contains("Completed"), "{r}");
    shot(&mut b, &shots, "retrievals");

    // Dashboard, funds, sealing.
    b.goto(&format!("{base}/ui/"));
    assert_eq!(b.text("#active-deals"), "1");
    assert!(b.text("#per-state").contains(MINER));
    shot(&mut b, &shots, "dashboard");
    b.goto(&format!("{base}/ui/funds"));
    let funds = b.text(&format!("#funds tr[data-miner='{MINER}']"));
    assert!(funds.matches("FIL").count() >= 4, "{funds}");
    assert!(!funds.contains("reading the chain"), "{funds}");
    shot(&mut b, &shots, "funds");
    // Add to the escrow from the worker, then take half of it back, through the screen's forms.
    let worker = tests::market::account(&m._net, "worker");
    b.fill("form[action='/ui/funds/add'] input[name=from]", &worker);
    b.fill("form[action='/ui/funds/add'] input[name=amount]", "1");
    b.click("form[action='/ui/funds/add'] button", true);
    assert!(
        b.text(".notice.ok")
            .contains(&format!("AddBalance of 1 FIL to {MINER} sent")),
        "{}",
        b.text("body")
    );
    tests::procs::wait_for("the added escrow", Duration::from_secs(60), None, || {
        let report = m.droplet(&["actor-funds", "balances"]);
        let line = report.lines().find(|l| l.contains("Available to Withdraw"))?;
        let amount = line.split(':').nth(1)?.trim().trim_end_matches(" FIL");
        (market_types::units::parse_fil(amount).ok()? >= market_types::TokenAmount::from_whole(1)).then_some(())
    });
    b.fill("form[action='/ui/funds/withdraw'] input[name=wallet]", &worker);
    b.fill("form[action='/ui/funds/withdraw'] input[name=amount]", "0.5");
    b.click("form[action='/ui/funds/withdraw'] button", true);
    assert!(
        b.text(".notice.ok")
            .contains(&format!("WithdrawBalance of 0.5 FIL from {MINER} sent")),
        "{}",
        b.text("body")
    );
    b.fill("form[action='/ui/funds/withdraw'] input[name=wallet]", &worker);
    b.fill("form[action='/ui/funds/withdraw'] input[name=amount]", "1000000");
    b.click("form[action='/ui/funds/withdraw'] button", true);
    assert!(b.text(".notice.err").contains("available"), "{}", b.text("body"));
    b.goto(&format!("{base}/ui/sealing"));
    let sector = on_chain["SectorNumber"].as_u64().expect("sector").to_string();
    let sealing = b.text("#sealing table.sectors");
    assert!(sealing.contains(&deal_id) && sealing.contains(&sector), "{sealing}");
    shot(&mut b, &shots, "sealing");

    // Pieces: indexed and present; then the piece file goes missing and the check says so.
    b.goto(&format!("{base}/ui/pieces"));
    let piece_row = format!("#pieces tr[data-piece='{}']", m.piece);
    assert!(b.text(&piece_row).contains("indexed"));
    b.click("form.row button", true);
    assert!(b.text(&piece_row).contains("present"), "{}", b.text(&piece_row));
    assert!(b.text("#check-result").contains("0 with missing"));
    shot(&mut b, &shots, "pieces");
    let store = Path::new(&m.provider).join("pieces");
    for f in std::fs::read_dir(&store).expect("piece store").flatten() {
        if f.file_name().to_string_lossy().starts_with(&m.piece) {
            std::fs::remove_file(f.path()).expect("remove the piece");
        }
    }
    b.click("form.row button", true);
    assert!(b.text(&piece_row).contains("missing"), "{}", b.text(&piece_row));
    assert!(b.text("#check-result").contains("1 with missing"));
    b.goto(&format!("{base}/ui/pieces/{}", m.piece));
    assert!(b.text("#piece-data").contains("missing"));
    b.click("form[action$='/reindex'] button", true);
    assert!(
        b.text(".notice.err").contains("rebuilding the index"),
        "{}",
        b.text("body")
    );

    // A read-only token may look but not act.
    let read = jwt::sign(&secret(&m), &JwtPayload::new("viewer", Perm::Read));
    b.click("nav .logout button", true);
    assert_eq!(b.count("form.login"), 1);
    b.goto(&format!("{base}/ui/deals?token={read}"));
    assert_eq!(b.status(), 200);
    assert!(!b.url().contains("token="), "the token is dropped from the address bar");
    b.click("form[action='/ui/deals/publish-now'] button", true);
    assert!(
        b.text(".notice.err").contains("needs an admin token"),
        "{}",
        b.text("body")
    );

    // Without a browser: every screen wants a token, and a form posted from another site is
    // refused even with the admin cookie.
    let status = |args: &[&str]| {
        let o = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    for screen in ["", "deals", "retrievals", "pieces", "funds", "sealing", "settings"] {
        assert_eq!(status(&[&format!("{base}/ui/{screen}")]), "401", "/ui/{screen}");
    }
    let cookie = format!("Cookie: droplet_ui_token={token}");
    assert_eq!(status(&["-H", &cookie, &format!("{base}/ui/funds")]), "200");
    let publish = format!("{base}/ui/deals/publish-now");
    let foreign = [
        "-X",
        "POST",
        "-H",
        &cookie,
        "-H",
        "Origin: http://evil.example",
        &publish,
    ];
    assert_eq!(status(&foreign), "403");
}

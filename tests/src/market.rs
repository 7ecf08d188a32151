//! A market on one machine for the deal tests: a devnet, droplet serving its miner with an
//! ask, droplet-client with a funded wallet, and a small CAR with its piece; and the commands
//! the tests use on them.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::procs::{Devnet, Proc, run, run_ok, start_client, wait_for};

pub const MINER: &str = "t01000";

pub fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

pub struct Market {
    /// Dropped first: it mines through the devnet's repo.
    pub miner: Option<crate::procs::TestMiner>,
    pub car: String,
    pub _dir: tempfile::TempDir,
    pub _net: Devnet,
    pub droplet: Option<Proc>,
    pub _client: Proc,
    pub provider: String,
    pub client: String,
    pub root: String,
    pub piece: String,
    pub piece_size: u64,
    /// How many times droplet was started again.
    pub restarts: u32,
}

impl std::fmt::Debug for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Market")
            .field("provider", &self.provider)
            .field("client", &self.client)
            .finish()
    }
}

pub fn account(net: &Devnet, name: &str) -> String {
    let list = run_ok("droplet-devnet", &["--repo", &s(&net.repo), "wallet", "list"]);
    let line = list
        .lines()
        .find(|l| l.ends_with(&format!("\t{name}")))
        .expect("account");
    line.split('\t').next().expect("address").to_string()
}

/// A CAR made by droplet-client, and its piece.
#[derive(Debug, Clone)]
pub struct Car {
    pub path: String,
    pub root: String,
    pub piece: String,
    pub piece_size: u64,
}

/// `data` written to `<dir>/<name>.bin`, made into `<dir>/<name>.car` (`data generate-car`)
/// and its piece computed (`data commP`).
pub fn car_of(dir: &Path, name: &str, data: &[u8]) -> Car {
    let file = dir.join(format!("{name}.bin"));
    std::fs::write(&file, data).expect("data");
    let car = dir.join(format!("{name}.car"));
    let info: Value = serde_json::from_str(&run_ok(
        "droplet-client",
        &["data", "generate-car", &s(&file), &s(&car), "--json"],
    ))
    .expect("json");
    let cp: Value =
        serde_json::from_str(&run_ok("droplet-client", &["data", "commP", &s(&car), "--json"])).expect("json");
    Car {
        path: s(&car),
        root: info["Root"]["/"].as_str().expect("root").to_string(),
        piece: cp["Root"]["/"].as_str().expect("piece").to_string(),
        piece_size: cp["Size"].as_u64().expect("size"),
    }
}

pub fn setup() -> Market {
    setup_with("200ms")
}

/// A market whose devnet mines every `block_time`; with `0` the test mines
/// ([`Market::miner`]), so it can hold messages off the chain.
pub fn setup_with(block_time: &str) -> Market {
    setup_on(block_time, None)
}

/// [`setup_with`], droplet keeping its store in the database `dsn` names (`--mysql-dsn`)
/// rather than in RocksDB under its repo.
pub fn setup_on(block_time: &str, dsn: Option<&str>) -> Market {
    // TESTS_KEEP_DIR=1 keeps the repos and logs for a look after a failure.
    let keep = std::env::var_os("TESTS_KEEP_DIR").is_some();
    let dir = tempfile::Builder::new()
        .disable_cleanup(keep)
        .tempdir()
        .expect("tempdir");
    if keep {
        eprintln!("market in {}", dir.path().display());
    }
    let net = Devnet::start_with(dir.path(), block_time);
    let miner = (block_time == "0").then(|| net.test_miner());
    let extra: Vec<&str> = dsn.map(|d| vec!["--mysql-dsn", d]).unwrap_or_default();
    let (droplet, provider) = crate::procs::start_droplet_with(
        dir.path(),
        "droplet",
        &net,
        "wallet",
        &[crate::procs::DEVNET_MINER],
        &extra,
    );
    let client_addr = account(&net, "client");
    let (client_proc, client) = start_client(dir.path(), &net, Some(&client_addr));

    // The provider on chain, with an ask of 0.00000001 FIL per GiB per epoch.
    crate::procs::announce(&provider);
    run_ok(
        "droplet",
        &[
            "--repo",
            &provider,
            "storage",
            "ask",
            "set",
            "--price",
            "0.00000001",
            "--verified-price",
            "0",
            MINER,
        ],
    );

    // Data: a CAR and its piece.
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let car = car_of(dir.path(), "data", &data);
    Market {
        car: car.path,
        root: car.root,
        piece: car.piece,
        piece_size: car.piece_size,
        miner,
        _dir: dir,
        _net: net,
        droplet: Some(droplet),
        _client: client_proc,
        provider,
        client,
        restarts: 0,
    }
}

impl Market {
    /// `droplet-client storage deals init` of the market's data for an offline deal.
    pub fn init(&self, price: &str, duration: &str, extra: &[&str]) -> std::process::Output {
        let size = self.piece_size.to_string();
        let mut args = vec!["--manual-piece-cid", &self.piece, "--manual-piece-size", &size];
        args.extend_from_slice(extra);
        self.init_deal(price, duration, &args)
    }

    /// `droplet-client storage deals init <root> <miner> <price> <duration> <extra…>` of the
    /// market's data.
    fn init_deal(&self, price: &str, duration: &str, extra: &[&str]) -> std::process::Output {
        self.init_root(&self.root, price, duration, extra)
    }

    /// `droplet-client storage deals init <root> <miner> <price> <duration> <extra…>`.
    pub fn init_root(&self, root: &str, price: &str, duration: &str, extra: &[&str]) -> std::process::Output {
        let args = self.init_args(root, price, duration, extra);
        run("droplet-client", &args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The arguments of droplet-client for `init_root`'s command (to start it by other means).
    pub fn init_args(&self, root: &str, price: &str, duration: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "--repo",
            &self.client,
            "storage",
            "deals",
            "init",
            root,
            MINER,
            price,
            duration,
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    /// Start droplet again on its repo, with no flags (after it was stopped or killed).
    pub fn start_droplet_again(&mut self) {
        self.start_droplet_again_with(&[]);
    }

    /// SIGKILL droplet (if it runs) and start it again with `env`; the chain is told its new
    /// address.
    pub fn restart_droplet_with(&mut self, env: &[(&str, &str)]) {
        drop(self.droplet.take());
        self.start_droplet_again_with(env);
        crate::procs::announce(&self.provider);
    }

    fn start_droplet_again_with(&mut self, env: &[(&str, &str)]) {
        let api = Path::new(&self.provider).join("api");
        let _ = std::fs::remove_file(&api);
        self.restarts += 1;
        let log = Path::new(&self.provider).join(format!("../droplet-{}.log", self.restarts + 1));
        let mut again = Proc::start_with_env("droplet", &["--repo", &self.provider, "run"], &log, env);
        wait_for("droplet restarted", Duration::from_secs(60), Some(&mut again), || {
            std::fs::read_to_string(&api).ok()
        });
        self.droplet = Some(again);
    }

    /// SIGKILL droplet-client and start it again on its repo (its config as it now is), its
    /// API on the port it had, as a client with a fixed address comes back: the URLs it gave
    /// providers for online deals' data stay good.
    pub fn restart_client(&mut self) {
        self._client.kill();
        let api = Path::new(&self.client).join("api");
        let listen = std::fs::read_to_string(&api)
            .ok()
            .map(|a| a.trim().trim_end_matches("/http").to_string());
        let _ = std::fs::remove_file(&api);
        self.restarts += 1;
        let log = Path::new(&self.client).join(format!("../client-{}.log", self.restarts + 1));
        let mut args = vec!["--repo", self.client.as_str(), "run"];
        if let Some(l) = listen.as_deref() {
            args.extend(["--listen", l]);
        }
        let mut again = Proc::start_with_env("droplet-client", &args, &log, &[]);
        wait_for(
            "droplet-client restarted",
            Duration::from_secs(60),
            Some(&mut again),
            || std::fs::read_to_string(&api).ok(),
        );
        self._client = again;
    }

    /// Propose a good deal; its proposal CID.
    pub fn propose(&self) -> String {
        let out = self.init("0.0000001", "180 days", &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Import the market's CAR into droplet-client and propose an online deal of it with
    /// `duration` (the client serves the data; the provider downloads it); its proposal CID.
    pub fn propose_online(&self, duration: &str) -> String {
        let imported = run_ok(
            "droplet-client",
            &["--repo", &self.client, "data", "import", "--car", &self.car],
        );
        assert!(imported.starts_with("Import "), "{imported}");
        let out = self.init_deal("0.0000001", duration, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `droplet storage deal <args>` on the provider.
    pub fn deal_cmd(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--repo", self.provider.as_str(), "storage", "deal"];
        all.extend_from_slice(args);
        run("droplet", &all)
    }

    pub fn deal(&self, proposal: &str) -> Value {
        let out = run_ok(
            "droplet",
            &[
                "--repo",
                &self.provider,
                "storage",
                "deal",
                "get",
                "--proposal-cid",
                proposal,
                "--json",
            ],
        );
        serde_json::from_str(&out).expect("json")
    }

    pub fn wait_state(&self, proposal: &str, state: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let d = self.deal(proposal);
            let name = d["StateName"].as_str().unwrap_or("").to_string();
            assert!(
                name != "StorageDealFailing" || state == "StorageDealFailing",
                "deal failed: {}",
                d["Message"]
            );
            if name == state {
                return d;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for deal {proposal} in {state}: it is in {name} ({})",
                d["Message"]
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Publish the deals waiting in Publish now, seal them with the devnet's sealer, and wait
    /// until droplet shows each Active.
    pub fn publish_seal_and_activate(&self, proposals: &[String]) {
        for p in proposals {
            self.wait_state(p, "StorageDealPublish");
        }
        assert!(self.deal_cmd(&["pending-publish", "--publish-now"]).status.success());
        for p in proposals {
            self.wait_state(p, "StorageDealAwaitingPreCommit");
        }
        let sealed = self.seal_once();
        assert!(sealed.starts_with("sealed sector"), "{sealed}");
        for p in proposals {
            self.wait_state(p, "StorageDealActive");
        }
    }

    /// The devnet's full-node JSON-RPC URL (`/rpc/v1`) and admin token, for Go peers.
    pub fn node(&self) -> (String, String) {
        (
            format!("{}/rpc/v1", self._net.http_base()),
            self._net.admin_token.clone(),
        )
    }

    /// droplet's libp2p TCP address with its peer ID (`/ip4/…/tcp/…/p2p/…`), as clients dial it.
    pub fn libp2p_address(&self) -> String {
        self.droplet(&["net", "listen"])
            .lines()
            .find(|l| l.contains("/tcp/") && l.contains("/p2p/"))
            .expect("droplet's libp2p address")
            .trim()
            .to_string()
    }

    /// A devnet account's key as `lotus wallet export` prints it.
    pub fn export_key(&self, account: &str) -> String {
        run_ok(
            "droplet-devnet",
            &["--repo", &s(&self._net.repo), "wallet", "export", account],
        )
        .trim()
        .to_string()
    }

    /// `droplet-devnet seal --once` against this droplet: the sealer's output line.
    pub fn seal_once(&self) -> String {
        let args = self.seal_args().expect("droplet's api and token files");
        run_ok("droplet-devnet", &args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// [`Self::seal_once`] that tolerates droplet being down: the sealer's output, or None.
    pub fn try_seal_once(&self) -> Option<String> {
        let args = self.seal_args()?;
        let out = run("droplet-devnet", &args.iter().map(String::as_str).collect::<Vec<_>>());
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The arguments of `droplet-devnet seal --once` against this droplet, once its `api` and
    /// `token` files are there.
    fn seal_args(&self) -> Option<Vec<String>> {
        let read = |f: &str| std::fs::read_to_string(Path::new(&self.provider).join(f)).ok();
        let (token, api) = (read("token")?, read("api")?);
        Some(vec![
            "--repo".into(),
            s(&self._net.repo),
            "seal".into(),
            "--droplet".into(),
            format!("{}:{}", token.trim(), api.trim()),
            "--once".into(),
        ])
    }

    /// `droplet --repo <provider> <args>`, which must succeed; its stdout.
    pub fn droplet(&self, args: &[&str]) -> String {
        let mut all = vec!["--repo", self.provider.as_str()];
        all.extend_from_slice(args);
        run_ok("droplet", &all)
    }

    /// `droplet-client --repo <client> <args>`, which must succeed; its stdout.
    pub fn client(&self, args: &[&str]) -> String {
        let mut all = vec!["--repo", self.client.as_str()];
        all.extend_from_slice(args);
        run_ok("droplet-client", &all)
    }

    /// droplet with `[API] ListenAddress` pinned to its current port and `[CommonProvider]
    /// HTTPRetrievalMultiaddr` naming it (the `http` transport it announces), started again:
    /// its HTTP base URL.
    pub fn serve_http_retrieval(&mut self) -> String {
        let (base, _) = self.droplet_http();
        let port = base.rsplit(':').next().expect("port").to_string();
        self.edit_config(&[
            ("API", "ListenAddress", format!("/ip4/127.0.0.1/tcp/{port}").into()),
            (
                "CommonProvider",
                "HTTPRetrievalMultiaddr",
                format!("/ip4/127.0.0.1/tcp/{port}/http").into(),
            ),
        ]);
        self.restart_droplet_with(&[]);
        let (again, _) = self.droplet_http();
        assert_eq!(again, base, "droplet came back on its pinned API port");
        base
    }

    /// Set keys of droplet's config.toml, each by its dotted section path (the daemon reads
    /// them at its next start).
    pub fn edit_config(&self, keys: &[(&str, &str, toml::Value)]) {
        let path = Path::new(&self.provider).join("config.toml");
        let mut cfg: toml::Table = toml::from_str(&std::fs::read_to_string(&path).expect("config")).expect("toml");
        for (section, key, value) in keys {
            let mut table = &mut cfg;
            for part in section.split('.') {
                table = table
                    .entry(part)
                    .or_insert(toml::Value::Table(Default::default()))
                    .as_table_mut()
                    .expect("a section");
            }
            table.insert((*key).into(), value.clone());
        }
        std::fs::write(&path, toml::to_string(&cfg).expect("toml")).expect("write config");
    }

    /// Turn IPNI on (the HTTP publisher on loopback, announcements to `announce_url`),
    /// restart droplet and return the publisher's `http://127.0.0.1:PORT`.
    pub fn serve_ipni(&mut self, announce_url: &str) -> String {
        const IPNI: &str = "CommonProvider.IndexProvider";
        self.edit_config(&[
            (IPNI, "Enable", true.into()),
            ("CommonProvider.IndexProvider.HttpPublisher", "Enabled", true.into()),
            (
                "CommonProvider.IndexProvider.HttpPublisher",
                "ListenAddress",
                "127.0.0.1".into(),
            ),
            ("CommonProvider.IndexProvider.HttpPublisher", "Port", 0.into()),
            ("CommonProvider.IndexProvider.Announce", "AnnounceOverHttp", true.into()),
            (
                "CommonProvider.IndexProvider.Announce",
                "DirectAnnounceURLs",
                toml::Value::Array(vec![announce_url.into()]),
            ),
        ]);
        self.restart_droplet_with(&[]);
        let droplet = self.droplet.as_ref().expect("droplet");
        wait_for("droplet's IPNI publisher line", Duration::from_secs(30), None, || {
            droplet.log().lines().find_map(|l| {
                let rest = l.strip_prefix("IPNI publisher on ")?;
                Some(format!("http://{}", rest.split_whitespace().next()?))
            })
        })
    }

    /// droplet's API as `http://127.0.0.1:PORT`, and its admin token.
    pub fn droplet_http(&self) -> (String, String) {
        let api = std::fs::read_to_string(Path::new(&self.provider).join("api")).expect("api");
        let token = std::fs::read_to_string(Path::new(&self.provider).join("token")).expect("token");
        let rest = api.trim().trim_start_matches("/ip4/");
        let (ip, port) = rest.split_once("/tcp/").expect("multiaddr");
        let port = port.split('/').next().unwrap_or(port);
        (format!("http://{ip}:{port}"), token.trim().to_string())
    }

    /// The client's view of a deal (`storage deals get`).
    pub fn client_deal(&self, proposal: &str) -> Value {
        serde_json::from_str(&self.client(&["storage", "deals", "get", proposal])).expect("json")
    }

    /// Wait until the client's view of the deal is `state` (a StorageDealStatus code); fail
    /// at once if the client's deal fails.
    pub fn wait_client_state(&self, proposal: &str, state: u64) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let d = self.client_deal(proposal);
            assert_ne!(d["State"], 11, "the client's deal failed: {}", d["Message"]);
            if d["State"] == state {
                return d;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for client deal {proposal} in state {state}: {d}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn deals(&self) -> Vec<Value> {
        let out = run_ok(
            "droplet",
            &[
                "--repo",
                &self.provider,
                "storage",
                "deal",
                "list",
                "--json",
                "--limit",
                "0",
            ],
        );
        serde_json::from_str::<Value>(&out)
            .expect("json")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

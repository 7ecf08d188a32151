//! Starting the workspace's binaries as real processes on loopback, in temporary repos, and
//! stopping them however a test ends.
//!
//! The binaries are looked up beside the test executable (`target/<profile>/`); when one is
//! missing the harness builds it with cargo. `cargo nextest run --workspace` builds them all
//! before any test runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static BUILD: Mutex<()> = Mutex::new(());

/// The path of a workspace binary, built if missing.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf();
    let path = dir.join(name);
    if !path.exists() {
        let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
        if !path.exists() {
            let package = match name {
                "droplet-devnet" => "devnet",
                "droplet-deal-load" => "deal-load",
                other => other,
            };
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut args = vec!["build", "--quiet", "-p", package, "--bin", name];
            if name == "droplet" {
                args.extend(["--features", "test-hooks"]);
            }
            let status = Command::new(cargo).args(&args).status().expect("run cargo build");
            assert!(status.success(), "building {name} failed");
        }
    }
    path
}

/// A running process, killed when dropped.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, in KiB (0 when it cannot be read).
    pub fn rss_kib(&self) -> u64 {
        crate::memory::rss_kib(self.pid())
    }

    /// Start `bin args…`, with stdout and stderr going to `log`.
    pub fn start(bin: &str, args: &[&str], log: &Path) -> Proc {
        Proc::start_with_env(bin, args, log, &[])
    }

    /// [`Proc::start`] with extra environment variables.
    pub fn start_with_env(bin: &str, args: &[&str], log: &Path, env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(binary(bin));
        cmd.envs(env.iter().copied())
            .env(
                "RUST_LOG",
                std::env::var("TESTS_RUST_LOG").unwrap_or_else(|_| "info,libp2p=warn".into()),
            )
            .env("DEVNET_LOG", "info")
            // droplet's tracker looks at the chain every 10 minutes by default.
            .env("DROPLET_TRACKER_INTERVAL", "500ms")
            .env("DROPLET_PAYCH_INTERVAL", "500ms")
            // A retrieval paused for a payment is closed after this long without one: under the
            // whole suite's load a client's first payment (its channel created on chain) has
            // taken over 20 s, and the provider cancelled a retrieval nothing had cut.
            .env("DROPLET_RETRIEVAL_RESTART_WAIT", "60s")
            // A droplet on a database stands by this long after its holder is killed.
            .env("DROPLET_LEASE_TTL", "3s")
            .env("DROPLET_IPNI_INTERVAL", "500ms")
            .env("DROPLET_METRICS_INTERVAL", "500ms")
            .env("DROPLET_CLIENT_TRACKER_INTERVAL", "500ms");
        Proc::spawn(bin, cmd, args, log)
    }

    /// Start a program that is not one of the workspace's (a Go peer), by its path.
    pub fn start_path(path: &Path, args: &[&str], log: &Path) -> Proc {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Proc::spawn(&name, Command::new(path), args, log)
    }

    fn spawn(name: &str, mut cmd: Command, args: &[&str], log: &Path) -> Proc {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        }
    }

    /// What the process has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether it has exited (and with what).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL it and wait, keeping the handle (its log stays readable).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stop it with SIGTERM (then SIGKILL after 10 s) and wait.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if self.exited().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Run a binary to completion.
pub fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(binary(bin))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"))
}

/// Run a binary and return its stdout, failing the test (with its stderr) if it fails.
pub fn run_ok(bin: &str, args: &[&str]) -> String {
    let out = run(bin, args);
    assert!(
        out.status.success(),
        "{bin} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wait until `f` gives a value, or fail after `timeout` with `what` and `proc`'s log.
pub fn wait_for<T>(what: &str, timeout: Duration, proc: Option<&mut Proc>, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut proc = proc;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if let Some(p) = proc.as_deref_mut()
            && let Some(status) = p.exited()
        {
            panic!("{} exited ({status}) while waiting for {what}:\n{}", p.name, p.log());
        }
        if Instant::now() > deadline {
            let log = proc.map(|p| p.log()).unwrap_or_default();
            panic!("timed out waiting for {what}\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A devnet in a temporary directory, mining every 200 ms.
#[derive(Debug)]
pub struct Devnet {
    pub proc: Proc,
    pub repo: PathBuf,
    /// `/ip4/127.0.0.1/tcp/PORT/http`
    pub multiaddr: String,
    pub admin_token: String,
    /// How it was started, to start it again.
    args: Vec<String>,
    log: PathBuf,
}

/// Mines the devnet from the test, one tipset every 150 ms, until paused or dropped: for a
/// devnet started with `--block-time 0`, so a test can hold messages off the chain.
#[derive(Debug)]
pub struct TestMiner {
    interval_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl TestMiner {
    /// Stop mining; returns once no `mine` call is running.
    pub fn pause(&self) {
        self.paused.store(true, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(400));
    }

    pub fn resume(&self) {
        self.paused.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Time between tipsets (150 ms to start with).
    pub fn set_interval(&self, every: Duration) {
        self.interval_ms
            .store(every.as_millis() as u64, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for TestMiner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Devnet {
    pub fn start(dir: &Path) -> Devnet {
        Devnet::start_with(dir, "200ms")
    }

    /// Mine from the test (the devnet must run with `--block-time 0`).
    pub fn test_miner(&self) -> TestMiner {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let interval_ms = std::sync::Arc::new(AtomicU64::new(150));
        let paused = std::sync::Arc::new(AtomicBool::new(false));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let repo = self.repo.to_str().expect("utf-8 path").to_string();
        let (p, st, every) = (paused.clone(), stop.clone(), interval_ms.clone());
        let handle = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                if !p.load(Ordering::SeqCst) {
                    let _ = run("droplet-devnet", &["--repo", &repo, "mine"]);
                }
                std::thread::sleep(Duration::from_millis(every.load(Ordering::SeqCst)));
            }
        });
        TestMiner {
            interval_ms,
            paused,
            stop,
            handle: Some(handle),
        }
    }

    /// A devnet mining every `block_time` (`0`: only when asked, see [`Devnet::test_miner`]).
    pub fn start_with(dir: &Path, block_time: &str) -> Devnet {
        Devnet::start_genesis(dir, block_time, None)
    }

    /// A devnet from a genesis TOML (`droplet-devnet genesis-template`'s form), or the default.
    pub fn start_genesis(dir: &Path, block_time: &str, genesis: Option<&Path>) -> Devnet {
        let repo = dir.join("devnet");
        let log = dir.join("devnet.log");
        let repo_s = repo.to_str().expect("utf-8 path").to_string();
        let mut args = vec![
            "--repo".to_string(),
            repo_s,
            "run".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--block-time".into(),
            block_time.into(),
            // Prove-commit three epochs after pre-commit (150 on mainnet).
            "--challenge-delay".into(),
            "3".into(),
            // Collect payment channels 20 epochs after Settle (1440 on mainnet).
            "--settle-delay".into(),
            "20".into(),
        ];
        if let Some(g) = genesis {
            args.extend(["--genesis".into(), s(g)]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut proc = Proc::start("droplet-devnet", &argv, &log);
        let api = repo.join("api");
        let multiaddr = wait_for(
            "the devnet's api file",
            Duration::from_secs(60),
            Some(&mut proc),
            || std::fs::read_to_string(&api).ok(),
        );
        let admin_token = std::fs::read_to_string(repo.join("token")).expect("token");
        Devnet {
            proc,
            repo,
            multiaddr: multiaddr.trim().to_string(),
            admin_token: admin_token.trim().to_string(),
            args,
            log,
        }
    }

    /// An outage: the node is killed (SIGKILL), its API gone until [`Devnet::restart`].
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Start the node again from its repo, on the same port (so that every daemon's URL still
    /// points at it), and wait until it answers.
    pub fn restart(&mut self) {
        let port = self
            .multiaddr
            .split("/tcp/")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .expect("the API port")
            .to_string();
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| {
                if a == "127.0.0.1:0" {
                    format!("127.0.0.1:{port}")
                } else {
                    a.clone()
                }
            })
            .collect();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let log = self.log.with_extension("restarted.log");
        let mut proc = Proc::start("droplet-devnet", &argv, &log);
        let url = format!("{}/rpc/v1", self.http_base());
        wait_for("the devnet back", Duration::from_secs(60), Some(&mut proc), || {
            let body = r#"{"jsonrpc":"2.0","id":1,"method":"Filecoin.ChainHead","params":[]}"#;
            let auth = format!("Authorization: Bearer {}", self.admin_token);
            let out = Command::new("curl")
                .args([
                    "-s",
                    "-m",
                    "2",
                    "-H",
                    "Content-Type: application/json",
                    "-H",
                    &auth,
                    "-d",
                    body,
                    &url,
                ])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains("\"result\"")
                .then_some(())
        });
        self.proc = proc;
    }

    /// The devnet's token for one permission.
    pub fn token(&self, perm: &str) -> String {
        std::fs::read_to_string(self.repo.join("tokens").join(perm))
            .expect("token file")
            .trim()
            .to_string()
    }

    /// `http://127.0.0.1:PORT`
    pub fn http_base(&self) -> String {
        let rest = self.multiaddr.trim_start_matches("/ip4/");
        let (ip, rest) = rest.split_once("/tcp/").expect("multiaddr");
        let port = rest.trim_end_matches("/http");
        format!("http://{ip}:{port}")
    }
}

/// The devnet's genesis miner.
pub const DEVNET_MINER: &str = "t01000";

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

/// A droplet started against the devnet with one signer mode.
pub fn start_droplet(dir: &Path, name: &str, net: &Devnet, mode: &str) -> (Proc, String) {
    start_droplet_for(dir, name, net, mode, &[DEVNET_MINER])
}

/// [`start_droplet`] serving `miners`.
pub fn start_droplet_for(dir: &Path, name: &str, net: &Devnet, mode: &str, miners: &[&str]) -> (Proc, String) {
    start_droplet_with(dir, name, net, mode, miners, &[])
}

/// [`start_droplet_for`] with more of `run`'s flags (`--mysql-dsn`, say).
pub fn start_droplet_with(
    dir: &Path,
    name: &str,
    net: &Devnet,
    mode: &str,
    miners: &[&str],
    extra: &[&str],
) -> (Proc, String) {
    let (args, repo) = droplet_run_args(dir, name, net, mode, miners, extra);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p = Proc::start("droplet", &argv, &dir.join(format!("{name}.log")));
    let api = dir.join(name).join("api");
    wait_for("droplet's api file", Duration::from_secs(60), Some(&mut p), || {
        std::fs::read_to_string(&api).ok()
    });
    (p, repo)
}

/// `droplet run`'s arguments for [`start_droplet_with`], and the repo.
pub fn droplet_run_args(
    dir: &Path,
    name: &str,
    net: &Devnet,
    mode: &str,
    miners: &[&str],
    extra: &[&str],
) -> (Vec<String>, String) {
    let repo = s(&dir.join(name));
    let ma = net.multiaddr.clone();
    let token = net.admin_token.clone();
    let mut args: Vec<String> = vec![
        "--repo".into(),
        repo.clone(),
        "run".into(),
        "--listen".into(),
        "/ip4/127.0.0.1/tcp/0".into(),
        "--libp2p-listen".into(),
        "/ip4/127.0.0.1/tcp/0".into(),
        "--node-url".into(),
        ma.clone(),
        "--cs-token".into(),
        token.clone(),
        "--signer-token".into(),
        token,
    ];
    for m in miners {
        args.extend(["--miner".into(), format!("{m}:devnet")]);
    }
    match mode {
        // venus-wallet's three-argument WalletSign on /rpc/v0, messages through the messager.
        "wallet" => {
            args.extend(["--signer-type", "wallet", "--signer-url", &ma, "--messager-url", &ma].map(String::from))
        }
        // lotus's two-argument WalletSign on /rpc/v1, messages signed here and sent with MpoolPush.
        "lotusnode" => args.extend(["--signer-type", "lotusnode", "--signer-url", &ma].map(String::from)),
        // sophon-gateway on /rpc/v2 with accounts from sophon-auth's /user/signer.
        "gateway" => args.extend(
            [
                "--signer-type",
                "gateway",
                "--signer-url",
                &ma,
                "--auth-url",
                &net.http_base(),
                "--messager-url",
                &ma,
            ]
            .map(String::from),
        ),
        other => panic!("unknown mode {other}"),
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    (args, repo)
}

pub fn start_client(dir: &Path, net: &Devnet, addr: Option<&str>) -> (Proc, String) {
    start_client_named(dir, "client", net, addr)
}

/// [`start_client`] with its repo (and log) named `name`, for a market of several clients.
pub fn start_client_named(dir: &Path, name: &str, net: &Devnet, addr: Option<&str>) -> (Proc, String) {
    let repo = s(&dir.join(name));
    let ma = net.multiaddr.clone();
    let args = [
        "--repo",
        &repo,
        "run",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--libp2p-listen",
        "/ip4/127.0.0.1/tcp/0",
        "--node-url",
        &ma,
        "--node-token",
        &net.admin_token,
        "--signer-type",
        "wallet",
        "--signer-url",
        &ma,
        "--signer-token",
        &net.admin_token,
    ];
    let mut args: Vec<&str> = args.to_vec();
    if let Some(a) = addr {
        args.extend(["--addr", a]);
    }
    let mut p = Proc::start("droplet-client", &args, &dir.join(format!("{name}.log")));
    let api = dir.join(name).join("api");
    wait_for(
        "droplet-client's api file",
        Duration::from_secs(60),
        Some(&mut p),
        || std::fs::read_to_string(&api).ok(),
    );
    (p, repo)
}

/// Point the devnet miner's on-chain peer ID and addresses at the droplet in `repo` (after a
/// start on a random port) and wait until the chain shows them; (peer ID, address).
pub fn announce(repo: &str) -> (String, String) {
    announce_for(repo, &[DEVNET_MINER])
}

/// The peer ID of the droplet in `repo` and its first libp2p listen address (without `/p2p/`).
pub fn peer_address(repo: &str) -> (String, String) {
    let id = run_ok("droplet", &["--repo", repo, "net", "id"]).trim().to_string();
    let listen = run_ok("droplet", &["--repo", repo, "net", "listen"]);
    let first = listen.lines().next().expect("a listen address");
    let addr = first.split("/p2p/").next().expect("address").to_string();
    (id, addr)
}

/// [`announce`] for each of `miners` (all served by the droplet in `repo`).
pub fn announce_for(repo: &str, miners: &[&str]) -> (String, String) {
    let (id, addr) = peer_address(repo);
    for m in miners {
        point_miner_at_for(repo, m, &id, &addr);
    }
    (id, addr)
}

/// Set `miner`'s on-chain peer ID and address (through the droplet in `repo`) to `id` and
/// `addr`, and wait until the chain shows them.
pub fn point_miner_at_for(repo: &str, miner: &str, id: &str, addr: &str) {
    let droplet = |args: &[&str]| {
        let mut all = vec!["--repo", repo];
        all.extend_from_slice(args);
        run_ok("droplet", &all)
    };
    assert!(addr.starts_with("/ip4/127.0.0.1/tcp/"), "loopback only: {addr}");
    let out = droplet(&["actor", "set-addrs", "--miner", miner, addr]);
    assert!(out.starts_with("Requested multiaddrs change in message "), "{out}");
    let out = droplet(&["actor", "set-peer-id", "--miner", miner, id]);
    assert!(out.starts_with("Requested peerid change in message "), "{out}");
    let want = format!("peers: {id}\naddr: {addr}\n");
    wait_for(
        "the miner's peer ID and addresses on chain",
        Duration::from_secs(60),
        None,
        || (droplet(&["actor", "info", "--miner", miner]) == want).then_some(()),
    );
}

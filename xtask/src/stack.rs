//! A market on one machine, on loopback, in a temporary directory: droplet-devnet, droplet
//! for miner t01000 and droplet-client, started, announced and stopped (with the directory)
//! when dropped. The demo walks through it aloud; the retrieval bench times it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A daemon; stopped when dropped.
pub struct Daemon {
    pub name: &'static str,
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Demo {
    pub bin_dir: PathBuf,
    pub dir: PathBuf,
    /// Echo the commands run and their output.
    pub verbose: bool,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Demo {
    /// Build droplet-devnet, droplet and droplet-client (`release` or debug) and make a
    /// temporary directory named after `what` for a market run from them.
    pub fn build(what: &str, target: &Path, release: bool, verbose: bool) -> Result<Demo> {
        let mut args = vec!["build", "-q"];
        if release {
            args.push("--release");
        }
        args.extend(["-p", "devnet", "-p", "droplet", "-p", "droplet-client", "--bins"]);
        super::cargo(&args)?;
        let dir = std::env::temp_dir().join(format!("droplet-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Demo {
            bin_dir: target.join(if release { "release" } else { "debug" }),
            dir,
            verbose,
        })
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    pub fn start(&self, name: &'static str, args: &[&str]) -> Result<Daemon> {
        self.start_as(name, name, args)
    }

    /// [`Self::start`], its log named `<log_name>.log` (two daemons of one binary).
    pub fn start_as(&self, name: &'static str, log_name: &str, args: &[&str]) -> Result<Daemon> {
        let log = self.dir.join(format!("{log_name}.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(self.bin(name))
            .args(args)
            .env("RUST_LOG", "warn")
            .env("DEVNET_LOG", "warn")
            // Follow deals on chain every second instead of droplet's ten minutes.
            .env("DROPLET_TRACKER_INTERVAL", "1s")
            .env("DROPLET_IPNI_INTERVAL", "1s")
            .env("DROPLET_CLIENT_TRACKER_INTERVAL", "1s")
            .stdout(out.try_clone()?)
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Daemon { name, child, log })
    }

    /// Run a command, echo it and its output (indented), and return the output.
    pub fn run(&self, name: &str, args: &[&str]) -> Result<String> {
        let shown: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| !a.starts_with("--repo") && !a.contains(&*self.dir.to_string_lossy()))
            .collect();
        if self.verbose {
            println!("   $ {name} {}", shown.join(" "));
        }
        let out = Command::new(self.bin(name))
            .args(args)
            .output()
            .with_context(|| format!("running {name}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if self.verbose {
            for line in text.lines() {
                println!("     {line}");
            }
        }
        if !out.status.success() {
            bail!(
                "{name} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(text)
    }

    pub fn repo(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

pub fn wait_file(path: &Path, d: &mut Daemon) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            return Ok(s.trim().to_string());
        }
        if let Ok(Some(status)) = d.child.try_wait() {
            bail!(
                "{} exited ({status}):\n{}",
                d.name,
                std::fs::read_to_string(&d.log).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not start in time:\n{}",
                d.name,
                std::fs::read_to_string(&d.log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value after `key` in pretty JSON output, up to the next quote or comma.
pub fn json_field(text: &str, key: &str) -> Option<String> {
    let at = text.find(key)? + key.len();
    let rest = &text[at..];
    let end = rest.find(['"', ',', '\n'])?;
    Some(rest[..end].trim().to_string())
}

/// Wait until droplet shows the deal in `state`.
pub fn wait_state(demo: &Demo, repo: &str, proposal: &str, state: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = Command::new(demo.bin("droplet"))
            .args(["--repo", repo, "storage", "deal", "get", "--proposal-cid", proposal])
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains(&format!("State:          {state}")) {
            if demo.verbose {
                println!("   deal {proposal} is {state}");
            }
            return Ok(());
        }
        if text.contains("StorageDealFailing") || Instant::now() > deadline {
            bail!("the deal did not reach {state}:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Start droplet-devnet (with `extra` run flags, e.g. a sector size); its token and API
/// multiaddress.
pub fn start_devnet(demo: &Demo, extra: &[&str]) -> Result<(Daemon, String, String)> {
    let repo = demo.repo("devnet");
    let mut args = vec![
        "--repo",
        &repo,
        "run",
        "--listen",
        "127.0.0.1:0",
        "--block-time",
        "500ms",
    ];
    args.extend_from_slice(extra);
    let mut devnet = demo.start("droplet-devnet", &args)?;
    let node = wait_file(&demo.dir.join("devnet/api-info/node"), &mut devnet)?;
    let (token, ma) = node.split_once(':').context("devnet API info")?;
    Ok((devnet, token.to_string(), ma.to_string()))
}

/// droplet's IPNI publisher, and the announcements it sent.
#[derive(Debug)]
pub struct Ipni {
    /// `http://127.0.0.1:<port>`.
    pub publisher: String,
    pub announcements: crate::indexer::Announcements,
}

/// Start droplet for t01000, signing with the worker key through the devnet's wallet, with
/// IPNI on: its publisher on loopback, announcing to a local stand-in for an indexer.
pub fn start_droplet(demo: &Demo, ma: &str, token: &str) -> Result<(Daemon, Ipni)> {
    start_droplet_on(demo, ma, token, None)
}

/// [`start_droplet`] with its store in the database `dsn` names (`[Mysql] ConnectionString`).
pub fn start_droplet_on(demo: &Demo, ma: &str, token: &str, dsn: Option<&str>) -> Result<(Daemon, Ipni)> {
    start_droplet_as(demo, "droplet", &["t01000"], ma, token, dsn)
}

/// [`start_droplet_on`] with the repo `name` (under the demo's directory), acting for `miners`.
pub fn start_droplet_as(
    demo: &Demo,
    name: &str,
    miners: &[&str],
    ma: &str,
    token: &str,
    dsn: Option<&str>,
) -> Result<(Daemon, Ipni)> {
    let p = demo.repo(name);
    // The API port is chosen here so that the config can name it as the HTTP retrieval
    // address the transports protocol announces (`/ipfs/` and `/piece/` are served there).
    let port = test_databases::loopback_port();
    let publisher = std::iter::repeat_with(test_databases::loopback_port)
        .find(|&other| other != port)
        .expect("ports keep coming");
    let (announce_url, announcements) = crate::indexer::announce_receiver()?;
    std::fs::create_dir_all(&p)?;
    std::fs::write(
        demo.dir.join(name).join("config.toml"),
        format!(
            "[CommonProvider]\nHTTPRetrievalMultiaddr = \"/ip4/127.0.0.1/tcp/{port}/http\"\n\
             [CommonProvider.IndexProvider]\nEnable = true\n\
             [CommonProvider.IndexProvider.Announce]\nAnnounceOverHttp = true\nDirectAnnounceURLs = [\"{announce_url}\"]\n\
             [CommonProvider.IndexProvider.HttpPublisher]\nEnabled = true\nListenAddress = \"127.0.0.1\"\nPort = {publisher}\n\
             [Mysql]\nConnectionString = {:?}\n",
            dsn.unwrap_or("")
        ),
    )?;
    let listen = format!("/ip4/127.0.0.1/tcp/{port}");
    let miners: Vec<String> = miners.iter().map(|m| format!("{m}:demo")).collect();
    let mut args = vec![
        "--repo",
        &p,
        "run",
        "--listen",
        &listen,
        "--libp2p-listen",
        "/ip4/127.0.0.1/tcp/0",
        "--node-url",
        ma,
        "--messager-url",
        ma,
        "--auth-url",
        ma,
        "--cs-token",
        token,
        "--signer-type",
        "wallet",
        "--signer-url",
        ma,
        "--signer-token",
        token,
    ];
    for m in &miners {
        args.extend(["--miner", m]);
    }
    let mut droplet = demo.start_as("droplet", name, &args)?;
    wait_file(&demo.dir.join(name).join("api"), &mut droplet)?;
    Ok((
        droplet,
        Ipni {
            publisher: format!("http://127.0.0.1:{publisher}"),
            announcements,
        },
    ))
}

/// Set t01000's storage ask: prices (FIL per GiB per epoch, as droplet takes them) and the
/// largest piece; the smallest is 256 B.
pub fn set_ask(demo: &Demo, price: &str, verified_price: &str, max_piece: &str) -> Result<String> {
    set_ask_of(demo, "droplet", "t01000", price, verified_price, max_piece)
}

/// [`set_ask`] for `miner`, through the droplet whose repo is `droplet`.
pub fn set_ask_of(
    demo: &Demo,
    droplet: &str,
    miner: &str,
    price: &str,
    verified_price: &str,
    max_piece: &str,
) -> Result<String> {
    let p = demo.repo(droplet);
    demo.run(
        "droplet",
        &[
            "--repo",
            &p,
            "storage",
            "ask",
            "set",
            "--price",
            price,
            "--verified-price",
            verified_price,
            "--min-piece-size",
            "256B",
            "--max-piece-size",
            max_piece,
            miner,
        ],
    )
}

/// Put droplet's libp2p address and peer ID on chain for t01000, and wait for them.
pub fn announce(demo: &Demo) -> Result<()> {
    let p = demo.repo("droplet");
    let id = demo.run("droplet", &["--repo", &p, "net", "id"])?.trim().to_string();
    let listen = demo.run("droplet", &["--repo", &p, "net", "listen"])?;
    let addr = listen
        .lines()
        .next()
        .and_then(|l| l.split("/p2p/").next())
        .context("a listen address")?
        .to_string();
    demo.run(
        "droplet",
        &["--repo", &p, "actor", "set-addrs", "--miner", "t01000", &addr],
    )?;
    demo.run(
        "droplet",
        &["--repo", &p, "actor", "set-peer-id", "--miner", "t01000", &id],
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new(demo.bin("droplet"))
            .args(["--repo", &p, "actor", "info", "--miner", "t01000"])
            .output()?;
        if String::from_utf8_lossy(&out.stdout).contains(&id) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the peer ID did not land on chain");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Start droplet-client, paying from the devnet's funded "client" account.
pub fn start_client(demo: &Demo, ma: &str, token: &str) -> Result<Daemon> {
    let wallets = Command::new(demo.bin("droplet-devnet"))
        .args(["--repo", &demo.repo("devnet"), "wallet", "list"])
        .output()?;
    let wallets = String::from_utf8_lossy(&wallets.stdout).into_owned();
    let client_addr = wallets
        .lines()
        .find(|l| l.ends_with("\tclient"))
        .and_then(|l| l.split('\t').next())
        .context("the devnet's client account")?
        .to_string();
    let c = demo.repo("client");
    let mut client = demo.start(
        "droplet-client",
        &[
            "--repo",
            &c,
            "run",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--libp2p-listen",
            "/ip4/127.0.0.1/tcp/0",
            "--node-url",
            ma,
            "--node-token",
            token,
            "--signer-type",
            "wallet",
            "--signer-url",
            ma,
            "--signer-token",
            token,
            "--addr",
            &client_addr,
        ],
    )?;
    wait_file(&demo.dir.join("client/api"), &mut client)?;
    Ok(client)
}

/// t01000's retrieval ask: 1000 attoFIL a byte, a payment every `interval`.
pub fn set_priced_retrieval_ask(demo: &Demo, interval: &str) -> Result<()> {
    demo.run(
        "droplet",
        &[
            "--repo",
            &demo.repo("droplet"),
            "retrieval",
            "ask",
            "set",
            "t01000",
            "--price",
            "0.000001073741824",
            "--payment-interval",
            interval,
            "--payment-interval-increase",
            "0",
        ],
    )?;
    Ok(())
}

/// The client proposes a deal of `root` to t01000 at `price` for 180 days (with `extra`
/// flags); the proposal CID.
pub fn propose(demo: &Demo, root: &str, price: &str, extra: &[&str]) -> Result<String> {
    let c = demo.repo("client");
    let mut args = vec![
        "--repo", &c, "storage", "deals", "init", root, "t01000", price, "180 days",
    ];
    args.extend_from_slice(extra);
    Ok(demo.run("droplet-client", &args)?.trim().to_string())
}

/// Publish the pending deals now and wait until `proposals` await their pre-commit.
pub fn publish_now(demo: &Demo, proposals: &[&str]) -> Result<()> {
    let p = demo.repo("droplet");
    demo.run(
        "droplet",
        &["--repo", &p, "storage", "deal", "pending-publish", "--publish-now"],
    )?;
    for d in proposals {
        wait_state(demo, &p, d, "StorageDealAwaitingPreCommit")?;
    }
    Ok(())
}

/// Run the devnet's sealer once against droplet and wait until `proposals` are Active.
pub fn seal(demo: &Demo, proposals: &[&str]) -> Result<()> {
    let token = std::fs::read_to_string(demo.dir.join("droplet/token"))?;
    let api = std::fs::read_to_string(demo.dir.join("droplet/api"))?;
    let droplet_info = format!("{}:{}", token.trim(), api.trim());
    demo.run(
        "droplet-devnet",
        &[
            "--repo",
            &demo.repo("devnet"),
            "seal",
            "--droplet",
            &droplet_info,
            "--once",
        ],
    )?;
    for d in proposals {
        wait_state(demo, &demo.repo("droplet"), d, "StorageDealActive")?;
    }
    Ok(())
}

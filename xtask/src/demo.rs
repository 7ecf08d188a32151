//! `cargo xtask demo`: the market on one machine, from nothing. A local chain, the
//! provider's droplet and the data owner's droplet-client run in a temporary directory on
//! loopback; the provider announces itself on chain and sets an ask, the client finds it over
//! libp2p and prepares data for a deal. Everything is stopped and removed at the end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A daemon of the demo; stopped when dropped.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
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

struct Demo {
    bin_dir: PathBuf,
    dir: PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Demo {
    fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    fn start(&self, name: &'static str, args: &[&str]) -> Result<Daemon> {
        let log = self.dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(self.bin(name))
            .args(args)
            .env("RUST_LOG", "warn")
            .env("DEVNET_LOG", "warn")
            .stdout(out.try_clone()?)
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Daemon { name, child, log })
    }

    /// Run a command, echo it and its output (indented), and return the output.
    fn run(&self, name: &str, args: &[&str]) -> Result<String> {
        let shown: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| !a.starts_with("--repo") && !a.contains(&*self.dir.to_string_lossy()))
            .collect();
        println!("   $ {name} {}", shown.join(" "));
        let out = Command::new(self.bin(name))
            .args(args)
            .output()
            .with_context(|| format!("running {name}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in text.lines() {
            println!("     {line}");
        }
        if !out.status.success() {
            bail!(
                "{name} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(text)
    }

    fn repo(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

fn wait_file(path: &Path, d: &mut Daemon) -> Result<String> {
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

pub fn run(workspace: &Path) -> Result<()> {
    println!("droplet-rs demo: a local chain, a provider and a data owner on this machine.\n");
    println!("0. building droplet-devnet, droplet and droplet-client");
    super::cargo(&[
        "build",
        "-q",
        "-p",
        "devnet",
        "-p",
        "droplet",
        "-p",
        "droplet-client",
        "--bins",
    ])?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let dir = std::env::temp_dir().join(format!("droplet-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let demo = Demo {
        bin_dir: target.join("debug"),
        dir,
    };

    println!("\n1. starting droplet-devnet: a chain with miner t01000 (owner, worker) and funded clients");
    let devnet_repo = demo.repo("devnet");
    let mut devnet = demo.start(
        "droplet-devnet",
        &[
            "--repo",
            &devnet_repo,
            "run",
            "--listen",
            "127.0.0.1:0",
            "--block-time",
            "500ms",
        ],
    )?;
    let node = wait_file(&demo.dir.join("devnet/api-info/node"), &mut devnet)?;
    let (token, ma) = node.split_once(':').context("devnet API info")?;
    println!("   full node, messager, wallet and auth at {ma}");

    println!(
        "\n2. starting droplet (the provider's market) for t01000, signing with the worker key through the wallet"
    );
    let p = demo.repo("droplet");
    let mut droplet = demo.start(
        "droplet",
        &[
            "--repo",
            &p,
            "run",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
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
            "--miner",
            "t01000:demo",
        ],
    )?;
    wait_file(&demo.dir.join("droplet/api"), &mut droplet)?;
    let id = demo.run("droplet", &["--repo", &p, "net", "id"])?.trim().to_string();
    let listen = demo.run("droplet", &["--repo", &p, "net", "listen"])?;
    let addr = listen
        .lines()
        .next()
        .and_then(|l| l.split("/p2p/").next())
        .context("a listen address")?
        .to_string();

    println!("\n3. announcing the market on chain: the miner's addresses and peer ID (messages from the worker)");
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
            break;
        }
        if Instant::now() > deadline {
            bail!("the peer ID did not land on chain");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    demo.run("droplet", &["--repo", &p, "actor", "info", "--miner", "t01000"])?;

    println!("\n4. setting t01000's storage ask (signed by the worker, for ask/1.1.0 and ask/1.0.1)");
    demo.run(
        "droplet",
        &[
            "--repo",
            &p,
            "storage",
            "ask",
            "set",
            "--price",
            "0.01fil",
            "--verified-price",
            "0.002fil",
            "--min-piece-size",
            "256B",
            "--max-piece-size",
            "8MiB",
            "t01000",
        ],
    )?;

    println!("\n5. starting droplet-client (the data owner's market) and querying the ask over libp2p");
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
        ],
    )?;
    wait_file(&demo.dir.join("client/api"), &mut client)?;
    demo.run("droplet-client", &["--repo", &c, "storage", "asks", "query", "t01000"])?;

    println!("\n6. preparing data for a deal: a CAR of README.md and its piece commitment");
    let readme = workspace.join("README.md");
    let car = demo.dir.join("readme.car");
    demo.run(
        "droplet-client",
        &[
            "data",
            "generate-car",
            &readme.to_string_lossy(),
            &car.to_string_lossy(),
        ],
    )?;
    demo.run("droplet-client", &["data", "commP", &car.to_string_lossy()])?;

    println!(
        "\nNot yet in this build: proposing the deal, publishing it, sealing and retrieval (the storage-deal\n\
         issue). Stopping the daemons and removing {}.",
        demo.dir.display()
    );
    drop(client);
    drop(droplet);
    drop(devnet);
    Ok(())
}

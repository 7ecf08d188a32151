//! The HTTP retrieval part of `cargo xtask bench`, on the retrieval bench's 1 GiB deal:
//! droplet's `/piece/` and `/ipfs/` beside Debian's nginx serving the same stored piece file
//! from the same disk on loopback (the physical reference), in the same run.
//!
//! - full reads: the stored CAR (droplet: `/piece/<cid>` with a range over the CAR, the rest of
//!   its body being zero padding; nginx: the file), with curl;
//! - random 1 MiB ranges of it, 4 keep-alive connections, 512 requests, both servers;
//! - the trustless CAR of the whole DAG (`/ipfs/<root>?dag-scope=all`), with curl;
//! - 64 concurrent clients of 1 MiB ranges, twice: errors, and droplet's memory after each
//!   round (it must not grow with the number of requests).
//!
//! The clients are small: one HTTP/1.1 GET at a time on a kept-alive TCP connection, the body
//! read and dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::stack::{Daemon, Demo};

/// Random ranges read per server, and their size.
const RANGES: u64 = 512;
const RANGE: u64 = 1 << 20;

/// nginx on loopback over one directory, stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path, root: &Path) -> Result<Nginx> {
        let port = test_databases::loopback_port();
        let run = dir.join("nginx");
        std::fs::create_dir_all(&run)?;
        let conf = run.join("nginx.conf");
        let r = run.display();
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nuser root;\nworker_processes 2;\npid {r}/nginx.pid;\nerror_log {r}/error.log;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n\
                 client_body_temp_path {r}/body;\n  proxy_temp_path {r}/proxy;\n  fastcgi_temp_path {r}/fastcgi;\n\
                 uwsgi_temp_path {r}/uwsgi;\n  scgi_temp_path {r}/scgi;\n\
                 server {{ listen 127.0.0.1:{port}; root {}; location / {{ }} }}\n}}\n",
                root.display()
            ),
        )?;
        let child = Command::new("nginx")
            .args(["-c", &conf.to_string_lossy(), "-p", &run.to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx (cargo xtask bench installs it: apt-get install nginx)")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "nginx did not listen on 127.0.0.1:{port}; see {}",
                    run.join("error.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Nginx { child, port })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: nginx's graceful stop, workers included.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// One kept-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
    buf: Vec<u8>,
}

impl Conn {
    fn open(base: &str) -> Result<Conn> {
        let host = base.trim_start_matches("http://").to_string();
        let stream = TcpStream::connect(&host)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::with_capacity(1 << 16, stream),
            host,
            buf: vec![0u8; 1 << 16],
        })
    }

    /// GET `path` with bytes `range` (inclusive); the status and the body's length.
    fn get(&mut self, path: &str, range: (u64, u64)) -> Result<(u16, u64)> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nRange: bytes={}-{}\r\n\r\n",
            self.host, range.0, range.1
        );
        self.reader.get_mut().write_all(request.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("a status line, not {line:?}"))?;
        let mut length = None;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse::<u64>().ok();
            }
        }
        let length = length.context("a Content-Length")?;
        let mut left = length;
        while left > 0 {
            let n = self.reader.read(&mut self.buf[..left.min(1 << 16) as usize])?;
            if n == 0 {
                bail!("the connection closed inside a body");
            }
            left -= n as u64;
        }
        Ok((status, length))
    }
}

/// `n` ranges of `RANGE` bytes at pseudo-random offsets inside `len`, from `seed`.
fn ranges(seed: u64, n: u64, len: u64) -> Vec<(u64, u64)> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = x % (len - RANGE);
            (start, start + RANGE - 1)
        })
        .collect()
}

/// `clients` threads each reading `ranges` of `path`; seconds, bytes, and the requests that
/// did not get a 206 of the range's length.
fn read_ranges(base: &str, path: &str, clients: u64, per_client: u64, len: u64) -> Result<(f64, u64, u64)> {
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let (base, path) = (base.to_string(), path.to_string());
            std::thread::spawn(move || -> Result<(u64, u64)> {
                let mut conn = Conn::open(&base)?;
                let (mut bytes, mut errors) = (0, 0);
                for r in ranges(0x0005_DEEC_E66D + i, per_client, len) {
                    match conn.get(&path, r) {
                        Ok((206, n)) if n == RANGE => bytes += n,
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            conn = Conn::open(&base)?;
                        }
                    }
                }
                Ok((bytes, errors))
            })
        })
        .collect();
    let (mut bytes, mut errors) = (0, 0);
    for h in handles {
        let (b, e) = h.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
        bytes += b;
        errors += e;
    }
    Ok((started.elapsed().as_secs_f64(), bytes, errors))
}

/// `curl` GET of `url` to nowhere: bytes and seconds as curl measures them.
fn curl(url: &str, headers: &[&str]) -> Result<(u64, f64)> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_total}"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let o = cmd.arg(url).output()?;
    if !o.status.success() {
        bail!("curl {url}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let mut parts = text.split_whitespace();
    let bytes = parts.next().and_then(|b| b.parse().ok()).context("curl's size")?;
    let secs = parts.next().and_then(|s| s.parse().ok()).context("curl's time")?;
    Ok((bytes, secs))
}

/// The best (shortest) of two runs: bytes and seconds.
fn best_of_two(f: impl Fn() -> Result<(u64, f64)>) -> Result<(u64, f64)> {
    let a = f()?;
    let b = f()?;
    Ok(if a.1 <= b.1 { a } else { b })
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

/// The stored piece of the bench's deal: the largest file in droplet's piece storage.
fn stored_piece(demo: &Demo) -> Result<(String, PathBuf, u64)> {
    let dir = demo.dir.join("droplet/pieces");
    let mut best: Option<(String, PathBuf, u64)> = None;
    for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let len = e.metadata()?.len();
        if best.as_ref().is_none_or(|b| len > b.2) {
            best = Some((e.file_name().to_string_lossy().into_owned(), e.path(), len));
        }
    }
    best.context("no stored piece")
}

pub fn run(demo: &Demo, droplet: &Daemon, root: &str) -> Result<()> {
    let (piece, file, len) = stored_piece(demo)?;
    let api = std::fs::read_to_string(demo.dir.join("droplet/api"))?;
    let parts: Vec<&str> = api.trim().split('/').collect();
    let base = match parts.as_slice() {
        ["", "ip4", ip, "tcp", port, ..] => format!("http://{ip}:{port}"),
        _ => bail!("unexpected API address {api:?}"),
    };
    let nginx = Nginx::start(&demo.dir, file.parent().context("the piece directory")?)?;
    let ngx = format!("http://127.0.0.1:{}", nginx.port);
    let piece_path = format!("/piece/{piece}");
    let file_path = format!("/{piece}");
    println!(
        "\nHTTP retrieval beside nginx {} serving the same stored piece ({:.0} MB) on loopback",
        nginx_version(),
        len as f64 / 1e6
    );

    // Full reads of the stored CAR.
    let whole = format!("Range: bytes=0-{}", len - 1);
    let d_full = best_of_two(|| curl(&format!("{base}{piece_path}"), &[&whole]))?;
    let n_full = best_of_two(|| curl(&format!("{ngx}{file_path}"), &[]))?;
    if d_full.0 != len || n_full.0 != len {
        bail!("a full read returned {} and {} bytes, not {len}", d_full.0, n_full.0);
    }
    // Random 1 MiB ranges, 4 connections.
    let d_rng = read_ranges(&base, &piece_path, 4, RANGES / 4, len)?;
    let n_rng = read_ranges(&ngx, &file_path, 4, RANGES / 4, len)?;
    if d_rng.2 + n_rng.2 > 0 {
        bail!("range reads failed: droplet {}, nginx {}", d_rng.2, n_rng.2);
    }
    // The trustless CAR of the whole DAG.
    let accept = "Accept: application/vnd.ipld.car;version=1;order=dfs;dups=y";
    let car = best_of_two(|| curl(&format!("{base}/ipfs/{root}?dag-scope=all"), &[accept]))?;
    // 64 concurrent clients, twice: errors and droplet's memory after each round.
    let pid = droplet.child.id();
    let before = crate::bench_retrieval::rss_mib(pid);
    let first = read_ranges(&base, &piece_path, 64, 16, len)?;
    let after_first = crate::bench_retrieval::rss_mib(pid);
    let second = read_ranges(&base, &piece_path, 64, 16, len)?;
    let after_second = crate::bench_retrieval::rss_mib(pid);

    println!("  | read | droplet MB/s | nginx MB/s | droplet / nginx |");
    println!("  |---|---|---|---|");
    let row = |name: &str, d: f64, n: f64| println!("  | {name} | {d:.0} | {n:.0} | {:.0}% |", d / n * 100.0);
    let (df, nf) = (mbps(d_full.0, d_full.1), mbps(n_full.0, n_full.1));
    row("/piece, the whole stored CAR (curl)", df, nf);
    let (dr, nr) = (mbps(d_rng.1, d_rng.0), mbps(n_rng.1, n_rng.0));
    row("/piece, 512 random 1 MiB ranges, 4 connections", dr, nr);
    println!(
        "  trustless CAR of the 1 GiB DAG (/ipfs/<root>?dag-scope=all): {:.0} MB/s ({} bytes in {:.2} s; goal 1000 MB/s)",
        mbps(car.0, car.1),
        car.0,
        car.1
    );
    println!(
        "  64 concurrent clients × 16 ranges of 1 MiB, twice: {} and {} errors, {:.0} and {:.0} MB/s; droplet RSS {:.0} MiB before, {:.0} after the first 1024 requests, {:.0} after the second",
        first.2,
        second.2,
        mbps(first.1, first.0),
        mbps(second.1, second.0),
        before,
        after_first,
        after_second
    );
    println!(
        "  goal: /piece at least 80% of nginx: {:.0}% (whole), {:.0}% (ranges)",
        df / nf * 100.0,
        dr / nr * 100.0
    );
    if first.2 + second.2 > 0 {
        bail!("{} of 2048 concurrent requests failed", first.2 + second.2);
    }
    drop(nginx);
    Ok(())
}

fn nginx_version() -> String {
    Command::new("nginx")
        .arg("-v")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .trim()
                .trim_start_matches("nginx version: ")
                .to_string()
        })
        .unwrap_or_default()
}

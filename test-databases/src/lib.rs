//! Real database servers for the SQL store's tests and benches: MariaDB and PostgreSQL from
//! Debian's packages (`cargo xtask test` and `bench` install them), each started in a
//! temporary data directory, listening on a free loopback port only ([`loopback_port`]), and stopped with its
//! directory when dropped. Failures panic with the server's log: these are test fixtures.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    MariaDb,
    Postgres,
}

/// A running server with one empty database per [`SqlServer::database`] call.
pub struct SqlServer {
    pub engine: Engine,
    pub port: u16,
    proc: Option<Child>,
    /// Removed after the server stops (fields drop after `Drop::drop` has stopped it).
    _dir: tempfile::TempDir,
    next_db: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for SqlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlServer")
            .field("engine", &self.engine)
            .field("port", &self.port)
            .finish()
    }
}

/// A loopback port free now, for a server told its port before it starts. It is taken below
/// the kernel's ephemeral range where it can (a port `bind(0)` handed out is handed out again
/// for the next outgoing connection, which may take it before the server binds it).
pub fn loopback_port() -> u16 {
    let (low, _) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| {
            let mut it = r.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    const FLOOR: u16 = 10_000;
    if low > FLOOR + 1_000 {
        // Where to start: differs between processes and calls, so concurrent runs rarely try
        // the same ports first.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            ^ std::process::id().wrapping_mul(2_654_435_761);
        let span = u32::from(low - FLOOR);
        for i in 0..256u32 {
            let port = FLOOR + ((seed.wrapping_add(i.wrapping_mul(7_919))) % span) as u16;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: {e} (cargo xtask test installs mariadb-server and postgresql from Debian's packages)")
    });
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user the
/// package creates (`setpriv` execs it, so the process started is the server itself).
fn as_postgres(program: &str) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

/// Where Debian puts PostgreSQL's server programs (they are not on PATH).
fn postgres_bin(name: &str) -> String {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<u32> = std::fs::read_dir(base)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    versions.sort();
    match versions.last() {
        Some(v) => base.join(v.to_string()).join("bin").join(name).display().to_string(),
        None => name.to_string(),
    }
}

impl SqlServer {
    pub fn start(engine: Engine) -> SqlServer {
        // A fresh directory of a unique name (never one another run may be using: process ids
        // repeat across containers sharing /tmp), holding the server's temporary files too.
        let dir = tempfile::Builder::new()
            .prefix("sqlserver-")
            .tempdir()
            .expect("the server's directory");
        let port = loopback_port();
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("the server's temporary directory");
        let tmpdir = format!("--tmpdir={}", tmp.display());
        let proc = match engine {
            Engine::MariaDb => {
                run(
                    Command::new("mariadb-install-db").args([
                        "--no-defaults",
                        &format!("--datadir={}", data.display()),
                        "--user=root",
                        "--auth-root-authentication-method=normal",
                        "--skip-test-db",
                        &tmpdir,
                    ]),
                    "mariadb-install-db",
                );
                let args = [
                    "--no-defaults".to_string(),
                    format!("--datadir={}", data.display()),
                    "--user=root".into(),
                    "--bind-address=127.0.0.1".into(),
                    format!("--port={port}"),
                    tmpdir,
                    format!("--socket={}", dir.path().join("mysqld.sock").display()),
                    format!("--pid-file={}", dir.path().join("mysqld.pid").display()),
                    "--skip-name-resolve".into(),
                    "--innodb-buffer-pool-size=64M".into(),
                    "--max-connections=500".into(),
                ];
                let mut cmd = Command::new("/usr/sbin/mariadbd");
                cmd.args(&args);
                spawn(cmd, &log)
            }
            Engine::Postgres => {
                // As root, the data directory must be the postgres user's (a non-root run
                // owns it already, and chown fails harmlessly).
                let _ = Command::new("chown").args(["-R", "postgres"]).arg(dir.path()).output();
                run(
                    as_postgres(&postgres_bin("initdb"))
                        .args([
                            "-D",
                            &data.display().to_string(),
                            "-A",
                            "trust",
                            "-U",
                            "postgres",
                            "--no-sync",
                        ])
                        .current_dir("/tmp"),
                    "initdb",
                );
                let mut cmd = as_postgres(&postgres_bin("postgres"));
                cmd.args([
                    "-D",
                    &data.display().to_string(),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-k",
                    &dir.path().display().to_string(),
                    "-c",
                    "max_connections=500",
                ]);
                spawn(cmd, &log)
            }
        };
        let mut server = SqlServer {
            engine,
            port,
            proc: Some(proc),
            _dir: dir,
            next_db: std::sync::atomic::AtomicU32::new(0),
        };
        // Listening a moment before it answers queries: wait for one to work.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && server.client("SELECT 1").status.success() {
                return server;
            }
            let exited = server.proc.as_mut().and_then(|p| p.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "{engine:?} did not start ({exited:?}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Run one statement with the engine's own command-line client.
    fn client(&self, sql: &str) -> std::process::Output {
        let port = self.port.to_string();
        match self.engine {
            Engine::MariaDb => Command::new("mariadb")
                .args([
                    "--no-defaults",
                    "-h127.0.0.1",
                    &format!("-P{port}"),
                    "-uroot",
                    "-e",
                    sql,
                ])
                .output(),
            Engine::Postgres => Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    sql,
                ])
                .output(),
        }
        .expect("the database's command-line client")
    }

    /// Run a statement, asserting it works; its output.
    pub fn sql(&self, sql: &str) -> String {
        let out = self.client(sql);
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run a statement in the database `dsn` names (one [`SqlServer::database`] gave); its
    /// output, a row a line, fields tab-separated, no headers.
    pub fn query(&self, dsn: &str, sql: &str) -> String {
        let db = dsn
            .rsplit('/')
            .next()
            .and_then(|d| d.split('?').next())
            .expect("a database name");
        let out = match self.engine {
            Engine::MariaDb => Command::new("mariadb")
                .args([
                    "--no-defaults",
                    "-h127.0.0.1",
                    &format!("-P{}", self.port),
                    "-uroot",
                    "-N",
                    "-B",
                    "-D",
                    db,
                    "-e",
                    sql,
                ])
                .output(),
            Engine::Postgres => Command::new("psql")
                .args([dsn, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .output(),
        }
        .expect("the database's command-line client");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new empty database; its connection string (a Go MySQL DSN for MariaDB, as droplet's
    /// operators write it, and a URL for PostgreSQL).
    pub fn database(&self) -> String {
        let n = self.next_db.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("droplet{n}");
        self.sql(&format!("CREATE DATABASE {name}"));
        self.dsn(&name)
    }

    /// The connection string of database `name`.
    pub fn dsn(&self, name: &str) -> String {
        match self.engine {
            Engine::MariaDb => format!(
                "root@tcp(127.0.0.1:{})/{name}?charset=utf8mb4&parseTime=True&loc=Local",
                self.port
            ),
            Engine::Postgres => format!("postgres://postgres@127.0.0.1:{}/{name}", self.port),
        }
    }
}

impl Drop for SqlServer {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            // SIGTERM (PostgreSQL's smart shutdown, MariaDB's normal one), SIGKILL after 10 s.
            let _ = Command::new("kill").arg("-TERM").arg(p.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && p.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

/// Start a server with its output going to `log`.
fn spawn(mut cmd: Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("the server's log");
    let err = out.try_clone().expect("the server's log");
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e} (install mariadb-server and postgresql)"))
}

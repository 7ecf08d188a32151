//! What a fresh machine needs before anything builds or the suite runs: the Debian packages
//! of the C build, cargo-nextest, and Go for the interop peers. Every task that builds calls
//! [`build_dependencies`] first, so `cargo xtask demo` works on a fresh clone exactly as
//! `cargo xtask test` does.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::{cargo, run};

/// Debian packages the build needs, with why.
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    (
        "build-essential",
        "C and C++ compilers for the crates that build C (blst, zstd, RocksDB)",
    ),
    ("pkg-config", "locating system libraries in build scripts"),
    (
        "libclang-dev",
        "bindgen for RocksDB's bindings (the daemons' embedded store)",
    ),
    (
        "curl",
        "the demo and the tests fetch pieces from droplet's /piece route as an HTTP client would",
    ),
];

/// Debian packages the benchmarks need besides the build's.
const BENCH_PACKAGES: &[(&str, &str)] = &[(
    "nginx",
    "the HTTP retrieval bench's reference: nginx serving the same piece file from the same disk",
)];

/// Debian packages of the web UI's browser: the demo's screenshot and the browser tests.
const BROWSER_PACKAGES: &[(&str, &str)] = &[(
    "chromium",
    "the web UI in a real browser: the demo's screenshot of the deals screen and the browser tests \
     (headless, driven by playwright-core)",
)];

/// Debian packages of the database servers droplet's SQL store is tested against: the suite
/// starts each in a temporary directory on loopback (`tests/src/sqlserver.rs`).
const DATABASE_PACKAGES: &[(&str, &str)] = &[
    (
        "mariadb-server",
        "droplet's store in MySQL/MariaDB (`[Mysql] ConnectionString`), tested against a real server \
         (with its `mariadb` client)",
    ),
    (
        "postgresql",
        "droplet's store in PostgreSQL, tested against a real server (with its `psql` client)",
    ),
];

/// The oldest Go the interop peers' `go.mod` files accept.
const GO_MINIMUM: (u32, u32) = (1, 26);

/// Check, or install when run as root, everything a build of the workspace needs.
pub fn build_dependencies() -> Result<()> {
    ensure_packages(SYSTEM_PACKAGES)
}

/// Check, or install when run as root, what `cargo xtask bench` needs besides the build's
/// (the intake bench runs droplet on the database servers too).
pub fn bench_dependencies() -> Result<()> {
    ensure_packages(BENCH_PACKAGES)?;
    ensure_packages(DATABASE_PACKAGES)
}

/// Check, or install when run as root, the database servers the SQL store's tests start.
pub fn database_servers() -> Result<()> {
    ensure_packages(DATABASE_PACKAGES)
}

/// Check, or install when run as root, the browser the demo and the UI tests use.
pub fn browser() -> Result<()> {
    ensure_packages(BROWSER_PACKAGES)
}

/// The UI tests' browser driver: playwright-core from the npm registry, as pinned by
/// `tests/ui/package-lock.json`, installed into `tests/ui/node_modules` (npm's cache makes
/// later runs quick).
pub fn ui_driver(workspace: &Path) -> Result<()> {
    for tool in ["node", "npm"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            bail!(
                "the web UI's browser tests run playwright-core on Node.js: install Node.js 18 or newer with npm \
                 (Debian: apt-get install nodejs npm) and make sure `{tool}` is on PATH"
            );
        }
    }
    println!("xtask: installing the browser tests' driver (playwright-core, pinned in tests/ui/package-lock.json)");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(workspace.join("tests/ui")))
}

fn ensure_packages(packages: &[(&str, &str)]) -> Result<()> {
    let mut missing = Vec::new();
    for (name, why) in packages {
        match package_installed(name) {
            Some(true) => {}
            Some(false) => {
                println!("xtask: {name} is missing ({why})");
                missing.push(*name);
            }
            None => {
                println!("xtask: dpkg-query not found: not a Debian system, so make sure {name} ({why}) is installed");
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "install the missing packages and run again: sudo apt-get install -y --no-install-recommends {}",
            missing.join(" ")
        );
    }
    println!("xtask: installing {}", missing.join(" "));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn package_installed(name: &str) -> Option<bool> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// cargo-nextest, installed from crates.io when missing.
pub fn nextest() -> Result<()> {
    let present = Command::new(crate::cargo_bin())
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    println!("xtask: installing cargo-nextest from crates.io (a few minutes, once)");
    cargo(&["install", "cargo-nextest", "--locked"])
}

/// Where the official Go tarball installs; used when `go` is not on PATH.
const GO_HOME_BIN: &str = "/usr/local/go/bin";

/// How to run Go here: the PATH for commands that run it (None: the inherited one has `go`).
#[derive(Debug, Clone)]
pub struct GoEnv {
    path: Option<std::ffi::OsString>,
}

impl GoEnv {
    /// Find `go`: on PATH, or else in the official install's directory, put in front of PATH.
    fn find() -> GoEnv {
        let on_path = Command::new("go")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        let path = if on_path || !Path::new(GO_HOME_BIN).join("go").exists() {
            None
        } else {
            let inherited = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![std::path::PathBuf::from(GO_HOME_BIN)];
            dirs.extend(std::env::split_paths(&inherited));
            std::env::join_paths(dirs).ok()
        };
        GoEnv { path }
    }

    /// `cmd`, running with this PATH.
    pub fn apply(&self, mut cmd: Command) -> Command {
        if let Some(path) = &self.path {
            cmd.env("PATH", path);
        }
        cmd
    }
}

/// Check that Go is there and new enough, then build the interop suite's Go peers
/// (`tests/go/build.sh`: their pinned modules, lassie) into `out`. Returns how to run Go, for
/// the suite (a test builds the peers itself when run on its own).
pub fn go_peers(workspace: &Path, out: &Path) -> Result<GoEnv> {
    let go = GoEnv::find();
    let version = go.apply(Command::new("go")).arg("version").output();
    let text = match version {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        _ => bail!(
            "the interop tests drive real Go peers (boost's types, go-fil-markets, lassie) and need Go {}.{} or newer: \
             install it (Debian: apt-get install golang-go, if its version is new enough; or the official tarball) \
             and make sure `go` is on PATH",
            GO_MINIMUM.0,
            GO_MINIMUM.1
        ),
    };
    match parse_go_version(&text) {
        Some(v) if v >= GO_MINIMUM => {}
        Some((major, minor)) => bail!(
            "Go {major}.{minor} is too old for the interop peers: install Go {}.{} or newer",
            GO_MINIMUM.0,
            GO_MINIMUM.1
        ),
        None => println!("xtask: could not read the Go version from {text:?}; trying anyway"),
    }
    println!(
        "xtask: building the Go interop peers (pinned modules from the Go module proxy; cached after the first run)"
    );
    run(go
        .apply(Command::new("bash"))
        .arg(workspace.join("tests/go/build.sh"))
        .arg(out))?;
    Ok(go)
}

/// `go version go1.26.8 linux/amd64` → (1, 26).
fn parse_go_version(text: &str) -> Option<(u32, u32)> {
    let v = text.split_whitespace().find_map(|w| {
        w.strip_prefix("go")
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
    })?;
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::parse_go_version;

    #[test]
    fn reads_go_versions() {
        assert_eq!(parse_go_version("go version go1.26.8 linux/amd64\n"), Some((1, 26)));
        assert_eq!(parse_go_version("go version go1.27rc1 linux/amd64"), Some((1, 27)));
        assert_eq!(parse_go_version("nonsense"), None);
    }
}

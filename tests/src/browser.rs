//! A headless Chromium driven through playwright-core (`tests/ui/driver.mjs`): one JSON
//! command per line, for the web UI's end-to-end tests. Chromium is Debian's
//! (`/usr/bin/chromium`, or `$CHROMIUM`); the driver's npm package is installed into
//! `tests/ui/node_modules` by `cargo xtask test`, or here on first use (under a lock).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")
}

/// `npm ci` in `tests/ui` unless it was done.
fn ensure_installed() {
    let dir = ui_dir();
    if dir.join("node_modules/playwright-core").exists() {
        return;
    }
    let lock = File::create(std::env::temp_dir().join("droplet-rs-ui-npm.lock")).expect("lock file");
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("locking the npm install: {e}"));
    if dir.join("node_modules/playwright-core").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .expect("running npm (install Node.js and npm: apt-get install nodejs npm)");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

/// The browser, for one test.
pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Browser")
    }
}

impl Browser {
    pub fn launch() -> Browser {
        ensure_installed();
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            Path::new(&chromium).exists(),
            "no Chromium at {chromium}: apt-get install chromium (cargo xtask test does it as root)"
        );
        let mut child = Command::new("node")
            .arg(ui_dir().join("driver.mjs"))
            .env("CHROMIUM", &chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting node (install Node.js)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Browser { child, stdin, stdout }
    }

    /// Send one command; its value, or the driver's error.
    pub fn call(&mut self, cmd: Value) -> Result<Value, String> {
        writeln!(self.stdin, "{cmd}").map_err(|e| format!("writing to the driver: {e}"))?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading from the driver: {e}"))?;
        if line.is_empty() {
            return Err("the browser driver exited".into());
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("driver said {line:?}: {e}"))?;
        if v["ok"] == true {
            Ok(v["value"].clone())
        } else {
            Err(v["error"].as_str().unwrap_or("?").to_string())
        }
    }

    fn must(&mut self, cmd: Value) -> Value {
        let what = cmd.to_string();
        self.call(cmd).unwrap_or_else(|e| panic!("browser {what}: {e}"))
    }

    /// Open `url`; the HTTP status.
    pub fn goto(&mut self, url: &str) -> u64 {
        self.must(json!({"op": "goto", "url": url})).as_u64().unwrap_or(0)
    }

    pub fn url(&mut self) -> String {
        self.must(json!({"op": "url"})).as_str().unwrap_or_default().to_string()
    }

    /// The visible text of the first element matching `selector`.
    pub fn text(&mut self, selector: &str) -> String {
        self.must(json!({"op": "text", "selector": selector}))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn count(&mut self, selector: &str) -> u64 {
        self.must(json!({"op": "count", "selector": selector}))
            .as_u64()
            .unwrap_or(0)
    }

    /// Wait, without reloading, until an element matching `selector` contains `text`.
    pub fn wait_text(&mut self, selector: &str, text: &str, timeout: Duration) {
        let ms = timeout.as_millis() as u64;
        if let Err(e) = self.call(json!({"op": "waitText", "selector": selector, "text": text, "timeout": ms})) {
            let now = self.call(json!({"op": "text", "selector": "body"})).unwrap_or_default();
            panic!("waiting for {text:?} in {selector}: {e}\nthe page says:\n{now}");
        }
    }

    pub fn fill(&mut self, selector: &str, value: &str) {
        self.must(json!({"op": "fill", "selector": selector, "value": value}));
    }

    pub fn select(&mut self, selector: &str, value: &str) {
        self.must(json!({"op": "select", "selector": selector, "value": value}));
    }

    /// Click; with `navigates`, wait for the page it leads to.
    pub fn click(&mut self, selector: &str, navigates: bool) {
        self.must(json!({"op": "click", "selector": selector, "navigates": navigates}));
    }

    pub fn status(&mut self) -> u64 {
        self.must(json!({"op": "status"})).as_u64().unwrap_or(0)
    }

    pub fn screenshot(&mut self, path: &Path) {
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("screenshot directory");
        self.must(json!({"op": "screenshot", "path": path, "fullPage": true}));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing stdin ends the driver, which closes Chromium; then make sure.
        let _ = writeln!(self.stdin, "{}", json!({"op": "close"}));
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Config pieces both daemons have: `[API]`, `[Libp2p]`, a remote service's `Url`/`Token`,
//! `[Signer]`, and loading a TOML file that tolerates (and reports) keys we do not know.

use std::path::Path;

use market_types::units::GoDuration;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not a valid config: {reason}")]
    Parse { path: String, reason: String },
    #[error("writing {path}: {source}")]
    Write { path: String, source: std::io::Error },
    /// A value that parses but does not check (named by section and key).
    #[error("{0}")]
    Invalid(String),
}

fn d_timeout() -> GoDuration {
    GoDuration::from_secs(30)
}

/// `[API]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiConfig {
    pub listen_address: String,
    #[serde(default)]
    pub remote_listen_address: String,
    #[serde(default = "d_timeout")]
    pub timeout: GoDuration,
    /// Hex HS256 secret for local tokens; generated on first start. Older files call it `Secret`.
    #[serde(default, alias = "Secret")]
    pub private_key: String,
}

impl ApiConfig {
    pub fn new(listen: &str) -> Self {
        ApiConfig {
            listen_address: listen.into(),
            remote_listen_address: String::new(),
            timeout: d_timeout(),
            private_key: String::new(),
        }
    }
}

/// `[Libp2p]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Libp2pConfig {
    pub listen_addresses: Vec<String>,
    #[serde(default)]
    pub announce_addresses: Vec<String>,
    #[serde(default)]
    pub no_announce_addresses: Vec<String>,
    #[serde(default)]
    pub protected_peers: Vec<String>,
    /// Hex of the libp2p key in go-libp2p's protobuf form; generated on first start.
    #[serde(default)]
    pub private_key: String,
}

impl Libp2pConfig {
    pub fn new(listen: &[&str]) -> Self {
        Libp2pConfig {
            listen_addresses: listen.iter().map(|s| s.to_string()).collect(),
            announce_addresses: Vec::new(),
            no_announce_addresses: Vec::new(),
            protected_peers: Vec::new(),
            private_key: String::new(),
        }
    }
}

/// A remote service: URL (or multiaddr) and token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub token: String,
}

/// `[Signer]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignerConfig {
    /// `gateway`, `wallet` or `lotusnode`.
    #[serde(rename = "Type", default)]
    pub signer_type: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub token: String,
}

/// Parse a config; returns it and the dotted paths of keys it does not know.
pub fn parse<T: Serialize + DeserializeOwned>(text: &str, path: &str) -> Result<(T, Vec<String>), ConfigError> {
    let raw: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let cfg: T = toml::Table::try_into(raw.clone()).map_err(|e: toml::de::Error| ConfigError::Parse {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let known = toml::Table::try_from(&cfg).unwrap_or_default();
    let mut unknown = Vec::new();
    unknown_keys(&raw, &known, "", &mut unknown);
    Ok((cfg, unknown))
}

/// Load `path`, logging keys it does not know.
pub fn load<T: Serialize + DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    let (cfg, unknown) = parse(&text, &shown)?;
    for key in unknown {
        tracing::warn!(%key, file = %shown, "unknown config key ignored");
    }
    Ok(cfg)
}

/// Write atomically (temp file, then rename).
pub fn save<T: Serialize>(cfg: &T, path: &Path) -> Result<(), ConfigError> {
    let shown = path.display().to_string();
    let text = toml::to_string_pretty(cfg).map_err(|e| ConfigError::Parse {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    // The config holds secrets (the API key, the libp2p key, service tokens): owner-only.
    market_proto::files::write_private(path, text.as_bytes())
        .map_err(|source| ConfigError::Write { path: shown, source })
}

/// Keys present in `raw` but not in `known` (what parsing kept), as dotted paths.
pub fn unknown_keys(raw: &toml::Table, known: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in raw {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        // Keys matched case-insensitively or through an alias are known under another spelling.
        let Some(kv) = known
            .get(k)
            .or_else(|| known.iter().find(|(kk, _)| kk.eq_ignore_ascii_case(k)).map(|(_, v)| v))
        else {
            if !(k == "Secret" && prefix == "API") {
                out.push(path);
            }
            continue;
        };
        match (v, kv) {
            (toml::Value::Table(a), toml::Value::Table(b)) => unknown_keys(a, b, &path, out),
            (toml::Value::Array(a), toml::Value::Array(b)) => {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    if let (toml::Value::Table(x), toml::Value::Table(y)) = (x, y) {
                        unknown_keys(x, y, &format!("{path}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_configs_are_private_and_reload() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("config.toml");
        let mut api = ApiConfig::new("/ip4/127.0.0.1/tcp/1");
        api.private_key = "00ff".into();
        save(&api, &path).expect("save");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let back: ApiConfig = load(&path).expect("load");
        assert_eq!(back, api);
        let (_, unknown) =
            parse::<ApiConfig>("ListenAddress = \"/ip4/1.2.3.4/tcp/5\"\nColour = 1\n", "x").expect("parse");
        assert_eq!(unknown, vec!["Colour".to_string()]);
    }
}

fn d_exporter() -> String {
    "prometheus".into()
}
fn d_registry() -> String {
    "define".into()
}
fn d_metrics_endpoint() -> String {
    "/ip4/0.0.0.0/tcp/4568".into()
}
fn d_metrics_path() -> String {
    "/debug/metrics".into()
}
fn d_period() -> GoDuration {
    GoDuration::from_secs(10)
}
fn d_graphite_host() -> String {
    "127.0.0.1".into()
}
fn d_graphite_port() -> u64 {
    4568
}

/// `[Metrics]` (droplet's; droplet-client takes the same section, a droplet-rs addition).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricsConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub exporter: MetricsExporter,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricsExporter {
    #[serde(rename = "Type", default = "d_exporter")]
    pub exporter_type: String,
    #[serde(default)]
    pub prometheus: PrometheusConfig,
    #[serde(default)]
    pub graphite: GraphiteConfig,
}

impl Default for MetricsExporter {
    fn default() -> Self {
        MetricsExporter {
            exporter_type: d_exporter(),
            prometheus: PrometheusConfig::default(),
            graphite: GraphiteConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrometheusConfig {
    #[serde(default = "d_registry")]
    pub registry_type: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default = "d_metrics_endpoint")]
    pub end_point: String,
    #[serde(default = "d_metrics_path")]
    pub path: String,
    #[serde(default = "d_period")]
    pub reporting_period: GoDuration,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            registry_type: d_registry(),
            namespace: String::new(),
            end_point: d_metrics_endpoint(),
            path: d_metrics_path(),
            reporting_period: d_period(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphiteConfig {
    #[serde(default)]
    pub namespace: String,
    #[serde(default = "d_graphite_host")]
    pub host: String,
    #[serde(default = "d_graphite_port")]
    pub port: u64,
    #[serde(default = "d_period")]
    pub reporting_period: GoDuration,
}

impl Default for GraphiteConfig {
    fn default() -> Self {
        GraphiteConfig {
            namespace: String::new(),
            host: d_graphite_host(),
            port: d_graphite_port(),
            reporting_period: d_period(),
        }
    }
}

//! droplet-client's `config.toml` (droplet-inventory §3.2), with the Go client's keys and
//! defaults.

use std::path::Path;

pub use market_daemon::config::{ApiConfig, ConfigError, Endpoint, Libp2pConfig, SignerConfig};
use serde::{Deserialize, Serialize};

fn d_api() -> ApiConfig {
    ApiConfig::new("/ip4/127.0.0.1/tcp/41231/ws")
}
fn d_libp2p() -> Libp2pConfig {
    Libp2pConfig::new(&["/ip4/0.0.0.0/tcp/34123"])
}
fn d_transfers() -> u64 {
    20
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientConfig {
    #[serde(rename = "API", default = "d_api")]
    pub api: ApiConfig,
    #[serde(default = "d_libp2p")]
    pub libp2p: Libp2pConfig,
    #[serde(default)]
    pub node: Endpoint,
    #[serde(default)]
    pub messager: Endpoint,
    #[serde(default)]
    pub signer: SignerConfig,
    #[serde(default = "d_transfers")]
    pub simultaneous_transfers_for_retrieval: u64,
    #[serde(default = "d_transfers")]
    pub simultaneous_transfers_for_storage: u64,
    /// The client's default wallet address (`--addr`).
    #[serde(default)]
    pub default_market_address: String,
    /// droplet-rs: the base URL providers download online deals' CARs from
    /// (`<base>/deal-data/<uuid>`), for when this daemon is reached through a proxy or a
    /// public address. Empty: the API's own address.
    #[serde(rename = "DealDataPublicURL", default)]
    pub deal_data_public_url: String,
    /// Prometheus metrics, as droplet's `[Metrics]` (droplet-rs only: the Go client has none).
    #[serde(default)]
    pub metrics: market_daemon::config::MetricsConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            api: d_api(),
            libp2p: d_libp2p(),
            node: Endpoint::default(),
            messager: Endpoint::default(),
            signer: SignerConfig {
                signer_type: "wallet".into(),
                ..Default::default()
            },
            simultaneous_transfers_for_retrieval: 20,
            simultaneous_transfers_for_storage: 20,
            default_market_address: String::new(),
            deal_data_public_url: String::new(),
            metrics: Default::default(),
        }
    }
}

impl ClientConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        market_daemon::config::load(path)
    }

    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        market_daemon::config::save(self, path)
    }
}

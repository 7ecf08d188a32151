//! droplet's `config.toml`, with the Go droplet's sections, keys and defaults
//! (droplet-inventory §3.1), so a file written by the Go droplet loads unchanged. Keys we do
//! not know are kept out of the way with a warning instead of failing the start.

use std::path::Path;

pub use market_daemon::config::{
    ApiConfig, ConfigError, Endpoint, GraphiteConfig, Libp2pConfig, MetricsConfig, MetricsExporter, PrometheusConfig,
    SignerConfig,
};
use market_types::Address;
use market_types::units::{Fil, GoDuration};
use serde::{Deserialize, Serialize};

mod flags;
mod provider;

pub use flags::{PieceStorageFlag, PieceStorageFlagError};
pub use provider::*;

macro_rules! defaults {
    ($($f:ident: $t:ty = $v:expr;)*) => {
        $(fn $f() -> $t { $v })*
    };
}

defaults! {
    d_transfers: u64 = 20;
    d_api: ApiConfig = ApiConfig::new("/ip4/127.0.0.1/tcp/41235");
    d_libp2p: Libp2pConfig = Libp2pConfig::new(&["/ip4/0.0.0.0/tcp/58418", "/ip6/::/tcp/0"]);
    d_true: bool = true;
    d_seal: GoDuration = GoDuration::from_secs(24 * 3600);
    d_start_delay: GoDuration = GoDuration::from_secs(336 * 3600);
    d_publish_period: GoDuration = GoDuration::from_secs(3600);
    d_filter_timeout: GoDuration = GoDuration::from_secs(30);
    d_max_deals: u64 = 8;
    d_collateral_mult: u64 = 2;
    d_conns: u64 = 100;
    d_conn_life: GoDuration = GoDuration::from_secs(60);
    d_journal: String = "journal".into();
    d_max_index: u64 = 5;
    d_storage_calls: u64 = 100;
    d_strategy: String = "default".into();
    d_cache: u64 = 1024;
    d_chunk: u64 = 16384;
    d_web_host: String = "cid.contact".into();
    d_announce_urls: Vec<String> = vec!["https://cid.contact/ingest/announce".into()];
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    #[serde(default = "d_transfers")]
    pub simultaneous_transfers_for_storage: u64,
    #[serde(default = "d_transfers")]
    pub simultaneous_transfers_for_storage_per_client: u64,
    #[serde(default = "d_transfers")]
    pub simultaneous_transfers_for_retrieval: u64,
    #[serde(rename = "API", default = "d_api")]
    pub api: ApiConfig,
    #[serde(default = "d_libp2p")]
    pub libp2p: Libp2pConfig,
    #[serde(default)]
    pub chain_service: Endpoint,
    #[serde(default)]
    pub node: Endpoint,
    #[serde(default)]
    pub messager: Endpoint,
    #[serde(default)]
    pub auth_node: Endpoint,
    #[serde(default)]
    pub signer: SignerConfig,
    #[serde(default)]
    pub mysql: MysqlConfig,
    #[serde(default)]
    pub piece_storage: PieceStorageConfig,
    #[serde(rename = "DAGStore", default)]
    pub dag_store: DagStoreConfig,
    #[serde(default)]
    pub common_provider: ProviderConfig,
    #[serde(default)]
    pub miners: Vec<MinerConfig>,
    #[serde(default)]
    pub journal: JournalConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MysqlConfig {
    /// Empty: the store is RocksDB under the repo. Otherwise the MySQL/MariaDB or PostgreSQL
    /// database the store is kept in: a Go MySQL DSN (`user:pw@tcp(host:3306)/droplet`) or a
    /// `mysql://` / `postgres://` URL. Several droplets may share it.
    #[serde(default)]
    pub connection_string: String,
    #[serde(default = "d_conns")]
    pub max_open_conn: u64,
    #[serde(default = "d_conns")]
    pub max_idle_conn: u64,
    #[serde(default = "d_conn_life")]
    pub conn_max_life_time: GoDuration,
    #[serde(default)]
    pub debug: bool,
}

impl MysqlConfig {
    /// The SQL store's settings, when a database is configured.
    pub fn store(&self) -> Option<market_daemon::store::sql::SqlConfig> {
        if self.connection_string.trim().is_empty() {
            return None;
        }
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let life = self.conn_max_life_time.0;
        Some(market_daemon::store::sql::SqlConfig {
            connection: self.connection_string.trim().to_string(),
            max_open: clamp(self.max_open_conn),
            max_idle: clamp(self.max_idle_conn),
            max_lifetime: (!life.is_zero()).then_some(life),
            debug: self.debug,
        })
    }
}

impl Default for MysqlConfig {
    fn default() -> Self {
        MysqlConfig {
            connection_string: String::new(),
            max_open_conn: 100,
            max_idle_conn: 100,
            conn_max_life_time: d_conn_life(),
            debug: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PieceStorageConfig {
    #[serde(default)]
    pub fs: Vec<FsStorage>,
    #[serde(rename = "S3", default)]
    pub s3: Vec<S3Storage>,
}

/// `[[PieceStorage.Fs]]`: piece-store's own config type, so what is read is what is built.
pub type FsStorage = piece_store::store::FsStoreConfig;
/// `[[PieceStorage.S3]]`.
pub type S3Storage = piece_store::store::S3StoreConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DagStoreConfig {
    #[serde(default)]
    pub root_dir: String,
    #[serde(default = "d_max_index")]
    pub max_concurrent_index: u64,
    #[serde(default)]
    pub max_concurrent_ready_fetches: u64,
    #[serde(default = "d_storage_calls")]
    pub max_concurrency_storage_calls: u64,
    #[serde(rename = "GCInterval", default)]
    pub gc_interval: GoDuration,
    #[serde(default)]
    pub transient: String,
    #[serde(default)]
    pub index: String,
    #[serde(default)]
    pub use_transient: bool,
    #[serde(rename = "MongoTopIndex", default)]
    pub mongo_top_index: MongoConfig,
}

impl Default for DagStoreConfig {
    fn default() -> Self {
        DagStoreConfig {
            root_dir: String::new(),
            max_concurrent_index: 5,
            max_concurrent_ready_fetches: 0,
            max_concurrency_storage_calls: 100,
            gc_interval: GoDuration::default(),
            transient: String::new(),
            index: String::new(),
            use_transient: false,
            mongo_top_index: MongoConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MongoConfig {
    #[serde(default)]
    pub url: String,
}

/// One `[[Miners]]` entry: the miner, its sophon-auth account, and any provider settings of
/// its own (kept as written; they override `[CommonProvider]` key by key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MinerConfig {
    pub addr: String,
    #[serde(default)]
    pub account: String,
    #[serde(flatten)]
    pub settings: toml::Table,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JournalConfig {
    #[serde(default = "d_journal")]
    pub path: String,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig { path: d_journal() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            simultaneous_transfers_for_storage: 20,
            simultaneous_transfers_for_storage_per_client: 20,
            simultaneous_transfers_for_retrieval: 20,
            api: d_api(),
            libp2p: d_libp2p(),
            chain_service: Endpoint::default(),
            node: Endpoint::default(),
            messager: Endpoint::default(),
            auth_node: Endpoint::default(),
            signer: SignerConfig::default(),
            mysql: MysqlConfig::default(),
            piece_storage: PieceStorageConfig::default(),
            dag_store: DagStoreConfig::default(),
            common_provider: ProviderConfig::default(),
            miners: Vec::new(),
            journal: JournalConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl Config {
    /// Parse a config; returns it and the dotted paths of keys this droplet does not know.
    pub fn parse(text: &str, path: &str) -> Result<(Config, Vec<String>), ConfigError> {
        market_daemon::config::parse(text, path)
    }

    /// Load `path`, logging keys this droplet does not know.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        market_daemon::config::load(path)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        market_daemon::config::save(self, path)
    }

    /// Where `miner` is in `[[Miners]]`.
    fn miner_index(&self, miner: &Address) -> Option<usize> {
        self.miners
            .iter()
            .position(|m| market_types::address::parse(&m.addr).ok().as_ref() == Some(miner))
    }

    /// The provider settings that apply to `miner`: `[CommonProvider]` with the keys the
    /// miner's `[[Miners]]` entry sets over it. `None` (Go's undefined address) or a miner
    /// without an entry gets `[CommonProvider]`. A config that passed [`Config::resolve`]
    /// always merges; otherwise a bad per-miner value falls back to `[CommonProvider]`.
    pub fn provider(&self, miner: Option<&Address>) -> ProviderConfig {
        let Some(i) = miner.and_then(|m| self.miner_index(m)) else {
            return self.common_provider.clone();
        };
        self.merged(&self.miners[i])
            .unwrap_or_else(|_| self.common_provider.clone())
    }

    /// `[CommonProvider]` with `entry`'s own settings over it, key by key; on a bad value,
    /// the key that holds it and why.
    fn merged(&self, entry: &MinerConfig) -> Result<ProviderConfig, (String, String)> {
        if entry.settings.is_empty() {
            return Ok(self.common_provider.clone());
        }
        let over = |settings: &toml::Table| {
            let mut table = provider_table(&self.common_provider);
            merge_tables(&mut table, settings);
            toml::Value::Table(table)
                .try_into::<ProviderConfig>()
                .map_err(|e| e.message().to_string())
        };
        over(&entry.settings).map_err(|reason| {
            // Name the key: the first that does not merge on its own.
            let key = entry
                .settings
                .iter()
                .find(|(k, v)| over(&toml::Table::from_iter([((*k).clone(), (*v).clone())])).is_err())
                .map_or_else(|| "(settings)".to_string(), |(k, _)| k.clone());
            (key, reason)
        })
    }

    /// Keys of parts this droplet does not have yet. One that would put data or money
    /// somewhere else than the operator expects stops the start (`[Mysql] ConnectionString`:
    /// deals would not go to that database); the others come back as warnings saying they have
    /// no effect yet.
    pub fn not_served_yet(&self) -> Result<Vec<String>, ConfigInvalid> {
        if !self.mysql.connection_string.trim().is_empty()
            && let Err(e) = market_daemon::store::sql::dsn::parse(&self.mysql.connection_string)
        {
            return Err(PolicyError {
                section: "[Mysql]".into(),
                key: "ConnectionString".into(),
                reason: e.to_string(),
            });
        }
        let ipni = &self.common_provider.index_provider;
        if ipni.enable {
            let refuse = |section: &str, key: &str, reason: &str| PolicyError {
                section: format!("[CommonProvider.IndexProvider{section}]"),
                key: key.into(),
                reason: reason.into(),
            };
            if !ipni.http_publisher.enabled {
                return Err(refuse(
                    ".HttpPublisher",
                    "Enabled",
                    "this droplet publishes its IPNI chain over HTTP only (ipnisync over libp2p streams is not \
                     supported): set Enabled = true with a Port (and PublicHostname) the indexers can reach",
                ));
            }
            if ipni.http_publisher.port > u64::from(u16::MAX) {
                return Err(refuse(".HttpPublisher", "Port", "is not a TCP port"));
            }
            if !ipni.announce.announce_over_http {
                return Err(refuse(
                    ".Announce",
                    "AnnounceOverHttp",
                    "this droplet announces over HTTP only (gossipsub announcements are not supported): set \
                     AnnounceOverHttp = true; announcements go to DirectAnnounceURLs",
                ));
            }
            if ipni.data_transfer_publisher {
                return Err(refuse(
                    "",
                    "DataTransferPublisher",
                    "the data-transfer (graphsync) publisher is not supported: set it to false (the HTTP \
                     publisher serves the chain)",
                ));
            }
        }
        if let Some((section, key, reason)) = self.metrics.refusal() {
            return Err(PolicyError {
                section: section.into(),
                key: key.into(),
                reason,
            });
        }
        let defaults = Config::default();
        let mut out = Vec::new();
        let mut no_effect = |what: &str, why: &str| out.push(format!("{what} has no effect yet: {why}"));
        let retrieval = "this droplet does not serve HTTP retrievals yet";
        let p = &self.common_provider;
        if p.retrieval_pricing != defaults.common_provider.retrieval_pricing {
            no_effect("[CommonProvider.RetrievalPricing]", retrieval);
        }
        let ipni_defaults = &defaults.common_provider.index_provider;
        if ipni.enable
            && (ipni.entries_cache_capacity != ipni_defaults.entries_cache_capacity || ipni.purge_cache_on_start)
        {
            no_effect(
                "[CommonProvider.IndexProvider] EntriesCacheCapacity and PurgeCacheOnStart",
                "advertised entries are kept in the store, not regenerated into a cache",
            );
        }
        if ipni.enable && ipni.http_publisher.with_libp2p {
            no_effect(
                "[CommonProvider.IndexProvider.HttpPublisher] WithLibp2p",
                "the chain is published over HTTP only",
            );
        }

        if self.dag_store != defaults.dag_store {
            no_effect(
                "[DAGStore]",
                "this droplet keeps its own piece index under the repo (piece-index)",
            );
        }
        Ok(out)
    }

    /// Check every provider setting once and type it; fails on the first bad value, naming
    /// the section and key. Keys under `[[Miners]]` that droplet does not know come back as
    /// warnings (dotted paths), as unknown keys elsewhere do.
    pub fn resolve(&self) -> Result<Resolved, ConfigInvalid> {
        let common = ProviderPolicy::check(self.common_provider.clone(), "[CommonProvider]")?;
        let mut miners = std::collections::HashMap::new();
        let mut unknown = Vec::new();
        for (i, entry) in self.miners.iter().enumerate() {
            let section = format!("[[Miners]] {}", entry.addr);
            let addr = market_types::address::parse(&entry.addr).map_err(|e| PolicyError {
                section: section.clone(),
                key: "Addr".into(),
                reason: format!("{:?} is not an address: {e}", entry.addr),
            })?;
            let settings = self.merged(entry).map_err(|(key, reason)| PolicyError {
                section: section.clone(),
                key,
                reason,
            })?;
            market_daemon::config::unknown_keys(
                &entry.settings,
                &provider_table(&settings),
                &format!("Miners[{i}]"),
                &mut unknown,
            );
            miners.insert(addr, std::sync::Arc::new(ProviderPolicy::check(settings, &section)?));
        }
        Ok(Resolved {
            common: std::sync::Arc::new(common),
            miners,
            unknown,
        })
    }

    /// Change the provider settings of `miner` (the keys that change are written to its
    /// `[[Miners]]` entry) or, for `None`, of `[CommonProvider]`.
    pub fn update_provider(
        &mut self,
        miner: Option<&Address>,
        f: impl FnOnce(&mut ProviderConfig),
    ) -> Result<(), String> {
        let Some(miner) = miner else {
            f(&mut self.common_provider);
            return Ok(());
        };
        let before = self.provider(Some(miner));
        let mut after = before.clone();
        f(&mut after);
        let (before, after) = (provider_table(&before), provider_table(&after));
        let i = self
            .miner_index(miner)
            .ok_or_else(|| format!("miner {miner} is not served by this droplet (see `droplet actor list`)"))?;
        let entry = &mut self.miners[i];
        for (k, v) in after {
            if before.get(&k) != Some(&v) {
                entry.settings.insert(k, v);
            }
        }
        Ok(())
    }
}

fn provider_table(p: &ProviderConfig) -> toml::Table {
    toml::Table::try_from(p).unwrap_or_default()
}

/// Set `over`'s keys into `base`, merging tables key by key (a miner may set one key of
/// `[RetrievalPricing]` and keep the rest).
fn merge_tables(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A config whose provider settings do not check.
pub type ConfigInvalid = PolicyError;

/// The provider settings of `[CommonProvider]` and every `[[Miners]]` entry, checked.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub common: std::sync::Arc<ProviderPolicy>,
    pub miners: std::collections::HashMap<Address, std::sync::Arc<ProviderPolicy>>,
    /// Keys under `[[Miners]]` droplet does not know (`Miners[0].Foo`).
    pub unknown: Vec<String>,
}

impl Resolved {
    /// The policy for `miner` (`[CommonProvider]` for `None` or a miner without an entry).
    pub fn policy(&self, miner: Option<&Address>) -> std::sync::Arc<ProviderPolicy> {
        miner.and_then(|m| self.miners.get(m)).unwrap_or(&self.common).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `config.toml` as the Go droplet writes it on first start (keys and defaults from
    /// droplet-inventory §3.1), with a miner, two piece stores and a key from a newer droplet.
    const GO_CONFIG: &str = r#"
SimultaneousTransfersForStorage = 20
SimultaneousTransfersForStoragePerClient = 20
SimultaneousTransfersForRetrieval = 20

[API]
  ListenAddress = "/ip4/127.0.0.1/tcp/41235"
  RemoteListenAddress = ""
  Secret = "878f9c1f88c6f68ee7be17e5f0848c9312897b5d22ff7d89ca386ed0a583da3c"
  Timeout = "30s"

[Libp2p]
  ListenAddresses = ["/ip4/0.0.0.0/tcp/58418", "/ip6/::/tcp/0"]
  AnnounceAddresses = []
  NoAnnounceAddresses = []
  ProtectedPeers = []
  PrivateKey = "08011240ae5a9a3c"

[ChainService]
  Url = ""
  Token = ""

[Node]
  Url = "/ip4/192.168.200.151/tcp/3455"
  Token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYW1lIjoic2hhcmVkLXRva2VuIiwicGVybSI6ImFkbWluIiwiZXh0IjoiIn0.aARqJ_7FSe1KakkBhWlFvsYm-xBLAXBnl9SvTfqsVe8"

[Messager]
  Url = "/ip4/127.0.0.1/tcp/39812"
  Token = "t"

[AuthNode]
  Url = "http://127.0.0.1:8989"
  Token = "t"

[Signer]
  Type = "wallet"
  Url = "/ip4/127.0.0.1/tcp/5678/http"
  Token = "w"

[Mysql]
  ConnectionString = ""
  MaxOpenConn = 100
  MaxIdleConn = 100
  ConnMaxLifeTime = "1m0s"
  Debug = false

[PieceStorage]
  [[PieceStorage.Fs]]
    Name = "local"
    ReadOnly = false
    Path = "/data/pieces"
  [[PieceStorage.S3]]
    Name = "s3"
    ReadOnly = true
    EndPoint = "http://127.0.0.1:9000"
    Bucket = "pieces"
    SubDir = ""
    AccessKey = "a"
    SecretKey = "s"
    Token = ""

[DAGStore]
  RootDir = "/root/.droplet/dagstore"
  MaxConcurrentIndex = 5
  MaxConcurrentReadyFetches = 0
  MaxConcurrencyStorageCalls = 100
  GCInterval = "1m0s"
  Transient = ""
  Index = ""
  UseTransient = false
  [DAGStore.MongoTopIndex]
    Url = ""

[CommonProvider]
  ConsiderOnlineStorageDeals = true
  ConsiderOfflineStorageDeals = true
  ConsiderOnlineRetrievalDeals = true
  ConsiderOfflineRetrievalDeals = true
  ConsiderVerifiedStorageDeals = true
  ConsiderUnverifiedStorageDeals = true
  PieceCidBlocklist = []
  ExpectedSealDuration = "24h0m0s"
  MaxDealStartDelay = "336h0m0s"
  PublishMsgPeriod = "1h0m0s"
  MaxDealsPerPublishMsg = 8
  MaxProviderCollateralMultiplier = 2
  Filter = ""
  RetrievalFilter = ""
  TransferPath = ""
  MaxPublishDealsFee = "0 FIL"
  MaxMarketBalanceAddFee = "0 FIL"
  RetrievalPaymentAddress = ""
  DealPublishAddress = []
  HTTPRetrievalMultiaddr = ""
  FutureKnob = 7
  [CommonProvider.RetrievalPricing]
    Strategy = "default"
    [CommonProvider.RetrievalPricing.Default]
      VerifiedDealsFreeTransfer = true
    [CommonProvider.RetrievalPricing.External]
      Path = ""
  [CommonProvider.IndexProvider]
    Enable = false
    EntriesCacheCapacity = 1024
    EntriesChunkSize = 16384
    TopicName = ""
    PurgeCacheOnStart = false
    WebHost = "cid.contact"
    DataTransferPublisher = false
    [CommonProvider.IndexProvider.Announce]
      AnnounceOverHttp = false
      DirectAnnounceURLs = ["https://cid.contact/ingest/announce"]
    [CommonProvider.IndexProvider.HttpPublisher]
      Enabled = false
      PublicHostname = ""
      Port = 0
      WithLibp2p = false

[[Miners]]
  Addr = "f01041"
  Account = "sp1"
  MaxDealsPerPublishMsg = 4

[Journal]
  Path = "journal"

[Metrics]
  Enabled = false
  [Metrics.Exporter]
    Type = "prometheus"
    [Metrics.Exporter.Prometheus]
      RegistryType = "define"
      Namespace = ""
      EndPoint = "/ip4/0.0.0.0/tcp/4568"
      Path = "/debug/metrics"
      ReportingPeriod = "10s"
    [Metrics.Exporter.Graphite]
      Namespace = ""
      Host = "127.0.0.1"
      Port = 4568
      ReportingPeriod = "10s"

[Gossip]
  Peers = 3
"#;

    #[test]
    fn a_go_droplet_config_loads_and_unknown_keys_are_reported() {
        let (cfg, unknown) = Config::parse(GO_CONFIG, "config.toml").expect("a Go config loads");
        assert_eq!(
            unknown,
            vec!["CommonProvider.FutureKnob".to_string(), "Gossip".to_string()]
        );
        assert_eq!(
            cfg.api.private_key, "878f9c1f88c6f68ee7be17e5f0848c9312897b5d22ff7d89ca386ed0a583da3c",
            "old name Secret"
        );
        assert_eq!(cfg.node.url, "/ip4/192.168.200.151/tcp/3455");
        assert_eq!(cfg.signer.signer_type, "wallet");
        assert_eq!(cfg.piece_storage.fs[0].path, std::path::PathBuf::from("/data/pieces"));
        assert!(cfg.piece_storage.s3[0].read_only);
        assert_eq!(cfg.dag_store.gc_interval, GoDuration::from_secs(60));
        assert_eq!(
            cfg.common_provider.max_deal_start_delay,
            GoDuration::from_secs(336 * 3600)
        );
        assert_eq!(cfg.common_provider.max_publish_deals_fee, Fil::default());
        assert_eq!(cfg.miners[0].addr, "f01041");
        assert_eq!(cfg.miners[0].account, "sp1");
        assert_eq!(
            cfg.miners[0]
                .settings
                .get("MaxDealsPerPublishMsg")
                .and_then(|v| v.as_integer()),
            Some(4)
        );
        assert_eq!(cfg.metrics.exporter.graphite.port, 4568);
        let (with_http, _) = Config::parse(
            "[CommonProvider]\nHTTPRetrievalMultiaddr = \"/ip4/1.2.3.4/tcp/80/http\"\n",
            "t",
        )
        .expect("parses");
        assert_eq!(
            with_http.common_provider.http_retrieval_multiaddr, "/ip4/1.2.3.4/tcp/80/http",
            "Go's spelling of the key is read"
        );
        // What we write back loads to the same config, with nothing unknown.
        let (again, unknown) = Config::parse(&cfg.to_toml(), "rewritten").expect("round trip");
        assert_eq!(again, cfg);
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    #[test]
    fn provider_settings_are_checked_once_naming_section_and_key() {
        let (cfg, _) = Config::parse(GO_CONFIG, "go").expect("parses");
        let resolved = cfg.resolve().expect("a Go droplet's default settings check");
        let m = Address::new_id(1041);
        assert_eq!(resolved.policy(Some(&m)).settings.max_deals_per_publish_msg, 4);
        assert_eq!(resolved.policy(None).settings.max_deals_per_publish_msg, 8);

        let bad = |text: &str| {
            Config::parse(text, "t")
                .expect("parses")
                .0
                .resolve()
                .expect_err("refused")
        };
        let e = bad("[CommonProvider]\nFilter = \"/bin/deal-filter\"\nFilterTimeout = \"0s\"\n");
        assert_eq!(
            (e.section.as_str(), e.key.as_str()),
            ("[CommonProvider]", "FilterTimeout")
        );
        let (ok, _) = Config::parse("[CommonProvider]\nFilter = \"/bin/deal-filter\"\n", "t").expect("parses");
        let ok = ok.resolve().expect("a storage filter is run");
        assert_eq!(ok.policy(None).settings.filter_timeout, GoDuration::from_secs(30));
        let e = bad("[[Miners]]\nAddr = \"t01000\"\nRetrievalFilter = \"x\"\nFilterTimeout = \"0s\"\n");
        assert_eq!(
            (e.section.as_str(), e.key.as_str()),
            ("[[Miners]] t01000", "FilterTimeout")
        );
        let e = bad("[[Miners]]\nAddr = \"t01000\"\nMaxDealsPerPublishMsg = -1\nConsiderOnlineStorageDeals = true\n");
        assert_eq!(e.key, "MaxDealsPerPublishMsg", "{e}");
        let e = bad("[CommonProvider]\nPieceCidBlocklist = [\"bafy-nope\"]\n");
        assert_eq!(e.key, "PieceCidBlocklist");
        let e = bad("[CommonProvider]\nDealPublishAddress = [\"f0nope\"]\n");
        assert_eq!(e.key, "DealPublishAddress");
        let e = bad("[CommonProvider]\nTransferPath = \"relative/dir\"\n");
        assert_eq!(e.key, "TransferPath");
        let e = bad("[[Miners]]\nAddr = \"nope\"\n");
        assert_eq!(e.key, "Addr");

        // A typo under [[Miners]] is reported like any unknown key; a nested table merges key
        // by key.
        let (cfg, _) = Config::parse(
            "[[Miners]]\nAddr = \"t01000\"\nMaxDealsPerPublishMgs = 3\n[Miners.RetrievalPricing]\nStrategy = \"external\"\n",
            "t",
        )
        .expect("parses");
        let resolved = cfg.resolve().expect("checks");
        assert_eq!(resolved.unknown, vec!["Miners[0].MaxDealsPerPublishMgs".to_string()]);
        let p = resolved.policy(Some(&Address::new_id(1000)));
        assert_eq!(p.settings.retrieval_pricing.strategy, "external");
        assert!(
            p.settings.retrieval_pricing.default.verified_deals_free_transfer,
            "kept from common"
        );
        assert_eq!(p.settings.max_deals_per_publish_msg, 8);
    }

    #[test]
    fn parts_not_served_yet_are_named_and_a_database_elsewhere_stops_the_start() {
        let (cfg, _) = Config::parse(GO_CONFIG, "go").expect("parses");
        let warnings = cfg.not_served_yet().expect("a Go default config starts");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("[DAGStore] has no effect yet"), "{warnings:?}");
        let (cfg, _) = Config::parse(
            "[CommonProvider]\nHTTPRetrievalMultiaddr = \"/ip4/1.2.3.4/tcp/80/http\"\n[CommonProvider.IndexProvider]\nEnable = true\n[CommonProvider.IndexProvider.Announce]\nAnnounceOverHttp = true\n[CommonProvider.IndexProvider.HttpPublisher]\nEnabled = true\nPort = 3104\n[Metrics]\nEnabled = true\n",
            "t",
        )
        .expect("parses");
        let warnings = cfg.not_served_yet().expect("starts");
        // HTTPRetrievalMultiaddr is served (the transports protocol names it), IPNI and metrics.
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(
            !warnings.iter().any(|w| w.contains("HTTPRetrievalMultiaddr")),
            "{warnings:?}"
        );
        let (cfg, _) = Config::parse(
            "[Mysql]\nConnectionString = \"root@tcp(127.0.0.1:3306)/droplet\"\n",
            "t",
        )
        .expect("parses");
        assert!(cfg.not_served_yet().expect("a Go DSN is served").is_empty());
        let (cfg, _) = Config::parse("[Mysql]\nConnectionString = \"root@udp(h:1)/droplet\"\n", "t").expect("parses");
        let e = cfg.not_served_yet().expect_err("refused");
        assert_eq!((e.section.as_str(), e.key.as_str()), ("[Mysql]", "ConnectionString"));
        // Cache knobs of Go's lazily regenerated entries: said to have no effect.
        let (cfg, _) = Config::parse(
            "[CommonProvider.IndexProvider]\nEnable = true\nEntriesCacheCapacity = 5\n[CommonProvider.IndexProvider.Announce]\nAnnounceOverHttp = true\n[CommonProvider.IndexProvider.HttpPublisher]\nEnabled = true\n",
            "t",
        )
        .expect("parses");
        let warnings = cfg.not_served_yet().expect("starts");
        assert!(
            warnings.iter().any(|w| w.contains("EntriesCacheCapacity")),
            "{warnings:?}"
        );
        // IPNI over what this droplet does not speak is refused, naming the key to change.
        for (extra, key) in [
            ("", "Enabled"),
            (
                "[CommonProvider.IndexProvider.HttpPublisher]\nEnabled = true\n",
                "AnnounceOverHttp",
            ),
            (
                "DataTransferPublisher = true\n[CommonProvider.IndexProvider.HttpPublisher]\nEnabled = true\n[CommonProvider.IndexProvider.Announce]\nAnnounceOverHttp = true\n",
                "DataTransferPublisher",
            ),
        ] {
            let text = format!("[CommonProvider.IndexProvider]\nEnable = true\n{extra}");
            let (cfg, _) = Config::parse(&text, "t").expect("parses");
            assert_eq!(cfg.not_served_yet().expect_err("refused").key, key, "{text}");
        }
    }

    #[test]
    fn defaults_are_droplets() {
        let (cfg, unknown) = Config::parse("", "empty").expect("an empty file is all defaults");
        assert!(unknown.is_empty());
        assert_eq!(cfg, Config::default());
        assert_eq!(cfg.api.listen_address, "/ip4/127.0.0.1/tcp/41235");
        assert_eq!(
            cfg.libp2p.listen_addresses,
            vec!["/ip4/0.0.0.0/tcp/58418", "/ip6/::/tcp/0"]
        );
        assert_eq!(cfg.common_provider.publish_msg_period, GoDuration::from_secs(3600));
        assert_eq!(cfg.common_provider.max_deals_per_publish_msg, 8);
        assert!(cfg.common_provider.consider_offline_storage_deals);
        assert!(Config::parse("[API]\nListenAddress = 5", "bad").is_err());
        assert!(Config::parse("[CommonProvider]\nPublishMsgPeriod = \"soon\"", "bad").is_err());
    }

    #[test]
    fn a_miner_s_own_settings_override_the_common_ones_key_by_key_and_changes_stay_per_miner() {
        let text = "[CommonProvider]\nConsiderOfflineStorageDeals = true\nMaxDealsPerPublishMsg = 8\n\n\
                    [[Miners]]\nAddr = \"t01000\"\nAccount = \"a\"\nMaxDealsPerPublishMsg = 2\n\n\
                    [[Miners]]\nAddr = \"t01001\"\n";
        let (mut cfg, unknown) = Config::parse(text, "test").expect("parses");
        assert!(unknown.is_empty(), "{unknown:?}");
        let (a, b) = (Address::new_id(1000), Address::new_id(1001));
        assert_eq!(cfg.provider(Some(&a)).max_deals_per_publish_msg, 2);
        assert!(
            cfg.provider(Some(&a)).consider_offline_storage_deals,
            "the rest follows common"
        );
        assert_eq!(cfg.provider(Some(&b)).max_deals_per_publish_msg, 8);
        assert_eq!(cfg.provider(None).max_deals_per_publish_msg, 8);

        cfg.update_provider(Some(&b), |p| p.consider_offline_storage_deals = false)
            .expect("served miner");
        assert!(!cfg.provider(Some(&b)).consider_offline_storage_deals);
        assert!(
            cfg.provider(Some(&a)).consider_offline_storage_deals,
            "other miners keep theirs"
        );
        assert!(cfg.common_provider.consider_offline_storage_deals);
        let miner_b = &cfg.miners[1].settings;
        assert_eq!(miner_b.len(), 1, "only the changed key is written: {miner_b:?}");

        cfg.update_provider(None, |p| p.max_deals_per_publish_msg = 5)
            .expect("common");
        assert_eq!(cfg.provider(Some(&b)).max_deals_per_publish_msg, 5);
        assert_eq!(cfg.provider(Some(&a)).max_deals_per_publish_msg, 2);
        let err = cfg
            .update_provider(Some(&Address::new_id(9)), |p| p.max_deals_per_publish_msg = 1)
            .expect_err("not served");
        assert!(err.contains("not served"), "{err}");

        // What is saved reads back the same.
        let (again, _) = Config::parse(&cfg.to_toml(), "again").expect("round trip");
        assert!(!again.provider(Some(&b)).consider_offline_storage_deals);
        assert_eq!(again.provider(Some(&a)).max_deals_per_publish_msg, 2);
    }
}

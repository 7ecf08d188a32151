//! Deal policy: `[CommonProvider]` and the same keys on each `[[Miners]]` entry, as written
//! (`ProviderConfig`) and as checked and typed once at load (`ProviderPolicy`).

use super::*;
use market_types::TokenAmount;

/// Deal policy: `[CommonProvider]`, and the same keys inline on each `[[Miners]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProviderConfig {
    #[serde(default = "d_true")]
    pub consider_online_storage_deals: bool,
    #[serde(default = "d_true")]
    pub consider_offline_storage_deals: bool,
    #[serde(default = "d_true")]
    pub consider_online_retrieval_deals: bool,
    #[serde(default = "d_true")]
    pub consider_offline_retrieval_deals: bool,
    #[serde(default = "d_true")]
    pub consider_verified_storage_deals: bool,
    #[serde(default = "d_true")]
    pub consider_unverified_storage_deals: bool,
    #[serde(default)]
    pub piece_cid_blocklist: Vec<String>,
    #[serde(default = "d_seal")]
    pub expected_seal_duration: GoDuration,
    #[serde(default = "d_start_delay")]
    pub max_deal_start_delay: GoDuration,
    #[serde(default = "d_publish_period")]
    pub publish_msg_period: GoDuration,
    #[serde(default = "d_max_deals")]
    pub max_deals_per_publish_msg: u64,
    #[serde(default = "d_collateral_mult")]
    pub max_provider_collateral_multiplier: u64,
    #[serde(default)]
    pub filter: String,
    /// How long `Filter` or `RetrievalFilter` may take before the deal is rejected
    /// (droplet-rs; droplet and boost wait for ever).
    #[serde(default = "d_filter_timeout")]
    pub filter_timeout: GoDuration,
    #[serde(default)]
    pub retrieval_filter: String,
    #[serde(default)]
    pub transfer_path: String,
    #[serde(default)]
    pub max_publish_deals_fee: Fil,
    #[serde(default)]
    pub max_market_balance_add_fee: Fil,
    #[serde(default)]
    pub retrieval_payment_address: String,
    #[serde(default)]
    pub deal_publish_address: Vec<String>,
    /// Go's key is `HTTPRetrievalMultiaddr` (PascalCase would read `HttpRetrievalMultiaddr`).
    #[serde(rename = "HTTPRetrievalMultiaddr", default)]
    pub http_retrieval_multiaddr: String,
    #[serde(default)]
    pub retrieval_pricing: RetrievalPricing,
    #[serde(default)]
    pub index_provider: IndexProviderConfig,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            consider_online_storage_deals: true,
            consider_offline_storage_deals: true,
            consider_online_retrieval_deals: true,
            consider_offline_retrieval_deals: true,
            consider_verified_storage_deals: true,
            consider_unverified_storage_deals: true,
            piece_cid_blocklist: Vec::new(),
            expected_seal_duration: d_seal(),
            max_deal_start_delay: d_start_delay(),
            publish_msg_period: d_publish_period(),
            max_deals_per_publish_msg: d_max_deals(),
            max_provider_collateral_multiplier: d_collateral_mult(),
            filter: String::new(),
            filter_timeout: d_filter_timeout(),
            retrieval_filter: String::new(),
            transfer_path: String::new(),
            max_publish_deals_fee: Fil::default(),
            max_market_balance_add_fee: Fil::default(),
            retrieval_payment_address: String::new(),
            deal_publish_address: Vec::new(),
            http_retrieval_multiaddr: String::new(),
            retrieval_pricing: RetrievalPricing::default(),
            index_provider: IndexProviderConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalPricing {
    #[serde(default = "d_strategy")]
    pub strategy: String,
    #[serde(default)]
    pub default: RetrievalPricingDefault,
    #[serde(default)]
    pub external: RetrievalPricingExternal,
}

impl Default for RetrievalPricing {
    fn default() -> Self {
        RetrievalPricing {
            strategy: d_strategy(),
            default: RetrievalPricingDefault::default(),
            external: RetrievalPricingExternal::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalPricingDefault {
    #[serde(default = "d_true")]
    pub verified_deals_free_transfer: bool,
}

impl Default for RetrievalPricingDefault {
    fn default() -> Self {
        RetrievalPricingDefault {
            verified_deals_free_transfer: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalPricingExternal {
    #[serde(default)]
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexProviderConfig {
    #[serde(default)]
    pub enable: bool,
    #[serde(default = "d_cache")]
    pub entries_cache_capacity: u64,
    #[serde(default = "d_chunk")]
    pub entries_chunk_size: u64,
    #[serde(default)]
    pub purge_cache_on_start: bool,
    #[serde(default)]
    pub topic_name: String,
    #[serde(default = "d_web_host")]
    pub web_host: String,
    #[serde(default)]
    pub data_transfer_publisher: bool,
    #[serde(default)]
    pub announce: AnnounceConfig,
    #[serde(default)]
    pub http_publisher: HttpPublisherConfig,
}

impl Default for IndexProviderConfig {
    fn default() -> Self {
        IndexProviderConfig {
            enable: false,
            entries_cache_capacity: d_cache(),
            entries_chunk_size: d_chunk(),
            purge_cache_on_start: false,
            topic_name: String::new(),
            web_host: d_web_host(),
            data_transfer_publisher: false,
            announce: AnnounceConfig::default(),
            http_publisher: HttpPublisherConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AnnounceConfig {
    #[serde(default)]
    pub announce_over_http: bool,
    #[serde(rename = "DirectAnnounceURLs", default = "d_announce_urls")]
    pub direct_announce_urls: Vec<String>,
}

impl Default for AnnounceConfig {
    fn default() -> Self {
        AnnounceConfig {
            announce_over_http: false,
            direct_announce_urls: d_announce_urls(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpPublisherConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub public_hostname: String,
    #[serde(default)]
    pub port: u64,
    #[serde(default)]
    pub with_libp2p: bool,
    /// The interface the publisher listens on (droplet-rs; Go droplet always uses all of them,
    /// `0.0.0.0`, which is the default).
    #[serde(default = "d_publisher_listen")]
    pub listen_address: String,
}

impl Default for HttpPublisherConfig {
    fn default() -> Self {
        HttpPublisherConfig {
            enabled: false,
            public_hostname: String::new(),
            port: 0,
            with_libp2p: false,
            listen_address: d_publisher_listen(),
        }
    }
}

fn d_publisher_listen() -> String {
    "0.0.0.0".into()
}

/// A provider setting that does not check, named by its section and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{section}: {key}: {reason}")]
pub struct PolicyError {
    /// `[CommonProvider]` or `[[Miners]] <addr>`.
    pub section: String,
    pub key: String,
    pub reason: String,
}

/// A miner's provider settings, checked and typed once (at load and at each change): what the
/// daemon acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderPolicy {
    /// The settings as written (merged over `[CommonProvider]`).
    pub settings: ProviderConfig,
    pub piece_cid_blocklist: Vec<cid::Cid>,
    /// Addresses PublishStorageDeals may be sent from, in the operator's order.
    pub deal_publish_address: Vec<Address>,
    /// Where online deals' data is downloaded to; `None`: `<repo>/transfer`.
    pub transfer_path: Option<std::path::PathBuf>,
    pub retrieval_payment_address: Option<Address>,
    pub http_retrieval_multiaddr: Option<libp2p::Multiaddr>,
}

impl ProviderPolicy {
    /// Check `settings` (of `section`, for messages).
    pub fn check(settings: ProviderConfig, section: &str) -> Result<Self, PolicyError> {
        let err = |key: &str, reason: String| PolicyError {
            section: section.to_string(),
            key: key.to_string(),
            reason,
        };
        let filtered = !settings.filter.trim().is_empty() || !settings.retrieval_filter.trim().is_empty();
        if filtered && settings.filter_timeout.0.is_zero() {
            return Err(err(
                "FilterTimeout",
                "must be more than 0 (how long the deal filter may take)".into(),
            ));
        }
        let piece_cid_blocklist = settings
            .piece_cid_blocklist
            .iter()
            .map(|s| {
                s.parse::<cid::Cid>()
                    .map_err(|e| err("PieceCidBlocklist", format!("{s:?} is not a CID: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let deal_publish_address = settings
            .deal_publish_address
            .iter()
            .map(|s| {
                market_types::address::parse(s)
                    .map_err(|e| err("DealPublishAddress", format!("{s:?} is not an address: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let transfer_path = match settings.transfer_path.trim() {
            "" => None,
            p if std::path::Path::new(p).is_absolute() => Some(std::path::PathBuf::from(p)),
            p => return Err(err("TransferPath", format!("{p:?} is not an absolute path"))),
        };
        let retrieval_payment_address = match settings.retrieval_payment_address.trim() {
            "" => None,
            a => Some(
                market_types::address::parse(a)
                    .map_err(|e| err("RetrievalPaymentAddress", format!("{a:?} is not an address: {e}")))?,
            ),
        };
        let http_retrieval_multiaddr = match settings.http_retrieval_multiaddr.trim() {
            "" => None,
            a => Some(
                a.parse::<libp2p::Multiaddr>()
                    .map_err(|e| err("HTTPRetrievalMultiaddr", format!("{a:?} is not a multiaddr: {e}")))?,
            ),
        };
        if settings.max_deals_per_publish_msg == 0 {
            return Err(err("MaxDealsPerPublishMsg", "must be at least 1".into()));
        }
        Ok(ProviderPolicy {
            settings,
            piece_cid_blocklist,
            deal_publish_address,
            transfer_path,
            retrieval_payment_address,
            http_retrieval_multiaddr,
        })
    }

    /// The acceptance checks' view.
    pub fn deal_policy(&self) -> market_fsm::storage::checks::DealPolicy {
        let s = &self.settings;
        let epochs = |d: &GoDuration| market_types::units::duration_epochs(d.0);
        market_fsm::storage::checks::DealPolicy {
            consider_online: s.consider_online_storage_deals,
            consider_offline: s.consider_offline_storage_deals,
            consider_verified: s.consider_verified_storage_deals,
            consider_unverified: s.consider_unverified_storage_deals,
            piece_cid_blocklist: self.piece_cid_blocklist.clone(),
            expected_seal_epochs: epochs(&s.expected_seal_duration),
            max_start_delay_epochs: epochs(&s.max_deal_start_delay),
        }
    }

    /// The most provider collateral taken for a deal: `MaxProviderCollateralMultiplier` times
    /// the network's minimum (droplet's rule).
    pub fn max_provider_collateral(&self, network_min: &TokenAmount) -> TokenAmount {
        network_min * self.settings.max_provider_collateral_multiplier
    }

    /// `MaxPublishDealsFee` as a send spec's `MaxFee` (`None`: no cap, "0 FIL").
    pub fn max_publish_fee(&self) -> Option<TokenAmount> {
        Some(self.settings.max_publish_deals_fee.0.clone()).filter(|f| !f.is_zero())
    }

    /// `MaxMarketBalanceAddFee` likewise.
    pub fn max_add_balance_fee(&self) -> Option<TokenAmount> {
        Some(self.settings.max_market_balance_add_fee.0.clone()).filter(|f| !f.is_zero())
    }
}

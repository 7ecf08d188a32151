//! The genesis of a devnet: which accounts exist with what balance and datacap, which miners,
//! and a few shortened chain parameters. Written as TOML by a user (or taken from defaults),
//! resolved once into a [`Genesis`] (with the accounts' addresses) that is stored with the
//! chain, so a restart rebuilds exactly the same genesis state.

use market_crypto::{Key, KeyType};
use market_types::units::{parse_fil, parse_size};
use market_types::{Address, BigInt};
use serde::{Deserialize, Serialize};

use crate::state::miner::Miner;
use crate::state::policy::Policy;
use crate::state::{ActorId, State};

/// A genesis as the user writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisConfig {
    /// What `StateNetworkName` answers.
    #[serde(default = "default_network")]
    pub network_name: String,
    #[serde(default)]
    pub accounts: Vec<AccountSpec>,
    #[serde(default)]
    pub miners: Vec<MinerSpec>,
    /// Epochs between cron's visits to a deal (30 days on mainnet).
    #[serde(default)]
    pub deal_updates_interval: Option<i64>,
    /// Epochs between pre-commit and prove-commit (150 on mainnet).
    #[serde(default)]
    pub pre_commit_challenge_delay: Option<i64>,
    /// Epochs between a payment channel's Settle and Collect (1440 on mainnet).
    #[serde(default)]
    pub paych_settle_delay: Option<i64>,
}

/// One funded account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// A name to refer to it by (`wallet export client`).
    pub name: String,
    /// `secp256k1` or `bls`.
    #[serde(default = "default_key_type")]
    pub key_type: String,
    /// Its balance, e.g. `"100000 FIL"`.
    pub balance: String,
    /// Datacap, e.g. `"1 TiB"`: makes it a verified client.
    #[serde(default)]
    pub datacap: Option<String>,
    /// The verified registry's root key.
    #[serde(default)]
    pub verifreg_root: bool,
}

/// One miner, by its owner's and worker's account names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinerSpec {
    pub owner: String,
    pub worker: String,
    #[serde(default = "default_sector_size")]
    pub sector_size: String,
}

fn default_network() -> String {
    "devnet".into()
}
fn default_key_type() -> String {
    "secp256k1".into()
}
fn default_sector_size() -> String {
    "8MiB".into()
}

impl Default for GenesisConfig {
    /// A root key, a client, a verified client with 1 TiB of datacap, and miner t01000 with
    /// 8 MiB sectors.
    fn default() -> Self {
        let acct = |name: &str, key_type: &str, balance: &str| AccountSpec {
            name: name.into(),
            key_type: key_type.into(),
            balance: balance.into(),
            datacap: None,
            verifreg_root: false,
        };
        let mut root = acct("root", "secp256k1", "1000 FIL");
        root.verifreg_root = true;
        let mut verified = acct("verified-client", "secp256k1", "100000 FIL");
        verified.datacap = Some("1 TiB".into());
        GenesisConfig {
            network_name: default_network(),
            accounts: vec![
                root,
                acct("client", "secp256k1", "100000 FIL"),
                verified,
                acct("owner", "secp256k1", "100000 FIL"),
                acct("worker", "bls", "100000 FIL"),
            ],
            miners: vec![MinerSpec {
                owner: "owner".into(),
                worker: "worker".into(),
                sector_size: default_sector_size(),
            }],
            deal_updates_interval: None,
            pre_commit_challenge_delay: None,
            paych_settle_delay: None,
        }
    }
}

/// Why a genesis cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("genesis config: {0}")]
    Config(String),
}

fn bad(msg: impl Into<String>) -> GenesisError {
    GenesisError::Config(msg.into())
}

impl GenesisConfig {
    /// Parse TOML, rejecting unknown keys (a typo should not silently change the chain).
    pub fn from_toml(text: &str) -> Result<Self, GenesisError> {
        let cfg: GenesisConfig = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Everything that can be checked before keys are made.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let mut names = std::collections::HashSet::new();
        for a in &self.accounts {
            if !names.insert(a.name.as_str()) {
                return Err(bad(format!("account name {:?} appears twice", a.name)));
            }
            key_type(&a.key_type)?;
            parse_fil(&a.balance).map_err(|e| bad(format!("account {}: balance: {e}", a.name)))?;
            if let Some(d) = &a.datacap {
                parse_size(d).map_err(|e| bad(format!("account {}: datacap: {e}", a.name)))?;
            }
        }
        if self.accounts.iter().filter(|a| a.verifreg_root).count() > 1 {
            return Err(bad("only one account can be the verified registry's root key"));
        }
        for (i, m) in self.miners.iter().enumerate() {
            for who in [&m.owner, &m.worker] {
                if !names.contains(who.as_str()) {
                    return Err(bad(format!("miner {i}: no account named {who:?}")));
                }
            }
            let size = parse_size(&m.sector_size).map_err(|e| bad(format!("miner {i}: sector size: {e}")))?;
            crate::state::policy::seal_proof_for(size).ok_or_else(|| {
                bad(format!(
                    "miner {i}: sector size {} is not one Filecoin supports (2KiB, 8MiB, 512MiB, 32GiB, 64GiB)",
                    m.sector_size
                ))
            })?;
        }
        Ok(())
    }
}

fn key_type(s: &str) -> Result<KeyType, GenesisError> {
    match s {
        "secp256k1" | "secp" => Ok(KeyType::Secp256k1),
        "bls" => Ok(KeyType::Bls),
        other => Err(bad(format!("key type {other:?}: expected secp256k1 or bls"))),
    }
}

/// A genesis with its accounts' addresses: everything needed to rebuild the genesis state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    pub config: GenesisConfig,
    /// Account name to key address, in config order.
    pub addresses: Vec<(String, String)>,
    /// Unix time of the genesis block.
    pub timestamp: u64,
}

impl Genesis {
    /// Make fresh keys for the config's accounts.
    pub fn create(config: GenesisConfig, timestamp: u64) -> Result<(Genesis, Vec<(String, Key)>), GenesisError> {
        config.validate()?;
        let mut keys = Vec::new();
        for a in &config.accounts {
            keys.push((a.name.clone(), Key::generate(key_type(&a.key_type)?)));
        }
        let addresses = keys.iter().map(|(n, k)| (n.clone(), k.address().to_string())).collect();
        Ok((
            Genesis {
                config,
                addresses,
                timestamp,
            },
            keys,
        ))
    }

    /// The address of a named account.
    pub fn address_of(&self, name: &str) -> Option<Address> {
        self.addresses
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, a)| market_types::address::parse(a).ok())
    }

    /// The genesis state.
    pub fn state(&self) -> Result<State, GenesisError> {
        let cfg = &self.config;
        let defaults = Policy::default();
        let policy = Policy {
            deal_updates_interval: cfg.deal_updates_interval.unwrap_or(defaults.deal_updates_interval),
            pre_commit_challenge_delay: cfg
                .pre_commit_challenge_delay
                .unwrap_or(defaults.pre_commit_challenge_delay),
            paych_settle_delay: cfg.paych_settle_delay.unwrap_or(defaults.paych_settle_delay),
            ..defaults
        };
        let mut st = State::new(&cfg.network_name, policy);
        let first_miner = st.reserve_ids(cfg.miners.len() as u64);
        for a in &cfg.accounts {
            let addr = self
                .address_of(&a.name)
                .ok_or_else(|| bad(format!("no address recorded for account {}", a.name)))?;
            let id = st.ensure_account(&addr).map_err(|e| bad(e.message))?;
            st.mint(id, &parse_fil(&a.balance).map_err(|e| bad(e.0))?);
            if let Some(d) = &a.datacap {
                let bytes = parse_size(d).map_err(|e| bad(e.0))?;
                st.verifreg.datacap.insert(id, BigInt::from(bytes));
            }
            if a.verifreg_root {
                st.verifreg.root_key = Some(id);
            }
        }
        for (i, m) in cfg.miners.iter().enumerate() {
            let id_of = |name: &str| -> Result<ActorId, GenesisError> {
                self.address_of(name)
                    .and_then(|a| st.lookup_id(&a))
                    .ok_or_else(|| bad(format!("miner {i}: no account {name}")))
            };
            let owner = id_of(&m.owner)?;
            let worker = id_of(&m.worker)?;
            let size = parse_size(&m.sector_size).map_err(|e| bad(e.0))?;
            let miner = Miner::new(owner, worker, size).map_err(|e| bad(e.message))?;
            st.create_miner_at(first_miner + i as u64, miner, format!("genesis miner {i}").as_bytes())
                .map_err(|e| bad(e.message))?;
        }
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_genesis_has_miner_t01000_and_a_verified_client() {
        let (g, keys) = Genesis::create(GenesisConfig::default(), 1_700_000_000).expect("genesis");
        assert_eq!(keys.len(), 5);
        let st = g.state().expect("state");
        let (id, m) = st.miners().next().expect("a miner");
        assert_eq!(id, 1000);
        assert_eq!(m.sector_size, 8 << 20);
        let vc = st
            .lookup_id(&g.address_of("verified-client").expect("addr"))
            .expect("id");
        assert_eq!(st.verifreg.datacap_of(vc), BigInt::from(1u64 << 40));
        // Rebuilding gives the same state.
        assert_eq!(g.state().expect("again"), st);
    }

    #[test]
    fn config_mistakes_are_named() {
        let err = |t: &str| GenesisConfig::from_toml(t).expect_err("should fail").to_string();
        assert!(err("colour = 1").contains("unknown field"));
        assert!(err("[[accounts]]\nname='a'\nbalance='x'").contains("balance"));
        assert!(err("[[miners]]\nowner='o'\nworker='w'").contains("no account named"));
        let two = "[[accounts]]\nname='a'\nbalance='1'\n[[accounts]]\nname='a'\nbalance='1'";
        assert!(err(two).contains("twice"));
        let size = "[[accounts]]\nname='a'\nbalance='1'\n[[miners]]\nowner='a'\nworker='a'\nsector_size='1MiB'";
        assert!(err(size).contains("not one Filecoin supports"));
        let ok = GenesisConfig::default().to_toml();
        assert_eq!(
            GenesisConfig::from_toml(&ok).expect("round trip"),
            GenesisConfig::default()
        );
    }
}

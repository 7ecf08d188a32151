//! The miners this droplet serves: `[[Miners]]` in the config. Changes through the API are
//! written back to `config.toml` before they take effect, as the Go droplet does.

use std::path::PathBuf;
use std::sync::Mutex;

use market_types::Address;

use crate::config::{Config, ConfigError, ConfigInvalid, MinerConfig, ProviderPolicy, Resolved};

/// The live config, shared by the parts of the daemon that change it, with its provider
/// settings checked and typed ([`Resolved`]); a change that does not check is refused and
/// nothing is saved.
#[derive(Debug)]
pub struct LiveConfig {
    path: PathBuf,
    cfg: Mutex<(Config, Resolved)>,
}

impl LiveConfig {
    pub fn new(path: PathBuf, cfg: Config) -> Result<Self, ConfigInvalid> {
        let resolved = cfg.resolve()?;
        Ok(LiveConfig {
            path,
            cfg: Mutex::new((cfg, resolved)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Config, Resolved)> {
        self.cfg.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn read<R>(&self, f: impl FnOnce(&Config) -> R) -> R {
        f(&self.lock().0)
    }

    /// The checked provider settings of `miner` (`None`: `[CommonProvider]`).
    pub fn policy(&self, miner: Option<&Address>) -> std::sync::Arc<ProviderPolicy> {
        self.lock().1.policy(miner)
    }

    /// Change the config and save it; on a change that does not check, or a failed save,
    /// nothing changes.
    pub fn update<R>(&self, f: impl FnOnce(&mut Config) -> R) -> Result<R, ConfigError> {
        let mut guard = self.lock();
        let mut next = guard.0.clone();
        let r = f(&mut next);
        let resolved = next.resolve().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        next.save(&self.path)?;
        *guard = (next, resolved);
        Ok(r)
    }
}

/// The served miners.
#[derive(Debug)]
pub struct Miners {
    config: std::sync::Arc<LiveConfig>,
}

fn parse(a: &str) -> Option<Address> {
    market_types::address::parse(a).ok()
}

impl Miners {
    pub fn new(config: std::sync::Arc<LiveConfig>) -> Self {
        Miners { config }
    }

    pub fn list(&self) -> Vec<(Address, String)> {
        self.config.read(|c| {
            c.miners
                .iter()
                .filter_map(|m| parse(&m.addr).map(|a| (a, m.account.clone())))
                .collect()
        })
    }

    pub fn contains(&self, miner: &Address) -> bool {
        self.config
            .read(|c| c.miners.iter().any(|m| parse(&m.addr).as_ref() == Some(miner)))
    }

    /// Add a miner or change its account; true when it was new.
    pub fn upsert(&self, miner: &Address, account: &str) -> Result<bool, ConfigError> {
        self.config.update(|c| {
            if let Some(m) = c.miners.iter_mut().find(|m| parse(&m.addr).as_ref() == Some(miner)) {
                m.account = account.to_string();
                false
            } else {
                c.miners.push(MinerConfig {
                    addr: miner.to_string(),
                    account: account.to_string(),
                    settings: Default::default(),
                });
                true
            }
        })
    }

    /// Remove a miner; false when it was not served.
    pub fn delete(&self, miner: &Address) -> Result<bool, ConfigError> {
        self.config.update(|c| {
            let before = c.miners.len();
            c.miners.retain(|m| parse(&m.addr).as_ref() != Some(miner));
            c.miners.len() != before
        })
    }
}

//! The devnet's wallet: keys in memory, each also written to `<repo>/keystore/<address>` as
//! lotus KeyInfo JSON (mode 0600), with optional names (`client`, `worker`, …) in
//! `<repo>/keystore/names.json`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use market_crypto::{Key, KeyInfo};
use market_types::Address;

/// Why the keystore could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("keystore {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("keystore {path}: {reason}")]
    Bad { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeystoreError + '_ {
    move |source| KeystoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Keys by address, with names.
#[derive(Default)]
pub struct Keystore {
    dir: Option<PathBuf>,
    keys: BTreeMap<Address, Key>,
    names: BTreeMap<String, Address>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("dir", &self.dir)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Keystore {
    /// A keystore that lives only in memory (tests).
    pub fn in_memory() -> Self {
        Keystore::default()
    }

    /// Open (creating) the keystore directory and load every key in it.
    pub fn open(dir: &Path) -> Result<Self, KeystoreError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut ks = Keystore {
            dir: Some(dir.to_path_buf()),
            ..Default::default()
        };
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name == "names.json" || name.starts_with('.') || name.ends_with(".tmp") {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(io(&path))?;
            let bad = |reason: String| KeystoreError::Bad {
                path: path.clone(),
                reason,
            };
            let info = KeyInfo::parse(&text).map_err(|e| bad(e.to_string()))?;
            let key = Key::from_info(&info).map_err(|e| bad(e.to_string()))?;
            ks.keys.insert(key.address(), key);
        }
        let names_path = dir.join("names.json");
        if names_path.exists() {
            let text = fs::read_to_string(&names_path).map_err(io(&names_path))?;
            let names: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| KeystoreError::Bad {
                path: names_path.clone(),
                reason: e.to_string(),
            })?;
            for (n, a) in names {
                if let Ok(addr) = market_types::address::parse(&a) {
                    ks.names.insert(n, addr);
                }
            }
        }
        Ok(ks)
    }

    /// Add a key (and a name for it), writing it to disk first.
    pub fn insert(&mut self, key: Key, name: Option<&str>) -> Result<Address, KeystoreError> {
        let addr = key.address();
        if let Some(dir) = &self.dir {
            let path = dir.join(addr.to_string());
            let json = serde_json::to_string(&key.info()).unwrap_or_default();
            write_private(&path, json.as_bytes())?;
            if let Some(n) = name {
                let mut names: BTreeMap<String, String> =
                    self.names.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
                names.insert(n.to_string(), addr.to_string());
                let p = dir.join("names.json");
                write_private(&p, serde_json::to_string_pretty(&names).unwrap_or_default().as_bytes())?;
            }
        }
        if let Some(n) = name {
            self.names.insert(n.to_string(), addr);
        }
        self.keys.insert(addr, key);
        Ok(addr)
    }

    /// The key of a key address.
    pub fn get(&self, addr: &Address) -> Option<&Key> {
        self.keys.get(addr)
    }

    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.keys.keys()
    }

    /// The name given to an address, if any.
    pub fn name_of(&self, addr: &Address) -> Option<&str> {
        self.names.iter().find(|(_, a)| *a == addr).map(|(n, _)| n.as_str())
    }

    /// An address by name or by its own string.
    pub fn resolve(&self, name_or_addr: &str) -> Option<Address> {
        self.names
            .get(name_or_addr)
            .copied()
            .or_else(|| market_types::address::parse(name_or_addr).ok())
    }
}

/// Write a file readable only by its owner, atomically (temp file, then rename).
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), KeystoreError> {
    market_proto::files::write_private(path, data).map_err(io(path))
}

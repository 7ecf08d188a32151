//! The repo directory (`~/.droplet`): `config.toml`, `api` (the API's multiaddr), `token`
//! (the local admin token) and `db/` (the store). Secrets the Go droplet generates on first
//! start (the API's HS256 key, the libp2p key) are generated here too and kept in the config.

use std::path::{Path, PathBuf};

use libp2p::identity::Keypair;
use market_proto::jwt::{self, JwtPayload, Perm};

use crate::config::{ApiConfig, ConfigError, Libp2pConfig};

/// The name in the daemons' local admin token.
pub const LOCAL_TOKEN_NAME: &str = "defaultLocalToken";

/// Why the repo could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{what} in {path} is not valid: {reason}")]
    BadSecret {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("{path} does not exist: start the daemon first (`{bin} run`) or pass the right --repo")]
    NotInitialised { path: String, bin: &'static str },
}

/// Expand a leading `~/`.
pub fn expand_home(s: &str) -> PathBuf {
    if let Some(rest) = s.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(s)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RepoError + '_ {
    move |source| RepoError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A repo's paths.
#[derive(Debug, Clone)]
pub struct Repo {
    pub root: PathBuf,
}

impl Repo {
    pub fn new(root: PathBuf) -> Self {
        Repo { root }
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn api_path(&self) -> PathBuf {
        self.root.join("api")
    }
    pub fn token_path(&self) -> PathBuf {
        self.root.join("token")
    }
    pub fn db_path(&self) -> PathBuf {
        self.root.join("db")
    }

    /// Create the repo directory.
    pub fn create(&self) -> Result<(), RepoError> {
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))
    }

    /// Generate the secrets a first start needs (API key, libp2p key); true when any was made.
    pub fn generate_secrets(&self, api: &mut ApiConfig, p2p: &mut Libp2pConfig) -> Result<bool, RepoError> {
        let mut changed = false;
        if api.private_key.is_empty() {
            api.private_key = hex::encode(jwt::new_secret());
            changed = true;
        }
        if p2p.private_key.is_empty() {
            let key = Keypair::generate_ed25519();
            let bytes = key.to_protobuf_encoding().map_err(|e| RepoError::BadSecret {
                what: "Libp2p.PrivateKey",
                path: self.config_path().display().to_string(),
                reason: e.to_string(),
            })?;
            p2p.private_key = hex::encode(bytes);
            changed = true;
        }
        Ok(changed)
    }

    /// The API secret from the config.
    pub fn api_secret(&self, api: &ApiConfig) -> Result<Vec<u8>, RepoError> {
        hex::decode(api.private_key.trim()).map_err(|e| RepoError::BadSecret {
            what: "API.PrivateKey",
            path: self.config_path().display().to_string(),
            reason: e.to_string(),
        })
    }

    /// The libp2p key from the config.
    pub fn libp2p_key(&self, p2p: &Libp2pConfig) -> Result<Keypair, RepoError> {
        let bad = |reason: String| RepoError::BadSecret {
            what: "Libp2p.PrivateKey",
            path: self.config_path().display().to_string(),
            reason,
        };
        let raw = hex::decode(p2p.private_key.trim()).map_err(|e| bad(e.to_string()))?;
        Keypair::from_protobuf_encoding(&raw).map_err(|e| bad(e.to_string()))
    }

    /// Write the `api` and `token` files once the API is listening.
    pub fn write_api_files(&self, multiaddr: &str, secret: &[u8]) -> Result<(), RepoError> {
        let token = jwt::sign(secret, &JwtPayload::new(LOCAL_TOKEN_NAME, Perm::Admin));
        write_private(&self.token_path(), token.as_bytes())?;
        write_private(&self.api_path(), multiaddr.as_bytes())
    }

    /// The daemon's API info (`TOKEN:MULTIADDR`) for the admin CLI.
    pub fn api_info(&self, bin: &'static str) -> Result<market_proto::api_info::ApiInfo, RepoError> {
        let api = self.api_path();
        let addr = std::fs::read_to_string(&api).map_err(|_| RepoError::NotInitialised {
            path: api.display().to_string(),
            bin,
        })?;
        let token = std::fs::read_to_string(self.token_path()).map_err(io(&self.token_path()))?;
        Ok(market_proto::api_info::ApiInfo {
            token: token.trim().to_string(),
            addr: addr.trim().to_string(),
        })
    }
}

/// Write a file only its owner can read, atomically.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), RepoError> {
    market_proto::files::write_private(path, data).map_err(io(path))
}

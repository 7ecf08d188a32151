//! UnixFS import compatible with the Go droplet-client and `lotus client import`: CIDv1, raw
//! leaves, 1 MiB chunks, a balanced layout of 1024 links per node, blocks of at most 126 bytes
//! inlined as identity CIDs, and blake2b-256 unless asked otherwise. Directories become UnixFS
//! directories, sharded (HAMT) once they grow past go-unixfs's threshold.
//!
//! Import does not copy file data: leaves are recorded as ranges of the source files (as Go's
//! filestore does), so a [`Dag`] costs memory only for its inner nodes.

mod dag;
pub mod export;
mod hamt;
mod import;
mod listed;
pub mod pb;

use std::str::FromStr;

use cid::multihash::Multihash;
use multihash_codetable::{Code, MultihashDigest};

pub use self::dag::{BlockRef, Dag};
pub use self::import::{ImportError, Importer};
pub use self::listed::{ListedDir, ListedEntry, ListedFile};

/// A block CID. Identity CIDs inline up to 126 bytes of data, more than [`cid::Cid`]'s
/// 64-byte digest holds, so blocks use a wider CID.
pub type BlockCid = cid::CidGeneric<128>;

pub const DAG_PB: u64 = 0x70;
pub const RAW: u64 = 0x55;
pub const IDENTITY: u64 = 0x00;

/// The hash function for block CIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashFunction {
    /// blake2b-256, what the Go droplet-client and lotus use.
    #[default]
    Blake2b256,
    /// sha2-256, what IPFS tools use.
    Sha2_256,
}

impl FromStr for HashFunction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "blake2b-256" | "blake2b256" => Ok(HashFunction::Blake2b256),
            "sha2-256" | "sha256" => Ok(HashFunction::Sha2_256),
            other => Err(format!("unknown hash function {other:?}: use blake2b-256 or sha2-256")),
        }
    }
}

impl HashFunction {
    fn code(self) -> Code {
        match self {
            HashFunction::Blake2b256 => Code::Blake2b256,
            HashFunction::Sha2_256 => Code::Sha2_256,
        }
    }
}

/// Import settings. [`ImportOptions::default`] gives the Go client's.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    pub hash: HashFunction,
    /// Leaf size in bytes (Go: `UnixfsChunkSize`, 1 MiB).
    pub chunk_size: usize,
    /// Links per file node (Go: `UnixfsLinksPerLevel`, 1024).
    pub max_links: usize,
    /// Blocks of at most this many bytes get identity CIDs (Go: 126).
    pub inline_limit: usize,
    /// A directory whose estimated size (names plus CID bytes) exceeds this becomes a HAMT
    /// (`HAMTShardingSize`, 256 KiB; over, not at, as boxo and the JS importer decide).
    pub shard_threshold: usize,
    /// Leaves as raw blocks (lotus, the Go client). Off, each leaf is a dag-pb node with
    /// UnixFS data, the first of a file typed File and the rest Raw, as go-unixfs's balanced
    /// layout writes them without raw leaves (go-graphsplit).
    pub raw_leaves: bool,
    /// dag-pb nodes get CIDv0 (`Qm…`; go-graphsplit v0.5.0). Needs sha2-256.
    pub cid_v0: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            hash: HashFunction::Blake2b256,
            chunk_size: 1 << 20,
            max_links: 1024,
            inline_limit: 126,
            shard_threshold: 256 << 10,
            raw_leaves: true,
            cid_v0: false,
        }
    }
}

impl ImportOptions {
    /// The CID of a block of `codec` holding `data`: identity when small enough (never when
    /// `inline_limit` is 0).
    pub fn cid_for(&self, codec: u64, data: &[u8]) -> BlockCid {
        let mh = if self.inline_limit > 0 && data.len() <= self.inline_limit {
            Multihash::<128>::wrap(IDENTITY, data).expect("at most 126 bytes")
        } else {
            let d = self.hash.code().digest(data);
            Multihash::<128>::wrap(d.code(), d.digest()).expect("32-byte digest")
        };
        if self.cid_v0 && codec == DAG_PB && mh.code() == 0x12 {
            return BlockCid::new_v0(mh).expect("a sha2-256 multihash");
        }
        BlockCid::new_v1(codec, mh)
    }
}

/// Checks that `data` hashes to `cid`'s multihash. `Err` names a hash function we cannot check.
pub fn verify_block(cid: &BlockCid, data: &[u8]) -> Result<bool, String> {
    let mh = cid.hash();
    if mh.code() == IDENTITY {
        return Ok(mh.digest() == data);
    }
    let code = Code::try_from(mh.code()).map_err(|_| format!("multihash code {:#x}", mh.code()))?;
    let d = code.digest(data);
    Ok(d.digest() == mh.digest())
}

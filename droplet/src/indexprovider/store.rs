//! The advertisement chains in droplet's store: blocks (advertisements and entry chunks) by
//! CID, each provider's head, what each context ID was last advertised with, and which
//! contexts share an entries chain (two deals of one piece do), so a removal deletes chunks
//! only when nothing else links to them. Every change to a chain is one write.

use std::sync::Arc;

use cid::Cid;
use serde::{Deserialize, Serialize};

use crate::store::{Batch, Store, StoreError, Table};

const BLOCKS: Table = Table("ipni-block/");
const HEADS: Table = Table("ipni-head/");
/// `<peer>/<hex context ID>` → [`Context`].
const CONTEXTS: Table = Table("ipni-ctx/");
/// entries CID → [`Entries`].
const ENTRIES: Table = Table("ipni-entries/");
/// `<entries CID>/<peer>/<hex context ID>` → nothing.
const REFS: Table = Table("ipni-ref/");
/// peer → [`Transports`] last advertised provider-wide.
const TRANSPORTS: Table = Table("ipni-transports/");
/// `<peer>/<hex context ID>` → nothing: withdrawn by the operator, so not advertised again
/// until the operator asks.
const WITHDRAWN: Table = Table("ipni-withdrawn/");

/// What a context ID was last advertised with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Context {
    pub entries: String,
    /// Hex.
    pub metadata: String,
    /// The deal's UUID.
    pub deal: String,
}

/// An entries chain: its chunks' CIDs (to delete them) and its multihash count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entries {
    pub chunks: Vec<String>,
    pub count: u64,
}

/// The provider's other transports, as last advertised: `(addresses, hex metadata)` each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Transports {
    pub providers: Vec<(Vec<String>, String)>,
}

/// The chains, over the daemon's store.
#[derive(Debug, Clone)]
pub struct ChainStore {
    store: Arc<Store>,
}

fn ctx_key(peer: &str, context_id: &[u8]) -> String {
    format!("{peer}/{}", hex::encode(context_id))
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    }
}

/// One change to a chain, written at once by [`ChainStore::commit`].
#[derive(Debug, Default)]
pub struct Change {
    batch: Batch,
}

impl Change {
    pub fn block(&mut self, cid: &Cid, bytes: &[u8]) {
        self.batch.put_raw(BLOCKS, &cid.to_string(), bytes);
    }

    pub fn head(&mut self, peer: &str, head: &Cid) {
        self.batch.put_raw(HEADS, peer, head.to_string().as_bytes());
    }

    pub fn entries(&mut self, entries: &Cid, e: &Entries) {
        self.batch.put_json(ENTRIES, &entries.to_string(), e);
    }

    pub fn advertised(&mut self, peer: &str, context_id: &[u8], c: &Context) {
        let key = ctx_key(peer, context_id);
        self.batch.put_raw(REFS, &format!("{}/{key}", c.entries), b"");
        self.batch.put_json(CONTEXTS, &key, c);
    }

    /// The context is removed; with `drop_chunks`, its entries chain goes too.
    pub fn removed(&mut self, peer: &str, context_id: &[u8], c: &Context, drop_chunks: Option<&Entries>) {
        let key = ctx_key(peer, context_id);
        self.batch.delete(REFS, &format!("{}/{key}", c.entries));
        self.batch.delete(CONTEXTS, &key);
        if let Some(e) = drop_chunks {
            for chunk in &e.chunks {
                self.batch.delete(BLOCKS, chunk);
            }
            self.batch.delete(ENTRIES, &c.entries);
        }
    }

    /// Marks (or clears) a context as withdrawn by the operator.
    pub fn withdrawn(&mut self, peer: &str, context_id: &[u8], yes: bool) {
        let key = ctx_key(peer, context_id);
        if yes {
            self.batch.put_raw(WITHDRAWN, &key, b"");
        } else {
            self.batch.delete(WITHDRAWN, &key);
        }
    }

    pub fn transports(&mut self, peer: &str, t: &Transports) {
        self.batch.put_json(TRANSPORTS, peer, t);
    }
}

impl ChainStore {
    pub fn new(store: Arc<Store>) -> Self {
        ChainStore { store }
    }

    /// Writes a change durably.
    pub fn commit(&self, change: Change) -> Result<(), StoreError> {
        self.store.write(change.batch, true)
    }

    pub fn block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get_raw(BLOCKS, &cid.to_string())
    }

    pub fn head(&self, peer: &str) -> Result<Option<Cid>, StoreError> {
        match self.store.get_raw(HEADS, peer)? {
            None => Ok(None),
            Some(raw) => {
                let text = String::from_utf8_lossy(&raw).to_string();
                text.parse().map(Some).map_err(|e| corrupt(peer, e))
            }
        }
    }

    pub fn context(&self, peer: &str, context_id: &[u8]) -> Result<Option<Context>, StoreError> {
        self.store.get_json(CONTEXTS, &ctx_key(peer, context_id))
    }

    /// Every advertised context of `peer`: (context ID, what it was advertised with).
    pub fn contexts(&self, peer: &str) -> Result<Vec<(Vec<u8>, Context)>, StoreError> {
        let prefix = format!("{peer}/");
        let mut out = Vec::new();
        for (key, raw) in self.store.scan_raw(CONTEXTS, &prefix)? {
            let hex_id = key.rsplit('/').next().unwrap_or_default();
            let id = hex::decode(hex_id).map_err(|e| corrupt(&key, e))?;
            let c: Context = serde_json::from_slice(&raw).map_err(|e| corrupt(&key, e))?;
            out.push((id, c));
        }
        Ok(out)
    }

    pub fn entries(&self, entries: &str) -> Result<Option<Entries>, StoreError> {
        self.store.get_json(ENTRIES, entries)
    }

    /// How many contexts link to an entries chain.
    pub fn refs(&self, entries: &str) -> Result<usize, StoreError> {
        Ok(self.store.scan_raw(REFS, &format!("{entries}/"))?.len())
    }

    pub fn is_withdrawn(&self, peer: &str, context_id: &[u8]) -> Result<bool, StoreError> {
        Ok(self.store.get_raw(WITHDRAWN, &ctx_key(peer, context_id))?.is_some())
    }

    pub fn transports(&self, peer: &str) -> Result<Option<Transports>, StoreError> {
        self.store.get_json(TRANSPORTS, peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(entries: &Cid, deal: &str) -> Context {
        Context {
            entries: entries.to_string(),
            metadata: "00".into(),
            deal: deal.into(),
        }
    }

    #[test]
    fn contexts_sharing_an_entries_chain_keep_it_until_the_last_goes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let chains = ChainStore::new(Arc::new(Store::open(&dir.path().join("db")).expect("store")));
        let entries = ipni::block_cid(b"chunk");
        let e = Entries {
            chunks: vec![entries.to_string()],
            count: 1,
        };
        let mut c = Change::default();
        c.block(&entries, b"chunk");
        c.entries(&entries, &e);
        c.advertised("p", b"one", &ctx(&entries, "d1"));
        c.advertised("p", b"two", &ctx(&entries, "d2"));
        c.advertised("q", b"one", &ctx(&entries, "d3"));
        chains.commit(c).expect("commit");
        assert_eq!(chains.refs(&entries.to_string()).expect("refs"), 3);
        let listed: Vec<Vec<u8>> = chains
            .contexts("p")
            .expect("list")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            listed,
            vec![b"one".to_vec(), b"two".to_vec()],
            "only p's, by context ID"
        );

        // Not the last: the chunks stay.
        let mut c = Change::default();
        c.removed("p", b"one", &ctx(&entries, "d1"), None);
        c.withdrawn("p", b"one", true);
        chains.commit(c).expect("commit");
        assert!(chains.context("p", b"one").expect("get").is_none());
        assert!(chains.is_withdrawn("p", b"one").expect("get"));
        assert_eq!(chains.refs(&entries.to_string()).expect("refs"), 2);
        assert!(chains.block(&entries).expect("get").is_some());
        // The last: the chunks and their record go.
        let mut c = Change::default();
        c.removed("p", b"two", &ctx(&entries, "d2"), None);
        c.removed("q", b"one", &ctx(&entries, "d3"), Some(&e));
        chains.commit(c).expect("commit");
        assert_eq!(chains.refs(&entries.to_string()).expect("refs"), 0);
        assert!(chains.block(&entries).expect("get").is_none());
        assert!(chains.entries(&entries.to_string()).expect("get").is_none());
        let mut c = Change::default();
        c.withdrawn("p", b"one", false);
        chains.commit(c).expect("commit");
        assert!(!chains.is_withdrawn("p", b"one").expect("get"));
    }
}

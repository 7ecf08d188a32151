//! Where a responder reads blocks and a requester writes them.

use std::collections::HashMap;
use std::io;
use std::sync::RwLock;

use crate::Cid;
use bytes::Bytes;

/// Blocks a responder serves. Called from blocking threads: an implementation may read files.
pub trait BlockSource: Send + Sync + 'static {
    /// The block named `cid`, or `None` when this source does not have it.
    fn get(&self, cid: &Cid) -> io::Result<Option<Bytes>>;
}

/// The block `cid` names: an identity CID's digest (an inlined block, which no store holds),
/// else `source`'s. What a walk's loads go through.
pub fn load(source: &dyn BlockSource, cid: &Cid) -> io::Result<Option<Bytes>> {
    if cid.hash().code() == crate::ipld::IDENTITY {
        return Ok(Some(Bytes::copy_from_slice(cid.hash().digest())));
    }
    source.get(cid)
}

/// Where a requester puts verified blocks. `get` finds a block received before (a duplicate
/// the responder did not send again, or one skipped on a restart).
pub trait BlockSink: Send + Sync + 'static {
    fn put(&self, cid: Cid, data: Bytes) -> io::Result<()>;
    fn get(&self, cid: &Cid) -> io::Result<Option<Bytes>>;

    /// Each link load of the selector walk, in walk order, once verified: `index` is its
    /// place in the walk (0 for the root), `data` the block (received now, after `put`, or
    /// read back with `get`), `None` when the responder does not have it. A restarted request
    /// walks again from the root, so an index may come twice. A sink that writes a file as
    /// the blocks arrive uses it; an error fails the request.
    fn walked(&self, index: u64, link: &Cid, data: Option<&Bytes>) -> io::Result<()> {
        let _ = (index, link, data);
        Ok(())
    }
}

/// Blocks in memory: a source and a sink.
#[derive(Debug, Default)]
pub struct MemoryStore {
    blocks: RwLock<HashMap<Cid, Bytes>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    pub fn from_blocks(blocks: HashMap<Cid, Bytes>) -> Self {
        MemoryStore {
            blocks: RwLock::new(blocks),
        }
    }

    pub fn len(&self) -> usize {
        self.blocks.read().map_or(0, |b| b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of every block held.
    pub fn snapshot(&self) -> HashMap<Cid, Bytes> {
        self.blocks.read().map(|b| b.clone()).unwrap_or_default()
    }
}

fn poisoned() -> io::Error {
    io::Error::other("block store lock poisoned")
}

impl BlockSource for MemoryStore {
    fn get(&self, cid: &Cid) -> io::Result<Option<Bytes>> {
        Ok(self.blocks.read().map_err(|_| poisoned())?.get(cid).cloned())
    }
}

impl BlockSink for MemoryStore {
    fn put(&self, cid: Cid, data: Bytes) -> io::Result<()> {
        self.blocks.write().map_err(|_| poisoned())?.insert(cid, data);
        Ok(())
    }

    fn get(&self, cid: &Cid) -> io::Result<Option<Bytes>> {
        BlockSource::get(self, cid)
    }
}

//! The responder's decisions without IO: which blocks go out (dedup per peer, do-not-send-cids,
//! do-not-send-first-blocks), how they are batched into messages, and which status each
//! message carries, as go-graphsync's `responseassembler` and `messagequeue` decide them.

use std::collections::{HashMap, HashSet};

use crate::Cid;
use bytes::Bytes;
use market_types::cbor::{Decoder, Encode, Encoder};
use market_types::ipld::RawCbor;

use crate::ipld::cid_prefix;
use crate::message::{Block, Extensions, LinkAction, Message, MetadataEntry, RequestId, Response, ResponseStatus};

/// go-graphsync's `messagequeue` block budget per message: blocks are added until the next
/// one would take the message past it (a larger block goes alone).
pub const MAX_BLOCK_BYTES_PER_MESSAGE: usize = 512 << 10;

/// Extension names graphsync itself reads.
pub mod ext {
    pub const DO_NOT_SEND_CIDS: &str = "graphsync/do-not-send-cids";
    pub const DO_NOT_SEND_FIRST_BLOCKS: &str = "graphsync/do-not-send-first-blocks";
    pub const DEDUP_BY_KEY: &str = "graphsync/dedup-by-key";
}

/// The links one peer's in-flight requests have sent, so a block goes to a peer once while
/// any request that sent it is still running (go-graphsync's `peerLinkTracker`).
#[derive(Debug, Default)]
pub struct PeerLinks {
    buckets: HashMap<String, LinkCounts>,
    requests: HashMap<RequestId, Tracked>,
}

#[derive(Debug, Default)]
struct LinkCounts {
    refs: HashMap<Cid, u32>,
}

#[derive(Debug, Default)]
struct Tracked {
    bucket: String,
    traversed: Vec<Cid>,
    missing: bool,
    loads: u64,
    skip_first: u64,
    /// Links the requester holds (the first `skip_first` loads), while those are walked.
    held: HashSet<Cid>,
}

/// What became of one link load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Load {
    /// Its block goes to the requester.
    pub send: bool,
    /// Its block would have gone, but the requester holds it from an earlier attempt.
    pub held: bool,
}

impl PeerLinks {
    /// Start tracking a request, with what its extensions ask (do-not-send-cids counts as
    /// already sent; the first `skip_first` loads are not sent; a dedup key picks a bucket).
    pub fn start(&mut self, id: RequestId, options: &SendOptions) {
        let tracked = Tracked {
            bucket: options.dedup_key.clone().unwrap_or_default(),
            skip_first: options.skip_first,
            ..Tracked::default()
        };
        self.requests.insert(id, tracked);
        for link in &options.do_not_send {
            self.record(id, *link, true);
        }
        if let Some(t) = self.requests.get_mut(&id) {
            // The do-not-send links were recorded as traversals but are not loads.
            t.loads = 0;
        }
    }

    /// Record one link load of request `id`; true when its block is to be sent.
    pub fn record(&mut self, id: RequestId, link: Cid, has_block: bool) -> bool {
        self.record_load(id, link, has_block).send
    }

    /// Record one link load of request `id`: whether its block is sent, or would have been
    /// had the requester not said it holds it (`graphsync/do-not-send-first-blocks`).
    pub fn record_load(&mut self, id: RequestId, link: Cid, has_block: bool) -> Load {
        let Some(t) = self.requests.get_mut(&id) else {
            return Load::default();
        };
        t.loads += 1;
        let not_skipped = t.skip_first < t.loads;
        // Held once per link of this request, whatever other requests of the peer hold.
        let held = has_block && !not_skipped && t.held.insert(link);
        if not_skipped && !t.held.is_empty() {
            t.held = HashSet::new();
        }
        let counts = self.buckets.entry(t.bucket.clone()).or_default();
        let refs = counts.refs.entry(link).or_insert(0);
        let unique = *refs == 0;
        if has_block {
            *refs += 1;
            t.traversed.push(link);
        } else {
            if *refs == 0 {
                counts.refs.remove(&link);
            }
            t.missing = true;
        }
        Load {
            send: has_block && not_skipped && unique,
            held,
        }
    }

    /// Stop tracking a request; true when no block was missing (status 20 rather than 21).
    pub fn finish(&mut self, id: RequestId) -> bool {
        let Some(t) = self.requests.remove(&id) else {
            return true;
        };
        if let Some(counts) = self.buckets.get_mut(&t.bucket) {
            for link in &t.traversed {
                if let Some(r) = counts.refs.get_mut(link) {
                    *r -= 1;
                    if *r == 0 {
                        counts.refs.remove(link);
                    }
                }
            }
            if counts.refs.is_empty() {
                self.buckets.remove(&t.bucket);
            }
        }
        !t.missing
    }

    /// Requests being tracked.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

/// What a request's graphsync extensions ask of the responder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    pub do_not_send: Vec<Cid>,
    pub skip_first: u64,
    pub dedup_key: Option<String>,
}

/// Upper bound on do-not-send-cids entries read (each is a CID; a frame is 4 MiB).
const MAX_DO_NOT_SEND: u64 = 1 << 20;

impl SendOptions {
    /// Read the graphsync extensions of a request; a malformed one is an error (Go fails the
    /// request with status 32 then).
    pub fn from_extensions(extensions: &Extensions) -> Result<SendOptions, String> {
        let mut out = SendOptions::default();
        if let Some(Some(v)) = extensions.get(ext::DO_NOT_SEND_CIDS) {
            let mut d = Decoder::new(v.as_bytes());
            let n = d
                .array(MAX_DO_NOT_SEND)
                .map_err(|e| format!("{}: {e}", ext::DO_NOT_SEND_CIDS))?;
            let mut seen = HashSet::new();
            for _ in 0..n {
                let c = d.cid_sized().map_err(|e| format!("{}: {e}", ext::DO_NOT_SEND_CIDS))?;
                if seen.insert(c) {
                    out.do_not_send.push(c);
                }
            }
        }
        if let Some(Some(v)) = extensions.get(ext::DO_NOT_SEND_FIRST_BLOCKS) {
            let n: i64 = Decoder::new(v.as_bytes())
                .i64()
                .map_err(|e| format!("{}: {e}", ext::DO_NOT_SEND_FIRST_BLOCKS))?;
            out.skip_first = u64::try_from(n).unwrap_or(0);
        }
        if let Some(Some(v)) = extensions.get(ext::DEDUP_BY_KEY) {
            let key = Decoder::new(v.as_bytes())
                .text(1024)
                .map_err(|e| format!("{}: {e}", ext::DEDUP_BY_KEY))?;
            out.dedup_key = Some(key.to_owned());
        }
        Ok(out)
    }
}

/// The `graphsync/do-not-send-first-blocks` value for `n` blocks.
pub fn do_not_send_first_blocks(n: u64) -> RawCbor {
    RawCbor::from_value(&(n as i64))
}

/// The `graphsync/do-not-send-cids` value for `links`.
pub fn do_not_send_cids(links: &[Cid]) -> RawCbor {
    let mut e = Encoder::new();
    e.array(links.len());
    for c in links {
        e.cid(c);
    }
    RawCbor::from_bytes(&e.into_bytes()).expect("one array")
}

/// Builds one request's responses into messages: metadata per link load, blocks up to
/// [`MAX_BLOCK_BYTES_PER_MESSAGE`] per message, extensions, and the status: 14 while the
/// response goes on, 15 on a pause, the final status at the end.
#[derive(Debug)]
pub struct Assembly {
    id: RequestId,
    metadata: Vec<MetadataEntry>,
    blocks: Vec<Block>,
    block_bytes: usize,
    extensions: Extensions,
    ready: Vec<Message>,
}

impl Assembly {
    pub fn new(id: RequestId) -> Self {
        Assembly {
            id,
            metadata: Vec::new(),
            blocks: Vec::new(),
            block_bytes: 0,
            extensions: Extensions::new(),
            ready: Vec::new(),
        }
    }

    /// One link load: `data` is the block (`None` when missing), `send` whether its bytes go.
    pub fn link(&mut self, link: Cid, data: Option<&Bytes>, send: bool) {
        let size = if send { data.map_or(0, Bytes::len) } else { 0 };
        if size > 0 && self.block_bytes > 0 && self.block_bytes + size > MAX_BLOCK_BYTES_PER_MESSAGE {
            self.flush(ResponseStatus::PartialResponse);
        }
        if let (true, Some(d)) = (send, data) {
            self.blocks.push(Block {
                prefix: cid_prefix(&link),
                data: d.clone(),
            });
            self.block_bytes += size;
        }
        let action = if data.is_some() {
            LinkAction::Present
        } else {
            LinkAction::Missing
        };
        self.metadata.push(MetadataEntry { link, action });
    }

    /// An extension for the next message (a later value under the same name goes in a
    /// message of its own, so neither is lost).
    pub fn extension(&mut self, name: &str, value: RawCbor) {
        if self.extensions.get(name).is_some() {
            self.flush(ResponseStatus::PartialResponse);
        }
        self.extensions.insert(name, Some(value));
    }

    /// Send what is pending with status 14, if anything is.
    pub fn flush_partial(&mut self) {
        if !self.metadata.is_empty() || !self.extensions.is_empty() {
            self.flush(ResponseStatus::PartialResponse);
        }
    }

    /// End the current message with `status` (15 for a pause, a terminal status at the end).
    pub fn flush(&mut self, status: ResponseStatus) {
        let response = Response {
            request_id: self.id,
            status,
            metadata: std::mem::take(&mut self.metadata),
            extensions: std::mem::take(&mut self.extensions),
        };
        self.ready.push(Message {
            requests: Vec::new(),
            responses: vec![response],
            blocks: std::mem::take(&mut self.blocks),
        });
        self.block_bytes = 0;
    }

    /// Messages complete so far.
    pub fn take_ready(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.ready)
    }

    /// Bytes of block data waiting in the current message.
    pub fn pending_bytes(&self) -> usize {
        self.block_bytes
    }
}

/// Bytes of block data in a message (what the memory limits count).
pub fn block_bytes(message: &Message) -> usize {
    message.blocks.iter().map(|b| b.data.len()).sum()
}

/// The size of a message's frame, for callers that account for it.
pub fn encoded_len(message: &Message) -> usize {
    let mut e = Encoder::new();
    message.encode(&mut e);
    e.as_bytes().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use multihash_codetable::{Code, MultihashDigest};

    fn cid(n: u8) -> Cid {
        crate::block_cid(&cid::Cid::new_v1(0x55, Code::Sha2_256.digest(&[n])))
    }

    #[test]
    fn a_peer_gets_a_block_once_while_a_request_that_sent_it_runs() {
        let (a, b) = (RequestId([1; 16]), RequestId([2; 16]));
        let mut links = PeerLinks::default();
        links.start(a, &SendOptions::default());
        links.start(b, &SendOptions::default());
        assert!(links.record(a, cid(1), true));
        assert!(!links.record(a, cid(1), true), "twice in one request");
        assert!(!links.record(b, cid(1), true), "in another request of the peer");
        assert!(!links.record(b, cid(2), false), "missing");
        assert!(links.finish(a));
        assert!(!links.record(b, cid(1), true), "b still holds it");
        assert!(!links.finish(b), "b had a missing block");
        links.start(a, &SendOptions::default());
        assert!(links.record(a, cid(1), true), "nobody holds it any more");
    }

    #[test]
    fn do_not_send_options_hold_blocks_back() {
        let id = RequestId([3; 16]);
        let mut links = PeerLinks::default();
        let mut ext = Extensions::new();
        ext.insert(ext::DO_NOT_SEND_CIDS, Some(do_not_send_cids(&[cid(9)])));
        ext.insert(ext::DO_NOT_SEND_FIRST_BLOCKS, Some(do_not_send_first_blocks(2)));
        let options = SendOptions::from_extensions(&ext).expect("options");
        assert_eq!(options.skip_first, 2);
        links.start(id, &options);
        // The first two loads are held by the requester (counted as delivered once each).
        assert_eq!(
            links.record_load(id, cid(1), true),
            Load {
                send: false,
                held: true
            }
        );
        assert_eq!(
            links.record_load(id, cid(1), true),
            Load::default(),
            "a duplicate is neither sent nor held twice"
        );
        assert!(!links.record(id, cid(9), true), "in do-not-send-cids");
        assert_eq!(
            links.record_load(id, cid(3), true),
            Load {
                send: true,
                held: false
            }
        );
    }

    #[test]
    fn blocks_are_batched_up_to_512_kib() {
        let mut a = Assembly::new(RequestId([4; 16]));
        let big = Bytes::from(vec![0u8; 200 << 10]);
        for n in 0..5 {
            a.link(cid(n), Some(&big), true);
        }
        a.link(cid(10), None, false);
        a.flush(ResponseStatus::RequestCompletedPartial);
        let msgs = a.take_ready();
        let per: Vec<usize> = msgs.iter().map(|m| m.blocks.len()).collect();
        assert_eq!(per, vec![2, 2, 1]);
        assert!(
            msgs[..2]
                .iter()
                .all(|m| m.responses[0].status == ResponseStatus::PartialResponse)
        );
        let last = &msgs[2].responses[0];
        assert_eq!(last.status, ResponseStatus::RequestCompletedPartial);
        assert_eq!(last.metadata.last().map(|m| m.action), Some(LinkAction::Missing));
    }
}

//! Answering a request from a block source: [`resolve`] before the status is chosen, then
//! [`stream_car`] for the body.
//!
//! Resolving walks the path first (the root and each block along it), so that a missing
//! root or path answers 404 and a byte range wholly outside the file answers 400, before any
//! byte is sent; the blocks it loaded are handed to the stream so they are read once. The
//! stream is the selector's walk in go-ipld-prime's order, each block written as a CARv1
//! section when the walk loads it (again at each place with `dups=y`, once with `dups=n`).
//! Identity CIDs are never written as blocks. A block missing once the response has begun
//! ends the stream with an error: the client sees a cut response, as the spec wants.
//!
//! Blocks are sent as stored; the client checks them (the point of a trustless gateway).

use std::collections::HashSet;
use std::io;

use bytes::Bytes;
use graphsync::BlockSource;
use graphsync::Cid;
use graphsync::ipld::{self, IDENTITY, Node, codec};
use graphsync::selector::{Segment, lookup};
use graphsync::store::load;
use graphsync::unixfs::{self, Reified};
use graphsync::walk::{Step, Walk, WalkError};

use crate::request::{Format, Request, Scope};

/// Links a response walks at most (graphsync's responder allows as many).
pub const MAX_LINKS: u64 = 32 << 20;

/// Why a request cannot be answered, or its stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("block {0} is not held here")]
    RootMissing(Box<Cid>),
    #[error("{path:?} is not in the DAG: {reason}")]
    PathMissing { path: String, reason: &'static str },
    #[error("block {0} along the path is not held here")]
    PathBlockMissing(Box<Cid>),
    #[error("entity-bytes {range} is outside the {length} bytes of the file")]
    BytesOutside { range: String, length: u64 },
    #[error("block {0} is not held here; the response ends before the DAG does")]
    BlockMissing(Box<Cid>),
    #[error("walking the DAG: {0}")]
    Walk(#[from] WalkError),
    #[error("reading a block: {0}")]
    Io(#[from] io::Error),
    #[error("the request's selector: {0}")]
    Selector(#[from] graphsync::selector::SelectorError),
}

impl ServeError {
    /// The status to answer with before the response has begun.
    pub fn status(&self) -> u16 {
        match self {
            ServeError::RootMissing(_) | ServeError::PathMissing { .. } | ServeError::PathBlockMissing(_) => 404,
            ServeError::BytesOutside { .. } | ServeError::Selector(_) => 400,
            // A block we hold that the walk cannot read (a codec or a UnixFS form it does not
            // know): not a fault of the request, but one of this server.
            ServeError::BlockMissing(_) | ServeError::Walk(_) | ServeError::Io(_) => 500,
        }
    }
}

/// What resolving found: the root's block and the blocks along the path, in walk order.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub blocks: Vec<(Cid, Bytes)>,
}

impl Resolved {
    /// The root block's bytes (a raw response's body).
    pub fn root(&self) -> &Bytes {
        &self.blocks[0].1
    }

    fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.blocks.iter().find(|(c, _)| c == cid).map(|(_, b)| b.clone())
    }
}

/// Load the root and the blocks along the path; check a byte range against the file at its
/// end. Blocking: it reads from `source`.
pub fn resolve(source: &dyn BlockSource, request: &Request) -> Result<Resolved, ServeError> {
    let root = request.root;
    let data = load(source, &root)?.ok_or_else(|| ServeError::RootMissing(Box::new(root)))?;
    let mut blocks = vec![(root, data.clone())];
    let wants_nodes = !request.path.is_empty() || request.bytes.is_some();
    if !wants_nodes {
        return Ok(Resolved { blocks });
    }
    let mut node = ipld::decode(&root, &data).map_err(WalkError::from)?;
    let mut block = (root, data);
    // The node is a dag-pb block's root: the only node the unixfs ADL reads differently.
    let mut pb_root = root.codec() == codec::DAG_PB;
    for (i, name) in request.path.iter().enumerate() {
        let here = || request.path[..=i].join("/");
        let map = if pb_root {
            match unixfs::reify(&node, false).map_err(WalkError::from)? {
                Reified::Map(map) => map,
                Reified::File { .. } => {
                    return Err(ServeError::PathMissing {
                        path: here(),
                        reason: "a file has no named children",
                    });
                }
            }
        } else {
            node
        };
        let child = lookup(&map, &Segment::Key(name.as_str().into())).cloned();
        match child {
            None => {
                return Err(ServeError::PathMissing {
                    path: here(),
                    reason: "no such name",
                });
            }
            Some(Node::Link(cid)) => {
                let data = load(source, &cid)?.ok_or_else(|| ServeError::PathBlockMissing(Box::new(cid)))?;
                node = ipld::decode(&cid, &data).map_err(WalkError::from)?;
                pb_root = cid.codec() == codec::DAG_PB;
                blocks.push((cid, data.clone()));
                block = (cid, data);
            }
            Some(inline) => {
                node = inline;
                pb_root = false;
            }
        }
    }
    if let Some(range) = request.bytes {
        // The length the matcher slices: a UnixFS file's, or a raw block's.
        let length = if pb_root {
            match unixfs::reify(&node, false).map_err(WalkError::from)? {
                Reified::File { .. } => Some(unixfs::file_length(&node).map_err(WalkError::from)?),
                Reified::Map(_) => None,
            }
        } else if block.0.codec() == codec::RAW && matches!(node, Node::Bytes(_)) {
            Some(block.1.len() as u64)
        } else {
            None
        };
        if let Some(length) = length {
            let (from, to) = range.selector_bounds();
            if unixfs::slice_bounds(from, to, length).is_none() {
                return Err(ServeError::BytesOutside {
                    range: range.to_string(),
                    length,
                });
            }
        }
    }
    Ok(Resolved { blocks })
}

/// The CARv1 header with `root` as its only root (`{"roots": [root], "version": 1}`), with
/// its length prefix.
pub fn car_header(root: &Cid) -> Bytes {
    let mut e = market_types::cbor::Encoder::new();
    e.map(2);
    e.text("roots");
    e.array(1);
    e.cid(root);
    e.text("version");
    e.u64(1);
    let body = e.into_bytes();
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(unsigned_varint::encode::usize(
        body.len(),
        &mut unsigned_varint::encode::usize_buffer(),
    ));
    out.extend_from_slice(&body);
    Bytes::from(out)
}

/// The start of a CAR section: its length prefix and the CID (the block's bytes follow).
pub fn section_head(cid: &Cid, data_len: usize) -> Bytes {
    let cid = cid.to_bytes();
    let mut out = Vec::with_capacity(cid.len() + 10);
    out.extend_from_slice(unsigned_varint::encode::usize(
        cid.len() + data_len,
        &mut unsigned_varint::encode::usize_buffer(),
    ));
    out.extend_from_slice(&cid);
    Bytes::from(out)
}

/// What a stream sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub blocks: u64,
    pub bytes: u64,
}

/// Write the CAR of `request` to `emit`, a piece at a time (the header, then each section's
/// head and its block), from the blocks `resolved` holds and then `source`. Blocking.
/// An error from `emit` (the client went away) stops the walk.
pub fn stream_car(
    source: &dyn BlockSource,
    request: &Request,
    resolved: &Resolved,
    emit: &mut dyn FnMut(Bytes) -> io::Result<()>,
) -> Result<Sent, ServeError> {
    let Format::Car { dups } = request.format else {
        return Err(ServeError::Io(io::Error::other("stream_car called for a raw response")));
    };
    let mut sent = Sent::default();
    let header = car_header(&request.root);
    sent.bytes += header.len() as u64;
    emit(header)?;
    let mut put = |cid: &Cid, data: &Bytes, sent: &mut Sent| -> io::Result<()> {
        let head = section_head(cid, data.len());
        sent.blocks += 1;
        sent.bytes += (head.len() + data.len()) as u64;
        emit(head)?;
        emit(data.clone())
    };
    // The root block alone needs no decoding: any codec is served.
    if request.path.is_empty() && request.scope == Scope::Block {
        if request.root.hash().code() != IDENTITY {
            put(&request.root, resolved.root(), &mut sent)?;
        }
        return Ok(sent);
    }
    let mut seen: HashSet<Cid> = HashSet::new();
    let mut walk = Walk::new(request.root, crate::selector::selector(request)?, MAX_LINKS);
    while let Step::Load(cid) = walk.step()? {
        let data = match resolved.get(&cid) {
            Some(d) => d,
            None => load(source, &cid)?.ok_or_else(|| ServeError::BlockMissing(Box::new(cid)))?,
        };
        if cid.hash().code() != IDENTITY && (dups || seen.insert(cid)) {
            put(&cid, &data, &mut sent)?;
        }
        walk.loaded(Some(&data))?;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use graphsync::MemoryStore;
    use graphsync::testing::dag::{Dag, DagBuilder};

    /// /a (1000 bytes in 100-byte leaves under nodes of four), /b/c (a raw leaf), /b/d/e.
    fn tree() -> (Dag, Cid, Cid) {
        let mut b = DagBuilder::new(11);
        let a = b.file(1000, 100, 4);
        let c = b.raw(300);
        let e = b.raw(7);
        let d = b.dir(&[("e", e)]);
        let bdir = b.dir(&[("c", c), ("d", d)]);
        let root = b.dir(&[("a", a), ("b", bdir)]);
        (b.finish(root), a, c)
    }

    fn request(dag: &Dag, path: &str, query: &str, accept: &str) -> Request {
        Request::parse(&format!("{}/{path}", dag.root), Some(query), Some(accept)).expect("request")
    }

    const CAR: &str = "application/vnd.ipld.car;version=1;order=dfs;dups=y";

    fn serve(dag: &Dag, req: &Request) -> Result<Vec<u8>, ServeError> {
        let store = MemoryStore::from_blocks(dag.blocks.clone());
        let resolved = resolve(&store, req)?;
        let mut out = Vec::new();
        stream_car(&store, req, &resolved, &mut |b| {
            out.extend_from_slice(&b);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn a_response_verifies_against_the_same_walk_for_every_scope_and_range() {
        let (dag, a, _) = tree();
        for (path, query) in [
            ("", "dag-scope=all"),
            ("", "dag-scope=entity"),
            ("", "dag-scope=block"),
            ("a", "dag-scope=all"),
            ("a", "dag-scope=entity&entity-bytes=150:349"),
            ("a", "dag-scope=entity&entity-bytes=-50:*"),
            ("b", "dag-scope=entity"),
            ("b/d/e", "dag-scope=block"),
            ("b/c", "dag-scope=entity&entity-bytes=0:9"),
        ] {
            for accept in [CAR, "application/vnd.ipld.car;dups=n"] {
                let req = request(&dag, path, query, accept);
                let car = serve(&dag, &req).unwrap_or_else(|e| panic!("{path}?{query}: {e}"));
                let dups = req.format == Format::Car { dups: true };
                let got = crate::verify::verify_car(&req, dups, &mut &car[..], &mut |_| Ok(()))
                    .unwrap_or_else(|e| panic!("{path}?{query} {accept}: {e}"));
                assert!(got.blocks > 0, "{path}?{query}");
            }
        }
        // The byte range takes the leaves under it only: root, /a, the first interior node
        // and leaves 1..=3.
        let req = request(&dag, "a", "dag-scope=entity&entity-bytes=150:349", CAR);
        let mut cids = Vec::new();
        let car = serve(&dag, &req).expect("serve");
        crate::verify::verify_car(&req, true, &mut &car[..], &mut |load| {
            cids.push(*load.cid);
            Ok(())
        })
        .expect("verify");
        assert_eq!(cids.len(), 6);
        assert_eq!(cids[1], a);
    }

    #[test]
    fn missing_roots_and_paths_are_404_and_ranges_outside_the_file_400() {
        let (mut dag, a, c) = tree();
        let status = |dag: &Dag, path: &str, query: &str| {
            serve(dag, &request(dag, path, query, CAR))
                .expect_err("refused")
                .status()
        };
        assert_eq!(status(&dag, "nope", "dag-scope=all"), 404);
        assert_eq!(status(&dag, "a/x", "dag-scope=all"), 404, "a file has no children");
        assert_eq!(status(&dag, "..", "dag-scope=all"), 404);
        assert_eq!(status(&dag, "a", "dag-scope=entity&entity-bytes=1000:*"), 400);
        assert_eq!(status(&dag, "b/c", "dag-scope=entity&entity-bytes=300:400"), 400);
        // A negative start before the file's beginning is clipped, not refused.
        assert!(serve(&dag, &request(&dag, "a", "dag-scope=entity&entity-bytes=-5000:10", CAR)).is_ok());
        // A path block missing: 404; a block missing once streaming: the stream fails.
        dag.blocks.remove(&c);
        assert_eq!(status(&dag, "b/c", "dag-scope=all"), 404);
        let leaf = *dag
            .blocks
            .keys()
            .find(|k| k.codec() == codec::RAW && **k != a)
            .expect("a leaf");
        dag.blocks.remove(&leaf);
        assert!(matches!(
            serve(&dag, &request(&dag, "", "dag-scope=all", CAR)),
            Err(ServeError::BlockMissing(_))
        ));
        let root = dag.root;
        dag.blocks.remove(&root);
        assert_eq!(status(&dag, "", "dag-scope=all"), 404);
    }

    #[test]
    fn identity_blocks_are_never_written_and_the_probe_is_an_empty_car() {
        let probe: Cid = "bafkqaaa".parse().expect("cid");
        let req = Request::parse("bafkqaaa", None, Some(CAR)).expect("request");
        let store = MemoryStore::new();
        let resolved = resolve(&store, &req).expect("resolve");
        let mut out = Vec::new();
        let sent = stream_car(&store, &req, &resolved, &mut |b| {
            out.extend_from_slice(&b);
            Ok(())
        })
        .expect("stream");
        assert_eq!(sent.blocks, 0);
        assert_eq!(Bytes::from(out), car_header(&probe));
    }
}

//! A selector walk without IO: it says which link it needs next, the caller hands it the
//! block (or says it is missing), and it goes on. The order of link loads is
//! go-ipld-prime's `traversal.WalkAdv` as go-graphsync runs it: depth-first, pre-order,
//! children in node order (or in the order of the selector's interests), every link loaded
//! each time it is reached (no visit-once), a missing block's subtree skipped.
//!
//! Both sides of graphsync run the same walk: the responder to know what to send, the
//! requester to check that what it was sent is what the walk wants, in that order.

use std::sync::Arc;

use crate::Cid;
use bytes::Bytes;

use crate::ipld::{self, BlockError, Node};
use crate::selector::{Interest, Segment, Selector, lookup};
use crate::unixfs::Reified;

/// The all-selector, parsed once (what a unixfs-preload walks a file with).
fn all_selector() -> Arc<Selector> {
    static ALL: std::sync::OnceLock<Arc<Selector>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        Selector::from_cbor(crate::selector::build::all().to_cbor().as_bytes()).expect("the all-selector parses")
    })
    .clone()
}

/// What the walk needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Load this link and call [`Walk::loaded`] with its block (or `None` when it is missing).
    Load(Cid),
    /// The walk is over.
    Done,
}

/// Why a walk stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    #[error(transparent)]
    Block(Box<BlockError>),
    #[error("the walk reached its budget of {0} links")]
    LinkBudget(u64),
    #[error("selector asks to read a node as {0:?}, which is not supported")]
    UnsupportedAdl(String),
    #[error("reading a block as unixfs: {0}")]
    Unixfs(#[from] crate::unixfs::UnixfsError),
    #[error("walk misuse: {0}")]
    Misuse(&'static str),
}

impl From<BlockError> for WalkError {
    fn from(e: BlockError) -> Self {
        WalkError::Block(Box::new(e))
    }
}

/// A walk in progress.
#[derive(Debug)]
pub struct Walk {
    stack: Vec<Frame>,
    /// The link asked for and what its block is for.
    pending: Option<(Cid, Then)>,
    links: u64,
    max_links: u64,
    done: bool,
}

/// What a loaded block is for.
#[derive(Debug)]
enum Then {
    /// Walk it with this selector.
    Select(Arc<Selector>),
    /// Read bytes `[from, to)` of the file under it (offsets within this block's part).
    Read { from: u64, to: u64 },
}

#[derive(Debug)]
enum Frame {
    Select(Select),
    Read(FileRead),
}

/// A node being explored with a selector.
#[derive(Debug)]
struct Select {
    node: Node,
    selector: Arc<Selector>,
    children: Children,
}

#[derive(Debug)]
enum Children {
    /// Every child in node order; the next position.
    All(usize),
    /// The selector's interests; the current interest and the position inside it.
    Some {
        interests: Vec<Interest>,
        at: usize,
        inner: Inner,
    },
}

#[derive(Debug)]
enum Inner {
    Start,
    /// Inside a range over a list: the next index and the end (clipped to the list).
    Indexes(i64, i64),
    /// Inside a range over a map: the matching keys in index order.
    Keys(Vec<(i64, usize)>, usize),
}

impl Walk {
    /// A walk of `selector` from `root`, loading at most `max_links` links (the root included).
    pub fn new(root: Cid, selector: Arc<Selector>, max_links: u64) -> Walk {
        Walk {
            stack: Vec::new(),
            pending: Some((root, Then::Select(selector))),
            links: 0,
            max_links,
            done: false,
        }
    }

    /// Links loaded so far (the root included), each time they were reached.
    pub fn links_loaded(&self) -> u64 {
        self.links
    }

    /// The next link to load, or the end.
    pub fn step(&mut self) -> Result<Step, WalkError> {
        if let Some((cid, _)) = &self.pending {
            return Ok(Step::Load(*cid));
        }
        if self.done {
            return Ok(Step::Done);
        }
        loop {
            let frame = match self.stack.last_mut() {
                None => {
                    self.done = true;
                    return Ok(Step::Done);
                }
                Some(Frame::Read(read)) => {
                    match read.next() {
                        Some((cid, then)) => {
                            self.pending = Some((cid, then));
                            return Ok(Step::Load(cid));
                        }
                        None => {
                            self.stack.pop();
                        }
                    }
                    continue;
                }
                Some(Frame::Select(frame)) => frame,
            };
            let Some((segment, child)) = frame.next_child() else {
                self.stack.pop();
                continue;
            };
            let Some(next) = frame.selector.explore(&frame.node, &segment) else {
                continue;
            };
            match child {
                Node::Link(cid) => {
                    self.pending = Some((cid, Then::Select(next)));
                    return Ok(Step::Load(cid));
                }
                other => self.enter(other, next, false)?,
            }
        }
    }

    /// Hand the walk the block of the link [`step`](Self::step) asked for, `None` if it is
    /// missing (its subtree is skipped). The block is decoded, not hash-checked: the caller
    /// checks it when it comes from outside.
    pub fn loaded(&mut self, block: Option<&Bytes>) -> Result<(), WalkError> {
        let Some((cid, then)) = self.pending.take() else {
            return Err(WalkError::Misuse("loaded() without a pending link"));
        };
        self.links += 1;
        if self.links > self.max_links {
            self.done = true;
            self.stack.clear();
            return Err(WalkError::LinkBudget(self.max_links));
        }
        let Some(data) = block else {
            return Ok(());
        };
        let node = ipld::decode(&cid, data)?;
        match then {
            Then::Select(selector) => self.enter(node, selector, cid.codec() == ipld::codec::DAG_PB),
            Then::Read { from, to } => {
                if cid.codec() == ipld::codec::DAG_PB {
                    self.read_file(&node, from, to)?;
                }
                Ok(())
            }
        }
    }

    /// Read bytes `[from, to)` of the file node `pb` as go-unixfsnode's reader does: each
    /// child holding some of them is loaded, in order, and read in turn; a raw leaf or a node
    /// without links has nothing more to load.
    fn read_file(&mut self, pb: &Node, from: u64, to: u64) -> Result<(), WalkError> {
        let children = crate::unixfs::file_children(pb)?;
        if !children.is_empty() {
            self.stack.push(Frame::Read(FileRead {
                children,
                at: 0,
                pos: 0,
                from,
                to,
            }));
        }
        Ok(())
    }

    /// Go's `walkAdv`: reify when asked (`pb_root`: the node is a dag-pb block's root, the only
    /// node the unixfs ADL changes), then explore maps and lists.
    fn enter(&mut self, node: Node, selector: Arc<Selector>, pb_root: bool) -> Result<(), WalkError> {
        if let Selector::ExploreInterpretAs { adl, next } = &*selector {
            let preload = match adl.as_str() {
                "unixfs" => false,
                "unixfs-preload" => true,
                other => return Err(WalkError::UnsupportedAdl(other.to_string())),
            };
            if !pb_root {
                return self.enter(node, next.clone(), false);
            }
            return match crate::unixfs::reify(&node, preload)? {
                Reified::Map(map) => self.enter(map, next.clone(), false),
                // A file's bytes have no children. Frames are a stack: the read for a match
                // goes under the preloading read, which Go does first.
                Reified::File { preload } => {
                    match next.matches() {
                        crate::selector::Match::Whole => self.enter(node.clone(), all_selector(), false)?,
                        crate::selector::Match::Slice => {
                            let (from, to) = next.slice().unwrap_or((0, i64::MAX));
                            let length = crate::unixfs::file_length(&node)?;
                            if let Some((from, to)) = crate::unixfs::slice_bounds(from, to, length) {
                                self.read_file(&node, from, to)?;
                            }
                        }
                        crate::selector::Match::No => {}
                    }
                    if preload {
                        self.enter(node, all_selector(), false)?;
                    }
                    Ok(())
                }
            };
        }
        if !matches!(node, Node::Map(_) | Node::List(_)) {
            return Ok(());
        }
        let children = match selector.interests() {
            None => Children::All(0),
            Some(interests) if interests.is_empty() => return Ok(()),
            Some(interests) => Children::Some {
                interests,
                at: 0,
                inner: Inner::Start,
            },
        };
        self.stack.push(Frame::Select(Select {
            node,
            selector,
            children,
        }));
        Ok(())
    }
}

/// A byte range being read across a file node's children.
#[derive(Debug)]
struct FileRead {
    /// Each child and the file bytes under it.
    children: Vec<(Cid, u64)>,
    /// The offset of child `pos` in the file node.
    at: u64,
    pos: usize,
    from: u64,
    to: u64,
}

impl FileRead {
    /// The next child holding bytes of `[from, to)`, and the part of it to read.
    fn next(&mut self) -> Option<(Cid, Then)> {
        while let Some(&(cid, size)) = self.children.get(self.pos) {
            let at = self.at;
            self.pos += 1;
            self.at = at.saturating_add(size);
            if at >= self.to {
                return None;
            }
            if self.from < at.saturating_add(size) {
                let from = self.from.saturating_sub(at);
                let to = (self.to - at).min(size);
                return Some((cid, Then::Read { from, to }));
            }
        }
        None
    }
}

impl Select {
    fn next_child(&mut self) -> Option<(Segment, Node)> {
        match &mut self.children {
            Children::All(pos) => {
                let i = *pos;
                *pos += 1;
                match &self.node {
                    Node::Map(entries) => entries.get(i).map(|(k, v)| (Segment::Key(k.clone()), v.clone())),
                    Node::List(items) => items.get(i).map(|v| (Segment::Index(i as i64), v.clone())),
                    _ => None,
                }
            }
            Children::Some { interests, at, inner } => loop {
                let interest = interests.get(*at)?;
                match (interest, &mut *inner) {
                    (Interest::Field(name), _) => {
                        *at += 1;
                        let segment = Segment::Key(Arc::from(name.as_str()));
                        if let Some(child) = lookup(&self.node, &segment) {
                            return Some((segment, child.clone()));
                        }
                    }
                    (Interest::Range(start, end), Inner::Start) => {
                        *inner = match &self.node {
                            Node::List(items) => Inner::Indexes((*start).max(0), (*end).min(items.len() as i64)),
                            Node::Map(entries) => {
                                // Only keys that are the decimal form of an index in range.
                                let mut keys: Vec<(i64, usize)> = entries
                                    .iter()
                                    .enumerate()
                                    .filter_map(|(pos, (k, _))| {
                                        let i: i64 = k.parse().ok()?;
                                        (i.to_string() == **k && *start <= i && i < *end).then_some((i, pos))
                                    })
                                    .collect();
                                keys.sort_unstable();
                                Inner::Keys(keys, 0)
                            }
                            _ => Inner::Indexes(0, 0),
                        };
                    }
                    (Interest::Range(..), Inner::Indexes(next, end)) => {
                        if *next >= *end {
                            *at += 1;
                            *inner = Inner::Start;
                            continue;
                        }
                        let i = *next;
                        *next += 1;
                        if let Node::List(items) = &self.node {
                            return Some((Segment::Index(i), items[i as usize].clone()));
                        }
                    }
                    (Interest::Range(..), Inner::Keys(keys, pos)) => {
                        let Some(&(i, entry)) = keys.get(*pos) else {
                            *at += 1;
                            *inner = Inner::Start;
                            continue;
                        };
                        *pos += 1;
                        if let Node::Map(entries) = &self.node {
                            return Some((Segment::Index(i), entries[entry].1.clone()));
                        }
                    }
                }
            },
        }
    }
}

/// Walk `selector` from `root` loading blocks with `load` (`None`: missing, its subtree
/// skipped): every link load in order, with whether the block was there.
pub fn walk_with(
    root: Cid,
    selector: Arc<Selector>,
    mut load: impl FnMut(&Cid) -> Option<Bytes>,
) -> Result<Vec<(Cid, bool)>, WalkError> {
    let mut walk = Walk::new(root, selector, u64::MAX);
    let mut out = Vec::new();
    while let Step::Load(link) = walk.step()? {
        let data = load(&link);
        out.push((link, data.is_some()));
        walk.loaded(data.as_ref())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::build::{self, Spec};
    use crate::testing::dag::{Dag, DagBuilder};

    /// The links a walk loads, in order, over a complete DAG.
    fn order(dag: &Dag, spec: &Spec) -> Vec<Cid> {
        let sel = Selector::from_cbor(spec.to_cbor().as_bytes()).expect("selector");
        let mut walk = Walk::new(dag.root, sel, u64::MAX);
        let mut out = Vec::new();
        while let Step::Load(cid) = walk.step().expect("walk") {
            out.push(cid);
            walk.loaded(dag.blocks.get(&cid)).expect("loaded");
        }
        out
    }

    #[test]
    fn the_all_selector_visits_dag_pb_depth_first_in_link_order() {
        let mut b = DagBuilder::new(1);
        let l1 = b.raw(10);
        let l2 = b.raw(10);
        let l3 = b.raw(10);
        let mid = b.pb(&[l1, l2]);
        let root = b.pb(&[mid, l3, l1]);
        let dag = b.finish(root);
        // A link reached twice is loaded twice.
        assert_eq!(order(&dag, &build::all()), vec![root, mid, l1, l2, l3, l1]);
    }

    #[test]
    fn depth_and_fields_and_ranges_narrow_the_walk() {
        let mut b = DagBuilder::new(2);
        let l1 = b.raw(5);
        let l2 = b.raw(5);
        let l3 = b.raw(5);
        let mid = b.pb(&[l1, l2]);
        let root = b.pb(&[mid, l3]);
        let dag = b.finish(root);
        // dag-pb: root map → Links list → PBLink map → Hash: four levels per block.
        assert_eq!(order(&dag, &build::depth(4)), vec![root, mid, l3]);
        assert_eq!(order(&dag, &build::depth(3)), vec![root]);
        // Links/1/Hash only.
        let path = Spec::Fields(vec![(
            "Links".into(),
            Spec::Index(1, Box::new(Spec::Fields(vec![("Hash".into(), Spec::Matcher)]))),
        )]);
        assert_eq!(order(&dag, &path), vec![root, l3]);
        // Links/[0,1) then everything under it.
        let range = Spec::Fields(vec![(
            "Links".into(),
            Spec::Range(0, 1, Box::new(Spec::Fields(vec![("Hash".into(), build::all())]))),
        )]);
        assert_eq!(order(&dag, &range), vec![root, mid, l1, l2]);
        // A union of the same path twice: the interests repeat at every level (Links twice,
        // index 1 twice, Hash twice), so go-ipld-prime loads the link 2×2×2 times.
        let twice = Spec::Union(vec![path.clone(), path]);
        let mut expected = vec![root];
        expected.extend([l3; 8]);
        assert_eq!(order(&dag, &twice), expected);
    }

    #[test]
    fn dag_cbor_maps_are_walked_in_encoded_order() {
        let mut b = DagBuilder::new(3);
        let a = b.raw(3);
        let z = b.raw(3);
        let list_item = b.raw(3);
        let root = b.cbor_map(&[("zz", Some(z)), ("a", Some(a)), ("l", None)], &[list_item, a]);
        let dag = b.finish(root);
        assert_eq!(order(&dag, &build::all()), vec![root, z, a, list_item, a]);
    }

    #[test]
    fn a_missing_block_skips_its_subtree() {
        let mut b = DagBuilder::new(4);
        let l1 = b.raw(5);
        let l2 = b.raw(5);
        let mid = b.pb(&[l1]);
        let root = b.pb(&[mid, l2]);
        let mut dag = b.finish(root);
        dag.blocks.remove(&mid);
        assert_eq!(order(&dag, &build::all()), vec![root, mid, l2]);
    }

    #[test]
    fn a_byte_range_of_a_unixfs_file_loads_only_the_blocks_under_it() {
        let mut b = DagBuilder::new(6);
        // Ten 100-byte leaves under nodes of four: [0..4) [4..8) [8..10), under the root.
        let root = b.file(1000, 100, 4);
        let dag = b.finish(root);
        let node = ipld::decode(&root, &dag.blocks[&root]).expect("root");
        let mids: Vec<Cid> = crate::unixfs::file_children(&node)
            .expect("children")
            .iter()
            .map(|c| c.0)
            .collect();
        let leaves: Vec<Cid> = mids
            .iter()
            .flat_map(|m| {
                let n = ipld::decode(m, &dag.blocks[m]).expect("mid");
                crate::unixfs::file_children(&n)
                    .expect("children")
                    .into_iter()
                    .map(|c| c.0)
            })
            .collect();
        assert_eq!((mids.len(), leaves.len()), (3, 10));
        // The trustless gateway's entity-bytes selector (go-trustless-utils).
        let entity_bytes = |from: i64, to: i64| {
            Spec::InterpretAs(
                "unixfs".into(),
                Box::new(Spec::Union(vec![
                    Spec::Subset(from, to),
                    Spec::Recursive {
                        limit: Some(1),
                        sequence: Box::new(Spec::All(Box::new(Spec::Edge))),
                        stop_at: None,
                    },
                ])),
            )
        };
        assert_eq!(
            order(&dag, &entity_bytes(150, 350)),
            vec![root, mids[0], leaves[1], leaves[2], leaves[3]]
        );
        // Across a node boundary, and ending exactly at a leaf's end.
        assert_eq!(
            order(&dag, &entity_bytes(350, 500)),
            vec![root, mids[0], leaves[3], mids[1], leaves[4]]
        );
        // The last 50 bytes (-50:*).
        assert_eq!(
            order(&dag, &entity_bytes(-50, i64::MAX)),
            vec![root, mids[2], leaves[9]]
        );
        // Up to 100 bytes before the end.
        assert_eq!(order(&dag, &entity_bytes(0, -900)), vec![root, mids[0], leaves[0]]);
        // Wholly past the end, or empty: the root only.
        assert_eq!(order(&dag, &entity_bytes(1000, i64::MAX)), vec![root]);
        assert_eq!(order(&dag, &entity_bytes(-10, -20)), vec![root]);
        // The whole file: every block, as the plain entity scope loads it.
        let all = order(&dag, &entity_bytes(0, i64::MAX));
        assert_eq!(all.len(), 1 + 3 + 10);
        assert_eq!(all[..3], [root, mids[0], leaves[0]]);
    }

    #[test]
    fn the_link_budget_stops_the_walk() {
        let mut b = DagBuilder::new(5);
        let l1 = b.raw(5);
        let root = b.pb(&[l1, l1, l1]);
        let dag = b.finish(root);
        let sel = Selector::from_cbor(build::all().to_cbor().as_bytes()).expect("selector");
        let mut walk = Walk::new(root, sel, 3);
        let mut err = None;
        while let Step::Load(cid) = walk.step().expect("walk") {
            if let Err(e) = walk.loaded(dag.blocks.get(&cid)) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(WalkError::LinkBudget(3)));
    }
}

//! IPLD selectors: parsed from their dag-cbor form and explored as go-ipld-prime's
//! `traversal/selector` package explores them, so a walk visits the same links in the same
//! order as a Go peer's.
//!
//! Keys (go-ipld-prime `fieldKeys.go`): `a` explore-all, `f` explore-fields (`f>`), `i`
//! explore-index, `r` explore-range (`^`, `$`), `R` explore-recursive (`l` limit `{none}` or
//! `{depth}`, `:>` sequence, `!` stop-at), `@` recursive edge, `|` union, `.` matcher
//! (optional `subset` `[`/`]`), `~` interpret-as (`as`), `>` next.

use std::sync::Arc;

use crate::Cid;
use bytes::Bytes;

use crate::ipld::{Node, decode_dag_cbor};

/// A parsed selector.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// Select the node itself (`.`); explores nothing.
    Matcher {
        subset: Option<(i64, i64)>,
    },
    ExploreAll {
        next: Arc<Selector>,
    },
    /// Field names in the order the selector lists them (which is the visit order).
    ExploreFields {
        fields: Vec<(String, Arc<Selector>)>,
    },
    ExploreIndex {
        index: i64,
        next: Arc<Selector>,
    },
    ExploreRange {
        start: i64,
        end: i64,
        next: Arc<Selector>,
    },
    ExploreUnion(Vec<Arc<Selector>>),
    ExploreRecursive {
        sequence: Arc<Selector>,
        current: Arc<Selector>,
        /// `None` for no limit, else the depth left.
        limit: Option<i64>,
        stop_at: Option<Cid>,
    },
    ExploreRecursiveEdge,
    /// Reinterpret the node with a named ADL (`unixfs`, `unixfs-preload`) before `next`.
    ExploreInterpretAs {
        adl: String,
        next: Arc<Selector>,
    },
}

/// Why a selector was refused; the texts follow go-ipld-prime's "selector spec parse rejected".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("selector is not valid dag-cbor: {0}")]
    Encoding(String),
    #[error("selector spec parse rejected: {0}")]
    Rejected(String),
}

fn rejected(why: impl Into<String>) -> SelectorError {
    SelectorError::Rejected(why.into())
}

/// Deepest selector nesting accepted (the message decoder stops at 64 CBOR levels already).
const MAX_SELECTOR_DEPTH: u32 = 64;

impl Selector {
    /// Parse the dag-cbor bytes of a selector node.
    pub fn from_cbor(bytes: &[u8]) -> Result<Arc<Selector>, SelectorError> {
        let node =
            decode_dag_cbor(&Bytes::copy_from_slice(bytes)).map_err(|e| SelectorError::Encoding(e.to_string()))?;
        Selector::parse(&node)
    }

    /// Parse a selector node.
    pub fn parse(node: &Node) -> Result<Arc<Selector>, SelectorError> {
        Parser::default().selector(node, 0)
    }

    /// The children this selector wants, in order; `None` means every child in node order.
    pub fn interests(&self) -> Option<Vec<Interest>> {
        match self {
            Selector::ExploreAll { .. } => None,
            Selector::ExploreFields { fields } => {
                Some(fields.iter().map(|(name, _)| Interest::Field(name.clone())).collect())
            }
            Selector::ExploreIndex { index, .. } => Some(vec![Interest::Range(*index, index.saturating_add(1))]),
            Selector::ExploreRange { start, end, .. } => Some(vec![Interest::Range(*start, *end)]),
            Selector::ExploreUnion(members) => {
                let mut all = Vec::new();
                for m in members {
                    all.extend(m.interests()?);
                }
                Some(all)
            }
            Selector::ExploreRecursive { current, .. } => current.interests(),
            Selector::ExploreInterpretAs { next, .. } => next.interests(),
            Selector::Matcher { .. } | Selector::ExploreRecursiveEdge => Some(Vec::new()),
        }
    }

    /// The selector for child `segment` of `node`, or `None` when it is not explored.
    pub fn explore(self: &Arc<Self>, node: &Node, segment: &Segment) -> Option<Arc<Selector>> {
        match &**self {
            Selector::ExploreAll { next } => Some(next.clone()),
            Selector::ExploreFields { fields } => {
                let key = segment.to_string();
                fields.iter().find(|(name, _)| *name == key).map(|(_, s)| s.clone())
            }
            Selector::ExploreIndex { index, next } => {
                let i = segment.as_index()?;
                (matches!(node, Node::List(_)) && i == *index).then(|| next.clone())
            }
            Selector::ExploreRange { start, end, next } => {
                let i = segment.as_index()?;
                (matches!(node, Node::List(_)) && *start <= i && i < *end).then(|| next.clone())
            }
            Selector::ExploreUnion(members) => {
                let mut found: Vec<Arc<Selector>> = members.iter().filter_map(|m| m.explore(node, segment)).collect();
                match found.len() {
                    0 => None,
                    1 => found.pop(),
                    _ => Some(Arc::new(Selector::ExploreUnion(found))),
                }
            }
            Selector::ExploreRecursive {
                sequence,
                current,
                limit,
                stop_at,
            } => {
                if let Some(stop) = stop_at {
                    // Go looks the child up and stops when it is the link named.
                    if matches!(lookup(node, segment), Some(Node::Link(l)) if l == stop) {
                        return None;
                    }
                }
                if matches!(**current, Selector::ExploreRecursiveEdge) {
                    return None;
                }
                let next = current.explore(node, segment)?;
                if !has_edge(&next) {
                    return Some(Arc::new(Selector::ExploreRecursive {
                        sequence: sequence.clone(),
                        current: next,
                        limit: *limit,
                        stop_at: *stop_at,
                    }));
                }
                match limit {
                    Some(depth) if *depth < 2 => replace_edge(&next, None),
                    Some(depth) => Some(Arc::new(Selector::ExploreRecursive {
                        sequence: sequence.clone(),
                        current: replace_edge(&next, Some(sequence))?,
                        limit: Some(depth - 1),
                        stop_at: *stop_at,
                    })),
                    None => Some(Arc::new(Selector::ExploreRecursive {
                        sequence: sequence.clone(),
                        current: replace_edge(&next, Some(sequence))?,
                        limit: None,
                        stop_at: *stop_at,
                    })),
                }
            }
            Selector::ExploreInterpretAs { next, .. } => Some(next.clone()),
            Selector::Matcher { .. } | Selector::ExploreRecursiveEdge => None,
        }
    }

    /// Whether this selector matches the node it is at (go-ipld-prime's `Match` not nil): a
    /// matcher does, and so do recursions and unions through their members.
    pub fn matches(&self) -> Match {
        match self {
            Selector::Matcher { subset: None } => Match::Whole,
            Selector::Matcher { subset: Some(_) } => Match::Slice,
            Selector::ExploreRecursive { current, .. } => current.matches(),
            Selector::ExploreUnion(members) => members
                .iter()
                .map(|m| m.matches())
                .find(|m| *m != Match::No)
                .unwrap_or(Match::No),
            _ => Match::No,
        }
    }

    /// The `[from, to)` of the matcher that makes [`matches`](Self::matches) say `Slice`.
    pub fn slice(&self) -> Option<(i64, i64)> {
        match self {
            Selector::Matcher { subset } => *subset,
            Selector::ExploreRecursive { current, .. } => current.slice(),
            Selector::ExploreUnion(members) => members.iter().find(|m| m.matches() != Match::No)?.slice(),
            _ => None,
        }
    }

    /// The ADL this selector asks the node to be read as (`~`), if any.
    pub fn interpret_as(&self) -> Option<&str> {
        match self {
            Selector::ExploreInterpretAs { adl, .. } => Some(adl),
            _ => None,
        }
    }
}

fn has_edge(s: &Selector) -> bool {
    match s {
        Selector::ExploreRecursiveEdge => true,
        Selector::ExploreUnion(members) => members.iter().any(|m| has_edge(m)),
        _ => false,
    }
}

fn replace_edge(s: &Arc<Selector>, with: Option<&Arc<Selector>>) -> Option<Arc<Selector>> {
    match &**s {
        Selector::ExploreRecursiveEdge => with.cloned(),
        Selector::ExploreUnion(members) => {
            let mut kept: Vec<Arc<Selector>> = members.iter().filter_map(|m| replace_edge(m, with)).collect();
            match kept.len() {
                0 => None,
                1 => kept.pop(),
                _ => Some(Arc::new(Selector::ExploreUnion(kept))),
            }
        }
        _ => Some(s.clone()),
    }
}

/// What a selector's match takes of the node it is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    No,
    Whole,
    /// A byte range (a matcher's `subset`).
    Slice,
}

/// A path segment: a map key or a list index (go-ipld-prime's `PathSegment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(Arc<str>),
    Index(i64),
}

impl Segment {
    /// The index a segment names (a key is parsed as a decimal integer, as Go does).
    pub fn as_index(&self) -> Option<i64> {
        match self {
            Segment::Index(i) => Some(*i),
            Segment::Key(k) => k.parse().ok(),
        }
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Key(k) => f.write_str(k),
            Segment::Index(i) => write!(f, "{i}"),
        }
    }
}

/// One of a selector's interests: a named field, or a half-open range of indexes (an index
/// is a range of one). Ranges stay ranges, so a hostile `[0, 2^63)` costs nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interest {
    Field(String),
    Range(i64, i64),
}

/// The child of `node` at `segment`, as go-ipld-prime's `LookupBySegment`.
pub fn lookup<'a>(node: &'a Node, segment: &Segment) -> Option<&'a Node> {
    match node {
        Node::Map(entries) => {
            let key = segment.to_string();
            entries.iter().find(|(k, _)| **k == *key).map(|(_, v)| v)
        }
        Node::List(items) => {
            let i = usize::try_from(segment.as_index()?).ok()?;
            items.get(i)
        }
        _ => None,
    }
}

#[derive(Default)]
struct Parser {
    /// Recursive selectors open around the one being parsed, with the edges found in each.
    recursion: Vec<usize>,
}

impl Parser {
    fn selector(&mut self, node: &Node, depth: u32) -> Result<Arc<Selector>, SelectorError> {
        if depth > MAX_SELECTOR_DEPTH {
            return Err(rejected("selector nests too deeply"));
        }
        let Node::Map(entries) = node else {
            return Err(rejected("selector is a keyed union and thus must be a map"));
        };
        if entries.len() != 1 {
            return Err(rejected("selector is a keyed union and thus must be single-entry map"));
        }
        let (key, body) = &entries[0];
        let body_map = || -> Result<&Node, SelectorError> {
            match body {
                Node::Map(_) => Ok(body),
                _ => Err(rejected("selector body must be a map")),
            }
        };
        let s = match &**key {
            "a" => Selector::ExploreAll {
                next: self.next(body_map()?, "ExploreAll", depth)?,
            },
            "f" => {
                let Some(Node::Map(fields)) = body_map()?.get("f>") else {
                    return Err(rejected("fields in ExploreFields selector must be present and a map"));
                };
                let mut out = Vec::with_capacity(fields.len());
                for (name, sel) in fields.iter() {
                    out.push((name.to_string(), self.selector(sel, depth + 1)?));
                }
                Selector::ExploreFields { fields: out }
            }
            "i" => {
                let b = body_map()?;
                let index = int_field(b, "i", "index field must be present in ExploreIndex selector")?;
                Selector::ExploreIndex {
                    index,
                    next: self.next(b, "ExploreIndex", depth)?,
                }
            }
            "r" => {
                let b = body_map()?;
                let start = int_field(b, "^", "start field must be present in ExploreRange selector")?;
                let end = int_field(b, "$", "end field must be present in ExploreRange selector")?;
                if start >= end {
                    return Err(rejected(
                        "end field must be greater than start field in ExploreRange selector",
                    ));
                }
                Selector::ExploreRange {
                    start,
                    end,
                    next: self.next(b, "ExploreRange", depth)?,
                }
            }
            "|" => {
                let Node::List(members) = body else {
                    return Err(rejected("explore union selector must be a list"));
                };
                let mut out = Vec::with_capacity(members.len());
                for m in members.iter() {
                    out.push(self.selector(m, depth + 1)?);
                }
                Selector::ExploreUnion(out)
            }
            "R" => {
                let b = body_map()?;
                let limit = match b.get("l") {
                    Some(Node::Map(l)) if l.len() == 1 => match (&*l[0].0, &l[0].1) {
                        ("none", _) => None,
                        ("depth", Node::Int(d)) => Some(*d),
                        ("depth", _) => {
                            return Err(rejected(
                                "limit field of type depth must be a number in ExploreRecursive selector",
                            ));
                        }
                        (other, _) => {
                            return Err(rejected(format!(
                                "{other:?} is not a known member of the limit union in ExploreRecursive"
                            )));
                        }
                    },
                    Some(_) => {
                        return Err(rejected(
                            "limit in ExploreRecursive is a keyed union and thus must be a single-entry map",
                        ));
                    }
                    None => return Err(rejected("limit field must be present in ExploreRecursive selector")),
                };
                let Some(seq) = b.get(":>") else {
                    return Err(rejected("sequence field must be present in ExploreRecursive selector"));
                };
                self.recursion.push(0);
                let sequence = self.selector(seq, depth + 1);
                let edges = self.recursion.pop().unwrap_or(0);
                let sequence = sequence?;
                if edges == 0 {
                    return Err(rejected("ExploreRecursive must have at least one ExploreRecursiveEdge"));
                }
                let stop_at = match b.get("!") {
                    None => None,
                    Some(Node::Map(c)) if c.len() == 1 => match (&*c[0].0, &c[0].1) {
                        ("/", Node::Link(l)) => Some(*l),
                        ("/", _) => return Err(rejected("condition_link must be a link")),
                        (other, _) => {
                            return Err(rejected(format!(
                                "{other:?} is not a known member of the condition union"
                            )));
                        }
                    },
                    Some(_) => return Err(rejected("condition body must be a map")),
                };
                Selector::ExploreRecursive {
                    current: sequence.clone(),
                    sequence,
                    limit,
                    stop_at,
                }
            }
            "@" => {
                body_map()?;
                match self.recursion.last_mut() {
                    Some(edges) => *edges += 1,
                    None => {
                        return Err(rejected("ExploreRecursiveEdge must be beneath ExploreRecursive"));
                    }
                }
                Selector::ExploreRecursiveEdge
            }
            "~" => {
                let b = body_map()?;
                let Some(Node::String(adl)) = b.get("as") else {
                    return Err(rejected("the 'as' field must be present in ExploreInterpretAs clause"));
                };
                Selector::ExploreInterpretAs {
                    adl: adl.to_string(),
                    next: self.next(b, "ExploreInterpretAs", depth)?,
                }
            }
            "." => {
                let b = body_map()?;
                let subset = match b.get("subset") {
                    None => None,
                    Some(s @ Node::Map(_)) => {
                        let from = int_field(s, "[", "selector body must be a map with a from '[' key")?;
                        let to = int_field(s, "]", "selector body must be a map with a to ']' key")?;
                        if to >= 0 && from > to {
                            return Err(rejected(
                                "selector body must be a map with a 'from' key that is less than or equal to the 'to' key",
                            ));
                        }
                        Some((from, to))
                    }
                    Some(_) => return Err(rejected("subset body must be a map")),
                };
                Selector::Matcher { subset }
            }
            other => {
                return Err(rejected(format!(
                    "{other:?} is not a known member of the selector union"
                )));
            }
        };
        Ok(Arc::new(s))
    }

    fn next(&mut self, body: &Node, what: &str, depth: u32) -> Result<Arc<Selector>, SelectorError> {
        match body.get(">") {
            Some(n) => self.selector(n, depth + 1),
            None => Err(rejected(format!("next field must be present in {what} selector"))),
        }
    }
}

fn int_field(node: &Node, key: &str, missing: &str) -> Result<i64, SelectorError> {
    match node.get(key) {
        Some(Node::Int(i)) => Ok(*i),
        Some(_) => Err(rejected(format!("{key:?} must be a number"))),
        None => Err(rejected(missing.to_string())),
    }
}

/// Selectors as go-ipld-prime's builder writes them, for tests and callers.
pub mod build {
    use crate::Cid;
    use market_types::cbor::Encoder;
    use market_types::ipld::RawCbor;

    /// A selector under construction, written as dag-cbor.
    #[derive(Debug, Clone)]
    pub enum Spec {
        Matcher,
        /// A matcher of bytes `[from, to)` of the node (negatives count from the end).
        Subset(i64, i64),
        All(Box<Spec>),
        Fields(Vec<(String, Spec)>),
        Index(i64, Box<Spec>),
        Range(i64, i64, Box<Spec>),
        Union(Vec<Spec>),
        Recursive {
            limit: Option<i64>,
            sequence: Box<Spec>,
            stop_at: Option<Cid>,
        },
        Edge,
        /// Read the node through an ADL (`unixfs`, `unixfs-preload`) before `next`.
        InterpretAs(String, Box<Spec>),
    }

    impl Spec {
        pub fn to_cbor(&self) -> RawCbor {
            RawCbor::from_bytes(&self.to_bytes()).expect("the builder writes one well-formed item")
        }

        /// The dag-cbor bytes, unchecked: for selectors nested deeper than a [`RawCbor`]
        /// holds (a long UnixFS path), parsed with [`Selector::from_cbor`](super::Selector::from_cbor).
        pub fn to_bytes(&self) -> Vec<u8> {
            let mut e = Encoder::new();
            self.write(&mut e);
            e.into_bytes()
        }

        /// Keys within each body in dag-cbor order (length first, then bytes).
        fn write(&self, e: &mut Encoder) {
            e.map(1);
            match self {
                Spec::Matcher => {
                    e.text(".");
                    e.map(0);
                }
                Spec::Subset(from, to) => {
                    e.text(".");
                    e.map(1);
                    e.text("subset");
                    e.map(2);
                    e.text("[");
                    e.i64(*from);
                    e.text("]");
                    e.i64(*to);
                }
                Spec::All(next) => {
                    e.text("a");
                    e.map(1);
                    e.text(">");
                    next.write(e);
                }
                Spec::Fields(fields) => {
                    e.text("f");
                    e.map(1);
                    e.text("f>");
                    let mut sorted: Vec<&(String, Spec)> = fields.iter().collect();
                    sorted.sort_by(|a, b| (a.0.len(), &a.0).cmp(&(b.0.len(), &b.0)));
                    e.map(sorted.len());
                    for (name, s) in sorted {
                        e.text(name);
                        s.write(e);
                    }
                }
                Spec::Index(i, next) => {
                    e.text("i");
                    e.map(2);
                    e.text(">");
                    next.write(e);
                    e.text("i");
                    e.i64(*i);
                }
                Spec::Range(start, end, next) => {
                    e.text("r");
                    e.map(3);
                    e.text("$");
                    e.i64(*end);
                    e.text(">");
                    next.write(e);
                    e.text("^");
                    e.i64(*start);
                }
                Spec::Union(members) => {
                    e.text("|");
                    e.array(members.len());
                    for m in members {
                        m.write(e);
                    }
                }
                Spec::Recursive {
                    limit,
                    sequence,
                    stop_at,
                } => {
                    e.text("R");
                    e.map(2 + usize::from(stop_at.is_some()));
                    if let Some(c) = stop_at {
                        e.text("!");
                        e.map(1);
                        e.text("/");
                        e.cid(c);
                    }
                    e.text("l");
                    e.map(1);
                    match limit {
                        None => {
                            e.text("none");
                            e.map(0);
                        }
                        Some(d) => {
                            e.text("depth");
                            e.i64(*d);
                        }
                    }
                    e.text(":>");
                    sequence.write(e);
                }
                Spec::Edge => {
                    e.text("@");
                    e.map(0);
                }
                Spec::InterpretAs(adl, next) => {
                    e.text("~");
                    e.map(2);
                    e.text(">");
                    next.write(e);
                    e.text("as");
                    e.text(adl);
                }
            }
        }
    }

    /// ExploreRecursive(none, ExploreAll(edge)): every block reachable from the root.
    pub fn all() -> Spec {
        Spec::Recursive {
            limit: None,
            sequence: Box::new(Spec::All(Box::new(Spec::Edge))),
            stop_at: None,
        }
    }

    /// ExploreRecursive(depth, ExploreAll(edge)).
    pub fn depth(limit: i64) -> Spec {
        Spec::Recursive {
            limit: Some(limit),
            sequence: Box::new(Spec::All(Box::new(Spec::Edge))),
            stop_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use market_types::ipld::all_selector;

    #[test]
    fn the_all_selector_parses_and_the_builder_writes_it_byte_for_byte() {
        assert_eq!(build::all().to_cbor(), all_selector());
        let s = Selector::from_cbor(all_selector().as_bytes()).expect("parse");
        assert!(matches!(&*s, Selector::ExploreRecursive { limit: None, .. }));
    }

    #[test]
    fn parse_refuses_what_go_refuses() {
        let refuse = |spec: &[u8]| Selector::from_cbor(spec).expect_err("refused");
        // {"@": {}} outside a recursion
        assert!(matches!(refuse(&[0xa1, 0x61, b'@', 0xa0]), SelectorError::Rejected(_)));
        // {"x": {}}
        assert!(matches!(refuse(&[0xa1, 0x61, b'x', 0xa0]), SelectorError::Rejected(_)));
        // a recursion without an edge
        let no_edge = build::Spec::Recursive {
            limit: None,
            sequence: Box::new(build::Spec::All(Box::new(build::Spec::Matcher))),
            stop_at: None,
        };
        assert!(Selector::from_cbor(no_edge.to_cbor().as_bytes()).is_err());
        // an empty range
        let empty = build::Spec::Range(3, 3, Box::new(build::Spec::Matcher));
        assert!(Selector::from_cbor(empty.to_cbor().as_bytes()).is_err());
    }

    #[test]
    fn a_huge_range_is_kept_as_a_range() {
        let s = build::Spec::Range(0, i64::MAX, Box::new(build::Spec::Matcher)).to_cbor();
        let s = Selector::from_cbor(s.as_bytes()).expect("parse");
        assert_eq!(s.interests(), Some(vec![Interest::Range(0, i64::MAX)]));
    }

    #[test]
    fn depth_limits_count_nodes_as_go_does() {
        // depth 1: the root only; depth 2: its children too.
        let list = Node::List(vec![Node::Int(1)].into());
        let one = Selector::from_cbor(build::depth(1).to_cbor().as_bytes()).expect("parse");
        assert_eq!(one.explore(&list, &Segment::Index(0)), None);
        let two = Selector::from_cbor(build::depth(2).to_cbor().as_bytes()).expect("parse");
        let child = two.explore(&list, &Segment::Index(0)).expect("explored");
        assert_eq!(child.explore(&list, &Segment::Index(0)), None);
    }
}

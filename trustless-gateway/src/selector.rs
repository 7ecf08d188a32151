//! The selector a trustless request means: go-trustless-utils' `Request.Selector()`, i.e.
//! go-unixfsnode's `UnixFSPathSelectorBuilder(path, terminal, false)` with the terminal of
//! the scope (and byte range). Server and client walk the same selector, so the blocks a
//! response holds, and their order, are what a verifier like lassie's expects.

use std::sync::Arc;

use graphsync::selector::build::{self, Spec};
use graphsync::selector::{Selector, SelectorError};

use crate::request::{Request, Scope};

fn unixfs(next: Spec) -> Spec {
    Spec::InterpretAs("unixfs".into(), Box::new(next))
}

/// ExploreRecursive(depth 1, ExploreAll(edge)): go-unixfsnode's entity recursion.
fn one_level() -> Spec {
    Spec::Recursive {
        limit: Some(1),
        sequence: Box::new(Spec::All(Box::new(Spec::Edge))),
        stop_at: None,
    }
}

/// The selector spec of `request`.
pub fn spec(request: &Request) -> Spec {
    let terminal = match (request.scope, request.bytes) {
        (Scope::All, _) => build::all(),
        // go-unixfsnode's MatchUnixFSEntitySelector.
        (Scope::Entity, None) => unixfs(Spec::Union(vec![Spec::Matcher, one_level()])),
        // Its matcher replaced by one of the bytes.
        (Scope::Entity, Some(bytes)) => {
            let (from, to) = bytes.selector_bounds();
            unixfs(Spec::Union(vec![Spec::Subset(from, to), one_level()]))
        }
        (Scope::Block, _) => Spec::Matcher,
    };
    request.path.iter().rev().fold(terminal, |inner, name| {
        unixfs(Spec::Fields(vec![(name.clone(), inner)]))
    })
}

/// The parsed selector of `request` (refused only past graphsync's nesting limit, which
/// [`Request::parse`]'s path limit keeps requests under).
pub fn selector(request: &Request) -> Result<Arc<Selector>, SelectorError> {
    Selector::from_cbor(&spec(request).to_bytes())
}

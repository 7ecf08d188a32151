//! `retrieve --data-selector`, as droplet-client reads it: a selector in dag-json (text that
//! starts with `{`), or a data-model path such as `Links/0/Hash` (go-ipld-prime's text path:
//! each step matched on the way, everything under the target), or nothing: the whole DAG.
//! For a path, the export writes out the DAG at the path's end.

use anyhow::{Context, Result, anyhow, bail};
use graphsync::BlockSink;
use graphsync::Cid;
use graphsync::ipld::Node;
use graphsync::selector::build::Spec;
use graphsync::selector::{Segment, lookup};
use market_types::cbor::Encoder;
use market_types::ipld::RawCbor;

/// The largest dag-json selector read.
const MAX_JSON: usize = 64 << 10;
/// Nesting allowed in a dag-json selector.
const MAX_DEPTH: u32 = 64;

/// What `--data-selector` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSelector {
    pub selector: RawCbor,
    /// The data-model path, when given as one.
    pub path: Option<Vec<String>>,
}

/// Read `--data-selector` (empty: the whole DAG).
pub fn parse(text: &str) -> Result<DataSelector> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(DataSelector {
            selector: market_types::ipld::all_selector(),
            path: None,
        });
    }
    let (selector, path) = if t.starts_with('{') {
        if t.len() > MAX_JSON {
            bail!("the selector is over {} KiB", MAX_JSON >> 10);
        }
        let v: serde_json::Value = serde_json::from_str(t).context("the selector is not JSON")?;
        let mut e = Encoder::new();
        json_to_cbor(&v, &mut e, 0)?;
        let cbor = RawCbor::from_bytes(&e.into_bytes()).map_err(|e| anyhow!("the selector: {e}"))?;
        (cbor, None)
    } else {
        let segments: Vec<String> = t.split('/').filter(|s| !s.is_empty()).map(String::from).collect();
        (path_selector(&segments).to_cbor(), Some(segments))
    };
    graphsync::Selector::from_cbor(selector.as_bytes()).map_err(|e| anyhow!("the selector is not valid: {e}"))?;
    Ok(DataSelector { selector, path })
}

/// go-ipld-prime's `SelectorSpecFromPath(path, matchPath: true, everything under the target)`.
fn path_selector(segments: &[String]) -> Spec {
    let mut ss = Spec::Recursive {
        limit: None,
        sequence: Box::new(Spec::Union(vec![Spec::Matcher, Spec::All(Box::new(Spec::Edge))])),
        stop_at: None,
    };
    for seg in segments.iter().rev() {
        ss = Spec::Union(vec![Spec::Matcher, Spec::Fields(vec![(seg.clone(), ss)])]);
    }
    ss
}

/// dag-json to dag-cbor: maps with their keys in dag-cbor order, `{"/": "<cid>"}` as a link.
fn json_to_cbor(v: &serde_json::Value, e: &mut Encoder, depth: u32) -> Result<()> {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        bail!("the selector nests too deeply");
    }
    match v {
        Value::Null => e.null(),
        Value::Bool(b) => e.bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => e.i64(i),
            None => bail!("the selector has a number that is not an integer: {n}"),
        },
        Value::String(s) => e.text(s),
        Value::Array(items) => {
            e.array(items.len());
            for i in items {
                json_to_cbor(i, e, depth + 1)?;
            }
        }
        Value::Object(map) => {
            if let (1, Some(Value::String(c))) = (map.len(), map.get("/")) {
                let cid: Cid = c.parse().map_err(|err| anyhow!("link {c:?}: {err}"))?;
                e.cid(&cid);
                return Ok(());
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| (a.len(), a.as_str()).cmp(&(b.len(), b.as_str())));
            e.map(keys.len());
            for k in keys {
                e.text(k);
                json_to_cbor(&map[k], e, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// The block at the end of `path` from `root`, following links on the way as go-ipld-prime
/// does, over the retrieved blocks.
pub fn resolve(blocks: &dyn BlockSink, root: &Cid, path: &[String]) -> Result<Cid> {
    let load = |c: &Cid| -> Result<Node> {
        let data = blocks
            .get(c)
            .with_context(|| format!("reading block {c}"))?
            .ok_or_else(|| anyhow!("block {c} on the path was not retrieved"))?;
        graphsync::ipld::decode(c, &data).map_err(|e| anyhow!("block {c}: {e}"))
    };
    let mut at = *root;
    let mut node = load(&at)?;
    // Whether the walk stands at a block (the root, or a link just followed).
    let mut at_block = true;
    for (i, seg) in path.iter().enumerate() {
        let segment = Segment::Key(seg.as_str().into());
        let next = lookup(&node, &segment)
            .ok_or_else(|| anyhow!("the path {} has no {seg:?} at step {}", path.join("/"), i + 1))?
            .clone();
        (node, at_block) = match next {
            Node::Link(c) => {
                at = c;
                (load(&c)?, true)
            }
            other => (other, false),
        };
    }
    if !at_block {
        bail!(
            "the path {} ends inside a block, not at a DAG to write out (end it at a link, e.g. …/Hash)",
            path.join("/")
        );
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_path_becomes_go_ipld_primes_path_selector() {
        let s = parse("Links/0/Hash").expect("parses");
        assert_eq!(
            s.path.as_deref(),
            Some(&["Links".to_string(), "0".into(), "Hash".into()][..])
        );
        // The selector go-ipld-prime's SelectorSpecFromPath builds, written out in dag-json.
        let spelled = parse(concat!(
            r#"{"|":[{".":{}},{"f":{"f>":{"Links":{"|":[{".":{}},{"f":{"f>":{"0":{"|":[{".":{}},"#,
            r#"{"f":{"f>":{"Hash":{"R":{"l":{"none":{}},":>":{"|":[{".":{}},{"a":{">":{"@":{}}}}]}}}}}}]}}}}]}}}}]}"#
        ))
        .expect("parses");
        assert_eq!(s.selector, spelled.selector);
        assert!(graphsync::Selector::from_cbor(s.selector.as_bytes()).is_ok());
    }

    #[test]
    fn a_json_selector_is_written_as_dag_cbor_and_checked() {
        let all = parse(r#"{"R":{"l":{"none":{}},":>":{"a":{">":{"@":{}}}}}}"#).expect("parses");
        assert_eq!(all.selector, market_types::ipld::all_selector());
        assert_eq!(all.path, None);
        assert!(parse(r#"{"nonsense":{}}"#).is_err());
        assert!(parse(r#"{"R":{"l":{"depth":1.5},":>":{"a":{">":{"@":{}}}}}}"#).is_err());
        assert_eq!(parse("").expect("empty").selector, market_types::ipld::all_selector());
    }
}

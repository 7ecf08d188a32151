//! Graphsync: the message frames with the data-transfer messages they carry, the requester's
//! check of a responder's answers, and selectors walked over a DAG.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use graphsync::ipld;
use graphsync::responder::{Assembly, SendOptions, ext as send_ext};
use graphsync::selector::build::{self, Spec};
use graphsync::testing::dag::{Dag, DagBuilder};
use graphsync::walk::{Step, Walk};
use graphsync::{Cid, Extensions, Message, Request, RequestId, RequestKind, ResponseStatus, Selector};
use market_types::datatransfer::{EXTENSION, EXTENSION_INCOMING_REQUEST, EXTENSION_OUTGOING_BLOCK, TransferMessage};
use market_types::ipld::RawCbor;

use crate::Target;

pub const MESSAGE: Target = Target {
    name: "graphsync_message",
    covers: "graphsync 2.0.0 frames and messages, the selectors and send options of their requests, and the data-transfer 1.2.0 messages in their extensions",
    run: message,
    seeds: message_seeds,
};

pub const VERIFY: Target = Target {
    name: "graphsync_verify",
    covers: "the requester's check of a responder's messages against its own selector walk (wrong, extra, missing and out-of-order blocks)",
    run: verify,
    seeds: verify_seeds,
};

pub const SELECTOR_WALK: Target = Target {
    name: "selector_walk",
    covers: "IPLD selector parsing and walks (dag-pb, dag-cbor, raw, UnixFS interpret-as) over a fixed DAG, and block decoding",
    run: selector_walk,
    seeds: selector_seeds,
};

/// Link loads a fuzzed walk may make (a real responder caps them the same way).
const MAX_LINKS: u64 = 10_000;

/// Each frame in turn, as a stream carries them.
fn message(data: &[u8]) -> bool {
    let mut rest = data;
    let mut whole = !data.is_empty();
    while !rest.is_empty() {
        let Ok((msg, used)) = Message::from_frame(rest) else {
            return false;
        };
        assert!(
            used > 0 && used <= rest.len(),
            "a frame used {used} of {} bytes",
            rest.len()
        );
        rest = &rest[used..];
        for req in &msg.requests {
            if let RequestKind::New { selector, .. } = &req.kind {
                whole &= Selector::from_cbor(selector.as_bytes()).is_ok();
            }
            if let Some(ext) = req.extensions() {
                whole &= SendOptions::from_extensions(ext).is_ok();
                whole &= transfer_message(ext, EXTENSION_INCOMING_REQUEST);
            }
        }
        for rsp in &msg.responses {
            whole &= transfer_message(&rsp.extensions, EXTENSION_OUTGOING_BLOCK);
        }
        for block in &msg.blocks {
            whole &= ipld::cid_from_prefix(&block.prefix, &block.data).is_ok();
        }
    }
    whole
}

/// Whether the data-transfer message in `ext`, if there is one, decodes with its selector.
fn transfer_message(ext: &Extensions, specific: &str) -> bool {
    match data_transfer::message::from_extensions(ext, specific) {
        None => true,
        Some(Err(_)) => false,
        Some(Ok(TransferMessage { request: Some(r), .. })) => r
            .selector
            .as_ref()
            .is_none_or(|sel| Selector::from_cbor(sel.as_bytes()).is_ok()),
        Some(Ok(_)) => true,
    }
}

/// The DAG the walks and the verifier run over: files of dag-pb and raw leaves, a UnixFS
/// directory, dag-cbor maps and lists, shared subtrees.
fn dag() -> &'static Dag {
    static DAG: OnceLock<Dag> = OnceLock::new();
    DAG.get_or_init(|| {
        let mut b = DagBuilder::new(21);
        let file = b.file(20_000, 1024, 4);
        let leaf = b.raw(100);
        let dir = b.dir(&[("a.txt", file), ("b", leaf)]);
        let mixed = b.mixed(2, 6000);
        let root = b.cbor_map(
            &[("dir", Some(dir)), ("mixed", Some(mixed)), ("none", None)],
            &[leaf, file],
        );
        b.finish(root)
    })
}

fn id(n: u8) -> RequestId {
    RequestId([n; 16])
}

/// The selectors clients send, as the seeds' specs.
fn specs() -> Vec<Spec> {
    vec![
        build::all(),
        build::depth(2),
        Spec::Fields(vec![(
            "dir".into(),
            Spec::InterpretAs("unixfs".into(), Box::new(build::all())),
        )]),
        Spec::Fields(vec![(
            "dir".into(),
            Spec::InterpretAs(
                "unixfs".into(),
                Box::new(Spec::Fields(vec![("a.txt".into(), Spec::Matcher)])),
            ),
        )]),
        Spec::Union(vec![Spec::Matcher, Spec::Index(1, Box::new(Spec::Matcher))]),
        Spec::Range(0, 3, Box::new(Spec::Subset(0, 10))),
    ]
}

fn message_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let root = dag().root;
    for (n, spec) in specs().into_iter().enumerate() {
        let sel = spec.to_cbor();
        let voucher = data_transfer::message::TypedVoucher {
            kind: "RetrievalDealProposal/1".into(),
            node: RawCbor::from_value(&7u64),
        };
        let base = cid::Cid::try_from(root.to_bytes()).expect("a short CID");
        let dt = data_transfer::message::pull_request(n as u64, base, sel.clone(), &voucher, n % 2 == 1);
        let mut ext = Extensions::new();
        ext.insert(EXTENSION, Some(RawCbor::from_value(&dt)));
        ext.insert(
            send_ext::DO_NOT_SEND_FIRST_BLOCKS,
            Some(graphsync::responder::do_not_send_first_blocks(3)),
        );
        ext.insert(
            send_ext::DO_NOT_SEND_CIDS,
            Some(graphsync::responder::do_not_send_cids(&[root])),
        );
        let request = Request {
            id: id(n as u8),
            kind: RequestKind::New {
                root,
                selector: sel,
                priority: n as i32,
                extensions: ext,
            },
        };
        let msg = Message {
            requests: vec![
                request,
                Request {
                    id: id(99),
                    kind: RequestKind::Cancel,
                },
            ],
            responses: Vec::new(),
            blocks: Vec::new(),
        };
        out.push(msg.to_frame());
    }
    // A responder's messages, several frames in one input.
    for answer in answers(&build::all(), 0) {
        out.push(answer.concat());
    }
    out
}

/// A responder's messages for `spec` over the DAG (each message a frame), cut into messages
/// of at most `per_message` links when that is not 0.
fn answers(spec: &Spec, per_message: usize) -> Vec<Vec<Vec<u8>>> {
    let d = dag();
    let sel = Selector::from_cbor(&spec.to_bytes()).expect("the seed selector parses");
    let mut walk = Walk::new(d.root, sel, MAX_LINKS);
    let mut asm = Assembly::new(id(1));
    let mut n = 0;
    while let Ok(Step::Load(link)) = walk.step() {
        let block = d.blocks.get(&link);
        asm.link(link, block, true);
        if walk.loaded(block).is_err() {
            break;
        }
        n += 1;
        if per_message != 0 && n % per_message == 0 {
            asm.flush_partial();
        }
    }
    asm.flush(ResponseStatus::RequestCompletedFull);
    vec![asm.take_ready().iter().map(Message::to_frame).collect()]
}

/// Byte 0 picks the selector the requester walks; the rest is the responder's frames. Taken
/// whole when the verifier saw the walk completed.
fn verify(data: &[u8]) -> bool {
    let Some((&pick, mut rest)) = data.split_first() else {
        return false;
    };
    let specs = specs();
    let spec = &specs[pick as usize % specs.len()];
    let Ok(sel) = Selector::from_cbor(&spec.to_bytes()) else {
        return false;
    };
    let mut verifier = graphsync::requester::Verifier::new(dag().root, sel, MAX_LINKS);
    let mut received: HashMap<Cid, Bytes> = HashMap::new();
    while !rest.is_empty() {
        let Ok((msg, used)) = Message::from_frame(rest) else {
            return false;
        };
        rest = &rest[used..];
        let mut blocks = HashMap::new();
        for b in &msg.blocks {
            if let Ok(cid) = ipld::cid_from_prefix(&b.prefix, &b.data) {
                blocks.insert(cid, b.data.clone());
            }
        }
        for rsp in &msg.responses {
            let mut local = |c: &Cid| received.get(c).cloned();
            let Ok(loads) = verifier.on_response(rsp, &blocks, &mut local) else {
                return false;
            };
            for load in loads {
                if let graphsync::requester::Verified::Received { link, data } = load {
                    assert!(
                        ipld::verify(&link, &data).is_ok(),
                        "the verifier accepted a block that is not its CID"
                    );
                    received.insert(link, data);
                }
            }
        }
    }
    verifier.finished().is_some_and(ResponseStatus::is_success)
}

fn verify_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (n, spec) in specs().iter().enumerate() {
        for per in [0, 3] {
            for frames in answers(spec, per) {
                let mut input = vec![n as u8];
                input.extend(frames.concat());
                out.push(input);
            }
        }
    }
    out
}

/// Byte 0: 0 walks the rest as a selector over the DAG; 1–3 decode the rest as a raw,
/// dag-cbor or dag-pb block (and a dag-pb block as the UnixFS ADL reads it).
fn selector_walk(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    match mode % 4 {
        0 => walk(rest),
        m => {
            let codec = [ipld::codec::RAW, ipld::codec::DAG_CBOR, ipld::codec::DAG_PB][m as usize - 1];
            let hash = cid::multihash::Multihash::<128>::wrap(ipld::IDENTITY, b"fuzz").expect("a short identity hash");
            let cid = Cid::new_v1(codec, hash);
            let block = Bytes::copy_from_slice(rest);
            let Ok(node) = ipld::decode(&cid, &block) else {
                return false;
            };
            if codec != ipld::codec::DAG_PB {
                return true;
            }
            // A directory's names, or a file's sizes and children.
            let _ = graphsync::unixfs::file_children(&node);
            let _ = graphsync::unixfs::file_length(&node);
            graphsync::unixfs::reify(&node, false).is_ok()
        }
    }
}

/// Whether `selector` parses and its walk over the DAG ends.
fn walk(selector: &[u8]) -> bool {
    let Ok(sel) = Selector::from_cbor(selector) else {
        return false;
    };
    let d = dag();
    let mut walk = Walk::new(d.root, Arc::clone(&sel), MAX_LINKS);
    let mut loads = 0u64;
    loop {
        match walk.step() {
            Ok(Step::Load(link)) => {
                loads += 1;
                assert!(loads <= MAX_LINKS, "the walk went past its link limit");
                if walk.loaded(d.blocks.get(&link)).is_err() {
                    return false;
                }
            }
            Ok(Step::Done) => return true,
            Err(_) => return false,
        }
    }
}

fn selector_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = specs()
        .iter()
        .map(|s| {
            let mut input = vec![0];
            input.extend(s.to_bytes());
            input
        })
        .collect();
    let mut blocks: Vec<(&Cid, &Bytes)> = dag().blocks.iter().collect();
    blocks.sort();
    for (cid, data) in blocks.into_iter().take(40) {
        let mode = match cid.codec() {
            ipld::codec::RAW => 1,
            ipld::codec::DAG_CBOR => 2,
            _ => 3,
        };
        let mut input = vec![mode];
        input.extend_from_slice(data);
        out.push(input);
    }
    out
}

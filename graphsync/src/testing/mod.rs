//! Value generators for graphsync messages (property tests and the Go interop harness).

use arbitrary::{Result, Unstructured};
use market_types::bytes::Bytes;
use market_types::ipld::RawCbor;
use market_types::testing::Arb;

use crate::message::{
    Block, Extensions, LinkAction, Message, MetadataEntry, Request, RequestId, RequestKind, Response, ResponseStatus,
};

/// The extension names go-data-transfer and go-graphsync use, and one of our own.
const EXTENSION_NAMES: &[&str] = &[
    "fil/data-transfer/1.1",
    "fil/data-transfer/incoming-request/1.1",
    "fil/data-transfer/outgoing-block/1.1",
    "graphsync/do-not-send-cids",
    "graphsync/do-not-send-first-blocks",
    "graphsync/dedup-by-key",
    "x",
];

impl Arb for RequestId {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        Ok(RequestId(u.arbitrary()?))
    }
}

impl Arb for Extensions {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let mut ext = Extensions::new();
        for _ in 0..u.int_in_range(0..=3)? {
            let name = *u.choose(EXTENSION_NAMES)?;
            // Never null: go-graphsync writes a nil extension as null but cannot read one back.
            ext.insert(name, Some(RawCbor::arb(u)?));
        }
        Ok(ext)
    }
}

impl Arb for Request {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let id = RequestId::arb(u)?;
        let kind = match u.int_in_range(0..=2)? {
            0 => RequestKind::New {
                root: crate::block_cid(&cid::Cid::arb(u)?),
                selector: RawCbor::arb(u)?,
                priority: u.arbitrary()?,
                extensions: Extensions::arb(u)?,
            },
            1 => RequestKind::Cancel,
            _ => RequestKind::Update {
                extensions: Extensions::arb(u)?,
            },
        };
        Ok(Request { id, kind })
    }
}

impl Arb for Response {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let n = u.int_in_range(0..=4)?;
        let mut metadata = Vec::with_capacity(n);
        for _ in 0..n {
            metadata.push(MetadataEntry {
                link: crate::block_cid(&cid::Cid::arb(u)?),
                action: *u.choose(LinkAction::ALL)?,
            });
        }
        Ok(Response {
            request_id: RequestId::arb(u)?,
            status: *u.choose(ResponseStatus::ALL)?,
            metadata,
            extensions: Extensions::arb(u)?,
        })
    }
}

impl Arb for Block {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        // Real prefixes: CIDv0 dag-pb, CIDv1 raw / dag-pb sha2-256, dag-cbor blake2b-256.
        let prefix = u
            .choose(&[
                &[0x00, 0x70, 0x12, 0x20][..],
                &[0x01, 0x55, 0x12, 0x20],
                &[0x01, 0x70, 0x12, 0x20],
                &[0x01, 0x71, 0xa0, 0xe4, 0x02, 0x20],
            ])?
            .to_vec();
        Ok(Block {
            prefix,
            data: Bytes::arb(u)?.0.into(),
        })
    }
}

impl Arb for Message {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        Ok(Message {
            requests: Vec::arb(u)?,
            responses: Vec::arb(u)?,
            blocks: Vec::arb(u)?,
        })
    }
}

pub mod dag;
pub mod swarm;

//! The requester's check without IO: it walks the selector itself and takes each metadata
//! entry the responder sends as the answer to the walk's next link load, in order, as
//! go-graphsync's `reconciledloader` does. A link other than the one the walk wants, a block
//! that does not hash to its link, an entry after the walk's end or a completion before it
//! fails the request.

use std::collections::HashMap;
use std::sync::Arc;

use crate::Cid;
use bytes::Bytes;

use crate::message::{LinkAction, Response, ResponseStatus};
use crate::selector::Selector;
use crate::walk::{Step, Walk, WalkError};

/// Why a response was not what the walk expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("responder sent {got} where the selector walk needs {expected} (wrong or out-of-order block)")]
    WrongLink { expected: Box<Cid>, got: Box<Cid> },
    #[error("responder sent {0} after the selector walk was complete (extra block)")]
    Extra(Box<Cid>),
    #[error("responder marked {0} present but neither sent it nor was it received before (missing block)")]
    MissingBlock(Box<Cid>),
    #[error("responder finished with status {status:?} while the walk still needs {needs} (missing blocks)")]
    Incomplete { status: ResponseStatus, needs: Box<Cid> },
    #[error("the selector walk failed: {0}")]
    Walk(#[from] WalkError),
}

/// One verified link load, in walk order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// A block that arrived in this response (new to the local store).
    Received { link: Cid, data: Bytes },
    /// A block marked present and taken from what was received before (a duplicate, or one
    /// skipped by do-not-send-first-blocks or do-not-send-cids).
    Local { link: Cid, data: Bytes },
    /// A block the responder does not have; the walk skips what is under it.
    Missing { link: Cid },
}

/// A request's verifier.
#[derive(Debug)]
pub struct Verifier {
    walk: Walk,
    finished: Option<ResponseStatus>,
}

impl Verifier {
    pub fn new(root: Cid, selector: Arc<Selector>, max_links: u64) -> Self {
        Verifier {
            walk: Walk::new(root, selector, max_links),
            finished: None,
        }
    }

    /// Check one response. `blocks` are the blocks of the message it came in, by CID (the
    /// CID computed from the data, so a block is what its CID says); `local` finds a block
    /// received before. Returns the verified loads in order.
    pub fn on_response(
        &mut self,
        response: &Response,
        blocks: &HashMap<Cid, Bytes>,
        local: &mut dyn FnMut(&Cid) -> Option<Bytes>,
    ) -> Result<Vec<Verified>, VerifyError> {
        let mut out = Vec::with_capacity(response.metadata.len());
        for entry in &response.metadata {
            let expected = match self.walk.step()? {
                Step::Load(c) => c,
                Step::Done => return Err(VerifyError::Extra(Box::new(entry.link))),
            };
            if entry.link != expected {
                return Err(VerifyError::WrongLink {
                    expected: Box::new(expected),
                    got: Box::new(entry.link),
                });
            }
            match entry.action {
                LinkAction::Missing | LinkAction::DuplicateDagSkipped => {
                    self.walk.loaded(None)?;
                    out.push(Verified::Missing { link: expected });
                }
                LinkAction::Present | LinkAction::DuplicateNotSent => {
                    if let Some(data) = blocks.get(&expected) {
                        self.walk.loaded(Some(data))?;
                        out.push(Verified::Received {
                            link: expected,
                            data: data.clone(),
                        });
                    } else if let Some(data) = local(&expected) {
                        self.walk.loaded(Some(&data))?;
                        out.push(Verified::Local { link: expected, data });
                    } else if expected.hash().code() == crate::ipld::IDENTITY {
                        // An inlined block is its CID: a responder need not send it.
                        let data = Bytes::copy_from_slice(expected.hash().digest());
                        self.walk.loaded(Some(&data))?;
                        out.push(Verified::Received { link: expected, data });
                    } else {
                        return Err(VerifyError::MissingBlock(Box::new(expected)));
                    }
                }
            }
        }
        if response.status.is_terminal() {
            self.finished = Some(response.status);
            if let (true, Step::Load(needs)) = (response.status.is_success(), self.walk.step()?) {
                return Err(VerifyError::Incomplete {
                    status: response.status,
                    needs: Box::new(needs),
                });
            }
        }
        Ok(out)
    }

    /// The terminal status received, if any.
    pub fn finished(&self) -> Option<ResponseStatus> {
        self.finished
    }

    /// Link loads verified so far.
    pub fn links(&self) -> u64 {
        self.walk.links_loaded()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MetadataEntry, RequestId};
    use crate::selector::build;
    use crate::testing::dag::DagBuilder;

    fn response(status: ResponseStatus, links: &[(Cid, LinkAction)]) -> Response {
        Response {
            request_id: RequestId([0; 16]),
            status,
            metadata: links
                .iter()
                .map(|(link, action)| MetadataEntry {
                    link: *link,
                    action: *action,
                })
                .collect(),
            extensions: Default::default(),
        }
    }

    #[test]
    fn wrong_extra_and_missing_blocks_fail_the_request() {
        let mut b = DagBuilder::new(7);
        let l1 = b.raw(10);
        let l2 = b.raw(10);
        let root = b.pb(&[l1, l2]);
        let dag = b.finish(root);
        let sel = Selector::from_cbor(build::all().to_cbor().as_bytes()).expect("selector");
        let p = LinkAction::Present;
        let mut none = |_: &Cid| None;

        // In order: fine, and complete.
        let mut v = Verifier::new(root, sel.clone(), u64::MAX);
        let all = response(ResponseStatus::RequestCompletedFull, &[(root, p), (l1, p), (l2, p)]);
        assert_eq!(v.on_response(&all, &dag.blocks, &mut none).map(|r| r.len()), Ok(3));

        // Out of order.
        let mut v = Verifier::new(root, sel.clone(), u64::MAX);
        let swapped = response(ResponseStatus::PartialResponse, &[(root, p), (l2, p)]);
        assert_eq!(
            v.on_response(&swapped, &dag.blocks, &mut none),
            Err(VerifyError::WrongLink {
                expected: Box::new(l1),
                got: Box::new(l2)
            })
        );

        // Extra after the end.
        let mut v = Verifier::new(root, sel.clone(), u64::MAX);
        let extra = response(ResponseStatus::PartialResponse, &[(root, p), (l1, p), (l2, p), (l1, p)]);
        assert_eq!(
            v.on_response(&extra, &dag.blocks, &mut none),
            Err(VerifyError::Extra(Box::new(l1)))
        );

        // Present but never sent.
        let mut v = Verifier::new(root, sel.clone(), u64::MAX);
        let mut only_root = HashMap::new();
        only_root.insert(root, dag.blocks[&root].clone());
        let absent = response(ResponseStatus::PartialResponse, &[(root, p), (l1, p)]);
        assert_eq!(
            v.on_response(&absent, &only_root, &mut none),
            Err(VerifyError::MissingBlock(Box::new(l1)))
        );

        // Completed early.
        let mut v = Verifier::new(root, sel, u64::MAX);
        let early = response(ResponseStatus::RequestCompletedFull, &[(root, p), (l1, p)]);
        assert_eq!(
            v.on_response(&early, &dag.blocks, &mut none),
            Err(VerifyError::Incomplete {
                status: ResponseStatus::RequestCompletedFull,
                needs: Box::new(l2)
            })
        );
    }
}

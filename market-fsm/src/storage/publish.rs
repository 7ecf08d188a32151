//! Publish batching, one batcher per miner (droplet's DealPublisher): deals wait until
//! `PublishMsgPeriod` has passed since the first of them, or until `MaxDealsPerPublishMsg`
//! are waiting, or until forced (`pending-publish --publish-now`). A batch is also capped by
//! the encoded size of its message, so a batch of large proposals never exceeds what a node
//! accepts. Time comes in as milliseconds from the caller; nothing here reads a clock.

use std::collections::HashMap;

use market_types::chain::PublishStorageDealsReturn;
use market_types::states::StorageDealStatus;
use market_types::units::{ChainEpoch, DealId};
use market_types::{Address, Cid, TokenAmount};

/// The largest PublishStorageDeals parameters sent in one message (lotus refuses messages
/// over 64 KiB in total).
pub const MAX_PARAMS_BYTES: usize = 60 * 1024;

/// One deal waiting to be published: its proposal CID and the size of its encoded
/// `ClientDealProposal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub proposal_cid: Cid,
    pub encoded_len: usize,
    pub added_ms: u64,
}

/// A miner's batcher.
#[derive(Debug, Clone)]
pub struct Batcher {
    pub period_ms: u64,
    pub max_deals: usize,
    pub max_params_bytes: usize,
    waiting: Vec<Waiting>,
    forced: bool,
    /// No batch before this (the node was away: try again then).
    hold_until_ms: u64,
}

impl Batcher {
    pub fn new(period_ms: u64, max_deals: usize) -> Self {
        Batcher {
            period_ms,
            max_deals: max_deals.max(1),
            max_params_bytes: MAX_PARAMS_BYTES,
            waiting: Vec::new(),
            forced: false,
            hold_until_ms: 0,
        }
    }

    /// Queue again deals of a batch that could not be checked or sent (the node away): due
    /// at once, but no batch goes out before `retry_at_ms`.
    pub fn retry(&mut self, deals: &[(Cid, usize)], now_ms: u64, retry_at_ms: u64) {
        for (c, len) in deals {
            self.add(*c, *len, now_ms);
        }
        if !deals.is_empty() {
            self.forced = true;
        }
        self.hold_until_ms = self.hold_until_ms.max(retry_at_ms);
    }

    /// Queue a deal (again queuing one already waiting changes nothing).
    pub fn add(&mut self, proposal_cid: Cid, encoded_len: usize, now_ms: u64) {
        if !self.waiting.iter().any(|w| w.proposal_cid == proposal_cid) {
            self.waiting.push(Waiting {
                proposal_cid,
                encoded_len,
                added_ms: now_ms,
            });
        }
    }

    /// Drop a deal that should no longer be published (failed its re-check, cancelled).
    pub fn remove(&mut self, proposal_cid: &Cid) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|w| &w.proposal_cid != proposal_cid);
        before != self.waiting.len()
    }

    /// Publish what is waiting at the next [`Batcher::take`], whatever the period.
    pub fn force(&mut self) {
        self.forced = true;
    }

    pub fn waiting(&self) -> &[Waiting] {
        &self.waiting
    }

    /// When the next batch is due (for the caller's timer), if anything waits.
    pub fn due_ms(&self) -> Option<u64> {
        let first = self.waiting.iter().map(|w| w.added_ms).min()?;
        let due = if self.forced || self.waiting.len() >= self.max_deals {
            first
        } else {
            first.saturating_add(self.period_ms)
        };
        Some(due.max(self.hold_until_ms))
    }

    /// The next batch if one is due at `now_ms`: oldest first, at most `max_deals`, within
    /// the size cap (a single deal is always taken, so nothing waits forever).
    pub fn take(&mut self, now_ms: u64) -> Option<Vec<Cid>> {
        let due = self.due_ms()?;
        if now_ms < self.hold_until_ms || (now_ms < due && !self.forced && self.waiting.len() < self.max_deals) {
            return None;
        }
        self.waiting.sort_by_key(|w| w.added_ms);
        // `[[deal, …]]`: two array headers of at most 3 bytes each around the deals.
        let mut bytes = 6;
        let mut n = 0;
        for w in &self.waiting {
            if n == self.max_deals || (n > 0 && bytes + w.encoded_len > self.max_params_bytes) {
                break;
            }
            bytes += w.encoded_len;
            n += 1;
        }
        let batch: Vec<Cid> = self.waiting.drain(..n).map(|w| w.proposal_cid).collect();
        if self.waiting.is_empty() {
            self.forced = false;
        }
        Some(batch)
    }
}

/// A queued deal as the publisher finds it when its batch is due (read afresh from the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub proposal_cid: Cid,
    pub status: StorageDealStatus,
    pub client: Address,
    pub start_epoch: ChainEpoch,
    /// What the deal needs from the client's escrow.
    pub client_need: TokenAmount,
}

/// What becomes of a due batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    /// Into the message, in this order.
    pub publish: Vec<Cid>,
    /// Failed by the re-check, each with droplet's reason.
    pub fail: Vec<(Cid, String)>,
    /// No longer waiting to be published (failed, overridden by hand, or gone while queued):
    /// left out without an event.
    pub skip: Vec<Cid>,
    /// Not checked because the chain could not be read (the node away): queued again, to be
    /// checked when it is back.
    pub retry: Vec<Cid>,
}

/// Why a client's balance was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub reason: String,
    /// The node was not reached: nothing is known, so the deal waits rather than fails.
    pub retry: bool,
}

/// Re-check a due batch: only deals still in `Publish` go on; a deal whose start epoch has
/// passed, or whose client's escrow does not cover it together with that client's earlier
/// deals in the batch, fails alone (the market actor checks the whole message, so one short
/// client must not sink the others). `balances` holds each client's available escrow, or why
/// it could not be read. Without a head (`None`: the node not reached) nothing can be checked
/// and every deal waits; so does a deal whose client's balance the node was not reached for.
pub fn admit(
    batch: Vec<Queued>,
    head: Option<ChainEpoch>,
    balances: &HashMap<Address, Result<TokenAmount, Unread>>,
) -> Admission {
    let mut out = Admission::default();
    let mut committed: HashMap<Address, TokenAmount> = HashMap::new();
    for q in batch {
        if q.status != StorageDealStatus::Publish {
            out.skip.push(q.proposal_cid);
            continue;
        }
        let problem = match head {
            None => {
                out.retry.push(q.proposal_cid);
                continue;
            }
            Some(h) if h > q.start_epoch => Some(format!("deal start epoch {} has passed (head {h})", q.start_epoch)),
            Some(_) => match balances.get(&q.client) {
                None => Some("reading the client's balance: not read".to_string()),
                Some(Err(e)) if e.retry => {
                    out.retry.push(q.proposal_cid);
                    continue;
                }
                Some(Err(e)) => Some(format!("reading the client's balance: {}", e.reason)),
                Some(Ok(available)) => {
                    let total = committed.get(&q.client).cloned().unwrap_or_default() + &q.client_need;
                    if *available < total {
                        Some(format!(
                            "client escrow too small: {} available, {} needed with the client's other deals in this batch",
                            available.atto(),
                            total.atto()
                        ))
                    } else {
                        committed.insert(q.client, total);
                        None
                    }
                }
            },
        };
        match problem {
            Some(reason) => out.fail.push((q.proposal_cid, reason)),
            None => out.publish.push(q.proposal_cid),
        }
    }
    out
}

/// Map a landed PublishStorageDeals message back to its deals: the valid-deals bitfield says
/// which inputs were published, in order, and the IDs go to those alone.
pub fn deal_ids(batch: &[Cid], ret: &PublishStorageDealsReturn) -> Result<Vec<(Cid, Option<DealId>)>, String> {
    let ids = ret.deal_ids_by_input(batch.len())?;
    Ok(batch.iter().copied().zip(ids).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use market_types::chain::BitField;

    fn cid(n: u8) -> Cid {
        market_types::chain::chain_cid(&[n])
    }

    const HOUR: u64 = 3_600_000;

    #[test]
    fn ten_deals_with_four_per_message_go_out_in_three_messages() {
        let mut b = Batcher::new(HOUR, 4);
        for i in 0..10 {
            b.add(cid(i), 400, 1000 + u64::from(i));
        }
        let first = b.take(1010).expect("full batch at once");
        assert_eq!(first, (0..4).map(cid).collect::<Vec<_>>());
        let second = b.take(1010).expect("another full batch");
        assert_eq!(second, (4..8).map(cid).collect::<Vec<_>>());
        assert_eq!(b.take(1010), None, "two left: wait for the period");
        assert_eq!(b.due_ms(), Some(1008 + HOUR));
        assert_eq!(b.take(1008 + HOUR), Some(vec![cid(8), cid(9)]));
        assert_eq!(b.take(u64::MAX), None, "nothing left");
    }

    #[test]
    fn a_due_batch_keeps_only_deals_still_publishing_and_fails_the_ones_that_no_longer_hold() {
        let (a, b) = (Address::new_id(1001), Address::new_id(1002));
        let q = |n: u8, status, client, start, need: u64| Queued {
            proposal_cid: cid(n),
            status,
            client,
            start_epoch: start,
            client_need: TokenAmount::from_atto(need),
        };
        let batch = vec![
            q(1, StorageDealStatus::Publish, a, 100, 60),
            q(2, StorageDealStatus::Failing, a, 100, 1),
            q(3, StorageDealStatus::Publish, a, 100, 60),
            q(4, StorageDealStatus::Publish, b, 100, 5),
            q(5, StorageDealStatus::Publish, b, 10, 5),
            q(6, StorageDealStatus::Publish, Address::new_id(9), 100, 5),
            q(7, StorageDealStatus::Publish, Address::new_id(10), 100, 5),
        ];
        let mut balances = HashMap::new();
        balances.insert(a, Ok(TokenAmount::from_atto(100u64)));
        balances.insert(b, Ok(TokenAmount::from_atto(5u64)));
        balances.insert(
            Address::new_id(9),
            Err(Unread {
                reason: "actor not found".into(),
                retry: false,
            }),
        );
        balances.insert(
            Address::new_id(10),
            Err(Unread {
                reason: "connection refused".into(),
                retry: true,
            }),
        );
        let out = admit(batch, Some(50), &balances);
        assert_eq!(out.publish, vec![cid(1), cid(4)]);
        assert_eq!(out.retry, vec![cid(7)], "the node not reached: the deal waits");
        assert_eq!(out.skip, vec![cid(2)], "a deal failed while queued stays off chain");
        let reasons: Vec<(Cid, &str)> = out.fail.iter().map(|(c, r)| (*c, r.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (
                    cid(3),
                    "client escrow too small: 100 available, 120 needed with the client's other deals in this batch"
                ),
                (cid(5), "deal start epoch 10 has passed (head 50)"),
                (cid(6), "reading the client's balance: actor not found"),
            ]
        );
        let blind = admit(
            vec![
                q(1, StorageDealStatus::Publish, a, 100, 1),
                q(2, StorageDealStatus::Failing, a, 100, 1),
            ],
            None,
            &balances,
        );
        assert_eq!(
            (blind.retry, blind.fail, blind.skip),
            (vec![cid(1)], Vec::new(), vec![cid(2)]),
            "without a head nothing is checked: the deal waits"
        );
    }

    #[test]
    fn a_batch_the_node_could_not_take_is_due_again_after_the_hold() {
        let mut b = Batcher::new(HOUR, 8);
        b.add(cid(1), 400, 0);
        b.force();
        let batch = b.take(10).expect("forced");
        assert_eq!(batch, vec![cid(1)]);
        b.retry(&[(cid(1), 400)], 20, 5_020);
        assert_eq!(b.due_ms(), Some(5_020));
        assert_eq!(b.take(5_000), None, "held");
        assert_eq!(
            b.take(5_020),
            Some(vec![cid(1)]),
            "due at once after the hold, not a period later"
        );
    }

    #[test]
    fn forcing_publishes_now_and_removed_deals_stay_out() {
        let mut b = Batcher::new(HOUR, 8);
        b.add(cid(1), 400, 0);
        b.add(cid(2), 400, 1);
        b.add(cid(1), 400, 2);
        assert_eq!(b.waiting().len(), 2, "queued once");
        assert!(b.remove(&cid(1)));
        assert_eq!(b.take(10), None);
        b.force();
        assert_eq!(b.take(10), Some(vec![cid(2)]));
    }

    #[test]
    fn batches_stay_under_the_message_size_cap() {
        let mut b = Batcher::new(0, 8);
        for i in 0..5 {
            b.add(cid(i), 25_000, u64::from(i));
        }
        assert_eq!(
            b.take(100).map(|v| v.len()),
            Some(2),
            "two 25 KB proposals fit 60 KiB, three do not"
        );
        assert_eq!(b.take(100).map(|v| v.len()), Some(2));
        assert_eq!(b.take(100).map(|v| v.len()), Some(1));
        let mut huge = Batcher::new(0, 8);
        huge.add(cid(9), 100_000, 0);
        assert_eq!(huge.take(0), Some(vec![cid(9)]), "one oversized deal still goes, alone");
    }

    #[test]
    fn deal_ids_follow_the_valid_deals_bitfield() {
        let batch = vec![cid(1), cid(2), cid(3)];
        let ret = PublishStorageDealsReturn {
            ids: vec![40, 41],
            valid_deals: BitField::from_indices([0, 2]),
        };
        assert_eq!(
            deal_ids(&batch, &ret),
            Ok(vec![(cid(1), Some(40)), (cid(2), None), (cid(3), Some(41))])
        );
        let bad = PublishStorageDealsReturn {
            ids: vec![40],
            valid_deals: BitField::from_indices([0, 2]),
        };
        assert!(deal_ids(&batch, &bad).is_err(), "more valid deals than IDs");
    }
}

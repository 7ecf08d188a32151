//! The chain: a message pool, block production (one block per tipset, null rounds when
//! epochs are skipped), the message and receipt index behind `ChainGetMessage`,
//! `StateSearchMsg` and `StateWaitMsg`, and the record of every block that a restart
//! replays.
//!
//! Sans-IO: the caller decides when a block is made (a timer, or a devnet-only RPC call),
//! gives the timestamp, and persists what [`Chain::mine`] returns.
//!
//! Simplifications, documented: a tipset has one block, mined by the first miner; the block's
//! `Messages`, `ParentMessageReceipts` and `ParentStateRoot` CIDs are hashes of our own
//! records (not AMT/HAMT roots, which no Rust client here reads); state queries at an older
//! tipset answer from the current state. Block headers are real CBOR and their CIDs are the
//! real ones, so Go clients that rebuild tipsets from headers accept them.

use std::collections::{BTreeMap, HashMap};

use market_types::chain::{
    BlockHeader, MessageReceipt, MsgLookup, SignedMessage, Ticket, TipSet, TipSetKey, chain_cid,
};
use market_types::units::ChainEpoch;
use market_types::{Address, BigInt, Bytes, Cid, SigType, cbor};

use crate::state::{MessageRejected, State};

/// One block as the chain records it: the header, the messages it carries and the
/// receipts of executing them (in the same order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRecord {
    pub header: BlockHeader,
    pub messages: Vec<SignedMessage>,
    pub receipts: Vec<MessageReceipt>,
}

impl BlockRecord {
    /// The stored form: CBOR `[header, [messages, receipts]]`.
    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::to_vec(&(self.header.clone(), (self.messages.clone(), self.receipts.clone())))
    }

    pub fn from_bytes(raw: &[u8]) -> Result<BlockRecord, cbor::DecodeError> {
        let (header, (messages, receipts)): (BlockHeader, (Vec<SignedMessage>, Vec<MessageReceipt>)) =
            cbor::from_slice(raw)?;
        Ok(BlockRecord {
            header,
            messages,
            receipts,
        })
    }
}

/// Where an executed message is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Executed {
    height: ChainEpoch,
    index: usize,
}

/// The chain: state, blocks, message pool.
#[derive(Debug, Clone)]
pub struct Chain {
    pub state: State,
    /// Tipsets by height (absent heights are null rounds).
    tipsets: BTreeMap<ChainEpoch, BlockRecord>,
    executed: HashMap<Cid, Executed>,
    /// Heights of blocks by block CID.
    heights: HashMap<Cid, ChainEpoch>,
    /// Pending messages by sender and nonce.
    mpool: BTreeMap<Address, BTreeMap<u64, SignedMessage>>,
    /// The block miner named in headers.
    block_miner: Address,
}

/// Why a block record could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("block at height {height} does not follow the head at {head}")]
    OutOfOrder { height: ChainEpoch, head: ChainEpoch },
    #[error("block at height {height}: message {cid} gave exit code {got} on replay, {want} when first run")]
    Diverged {
        height: ChainEpoch,
        cid: Cid,
        got: i64,
        want: i64,
    },
}

impl Chain {
    /// A chain whose genesis state is `state` (at its epoch), with a genesis block.
    pub fn new(state: State, genesis_timestamp: u64) -> Chain {
        let block_miner = state
            .miners()
            .next()
            .map_or(Address::new_id(crate::state::FIRST_NON_SINGLETON_ID), |(id, _)| {
                Address::new_id(id)
            });
        let mut chain = Chain {
            state,
            tipsets: BTreeMap::new(),
            executed: HashMap::new(),
            heights: HashMap::new(),
            mpool: BTreeMap::new(),
            block_miner,
        };
        let header = chain.header(Vec::new(), &[], genesis_timestamp);
        let genesis = BlockRecord {
            header,
            messages: Vec::new(),
            receipts: Vec::new(),
        };
        chain.record(chain.state.epoch, genesis);
        chain
    }

    pub fn head(&self) -> TipSet {
        let (_, b) = self.tipsets.last_key_value().expect("genesis exists");
        TipSet::new(vec![b.header.clone()]).expect("one block")
    }

    pub fn height(&self) -> ChainEpoch {
        self.state.epoch
    }

    pub fn genesis(&self) -> TipSet {
        let (_, b) = self.tipsets.first_key_value().expect("genesis exists");
        TipSet::new(vec![b.header.clone()]).expect("one block")
    }

    /// The tipset at `height`, or the last one before it when `height` is a null round
    /// (lotus `ChainGetTipSetByHeight`).
    pub fn tipset_at_or_before(&self, height: ChainEpoch) -> Option<TipSet> {
        self.tipsets
            .range(..=height)
            .next_back()
            .map(|(_, b)| TipSet::new(vec![b.header.clone()]).expect("one block"))
    }

    /// The tipset with this key, if it is on the chain.
    pub fn tipset_by_key(&self, key: &TipSetKey) -> Option<TipSet> {
        if key.0.is_empty() {
            return Some(self.head());
        }
        let height = self.heights.get(key.0.first()?)?;
        self.tipsets
            .get(height)
            .map(|b| TipSet::new(vec![b.header.clone()]).expect("one block"))
    }

    /// The tipsets above `height`, oldest first (what a `ChainNotify` subscriber has not
    /// seen yet).
    pub fn tipsets_after(&self, height: ChainEpoch) -> Vec<TipSet> {
        use std::ops::Bound;
        self.tipsets
            .range((Bound::Excluded(height), Bound::Unbounded))
            .map(|(_, b)| TipSet::new(vec![b.header.clone()]).expect("one block"))
            .collect()
    }

    /// Every block after genesis, in order, as stored.
    pub fn blocks(&self) -> impl Iterator<Item = &BlockRecord> {
        self.tipsets.values().skip(1)
    }

    // ------------------------------------------------------------ messages

    /// The nonce the next message from `addr` should use: past the chain's and the pool's.
    pub fn next_nonce(&self, addr: &Address) -> u64 {
        let on_chain = self.state.nonce(addr);
        let key = self.state.account_key(addr).unwrap_or(*addr);
        self.mpool
            .get(&key)
            .and_then(|m| m.keys().next_back())
            .map_or(on_chain, |n| (n + 1).max(on_chain))
    }

    /// Checks a signed message and adds it to the pool (a message with the same sender
    /// and nonce is replaced). Returns its CID.
    pub fn push(&mut self, signed: SignedMessage) -> Result<Cid, MessageRejected> {
        let from = signed.message.from;
        let key = self
            .state
            .account_key(&from)
            .ok_or_else(|| MessageRejected::UnknownSender(from.to_string()))?;
        let signing_bytes = signed.message.cid().to_bytes();
        market_crypto::verify(&signed.signature, &key, &signing_bytes)
            .map_err(|e| MessageRejected::BadSignature(e.to_string()))?;
        self.state.check_message(&signed.message)?;
        let cid = signed.cid();
        self.mpool.entry(key).or_default().insert(signed.message.nonce, signed);
        Ok(cid)
    }

    /// Messages waiting in the pool.
    pub fn pending(&self) -> impl Iterator<Item = &SignedMessage> {
        self.mpool.values().flat_map(|m| m.values())
    }

    /// A message on chain or in the pool, by CID (signed or unsigned).
    pub fn message(&self, cid: &Cid) -> Option<SignedMessage> {
        if let Some(e) = self.executed.get(cid) {
            return Some(self.tipsets[&e.height].messages[e.index].clone());
        }
        self.pending()
            .find(|m| &m.cid() == cid || &m.message.cid() == cid)
            .cloned()
    }

    /// Where a message was executed, and its receipt (`StateSearchMsg`).
    pub fn search(&self, cid: &Cid) -> Option<MsgLookup> {
        let e = self.executed.get(cid)?;
        let block = &self.tipsets[&e.height];
        let tipset = TipSet::new(vec![block.header.clone()]).expect("one block");
        Some(MsgLookup {
            message: block.messages[e.index].cid(),
            receipt: block.receipts[e.index].clone(),
            return_dec: market_types::json::Value::Null,
            tipset: tipset.key(),
            height: e.height,
        })
    }

    /// Confirmations a message at `height` has: the head's height minus its own.
    pub fn confidence(&self, height: ChainEpoch) -> i64 {
        self.height() - height
    }

    // ------------------------------------------------------------ blocks

    /// Mines the next tipset after `null_rounds` empty epochs: includes every pooled
    /// message whose nonce is next for its sender (in nonce order), executes them, runs
    /// cron, and returns the block for the caller to persist.
    pub fn mine(&mut self, null_rounds: u64, timestamp: u64) -> BlockRecord {
        let height = self.state.epoch + 1 + null_rounds as ChainEpoch;
        self.state.advance_to(height);
        let mut messages = Vec::new();
        let mut receipts = Vec::new();
        let senders: Vec<Address> = self.mpool.keys().copied().collect();
        for sender in senders {
            loop {
                let next = self.state.nonce(&sender);
                let Some(pool) = self.mpool.get_mut(&sender) else { break };
                // Drop stale nonces; stop at a gap.
                pool.retain(|n, _| *n >= next);
                let Some(msg) = pool.remove(&next) else { break };
                if let Err(e) = self.state.check_message(&msg.message) {
                    tracing::info!(cid = %msg.cid(), error = %e, "dropping a message that no longer fits");
                    continue;
                }
                let applied = self.state.apply_message(&msg.message);
                if let Some(err) = &applied.error {
                    tracing::info!(cid = %msg.cid(), code = applied.receipt.exit_code, %err, "message failed");
                }
                messages.push(msg);
                receipts.push(applied.receipt);
            }
        }
        self.mpool.retain(|_, m| !m.is_empty());
        self.state.end_epoch();
        let header = self.header(messages.clone(), &receipts, timestamp);
        let record = BlockRecord {
            header,
            messages,
            receipts,
        };
        self.record(height, record.clone());
        record
    }

    /// Replays a stored block on restart: executes its messages again and checks that the
    /// receipts agree with the ones recorded.
    pub fn replay(&mut self, block: &BlockRecord) -> Result<(), ReplayError> {
        let height = block.header.height;
        if height <= self.state.epoch {
            return Err(ReplayError::OutOfOrder {
                height,
                head: self.state.epoch,
            });
        }
        self.state.advance_to(height);
        for (msg, want) in block.messages.iter().zip(&block.receipts) {
            let got = self.state.apply_message(&msg.message).receipt;
            if got.exit_code != want.exit_code {
                return Err(ReplayError::Diverged {
                    height,
                    cid: msg.cid(),
                    got: got.exit_code,
                    want: want.exit_code,
                });
            }
        }
        self.state.end_epoch();
        let record = block.clone();
        // Messages replayed leave the pool.
        for m in &record.messages {
            let key = self.state.account_key(&m.message.from).unwrap_or(m.message.from);
            if let Some(pool) = self.mpool.get_mut(&key) {
                pool.remove(&m.message.nonce);
            }
        }
        self.record(height, record);
        Ok(())
    }

    /// Adds a block at `height` and indexes it and its messages.
    fn record(&mut self, height: ChainEpoch, record: BlockRecord) {
        for (index, m) in record.messages.iter().enumerate() {
            let at = Executed { height, index };
            self.executed.insert(m.cid(), at.clone());
            self.executed.insert(m.message.cid(), at);
        }
        self.heights.insert(record.header.cid(), height);
        self.tipsets.insert(height, record);
    }

    fn header(&self, messages: Vec<SignedMessage>, receipts: &[MessageReceipt], timestamp: u64) -> BlockHeader {
        let parent = self.tipsets.last_key_value().map(|(_, b)| b);
        let parents = parent.map(|b| vec![b.header.cid()]).unwrap_or_default();
        let parent_weight = parent.map_or(BigInt::from(0), |b| &b.header.parent_weight + BigInt::from(1));
        let bls: Vec<Cid> = messages
            .iter()
            .filter(|m| m.signature.sig_type == SigType::Bls)
            .map(|m| m.cid())
            .collect();
        let secp: Vec<Cid> = messages
            .iter()
            .filter(|m| m.signature.sig_type != SigType::Bls)
            .map(|m| m.cid())
            .collect();
        let parent_root = parent.map_or_else(|| chain_cid(b"devnet genesis state"), |b| b.header.parent_state_root);
        let height = self.state.epoch;
        BlockHeader {
            miner: self.block_miner,
            ticket: Some(Ticket {
                vrf_proof: Bytes(chain_cid(&height.to_be_bytes()).hash().digest().to_vec()),
            }),
            election_proof: None,
            beacon_entries: Vec::new(),
            win_post_proof: Vec::new(),
            parents,
            parent_weight,
            height,
            parent_state_root: chain_cid(&cbor::to_vec(&(parent_root, receipts.len() as u64))),
            parent_message_receipts: chain_cid(&cbor::to_vec(&receipts.to_vec())),
            messages: chain_cid(&cbor::to_vec(&(bls, secp))),
            bls_aggregate: None,
            timestamp,
            block_sig: None,
            fork_signaling: 0,
            parent_base_fee: self.state.policy.base_fee.clone(),
        }
    }
}

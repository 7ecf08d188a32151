//! The devnet's actors against the market rules (rpc-and-anchors B): every rule is a test
//! that a message breaking it is refused with the real exit code, and that the good
//! version of the same message passes.

mod common;

use devnet::state::policy::{DEAL_MIN_DURATION, fil};
use devnet::state::{Applied, Builtin, State};
use market_crypto::{Key, KeyType};
use market_types::actors::{
    ProveCommitSectorParams, TerminateSectorsParams, TerminateSectorsReturn, TerminationDeclaration, VerifierParams,
    exit_code, verifreg_method,
};
use market_types::chain::{
    BitField, ClientDealProposal, DealProposal, PublishStorageDealsParams, PublishStorageDealsReturn,
    SectorPreCommitInfo, SettleDealPaymentsParams, WithdrawBalanceParams, market_method, miner_method,
};
use market_types::units::{ChainEpoch, PaddedPieceSize};
use market_types::{Address, BigInt, Bytes, Cid, DealLabel, TokenAmount, cbor};

const SECTOR_SIZE: u64 = 2048;
const MARKET: u64 = 5;

/// The piece CID of 1000 bytes of `seed` (a 1024-byte piece).
fn piece_cid_of(seed: u8) -> Cid {
    let c = piece_store::commp::of_bytes(&[seed; 1000]).expect("commP");
    assert_eq!(c.padded_size, 1024);
    piece_store::commp::piece_cid_v1(&c.commp)
}

struct Net {
    st: State,
    client: Key,
    worker: Key,
    owner: Key,
    stranger: Key,
    miner: Address,
}

impl Net {
    fn new() -> Net {
        let common::ActorNet {
            st,
            client,
            worker,
            owner,
            stranger,
            miner,
        } = common::actor_net(SECTOR_SIZE);
        Net {
            st,
            client,
            worker,
            owner,
            stranger,
            miner,
        }
    }

    fn send(&mut self, from: &Key, to: Address, method: u64, params: Vec<u8>, value: TokenAmount) -> Applied {
        common::apply(&mut self.st, from, to, method, params, value)
    }

    fn ok(&mut self, from: &Key, to: Address, method: u64, params: Vec<u8>, value: TokenAmount) -> Vec<u8> {
        let a = self.send(from, to, method, params, value);
        assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
        a.receipt.return_data.0
    }

    /// `from` asks the market to withdraw `amount` of `who`'s escrow.
    fn withdraw(&mut self, from: &Key, who: Address, amount: TokenAmount) -> Applied {
        let params = cbor::to_vec(&WithdrawBalanceParams {
            provider_or_client_address: who,
            amount,
        });
        self.send(
            from,
            Address::new_id(MARKET),
            market_method::WITHDRAW_BALANCE,
            params,
            TokenAmount::default(),
        )
    }

    fn add_balance(&mut self, who: Address, amount: TokenAmount) {
        let payer = self.client.clone();
        self.ok(
            &payer,
            Address::new_id(MARKET),
            market_method::ADD_BALANCE,
            cbor::to_vec(&who),
            amount,
        );
    }

    fn fund_both(&mut self) {
        self.add_balance(self.client.address(), fil(100));
        self.add_balance(self.miner, fil(100));
    }

    /// A valid proposal for a piece of `seed` bytes starting at `start`.
    fn proposal(&self, seed: u8, start: ChainEpoch) -> DealProposal {
        DealProposal {
            piece_cid: piece_cid_of(seed),
            piece_size: PaddedPieceSize(1024),
            verified_deal: false,
            client: self.client.address(),
            provider: self.miner,
            label: DealLabel::String(format!("deal {seed}")),
            start_epoch: start,
            end_epoch: start + DEAL_MIN_DURATION,
            storage_price_per_epoch: TokenAmount::from_atto(1_000),
            provider_collateral: fil(1),
            client_collateral: TokenAmount::default(),
        }
    }

    fn sign(&self, p: DealProposal) -> ClientDealProposal {
        ClientDealProposal {
            client_signature: self.client.sign(&p.signing_bytes()),
            proposal: p,
        }
    }

    fn publish(&mut self, deals: Vec<ClientDealProposal>) -> Applied {
        let worker = self.worker.clone();
        self.send(
            &worker,
            Address::new_id(MARKET),
            market_method::PUBLISH_STORAGE_DEALS,
            cbor::to_vec(&PublishStorageDealsParams { deals }),
            TokenAmount::default(),
        )
    }

    fn publish_ok(&mut self, deals: Vec<ClientDealProposal>) -> PublishStorageDealsReturn {
        let a = self.publish(deals);
        assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
        cbor::from_slice(&a.receipt.return_data.0).expect("return")
    }

    fn id(&self, a: &Address) -> u64 {
        self.st.lookup_id(a).expect("id")
    }

    fn escrow(&self, a: &Address) -> (TokenAmount, TokenAmount) {
        let id = self.id(a);
        (self.st.market.escrow_of(id), self.st.market.locked_of(id))
    }

    fn burnt(&self) -> TokenAmount {
        self.st.actor(Builtin::BurntFunds as u64).expect("f099").balance.clone()
    }

    /// Pre-commits and proves sector `n` holding `deals`.
    fn seal(&mut self, n: u64, deals: &[u64]) -> Applied {
        let pieces: Vec<_> = deals
            .iter()
            .map(|d| {
                let p = &self.st.market.proposals[d];
                (
                    piece_store::commp::commp_from_cid_v1(&p.piece_cid).expect("piece"),
                    p.piece_size.0,
                )
            })
            .collect();
        let commd = piece_store::commp::aggregate_commd(&pieces, SECTOR_SIZE).expect("commd");
        let a = self.precommit(n, deals, Some(piece_store::commp::piece_cid_v1(&commd)));
        if a.receipt.exit_code != 0 {
            return a;
        }
        let worker = self.worker.clone();
        let miner = self.miner;
        self.send(
            &worker,
            miner,
            7,
            cbor::to_vec(&ProveCommitSectorParams {
                sector_number: n,
                proof: Bytes(vec![0xaa; 192]),
            }),
            TokenAmount::default(),
        )
    }

    fn precommit(&mut self, n: u64, deals: &[u64], unsealed: Option<Cid>) -> Applied {
        let info = SectorPreCommitInfo {
            seal_proof: 5,
            sector_number: n,
            sealed_cid: unsealed.unwrap_or_else(|| self.st.market.proposals[&0].piece_cid),
            seal_rand_epoch: self.st.epoch - 1,
            deal_ids: deals.to_vec(),
            expiration: self.st.epoch + 2 * DEAL_MIN_DURATION,
            unsealed_cid: unsealed,
        };
        let worker = self.worker.clone();
        let miner = self.miner;
        self.send(
            &worker,
            miner,
            miner_method::PRE_COMMIT_SECTOR_BATCH2,
            cbor::to_vec(&market_types::actors::PreCommitSectorBatch2Params { sectors: vec![info] }),
            TokenAmount::default(),
        )
    }
}

#[test]
fn one_bad_deal_among_good_ones_is_left_out_of_the_bitfield() {
    let mut n = Net::new();
    n.fund_both();
    let good1 = n.sign(n.proposal(1, 1000));
    let mut bad = n.sign(n.proposal(2, 1000));
    bad.client_signature = n.stranger.sign(&bad.proposal.signing_bytes());
    let good2 = n.sign(n.proposal(3, 1000));
    let ret = n.publish_ok(vec![good1.clone(), bad, good2]);
    assert_eq!(ret.ids, vec![0, 1]);
    assert_eq!(ret.valid_deals.indices(3).expect("bits"), vec![0, 2]);
    assert_eq!(ret.deal_ids_by_input(3).expect("map"), vec![Some(0), None, Some(1)]);
    // Stored with ID addresses; the client's lockup covers both deals.
    let (p, s) = n.st.market.deal(0).expect("deal 0");
    assert_eq!(p.client, Address::new_id(n.id(&n.client.address())));
    assert_eq!(p.provider, n.miner);
    assert_eq!(p.piece_cid, good1.proposal.piece_cid);
    assert_eq!(s.sector_start_epoch, -1);
    let (_, locked) = n.escrow(&n.client.address());
    assert_eq!(locked, good1.proposal.client_balance_requirement() * 2);
    let (_, locked) = n.escrow(&n.miner);
    assert_eq!(locked, fil(2));
}

#[test]
fn a_message_whose_deals_are_all_invalid_fails_with_16() {
    let mut n = Net::new();
    n.fund_both();
    let mut bad = n.sign(n.proposal(1, 1000));
    bad.proposal.end_epoch += 1; // signature no longer matches
    let a = n.publish(vec![bad]);
    assert_eq!(a.receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT);
    assert_eq!(a.error.as_deref(), Some("All deal proposals invalid"));
    assert!(n.st.market.proposals.is_empty());
    let empty = n.publish(vec![]);
    assert_eq!(empty.receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT);
}

/// Each rule: the broken deal alone fails the message with 16, and is dropped when next to
/// a good deal.
#[test]
fn each_per_deal_rule_rejects_its_deal() {
    type Breaker = fn(&Net, &mut DealProposal);
    let cases: Vec<(&str, Breaker)> = vec![
        // Alone, an unknown provider fails the message as not found (the batch's provider
        // is the first deal's); after a good deal it is dropped like the others.
        ("provider is another miner", |_, p| p.provider = Address::new_id(9999)),
        ("duration under 180 days", |_, p| {
            p.end_epoch = p.start_epoch + DEAL_MIN_DURATION - 1
        }),
        ("duration over 1278 days", |_, p| {
            p.end_epoch = p.start_epoch + 1279 * 2880
        }),
        ("start epoch in the past", |n, p| {
            p.start_epoch = n.st.epoch - 1;
            p.end_epoch = p.start_epoch + DEAL_MIN_DURATION;
        }),
        ("end before start", |_, p| p.end_epoch = p.start_epoch - 1),
        ("label over 256 bytes", |_, p| {
            p.label = DealLabel::String("x".repeat(257))
        }),
        ("piece size not a power of two", |_, p| {
            p.piece_size = PaddedPieceSize(1536)
        }),
        ("piece size under 128", |_, p| p.piece_size = PaddedPieceSize(64)),
        ("piece CID not a piece CID", |_, p| {
            p.piece_cid = market_types::chain::chain_cid(b"x")
        }),
        ("provider collateral under the minimum", |_, p| {
            p.provider_collateral = TokenAmount::default()
        }),
        ("client collateral over 2e9 FIL", |_, p| {
            p.client_collateral = fil(2_000_000_001)
        }),
        ("client escrow too small", |_, p| p.client_collateral = fil(101)),
        ("verified deal without datacap", |_, p| p.verified_deal = true),
    ];
    for (rule, breaker) in cases {
        let mut n = Net::new();
        n.fund_both();
        let mut p = n.proposal(7, 1000);
        breaker(&n, &mut p);
        let bad = n.sign(p);
        let alone = n.publish(vec![bad.clone()]);
        let want = if rule.starts_with("provider is") {
            exit_code::USR_NOT_FOUND
        } else {
            exit_code::USR_ILLEGAL_ARGUMENT
        };
        assert_eq!(alone.receipt.exit_code, want, "{rule}: {:?}", alone.error);
        let good = n.sign(n.proposal(8, 1000));
        let ret = n.publish_ok(vec![good, bad]);
        assert_eq!(ret.valid_deals.indices(2).expect("bits"), vec![0], "{rule}");
    }
}

#[test]
fn bad_signature_is_rejected() {
    let mut n = Net::new();
    n.fund_both();
    let mut d = n.sign(n.proposal(1, 1000));
    d.client_signature = n.client.sign(b"something else");
    assert_eq!(n.publish(vec![d]).receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT);
}

#[test]
fn duplicate_proposals_are_dropped_in_a_batch_and_across_messages() {
    let mut n = Net::new();
    n.fund_both();
    let d = n.sign(n.proposal(1, 1000));
    let ret = n.publish_ok(vec![d.clone(), d.clone()]);
    assert_eq!(ret.valid_deals.indices(2).expect("bits"), vec![0]);
    assert_eq!(n.publish(vec![d]).receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT);
}

#[test]
fn escrow_must_cover_the_whole_batch() {
    let mut n = Net::new();
    n.add_balance(n.miner, fil(100));
    let mut p = n.proposal(1, 1000);
    p.client_collateral = fil(3);
    // Each deal needs 3 FIL plus its fee; 7 FIL covers two, not three.
    let fee = p.total_storage_fee();
    n.add_balance(
        n.client.address(),
        &(fil(6) + fee.clone() * 2) + &TokenAmount::from_atto(1),
    );
    let deals: Vec<_> = (1..=3)
        .map(|s| {
            let mut q = n.proposal(s, 1000);
            q.client_collateral = fil(3);
            n.sign(q)
        })
        .collect();
    let ret = n.publish_ok(deals);
    assert_eq!(ret.valid_deals.indices(3).expect("bits"), vec![0, 1]);
}

#[test]
fn only_a_controlling_address_may_publish() {
    let mut n = Net::new();
    n.fund_both();
    let d = n.sign(n.proposal(1, 1000));
    let stranger = n.stranger.clone();
    let a = n.send(
        &stranger,
        Address::new_id(MARKET),
        market_method::PUBLISH_STORAGE_DEALS,
        cbor::to_vec(&PublishStorageDealsParams { deals: vec![d.clone()] }),
        TokenAmount::default(),
    );
    assert_eq!(a.receipt.exit_code, exit_code::USR_FORBIDDEN);
    // The owner may.
    let owner = n.owner.clone();
    n.ok(
        &owner,
        Address::new_id(MARKET),
        market_method::PUBLISH_STORAGE_DEALS,
        cbor::to_vec(&PublishStorageDealsParams { deals: vec![d] }),
        TokenAmount::default(),
    );
}

#[test]
fn verified_deals_need_and_use_datacap() {
    let mut n = Net::new();
    n.fund_both();
    let root = Key::from_seed(KeyType::Secp256k1, b"root");
    let verifier = Key::from_seed(KeyType::Secp256k1, b"verifier");
    for k in [&root, &verifier] {
        let id = n.st.ensure_account(&k.address()).expect("account");
        n.st.mint(id, &fil(10));
    }
    n.st.verifreg.root_key = n.st.lookup_id(&root.address());
    let verifreg = Address::new_id(Builtin::VerifiedRegistry as u64);
    let params = |a: Address, bytes: u64| {
        cbor::to_vec(&VerifierParams {
            address: a,
            allowance: BigInt::from(bytes),
        })
    };
    // Only the root key adds verifiers.
    let stranger = n.stranger.clone();
    let a = n.send(
        &stranger,
        verifreg,
        verifreg_method::ADD_VERIFIER,
        params(verifier.address(), 1 << 20),
        TokenAmount::default(),
    );
    assert_eq!(a.receipt.exit_code, exit_code::USR_FORBIDDEN);
    n.ok(
        &root,
        verifreg,
        verifreg_method::ADD_VERIFIER,
        params(verifier.address(), 1 << 20),
        TokenAmount::default(),
    );
    n.ok(
        &verifier,
        verifreg,
        verifreg_method::ADD_VERIFIED_CLIENT,
        params(n.client.address(), 1024),
        TokenAmount::default(),
    );
    let client = n.id(&n.client.address());
    assert_eq!(n.st.verifreg.datacap_of(client), BigInt::from(1024));

    let mut p = n.proposal(1, 1000);
    p.verified_deal = true;
    let d1 = n.sign(p);
    let mut p = n.proposal(2, 1000);
    p.verified_deal = true;
    let d2 = n.sign(p);
    // 1024 bytes of datacap cover one 1024-byte piece, not two.
    let ret = n.publish_ok(vec![d1, d2]);
    assert_eq!(ret.valid_deals.indices(2).expect("bits"), vec![0]);
    assert_eq!(n.st.verifreg.datacap_of(client), BigInt::from(0));
    assert_eq!(n.st.verifreg.allocations.len(), 1);
    assert!(n.st.market.deal_allocations.contains_key(&0));
}

#[test]
fn a_proven_sector_activates_its_deals() {
    let mut n = Net::new();
    n.fund_both();
    let ret = n.publish_ok(vec![n.sign(n.proposal(1, 1000)), n.sign(n.proposal(2, 1000))]);
    assert_eq!(ret.ids, vec![0, 1]);
    // A wrong unsealed CID is refused at pre-commit.
    let wrong = n.st.market.proposals[&0].piece_cid;
    assert_eq!(
        n.precommit(1, &[0, 1], Some(wrong)).receipt.exit_code,
        exit_code::USR_ILLEGAL_ARGUMENT
    );
    let a = n.seal(1, &[0, 1]);
    assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    let epoch = n.st.epoch;
    for id in [0, 1] {
        let (_, s) = n.st.market.deal(id).expect("deal");
        assert_eq!(s.sector_start_epoch, epoch);
        assert_eq!(s.sector_number, 1);
        assert_eq!(s.slash_epoch, -1);
    }
    assert_eq!(n.st.miner(n.id(&n.miner)).expect("miner").raw_power(), SECTOR_SIZE);
    // A deal cannot go into a second sector.
    assert_ne!(n.seal(2, &[0]).receipt.exit_code, 0);
}

#[test]
fn a_deal_not_activated_by_its_start_epoch_loses_its_provider_collateral() {
    let mut n = Net::new();
    n.fund_both();
    n.publish_ok(vec![n.sign(n.proposal(1, 1000))]);
    let (escrow_before, _) = n.escrow(&n.miner);
    let burnt_before = n.burnt();
    let (client_escrow, _) = n.escrow(&n.client.address());
    // Cron visits deal 0 at the end of epoch 1000 (the first epoch >= its start congruent
    // to 0 mod 100): until then it could still be sealed.
    n.st.advance_to(1000);
    assert!(n.st.market.deal(0).is_some(), "cron has not visited the deal yet");
    n.st.end_epoch();
    assert!(n.st.market.deal(0).is_none(), "timed out at the end of its start epoch");
    n.st.advance_to(1001);
    let piece = piece_cid_of(1);
    assert_eq!(
        n.precommit(1, &[0], Some(piece)).receipt.exit_code,
        exit_code::USR_ILLEGAL_ARGUMENT,
        "a timed-out deal cannot be sealed"
    );
    assert!(n.st.market.deal(0).is_none(), "timed out deals disappear");
    let (escrow_after, locked_after) = n.escrow(&n.miner);
    assert_eq!(&escrow_before - &escrow_after, fil(1));
    assert!(locked_after.is_zero());
    assert!(&n.burnt() - &burnt_before >= fil(1));
    let (client_after, client_locked) = n.escrow(&n.client.address());
    assert_eq!(client_after, client_escrow, "the client pays nothing");
    assert!(client_locked.is_zero());
}

#[test]
fn an_expired_proof_is_deal_expired_32() {
    let mut n = Net::new();
    n.fund_both();
    // Deal 0 starting at 550 is visited by cron at 600: between the two it still exists
    // but can no longer be activated.
    n.publish_ok(vec![n.sign(n.proposal(1, 550))]);
    let pieces = {
        let p = &n.st.market.proposals[&0];
        vec![(
            piece_store::commp::commp_from_cid_v1(&p.piece_cid).expect("piece"),
            p.piece_size.0,
        )]
    };
    let commd =
        piece_store::commp::piece_cid_v1(&piece_store::commp::aggregate_commd(&pieces, SECTOR_SIZE).expect("commd"));
    assert_eq!(n.precommit(1, &[0], Some(commd)).receipt.exit_code, 0);
    n.st.advance_to(560);
    let worker = n.worker.clone();
    let miner = n.miner;
    let a = n.send(
        &worker,
        miner,
        7,
        cbor::to_vec(&ProveCommitSectorParams {
            sector_number: 1,
            proof: Bytes(vec![1]),
        }),
        TokenAmount::default(),
    );
    assert_eq!(a.receipt.exit_code, exit_code::EX_DEAL_EXPIRED);
}

#[test]
fn a_terminated_sector_removes_its_deals_and_burns_collateral() {
    let mut n = Net::new();
    n.fund_both();
    n.publish_ok(vec![n.sign(n.proposal(1, 1000))]);
    assert_eq!(n.seal(1, &[0]).receipt.exit_code, 0);
    n.st.advance_to(1500);
    let burnt = n.burnt();
    let (provider_escrow, _) = n.escrow(&n.miner);
    let worker = n.worker.clone();
    let miner = n.miner;
    let ret = n.ok(
        &worker,
        miner,
        miner_method::TERMINATE_SECTORS,
        cbor::to_vec(&TerminateSectorsParams {
            terminations: vec![TerminationDeclaration {
                deadline: 0,
                partition: 0,
                sectors: BitField::from_indices([1]),
            }],
        }),
        TokenAmount::default(),
    );
    let r: TerminateSectorsReturn = cbor::from_slice(&ret).expect("return");
    assert!(r.done);
    assert!(n.st.market.deal(0).is_none());
    // Paid for epochs 1000..1500 (sector started at 10, payment from the start epoch on
    // activation), collateral burnt.
    let (provider_after, provider_locked) = n.escrow(&n.miner);
    assert!(provider_locked.is_zero());
    assert!(&n.burnt() - &burnt >= fil(1));
    assert!(provider_after < provider_escrow);
    let (_, client_locked) = n.escrow(&n.client.address());
    assert!(client_locked.is_zero(), "the client's remaining fee is unlocked");
}

#[test]
fn settlement_pays_the_provider_and_completes_after_the_end() {
    let mut n = Net::new();
    n.fund_both();
    let p = n.proposal(1, 100);
    let price = p.storage_price_per_epoch.clone();
    let end = p.end_epoch;
    n.publish_ok(vec![n.sign(p)]);
    assert_eq!(n.seal(1, &[0]).receipt.exit_code, 0);
    // Payment accrues from the start epoch, not from activation (epoch 10).
    n.st.advance_to(150);
    let (provider_before, _) = n.escrow(&n.miner);
    let worker = n.worker.clone();
    let settle = cbor::to_vec(&SettleDealPaymentsParams {
        deals: BitField::from_indices([0]),
    });
    n.ok(
        &worker,
        Address::new_id(MARKET),
        market_method::SETTLE_DEAL_PAYMENTS,
        settle.clone(),
        TokenAmount::default(),
    );
    let (provider_after, _) = n.escrow(&n.miner);
    assert_eq!(&provider_after - &provider_before, price.clone() * 50);
    n.st.advance_to(end + 10);
    n.ok(
        &worker,
        Address::new_id(MARKET),
        market_method::SETTLE_DEAL_PAYMENTS,
        settle,
        TokenAmount::default(),
    );
    assert!(n.st.market.deal(0).is_none(), "completed deals leave state");
    let (_, client_locked) = n.escrow(&n.client.address());
    let (_, provider_locked) = n.escrow(&n.miner);
    assert!(client_locked.is_zero() && provider_locked.is_zero());
}

#[test]
fn withdrawals_take_only_unlocked_funds_and_go_to_the_right_place() {
    let mut n = Net::new();
    n.fund_both();
    n.publish_ok(vec![n.sign(n.proposal(1, 1000))]);
    let client = n.client.clone();
    let before = n.st.balance(&client.address());
    let (escrow, locked) = n.escrow(&client.address());
    let a = n.withdraw(&client, client.address(), fil(1_000));
    assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    let ret = a.receipt.return_data.0;
    let withdrawn: TokenAmount = cbor::from_slice(&ret).expect("amount");
    assert_eq!(withdrawn, &escrow - &locked);
    assert!(n.st.balance(&client.address()) > before);
    // A stranger may not withdraw the client's or the miner's escrow.
    let stranger = n.stranger.clone();
    for who in [client.address(), n.miner] {
        let a = n.withdraw(&stranger, who, fil(1));
        assert_eq!(a.receipt.exit_code, exit_code::USR_FORBIDDEN);
    }
    // The worker withdraws the miner's free escrow to the owner.
    let owner_before = n.st.balance(&n.owner.address());
    let worker = n.worker.clone();
    let miner = n.miner;
    let a = n.withdraw(&worker, miner, fil(10));
    assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    assert_eq!(&n.st.balance(&n.owner.address()) - &owner_before, fil(10));
}

#[test]
fn add_balance_needs_value_and_a_valid_holder() {
    let mut n = Net::new();
    let client = n.client.clone();
    let a = n.send(
        &client,
        Address::new_id(MARKET),
        market_method::ADD_BALANCE,
        cbor::to_vec(&client.address()),
        TokenAmount::default(),
    );
    assert_eq!(a.receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT);
    let a = n.send(
        &client,
        Address::new_id(MARKET),
        market_method::ADD_BALANCE,
        vec![0xff],
        fil(1),
    );
    assert_eq!(a.receipt.exit_code, exit_code::USR_SERIALIZATION);
    // Failed messages still use the nonce and pay gas; value comes back.
    assert_eq!(n.st.nonce(&client.address()), 2);
}

#[test]
fn the_mpool_refuses_bad_nonces_and_unfunded_messages() {
    let n = Net::new();
    let mut msg = market_types::chain::Message {
        version: 0,
        to: n.miner,
        from: n.client.address(),
        nonce: 0,
        value: fil(20_000),
        gas_limit: 1_000_000,
        gas_fee_cap: TokenAmount::from_atto(1_000),
        gas_premium: TokenAmount::from_atto(100),
        method: 0,
        params: Bytes(vec![]),
    };
    assert!(matches!(
        n.st.check_message(&msg),
        Err(devnet::state::MessageRejected::NotEnoughFunds { .. })
    ));
    msg.value = fil(1);
    msg.gas_fee_cap = TokenAmount::from_atto(1);
    assert!(matches!(
        n.st.check_message(&msg),
        Err(devnet::state::MessageRejected::FeeCapTooLow { .. })
    ));
    let unknown = Key::from_seed(KeyType::Bls, b"nobody");
    msg.from = unknown.address();
    assert!(matches!(
        n.st.check_message(&msg),
        Err(devnet::state::MessageRejected::UnknownSender(_))
    ));
}

#[test]
fn out_of_gas_changes_nothing_but_the_nonce_and_fee() {
    let mut n = Net::new();
    let client = n.client.clone();
    let msg = market_types::chain::Message {
        version: 0,
        to: Address::new_id(MARKET),
        from: client.address(),
        nonce: 0,
        value: fil(5),
        gas_limit: 1_000,
        gas_fee_cap: TokenAmount::from_atto(1_000),
        gas_premium: TokenAmount::from_atto(100),
        method: market_method::ADD_BALANCE,
        params: Bytes(cbor::to_vec(&client.address())),
    };
    n.st.check_message(&msg).expect("accepted");
    let a = n.st.apply_message(&msg);
    assert_eq!(a.receipt.exit_code, exit_code::SYS_OUT_OF_GAS);
    assert!(n.escrow(&client.address()).0.is_zero());
    assert_eq!(n.st.nonce(&client.address()), 1);
}

#[test]
fn peer_id_and_multiaddrs_change_by_controlling_addresses_only() {
    let mut n = Net::new();
    let worker = n.worker.clone();
    let stranger = n.stranger.clone();
    let miner = n.miner;
    let peer = cbor::to_vec(&market_types::chain::ChangePeerIdParams {
        new_id: market_types::PeerId(vec![0, 36, 8, 1, 18, 32, 1, 2, 3]),
    });
    assert_eq!(
        n.send(
            &stranger,
            miner,
            miner_method::CHANGE_PEER_ID,
            peer.clone(),
            TokenAmount::default()
        )
        .receipt
        .exit_code,
        exit_code::USR_FORBIDDEN
    );
    n.ok(
        &worker,
        miner,
        miner_method::CHANGE_PEER_ID,
        peer,
        TokenAmount::default(),
    );
    let addrs = cbor::to_vec(&market_types::chain::ChangeMultiaddrsParams {
        new_multiaddrs: vec![Bytes(vec![4, 127, 0, 0, 1, 6, 0x9c, 0x40])],
    });
    n.ok(
        &worker,
        miner,
        miner_method::CHANGE_MULTIADDRS,
        addrs,
        TokenAmount::default(),
    );
    let m = n.st.miner(n.id(&miner)).expect("miner");
    assert_eq!(m.peer_id, vec![0, 36, 8, 1, 18, 32, 1, 2, 3]);
    assert_eq!(m.multiaddrs, vec![vec![4, 127, 0, 0, 1, 6, 0x9c, 0x40]]);
}

#[test]
fn huge_bitfields_are_refused_before_they_are_expanded() {
    let mut n = Net::new();
    n.fund_both();
    n.publish_ok(vec![n.sign(n.proposal(1, 1000))]);
    // 2^40 set bits: expanding them would need terabytes.
    let huge =
        fvm_ipld_bitfield::BitField::from_ranges(fvm_ipld_bitfield::iter::Ranges::new(std::iter::once(0..1u64 << 40)));
    let worker = n.worker.clone();
    let settle = cbor::to_vec(&SettleDealPaymentsParams {
        deals: BitField(huge.clone()),
    });
    let a = n.send(
        &worker,
        Address::new_id(MARKET),
        market_method::SETTLE_DEAL_PAYMENTS,
        settle,
        TokenAmount::default(),
    );
    assert_eq!(a.receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT, "{:?}", a.error);
    let miner = n.miner;
    let terminate = cbor::to_vec(&TerminateSectorsParams {
        terminations: vec![TerminationDeclaration {
            deadline: 0,
            partition: 0,
            sectors: BitField(huge),
        }],
    });
    let a = n.send(
        &worker,
        miner,
        miner_method::TERMINATE_SECTORS,
        terminate,
        TokenAmount::default(),
    );
    assert_eq!(a.receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT, "{:?}", a.error);
}

#[test]
fn a_message_from_a_non_account_fails_instead_of_panicking() {
    let mut n = Net::new();
    let msg = market_types::chain::Message {
        version: 0,
        to: n.client.address(),
        from: n.miner,
        nonce: 0,
        value: fil(1),
        gas_limit: 1_000_000_000,
        gas_fee_cap: TokenAmount::from_atto(1_000),
        gas_premium: TokenAmount::from_atto(100),
        method: 0,
        params: Bytes(vec![]),
    };
    let before = n.st.clone();
    let a = n.st.apply_message(&msg);
    assert_eq!(a.receipt.exit_code, exit_code::SYS_SENDER_INVALID);
    assert_eq!(n.st, before);
}

//! Payment channels on the devnet against builtin-actors' rules: the init actor's Exec (with
//! the f2 address the FVM derives), and each check of the payment channel actor as a test
//! that a breaking message fails with the real exit code while the good one passes.

mod common;

use devnet::state::policy::{Policy, fil};
use devnet::state::{Applied, State, code_cid, paych};
use market_crypto::{Key, KeyType};
use market_types::actors::paych::SETTLE_DELAY;
use market_types::actors::{
    ExecParams, ExecReturn, INIT_ACTOR, PaychConstructorParams, UpdateChannelStateParams, exit_code, init_method,
    paych_method,
};
use market_types::chain::{Merge, ModVerifyParams, SignedVoucher};
use market_types::{Address, Bytes, TokenAmount, cbor};

struct Net {
    st: State,
    payer: Key,
    payee: Key,
    stranger: Key,
}

fn atto(n: u64) -> TokenAmount {
    TokenAmount::from_atto(n)
}

impl Net {
    fn new() -> Net {
        let mut st = State::new("devnet", Policy::default());
        let payer = Key::from_seed(KeyType::Secp256k1, b"payer");
        let payee = Key::from_seed(KeyType::Bls, b"payee");
        let stranger = Key::from_seed(KeyType::Secp256k1, b"stranger");
        for k in [&payer, &payee, &stranger] {
            let id = st.ensure_account(&k.address()).expect("account");
            st.mint(id, &fil(1_000));
        }
        st.advance_to(10);
        Net {
            st,
            payer,
            payee,
            stranger,
        }
    }

    fn send(&mut self, from: &Key, to: Address, method: u64, params: Vec<u8>, value: TokenAmount) -> Applied {
        common::apply(&mut self.st, from, to, method, params, value)
    }

    fn exit(&mut self, from: &Key, to: Address, method: u64, params: Vec<u8>) -> i64 {
        self.send(from, to, method, params, TokenAmount::default())
            .receipt
            .exit_code
    }

    /// Create a channel from the payer to the payee holding `funds`; its robust address.
    fn create(&mut self, funds: TokenAmount) -> Address {
        let payer = self.payer.clone();
        let nonce = self.st.nonce(&payer.address());
        let params = exec_params(code_cid(paych::CODE_NAME), &payer.address(), &self.payee.address());
        let a = self.send(&payer, Address::new_id(INIT_ACTOR), init_method::EXEC, params, funds);
        assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
        let r: ExecReturn = cbor::from_slice(&a.receipt.return_data.0).expect("ExecReturn");
        assert_eq!(r.robust_address, paych::actor_address(&payer.address(), nonce, 0));
        assert_eq!(self.st.lookup_id(&r.robust_address), r.id_address.id().ok());
        r.robust_address
    }

    /// A voucher on `ch` signed by the payer.
    fn voucher(&self, ch: Address, lane: u64, nonce: u64, amount: u64) -> SignedVoucher {
        sign(&self.payer, unsigned(ch, lane, nonce, amount))
    }

    /// The payee redeems `sv`; the exit code.
    fn redeem(&mut self, ch: Address, sv: SignedVoucher, secret: &[u8]) -> i64 {
        let payee = self.payee.clone();
        let params = cbor::to_vec(&UpdateChannelStateParams {
            sv,
            secret: Bytes(secret.to_vec()),
        });
        self.exit(&payee, ch, paych_method::UPDATE_CHANNEL_STATE, params)
    }

    fn channel(&self, ch: Address) -> paych::PaychState {
        let id = self.st.lookup_id(&ch).expect("channel");
        self.st.paych(id).expect("a payment channel").clone()
    }
}

fn exec_params(code: cid::Cid, from: &Address, to: &Address) -> Vec<u8> {
    cbor::to_vec(&ExecParams {
        code_cid: code,
        constructor_params: Bytes(cbor::to_vec(&PaychConstructorParams { from: *from, to: *to })),
    })
}

fn unsigned(ch: Address, lane: u64, nonce: u64, amount: u64) -> SignedVoucher {
    SignedVoucher {
        channel_addr: ch,
        time_lock_min: 0,
        time_lock_max: 0,
        secret_hash: Bytes(Vec::new()),
        extra: None,
        lane,
        nonce,
        amount: atto(amount),
        min_settle_height: 0,
        merges: Vec::new(),
        signature: None,
    }
}

fn sign(key: &Key, mut sv: SignedVoucher) -> SignedVoucher {
    sv.signature = None;
    sv.signature = Some(key.sign(&sv.signing_bytes()));
    sv
}

#[test]
fn exec_creates_a_channel_at_the_fvm_address_with_the_funds() {
    let mut n = Net::new();
    let ch = n.create(atto(1_000));
    assert_eq!(n.st.balance(&ch), atto(1_000));
    let st = n.channel(ch);
    assert_eq!(st.from, n.st.lookup_id(&n.payer.address()).expect("payer"));
    assert_eq!(st.to, n.st.lookup_id(&n.payee.address()).expect("payee"));
    // A second channel from the same payer gets the next nonce's address.
    let second = n.create(atto(5));
    assert_ne!(second, ch);
    // Adding funds is a plain send.
    let payer = n.payer.clone();
    assert_eq!(n.send(&payer, ch, 0, Vec::new(), atto(500)).receipt.exit_code, 0);
    assert_eq!(n.st.balance(&ch), atto(1_500));
}

#[test]
fn exec_refuses_other_actors_and_non_account_parties() {
    let mut n = Net::new();
    let payer = n.payer.clone();
    let multisig = exec_params(code_cid("multisig"), &payer.address(), &n.payee.address());
    assert_eq!(
        n.exit(&payer, Address::new_id(INIT_ACTOR), init_method::EXEC, multisig),
        exit_code::USR_FORBIDDEN
    );
    // A channel to a channel: parties must be accounts.
    let ch = n.create(atto(10));
    let bad = exec_params(code_cid(paych::CODE_NAME), &payer.address(), &ch);
    assert_eq!(
        n.exit(&payer, Address::new_id(INIT_ACTOR), init_method::EXEC, bad),
        exit_code::USR_FORBIDDEN
    );
    // An unknown key address becomes an account, as a send to it would.
    let fresh = Key::from_seed(KeyType::Secp256k1, b"fresh").address();
    let ok = exec_params(code_cid(paych::CODE_NAME), &payer.address(), &fresh);
    assert_eq!(n.exit(&payer, Address::new_id(INIT_ACTOR), init_method::EXEC, ok), 0);
    assert!(n.st.lookup_id(&fresh).is_some());
    // Nobody calls the constructor directly.
    let ctor = cbor::to_vec(&PaychConstructorParams {
        from: payer.address(),
        to: n.payee.address(),
    });
    assert_eq!(
        n.exit(&payer, ch, paych_method::CONSTRUCTOR, ctor),
        exit_code::USR_FORBIDDEN
    );
}

#[test]
fn vouchers_redeem_cumulatively_per_lane_and_collect_pays_both_sides() {
    let mut n = Net::new();
    let ch = n.create(atto(1_000));
    let v1 = n.voucher(ch, 0, 1, 100);
    assert_eq!(n.redeem(ch, v1, b""), 0);
    let v2 = n.voucher(ch, 0, 2, 300);
    assert_eq!(n.redeem(ch, v2, b""), 0);
    let v3 = n.voucher(ch, 1, 1, 50);
    assert_eq!(n.redeem(ch, v3, b""), 0);
    assert_eq!(n.channel(ch).to_send, atto(350));
    // Settle, wait out the delay, collect: 350 to the payee, the rest back to the payer.
    let payee = n.payee.clone();
    assert_eq!(n.exit(&payee, ch, paych_method::SETTLE, Vec::new()), 0);
    let settling_at = n.channel(ch).settling_at;
    assert_eq!(settling_at, n.st.epoch + SETTLE_DELAY);
    assert_eq!(
        n.exit(&payee, ch, paych_method::COLLECT, Vec::new()),
        exit_code::USR_FORBIDDEN
    );
    n.st.advance_to(settling_at);
    let payer_before = n.st.balance(&n.payer.address());
    let payee_before = n.st.balance(&n.payee.address());
    let burnt = Address::new_id(99);
    let burnt_before = n.st.balance(&burnt);
    let a = n.send(&payee, ch, paych_method::COLLECT, Vec::new(), TokenAmount::default());
    assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    assert!(n.st.lookup_id(&ch).is_none(), "the channel is deleted");
    let fee = n.st.balance(&burnt) - burnt_before;
    assert_eq!(n.st.balance(&n.payer.address()), payer_before + atto(650));
    assert_eq!(n.st.balance(&n.payee.address()), payee_before + atto(350) - fee);
}

#[test]
fn each_voucher_rule_refuses_its_voucher() {
    let mut n = Net::new();
    let ch = n.create(atto(1_000));
    let other = n.create(atto(1_000));
    let stranger = n.stranger.clone();
    let good = n.voucher(ch, 0, 1, 100);

    // Only the parties may redeem.
    let params = cbor::to_vec(&UpdateChannelStateParams {
        sv: good.clone(),
        secret: Bytes(Vec::new()),
    });
    assert_eq!(
        n.exit(&stranger, ch, paych_method::UPDATE_CHANNEL_STATE, params),
        exit_code::USR_FORBIDDEN
    );
    // Unsigned, signed by the wrong key, or by the redeemer itself.
    assert_eq!(
        n.redeem(ch, unsigned(ch, 0, 1, 100), b""),
        exit_code::USR_ILLEGAL_ARGUMENT
    );
    let by_stranger = sign(&n.stranger, unsigned(ch, 0, 1, 100));
    assert_eq!(n.redeem(ch, by_stranger, b""), exit_code::USR_ILLEGAL_ARGUMENT);
    let by_payee = sign(&n.payee, unsigned(ch, 0, 1, 100));
    assert_eq!(n.redeem(ch, by_payee, b""), exit_code::USR_ILLEGAL_ARGUMENT);
    // A voucher for another channel.
    let elsewhere = n.voucher(other, 0, 1, 100);
    assert_eq!(n.redeem(ch, elsewhere, b""), exit_code::USR_ILLEGAL_ARGUMENT);
    // Time locks.
    let mut early = unsigned(ch, 0, 1, 100);
    early.time_lock_min = n.st.epoch + 5;
    assert_eq!(
        n.redeem(ch, sign(&n.payer, early), b""),
        exit_code::USR_ILLEGAL_ARGUMENT
    );
    let mut expired = unsigned(ch, 0, 1, 100);
    expired.time_lock_max = n.st.epoch - 1;
    assert_eq!(
        n.redeem(ch, sign(&n.payer, expired), b""),
        exit_code::USR_ILLEGAL_ARGUMENT
    );
    // A secret: too long, wrong, right.
    let mut locked = unsigned(ch, 0, 1, 100);
    locked.secret_hash = Bytes(
        blake2b_simd::Params::new()
            .hash_length(32)
            .hash(b"open sesame")
            .as_bytes()
            .to_vec(),
    );
    let locked = sign(&n.payer, locked);
    assert_eq!(
        n.redeem(ch, locked.clone(), &[0u8; 257]),
        exit_code::USR_ILLEGAL_ARGUMENT
    );
    assert_eq!(n.redeem(ch, locked.clone(), b"wrong"), exit_code::USR_ILLEGAL_ARGUMENT);
    // Extra verification the devnet cannot run.
    let mut extra = unsigned(ch, 0, 1, 100);
    extra.extra = Some(ModVerifyParams {
        actor: Address::new_id(99),
        method: 1,
        data: Bytes(Vec::new()),
    });
    assert_eq!(
        n.redeem(ch, sign(&n.payer, extra), b""),
        exit_code::USR_ILLEGAL_ARGUMENT
    );
    // More than the channel holds.
    assert_eq!(
        n.redeem(ch, n.voucher(ch, 0, 1, 1_001), b""),
        exit_code::USR_ILLEGAL_ARGUMENT
    );
    // Lane IDs above 2^63-1.
    assert_eq!(
        n.redeem(ch, n.voucher(ch, 1 << 63, 1, 1), b""),
        exit_code::USR_ILLEGAL_ARGUMENT
    );
    // The good ones pass; then the same nonce again is outdated.
    assert_eq!(n.redeem(ch, locked, b"open sesame"), 0);
    assert_eq!(
        n.redeem(ch, n.voucher(ch, 0, 1, 200), b""),
        exit_code::USR_ILLEGAL_ARGUMENT
    );
    assert_eq!(n.redeem(ch, n.voucher(ch, 0, 2, 200), b""), 0);
    // A lower cumulative amount on a lane lowers ToSend (the actor allows it while ToSend
    // stays at or above zero).
    assert_eq!(n.redeem(ch, n.voucher(ch, 0, 3, 50), b""), 0);
    assert_eq!(n.channel(ch).to_send, atto(50));
}

#[test]
fn merges_sum_lanes_and_check_their_nonces() {
    let mut n = Net::new();
    let ch = n.create(atto(1_000));
    assert_eq!(n.redeem(ch, n.voucher(ch, 1, 1, 100), b""), 0);
    assert_eq!(n.redeem(ch, n.voucher(ch, 2, 1, 200), b""), 0);
    let merged = |lane: u64, merges: Vec<Merge>, amount: u64| {
        let mut v = unsigned(ch, lane, 1, amount);
        v.merges = merges;
        v
    };
    // Into its own lane, from an unknown lane, with an outdated nonce.
    let own = sign(&n.payer, merged(1, vec![Merge { lane: 1, nonce: 5 }], 400));
    assert_eq!(n.redeem(ch, own, b""), exit_code::USR_ILLEGAL_ARGUMENT);
    let unknown = sign(&n.payer, merged(3, vec![Merge { lane: 9, nonce: 5 }], 400));
    assert_eq!(n.redeem(ch, unknown, b""), exit_code::USR_ILLEGAL_ARGUMENT);
    let stale = sign(&n.payer, merged(3, vec![Merge { lane: 1, nonce: 1 }], 400));
    assert_eq!(n.redeem(ch, stale, b""), exit_code::USR_ILLEGAL_ARGUMENT);
    // Lane 3 at 400 merging lanes 1 and 2 (300 redeemed): ToSend grows by 100 only.
    let good = sign(
        &n.payer,
        merged(3, vec![Merge { lane: 1, nonce: 2 }, Merge { lane: 2, nonce: 2 }], 400),
    );
    assert_eq!(n.redeem(ch, good, b""), 0);
    assert_eq!(n.channel(ch).to_send, atto(400));
    assert_eq!(n.channel(ch).lanes[&1].nonce, 2);
}

#[test]
fn settling_rules_delay_and_min_settle_height() {
    let mut n = Net::new();
    let ch = n.create(atto(1_000));
    let stranger = n.stranger.clone();
    assert_eq!(
        n.exit(&stranger, ch, paych_method::SETTLE, Vec::new()),
        exit_code::USR_FORBIDDEN
    );
    // A voucher raising the minimum settle height.
    let mut v = unsigned(ch, 0, 1, 10);
    v.min_settle_height = n.st.epoch + 5_000;
    assert_eq!(n.redeem(ch, sign(&n.payer, v), b""), 0);
    let payer = n.payer.clone();
    assert_eq!(n.exit(&payer, ch, paych_method::SETTLE, Vec::new()), 0);
    let st = n.channel(ch);
    assert_eq!(
        st.settling_at, st.min_settle_height,
        "the later of the delay and the minimum"
    );
    assert_eq!(
        n.exit(&payer, ch, paych_method::SETTLE, Vec::new()),
        exit_code::USR_ILLEGAL_STATE
    );
    // Vouchers are still taken before the settling epoch, not at or after it.
    assert_eq!(n.redeem(ch, n.voucher(ch, 0, 2, 20), b""), 0);
    n.st.advance_to(st.settling_at);
    assert_eq!(
        n.redeem(ch, n.voucher(ch, 0, 3, 30), b""),
        market_types::actors::paych::ERR_CHANNEL_STATE_UPDATE_AFTER_SETTLED
    );
    assert_eq!(
        n.exit(&stranger, ch, paych_method::COLLECT, Vec::new()),
        exit_code::USR_FORBIDDEN
    );
    assert_eq!(n.exit(&payer, ch, paych_method::COLLECT, Vec::new()), 0);
}

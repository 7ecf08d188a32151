//! The chain around the state: the message pool's checks, block production with null
//! rounds, message lookup by either CID, and replay of stored blocks after a restart.

use devnet::chain::{BlockRecord, Chain};
use devnet::state::policy::{Policy, fil};
use devnet::state::{MessageRejected, State};
use market_crypto::{Key, KeyType};
use market_types::chain::{Message, SignedMessage, TipSet, market_method};
use market_types::{Address, Bytes, TokenAmount, cbor};

fn genesis(keys: &[&Key]) -> Chain {
    let mut st = State::new("devnet", Policy::default());
    for k in keys {
        let id = st.ensure_account(&k.address()).expect("account");
        st.mint(id, &fil(1_000));
    }
    Chain::new(st, 1_700_000_000)
}

fn signed(key: &Key, nonce: u64, to: Address, value: TokenAmount, method: u64, params: Vec<u8>) -> SignedMessage {
    let message = Message {
        version: 0,
        to,
        from: key.address(),
        nonce,
        value,
        gas_limit: 100_000_000,
        gas_fee_cap: TokenAmount::from_atto(1_000),
        gas_premium: TokenAmount::from_atto(100),
        method,
        params: Bytes(params),
    };
    SignedMessage {
        signature: key.sign(&message.cid().to_bytes()),
        message,
    }
}

#[test]
fn messages_are_signed_checked_included_and_found() {
    let secp = Key::from_seed(KeyType::Secp256k1, b"a");
    let bls = Key::from_seed(KeyType::Bls, b"b");
    let fresh = Key::from_seed(KeyType::Secp256k1, b"fresh");
    let mut chain = genesis(&[&secp, &bls]);

    let m1 = signed(&secp, 0, fresh.address(), fil(5), 0, vec![]);
    let m2 = signed(
        &bls,
        0,
        Address::new_id(5),
        fil(2),
        market_method::ADD_BALANCE,
        cbor::to_vec(&bls.address()),
    );
    let c1 = chain.push(m1.clone()).expect("secp message");
    let c2 = chain.push(m2.clone()).expect("bls message");
    assert_eq!(c1, m1.cid());
    assert_eq!(c2, m2.message.cid(), "BLS messages are named by the unsigned CID");
    assert_eq!(chain.next_nonce(&secp.address()), 1);

    // A bad signature, a stale nonce and an unknown sender are refused.
    let mut forged = signed(&secp, 1, fresh.address(), fil(1), 0, vec![]);
    forged.signature = bls.sign(&forged.message.cid().to_bytes());
    assert!(matches!(chain.push(forged), Err(MessageRejected::BadSignature(_))));
    let unknown = signed(&fresh, 0, secp.address(), fil(1), 0, vec![]);
    assert!(matches!(chain.push(unknown), Err(MessageRejected::UnknownSender(_))));

    let block = chain.mine(0, 1_700_000_030);
    assert_eq!(block.messages.len(), 2);
    assert!(block.receipts.iter().all(|r| r.exit_code == 0));
    assert_eq!(chain.height(), 1);
    assert_eq!(
        chain.state.balance(&fresh.address()),
        fil(5),
        "a send creates the account"
    );
    let lookup = chain.search(&c2).expect("executed");
    assert_eq!(lookup.height, 1);
    assert_eq!(lookup.receipt.exit_code, 0);
    assert_eq!(chain.message(&c1).expect("on chain").message, m1.message);
    assert!(matches!(
        chain.push(signed(&secp, 0, fresh.address(), fil(1), 0, vec![])),
        Err(MessageRejected::NonceTooLow { .. })
    ));
}

#[test]
fn a_nonce_gap_waits_until_it_is_filled() {
    let k = Key::from_seed(KeyType::Secp256k1, b"gap");
    let mut chain = genesis(&[&k]);
    let to = Key::from_seed(KeyType::Bls, b"to").address();
    chain
        .push(signed(&k, 1, to, fil(1), 0, vec![]))
        .expect("future nonce pooled");
    assert!(chain.mine(0, 1).messages.is_empty());
    chain.push(signed(&k, 0, to, fil(1), 0, vec![])).expect("fills the gap");
    assert_eq!(chain.mine(0, 2).messages.len(), 2);
    assert_eq!(chain.state.nonce(&k.address()), 2);
}

#[test]
fn null_rounds_and_tipsets_by_height() {
    let mut chain = genesis(&[]);
    let first = chain.mine(0, 30);
    let second = chain.mine(4, 180);
    assert_eq!(first.header.height, 1);
    assert_eq!(second.header.height, 6);
    assert_eq!(second.header.parents, vec![first.header.cid()]);
    assert_eq!(
        chain.tipset_at_or_before(4).expect("ts").height(),
        1,
        "null rounds answer the tipset before"
    );
    assert_eq!(chain.tipset_at_or_before(6).expect("ts").height(), 6);
    // The head's JSON rebuilds into the same tipset (Go clients recompute block CIDs).
    let head = chain.head();
    let back: TipSet = market_types::json::from_str(&market_types::json::to_string(&head)).expect("json");
    assert_eq!(back.key(), head.key());
    assert_eq!(chain.tipset_by_key(&head.key()).expect("by key").height(), 6);
}

#[test]
fn replaying_stored_blocks_rebuilds_the_same_chain() {
    let a = Key::from_seed(KeyType::Secp256k1, b"replay a");
    let b = Key::from_seed(KeyType::Bls, b"replay b");
    let mut chain = genesis(&[&a, &b]);
    let mut stored: Vec<Vec<u8>> = Vec::new();
    for i in 0..5u64 {
        chain
            .push(signed(&a, 2 * i, b.address(), fil(1), 0, vec![]))
            .expect("send");
        chain
            .push(signed(
                &b,
                i,
                Address::new_id(5),
                fil(1),
                market_method::ADD_BALANCE,
                cbor::to_vec(&b.address()),
            ))
            .expect("add balance");
        // A failing message is stored and replays to the same failure.
        chain
            .push(signed(
                &a,
                2 * i + 1,
                Address::new_id(5),
                fil(0),
                market_method::ADD_BALANCE,
                cbor::to_vec(&a.address()),
            ))
            .expect("pooled");
        let block = chain.mine(i % 2, 100 + i);
        assert_eq!(
            block.receipts.iter().map(|r| r.exit_code).collect::<Vec<_>>(),
            vec![0, 16, 0]
        );
        stored.push(block.to_bytes());
    }
    let mut restarted = genesis(&[&a, &b]);
    for raw in &stored {
        restarted
            .replay(&BlockRecord::from_bytes(raw).expect("decode"))
            .expect("replay");
    }
    assert_eq!(restarted.state, chain.state);
    assert_eq!(restarted.head().key(), chain.head().key());
    assert_eq!(restarted.height(), chain.height());
    let some = chain.blocks().last().expect("block").messages[0].cid();
    assert_eq!(restarted.search(&some), chain.search(&some));
}

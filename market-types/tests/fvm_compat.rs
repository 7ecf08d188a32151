//! Where `fvm_shared` and `fvm_ipld_encoding` already encode a type, our bytes must equal theirs.
//! This proves the reused pieces (addresses, token amounts, messages, signatures) match the
//! reference Rust implementation of go-state-types, over many generated values.

use market_types::cbor;
use market_types::chain::Message;
use market_types::testing::{self, Arb};
use market_types::{Address, SigType, Signature, TokenAmount};
use proptest::prelude::*;

/// fvm_shared 4 knows secp256k1 and BLS only; delegated signatures have no counterpart there.
fn fvm_signature(s: &Signature) -> Option<fvm_shared::crypto::signature::Signature> {
    let t = match s.sig_type {
        SigType::Secp256k1 => fvm_shared::crypto::signature::SignatureType::Secp256k1,
        SigType::Bls => fvm_shared::crypto::signature::SignatureType::BLS,
        SigType::Delegated => return None,
    };
    Some(fvm_shared::crypto::signature::Signature {
        sig_type: t,
        bytes: s.data.clone(),
    })
}

fn fvm_message(m: &Message) -> fvm_shared::message::Message {
    fvm_shared::message::Message {
        version: m.version,
        to: m.to,
        from: m.from,
        sequence: m.nonce,
        value: m.value.clone(),
        method_num: m.method,
        params: fvm_ipld_encoding::RawBytes::new(m.params.0.clone()),
        gas_limit: m.gas_limit as u64,
        gas_fee_cap: m.gas_fee_cap.clone(),
        gas_premium: m.gas_premium.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn addresses_match_fvm(seed in prop::collection::vec(any::<u8>(), 0..128)) {
        let a: Address = testing::generate(&seed);
        prop_assert_eq!(cbor::to_vec(&a), fvm_ipld_encoding::to_vec(&a).expect("fvm encodes"));
        let back: Address = fvm_ipld_encoding::from_slice(&cbor::to_vec(&a)).expect("fvm decodes ours");
        prop_assert_eq!(back, a);
    }

    #[test]
    fn token_amounts_match_fvm(seed in prop::collection::vec(any::<u8>(), 0..64)) {
        let t: TokenAmount = testing::generate(&seed);
        prop_assert_eq!(cbor::to_vec(&t), fvm_ipld_encoding::to_vec(&t).expect("fvm encodes"));
    }

    #[test]
    fn signatures_match_fvm(seed in prop::collection::vec(any::<u8>(), 0..256)) {
        let s: Signature = testing::generate(&seed);
        if let Some(theirs) = fvm_signature(&s) {
            prop_assert_eq!(cbor::to_vec(&s), fvm_ipld_encoding::to_vec(&theirs).expect("fvm encodes"));
        }
    }

    #[test]
    fn messages_match_fvm(seed in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut m = Message::arb(&mut arbitrary::Unstructured::new(&seed)).unwrap_or_else(|_| testing::generate(&[]));
        m.gas_limit = m.gas_limit.abs(); // fvm models the gas limit as unsigned
        let theirs = fvm_message(&m);
        prop_assert_eq!(cbor::to_vec(&m), fvm_ipld_encoding::to_vec(&theirs).expect("fvm encodes"));
    }
}
